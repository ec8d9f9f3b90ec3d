//! The HTTP routes: `POST /model/{modelId}/converse`, `/converse-stream` and
//! `/count-tokens`, each recording the request, firing an injected fault or
//! calling the model's provider, and answering in Bedrock's wire format.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use palisade_core::{ChatRequest, ErrorKind, SharedProvider, StopReason, validate};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::fault::WireFault;
use super::recording::{Operation, ReceivedRequest};
use super::state::ServerState;
use super::wire::event_stream::{self, MidStreamFault};
use super::wire::exception::AwsException;
use super::wire::request::{self as wire_request, WireRequestError};
use super::wire::response as wire_response;

/// Bedrock accepts request bodies well past axum's 2 MB default (long
/// contexts, documents); the fake should not refuse what the service takes.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The suffix of Bedrock's `x-amzn-ErrorType` values.
const ERROR_TYPE_NAMESPACE: &str = "http://internal.amazon.com/coral/com.amazon.bedrock/";

/// Frames buffered between the provider's stream and the socket.
const STREAM_BUFFER_FRAMES: usize = 16;

pub(super) fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .route("/model/{model_id}/count-tokens", post(count_tokens))
        .fallback(unknown_operation)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The answer sent instead of calling the provider (boxed: a `Response` is
/// large, and this is the rare path).
type Refusal = Box<Response>;

/// A request as it arrived, before it is answered.
struct Incoming {
    request_id: String,
    operation: Operation,
    model_id: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Incoming {
    fn new(
        state: &ServerState,
        operation: Operation,
        path: Result<Path<String>, PathRejection>,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Self, Refusal> {
        let request_id = state.next_request_id();
        let model_id = path.map(|Path(id)| id).map_err(|e| {
            error_response(
                &AwsException::validation(format!("modelId: {e}")),
                &request_id,
            )
        })?;
        let body = body.map_err(|e| {
            error_response(&AwsException::validation(format!("body: {e}")), &request_id)
        })?;
        let headers = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Self {
            request_id,
            operation,
            model_id,
            headers,
            body,
        })
    }

    /// Records the request (with its translation, when there is one).
    fn record(&self, state: &ServerState, chat_request: Option<ChatRequest>) {
        state.record(ReceivedRequest {
            request_id: self.request_id.clone(),
            operation: self.operation,
            model_id: self.model_id.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            chat_request,
        });
    }

    /// Translates and records the body, then finds the model's provider.
    /// `Err` is the answer to send instead (malformed body, unknown model,
    /// an injected HTTP fault).
    fn admit(
        &self,
        state: &ServerState,
        translate: fn(&[u8]) -> Result<ChatRequest, WireRequestError>,
    ) -> Result<(ChatRequest, SharedProvider, Option<MidStreamFault>), Refusal> {
        let translated = translate(&self.body);
        self.record(state, translated.as_ref().ok().cloned());
        let request =
            translated.map_err(|e| self.refuse(&AwsException::validation(e.to_string())))?;
        let mut mid_stream = None;
        match state.take_fault(&self.model_id, self.operation) {
            Some(WireFault::Http {
                status,
                error_type,
                message,
                retry_after,
            }) => {
                let exception = AwsException {
                    status,
                    code: error_type,
                    message,
                    retry_after,
                };
                return Err(self.refuse(&exception));
            }
            Some(WireFault::MidStream {
                after_events,
                exception_type,
                message,
            }) => {
                mid_stream = Some(MidStreamFault {
                    after_events,
                    exception_type,
                    message,
                });
            }
            None => {}
        }
        let provider = state.provider(&self.model_id).ok_or_else(|| {
            self.refuse(&AwsException::validation(
                "The provided model identifier is invalid.",
            ))
        })?;
        // Bedrock checks the request before the model sees it.
        if self.operation != Operation::CountTokens {
            validate(&request)
                .map_err(|e| self.refuse(&AwsException::validation(e.to_string())))?;
            if let Some(refusal) = state
                .limits(&self.model_id)
                .refusal(&self.model_id, &request)
            {
                return Err(self.refuse(&AwsException::validation(refusal)));
            }
        }
        Ok((request, provider, mid_stream))
    }

    fn refuse(&self, exception: &AwsException) -> Refusal {
        Box::new(self.error(exception))
    }

    fn error(&self, exception: &AwsException) -> Response {
        tracing::debug!(
            model = %self.model_id,
            operation = %self.operation,
            status = exception.status,
            code = exception.code.as_deref().unwrap_or(""),
            "fake bedrock: answering with an error"
        );
        error_response(exception, &self.request_id)
    }

    fn json(&self, body: &serde_json::Value) -> Response {
        let mut response = (StatusCode::OK, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        insert_request_id(headers, &self.request_id);
        response
    }
}

async fn converse(
    State(state): State<Arc<ServerState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let incoming = match Incoming::new(&state, Operation::Converse, path, &headers, body) {
        Ok(incoming) => incoming,
        Err(response) => return *response,
    };
    let (request, provider, _) = match incoming.admit(&state, wire_request::converse_request) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let started = Instant::now();
    let prefix = super::cache::prefix(&state, &request);
    match provider.complete(request).await {
        Ok(mut response) => {
            if let Some(prefix) = &prefix {
                response.usage = super::cache::settle(&state, prefix, response.usage);
            }
            incoming.json(&wire_response::converse_body(&response, started.elapsed()))
        }
        Err(err) if err.kind() == ErrorKind::ContentFiltered => {
            // Bedrock reports a refusal as an answer with this stop reason.
            let mut refused = palisade_core::ChatResponse::text(provider.id().clone(), "", None);
            refused.content.clear();
            refused.stop_reason = StopReason::ContentFiltered;
            incoming.json(&wire_response::converse_body(&refused, started.elapsed()))
        }
        Err(err) => incoming.error(&AwsException::from_provider_error(&err)),
    }
}

async fn converse_stream(
    State(state): State<Arc<ServerState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let incoming = match Incoming::new(&state, Operation::ConverseStream, path, &headers, body) {
        Ok(incoming) => incoming,
        Err(response) => return *response,
    };
    let (request, provider, fault) = match incoming.admit(&state, wire_request::converse_request) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let started = Instant::now();
    let stream = match provider.stream(request).await {
        Ok(stream) => stream,
        Err(err) if err.kind() == ErrorKind::ContentFiltered => {
            let refused = palisade_core::StreamEvent::Stop {
                reason: StopReason::ContentFiltered,
            };
            palisade_core::ChatStream::from_events(provider.id().clone(), [Ok(refused)])
        }
        Err(err) => return incoming.error(&AwsException::from_provider_error(&err)),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(STREAM_BUFFER_FRAMES);
    tokio::spawn(event_stream::pump(stream, fault, tx, started));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, std::convert::Infallible>(frame), rx))
    });
    let mut response = Response::new(Body::from_stream(frames));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    insert_request_id(headers, &incoming.request_id);
    response
}

