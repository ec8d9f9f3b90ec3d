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
//! - A lease is settled at once (before the next admission: refund or debt,
//!   chosen per dimension), late (a refund at the first step 0.2–2.5 s
//!   later, so its reservation has often partly or wholly drained out of
//!   the bucket and later admissions fill it), or kept open with exactly
//!   what it reserved until the end of the sequence (holding a concurrency
//!   slot). A late refund that gave
//!   back more than is still in the bucket would hand later admissions'
//!   capacity out again, and show here as an over-admission;
//!   `late_refund_cannot_admit_290_tokens_in_a_second` is that case alone.
//!
//! `late_refunds_never_admit_more_than_amount_plus_burst_in_any_window` runs
//! the same check on scenarios of the shape that over-admitted (late
//! settles of drained reservations into a refilled bucket), which random
//! quotas on every dimension seldom line up; against the scripts from
//! before refund stamps it failed (1,586 tokens in one period of a quota
//! of 876 per second, burst 700: its seed is kept).
//!
//! Each case talks to Redis for one to a few seconds, so there are few
//! cases (24 and 12; `PROPTEST_CASES` overrides). Failures are kept in
//! `proptest-regressions/quota_properties.txt` and
//! `quota_properties_late.txt` and replayed first.

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
    /// Settled with this share (at most what was reserved) at the first
    /// step at least `after_ms` later: a late settle, often after the
    /// reservation drained out of the bucket.
    Late {
        after_ms: u64,
        input: u64,
        output: u64,
    },
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
        2 => (0u64..=2_000, 0u64..=2_000).prop_map(|(input, output)| End::Settle { input, output }),
        // Late ones give back (at most what was reserved): a late refund is
        // what could over-admit.
        3 => (200u64..=2_500, 0u64..=1_000, 0u64..=1_000)
            .prop_map(|(after_ms, input, output)| End::Late { after_ms, input, output }),
        1 => Just(End::Keep),
    ]
}

