//! Property test against a real `redis-server`: for random quotas on every
//! dimension (requests, tokens, input tokens, output tokens, tokens per day,
//! concurrency) and random sequences of admissions and settles through
//! `RedisLimitStore`, no dimension ever admits more than `amount + burst`
//! in any window of one period, and leases never exceed the cap.
//!
//! What exactly is asserted, and why it is sound on a server's wall clock:
//!
//! - Time is the server's (`TIME` in the scripts), which paused tokio time
//!   cannot drive, so quotas are per 1–2 s and the test runs in real time.
//!   The test does not read the server's clock: each admission happened
//!   somewhere between the moment its `EVALSHA` was sent and the moment its
//!   reply came back, and the calls go one at a time, so their order is the
//!   server's. Admissions `i..=k` with `reply(k) - sent(i) <= period` were
//!   all made within one period of server time; the sum over every such run
//!   is checked. (Windows are therefore narrower than a period by a round
//!   trip: the check never fails because of timing, and misses nothing an
//!   over-admission of a whole burst would show.)
//! - What an admission counts in a dimension is what it finally used there,
//!   never more than it reserved: `min(reserved, actual)`. Refunds give
//!   capacity back, so counting reservations would be wrong; debt (an
//!   overrun) is charged on settle and paid back by later admissions, and
//!   is not counted against the admission that ran over (it is, however,
//!   in the bucket: it delays the admissions after it).
//! - A lease is settled either at once (before the next admission: refund
//!   or debt, chosen per dimension) or kept open with exactly what it
//!   reserved until the end of the sequence (holding a concurrency slot).
//!   Refunds therefore always come back to the bucket they were taken from
//!   with nothing admitted in between, which is when `settle.lua`'s refund
//!   ("at most what the bucket holds") equals the exact one ("as if only the
//!   actual cost had been reserved"). A refund that arrives after other
//!   admissions and a drained bucket can give back capacity that the later
//!   admissions are using; this test does not exercise that, see
//!   `docs/redis.md`.
//!
//! Each case talks to Redis for one to two seconds, so there are few cases
//! (24; `PROPTEST_CASES` overrides). Failures are kept in
//! `proptest-regressions/quota_properties.txt` and replayed first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_limit::{
    Lease, LimitKind, LimitStore, Quota, Reservation, StoreError, StoreLimits, TokenCounts,
};
use palisade_redis::testing::RedisServer;
use palisade_redis::{FailurePolicy, RedisConfig, RedisConnection, RedisLimitStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use tokio::time::Instant;

/// How an admitted request ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Settled at once with this share (per mille) of its input and of its
    /// output reservation; above 1000 is an overrun (debt).
    Settle { input: u64, output: u64 },
    /// Kept open, settled with exactly what it reserved after the last step.
    Keep,
}

#[derive(Debug, Clone)]
struct Step {
    /// Pause before the admission.
    gap_ms: u64,
    input: u64,
    output: u64,
    end: End,
}

#[derive(Debug, Clone)]
struct Scenario {
    requests: Option<Quota>,
    tokens: Option<Quota>,
    input_tokens: Option<Quota>,
    output_tokens: Option<Quota>,
    tokens_per_day: Option<Quota>,
    max_concurrent: Option<u32>,
    steps: Vec<Step>,
}

impl Scenario {
    fn limits(&self) -> StoreLimits {
        StoreLimits {
            requests: self.requests,
            tokens: self.tokens,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            tokens_per_day: self.tokens_per_day,
            max_concurrent: self.max_concurrent,
            rate_fraction: 1.0,
            lease_ttl: Duration::from_secs(30),
        }
    }

    /// Every limited quota with what an admission counts against it.
    fn quotas(&self) -> Vec<(LimitKind, Quota, Count)> {
        let all: [(LimitKind, Option<Quota>, Count); 5] = [
            (LimitKind::Requests, self.requests, |_| 1),
            (LimitKind::Tokens, self.tokens, |a| a.used.tokens),
            (LimitKind::InputTokens, self.input_tokens, |a| a.used.input),
            (LimitKind::OutputTokens, self.output_tokens, |a| {
                a.used.output
            }),
            (LimitKind::TokensPerDay, self.tokens_per_day, |a| {
                a.used.tokens
            }),
        ];
        all.into_iter()
            .filter_map(|(kind, quota, count)| quota.map(|q| (kind, q, count)))
            .collect()
    }
}

/// What an admission counts against one dimension.
type Count = fn(&Admitted) -> u64;

/// A quota per 1–2 s of `amount` with a burst of 10–150 % of it.
fn quota(amount: std::ops::Range<u64>) -> impl Strategy<Value = Quota> {
    (amount, 1_000u64..=2_000, 10u64..=150).prop_map(|(amount, period_ms, burst_pct)| {
        Quota::per(amount, Duration::from_millis(period_ms))
            .with_burst((amount * burst_pct / 100).max(1))
    })
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        3 => (0u64..=2_000, 0u64..=2_000).prop_map(|(input, output)| End::Settle { input, output }),
        1 => Just(End::Keep),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let step =
        (0u64..150, 0u64..600, 0u64..400, end()).prop_map(|(gap_ms, input, output, end)| Step {
            gap_ms,
            input,
            output,
            end,
        });
    (
        proptest::option::weighted(0.7, quota(3..20)),
        proptest::option::weighted(0.7, quota(300..2_000)),
        proptest::option::weighted(0.7, quota(200..1_500)),
        proptest::option::weighted(0.7, quota(100..1_000)),
        proptest::option::weighted(0.7, quota(400..3_000)),
        proptest::option::weighted(0.5, 1u32..5),
        proptest::collection::vec(step, 8..30),
    )
        .prop_map(
            |(
                requests,
                tokens,
                input_tokens,
                output_tokens,
                tokens_per_day,
                max_concurrent,
                steps,
            )| {
                Scenario {
                    requests,
                    tokens,
                    input_tokens,
                    output_tokens,
                    tokens_per_day,
                    max_concurrent,
                    steps,
                }
            },
        )
}

