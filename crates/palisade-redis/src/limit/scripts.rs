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

use palisade_limit::TokenCounts;
use redis::Script;

use crate::connection::RedisConnection;
use crate::error::RedisStoreError;
use crate::keys::LimitKeys;
use crate::limit::stamp::RefundStamp;
use crate::link::RedisLink;

// A script cannot load another: the state codec shared by admission and
// settlement goes in front of each.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("state.lua"),
        include_str!("admit.lua")
    ))
});
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("state.lua"),
        include_str!("settle.lua")
    ))
});
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
    /// Tokens per period, all kinds combined.
    pub tokens: Option<BucketRate>,
    /// Input tokens per period.
    pub input_tokens: Option<BucketRate>,
    /// Output tokens per period.
    pub output_tokens: Option<BucketRate>,
    /// Tokens per day (or any period); counts the combined tokens.
    pub tokens_per_day: Option<BucketRate>,
    /// Most leases (calls in flight) at once across every instance.
    pub max_concurrent: Option<u32>,
}

impl SharedLimits {
    /// The token dimensions in the scripts' order (tokens, input, output,
    /// per day), each with what `counts` takes from it.
    pub fn token_buckets(&self, counts: TokenCounts) -> [(Refusal, Option<BucketRate>, u64); 4] {
        [
            (Refusal::Tokens, self.tokens, counts.tokens),
            (Refusal::InputTokens, self.input_tokens, counts.input),
            (Refusal::OutputTokens, self.output_tokens, counts.output),
            (Refusal::TokensPerDay, self.tokens_per_day, counts.tokens),
        ]
    }

    /// The first token dimension whose whole burst is smaller than what
    /// `counts` takes from it: `(dimension, cost, burst)`. Such a cost can
    /// never be admitted.
    pub fn never_fits(&self, counts: TokenCounts) -> Option<(Refusal, u64, u64)> {
        self.token_buckets(counts)
            .into_iter()
            .find_map(|(by, rate, cost)| {
                rate.filter(|r| cost > r.burst())
                    .map(|r| (by, cost, r.burst()))
            })
    }

    /// Whether any token dimension is limited.
    pub fn limits_tokens(&self) -> bool {
        self.tokens.is_some()
            || self.input_tokens.is_some()
            || self.output_tokens.is_some()
            || self.tokens_per_day.is_some()
    }
}

/// Which limit refused an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// The request rate.
    Requests,
    /// The combined token rate.
    Tokens,
    /// The input token rate.
    InputTokens,
    /// The output token rate.
    OutputTokens,
    /// The tokens-per-day quota.
    TokensPerDay,
    /// Every concurrency slot is leased.
    Concurrency,
}

impl Refusal {
    /// The scripts' code for it (`admit.lua`'s reply).
    const fn code(self) -> i64 {
        match self {
            Refusal::Requests => 1,
            Refusal::Tokens => 2,
            Refusal::Concurrency => 3,
            Refusal::InputTokens => 4,
            Refusal::OutputTokens => 5,
            Refusal::TokensPerDay => 6,
        }
    }