/// Mostly short pauses; now and then one of half a period or more, so that
/// reservations drain out of their buckets before a late settle.
fn gap_ms() -> impl Strategy<Value = u64> {
    prop_oneof![9 => 0u64..150, 1 => 500u64..1_200]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let step =
        (gap_ms(), 0u64..600, 0u64..400, end()).prop_map(|(gap_ms, input, output, end)| Step {
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

/// The shape of the over-admission a refund of drained tokens makes, with
/// random sizes and timing: one tokens quota per second; one to three
/// admissions that will end late having used little; a pause in which they
/// drain out of the bucket; then admissions that use all they reserve,
/// filling the bucket again, among which the late ones settle. The random
/// quotas of `scenario` seldom line these up within one period.
fn late_refunds() -> impl Strategy<Value = Scenario> {
    (300u64..1_000, 30u64..=100).prop_flat_map(|(amount, burst_pct)| {
        let burst = (amount * burst_pct / 100).max(4);
        let early = (
            0u64..50,
            burst / 4..=burst / 2,
            1_100u64..=1_400,
            0u64..=300,
        )
            .prop_map(|(gap_ms, input, after_ms, share)| Step {
                gap_ms,
                input,
                output: 0,
                end: End::Late {
                    after_ms,
                    input: share,
                    output: share,
                },
            });
        let fill = (0u64..120, burst / 4..=burst / 2).prop_map(|(gap_ms, input)| Step {
            gap_ms,
            input,
            output: 0,
            end: End::Settle {
                input: 1_000,
                output: 1_000,
            },
        });
        (
            proptest::collection::vec(early, 1..=3),
            1_000u64..=1_200,
            proptest::collection::vec(fill, 6..20),
        )
            .prop_map(move |(early, pause_ms, mut fill)| {
                fill[0].gap_ms = pause_ms;
                Scenario {
                    requests: None,
                    tokens: Some(Quota::per(amount, Duration::from_secs(1)).with_burst(burst)),
                    input_tokens: None,
                    output_tokens: None,
                    tokens_per_day: None,
                    max_concurrent: None,
                    steps: early.into_iter().chain(fill).collect(),
                }
            })
    })
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
    // Late settles: (when they are due, lease, actual use).
    let mut late: Vec<(Instant, Lease, TokenCounts)> = Vec::new();
    for step in &s.steps {
        tokio::time::sleep(Duration::from_millis(step.gap_ms)).await;
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = late.into_iter().partition(|(due, ..)| *due <= now);
        late = later;
        for (_, lease, actual) in due {
            store
                .settle(key, &limits, lease, actual)
                .await
                .map_err(|e| TestCaseError::fail(format!("late settle: {e}")))?;
        }
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
            let held = kept.len() + late.len();
            prop_assert!(
                held < cap as usize,
                "admitted with {held} leases held of a cap of {cap}"
            );
        }
        let share = |input: u64, output: u64| {
            let input = step.input * input / 1_000;
            let output = step.output * output / 1_000;
            TokenCounts {
                tokens: input + output,
                input,
                output,
            }
        };
        match step.end {
            End::Late {
                after_ms,
                input,
                output,
            } => {
                let actual = share(input, output);
                late.push((answered + Duration::from_millis(after_ms), lease, actual));
                admitted.push(Admitted {
                    sent,
                    answered,
                    used: at_most(reserved, actual),
                });
            }
            End::Settle { input, output } => {
                let actual = share(input, output);
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
    for (_, lease, actual) in late {
        store
            .settle(key, &limits, lease, actual)
            .await
            .map_err(|e| TestCaseError::fail(format!("late settle: {e}")))?;
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

/// Runs `cases` (or `PROPTEST_CASES`) scenarios of `strategy` against a
/// fresh limit each, asserting that no dimension admits more than
/// `amount + burst` within one period. Failures go to `regressions`.
fn check_windows(
    name: &str,
    strategy: impl Strategy<Value = Scenario>,
    cases: u32,
    regressions: &'static str,
) {
    let Some(server) = RedisServer::start_or_skip(name) else {
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
        .unwrap_or(cases);
    let mut runner = TestRunner::new(Config {
        cases,
        // Each case takes seconds of real time: keep shrinking short.
        max_shrink_iters: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    });
    let case = AtomicU64::new(0);
    let result = runner.run(&strategy, |s| {
        // A fresh limit per case (and per shrinking step).
        let key = format!("{name}-{}", case.fetch_add(1, Ordering::Relaxed));
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

#[test]
fn no_dimension_admits_more_than_amount_plus_burst_in_any_window() {
    check_windows(
        "no_dimension_admits_more_than_amount_plus_burst",
        scenario(),
        24,
        "proptest-regressions/quota_properties.txt",
    );
}

#[test]
fn late_refunds_never_admit_more_than_amount_plus_burst_in_any_window() {
    check_windows(
        "late_refunds_never_admit_more",
        late_refunds(),
        12,
        "proptest-regressions/quota_properties_late.txt",
    );
}

/// The over-admission of issue 16 by hand: a call settled after its
/// reservation drained out of the bucket must not give back capacity that a
/// later admission is using. With a refund bounded only by what the bucket
/// holds, A's 100 came back out of B's, and B, C and D took 290 tokens
/// within one second of a quota of 100 per second with a burst of 100.
#[test]
fn late_refund_cannot_admit_290_tokens_in_a_second() {
    let Some(server) = RedisServer::start_or_skip("late_refund_cannot_admit_290_tokens") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = RedisConfig::with_url(server.url()).on_unavailable(FailurePolicy::FailClosed);
        let store = RedisLimitStore::new(RedisConnection::connect(config).await.unwrap());
        let quota = Quota::per(100, Duration::from_secs(1)).with_burst(100);
        let limits = StoreLimits {
            requests: None,
            tokens: Some(quota),
            input_tokens: None,
            output_tokens: None,
            tokens_per_day: None,
            max_concurrent: None,
            rate_fraction: 1.0,
            lease_ttl: Duration::from_secs(30),
        };
        let key = "late-refund";
        let mut admitted = Vec::new();
        let reserve = async |tokens: u64, admitted: &mut Vec<Admitted>| {
            let sent = Instant::now();
            let answer = store
                .try_reserve(key, &limits, TokenCounts::combined(tokens))
                .await
                .unwrap();
            let answered = Instant::now();
            match answer {
                Reservation::Admitted(lease) => {
                    admitted.push(Admitted {
                        sent,
                        answered,
                        used: lease.tokens,
                    });
                    Some(lease)
                }
                Reservation::NotBefore { .. } => None,
            }
        };
        let a = reserve(100, &mut Vec::new())
            .await
            .expect("A fits an empty bucket");
        // A's reservation drains out of the bucket (1 s), B's fills it.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        reserve(100, &mut admitted)
            .await
            .expect("B fits a drained bucket");
        // A ends having used nothing: none of its tokens is still due.
        let settled = store
            .settle(key, &limits, a, TokenCounts::ZERO)
            .await
            .unwrap();
        assert_eq!(settled.refunded, 0, "A's reservation drained a while ago");
        tokio::time::sleep(Duration::from_millis(20)).await;
        reserve(100, &mut admitted).await;
        tokio::time::sleep(Duration::from_millis(930)).await;
        reserve(90, &mut admitted).await;
        let most = busiest_window(&admitted, quota.period, |a| a.used.tokens);
        assert!(
            most <= quota.amount + quota.burst(),
            "{most} tokens admitted within one second of {quota:?}"
        );
    });
}
