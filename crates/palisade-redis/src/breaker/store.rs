//! `RedisBreakerStore`: palisade-breaker's [`BreakerStore`] on Redis, so one
//! instance's discovery that a model is down protects the whole fleet.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use palisade_breaker::store::{ProbeGrant, StoreError, Transition};
use palisade_breaker::{BreakerState, BreakerStore, ISOLATED_RETRY_AFTER, SharedState};
use palisade_core::ProviderId;
use redis::{Script, Value};

use crate::connection::RedisConnection;
use crate::error::RedisStoreError;
use crate::keys::BreakerKeys;
use crate::stats::RedisStats;

static BREAKER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("breaker.lua")));

/// A [`BreakerStore`] that keeps each provider's breaker decisions in one
/// Redis hash (plus a set of probe leases), every operation one `EVALSHA` of
/// `breaker.lua` on the server's clock.
///
/// The closed fast path never reaches this store: palisade-breaker counts
/// outcomes locally, publishes trips, closes, isolations and resets here, asks
/// here for a half-open probe slot (so the fleet probes with `max_probes`
/// calls, not `max_probes` per instance), and adopts the fleet's state through
/// [`CircuitBreaker::sync_from_store`](palisade_breaker::CircuitBreaker::sync_from_store)
/// (or its periodic [`spawn_store_sync`](palisade_breaker::CircuitBreaker::spawn_store_sync)).
///
/// When Redis cannot be reached every method returns a [`StoreError`] at once
/// (after the first timeout, until the retry interval passes) and
/// palisade-breaker goes on with its local state: a breaker always fails
/// open to local, whatever [`FailurePolicy`](crate::FailurePolicy) says,
/// because refusing calls to a healthy model because Redis is down would
/// turn a cache outage into an LLM outage.
#[derive(Debug, Clone)]
pub struct RedisBreakerStore {
    connection: RedisConnection,
}

impl RedisBreakerStore {
    /// A store over `connection`.
    pub fn new(connection: RedisConnection) -> Self {
        Self { connection }
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// The connection's counters.
    pub fn stats(&self) -> RedisStats {
        self.connection.stats()
    }

    async fn run(
        &self,
        operation: &'static str,
        key: &ProviderId,
        args: &[String],
    ) -> Result<Vec<Value>, StoreError> {
        let keys = BreakerKeys::new(&self.connection.config().key_prefix, key.as_str());
        let mut invocation = BREAKER.prepare_invoke();
        invocation.key(&keys.state).key(&keys.probes);
        for arg in args {
            invocation.arg(arg);
        }
        let mut manager = self.connection.link();
        self.connection
            .call(operation, async move {
                invocation.invoke_async(&mut manager).await
            })
            .await
            .map_err(|err| store_error(key, err))
    }

    fn unexpected(&self, operation: &'static str, key: &ProviderId, reply: &[Value]) -> StoreError {
        store_error(
            key,
            self.connection.unexpected(operation, format!("{reply:?}")),
        )
    }
}

#[async_trait]
impl BreakerStore for RedisBreakerStore {
    async fn load(&self, key: &ProviderId) -> Result<Option<SharedState>, StoreError> {
        let reply = self.run("breaker load", key, &["load".into()]).await?;
        if matches!(reply.first(), Some(Value::BulkString(s)) if s.is_empty()) {
            return Ok(None);
        }
        decode_shared(&reply)
            .map(Some)
            .ok_or_else(|| self.unexpected("breaker load", key, &reply))
    }

    async fn apply(
        &self,
        key: &ProviderId,
        transition: Transition,
    ) -> Result<SharedState, StoreError> {
        let args: Vec<String> = match transition {
            Transition::Open {
                open_for,
                consecutive_opens,
            } => vec![
                "open".into(),
                micros(open_for).to_string(),
                consecutive_opens.to_string(),
            ],
            Transition::Close => vec!["close".into()],
            Transition::Isolate => vec!["isolate".into()],
            Transition::Reset => vec!["reset".into()],
        };
        let reply = self.run("breaker transition", key, &args).await?;
        decode_shared(&reply).ok_or_else(|| self.unexpected("breaker transition", key, &reply))
    }

