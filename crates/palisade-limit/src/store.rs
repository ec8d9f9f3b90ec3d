//! Where limit state lives: the store trait, and the in-memory store.
//!
//! A [`Limiter`](crate::Limiter) keeps its waiter queue, priorities and
//! permits in the process; the *counting* (GCRA state, token bucket,
//! concurrency leases) can live in a [`LimitStore`] shared by many processes.
//! The trait is shaped for one round trip per operation, e.g. a Redis Lua
//! script that checks and reserves every limit atomically on the server's
//! clock:
//!
//! - [`try_reserve`](LimitStore::try_reserve): all limits or none; returns a
//!   [`Lease`] or how long until it could fit ("not before"),
//! - [`settle`](LimitStore::settle): refund the unused reservation or charge
//!   the overrun as debt, and end the lease,
//! - [`release`](LimitStore::release): end the lease without usage (the drop
//!   rule decides the refund),
//! - [`renew`](LimitStore::renew): push live leases' expiry out again, so a
//!   lease outlives a slow (streaming) call but not its process.
//!
//! Leases carry a time to live so that a crashed process cannot hold
//! concurrency forever (nor a waiter cancelled while its reservation was in
//! flight, whose lease never reached it). A lease is named by an opaque
//! [`LeaseToken`] that only the store that issued it interprets. The limits
//! travel with every call ([`StoreLimits`]), so a store needs no configuration
//! of its own.
//!
//! Local limiters do not go through this trait (its boxed futures would cost
//! more than the whole admission); [`MemoryStore`] implements it over the same
//! algorithms for tests and for sharing limits between limiters in a process.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, Nanos, duration_to_nanos};
use crate::config::{LimiterConfig, Quota};
use crate::cost::TokenCounts;
use crate::kind::LimitKind;
use crate::limits::{Limits, Stamps};

/// Names a lease (an admitted request) in the store that issued it.
///
/// Opaque to everyone else: a store encodes in it whatever it needs to find
/// the lease again (a counter, a random id, which of its back ends issued it),
/// and callers only hand it back. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(Arc<str>);

impl LeaseToken {
    /// A token with the store's own encoding.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// The store's encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseToken({})", self.0)
    }
}

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An admitted request as a store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Names the lease in the store that issued it.
    pub token: LeaseToken,
    /// Tokens reserved for it, per token dimension.
    pub tokens: TokenCounts,
}

/// The limits a store enforces for one key, sent with every call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreLimits {
    /// Requests per period.
    pub requests: Option<Quota>,
    /// Tokens per period, all kinds combined.
    pub tokens: Option<Quota>,
    /// Input tokens per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Quota>,
    /// Output tokens per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Quota>,
    /// Tokens per day (any period: it is a quota like the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<Quota>,
    /// Most leases alive at once.
    pub max_concurrent: Option<u32>,
    /// Fraction of the configured rates in force (adaptive mode), `(0, 1]`.
    pub rate_fraction: f64,
    /// How long a lease lives unless settled or released first.
    #[serde(with = "palisade_core::duration")]
    pub lease_ttl: Duration,
}

impl StoreLimits {
    /// The limits of a limiter config, with a lease TTL.
    pub fn from_config(config: &LimiterConfig, lease_ttl: Duration) -> Self {
        Self {
            requests: config.requests,
            tokens: config.tokens,
            input_tokens: config.input_tokens,
            output_tokens: config.output_tokens,
            tokens_per_day: config.tokens_per_day,
            max_concurrent: config.max_concurrent,
            rate_fraction: 1.0,
            lease_ttl,
        }
    }

    fn as_config(&self) -> LimiterConfig {
        LimiterConfig {
            requests: self.requests,
            tokens: self.tokens,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            tokens_per_day: self.tokens_per_day,
            max_concurrent: self.max_concurrent,
            ..LimiterConfig::default()
        }
    }
}

/// The answer to [`LimitStore::try_reserve`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reservation {
    /// Every limit admitted the request; nothing else was consumed.
    Admitted(Lease),
    /// Some limit did not; nothing was consumed.
    NotBefore {
        /// How long until it could fit, at the earliest. For a full
        /// concurrency cap: until the oldest lease expires.
        retry_after: Duration,
        /// The binding limit.
        limit: LimitKind,
    },
}

/// What a settle did to the token budget (the combined tokens dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settled {
    /// Tokens given back.
    pub refunded: u64,
    /// Tokens charged beyond the reservation.
    pub debt: u64,
}

/// The answer to [`LimitStore::renew`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Renewal {
    /// Leases whose expiry was pushed out.
    pub renewed: usize,
    /// Leases the store no longer had (they expired, or were settled): not
    /// brought back, since their slot may have been handed out again.
    pub lost: Vec<LeaseToken>,
}

