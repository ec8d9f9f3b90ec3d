//! The one error taxonomy every adapter maps into and every layer decides from.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::provider::ProviderId;

/// What went wrong, in the terms a resilience layer acts on.
///
/// Adapters classify every failure into exactly one kind; layers decide from the
/// kind (and [`ProviderError::retry_after`]), never from message strings.
///
/// # Classification
///
/// | kind | meaning | [`is_retryable`] | [`is_fallback_eligible`] | counts against a breaker |
/// |---|---|---|---|---|
/// | `Throttled` | rate or token quota exceeded (HTTP 429, `ThrottlingException`) | yes | yes | yes |
/// | `Overloaded` | the model is busy or not ready (HTTP 529, `ModelNotReadyException`) | yes | yes | yes |
/// | `Unavailable` | the service is down (HTTP 503, `ServiceUnavailableException`) | yes | yes | yes |
/// | `Timeout` | no answer in time (ours or the provider's) | yes | yes | yes |
/// | `ContextWindowExceeded` | the prompt does not fit this model | no | yes (a larger model may fit) | no |
/// | `ContentFiltered` | the provider's content policy refused | no | no (opt in per fallback) | no |
/// | `QuotaExhausted` | a hard quota (service quota, billing) is used up; waiting seconds won't help | no | yes | no |
/// | `InvalidRequest` | the request itself is wrong; every provider would refuse it | no | no | no |
/// | `Auth` | credentials missing or not allowed for this model | no | yes (another model may be allowed) | no |
/// | `NotFound` | unknown model id or inference profile | no | yes | no |
/// | `Network` | connection refused, reset or DNS failure | yes | yes | yes |
/// | `Cancelled` | the caller gave up (dropped, shut down) | no | no | no |
/// | `Internal` | the provider failed on its side (HTTP 500) | yes | yes | yes |
///
/// The last column is the default of `palisade-breaker`, given here so the whole
/// taxonomy reads in one place; [`ErrorKind::counts_as_failure`] returns it.
///
/// [`is_retryable`]: ErrorKind::is_retryable
/// [`is_fallback_eligible`]: ErrorKind::is_fallback_eligible
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Rate or token quota exceeded; retry after a pause.
    Throttled,
    /// The model is temporarily busy or not ready.
    Overloaded,
    /// The service is temporarily unavailable.
    Unavailable,
    /// No answer within the allowed time.
    Timeout,
    /// The request does not fit the model's context window.
    ContextWindowExceeded,
    /// The provider's content policy refused the request or the answer.
    ContentFiltered,
    /// A hard quota is exhausted; short waits won't help.
    QuotaExhausted,
    /// The request is malformed or violates the API's rules.
    InvalidRequest,
    /// Credentials are missing, invalid or not allowed.
    Auth,
    /// The model or resource does not exist.
    NotFound,
    /// A transport failure: connect, reset, DNS.
    Network,
    /// The call was cancelled by the caller.
    Cancelled,
    /// The provider failed internally.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order (for tables, stats and tests).
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Throttled,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::ContextWindowExceeded,
        ErrorKind::ContentFiltered,
        ErrorKind::QuotaExhausted,
        ErrorKind::InvalidRequest,
        ErrorKind::Auth,
        ErrorKind::NotFound,
        ErrorKind::Network,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    /// Whether the same request to the same provider may succeed if sent again
    /// later. See the table on [`ErrorKind`].
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled
                | ErrorKind::Overloaded
                | ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::Network
                | ErrorKind::Internal
        )
    }

    /// Whether another provider or model may succeed where this one failed.
    /// See the table on [`ErrorKind`].
    pub const fn is_fallback_eligible(self) -> bool {
        !matches!(
            self,
            ErrorKind::ContentFiltered | ErrorKind::InvalidRequest | ErrorKind::Cancelled
        )
    }

    /// Whether the failure says something about the provider's health (the
    /// default breaker policy), rather than about the caller's request.
    pub const fn counts_as_failure(self) -> bool {
        self.is_retryable()
    }

    /// A stable snake_case name, as used in stats, logs and serialized forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ContextWindowExceeded => "context_window_exceeded",
            ErrorKind::ContentFiltered => "content_filtered",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Network => "network",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an error was raised: by the provider (or its client), or by a local
