use palisade_core::{Layer, Provider};

use super::{Timeout, TimeoutConfig};

/// Builds [`Timeout`] providers.
#[derive(Debug, Clone, Default)]
pub struct TimeoutLayer {
    config: TimeoutConfig,
}

impl TimeoutLayer {
    /// A layer with `config`.
    pub fn new(config: TimeoutConfig) -> Self {
        Self { config }
    }

    /// A layer with only a per-attempt limit.
    pub fn per_attempt(limit: std::time::Duration) -> Self {
        Self::new(TimeoutConfig {
            per_attempt: Some(limit),
            overall: None,
        })
    }

    /// The settings.
    pub fn config(&self) -> &TimeoutConfig {
        &self.config
    }
}

impl<P: Provider> Layer<P> for TimeoutLayer {
    type Provider = Timeout<P>;

    fn layer(&self, inner: P) -> Timeout<P> {
        Timeout::new(inner, self.config.clone())
    }
}
