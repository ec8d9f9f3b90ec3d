//! `RedisLimitStore`: palisade-limit's [`LimitStore`] on Redis, with the
//! failure policy applied when Redis cannot be reached.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use palisade_limit::{
    Lease, LeaseToken, LimitKind, LimitStore, MemoryStore, Renewal, Reservation, Settled,
    StoreError, StoreLimits, TokenCounts,
};

use crate::config::FailurePolicy;
use crate::connection::RedisConnection;
use crate::error::RedisStoreError;
use crate::keys::LimitKeys;
use crate::limit::limits::{local_share, shared_limits};
use crate::limit::renewal::LeaseKeeper;
use crate::limit::scripts::{self, AdmitReply, PreparedLimit, Refusal, SharedLimits};
use crate::stats::{RedisStats, StatsCounters};

/// Tokens of leases the local fallback store issued start with this; the
/// rest are Redis lease members. Settling, releasing and renewing therefore
/// go to the store that issued a lease without any bookkeeping, during an
/// outage or after it.
const LOCAL_LEASE_PREFIX: &str = "local:";

/// A [`LimitStore`] that keeps every limit's counting in Redis, so that all
/// instances using the same key share one quota.
///
/// - [`try_reserve`](LimitStore::try_reserve) is one `EVALSHA` of
///   `admit.lua`: requests, every token dimension (combined, input, output,
///   per day) and a concurrency lease, checked and taken atomically on the
///   server's clock;
/// - [`settle`](LimitStore::settle) and [`release`](LimitStore::release) are
///   one `EVALSHA` of `settle.lua` (refund or debt per dimension, and the
///   lease ends), none at all when there is nothing to give back, charge or
///   end;
/// - live leases are renewed in the background every third of their TTL, so
///   only a crashed or cut-off instance's leases expire.
///
/// When Redis cannot be reached the [`FailurePolicy`] applies: `fail_open`
/// admits from a local store (by default palisade-limit's [`MemoryStore`]
/// with [`local_share`](crate::RedisConfig::local_share) of each limit) and
/// `fail_closed` returns [`StoreError::Unavailable`]. Both end by themselves
/// once Redis answers again.
#[derive(Clone)]
pub struct RedisLimitStore {
    connection: RedisConnection,
    fallback: Option<Arc<dyn LimitStore>>,
    leases: LeaseKeeper,
    /// Each limit's keys and script arguments, built on its first admission.
    prepared: Arc<RwLock<HashMap<String, Arc<PreparedLimit>>>>,
}

/// Limits whose prepared arguments are kept; past it the cache starts over
/// (a fleet with per-user limits may see many names; rebuilding one costs
/// a few hundred nanoseconds).
const PREPARED_LIMITS: usize = 4_096;

impl fmt::Debug for RedisLimitStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimitStore")
            .field("server", &self.connection.server())
            .field("policy", &self.connection.config().on_unavailable)
            .field("live_leases", &self.leases.live())
            .finish_non_exhaustive()
    }
}

impl RedisLimitStore {
    /// A store over `connection`. Under `fail_open` it falls back to a fresh
    /// in-memory store; under `fail_closed` it has no fallback.
    pub fn new(connection: RedisConnection) -> Self {
        let fallback: Option<Arc<dyn LimitStore>> = match connection.config().on_unavailable {
            FailurePolicy::FailOpen => Some(Arc::new(MemoryStore::new())),
            FailurePolicy::FailClosed => None,
        };
        Self {
            connection,
            fallback,
            leases: LeaseKeeper::default(),
            prepared: Arc::default(),
        }
    }

    /// Uses `store` for local decisions under `fail_open` (it receives the
    /// limits scaled by `local_share`). Ignored under `fail_closed`.
    pub fn with_fallback(mut self, store: Arc<dyn LimitStore>) -> Self {
        if self.connection.config().on_unavailable == FailurePolicy::FailOpen {
            self.fallback = Some(store);
        }
        self
    }

