//! [`RateLimitLayer`]: wraps providers in [`RateLimit`].

use std::sync::Arc;

use palisade_core::{HeuristicEstimator, Layer, Provider, TokenEstimator};

use super::RateLimit;
use crate::cost::CostModel;
use crate::keyed::KeyedLimiters;
use crate::set::LimiterSet;

/// Wraps a provider so every call is admitted by the given limiters.
///
/// `RateLimitLayer::new(limiter)` takes a [`Limiter`](crate::Limiter) or a
/// [`LimiterSet`] (model + account limiters); the builder methods swap the
/// token estimator and the cost model, and add limiters selected by a
/// request's tags ([`with_keyed`](Self::with_keyed)).
#[derive(Clone)]
pub struct RateLimitLayer {
    limiters: LimiterSet,
    keyed: Arc<[KeyedLimiters]>,
    estimator: Arc<dyn TokenEstimator>,
    cost_model: Option<Arc<dyn CostModel>>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiters", &self.limiters)
            .field("keyed", &self.keyed)
            .field("cost_model", &self.cost_model)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// A layer admitting through `limiters`, estimating input tokens with
    /// [`HeuristicEstimator`] (a request's own estimate wins) and pricing
    /// with each limiter's cost model.
    pub fn new(limiters: impl Into<LimiterSet>) -> Self {
        Self {
            limiters: limiters.into(),
            keyed: Arc::new([]),
            estimator: Arc::new(HeuristicEstimator),
            cost_model: None,
        }
    }

    /// Uses `estimator` for input tokens (e.g. an exact count-tokens API).
    pub fn with_estimator(mut self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.estimator = estimator;
        self
    }

    /// Prices reservations and settlements with `model` instead of the
    /// limiters' own.
    pub fn with_cost_model(mut self, model: Arc<dyn CostModel>) -> Self {
        self.cost_model = Some(model);
        self
    }

    /// Also admits each call through its tag value's limiter of `keyed`
    /// (per user, per task type), taken with the fixed limiters all or
    /// nothing and settled with them. Several keyed limiters (user and task)
    /// may be added; a layer without any does no per-call work for them.
    pub fn with_keyed(mut self, keyed: KeyedLimiters) -> Self {
        let mut all = self.keyed.to_vec();
        all.push(keyed);
        self.keyed = all.into();
        self
    }

    /// The limiters.
    pub fn limiters(&self) -> &LimiterSet {
        &self.limiters
    }

    /// The keyed limiters, in the order added.
    pub fn keyed(&self) -> &[KeyedLimiters] {
        &self.keyed
    }
}

impl<P: Provider> Layer<P> for RateLimitLayer {
    type Provider = RateLimit<P>;

    fn layer(&self, inner: P) -> RateLimit<P> {
        RateLimit::from_parts(
            inner,
            self.limiters.clone(),
            Arc::clone(&self.keyed),
            Arc::clone(&self.estimator),
            self.cost_model.clone(),
        )
    }
}