/// layer that refused the call without the provider answering.
///
/// The distinction matters to health tracking: a limiter's own refusal is
/// reported as [`ErrorKind::Throttled`] so callers back off the same way, but it
/// says nothing about the provider's health, so circuit breakers ignore
/// [`ErrorOrigin::Layer`] errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorOrigin {
    /// The provider, its client or the network between them.
    #[default]
    Provider,
    /// A local layer (a limiter's refusal, an open breaker, a budget) that
    /// answered without calling the provider.
    Layer,
}

/// A failed call to a [`Provider`](crate::Provider), classified.
///
/// Cheap to clone (the source is shared), so layers can keep a copy in an
/// attempts trail or a dead-letter list and still return it.
#[derive(Clone)]
pub struct ProviderError {
    kind: ErrorKind,
    origin: ErrorOrigin,
    message: String,
    retry_after: Option<Duration>,
    provider: Option<ProviderId>,
    request_id: Option<String>,
    status: Option<u16>,
    rate_limit: Option<Box<crate::http::RateLimitSnapshot>>,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl ProviderError {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            origin: ErrorOrigin::Provider,
            message: message.into(),
            retry_after: None,
            provider: None,
            request_id: None,
            status: None,
            rate_limit: None,
            source: None,
        }
    }

    /// Attaches the provider's rate-limit headers, so a limiter can correct
    /// its state from a refusal too.
    pub fn with_rate_limit(mut self, snapshot: crate::http::RateLimitSnapshot) -> Self {
        self.rate_limit = Some(Box::new(snapshot));
        self
    }

    /// The provider's rate-limit headers on this answer, when it sent any.
    pub fn rate_limit(&self) -> Option<&crate::http::RateLimitSnapshot> {
        self.rate_limit.as_deref()
    }

    /// Shorthand for a [`ErrorKind::Throttled`] error with an optional Retry-After.
    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::new(ErrorKind::Throttled, message).with_retry_after(retry_after)
    }

    /// Shorthand for [`ErrorKind::InvalidRequest`].
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// Shorthand for [`ErrorKind::Cancelled`].
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    /// Sets how long the provider asked us to wait before trying again.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Marks where the error was raised (default [`ErrorOrigin::Provider`]);
    /// layers that refuse a call themselves set [`ErrorOrigin::Layer`].
    pub fn with_origin(mut self, origin: ErrorOrigin) -> Self {
        self.origin = origin;
        self
    }

    /// Sets the provider that produced the error (layers fill it in when absent).
    pub fn with_provider(mut self, provider: ProviderId) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sets the provider's request id (e.g. `x-amzn-RequestId`), for support tickets.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets the HTTP status the provider answered with, when there was one.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The classification layers decide from.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Where the error was raised.
    pub fn origin(&self) -> ErrorOrigin {
        self.origin
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether retrying the same provider may help ([`ErrorKind::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Whether another candidate may help ([`ErrorKind::is_fallback_eligible`]).
    pub fn is_fallback_eligible(&self) -> bool {
        self.kind.is_fallback_eligible()
    }

    /// The provider that failed, if known.
    pub fn provider(&self) -> Option<&ProviderId> {
        self.provider.as_ref()
    }

    /// The provider's request id, if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The HTTP status, if the failure came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Fills in the provider id if no inner layer did.
    pub fn or_provider(mut self, provider: &ProviderId) -> Self {
        if self.provider.is_none() {
            self.provider = Some(provider.clone());
        }
        self
    }
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ProviderError");
        d.field("kind", &self.kind)
            .field("origin", &self.origin)
            .field("message", &self.message);
        if let Some(r) = &self.retry_after {
            d.field("retry_after", r);
        }
        if let Some(p) = &self.provider {
            d.field("provider", &p.as_str());
        }
        if let Some(r) = &self.request_id {
            d.field("request_id", r);
        }
        if let Some(s) = &self.status {
            d.field("status", s);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(p) = &self.provider {
            write!(f, " from {p}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(r) = self.retry_after {
            write!(f, " (retry after {:.3}s)", r.as_secs_f64())?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl StdError for ProviderError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<crate::validate::ValidationError> for ProviderError {
    fn from(err: crate::validate::ValidationError) -> Self {
        ProviderError::new(ErrorKind::InvalidRequest, err.to_string()).with_source(err)
    }
}
