//! The [`Layer`] that puts a breaker in front of a provider.

use palisade_core::{Layer, Provider};

use super::Breaker;
use crate::breaker::CircuitBreaker;

/// Wraps providers in a [`Breaker`] sharing one [`CircuitBreaker`].
///
/// Each provider (model) normally gets its own breaker; take them from a
/// [`HealthRegistry`](crate::HealthRegistry) with
/// [`HealthRegistry::layer`](crate::HealthRegistry::layer).
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreakerLayer {
    /// A layer guarding with `breaker`.
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self { breaker }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<P: Provider> Layer<P> for CircuitBreakerLayer {
    type Provider = Breaker<P>;

    fn layer(&self, inner: P) -> Breaker<P> {
        Breaker::new(inner, self.breaker.clone())
    }
}