/// What a store failure carries as its cause: shared, so that errors holding
/// it stay `Clone`.
pub type StoreErrorSource = Arc<dyn StdError + Send + Sync + 'static>;

/// A store failure, with the error that caused it when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached (connection, timeout).
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed, and where.
        message: String,
        /// The underlying error (the client's), if any.
        #[source]
        source: Option<StoreErrorSource>,
    },
    /// The store answered something this crate does not understand, or
    /// refused the request as it stands (limits that can never admit it).
    #[error("unexpected store reply: {message}")]
    Protocol {
        /// What was wrong, and where.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<StoreErrorSource>,
    },
    /// The operation cannot be done with a shared store.
    #[error("not supported with a shared store: {0}")]
    Unsupported(&'static str),
}

impl StoreError {
    /// The store could not be reached; `message` says what failed and where.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// The store's answer made no sense, or the request cannot be served.
    pub fn protocol(message: impl Into<String>) -> Self {
        StoreError::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error (no effect on `Unsupported`).
    pub fn with_source(mut self, error: impl StdError + Send + Sync + 'static) -> Self {
        match &mut self {
            StoreError::Unavailable { source, .. } | StoreError::Protocol { source, .. } => {
                *source = Some(Arc::new(error));
            }
            StoreError::Unsupported(_) => {}
        }
        self
    }

    /// Whether the store could not be reached (as opposed to answering
    /// something wrong).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Shared limit state, one round trip per operation. See the module docs.
#[async_trait]
pub trait LimitStore: Send + Sync + Debug {
    /// Checks every limit of `key` and, only if all admit, reserves one
    /// request, `tokens` against every token dimension and a concurrency
    /// lease.
    async fn try_reserve(
        &self,
        key: &str,
        limits: &StoreLimits,
        tokens: TokenCounts,
    ) -> Result<Reservation, StoreError>;

    /// Ends `lease` with its actual token cost: per dimension, refunds or
    /// charges the difference from the reservation.
    async fn settle(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        actual: TokenCounts,
    ) -> Result<Settled, StoreError>;

    /// Ends `lease` without usage, giving `refund` of its reservation back
    /// (per dimension, at most what it reserved).
    async fn release(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        refund: TokenCounts,
    ) -> Result<(), StoreError>;

    /// Pushes the expiry of `leases` (all of `key`) out to `limits.lease_ttl`
    /// from now. A lease the store no longer has is not brought back: it is
    /// reported in [`Renewal::lost`].
    async fn renew(
        &self,
        key: &str,
        limits: &StoreLimits,
        leases: &[LeaseToken],
    ) -> Result<Renewal, StoreError>;
}

#[async_trait]
impl<S: LimitStore + ?Sized> LimitStore for Arc<S> {
    async fn try_reserve(
        &self,
        key: &str,
        limits: &StoreLimits,
        tokens: TokenCounts,
    ) -> Result<Reservation, StoreError> {
        (**self).try_reserve(key, limits, tokens).await
    }
    async fn settle(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        actual: TokenCounts,
    ) -> Result<Settled, StoreError> {
        (**self).settle(key, limits, lease, actual).await
    }
    async fn release(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        refund: TokenCounts,
    ) -> Result<(), StoreError> {
        (**self).release(key, limits, lease, refund).await
    }
    async fn renew(
        &self,
        key: &str,
        limits: &StoreLimits,
        leases: &[LeaseToken],
    ) -> Result<Renewal, StoreError> {
        (**self).renew(key, limits, leases).await
    }
}

/// The in-process [`LimitStore`]: the same algorithms as a local limiter,
/// keyed, with leases that expire. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryState>>,
    clock: Clock,
}

#[derive(Debug, Default)]
struct MemoryState {
    keys: HashMap<String, KeyState>,
    next_lease: u64,
}

#[derive(Debug)]
struct KeyState {
    limits: Limits,
    rate_fraction: f64,
    /// Live leases: token → (expiry, where the reservation sits in the buckets).
    leases: HashMap<LeaseToken, (Nanos, Stamps)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store whose clock starts now (tokio time).
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            clock: Clock::new(),
        }
    }

    /// Leases alive for `key` (expired ones are counted until the next
    /// reservation reaps them).
    pub fn leases(&self, key: &str) -> usize {
        self.inner
            .lock()
            .keys
            .get(key)
            .map_or(0, |k| k.leases.len())
    }

    /// Tokens that fit now for `key`, if it has a token limit.
    pub fn tokens_available(&self, key: &str) -> Option<i64> {
        let now = self.clock.now();
        self.inner
            .lock()
            .keys
            .get(key)
            .and_then(|k| k.limits.tokens_available(now))
    }
}