    /// Loads the scripts now, so the first admission is a plain `EVALSHA`
    /// (optional: they are loaded on first use otherwise). Fails when Redis
    /// cannot be reached, whatever the policy, so it doubles as a readiness
    /// check at startup.
    pub async fn preload(&self) -> Result<(), RedisStoreError> {
        scripts::preload(&self.connection).await
    }

    /// The connection (shared with other stores, if cloned from one).
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// The connection's counters.
    pub fn stats(&self) -> RedisStats {
        self.connection.stats()
    }

    /// Concurrency leases this store holds in Redis and keeps renewing.
    pub fn live_leases(&self) -> usize {
        self.leases.live()
    }

    fn keys(&self, key: &str) -> LimitKeys {
        LimitKeys::new(&self.connection.config().key_prefix, key)
    }

    /// The keys and script arguments of limit `key` under `limits`, from the
    /// cache when they are unchanged.
    fn prepared(&self, key: &str, limits: SharedLimits) -> Arc<PreparedLimit> {
        if let Some(prepared) = self
            .prepared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            && *prepared.limits() == limits
        {
            return Arc::clone(prepared);
        }
        let prepared = Arc::new(PreparedLimit::new(self.keys(key), limits));
        let mut cache = self
            .prepared
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= PREPARED_LIMITS && !cache.contains_key(key) {
            cache.clear();
        }
        cache.insert(key.to_owned(), Arc::clone(&prepared));
        prepared
    }

    /// Applies the failure policy to an admission Redis could not serve.
    async fn reserve_without_redis(
        &self,
        key: &str,
        limits: &StoreLimits,
        tokens: TokenCounts,
        err: &RedisStoreError,
    ) -> Result<Reservation, StoreError> {
        let counters = self.connection.counters();
        match &self.fallback {
            Some(fallback) => {
                StatsCounters::bump(&counters.served_locally);
                tracing::debug!(limit = key, error = %err, "palisade-redis: admission decided locally (fail_open)");
                let local = local_share(limits, self.connection.config().local_share);
                let answer = match fallback.try_reserve(key, &local, tokens).await? {
                    Reservation::Admitted(lease) => Reservation::Admitted(Lease {
                        token: LeaseToken::new(format!("{LOCAL_LEASE_PREFIX}{}", lease.token)),
                        tokens: lease.tokens,
                    }),
                    refused => refused,
                };
                Ok(self.poll_concurrency(answer))
            }
            None => {
                StatsCounters::bump(&counters.refused_unavailable);
                Err(to_store_error(err))
            }
        }
    }

    /// A full concurrency cap answers "when the oldest lease expires", which
    /// is only the latest a slot frees: a call may end any moment (on another
    /// instance, which cannot wake this one, or here, where the release runs
    /// in the background after the permit's drop has already woken the
    /// waiter). So the waiter asks again after `concurrency_retry` at most.
    fn poll_concurrency(&self, answer: Reservation) -> Reservation {
        match answer {
            Reservation::NotBefore {
                retry_after,
                limit: LimitKind::Concurrency,
            } => Reservation::NotBefore {
                retry_after: retry_after.min(self.connection.config().concurrency_retry),
                limit: LimitKind::Concurrency,
            },
            other => other,
        }
    }

    /// Ends a Redis lease: per token dimension, refunds `refund` or charges
    /// `debt`.
    async fn finish(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        refund: TokenCounts,
        debt: TokenCounts,
    ) -> Result<Settled, StoreError> {
        let member = lease.token.as_str();
        // Whatever Redis says, this process stops renewing the lease: if the
        // call below fails, the lease expires with its TTL.
        self.leases.forget(key, member);
        let shared = shared_limits(key, limits)?;
        // Without a lease (no concurrency cap) and with nothing to give back
        // or charge, the script would change nothing: no round trip.
        if shared.max_concurrent.is_none()
            && (!shared.limits_tokens() || (refund.is_zero() && debt.is_zero()))
        {
            return Ok(Settled::default());
        }
        let prepared = self.prepared(key, shared);
        let reply = scripts::settle(
            &self.connection,
            prepared.keys(),
            &shared,
            refund,
            debt,
            member,
        )
        .await
        .map_err(|err| to_store_error(&err))?;
        let first = reply.first_limited(&shared).unwrap_or_default();
        Ok(Settled {
            refunded: first.refunded,
            debt: first.charged,
        })
    }
}

