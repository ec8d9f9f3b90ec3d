//! `POST /v1/messages`: auth and version checks, faults, strict parsing and
//! validation, quotas, the prompt cache, then the model's provider, answered
//! as JSON or SSE with the rate-limit headers.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use futures_util::StreamExt;
use palisade_core::{
    ChatRequest, ChatResponse, ContentBlock, ProviderError, Role, StopReason, StreamEvent, Usage,
    validate,
};

use super::cache;
use super::fault::Fault;
use super::recording::ReceivedRequest;
use super::request::{ParsedRequest, parse};
use super::response::{self as wire, Frame};
use super::state::ServerState;

/// The API takes bodies up to 32 MB.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub(super) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An answer under construction: status, body and the request it answers.
struct Call {
    state: Arc<ServerState>,
    request_id: String,
    model: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
    chat: Option<ChatRequest>,
}

impl Call {
    fn finish(
        self,
        status: u16,
        body: Body,
        content_type: &'static str,
        extra: &[(String, String)],
    ) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert(HeaderName::from_static("request-id"), v);
        }
        // Every answer for a known model reports its quota.
        if let Some(model) = &self.model
            && let Some(rl) = self.state.with_quota(model, |q| q.headers())
        {
            for (k, v) in rl.iter().chain(extra) {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
                {
                    h.insert(k, v);
                }
            }
        } else {
            for (k, v) in extra {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
                {
                    h.insert(k, v);
                }
            }
        }
        self.state.record(ReceivedRequest {
            request_id: self.request_id,
            model: self.model,
            headers: self.headers,
            body: self.body,
            chat_request: self.chat,
            status,
        });
        response
    }

    fn error(
        self,
        status: u16,
        error_type: &str,
        message: &str,
        retry_after: Option<Duration>,
    ) -> Response {
        tracing::debug!(
            status,
            error_type,
            message,
            "fake anthropic: answering with an error"
        );
        let extra: Vec<(String, String)> = retry_after
            .map(|d| {
                vec![(
                    "retry-after".to_owned(),
                    (d.as_secs_f64().ceil() as u64).max(1).to_string(),
                )]
            })
            .unwrap_or_default();
        let body = wire::error_json(error_type, message).to_string();
        self.finish(status, Body::from(body), "application/json", &extra)
    }

    fn invalid(self, message: &str) -> Response {
        self.error(400, "invalid_request_error", message, None)
    }

    fn provider_error(self, err: &ProviderError) -> Response {
        let (status, kind) = wire::error_type(err.kind());
        self.error(status, kind, &wire::error_message(err), err.retry_after())
    }
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn messages(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peek: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let model = peek
        .as_ref()
        .and_then(|v| v.get("model"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let wants_stream = peek
        .as_ref()
        .and_then(|v| v.get("stream"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let call = Call {
        request_id: state.next_request_id(),
        model: model.clone().filter(|m| state.provider(m).is_some()),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
        chat: None,
        state: state.clone(),
    };

    // Auth first, as the API does.
    let key = header_value(&headers, "x-api-key")
        .map(str::to_owned)
        .or_else(|| {
            header_value(&headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        });
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return call.error(
            401,
            "authentication_error",
            "x-api-key header is required",
            None,
        );
    };
    if state
        .api_key
        .as_deref()
        .is_some_and(|expected| expected != key)
    {
        return call.error(401, "authentication_error", "invalid x-api-key", None);
    }
    let version = match header_value(&headers, "anthropic-version") {
        None => return call.invalid("anthropic-version: header is required"),
        Some(v @ ("2023-06-01" | "2026-10-21")) => v.to_owned(),
        Some(other) => {
            return call.invalid(&format!(
                "anthropic-version: {other:?} is not a valid version"
            ));
        }
    };

    let mut context_window = None;
    let mut stream_fault = None;
    if let Some(model) = &model {
        for fault in state.faults(model, wants_stream) {
            match fault {
                Fault::Http {
                    status,
                    error_type,
                    message,
                    retry_after,
                } => {
                    return call.error(status, &error_type, &message, retry_after);
                }
                Fault::Slow(d) => tokio::time::sleep(d).await,
                Fault::ContextWindow(w) => context_window = Some(w),
                f @ (Fault::CutStream { .. } | Fault::ErrorEvent { .. }) => stream_fault = Some(f),
            }
        }
    }

    let parsed = match parse(&body) {
        Ok(p) => p,
        Err(message) => return call.invalid(&message),
    };
    let mut call = call;
    call.chat = Some(parsed.chat.clone());
    if version == "2026-10-21" {
        if let Some(field) = parsed.sampling.first() {
            return call.invalid(&format!("{field}: Extra inputs are not permitted"));
        }
        if parsed.user_citations {
            return call
                .invalid("messages: citations are not permitted on text blocks in user messages");
        }
        if parsed.assistant_document {
            return call
                .invalid("messages: document blocks are not permitted in assistant messages");
        }
    }
    let Some(provider) = state.provider(&parsed.model) else {
        let message = format!("model: {}", parsed.model);
        return call.error(404, "not_found_error", &message, None);
    };
    if let Err(e) = validate(&parsed.chat) {
        return call.invalid(&e.to_string());
    }
    if let Err(message) = check_thinking(&parsed) {
        return call.invalid(&message);
    }
    let estimate = state.estimator.input_tokens(&parsed.chat).await;
    if let Some(window) = context_window
        && estimate > window
    {
        return call.invalid(&format!(
            "prompt is too long: {estimate} tokens > {window} maximum"
        ));
    }
    let prefix = cache::prefix(&state, &parsed.chat);
    let uncached = match &prefix {
        Some(p) if state.cache_contains(&p.key) => estimate.saturating_sub(p.tokens),
        _ => estimate,
    };
    let admitted = state
        .with_quota(&parsed.model, |q| q.admit(uncached))
        .unwrap_or(Ok(()));
    if let Err(exceeded) = admitted {
        state.throttled.fetch_add(1, Ordering::Relaxed);
        return call.error(
            429,
            "rate_limit_error",
            &exceeded.message,
            Some(exceeded.retry_after),
        );
    }
    let settle_usage = |usage: Option<Usage>| -> Usage {
        let usage = usage.unwrap_or_else(|| Usage::new(estimate, 1));
        let usage = match &prefix {
            Some(p) => cache::settle(&state, p, usage),
            None => usage,
        };
        state.with_quota(&parsed.model, |q| {
            q.settle(
                uncached,
                usage.input_tokens + usage.cache_write_tokens,
                usage.output_tokens,
            );
        });
        usage
    };
    let thinking = parsed.chat.thinking.is_some();
    let message_id = format!(
        "msg_fake_{}",
        call.request_id.trim_start_matches("req_fake")
    );

    if !parsed.stream {
        let answer = match provider.complete(parsed.chat.clone()).await {
            Ok(a) => a,
            Err(e) if e.kind() == palisade_core::ErrorKind::ContentFiltered => refusal(&e),
            Err(e) => {
                settle_usage(Some(Usage::new(0, 0)));
                return call.provider_error(&e);
            }
        };
        let usage = settle_usage(answer.usage);
        state.served.fetch_add(1, Ordering::Relaxed);
        let json = wire::message_json(&message_id, &parsed.model, &answer, &usage, thinking);
        return call.finish(200, Body::from(json.to_string()), "application/json", &[]);
    }

    let events: Vec<Result<StreamEvent, ProviderError>> =
        match provider.stream(parsed.chat.clone()).await {
            Ok(stream) => {
                let mut out = Vec::new();
                let mut s = stream.into_events();
                while let Some(e) = s.next().await {
                    let failed = e.is_err();
                    out.push(e);
                    if failed {
                        break;
                    }
                }
                out
            }
            Err(e) if e.kind() == palisade_core::ErrorKind::ContentFiltered => {
                palisade_core::stream_from_response(refusal(&e))
                    .into_events()
                    .collect()
                    .await
            }
            Err(e) => {
                settle_usage(Some(Usage::new(0, 0)));
                return call.provider_error(&e);
            }
        };
    let provider_usage = events.iter().rev().find_map(|e| match e {
        Ok(StreamEvent::Usage(u)) => Some(*u),
        _ => None,
    });
    let usage = settle_usage(provider_usage);
    state.served.fetch_add(1, Ordering::Relaxed);
    let mut frames = wire::frames(&message_id, &parsed.model, events, &usage, thinking);
    match stream_fault {
        Some(Fault::CutStream { after_events }) => frames.truncate(after_events),
        Some(Fault::ErrorEvent {
            after_events,
            error_type,
            message,
        }) => {
            frames.truncate(after_events);
            frames.push(Frame::error(&error_type, &message));
        }
        _ => {}
    }
    let chunks: Vec<Result<Bytes, Infallible>> =
        frames.iter().map(|f| Ok(Bytes::from(f.encode()))).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    call.finish(200, body, "text/event-stream", &[])
}

/// A content-filter error from the provider, as the API reports it: an
/// answer with stop reason `refusal`.
fn refusal(err: &ProviderError) -> ChatResponse {
    let mut answer = ChatResponse::text(
        palisade_core::ProviderId::new("fake"),
        "",
        Some(Usage::new(0, 1)),
    );
    answer.content.clear();
    answer.stop_reason = StopReason::ContentFiltered;
    tracing::debug!(message = err.message(), "fake anthropic: refusal");
    answer
}

/// The thinking rules: an echoed thinking block must carry the signature the
/// server gave it; with thinking on, an assistant turn that uses a tool must
/// start with its thinking block.
fn check_thinking(parsed: &ParsedRequest) -> Result<(), String> {
    for (i, sig, text) in &parsed.echoed_thinking {
        if *sig != wire::signature(text) {
            return Err(format!(
                "messages.{i}: Invalid `signature` in `thinking` block"
            ));
        }
    }
    if parsed.chat.thinking.is_none() {
        return Ok(());
    }
    if let Some((i, last)) = parsed
        .chat
        .messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.role == Role::Assistant)
    {
        let uses_tool = last
            .content
            .iter()
            .any(|b| matches!(b, ContentBlock::ToolUse { .. }));
        let starts_with_thinking = matches!(
            last.content.first(),
            Some(ContentBlock::Reasoning { .. } | ContentBlock::RedactedReasoning { .. })
        );
        if uses_tool && !starts_with_thinking {
            return Err(format!(
                "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
                 `tool_use`. When `thinking` is enabled, a final `assistant` message must start \
                 with a thinking block."
            ));
        }
    }
    Ok(())
}