impl KeyState {
    fn new(limits: &StoreLimits) -> Self {
        Self {
            limits: Limits::new(&limits.as_config()),
            rate_fraction: 1.0,
            leases: HashMap::new(),
        }
    }

    /// Expired leases give their slot back (their tokens stay spent: a
    /// crashed holder may well have used them).
    fn reap(&mut self, now: Nanos) {
        let before = self.leases.len();
        self.leases.retain(|_, (expires, _)| *expires > now);
        for _ in self.leases.len()..before {
            self.limits.release_slot();
        }
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn try_reserve(
        &self,
        key: &str,
        limits: &StoreLimits,
        tokens: TokenCounts,
    ) -> Result<Reservation, StoreError> {
        let now = self.clock.now();
        let mut state = self.inner.lock();
        state.next_lease += 1;
        let token = LeaseToken::new(state.next_lease.to_string());
        let entry = state
            .keys
            .entry(key.to_owned())
            .or_insert_with(|| KeyState::new(limits));
        if entry.rate_fraction != limits.rate_fraction {
            entry.limits.set_rate_fraction(now, limits.rate_fraction);
            entry.rate_fraction = limits.rate_fraction;
        }
        entry.reap(now);
        if let Err(impossible) = entry.limits.check_possible(tokens) {
            return Err(StoreError::protocol(format!(
                "cost of {} exceeds the whole {} capacity of {} for key `{key}`",
                impossible.cost, impossible.limit, impossible.capacity
            )));
        }
        match entry.limits.try_admit(now, tokens) {
            Ok(stamps) => {
                let ttl = duration_to_nanos(limits.lease_ttl);
                entry
                    .leases
                    .insert(token.clone(), (now.saturating_add(ttl), stamps));
                Ok(Reservation::Admitted(Lease { token, tokens }))
            }
            Err(blocked) => {
                let at = if blocked.not_before > now {
                    blocked.not_before
                } else {
                    // Only the concurrency cap binds: the oldest lease's expiry
                    // is the latest it can free.
                    entry
                        .leases
                        .values()
                        .map(|(expires, _)| *expires)
                        .min()
                        .unwrap_or(now)
                };
                Ok(Reservation::NotBefore {
                    retry_after: Duration::from_nanos(at.saturating_sub(now)),
                    limit: blocked.limit,
                })
            }
        }
    }

    async fn settle(
        &self,
        key: &str,
        _limits: &StoreLimits,
        lease: Lease,
        actual: TokenCounts,
    ) -> Result<Settled, StoreError> {
        let now = self.clock.now();
        let mut state = self.inner.lock();
        let Some(entry) = state.keys.get_mut(key) else {
            return Ok(Settled::default());
        };
        // An expired lease's reservation is still refunded, as far as due
        // (its stamp is gone: stamp 0 errs towards refunding less).
        let stamps = match entry.leases.remove(&lease.token) {
            Some((_, stamps)) => {
                entry.limits.release_slot();
                stamps
            }
            None => Stamps::default(),
        };
        let s = entry.limits.settle(now, lease.tokens, actual, stamps);
        Ok(Settled {
            refunded: lease.tokens.tokens.saturating_sub(actual.tokens),
            debt: s.debt,
        })
    }

    async fn release(
        &self,
        key: &str,
        _limits: &StoreLimits,
        lease: Lease,
        refund: TokenCounts,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut state = self.inner.lock();
        if let Some(entry) = state.keys.get_mut(key) {
            let stamps = match entry.leases.remove(&lease.token) {
                Some((_, stamps)) => {
                    entry.limits.release_slot();
                    stamps
                }
                None => Stamps::default(),
            };
            // What is kept: the reservation less the refund, per dimension.
            let kept = lease.tokens.saturating_sub(refund);
            entry.limits.settle(now, lease.tokens, kept, stamps);
        }
        Ok(())
    }

    async fn renew(
        &self,
        key: &str,
        limits: &StoreLimits,
        leases: &[LeaseToken],
    ) -> Result<Renewal, StoreError> {
        let now = self.clock.now();
        let expires = now.saturating_add(duration_to_nanos(limits.lease_ttl));
        let mut state = self.inner.lock();
        let Some(entry) = state.keys.get_mut(key) else {
            return Ok(Renewal {
                renewed: 0,
                lost: leases.to_vec(),
            });
        };
        // Expired leases go first, as on an admission: one that ran out
        // before this renewal is lost, even if no admission has reaped it.
        entry.reap(now);
        let mut renewal = Renewal::default();
        for token in leases {
            match entry.leases.get_mut(token) {
                Some((expiry, _)) => {
                    *expiry = expires;
                    renewal.renewed += 1;
                }
                None => renewal.lost.push(token.clone()),
            }
        }
        Ok(renewal)
    }
}