    async fn try_acquire_probe(
        &self,
        key: &ProviderId,
        max_probes: u32,
        lease: Duration,
    ) -> Result<ProbeGrant, StoreError> {
        let probe_id = format!("{:016x}", rand::random::<u64>());
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let args = [
            "acquire".into(),
            max_probes.to_string(),
            lease_ms.to_string(),
            probe_id,
        ];
        let reply = self.run("breaker probe", key, &args).await?;
        let grant = match reply.as_slice() {
            [word] => match text(word).as_deref() {
                Some("granted") => Some(ProbeGrant::Granted),
                Some("busy") => Some(ProbeGrant::Busy),
                Some("closed") => Some(ProbeGrant::Closed),
                Some("isolated") => Some(ProbeGrant::Isolated),
                _ => None,
            },
            [word, Value::Int(us)] if text(word).as_deref() == Some("open") => {
                Some(ProbeGrant::Open {
                    retry_after: Duration::from_micros(us.unsigned_abs()),
                })
            }
            _ => None,
        };
        grant.ok_or_else(|| self.unexpected("breaker probe", key, &reply))
    }

    async fn release_probe(&self, key: &ProviderId) -> Result<(), StoreError> {
        self.run("breaker probe release", key, &["release".into()])
            .await
            .map(drop)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `{state, retry after µs, consecutive opens, probes}` as the script sends it.
fn decode_shared(reply: &[Value]) -> Option<SharedState> {
    let [
        state,
        Value::Int(retry),
        Value::Int(opens),
        Value::Int(probes),
    ] = reply
    else {
        return None;
    };
    let state = match text(state)?.as_str() {
        "closed" => BreakerState::Closed,
        "open" => BreakerState::Open,
        "half_open" => BreakerState::HalfOpen,
        "isolated" => BreakerState::Isolated,
        _ => return None,
    };
    let retry_after = match *retry {
        -2 => Some(ISOLATED_RETRY_AFTER),
        us if us >= 0 => Some(Duration::from_micros(us.unsigned_abs())),
        _ => None,
    };
    Some(SharedState {
        state,
        retry_after,
        consecutive_opens: u32::try_from(*opens).ok()?,
        probes_in_flight: u32::try_from(*probes).ok()?,
    })
}

fn store_error(key: &ProviderId, err: RedisStoreError) -> StoreError {
    StoreError::new(format!("breaker `{key}`: {err}")).with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn shared_state_decodes_every_state() {
        let open = decode_shared(&[
            bulk("open"),
            Value::Int(1_500_000),
            Value::Int(2),
            Value::Int(0),
        ]);
        assert_eq!(
            open,
            Some(SharedState {
                state: BreakerState::Open,
                retry_after: Some(Duration::from_millis(1500)),
                consecutive_opens: 2,
                probes_in_flight: 0,
            })
        );
        let isolated = decode_shared(&[
            bulk("isolated"),
            Value::Int(-2),
            Value::Int(0),
            Value::Int(0),
        ]);
        assert_eq!(
            isolated.map(|s| s.retry_after),
            Some(Some(ISOLATED_RETRY_AFTER))
        );
        let half = decode_shared(&[
            bulk("half_open"),
            Value::Int(-1),
            Value::Int(1),
            Value::Int(1),
        ]);
        assert_eq!(
            half.map(|s| (s.state, s.retry_after)),
            Some((BreakerState::HalfOpen, None))
        );
        assert_eq!(
            decode_shared(&[bulk("ajar"), Value::Int(-1), Value::Int(0), Value::Int(0)]),
            None
        );
        assert_eq!(decode_shared(&[bulk("open")]), None);
    }
}
