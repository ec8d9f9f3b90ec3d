//! What most applications import: `use palisade::prelude::*;`.
//!
//! The core types, the extension trait that wraps providers in layers, and,
//! with their features, the layers and the stack builder.

pub use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, ContentBlock, ErrorKind, Layer,
    LayerStack, Message, Priority, Provider, ProviderError, ProviderExt, ProviderId, Readiness,
    Role, StopReason, StreamEvent, Tool, ToolChoice, Usage, async_trait, collect_stream,
};

#[cfg(feature = "breaker")]
pub use palisade_breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
#[cfg(feature = "limit")]
pub use palisade_limit::{Limiter, LimiterConfig, Quota, RateLimitLayer};
#[cfg(feature = "stack")]
pub use palisade_stack::{RetryLayer, RetryPolicy, StackBuilder, StackConfig, TimeoutLayer};