async fn count_tokens(
    State(state): State<Arc<ServerState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let incoming = match Incoming::new(&state, Operation::CountTokens, path, &headers, body) {
        Ok(incoming) => incoming,
        Err(response) => return *response,
    };
    let (request, _, _) = match incoming.admit(&state, wire_request::count_tokens_request) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let tokens = state.estimator.estimate_request(&request).await;
    incoming.json(&json!({ "inputTokens": tokens }))
}

async fn unknown_operation(state: State<Arc<ServerState>>) -> Response {
    let exception = AwsException::new(
        404,
        "UnknownOperationException",
        "The fake Bedrock server speaks Converse, ConverseStream and CountTokens only.",
    );
    error_response(&exception, &state.next_request_id())
}

/// An error answer as Bedrock writes it: status, `x-amzn-ErrorType`,
/// `x-amzn-RequestId`, optional `Retry-After`, and `{"message": ...}`.
fn error_response(exception: &AwsException, request_id: &str) -> Response {
    let status =
        StatusCode::from_u16(exception.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({ "message": exception.message }).to_string();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert_request_id(headers, request_id);
    // Bedrock appends its service namespace after a colon; clients keep the
    // part before it, so sending it exercises that parsing too.
    if let Some(code) = &exception.code
        && let Ok(value) = HeaderValue::from_str(&format!("{code}:{ERROR_TYPE_NAMESPACE}"))
    {
        headers.insert("x-amzn-errortype", value);
    }
    if let Some(after) = exception.retry_after {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(after)),
        );
    }
    response
}

/// Whole seconds, rounded up so a client never retries early.
fn retry_after_secs(after: Duration) -> u64 {
    after.as_secs() + u64::from(after.subsec_nanos() > 0)
}

fn insert_request_id(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
}
