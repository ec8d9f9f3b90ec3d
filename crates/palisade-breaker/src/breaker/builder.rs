//! Building a breaker: configuration, listener, store, jitter seed.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};

use palisade_core::ProviderId;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::{CircuitBreaker, Guarded, Inner};
use crate::config::{BreakerConfig, ConfigError};
use crate::events::{StateChange, StateListener};
use crate::state::{BreakerState, StateWord};
use crate::store::BreakerStore;
use crate::window::Window;

impl CircuitBreaker {
    /// A breaker for `provider` with `config`.
    pub fn new(
        provider: impl Into<ProviderId>,
        config: BreakerConfig,
    ) -> Result<Self, ConfigError> {
        Self::builder(provider).config(config).build()
    }

    /// A builder for a breaker for `provider`.
    pub fn builder(provider: impl Into<ProviderId>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new(provider.into())
    }
}

/// Builds a [`CircuitBreaker`] with a listener, a store or a jitter seed.
#[must_use]
pub struct CircuitBreakerBuilder {
    id: ProviderId,
    config: BreakerConfig,
    listener: Option<StateListener>,
    store: Option<Arc<dyn BreakerStore>>,
    seed: Option<u64>,
}

impl std::fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("id", &self.id)
            .field("config", &self.config)
            .field("listener", &self.listener.is_some())
            .field("store", &self.store)
            .field("seed", &self.seed)
            .finish()
    }
}

impl CircuitBreakerBuilder {
    pub(super) fn new(id: ProviderId) -> Self {
        Self {
            id,
            config: BreakerConfig::default(),
            listener: None,
            store: None,
            seed: None,
        }
    }

    /// The configuration (default: [`BreakerConfig::default`]).
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `listener` on every state change (see [`StateListener`]).
    pub fn on_state_change(
        mut self,
        listener: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Shares decisions through `store` (see [`crate::store`]).
    pub fn store(mut self, store: Arc<dyn BreakerStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Seeds the jitter's random generator, for reproducible open durations.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the configuration and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config.validate()?;
        Ok(self.build_validated())
    }

    /// Builds from a configuration that has passed `validate`.
    pub(crate) fn build_validated(self) -> CircuitBreaker {
        let origin = Instant::now();
        let rng = match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        let slow_after = self
            .config
            .slow_call_rate_threshold
            .map(|_| self.config.slow_call_duration);
        let dropped_after = self.config.count_dropped_calls_after;
        CircuitBreaker {
            inner: Arc::new(Inner {
                window: Window::new(self.config.window, origin),
                id: self.id,
                word: AtomicU64::new(StateWord::new(BreakerState::Closed, 0).0),
                consecutive_failures: AtomicU32::new(0),
                slow_after,
                dropped_after,
                origin,
                last_error: AtomicU8::new(0),
                retry_not_before: AtomicU64::new(0),
                publishing: AtomicU32::new(0),
                guarded: Mutex::new(Guarded {
                    open_until: None,
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                    probe_successes: 0,
                    rng,
                }),
                listener: self.listener,
                store: self.store,
                config: self.config,
            }),
        }
    }
}