    fn from_code(code: i64) -> Option<Self> {
        [
            Refusal::Requests,
            Refusal::Tokens,
            Refusal::Concurrency,
            Refusal::InputTokens,
            Refusal::OutputTokens,
            Refusal::TokensPerDay,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

/// The answer of `admit.lua`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmitReply {
    /// Admitted: the request, the tokens and (when concurrency is limited)
    /// the lease are taken.
    Admitted {
        /// What [`settle`] needs to give back no more than is still due.
        stamp: RefundStamp,
    },
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

/// What `settle.lua` did to one token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketSettled {
    /// Tokens given back: at most the part of the reservation still in the
    /// bucket.
    pub refunded: u64,
    /// Tokens charged beyond the reservation.
    pub charged: u64,
}

/// The answer of `settle.lua`, per token dimension (all zero for a
/// dimension that is not limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SettleReply {
    /// The combined tokens bucket.
    pub tokens: BucketSettled,
    /// The input tokens bucket.
    pub input_tokens: BucketSettled,
    /// The output tokens bucket.
    pub output_tokens: BucketSettled,
    /// The tokens-per-day bucket.
    pub tokens_per_day: BucketSettled,
    /// Whether a lease was found and removed.
    pub lease_removed: bool,
}

impl SettleReply {
    /// The first limited token dimension's settlement in the order tokens,
    /// input, output, per day (what [`Settled`](palisade_limit::Settled)
    /// reports), if `limits` limits any.
    pub fn first_limited(&self, limits: &SharedLimits) -> Option<BucketSettled> {
        [
            (limits.tokens, self.tokens),
            (limits.input_tokens, self.input_tokens),
            (limits.output_tokens, self.output_tokens),
            (limits.tokens_per_day, self.tokens_per_day),
        ]
        .into_iter()
        .find_map(|(rate, settled)| rate.map(|_| settled))
    }
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
/// and its limits as the scripts' numbers. Built once per limit (and again
/// only when the limits change), so an admission formats nothing but the
/// lease id.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedLimit {
    keys: LimitKeys,
    limits: SharedLimits,
    /// Rate (per µs) and burst of the requests.
    request: (f64, f64),
    /// Rate and burst of each token dimension, in the scripts' order.
    token_rates: [(f64, f64); 4],
    /// Whether an input, output or per-day quota is limited: only then are
    /// their numbers sent (a limit without them admits as cheaply as
    /// before they existed).
    extended: bool,
    max_concurrent: u32,
}

impl PreparedLimit {
    /// The arguments for `limits` under `keys`.
    pub fn new(keys: LimitKeys, limits: SharedLimits) -> Self {
        Self {
            keys,
            limits,
            request: rate_args(limits.requests),
            token_rates: token_rates(&limits).map(rate_args),
            extended: limits.input_tokens.is_some()
                || limits.output_tokens.is_some()
                || limits.tokens_per_day.is_some(),
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

    /// `admit.lua`'s numbers (ARGV[1]) for an admission of `tokens`.
    fn admit_numbers(&self, tokens: TokenCounts, lease_ttl: Duration) -> Numbers {
        let [combined, input, output, per_day] = self.token_rates;
        let mut numbers = Numbers::default();
        numbers.push(self.request.0);
        numbers.push(self.request.1);
        numbers.push(combined.0);
        numbers.push(combined.1);
        numbers.push(tokens.tokens as f64);
        numbers.push(f64::from(self.max_concurrent));
        numbers.push(ttl_ms(lease_ttl) as f64);
        if self.extended {
            for (rate, cost) in [(input, tokens.input), (output, tokens.output)] {
                numbers.push(rate.0);
                numbers.push(rate.1);
                numbers.push(cost as f64);
            }
            numbers.push(per_day.0);
            numbers.push(per_day.1);
        }
        numbers
    }
}

/// Script numbers as one argument of little-endian doubles, which the
/// scripts read with one `struct.unpack` (Lua's numbers are doubles, so
/// nothing is lost that `tonumber` would have kept; parsing decimal text
/// cost the server ≈ 0.25 µs a number). At most sixteen numbers.
struct Numbers {
    bytes: [u8; 16 * 8],
    len: usize,
}

impl Default for Numbers {
    fn default() -> Self {
        Self {
            bytes: [0; 16 * 8],
            len: 0,
        }
    }
}

impl Numbers {
    fn push(&mut self, value: f64) {
        if let Some(slot) = self.bytes.get_mut(self.len..self.len + 8) {
            slot.copy_from_slice(&value.to_le_bytes());
            self.len += 8;
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
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

/// Runs `admit.lua`: check and take one request, `tokens` from every token
/// dimension and a lease called `lease_id`, all or nothing.
pub async fn admit(
    connection: &RedisConnection,
    keys: &LimitKeys,
    limits: &SharedLimits,
    tokens: TokenCounts,
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
    tokens: TokenCounts,
    lease_id: &str,
    lease_ttl: Duration,
) -> Result<AdmitReply, RedisStoreError> {
    let numbers = prepared.admit_numbers(tokens, lease_ttl);
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(ADMIT.get_hash())
        .arg(2)
        .arg(&prepared.keys.rate)
        .arg(&prepared.keys.leases)
        .arg(numbers.as_bytes())
        .arg(if prepared.max_concurrent > 0 {
            lease_id
        } else {
            ""
        });
    let mut link = connection.link();
    let reply: Vec<i64> = connection
        .call("limit admission", async move {
            eval(&mut link, &ADMIT, &cmd).await
        })
        .await?;
    decode_admit(&reply)
        .ok_or_else(|| connection.unexpected("limit admission", format!("{reply:?}")))
}

/// Runs `settle.lua`: per token dimension, give `refund` back or charge
/// `debt` more (the per-day bucket takes the combined counts), and remove
/// the lease `lease_id` (none when empty). A refund gives back at most the
/// part of the admission stamped `stamp` that is still in the bucket; with
/// no stamp, nothing.
#[allow(clippy::too_many_arguments)]
pub async fn settle(
    connection: &RedisConnection,
    keys: &LimitKeys,
    limits: &SharedLimits,
    refund: TokenCounts,
    debt: TokenCounts,
    lease_id: &str,
    stamp: Option<&RefundStamp>,
) -> Result<SettleReply, RedisStoreError> {
    let mut numbers = Numbers::default();
    numbers.push(rate_args(limits.requests).0);
    for rate in token_rates(limits) {
        numbers.push(rate_args(rate).0);
    }
    for (refund, debt) in [
        (refund.tokens, debt.tokens),
        (refund.input, debt.input),
        (refund.output, debt.output),
    ] {
        numbers.push(refund as f64);
        numbers.push(debt as f64);
    }
    if let Some(stamp) = stamp {
        numbers.push(stamp.born() as f64);
        for added in stamp.added() {
            numbers.push(added as f64);
        }
    }
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(SETTLE.get_hash())
        .arg(2)
        .arg(&keys.rate)
        .arg(&keys.leases)
        .arg(numbers.as_bytes())
        .arg(lease_id);
    let mut link = connection.link();
    let reply: Vec<i64> = connection
        .call("limit settlement", async move {
            eval(&mut link, &SETTLE, &cmd).await
        })
        .await?;
    decode_settle(&reply)
        .ok_or_else(|| connection.unexpected("limit settlement", format!("{reply:?}")))
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

/// A rate as the scripts' numbers: units per µs (0: not limited) and burst.
fn rate_args(rate: Option<BucketRate>) -> (f64, f64) {
    rate.map_or((0.0, 0.0), |r| (r.per_us, r.burst as f64))
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The token dimensions' rates in the scripts' order.
fn token_rates(limits: &SharedLimits) -> [Option<BucketRate>; 4] {
    [
        limits.tokens,
        limits.input_tokens,
        limits.output_tokens,
        limits.tokens_per_day,
    ]
}

fn decode_admit(reply: &[i64]) -> Option<AdmitReply> {
    match *reply {
        [1, born, a, b, c, d] => Some(AdmitReply::Admitted {
            stamp: RefundStamp::new(born, [a, b, c, d]),
        }),
        [-1, burst, code] if burst >= 0 => Some(AdmitReply::Never {
            by: Refusal::from_code(code)?,
            burst: burst.unsigned_abs(),
        }),
        [0, wait_us, code] if wait_us >= 0 => Some(AdmitReply::Refused {
            by: Refusal::from_code(code)?,
            retry_after: Duration::from_micros(wait_us.unsigned_abs()),
        }),
        _ => None,
    }
}

fn decode_settle(reply: &[i64]) -> Option<SettleReply> {
    let [t, tc, i, ic, o, oc, d, dc, removed] = *reply else {
        return None;
    };
    let bucket = |refunded: i64, charged: i64| {
        Some(BucketSettled {
            refunded: u64::try_from(refunded).ok()?,
            charged: u64::try_from(charged).ok()?,
        })
    };
    Some(SettleReply {
        tokens: bucket(t, tc)?,
        input_tokens: bucket(i, ic)?,
        output_tokens: bucket(o, oc)?,
        tokens_per_day: bucket(d, dc)?,
        lease_removed: removed == 1,
    })
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
        assert_eq!(rate_args(Some(rate)), (1e-6, 10.0));
        assert_eq!(BucketRate::new(0, Duration::from_secs(1), 1), None);
        assert_eq!(BucketRate::new(1, Duration::ZERO, 1), None);
    }

    #[test]
    fn replies_decode_or_are_rejected() {
        assert_eq!(
            decode_admit(&[1, 1_764_000_000_123_456, 300, 0, 0, 300]),
            Some(AdmitReply::Admitted {
                stamp: RefundStamp::new(1_764_000_000_123_456, [300, 0, 0, 300])
            })
        );
        // The reply from before refund stamps.
        assert_eq!(decode_admit(&[1]), None);
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
        for (code, by) in [
            (1, Refusal::Requests),
            (3, Refusal::Concurrency),
            (4, Refusal::InputTokens),
            (5, Refusal::OutputTokens),
            (6, Refusal::TokensPerDay),
        ] {
            assert_eq!(
                decode_admit(&[0, 10, code]),
                Some(AdmitReply::Refused {
                    by,
                    retry_after: Duration::from_micros(10)
                })
            );
            assert_eq!(Refusal::from_code(by.code()), Some(by));
        }
        assert_eq!(decode_admit(&[0, 5, 9]), None);
        assert_eq!(decode_admit(&[0, 5, 0]), None);
        assert_eq!(decode_admit(&[0, -7, 1]), None);
        assert_eq!(decode_admit(&[1, 0, 0]), None);
    }

    #[test]
    fn settle_replies_decode_per_dimension_or_are_rejected() {
        let reply = decode_settle(&[700, 0, 0, 100, 300, 0, 700, 0, 1]).unwrap();
        assert_eq!(
            reply.tokens,
            BucketSettled {
                refunded: 700,
                charged: 0
            }
        );
        assert_eq!(reply.input_tokens.charged, 100);
        assert_eq!(reply.output_tokens.refunded, 300);
        assert_eq!(reply.tokens_per_day.refunded, 700);
        assert!(reply.lease_removed);
        // The old three-integer reply, a negative count: not understood.
        assert_eq!(decode_settle(&[700, 0, 1]), None);
        assert_eq!(decode_settle(&[0, -1, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn the_first_limited_dimension_speaks_for_a_settle() {
        let reply = SettleReply {
            tokens: BucketSettled {
                refunded: 1,
                charged: 0,
            },
            input_tokens: BucketSettled {
                refunded: 0,
                charged: 5,
            },
            ..SettleReply::default()
        };
        let rate = BucketRate::new(10, Duration::from_secs(1), 10);
        let input_only = SharedLimits {
            input_tokens: rate,
            tokens_per_day: rate,
            ..SharedLimits::default()
        };
        assert_eq!(reply.first_limited(&input_only), Some(reply.input_tokens));
        let both = SharedLimits {
            tokens: rate,
            ..input_only
        };
        assert_eq!(reply.first_limited(&both), Some(reply.tokens));
        assert_eq!(reply.first_limited(&SharedLimits::default()), None);
    }

    #[test]
    fn a_cost_above_any_dimension_burst_never_fits() {
        let limits = SharedLimits {
            tokens: BucketRate::new(1_000, Duration::from_secs(60), 1_000),
            output_tokens: BucketRate::new(100, Duration::from_secs(60), 100),
            tokens_per_day: BucketRate::new(500, Duration::from_secs(86_400), 500),
            ..SharedLimits::default()
        };
        let counts = |tokens, input, output| TokenCounts {
            tokens,
            input,
            output,
        };
        assert_eq!(limits.never_fits(counts(500, 400, 100)), None);
        assert_eq!(
            limits.never_fits(counts(500, 400, 101)),
            Some((Refusal::OutputTokens, 101, 100))
        );
        // Input is not limited here, however large.
        assert_eq!(limits.never_fits(counts(10, 1_000_000, 0)), None);
        assert_eq!(
            limits.never_fits(counts(501, 0, 0)),
            Some((Refusal::TokensPerDay, 501, 500))
        );
    }

    const TTL: Duration = Duration::from_secs(30);

    #[test]
    fn only_limits_with_the_new_dimensions_send_their_arguments() {
        let keys = LimitKeys::new("palisade", "args");
        let rate = BucketRate::new(10, Duration::from_secs(1), 10);
        let old = SharedLimits {
            requests: rate,
            tokens: rate,
            max_concurrent: Some(2),
            ..SharedLimits::default()
        };
        let prepared = PreparedLimit::new(keys.clone(), old);
        assert!(!prepared.extended);
        // Seven numbers, in admit.lua's order, as little-endian doubles.
        let numbers = prepared.admit_numbers(TokenCounts::combined(500), TTL);
        let read: Vec<f64> = numbers
            .as_bytes()
            .chunks_exact(8)
            .map(|d| f64::from_le_bytes(d.try_into().unwrap()))
            .collect();
        assert_eq!(read, [1e-5, 10.0, 1e-5, 10.0, 500.0, 2.0, 30_000.0]);
        for extended in [
            SharedLimits {
                input_tokens: rate,
                ..old
            },
            SharedLimits {
                output_tokens: rate,
                ..old
            },
            SharedLimits {
                tokens_per_day: rate,
                ..old
            },
        ] {
            let prepared = PreparedLimit::new(keys.clone(), extended);
            assert!(prepared.extended);
            let numbers = prepared.admit_numbers(TokenCounts::combined(1), TTL);
            assert_eq!(numbers.as_bytes().len(), 15 * 8);
        }
    }
}
