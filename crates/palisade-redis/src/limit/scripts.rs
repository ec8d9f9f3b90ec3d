//! The limit scripts (`admit.lua`, `settle.lua`, `renew.lua`) and their
//! arguments and replies in Rust terms. Each is sent as one `EVALSHA` built
//! straight from its arguments (for admissions, from a [`PreparedLimit`]
//! made once per limit), and loaded again when the server answers NOSCRIPT
//! (after a restart, a failover or `SCRIPT FLUSH`).
//!
//! [`RedisLimitStore`](crate::RedisLimitStore) is built on these functions;
//! they are public for callers who want the admission without a
//! `palisade-limit` limiter around it. Every call goes through
//! [`RedisConnection`]'s timeout and health tracking, but not through a
//! failure policy: an unreachable Redis is an error here.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::connection::RedisConnection;
use crate::error::RedisStoreError;
use crate::keys::LimitKeys;
use crate::link::RedisLink;

static ADMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("admit.lua")));
static SETTLE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("settle.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("renew.lua")));

/// One rate as the scripts take it: a bucket of `burst` units that drains
/// `amount` units per `period` (GCRA as a continuous-state leaky bucket).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRate {
    /// Units drained per microsecond.
    per_us: f64,
    /// The most units the bucket holds: the largest burst.
    burst: u64,
}

impl BucketRate {
    /// `amount` units per `period`, of which up to `burst` may go at once:
    /// in any window of one `period` at most `amount + burst` units are
    /// admitted. Returns `None` when `amount`, `burst` or `period` is zero.
    pub fn new(amount: u64, period: Duration, burst: u64) -> Option<Self> {
        if amount == 0 || burst == 0 || period.is_zero() {
            return None;
        }
        Some(Self {
            per_us: amount as f64 / (period.as_secs_f64() * 1e6),
            burst,
        })
    }

    /// The same bucket draining at `fraction` of the rate (adaptive mode);
    /// `fraction` is clamped to `[1e-6, 1]`.
    pub fn scaled(self, fraction: f64) -> Self {
        let fraction = if fraction.is_nan() {
            1.0
        } else {
            fraction.clamp(1e-6, 1.0)
        };
        Self {
            per_us: self.per_us * fraction,
            ..self
        }
    }

    /// The most units one admission can take.
    pub fn burst(&self) -> u64 {
        self.burst
    }
}

/// What one shared limit enforces; `None` leaves that dimension unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SharedLimits {
    /// Requests per period.
    pub requests: Option<BucketRate>,
    /// Tokens per period.
    pub tokens: Option<BucketRate>,
    /// Most leases (calls in flight) at once across every instance.
    pub max_concurrent: Option<u32>,
}

/// Which limit refused an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The request rate.
    Requests,
    /// The token rate.
    Tokens,
    /// Every concurrency slot is leased.
    Concurrency,
}

/// The answer of `admit.lua`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmitReply {
    /// Admitted: the request, the tokens and (when concurrency is limited)
    /// the lease are taken.
    Admitted,
    /// Refused, nothing taken. When several limits refuse, the one that
    /// frees last.
    Refused {
        /// Which limit refused.
        by: Refusal,
        /// The earliest the same admission can succeed, by the server's
        /// clock; for concurrency, when the oldest lease expires (it may
        /// well end sooner).
        retry_after: Duration,
    },
    /// The cost exceeds the limit's burst: no amount of waiting admits it.
    Never {
        /// Which limit can never hold it.
        by: Refusal,
        /// That limit's burst.
        burst: u64,
    },
}

/// The answer of `settle.lua`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleReply {
    /// Tokens given back (at most what the bucket held).
    pub refunded: u64,
    /// Tokens charged beyond the reservation.
    pub charged: u64,
    /// Whether a lease was found and removed.
    pub lease_removed: bool,
}