/// One admission as the test saw it.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    /// When its `EVALSHA` was sent, and when the reply came back.
    sent: Instant,
    answered: Instant,
    /// What it finally used, never above what it reserved.
    used: TokenCounts,
}

/// `used` of `reserved` after a settle at `actual`, per dimension.
fn at_most(reserved: TokenCounts, actual: TokenCounts) -> TokenCounts {
    reserved.saturating_sub(reserved.saturating_sub(actual))
}

/// Runs `s` against `store` under `key`; the admissions in server order.
async fn run(
    store: &RedisLimitStore,
    key: &str,
    s: &Scenario,
) -> Result<Vec<Admitted>, TestCaseError> {
    let limits = s.limits();
    let mut admitted = Vec::new();
    let mut kept: Vec<Lease> = Vec::new();
    for step in &s.steps {
        tokio::time::sleep(Duration::from_millis(step.gap_ms)).await;
        let reserved = TokenCounts {
            tokens: step.input + step.output,
            input: step.input,
            output: step.output,
        };
        let sent = Instant::now();
        let answer = store.try_reserve(key, &limits, reserved).await;
        let answered = Instant::now();
        let lease = match answer {
            Ok(Reservation::Admitted(lease)) => lease,
            Ok(Reservation::NotBefore { limit, retry_after }) => {
                let named = s.quotas().iter().any(|(kind, ..)| *kind == limit)
                    || (limit == LimitKind::Concurrency && s.max_concurrent.is_some());
                prop_assert!(named, "refused by {limit}, which is not limited");
                prop_assert!(retry_after > Duration::ZERO || limit == LimitKind::Concurrency);
                continue;
            }
            // A cost above a burst is never admitted: check that it was.
            Err(StoreError::Protocol { message, .. }) => {
                let limits = s.limits();
                let over = |q: Option<Quota>, n: u64| q.is_some_and(|q| n > q.burst());
                prop_assert!(
                    over(limits.tokens, reserved.tokens)
                        || over(limits.input_tokens, reserved.input)
                        || over(limits.output_tokens, reserved.output)
                        || over(limits.tokens_per_day, reserved.tokens),
                    "refused as impossible but fits every burst: {message}"
                );
                continue;
            }
            Err(err) => return Err(TestCaseError::fail(format!("store error: {err}"))),
        };
        if let Some(cap) = s.max_concurrent {
            prop_assert!(
                kept.len() < cap as usize,
                "admitted with {} leases kept of a cap of {cap}",
                kept.len()
            );
        }
        match step.end {
            End::Settle { input, output } => {
                let input = step.input * input / 1_000;
                let output = step.output * output / 1_000;
                let actual = TokenCounts {
                    tokens: input + output,
                    input,
                    output,
                };
                store
                    .settle(key, &limits, lease, actual)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("settle: {e}")))?;
                admitted.push(Admitted {
                    sent,
                    answered,
                    used: at_most(reserved, actual),
                });
            }
            End::Keep => {
                kept.push(lease);
                admitted.push(Admitted {
                    sent,
                    answered,
                    used: reserved,
                });
            }
        }
    }
    for lease in kept {
        let reserved = lease.tokens;
        store
            .settle(key, &limits, lease, reserved)
            .await
            .map_err(|e| TestCaseError::fail(format!("settle: {e}")))?;
    }
    Ok(admitted)
}

/// The largest total of `count` over runs of admissions surely made within
/// one `period` of each other (see the module docs).
fn busiest_window(admitted: &[Admitted], period: Duration, count: Count) -> u64 {
    (0..admitted.len())
        .map(|i| {
            admitted[i..]
                .iter()
                .take_while(|a| a.answered.duration_since(admitted[i].sent) <= period)
                .map(count)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn no_dimension_admits_more_than_amount_plus_burst_in_any_window() {
    let Some(server) =
        RedisServer::start_or_skip("no_dimension_admits_more_than_amount_plus_burst")
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(async {
        let config = RedisConfig::with_url(server.url()).on_unavailable(FailurePolicy::FailClosed);
        let store = RedisLimitStore::new(RedisConnection::connect(config).await.unwrap());
        store.preload().await.unwrap();
        store
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        // Each case takes seconds of real time: keep shrinking short.
        max_shrink_iters: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/quota_properties.txt",
        ))),
        ..Config::default()
    });
    let case = AtomicU64::new(0);
    let result = runner.run(&scenario(), |s| {
        // A fresh limit per case (and per shrinking step).
        let key = format!("prop-{}", case.fetch_add(1, Ordering::Relaxed));
        let admitted = runtime.block_on(run(&store, &key, &s))?;
        for (kind, q, count) in s.quotas() {
            let most = busiest_window(&admitted, q.period, count);
            prop_assert!(
                most <= q.amount + q.burst(),
                "{most} {kind} admitted within one period of {q:?}"
            );
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
