//! The `Provider` trait: one async interface for every LLM client and every layer.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::capabilities::Capabilities;
use crate::error::ProviderError;
use crate::expected_wait::ExpectedWait;
use crate::request::ChatRequest;
use crate::response::ChatResponse;
use crate::stream::{ChatStream, stream_from_response};

/// Stable identity of a provider, used in stats, logs, limiter and breaker keys,
/// e.g. `bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0`.
///
/// Cheap to clone (a shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(Arc<str>);

impl ProviderId {
    /// A provider id from any string.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ProviderId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for ProviderId {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl AsRef<str> for ProviderId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ProviderId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Whether a provider can take a call right now, as far as its layers know.
///
/// Layers that hold state about a provider's health (a circuit breaker, a
/// cooldown) report it here so that routing and fallback can skip a candidate
/// without calling it, and wait for the earliest recovery when none is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Readiness {
    /// Calls are admitted (possibly after queueing in a limiter).
    Ready,
    /// Calls are refused until roughly `retry_after` from now.
    Unavailable {
        /// How long until the provider is expected to take calls again.
        retry_after: Duration,
    },
}

impl Readiness {
    /// `true` for [`Readiness::Ready`].
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }

    /// The less ready of two readiness reports (the later recovery wins).
    pub fn and(self, other: Readiness) -> Readiness {
        match (self, other) {
            (Readiness::Ready, r) | (r, Readiness::Ready) => r,
            (
                Readiness::Unavailable { retry_after: a },
                Readiness::Unavailable { retry_after: b },
            ) => Readiness::Unavailable {
                retry_after: a.max(b),
            },
        }
    }
}

/// An LLM API, or a layer around one.
///
/// Dyn-compatible, so heterogeneous providers can live together as
/// `Arc<dyn Provider>` (in a fallback list, say). `Arc<P>`, `Box<P>` and `&P`
/// are providers whenever `P` is, including `P = dyn Provider`.
///
/// Layers must forward [`readiness`](Provider::readiness),
/// [`expected_wait`](Provider::expected_wait),
/// [`context_window`](Provider::context_window) and
/// [`capabilities`](Provider::capabilities) to the provider they wrap,
/// combining it with their own state where they have any.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Stable identity used in stats, logs and keys.
    fn id(&self) -> &ProviderId;

    /// Sends the request and waits for the whole answer.
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Sends the request and returns the answer as a stream of events.
    ///
    /// An `Err` here means the call failed before any event was produced (which
    /// is when retry and fallback may still act); errors after that arrive as
    /// stream items.
    ///
    /// The default calls [`complete`](Provider::complete) and streams the
    /// whole answer ([`stream_from_response`]), for clients that cannot
    /// stream; layers override it to wrap their inner provider's stream.
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.complete(req).await.map(stream_from_response)
    }

    /// Whether the provider can take a call now. Defaults to
    /// [`Readiness::Ready`]; breakers and cooldowns override it.
    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    /// When a call of `req` could start, as far as this provider (and the
    /// layers inside it) can tell now, without side effects: the rate
    /// limits' schedule for what `req` would reserve, the queue ahead of it,
    /// an open breaker. Defaults to what [`readiness`](Provider::readiness)
    /// says; limiters and breakers override it, and every layer combines its
    /// own answer with its inner provider's (see
    /// [`ExpectedWait::and`]). Routers use it to send a request where it is
    /// served soonest and to refuse at once what cannot make its deadline.
    fn expected_wait(&self, req: &ChatRequest) -> ExpectedWait {
        let _ = req;
        ExpectedWait::from_readiness(self.readiness())
    }

    /// The model's context window in tokens, when known, so fallback can skip
    /// a candidate the request cannot fit.
    fn context_window(&self) -> Option<u32> {
        None
    }

    /// What the provider accepts (tools, images, tiers, …), so routing can
    /// skip it for a request it cannot serve. Defaults to
    /// [`Capabilities::all`]: a provider that states nothing refuses itself
    /// what it cannot serve.
    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }
}

macro_rules! forward_provider {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<P: Provider + ?Sized> Provider for $ty {
            fn id(&self) -> &ProviderId {
                (**self).id()
            }
            async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
                (**self).complete(req).await
            }
            async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
                (**self).stream(req).await
            }
            fn readiness(&self) -> Readiness {
                (**self).readiness()
            }
            fn expected_wait(&self, req: &ChatRequest) -> ExpectedWait {
                (**self).expected_wait(req)
            }
            fn context_window(&self) -> Option<u32> {
                (**self).context_window()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
        }
    )*};
}

forward_provider!(Arc<P>, Box<P>, &P);

/// A shared, type-erased provider: what fallback lists and routers hold.
pub type SharedProvider = Arc<dyn Provider>;