/// Loads every limit script (SCRIPT LOAD), so the first admission is a plain
/// EVALSHA. Optional: an unknown script is loaded on first use anyway.
pub async fn preload(connection: &RedisConnection) -> Result<(), RedisStoreError> {
    let mut link = connection.link();
    connection
        .call("script load", async move {
            ADMIT.load_async(&mut link).await?;
            SETTLE.load_async(&mut link).await?;
            RENEW.load_async(&mut link).await
        })
        .await
        .map(drop)
}

/// What stays the same from one admission of a limit to the next: its keys
/// and its limits already written as script arguments. Built once per limit
/// (and again only when the limits change), so an admission formats nothing
/// but the lease id.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedLimit {
    keys: LimitKeys,
    limits: SharedLimits,
    request_rate: String,
    request_burst: u64,
    token_rate: String,
    token_burst: u64,
    max_concurrent: u32,
}

impl PreparedLimit {
    /// The arguments for `limits` under `keys`.
    pub fn new(keys: LimitKeys, limits: SharedLimits) -> Self {
        let (request_rate, request_burst) = rate_args(limits.requests);
        let (token_rate, token_burst) = rate_args(limits.tokens);
        Self {
            keys,
            limits,
            request_rate,
            request_burst,
            token_rate,
            token_burst,
            max_concurrent: limits.max_concurrent.unwrap_or(0),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &LimitKeys {
        &self.keys
    }

    /// The limits.
    pub fn limits(&self) -> &SharedLimits {
        &self.limits
    }
}

/// Sends `cmd` (an `EVALSHA` of `script`); when the server does not know the
/// script (NOSCRIPT: after a restart, a failover to a node that never saw
/// it, `SCRIPT FLUSH`) loads it and sends `cmd` again.
async fn eval<T: redis::FromRedisValue>(
    link: &mut RedisLink,
    script: &Script,
    cmd: &redis::Cmd,
) -> redis::RedisResult<T> {
    match cmd.query_async(link).await {
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            script.load_async(link).await?;
            cmd.query_async(link).await
        }
        other => other,
    }
}

/// Runs `admit.lua`: check and take one request, `tokens` tokens and a lease
/// called `lease_id`, all or nothing.
pub async fn admit(
    connection: &RedisConnection,
    keys: &LimitKeys,
    limits: &SharedLimits,
    tokens: u64,
    lease_id: &str,
    lease_ttl: Duration,
) -> Result<AdmitReply, RedisStoreError> {
    let prepared = PreparedLimit::new(keys.clone(), *limits);
    admit_prepared(connection, &prepared, tokens, lease_id, lease_ttl).await
}

/// [`admit`] with the keys and limits prepared beforehand.
pub async fn admit_prepared(
    connection: &RedisConnection,
    prepared: &PreparedLimit,
    tokens: u64,
    lease_id: &str,
    lease_ttl: Duration,
) -> Result<AdmitReply, RedisStoreError> {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(ADMIT.get_hash())
        .arg(2)
        .arg(&prepared.keys.rate)
        .arg(&prepared.keys.leases)
        .arg(&prepared.request_rate)
        .arg(prepared.request_burst)
        .arg(&prepared.token_rate)
        .arg(prepared.token_burst)
        .arg(tokens)
        .arg(prepared.max_concurrent)
        .arg(lease_id)
        .arg(ttl_ms(lease_ttl));
    let mut link = connection.link();
    let reply: Vec<i64> = connection
        .call("limit admission", async move {
            eval(&mut link, &ADMIT, &cmd).await
        })
        .await?;
    decode_admit(&reply)
        .ok_or_else(|| connection.unexpected("limit admission", format!("{reply:?}")))
}

/// Runs `settle.lua`: give `refund` tokens back or charge `debt` more, and
/// remove the lease `lease_id` (none when empty).
pub async fn settle(
    connection: &RedisConnection,
    keys: &LimitKeys,
    limits: &SharedLimits,
    refund: u64,
    debt: u64,
    lease_id: &str,
) -> Result<SettleReply, RedisStoreError> {
    let (token_rate, _) = rate_args(limits.tokens);
    let (request_rate, _) = rate_args(limits.requests);
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(SETTLE.get_hash())
        .arg(2)
        .arg(&keys.rate)
        .arg(&keys.leases)
        .arg(token_rate)
        .arg(refund)
        .arg(debt)
        .arg(lease_id)
        .arg(request_rate);
    let mut link = connection.link();
    let reply: Vec<i64> = connection
        .call("limit settlement", async move {
            eval(&mut link, &SETTLE, &cmd).await
        })
        .await?;
    match *reply.as_slice() {
        [refunded, charged, removed] if refunded >= 0 && charged >= 0 => Ok(SettleReply {
            refunded: refunded.unsigned_abs(),
            charged: charged.unsigned_abs(),
            lease_removed: removed == 1,
        }),
        _ => Err(connection.unexpected("limit settlement", format!("{reply:?}"))),
    }
}

/// Runs `renew.lua`: push the expiry of `lease_ids` (all under `keys`) to
/// `lease_ttl` from now. Returns the ids that had already expired (they are
/// not brought back).
pub async fn renew(
    connection: &RedisConnection,
    keys: &LimitKeys,
    lease_ids: &[String],
    lease_ttl: Duration,
) -> Result<Vec<String>, RedisStoreError> {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(RENEW.get_hash())
        .arg(1)
        .arg(&keys.leases)
        .arg(ttl_ms(lease_ttl));
    for id in lease_ids {
        cmd.arg(id);
    }
    let mut link = connection.link();
    connection
        .call("lease renewal", async move {
            eval(&mut link, &RENEW, &cmd).await
        })
        .await
}

/// Rates go as strings with every digit (`{:e}` round-trips an f64), since a
/// few tokens per second is a tiny number per microsecond.
fn rate_args(rate: Option<BucketRate>) -> (String, u64) {
    rate.map_or_else(
        || ("0".to_owned(), 0),
        |r| (format!("{:e}", r.per_us), r.burst),
    )
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn decode_admit(reply: &[i64]) -> Option<AdmitReply> {
    let by = |code: i64| match code {
        1 => Some(Refusal::Requests),
        2 => Some(Refusal::Tokens),
        3 => Some(Refusal::Concurrency),
        _ => None,
    };
    match *reply {
        [1] => Some(AdmitReply::Admitted),
        [-1, burst, code] if burst >= 0 => Some(AdmitReply::Never {
            by: by(code)?,
            burst: burst.unsigned_abs(),
        }),
        [0, wait_us, code] if wait_us >= 0 => Some(AdmitReply::Refused {
            by: by(code)?,
            retry_after: Duration::from_micros(wait_us.unsigned_abs()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rate_drain_and_burst() {
        let rate = BucketRate::new(60, Duration::from_secs(60), 10).unwrap();
        assert_eq!(rate.per_us, 1e-6);
        assert_eq!(rate.burst(), 10);
        assert_eq!(rate.scaled(0.5).per_us, 5e-7);
        assert_eq!(rate.scaled(f64::NAN), rate);
        assert_eq!(rate_args(Some(rate)).0.parse::<f64>().unwrap(), 1e-6);
        assert_eq!(BucketRate::new(0, Duration::from_secs(1), 1), None);
        assert_eq!(BucketRate::new(1, Duration::ZERO, 1), None);
    }

    #[test]
    fn replies_decode_or_are_rejected() {
        assert_eq!(decode_admit(&[1]), Some(AdmitReply::Admitted));
        assert_eq!(
            decode_admit(&[0, 1500, 2]),
            Some(AdmitReply::Refused {
                by: Refusal::Tokens,
                retry_after: Duration::from_micros(1500)
            })
        );
        assert_eq!(
            decode_admit(&[-1, 500, 2]),
            Some(AdmitReply::Never {
                by: Refusal::Tokens,
                burst: 500
            })
        );
        assert_eq!(decode_admit(&[0, 5, 9]), None);
        assert_eq!(decode_admit(&[0, -7, 1]), None);
        assert_eq!(decode_admit(&[1, 0, 0]), None);
    }
}
