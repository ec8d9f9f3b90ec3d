//! `POST /v1/chat/completions`: the OpenAI Chat Completions API in front of
//! the stack, JSON or SSE. The request mapping is in `request.rs`, the
//! answer's in `response.rs`, errors in `serve/error.rs`.

mod request;
mod response;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use palisade_core::Provider;

use super::app::{AppState, json, served_by};
use super::error::{ApiError, Dialect};
use super::request_id::RequestId;
use super::sse;

/// Answers one Chat Completions call through the stack.
pub(super) async fn chat_completions(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fail = |e: ApiError| e.into_response(Dialect::OpenAi, &id);
    if let Err(refusal) = state.keys.check_client(&headers) {
        return fail(ApiError::refused(refusal));
    }
    let parsed = match request::parse(&body, state.default_max_tokens) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    tracing::debug!(request_id = %id, model = %parsed.model, stream = parsed.stream, "chat completion");
    let answer_id = format!("chatcmpl-{}", id.suffix());
    if parsed.stream {
        match state.stack.stream(parsed.chat).await {
            Ok(stream) => {
                let who = stream.served_by().clone();
                let frames = response::Chunks::new(
                    answer_id,
                    stream.model().to_owned(),
                    parsed.include_usage,
                );
                served_by(sse::response(stream, frames), &who)
            }
            Err(e) => fail(ApiError::from_provider(&e, Dialect::OpenAi)),
        }
    } else {
        match state.stack.complete(parsed.chat).await {
            Ok(answer) => served_by(
                json(&response::completion(&answer, &answer_id)),
                &answer.served_by,
            ),
            Err(e) => fail(ApiError::from_provider(&e, Dialect::OpenAi)),
        }
    }
}