#[async_trait]
impl LimitStore for RedisLimitStore {
    async fn try_reserve(
        &self,
        key: &str,
        limits: &StoreLimits,
        tokens: TokenCounts,
    ) -> Result<Reservation, StoreError> {
        let shared = shared_limits(key, limits)?;
        if let Some((by, cost, burst)) = shared.never_fits(tokens) {
            return Err(too_large(key, by, cost, burst));
        }
        let prepared = self.prepared(key, shared);
        let member = format!("{:016x}", rand::random::<u64>());
        let reply = scripts::admit_prepared(
            &self.connection,
            &prepared,
            tokens,
            &member,
            limits.lease_ttl,
        )
        .await;
        match reply {
            Ok(AdmitReply::Admitted) => {
                let token = LeaseToken::new(member.as_str());
                if shared.max_concurrent.is_some() {
                    self.leases.hold(
                        &self.connection,
                        key,
                        prepared.keys(),
                        limits.lease_ttl,
                        member,
                    );
                }
                Ok(Reservation::Admitted(Lease { token, tokens }))
            }
            Ok(AdmitReply::Refused { by, retry_after }) => {
                Ok(self.poll_concurrency(Reservation::NotBefore {
                    retry_after,
                    limit: limit_kind(by),
                }))
            }
            Ok(AdmitReply::Never { by, burst }) => {
                let cost = shared
                    .token_buckets(tokens)
                    .into_iter()
                    .find_map(|(dimension, _, cost)| (dimension == by).then_some(cost))
                    .unwrap_or(1);
                Err(too_large(key, by, cost, burst))
            }
            Err(err) if err.is_unavailable() => {
                self.reserve_without_redis(key, limits, tokens, &err).await
            }
            Err(err) => Err(to_store_error(&err)),
        }
    }

    async fn settle(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        actual_tokens: TokenCounts,
    ) -> Result<Settled, StoreError> {
        if let Some(lease) = local_lease(&lease) {
            return match &self.fallback {
                Some(fallback) => {
                    let local = local_share(limits, self.connection.config().local_share);
                    fallback.settle(key, &local, lease, actual_tokens).await
                }
                None => Ok(Settled::default()),
            };
        }
        let refund = lease.tokens.saturating_sub(actual_tokens);
        let debt = actual_tokens.saturating_sub(lease.tokens);
        self.finish(key, limits, lease, refund, debt).await
    }

    async fn release(
        &self,
        key: &str,
        limits: &StoreLimits,
        lease: Lease,
        refund_tokens: TokenCounts,
    ) -> Result<(), StoreError> {
        if let Some(lease) = local_lease(&lease) {
            return match &self.fallback {
                Some(fallback) => {
                    let local = local_share(limits, self.connection.config().local_share);
                    fallback.release(key, &local, lease, refund_tokens).await
                }
                None => Ok(()),
            };
        }
        // At most what was reserved, per dimension.
        let refund = lease
            .tokens
            .saturating_sub(lease.tokens.saturating_sub(refund_tokens));
        self.finish(key, limits, lease, refund, TokenCounts::ZERO)
            .await
            .map(drop)
    }

