//! The HTTP routes: `POST /v1/chat/completions` and Azure's
//! `POST /openai/deployments/{deployment}/chat/completions?api-version=…`,
//! each checking the key, recording and validating the body, firing a
//! fault, charging the quota, then calling the model's provider and
//! answering as OpenAI does (JSON, or server-sent events).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use palisade_core::{
    ChatResponse, ChatStream, ErrorKind, ProviderError, StopReason, StreamEvent, Usage,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::fault::Fault;
use super::quota::{Exceeded, Report, format_reset};
use super::recording::ReceivedRequest;
use super::state::ServerState;
use super::wire::error::OpenAiError;
use super::wire::request::{self as wire_request, ParsedRequest};
use super::wire::response::{self as wire_response, ChunkWriter, sse};

const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const STREAM_BUFFER: usize = 16;

pub(super) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure),
        )
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn openai(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, None, &uri, &headers, body).await
}

async fn azure(
    State(state): State<Arc<ServerState>>,
    Path(deployment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has_version = uri.query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv.starts_with("api-version=") && kv.len() > 12)
    });
    if !has_version {
        let body = json!({ "error": { "code": "404", "message": "Resource not found" } });
        return json_response(
            StatusCode::NOT_FOUND,
            &body,
            &state.next_request_id(),
            &Report::default(),
        );
    }
    handle(&state, Some(&deployment), &uri, &headers, body).await
}

async fn unknown(State(state): State<Arc<ServerState>>, uri: Uri) -> Response {
    let err = OpenAiError::new(
        404,
        Some("invalid_request_error"),
        None,
        format!(
            "Invalid URL (POST {}): the fake server speaks /v1/chat/completions only.",
            uri.path()
        ),
    );
    error_response(&err, &state.next_request_id(), &Report::default())
}

