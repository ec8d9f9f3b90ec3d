//! The limiter: the handle callers admit through, wait on, and feed
//! provider signals to.

use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use palisade_core::{ChatRequest, Priority, ProviderId, Readiness};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::clock::{Clock, Nanos, duration_to_nanos};
use crate::config::LimiterConfig;
use crate::config_error::ConfigError;
use crate::cost::{Cost, CostModel, DefaultCostModel};
use crate::error::LimitError;
use crate::kind::LimitKind;
use crate::learned::LearnedOutput;
use crate::limits::{Blocked, Limits};
use crate::permit::{Permit, PermitRef};
use crate::shared::{Core, Padded, Remote, Shared};
use crate::stats::{LimiterStats, LocklessCounters};
use crate::store::LimitStore;
use crate::wait::Ticket;

/// Rate, token and concurrency limits for one key (a model, a provider, an
/// account), with a fair waiting queue.
///
/// Cheap to clone: clones share one state, so every clone limits together.
/// See the [crate docs](crate) for an example and the [guide](crate::guide)
/// for the model.
#[derive(Clone)]
pub struct Limiter {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("name", &self.shared.name)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// The config's own cost model: its quota profile when it has one, else
/// the default model with its burndown table.
fn default_cost_model(config: &LimiterConfig) -> Arc<dyn CostModel> {
    match &config.profile {
        Some(profile) => Arc::new(profile.clone()),
        None => Arc::new(DefaultCostModel::new(config.burndown.clone())),
    }
}

/// `model`, learning output reservations when the config says so (whatever
/// the model: the default, a provider's quota profile, a custom one).
fn learning(config: &LimiterConfig, model: Arc<dyn CostModel>) -> Arc<dyn CostModel> {
    match &config.learned_output {
        Some(learned) => Arc::new(LearnedOutput::wrap(model, learned.clone())),
        None => model,
    }
}

/// How long a limiter waits at most when every knob says "forever".
const FOREVER: Nanos = u64::MAX / 2;

impl Limiter {
    /// A limiter with the given limits and the default cost model (the
    /// config's burndown table, and learned output reservations when
    /// `learned_output` is set).
    pub fn new(config: LimiterConfig) -> Result<Self, ConfigError> {
        let model = default_cost_model(&config);
        Self::with_cost_model(config, model)
    }

    /// A limiter with a custom cost model (wrapped in
    /// [`LearnedOutput`](crate::LearnedOutput) when the config sets
    /// `learned_output`).
    pub fn with_cost_model(
        config: LimiterConfig,
        cost_model: Arc<dyn CostModel>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(config, cost_model, None))
    }

    /// A limiter whose counting lives in `store` under `key` (e.g. Redis, to
    /// share quotas between processes). Waiting, priorities and permits stay
    /// in this process; a waiting request asks the store again after the
    /// store's "not before" hint or when a local permit comes back. Leases
    /// not settled or released within `lease_ttl` expire in the store.
    ///
    /// Requests ask the store one at a time, in queue order (priority, then
    /// arrival), so one process admits at most one request per store round
    /// trip — thousands a second over a LAN, far above LLM quotas.
    pub fn with_store(
        config: LimiterConfig,
        store: Arc<dyn LimitStore>,
        key: impl Into<String>,
        lease_ttl: Duration,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if lease_ttl.is_zero() {
            return Err(ConfigError::invalid("lease_ttl", "must not be zero"));
        }
        let model = default_cost_model(&config);
        let remote = Remote {
            store,
            key: key.into(),
            lease_ttl,
            capacity: Limits::new(&config),
        };
        Ok(Self::build(config, model, Some(remote)))
    }

    /// A limiter from a config already validated.
    pub(crate) fn build_unchecked(config: LimiterConfig) -> Self {
        let model = default_cost_model(&config);
        Self::build(config, model, None)
    }

