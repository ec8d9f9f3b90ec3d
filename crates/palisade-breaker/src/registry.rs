//! The breakers of many providers by id, for health endpoints and the
//! "reset cooldowns" emergency action.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use palisade_core::ProviderId;

use crate::breaker::CircuitBreaker;
use crate::config::{BreakerConfig, ConfigError};
use crate::events::{StateChange, StateListener};
use crate::layer::CircuitBreakerLayer;
use crate::snapshot::HealthSnapshot;
use crate::store::BreakerStore;

/// Breakers by provider id, created on first use with one configuration.
///
/// Cheap to clone; clones share the breakers.
///
/// ```
/// # use palisade_breaker::{BreakerConfig, BreakerState, HealthRegistry};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = HealthRegistry::new(BreakerConfig::default()).unwrap();
/// registry.breaker("bedrock/model-a").isolate();
/// let health = registry.snapshot();
/// assert_eq!(health[0].state, BreakerState::Isolated);
/// println!("{}", serde_json::to_string(&health).unwrap());
/// assert_eq!(registry.reset_all(), 1);
/// assert_eq!(registry.snapshot()[0].state, BreakerState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct HealthRegistry {
    config: BreakerConfig,
    listener: Option<StateListener>,
    store: Option<Arc<dyn BreakerStore>>,
    breakers: Arc<RwLock<BTreeMap<ProviderId, CircuitBreaker>>>,
}

impl HealthRegistry {
    /// A registry whose breakers use `config`.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            listener: None,
            store: None,
            breakers: Arc::default(),
        })
    }

    /// Breakers created from now on call `listener` on every state change.
    pub fn with_listener(
        mut self,
        listener: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Breakers created from now on share decisions through `store`.
    pub fn with_store(mut self, store: Arc<dyn BreakerStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The breaker for `provider`, created with the registry's configuration
    /// on first use.
    pub fn breaker(&self, provider: impl Into<ProviderId>) -> CircuitBreaker {
        let provider = provider.into();
        if let Some(b) = self.read().get(&provider) {
            return b.clone();
        }
        let mut map = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        map.entry(provider.clone())
            .or_insert_with(|| self.build(provider))
            .clone()
    }

    fn build(&self, provider: ProviderId) -> CircuitBreaker {
        let mut builder = CircuitBreaker::builder(provider).config(self.config.clone());
        if let Some(listener) = &self.listener {
            let listener = Arc::clone(listener);
            builder = builder.on_state_change(move |c| listener(c));
        }
        if let Some(store) = &self.store {
            builder = builder.store(Arc::clone(store));
        }
        // `new` validated the configuration.
        builder.build_validated()
    }

    /// A layer guarding calls with the breaker for `provider`.
    pub fn layer(&self, provider: impl Into<ProviderId>) -> CircuitBreakerLayer {
        CircuitBreakerLayer::new(self.breaker(provider))
    }

    /// Adds a breaker built elsewhere (a model with its own configuration),
    /// replacing and returning any breaker with the same id.
    pub fn insert(&self, breaker: CircuitBreaker) -> Option<CircuitBreaker> {
        let mut map = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        map.insert(breaker.id().clone(), breaker)
    }

    /// The breaker for `provider`, if it exists.
    pub fn get(&self, provider: &str) -> Option<CircuitBreaker> {
        self.read().get(provider).cloned()
    }

    /// Every breaker's health, ordered by provider id.
    pub fn snapshot(&self) -> Vec<HealthSnapshot> {
        self.all().iter().map(CircuitBreaker::snapshot).collect()
    }

    /// Resets the breaker for `provider`; `false` if there is none.
    pub fn reset(&self, provider: &str) -> bool {
        self.get(provider).map(|b| b.reset()).is_some()
    }

    /// Resets every breaker (the emergency "reset cooldowns"); returns how many.
    pub fn reset_all(&self) -> usize {
        let all = self.all();
        all.iter().for_each(CircuitBreaker::reset);
        all.len()
    }

    /// Isolates the breaker for `provider` (created if needed).
    pub fn isolate(&self, provider: impl Into<ProviderId>) {
        self.breaker(provider).isolate();
    }

    fn all(&self) -> Vec<CircuitBreaker> {
        // Clone out so resets (which emit events and may call listeners that
        // use the registry) run without the map lock.
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ProviderId, CircuitBreaker>> {
        self.breakers.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("config", &self.config)
            .field("breakers", &self.read().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