async fn handle(
    state: &ServerState,
    deployment: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = state.next_request_id();
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let parsed = wire_request::parse(&body, deployment);
    let record = |parsed: Option<&ParsedRequest>| {
        state.record(ReceivedRequest {
            request_id: request_id.clone(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            model: parsed
                .map(|p| p.model.clone())
                .or_else(|| deployment.map(str::to_owned))
                .unwrap_or_default(),
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
            streaming: parsed.is_some_and(|p| p.stream),
            chat_request: parsed.map(|p| p.chat.clone()),
        });
    };
    // The key is checked before the body is read, as OpenAI does.
    if let Some(expected) = &state.api_key {
        let given = if deployment.is_some() {
            header_str(headers, "api-key")
        } else {
            header_str(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
        };
        if given != Some(expected.as_str()) {
            record(parsed.as_ref().ok());
            return error_response(
                &OpenAiError::invalid_api_key(given),
                &request_id,
                &Report::default(),
            );
        }
    }
    let parsed = match parsed {
        Ok(p) => p,
        Err(err) => {
            record(None);
            return error_response(&err, &request_id, &Report::default());
        }
    };
    record(Some(&parsed));
    let model = parsed.model.clone();
    let mut cut = None;
    let mut filtered = false;
    match state.take_fault(&model, parsed.stream) {
        None => {}
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::StreamCut { after_chunks }) => cut = Some(after_chunks),
        Some(Fault::ContentFilter) => filtered = true,
        Some(fault) => {
            let err = match fault {
                Fault::Down => OpenAiError::down(),
                Fault::QuotaExhausted => OpenAiError::insufficient_quota(),
                Fault::ContextTooSmall => OpenAiError::context_length(&model, 0, 1),
                Fault::AuthFailure => OpenAiError::invalid_api_key(Some("sk-fake-rejected-key")),
                Fault::RateLimited { retry_after } => OpenAiError::new(
                    429,
                    Some("requests"),
                    Some("rate_limit_exceeded"),
                    format!(
                        "Rate limit reached for {model}. Please try again in {}.",
                        format_reset(retry_after)
                    ),
                )
                .with_retry_after(retry_after),
                Fault::Http {
                    status,
                    error_type,
                    code,
                    message,
                } => OpenAiError::new(status, error_type.as_deref(), code.as_deref(), message),
                _ => OpenAiError::new(500, Some("server_error"), None, "unhandled fault"),
            };
            return error_response(&err, &request_id, &state.report(&model));
        }
    }
    let Some(provider) = state.provider(&model) else {
        let err = OpenAiError::new(
            404,
            Some("invalid_request_error"),
            Some("model_not_found"),
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .with_param("model");
        return error_response(&err, &request_id, &Report::default());
    };
    let input = state.estimator.estimate_request(&parsed.chat).await;
    if let Some(window) = state.windows.get(&model)
        && input.saturating_add(parsed.chat.max_tokens) > *window
    {
        let err = OpenAiError::context_length(
            &model,
            *window,
            input.saturating_add(parsed.chat.max_tokens),
        );
        return error_response(&err, &request_id, &state.report(&model));
    }
    let report = match state.admit(&model, input.saturating_add(parsed.chat.max_tokens)) {
        Ok(report) => report,
        Err((exceeded, report)) => {
            state.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            return error_response(&rate_limited(&model, &exceeded), &request_id, &report);
        }
    };
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let completion_id = format!("chatcmpl-{request_id}");
    let estimated = |answer_tokens: u32| Usage::new(input, answer_tokens);
    let tier = parsed.chat.service_tier;
    if !parsed.stream {
        let answer = if filtered {
            Ok(filtered_answer(&provider))
        } else {
            provider.complete(parsed.chat).await
        };
        let mut answer = match answer {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::ContentFiltered => filtered_answer(&provider),
            Err(e) => {
                return error_response(&OpenAiError::from_provider_error(&e), &request_id, &report);
            }
        };
        // The tier asked for serves, unless the provider said otherwise.
        answer.service_tier = answer.service_tier.or(tier);
        state.counters.answered.fetch_add(1, Ordering::Relaxed);
        let usage = answer
            .usage
            .unwrap_or_else(|| estimated(state.estimator.estimate_text(&answer.text_content())));
        let body = wire_response::completion(&completion_id, created, &model, &answer, usage);
        return json_response(StatusCode::OK, &body, &request_id, &report);
    }
    let events = if filtered {
        Ok(filtered_stream(&provider))
    } else {
        provider.stream(parsed.chat).await
    };
    let events = match events {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::ContentFiltered => filtered_stream(&provider),
        Err(e) => {
            return error_response(&OpenAiError::from_provider_error(&e), &request_id, &report);
        }
    };
    state.counters.answered.fetch_add(1, Ordering::Relaxed);
    let writer = ChunkWriter {
        id: completion_id,
        created,
        model: model.clone(),
        include_usage: parsed.include_usage,
        tier,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(STREAM_BUFFER);
    tokio::spawn(pump(events, writer, cut, input, tx));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    });
    let mut response = Response::new(Body::from_stream(frames));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    common_headers(h, &request_id, &report);
    response
}

fn filtered_answer(provider: &palisade_core::SharedProvider) -> ChatResponse {
    let mut answer = ChatResponse::text(provider.id().clone(), "", None);
    answer.content.clear();
    answer.stop_reason = StopReason::ContentFiltered;
    answer
}

fn filtered_stream(provider: &palisade_core::SharedProvider) -> ChatStream {
    ChatStream::from_events(
        provider.id().clone(),
        [Ok(StreamEvent::Stop {
            reason: StopReason::ContentFiltered,
        })],
    )
}

/// Streams the provider's events as chunks; with `cut`, breaks the
/// connection after that many chunks.
async fn pump(
    mut events: ChatStream,
    writer: ChunkWriter,
    cut: Option<usize>,
    input: u32,
    tx: mpsc::Sender<Result<Bytes, std::convert::Infallible>>,
) {
    let mut sent = 0usize;
    let mut tool_index: i64 = -1;
    let mut usage = None;
    let mut output_chars = 0usize;
    macro_rules! send {
        ($chunk:expr) => {{
            if cut.is_some_and(|n| sent >= n) {
                // A clean end of the body without `[DONE]`, as a dropped
                // upstream looks to the client.
                return;
            }
            if tx.send(Ok(sse(&$chunk.to_string()))).await.is_err() {
                return;
            }
            sent += 1;
        }};
    }
    send!(writer.delta(
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None
    ));
    while let Some(event) = events.next().await {
        match event {
            Ok(StreamEvent::TextDelta { text }) => {
                output_chars += text.len();
                send!(writer.delta(json!({ "content": text }), None));
            }
            Ok(StreamEvent::ToolUseStart { id, name }) => {
                tool_index += 1;
                send!(writer.delta(
                    json!({ "tool_calls": [{ "index": tool_index, "id": id, "type": "function",
                        "function": { "name": name, "arguments": "" } }] }),
                    None
                ));
            }
            Ok(StreamEvent::ToolInputDelta { json }) => {
                output_chars += json.len();
                send!(writer.delta(
                    json!({ "tool_calls": [{ "index": tool_index, "function": { "arguments": json } }] }),
                    None
                ));
            }
            Ok(StreamEvent::Usage(u)) => usage = Some(u),
            Ok(StreamEvent::Stop { reason }) => {
                send!(writer.delta(json!({}), Some(wire_response::finish_reason(reason))));
            }
            // Chat Completions streams no reasoning, block boundaries or tier events.
            Ok(_) => {}
            Err(e) => {
                if cut.is_none_or(|n| sent < n) {
                    let frame = sse(&json!({ "error": error_object(&e) }).to_string());
                    let _ = tx.send(Ok(frame)).await;
                }
                return;
            }
        }
    }
    if writer.include_usage {
        let u = usage.unwrap_or_else(|| {
            Usage::new(
                input,
                u32::try_from(output_chars.div_ceil(4)).unwrap_or(u32::MAX),
            )
        });
        send!(writer.usage(u));
    }
    if cut.is_some_and(|n| sent >= n) {
        return;
    }
    let _ = tx.send(Ok(sse("[DONE]"))).await;
}

fn error_object(err: &ProviderError) -> Value {
    OpenAiError::from_provider_error(err).object()
}

fn rate_limited(model: &str, e: &Exceeded) -> OpenAiError {
    let (what, kind) = if e.tokens {
        ("tokens per min (TPM)", "tokens")
    } else {
        ("requests per min (RPM)", "requests")
    };
    OpenAiError::new(
        429,
        Some(kind),
        Some("rate_limit_exceeded"),
        format!(
            "Rate limit reached for {model} in organization org-fake on {what}: Limit {}, Requested {}. Please try again in {}.",
            e.limit,
            e.requested,
            format_reset(e.retry_after)
        ),
    )
    .with_retry_after(e.retry_after)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn json_response(status: StatusCode, body: &Value, request_id: &str, report: &Report) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    common_headers(h, request_id, report);
    response
}

fn error_response(err: &OpenAiError, request_id: &str, report: &Report) -> Response {
    tracing::debug!(
        status = err.status,
        code = err.code.as_deref().unwrap_or(""),
        "fake openai: error answer"
    );
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &err.body(), request_id, report);
    if let Some(after) = err.retry_after {
        let h = response.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(ceil_secs(after)));
        h.insert(
            "retry-after-ms",
            HeaderValue::from(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
        );
    }
    response
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `x-request-id`, `openai-version`, and `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.
fn common_headers(h: &mut HeaderMap, request_id: &str, report: &Report) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    h.insert("openai-version", HeaderValue::from_static("2020-10-01"));
    for (dim, window) in [("requests", report.requests), ("tokens", report.tokens)] {
        let Some(w) = window else { continue };
        let pairs = [
            ("limit", w.limit.to_string()),
            ("remaining", w.remaining.to_string()),
            ("reset", format_reset(w.reset)),
        ];
        for (what, value) in pairs {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(format!("x-ratelimit-{what}-{dim}").as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                h.insert(name, value);
            }
        }
    }
}
