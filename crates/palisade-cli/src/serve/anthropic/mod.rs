//! `POST /v1/messages`: the Anthropic Messages API in front of
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

/// Answers one Messages call through the stack. The `anthropic-version`
/// header is not required: the answer's shape is the same under every
/// version the official SDKs send.
pub(super) async fn messages(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fail = |e: ApiError| e.into_response(Dialect::Anthropic, &id);
    if let Err(refusal) = state.keys.check_client(&headers) {
        return fail(ApiError::refused(refusal));
    }
    let parsed = match request::parse(&body) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    tracing::debug!(request_id = %id, model = %parsed.model, stream = parsed.stream, "messages");
    let answer_id = format!("msg_{}", id.suffix());
    if parsed.stream {
        match state.stack.stream(parsed.chat).await {
            Ok(stream) => {
                let who = stream.served_by().clone();
                let frames = response::Events::new(answer_id, stream.model().to_owned());
                served_by(sse::response(stream, frames), &who)
            }
            Err(e) => fail(ApiError::from_provider(&e, Dialect::Anthropic)),
        }
    } else {
        match state.stack.complete(parsed.chat).await {
            Ok(answer) => served_by(
                json(&response::message(&answer, &answer_id)),
                &answer.served_by,
            ),
            Err(e) => fail(ApiError::from_provider(&e, Dialect::Anthropic)),
        }
    }
}
