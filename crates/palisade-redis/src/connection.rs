//! `RedisConnection`: one reconnecting client (one server or a cluster)
//! shared by the stores, the timeout on every call, and the health that
//! decides when the failure policy applies and when Redis is tried again.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use redis::{RedisError, RedisResult, ServerErrorKind};
use tokio::time::Instant;

use crate::config::RedisConfig;
use crate::error::RedisStoreError;
use crate::link::RedisLink;
use crate::stats::{RedisStats, StatsCounters};
use crate::topology::Topology;

/// A connection to Redis — one server through [`redis::aio::ConnectionManager`]
/// (one multiplexed connection that reconnects by itself), or a Redis Cluster
/// through the `redis` crate's cluster client, as the URL says (see
/// [`RedisConfig::url`]) — with the store's view of whether Redis is
/// reachable.
///
/// Cheap to clone; the limit and breaker stores of one process usually share
/// one. Every call is bounded by `command_timeout`. After a call fails to reach
/// Redis the connection is *down*: calls go straight to the failure policy
/// (no network, no waiting) except one call per `retry_interval`, which tries
/// Redis again; when that succeeds the connection is up and every call uses
/// Redis again. A warning event marks the start of an outage, an info event
/// its end, and both are counted in [`RedisConnection::stats`].
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    link: RedisLink,
    config: RedisConfig,
    /// `host:port` (or `cluster host:port,…`) without credentials, for
    /// errors and events.
    server: String,
    health: Mutex<Health>,
    stats: StatsCounters,
}