    async fn renew(
        &self,
        key: &str,
        limits: &StoreLimits,
        leases: &[LeaseToken],
    ) -> Result<Renewal, StoreError> {
        let (local, remote): (Vec<&LeaseToken>, Vec<&LeaseToken>) = leases
            .iter()
            .partition(|t| t.as_str().starts_with(LOCAL_LEASE_PREFIX));
        let mut renewal = Renewal::default();
        if !local.is_empty() {
            let inner: Vec<LeaseToken> = local
                .iter()
                .map(|t| LeaseToken::new(&t.as_str()[LOCAL_LEASE_PREFIX.len()..]))
                .collect();
            match &self.fallback {
                Some(fallback) => {
                    let share = local_share(limits, self.connection.config().local_share);
                    let r = fallback.renew(key, &share, &inner).await?;
                    renewal.renewed += r.renewed;
                    renewal.lost.extend(
                        r.lost
                            .into_iter()
                            .map(|t| LeaseToken::new(format!("{LOCAL_LEASE_PREFIX}{t}"))),
                    );
                }
                None => renewal.lost.extend(local.into_iter().cloned()),
            }
        }
        if !remote.is_empty() {
            let members: Vec<String> = remote.iter().map(|t| t.as_str().to_owned()).collect();
            let lost = scripts::renew(
                &self.connection,
                &self.keys(key),
                &members,
                limits.lease_ttl,
            )
            .await
            .map_err(|err| to_store_error(&err))?;
            renewal.renewed += members.len().saturating_sub(lost.len());
            renewal.lost.extend(lost.into_iter().map(LeaseToken::new));
        }
        Ok(renewal)
    }
}

/// The fallback store's own lease, when `lease` was issued locally.
fn local_lease(lease: &Lease) -> Option<Lease> {
    lease
        .token
        .as_str()
        .strip_prefix(LOCAL_LEASE_PREFIX)
        .map(|inner| Lease {
            token: LeaseToken::new(inner),
            tokens: lease.tokens,
        })
}

fn limit_kind(by: Refusal) -> LimitKind {
    match by {
        Refusal::Requests => LimitKind::Requests,
        Refusal::Tokens => LimitKind::Tokens,
        Refusal::InputTokens => LimitKind::InputTokens,
        Refusal::OutputTokens => LimitKind::OutputTokens,
        Refusal::TokensPerDay => LimitKind::TokensPerDay,
        Refusal::Concurrency => LimitKind::Concurrency,
    }
}

/// The same refusal [`MemoryStore`] gives a cost no burst can hold.
fn too_large(key: &str, by: Refusal, cost: u64, burst: u64) -> StoreError {
    StoreError::protocol(format!(
        "cost of {cost} exceeds the whole {} capacity of {burst} for key `{key}`",
        limit_kind(by)
    ))
}

/// The limit store's error, keeping the Redis error as its source.
fn to_store_error(err: &RedisStoreError) -> StoreError {
    let error = if err.is_unavailable() {
        StoreError::unavailable(err.to_string())
    } else {
        StoreError::protocol(err.to_string())
    };
    error.with_source(err.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_tokens_say_which_store_issued_them() {
        let local = Lease {
            token: LeaseToken::new("local:17"),
            tokens: TokenCounts::combined(3),
        };
        assert_eq!(
            local_lease(&local),
            Some(Lease {
                token: LeaseToken::new("17"),
                tokens: TokenCounts::combined(3)
            })
        );
        let remote = Lease {
            token: LeaseToken::new("00000000000000ff"),
            tokens: TokenCounts::combined(3),
        };
        assert_eq!(local_lease(&remote), None);
    }

    #[test]
    fn store_errors_keep_the_redis_error_as_source() {
        let err = RedisStoreError::Unavailable {
            server: "127.0.0.1:1".into(),
            operation: "limit admission",
            reason: "refused".into(),
            retry_interval: std::time::Duration::from_secs(1),
        };
        let store = to_store_error(&err);
        assert!(store.is_unavailable());
        let source = std::error::Error::source(&store).map(ToString::to_string);
        assert_eq!(source, Some(err.to_string()));
    }
}