    fn build(
        config: LimiterConfig,
        cost_model: Arc<dyn CostModel>,
        remote: Option<Remote>,
    ) -> Self {
        let cost_model = learning(&config, cost_model);
        let limits = if remote.is_some() {
            // The store counts; locally only the adaptive state (rate
            // fraction and cooldown) is kept.
            Limits::new(&LimiterConfig {
                requests: None,
                tokens: None,
                input_tokens: None,
                output_tokens: None,
                tokens_per_day: None,
                max_concurrent: None,
                ..config.clone()
            })
        } else {
            Limits::new(&config)
        };
        let permits_return = remote.is_some() || limits.has_concurrency() || limits.tracks_tokens();
        let shared = Shared {
            name: Arc::from(config.name.as_str()),
            max_wait: duration_to_nanos(config.max_wait),
            aging: duration_to_nanos(config.priority_aging),
            clock: Clock::with_source(config.clock),
            core: Padded(Mutex::new(Core::new(limits))),
            cost_model,
            permits_return,
            lockless: LocklessCounters::default(),
            remote,
            config,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The limiter's name (from its config).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The config it was built from.
    pub fn config(&self) -> &LimiterConfig {
        &self.shared.config
    }

    /// The cost model used by [`cost_of`](Limiter::cost_of) and
    /// [`Permit::settle`].
    pub fn cost_model(&self) -> &Arc<dyn CostModel> {
        &self.shared.cost_model
    }

    /// What `request` to `model` reserves, given its estimated input tokens.
    pub fn cost_of(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        self.shared.cost_model.reserve(model, request, input_tokens)
    }

    /// Admits a request now or refuses at once; never waits and never jumps
    /// the queue (with requests waiting it refuses with [`LimitKind::Queue`]).
    ///
    /// For callers that shed load rather than queue. A limiter backed by a
    /// shared store cannot answer without awaiting the store and returns
    /// [`StoreError::Unsupported`](crate::StoreError::Unsupported): use
    /// [`acquire_until`](Limiter::acquire_until) with a short deadline there.
    #[inline]
    pub fn try_acquire(&self, cost: Cost) -> Result<Permit, LimitError> {
        let stamps = self.shared.try_admit_now(cost)?;
        Ok(Permit::local(Arc::clone(&self.shared), cost, stamps))
    }

    /// [`try_acquire`](Limiter::try_acquire) with a permit that borrows the
    /// limiter, for callers that settle in the scope that admitted (as
    /// tokio's `Semaphore::try_acquire` is to `try_acquire_owned`): the same
    /// admission and the same settle and drop rules, without touching the
    /// limiter's reference count. Take a [`Permit`] where the reservation must
    /// outlive the borrow.
    ///
    /// ```
    /// use palisade_limit::{Cost, Limiter, LimiterConfig, Quota};
    ///
    /// let limiter = Limiter::new(
    ///     LimiterConfig::default()
    ///         .with_requests(Quota::per_minute(50))
    ///         .with_tokens(Quota::per_minute(40_000))
    ///         .with_max_concurrent(4),
    /// )?;
    /// let permit = limiter.try_acquire_ref(Cost::tokens(3_000))?;
    /// // ... call the model ...
    /// assert_eq!(permit.settle_tokens(1_200).refunded, 1_800);
    /// assert_eq!(limiter.in_flight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_acquire_ref(&self, cost: Cost) -> Result<PermitRef<'_>, LimitError> {
        let stamps = self.shared.try_admit_now(cost)?;
        Ok(PermitRef::new(&self.shared, cost, stamps))
    }

    /// Waits for admission, up to the limiter's `max_wait`.
    ///
    /// Requests wait in priority order, first come first served within a
    /// priority. Dropping the future while it waits leaves no trace.
    pub async fn acquire(&self, cost: Cost, priority: Priority) -> Result<Permit, LimitError> {
        self.acquire_until(cost, priority, None).await
    }

    /// Like [`acquire`](Limiter::acquire), giving up at `deadline` (tokio
    /// time) if that comes before `max_wait`. A request that cannot be
    /// admitted before its deadline fails at once.
    pub async fn acquire_until(
        &self,
        cost: Cost,
        priority: Priority,
        deadline: Option<Instant>,
    ) -> Result<Permit, LimitError> {
        let shared = &self.shared;
        let now = shared.clock.now();
        let mut deadline_ns = now.saturating_add(shared.max_wait.min(FOREVER));
        if let Some(d) = deadline {
            deadline_ns = deadline_ns.min(shared.clock.since_epoch(d));
        }
        if let Some(remote) = &shared.remote
            && let Err(imp) = remote.capacity.check_possible(cost.counts())
        {
            // The store would refuse forever; say so without a round trip.
            let mut core = shared.core.lock();
            core.counters.rejected += 1;
            core.counters.impossible += 1;
            return Err(LimitError::CostExceedsCapacity {
                limiter: shared.name.to_string(),
                limit: imp.limit,
                cost: imp.cost,
                capacity: imp.capacity,
            });
        }
        let id = {
            let mut core = shared.core.lock();
            core.last_now = core.last_now.max(now);
            if shared.remote.is_none() {
                shared.check_possible(&mut core, cost.counts())?;
                if core.queue.waiting() == 0 {
                    match core.limits.try_admit(now, cost.counts()) {
                        Ok(stamps) => {
                            core.counters.record_admit(cost.tokens, 0);
                            drop(core);
                            tracing::trace!(limiter = %shared.name, tokens = cost.tokens, "admitted");
                            return Ok(Permit::local(Arc::clone(shared), cost, stamps));
                        }
                        // It could not get in before its deadline even alone:
                        // say so now instead of after waiting.
                        Err(b) if b.not_before > deadline_ns || deadline_ns <= now => {
                            core.counters.rejected += 1;
                            core.counters.timed_out += 1;
                            drop(core);
                            return Err(shared.rate_limited(b, now));
                        }
                        Err(_) => {}
                    }
                }
            }
            if deadline_ns <= now {
                core.counters.rejected += 1;
                core.counters.timed_out += 1;
                let blocked = core.queue.head_blocked().unwrap_or(Blocked {
                    limit: LimitKind::Queue,
                    not_before: 0,
                });
                drop(core);
                return Err(shared.rate_limited(blocked, now));
            }
            let id = core
                .queue
                .push(cost.counts(), priority.rank(), now, Waker::noop());
            tracing::debug!(
                limiter = %shared.name, tokens = cost.tokens, priority = ?priority,
                queued = core.queue.waiting(), "queued"
            );
            if shared.remote.is_none() {
                shared.dispatch(&mut core, now, Some(id));
            }
            id
        };
        let mut ticket = Ticket::new(shared, id, cost.counts(), now);
        match &shared.remote {
            None => {
                let stamps = ticket.wait_local(deadline_ns).await?;
                Ok(Permit::local(Arc::clone(shared), cost, stamps))
            }
            Some(remote) => ticket.wait_remote(remote, cost, deadline_ns).await,
        }
    }

    /// Tells the limiter the provider throttled a call (adaptive mode; a
    /// no-op otherwise): the rate drops multiplicatively and, with a
    /// `retry_after`, admissions pause until it has passed.
    pub fn record_throttle(&self, retry_after: Option<Duration>) {
        let shared = &self.shared;
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        if let Some(fraction) = core.limits.on_throttle(now, retry_after) {
            tracing::info!(
                limiter = %shared.name, rate_fraction = fraction,
                retry_after_secs = retry_after.map(|d| d.as_secs_f64()),
                "throttled by provider: rate lowered"
            );
        }
    }

    /// Feeds provider-reported remaining capacity: the limiter never
    /// believes it has more left than the provider says. Without a reset
    /// time the cap lasts until the bucket refills past it; prefer
    /// [`observe_rate_limit`](Limiter::observe_rate_limit), which knows when
    /// the provider's window resets. Works with or without adaptive mode.
    pub fn observe_remaining(&self, requests: Option<u64>, tokens: Option<u64>) {
        let shared = &self.shared;
        let now = shared.clock.now();
        shared
            .core
            .lock()
            .limits
            .observe_remaining(now, requests, tokens);
    }

    /// Calibrates the limiter from a provider's rate-limit headers (what
    /// [`RateLimitLayer`](crate::RateLimitLayer) does with every response and
    /// error that carries them): a provider limit below the configured quota
    /// becomes the quota's rate and burst (stated, or inferred from
    /// `remaining` and `reset`), and `remaining` caps what the bucket holds,
    /// for no longer than `reset`. Requests steer the requests quota, tokens
    /// the tokens quota (input and output token windows too, the tightest,
    /// when no combined one is given). Works with or without adaptive mode;
    /// see `docs/limits.md`, "Calibration from rate-limit headers".
    ///
    /// ```
    /// use std::time::Duration;
    /// use palisade_core::http::{RateLimitSnapshot, RateLimitWindow};
    /// use palisade_limit::{Limiter, LimiterConfig, Quota};
    ///
    /// let limiter = Limiter::new(LimiterConfig::default().with_requests(Quota::per_minute(300)))?;
    /// let snapshot = RateLimitSnapshot {
    ///     requests: RateLimitWindow {
    ///         limit: Some(100),
    ///         remaining: Some(40),
    ///         reset: Some(Duration::from_secs(36)),
    ///     },
    ///     ..RateLimitSnapshot::default()
    /// };
    /// limiter.observe_rate_limit(&snapshot);
    /// let stats = limiter.stats();
    /// assert_eq!(stats.calibrated_requests, Some(100));
    /// assert_eq!(stats.requests_available, Some(40));
    /// # Ok::<(), palisade_limit::ConfigError>(())
    /// ```
    pub fn observe_rate_limit(&self, snapshot: &palisade_core::http::RateLimitSnapshot) {
        let shared = &self.shared;
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        core.last_now = core.last_now.max(now);
        let changed = core.limits.calibrate(now, snapshot);
        if changed {
            tracing::debug!(
                limiter = %shared.name,
                requests_per_period = core.limits.calibrated_requests(
                    shared.config.requests.map_or(0, |q| q.amount)),
                tokens_per_period = core.limits.calibrated_tokens(
                    shared.config.tokens.map_or(0, |q| q.amount)),
                "calibrated to the provider's limit"
            );
        }
        if core.queue.waiting() > 0 && shared.remote.is_none() {
            shared.dispatch(&mut core, now, None);
        }
    }

    /// Time left of a provider-imposed pause (adaptive mode), if one is in force.
    pub fn cooldown_remaining(&self) -> Option<Duration> {
        let now = self.shared.clock.now();
        let until = self.shared.core.lock().limits.cooldown_until();
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// [`Readiness::Unavailable`] while a provider-imposed pause is in force,
    /// else [`Readiness::Ready`] (a limiter that merely queues is ready).
    pub fn readiness(&self) -> Readiness {
        match self.cooldown_remaining() {
            Some(retry_after) => Readiness::Unavailable { retry_after },
            None => Readiness::Ready,
        }
    }

    /// A snapshot of the counters and the current state.
    pub fn stats(&self) -> LimiterStats {
        let shared = &self.shared;
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        core.limits.expire(now);
        let mut counters = core.counters.clone();
        shared.lockless.add_to(&mut counters);
        let c = &counters;
        LimiterStats {
            name: shared.name.to_string(),
            admitted: c.admitted,
            rejected: c.rejected,
            timed_out: c.timed_out,
            impossible: c.impossible,
            cancelled_waits: c.cancelled_waits,
            queued_now: core.queue.waiting() as u64,
            in_flight: u64::from(core.limits.in_flight()),
            wait_histogram: c.waits,
            waited_total_secs: c.waited_total_ns as f64 / 1e9,
            tokens_reserved: c.tokens_reserved,
            tokens_settled: c.tokens_settled,
            tokens_refunded: c.tokens_refunded,
            tokens_debt: c.tokens_debt,
            settled: c.settled,
            dropped_unsettled: c.dropped_unsettled,
            tokens_available: core.limits.tokens_available(now),
            input_tokens_available: core.limits.available(now, LimitKind::InputTokens),
            output_tokens_available: core.limits.available(now, LimitKind::OutputTokens),
            tokens_per_day_available: core.limits.available(now, LimitKind::TokensPerDay),
            requests_available: core.limits.requests_available(now),
            rate_fraction: core.limits.rate_fraction(),
            throttles: core.limits.throttles(),
            cooldown_secs: core.limits.cooldown_until().saturating_sub(now) as f64 / 1e9,
            calibrated_requests: shared
                .config
                .requests
                .map(|q| core.limits.calibrated_requests(q.amount)),
            calibrated_tokens: shared
                .config
                .tokens
                .map(|q| core.limits.calibrated_tokens(q.amount)),
        }
    }

    /// Requests in flight now (0 without a concurrency cap).
    pub fn in_flight(&self) -> u32 {
        self.shared.core.lock().limits.in_flight()
    }

    /// The concurrency cap, if any.
    pub fn max_concurrent(&self) -> Option<u32> {
        self.shared.core.lock().limits.max_concurrent()
    }

    /// Whether two handles are clones of one limiter.
    pub fn same_as(&self, other: &Limiter) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}