enum Health {
    Up,
    Down {
        /// When one call may try Redis again.
        next_try: Instant,
        /// The error that took it down (or the last failed retry).
        reason: String,
    },
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("server", &self.inner.server)
            .field("available", &self.is_available())
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Validates `config` and sets up the connection. Redis need not be up:
    /// the connection is made on first use, and until then (or while it is
    /// down) calls follow the failure policy. Must be called inside a Tokio
    /// runtime, which runs the reconnection.
    pub async fn connect(config: RedisConfig) -> Result<Self, RedisStoreError> {
        config.validate()?;
        let topology = Topology::parse(&config.url)?;
        let server = topology.describe();
        let link = RedisLink::open(&topology, &config).map_err(|err| {
            RedisStoreError::Config(crate::ConfigError {
                field: "url",
                problem: format!(
                    "cannot set up a client for {server}: {}",
                    crate::topology::redact(&err.to_string())
                ),
            })
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                link,
                config,
                server,
                health: Mutex::new(Health::Up),
                stats: StatsCounters::default(),
            }),
        })
    }

    /// The configuration in effect.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// `host:port` of the server, or `cluster host:port,…` of a cluster's
    /// seed nodes (never the credentials).
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// Whether the last call reached Redis.
    pub fn is_available(&self) -> bool {
        matches!(*self.lock_health(), Health::Up)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RedisStats {
        let mut stats = self.inner.stats.snapshot();
        stats.available = self.is_available();
        stats
    }

    /// A handle on the underlying client (cheap clone), for commands of your
    /// own; they do not pass through the health tracking.
    pub fn link(&self) -> RedisLink {
        self.inner.link.clone()
    }

    /// Whether the URL named a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.link.is_cluster()
    }

    /// Sends `PING` through the health tracking: a readiness check that also
    /// ends an outage early when it succeeds.
    pub async fn ping(&self) -> Result<(), RedisStoreError> {
        let mut link = self.link();
        // On a cluster PING goes to every node, and succeeds when all answer.
        self.call("ping", async move {
            redis::cmd("PING").query_async::<String>(&mut link).await
        })
        .await
        .map(drop)
    }

    pub(crate) fn counters(&self) -> &StatsCounters {
        &self.inner.stats
    }

    /// Runs one Redis call under the timeout and the health rules. Returns
    /// [`RedisStoreError::Unavailable`] without polling `call` while Redis is
    /// down and the retry interval has not passed.
    pub(crate) async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, RedisStoreError> {
        let counters = &self.inner.stats;
        if let Some(reason) = self.claim_attempt() {
            StatsCounters::bump(&counters.skipped_while_down);
            return Err(self.unavailable(operation, reason));
        }
        let outcome = tokio::time::timeout(self.inner.config.command_timeout, call).await;
        match outcome {
            Ok(Ok(value)) => {
                StatsCounters::bump(&counters.calls);
                self.mark_up(operation);
                Ok(value)
            }
            Ok(Err(err)) if is_unreachable(&err) => {
                StatsCounters::bump(&counters.unreachable);
                let reason = err.to_string();
                self.mark_down(operation, &reason);
                Err(self.unavailable(operation, reason))
            }
            Ok(Err(err)) => {
                // Redis answered, so it is reachable; the reply is the problem.
                StatsCounters::bump(&counters.calls);
                StatsCounters::bump(&counters.unexpected_replies);
                self.mark_up(operation);
                Err(self.unexpected(operation, err.to_string()))
            }
            Err(_elapsed) => {
                StatsCounters::bump(&counters.unreachable);
                let reason = format!(
                    "no answer within the command timeout ({:?})",
                    self.inner.config.command_timeout
                );
                self.mark_down(operation, &reason);
                Err(self.unavailable(operation, reason))
            }
        }
    }

    pub(crate) fn unavailable(&self, operation: &'static str, reason: String) -> RedisStoreError {
        RedisStoreError::Unavailable {
            server: self.inner.server.clone(),
            operation,
            reason,
            retry_interval: self.inner.config.retry_interval,
        }
    }

    pub(crate) fn unexpected(&self, operation: &'static str, detail: String) -> RedisStoreError {
        RedisStoreError::UnexpectedReply {
            server: self.inner.server.clone(),
            operation,
            detail,
        }
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, Health> {
        // The lock is never held across an await or user code; a poisoned
        // lock still holds a valid `Health`.
        self.inner
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `None` when this call may use Redis (it is up, or this call is the one
    /// retry of the interval); otherwise why it may not.
    fn claim_attempt(&self) -> Option<String> {
        let mut health = self.lock_health();
        match &mut *health {
            Health::Up => None,
            Health::Down { next_try, reason } => {
                let now = Instant::now();
                if now >= *next_try {
                    // This call is the retry; the others keep skipping until
                    // it succeeds or the next interval.
                    *next_try = now + self.inner.config.retry_interval;
                    None
                } else {
                    Some(format!("down since an earlier failure: {reason}"))
                }
            }
        }
    }

    fn mark_up(&self, operation: &'static str) {
        let mut health = self.lock_health();
        if let Health::Down { .. } = *health {
            *health = Health::Up;
            drop(health);
            StatsCounters::bump(&self.inner.stats.recoveries);
            tracing::info!(
                server = %self.inner.server,
                operation,
                "palisade-redis: Redis is reachable again; shared state is used again"
            );
        }
    }

    fn mark_down(&self, operation: &'static str, reason: &str) {
        let next_try = Instant::now() + self.inner.config.retry_interval;
        let mut health = self.lock_health();
        let was_up = matches!(*health, Health::Up);
        *health = Health::Down {
            next_try,
            reason: reason.to_owned(),
        };
        drop(health);
        if was_up {
            StatsCounters::bump(&self.inner.stats.outages);
            tracing::warn!(
                server = %self.inner.server,
                operation,
                error = reason,
                policy = ?self.inner.config.on_unavailable,
                retry_interval = ?self.inner.config.retry_interval,
                "palisade-redis: Redis is unreachable; applying the failure policy until it answers again"
            );
        } else {
            tracing::debug!(server = %self.inner.server, operation, error = reason, "palisade-redis: Redis still unreachable");
        }
    }
}

/// Whether `err` means Redis could not serve the call at all (as opposed to a
/// reply we did not expect): transport failures, and the server states in
/// which it answers but cannot run scripts (loading, failover, cluster down).
/// A `MOVED` or `ASK` that reaches us means the cluster client ran out of
/// redirections while the topology was changing (a replica being promoted):
/// the cluster cannot serve the slot yet, so it counts the same.
fn is_unreachable(err: &RedisError) -> bool {
    if err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
    {
        return true;
    }
    if matches!(err.code(), Some("BUSY" | "LOADING" | "MASTERDOWN")) {
        return true;
    }
    matches!(
        err.kind(),
        redis::ErrorKind::ClusterConnectionNotFound
            | redis::ErrorKind::AuthenticationFailed
            | redis::ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            )
    )
}
