//! The routes, the state they share, and the operator routes: `/health`,
//! `/stats`, `/reset`, `/metrics`.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use palisade_core::{Provider, ProviderId, Readiness};
use palisade_stack::FallbackStack;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::Keys;
use super::error::{ApiError, Dialect};
use super::request_id::{self, RequestId};
use super::{anthropic, openai};

/// Bodies up to this size are read (images and PDFs travel inline, base64).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub(super) struct AppState {
    /// The stack every model call goes through.
    pub(super) stack: Arc<FallbackStack>,
    /// The client and admin keys.
    pub(super) keys: Arc<Keys>,
    metrics: PrometheusHandle,
    /// `max_tokens` of an OpenAI request that names none.
    pub(super) default_max_tokens: u32,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("stack", &self.stack.id())
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a server in front of `stack`.
    pub(super) fn new(
        stack: FallbackStack,
        keys: Keys,
        metrics: PrometheusHandle,
        default_max_tokens: u32,
    ) -> Self {
        Self {
            stack: Arc::new(stack),
            keys: Arc::new(keys),
            metrics,
            default_max_tokens,
        }
    }
}

/// Every route, behind the request-id middleware.
pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/messages", post(anthropic::messages))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/metrics", get(metrics))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id::stamp))
        .with_state(state)
}

/// Reads a JSON body as `T`; a refusal names the field by its JSON path
/// (`messages[2].content`) and says what is wrong with it.
pub(super) fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(None, format!("the body is not valid JSON: {inner}"))
        } else if path == "." {
            ApiError::bad_request(None, format!("the body: {inner}"))
        } else {
            ApiError::bad_request(Some(path.clone()), format!("{path}: {inner}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::bad_request(None, format!("the body has data after its JSON value: {e}"))
    })?;
    Ok(value)
}

/// A 200 JSON answer.
pub(super) fn json(value: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Adds `x-palisade-served-by`: the candidate that answered.
pub(super) fn served_by(mut response: Response, who: &ProviderId) -> Response {
    if let Ok(v) = HeaderValue::from_str(who.as_str()) {
        response.headers_mut().insert("x-palisade-served-by", v);
    }
    response
}

/// Liveness, and whether some candidate takes calls now.
async fn health(State(state): State<AppState>) -> Response {
    let body = match state.stack.readiness() {
        Readiness::Ready => json!({"status": "ok", "ready": true}),
        Readiness::Unavailable { retry_after } => json!({
            "status": "ok",
            "ready": false,
            "retry_after_ms": retry_after.as_millis() as u64,
        }),
    };
    json(&body)
}

/// The stack's stats snapshot: every candidate, its breaker, cooldown,
/// limiter queue and counts, and the budget.
async fn stats(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = state.keys.check_client(&headers) {
        return ApiError::refused(refusal).into_response(Dialect::OpenAi, &id);
    }
    match serde_json::to_value(state.stack.stats()) {
        Ok(v) => json(&v),
        Err(e) => ApiError::internal(format!("cannot serialize the stats: {e}"))
            .into_response(Dialect::OpenAi, &id),
    }
}

/// Closes every breaker, clears every cooldown, refills the retry budgets.
async fn reset(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = state.keys.check_admin(&headers) {
        return ApiError::refused(refusal).into_response(Dialect::OpenAi, &id);
    }
    state.stack.reset();
    tracing::info!(request_id = %id, "breakers, cooldowns and retry budgets reset");
    json(&json!({"reset": ["breakers", "cooldowns", "retry_budgets"]}))
}

/// The Prometheus text of every counter and histogram recorded through the
/// `metrics` facade (the stack's and this server's).
async fn metrics(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn unknown_route(Extension(id): Extension<RequestId>, uri: Uri) -> Response {
    ApiError::not_found(uri.path()).into_response(Dialect::OpenAi, &id)
}
