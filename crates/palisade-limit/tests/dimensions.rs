//! Every token dimension (combined tokens, input tokens, output tokens,
//! tokens per day) beside requests and concurrency, on paused tokio time.
//!
//! The property: for random quotas on every dimension and random requests
//! (input, output and combined counts, each settled at random at or below
//! its reservation, or dropped),
//!
//! (a) what each dimension finally counted (the settled counts; nothing for
//!     a dropped permit, which refunds whole), summed over the admissions
//!     in any window of its period, never exceeds `amount + burst`, whatever
//!     the other dimensions do (overruns, which no limiter can prevent, are
//!     debt: `properties.rs` checks that debt leaks nothing);
//! (b) a refusal consumes nothing: every dimension's availability is the
//!     same just before and just after it;
//! (c) once everything is settled and time has passed, every dimension is
//!     full again (nothing leaked).

use std::time::Duration;

use palisade_core::http::{RateLimitSnapshot, RateLimitWindow};
use palisade_limit::{
    Cost, LimitError, LimitKind, Limiter, LimiterConfig, LimiterStats, Permit, Quota, TokenCounts,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tokio::time::Instant;

fn cost(tokens: u64, input: u64, output: u64) -> Cost {
    Cost {
        tokens,
        input_tokens: input,
        output_tokens: output,
        ..Cost::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Every dimension's availability, in one comparable value.
fn availability(stats: &LimiterStats) -> [Option<i64>; 5] {
    [
        stats.requests_available,
        stats.tokens_available,
        stats.input_tokens_available,
        stats.output_tokens_available,
        stats.tokens_per_day_available,
    ]
}

fn all_dimensions() -> LimiterConfig {
    LimiterConfig::named("split")
        .with_requests(Quota::per_minute(100))
        .with_tokens(Quota::per_minute(10_000))
        .with_input_tokens(Quota::per_minute(6_000))
        .with_output_tokens(Quota::per_minute(1_000))
        .with_tokens_per_day(Quota::per_day(50_000))
}

#[test]
fn each_dimension_refuses_alone_and_consumes_nothing_from_the_others() {
    runtime().block_on(async {
        // Each cost fits every dimension but one.
        let cases = [
            (cost(10_001, 0, 0), LimitKind::Tokens),
            (cost(100, 6_001, 0), LimitKind::InputTokens),
            (cost(100, 0, 1_001), LimitKind::OutputTokens),
        ];
        for (over, kind) in cases {
            let limiter = Limiter::new(all_dimensions()).unwrap();
            // A first admission leaves every bucket partly used, so the
            // refusal below is about room now, not about the burst.
            let held = limiter.try_acquire(cost(1, 1, 1)).unwrap();
            let before = availability(&limiter.stats());
            match limiter.try_acquire(over) {
                Err(LimitError::CostExceedsCapacity { limit, .. }) => assert_eq!(limit, kind),
                other => panic!("expected {kind} to refuse, got {other:?}"),
            }
            assert_eq!(availability(&limiter.stats()), before, "{kind}");
            drop(held);
        }
        // Room, not capacity: fill the output bucket, then an output-heavy
        // request waits on it while the others have room.
        let limiter = Limiter::new(all_dimensions()).unwrap();
        let _held = limiter.try_acquire(cost(1_000, 0, 900)).unwrap();
        let before = availability(&limiter.stats());
        match limiter.try_acquire(cost(500, 400, 200)) {
            Err(LimitError::RateLimited {
                limit, retry_after, ..
            }) => {
                assert_eq!(limit, LimitKind::OutputTokens);
                assert!(retry_after.is_some());
            }
            other => panic!("expected the output quota to refuse, got {other:?}"),
        }
        assert_eq!(availability(&limiter.stats()), before);
    });
}

#[test]
fn the_daily_quota_binds_after_the_minute_quotas_refill() {
    runtime().block_on(async {
        let limiter = Limiter::new(
            LimiterConfig::named("daily")
                .with_tokens(Quota::per_minute(1_000))
                .with_tokens_per_day(Quota::per_day(2_500)),
        )
        .unwrap();
        for _ in 0..2 {
            limiter
                .try_acquire(cost(1_000, 0, 0))
                .unwrap()
                .settle_tokens(1_000);
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        limiter
            .try_acquire(cost(500, 0, 0))
            .unwrap()
            .settle_tokens(500);
        tokio::time::advance(Duration::from_secs(60)).await;
        match limiter.try_acquire(cost(1_000, 0, 0)) {
            Err(LimitError::RateLimited {
                limit, retry_after, ..
            }) => {
                assert_eq!(limit, LimitKind::TokensPerDay);
                // 1,000 tokens of a 2,500-a-day quota refill in 9.6 hours,
                // less the 3 minutes already passed.
                let wait = retry_after.unwrap().as_secs_f64();
                assert!((wait - (9.6 * 3_600.0 - 180.0)).abs() < 1.0, "{wait}");
            }
            other => panic!("expected the daily quota to refuse, got {other:?}"),
        }
        // What refilled in the last three minutes: 2,500 × 180 / 86,400.
        assert_eq!(limiter.stats().tokens_per_day_available, Some(5));
    });
}

#[test]
fn settling_refunds_and_charges_each_dimension_by_its_own_count() {
    runtime().block_on(async {
        let limiter = Limiter::new(all_dimensions()).unwrap();
        let permit = limiter.try_acquire(cost(3_000, 2_000, 800)).unwrap();
        let stats = limiter.stats();
        assert_eq!(stats.input_tokens_available, Some(4_000));
        assert_eq!(stats.output_tokens_available, Some(200));
        // Output ran 100 over its reservation; input used half.
        let settled = permit.settle_counts(TokenCounts {
            tokens: 1_900,
            input: 1_000,
            output: 900,
        });
        assert_eq!(settled.refunded, 1_100);
        let stats = limiter.stats();
        assert_eq!(stats.tokens_available, Some(10_000 - 1_900));
        assert_eq!(stats.input_tokens_available, Some(6_000 - 1_000));
        assert_eq!(stats.output_tokens_available, Some(1_000 - 900));
        assert_eq!(stats.tokens_per_day_available, Some(50_000 - 1_900));
    });
}

#[test]
fn settle_tokens_keeps_the_split_dimensions_reserved_and_a_drop_refunds_them() {
    runtime().block_on(async {
        let limiter = Limiter::new(all_dimensions()).unwrap();
        limiter
            .try_acquire(cost(3_000, 2_000, 800))
            .unwrap()
            .settle_tokens(1_000);
        let stats = limiter.stats();
        assert_eq!(stats.tokens_available, Some(9_000));
        assert_eq!(stats.input_tokens_available, Some(4_000));
        assert_eq!(stats.output_tokens_available, Some(200));
        let limiter = Limiter::new(all_dimensions()).unwrap();
        drop(limiter.try_acquire(cost(3_000, 2_000, 800)).unwrap());
        // Every token comes back; the request stays counted.
        let full = availability(&Limiter::new(all_dimensions()).unwrap().stats());
        assert_eq!(availability(&limiter.stats())[1..], full[1..]);
    });
}

#[test]
fn split_rate_limit_headers_steer_their_own_buckets() {
    runtime().block_on(async {
        let limiter = Limiter::new(all_dimensions()).unwrap();
        let window = |remaining| RateLimitWindow {
            limit: None,
            remaining: Some(remaining),
            reset: Some(Duration::from_secs(30)),
        };
        limiter.observe_rate_limit(&RateLimitSnapshot {
            input_tokens: window(2_500),
            output_tokens: window(300),
            ..RateLimitSnapshot::default()
        });
        let stats = limiter.stats();
        assert_eq!(stats.input_tokens_available, Some(2_500));
        assert_eq!(stats.output_tokens_available, Some(300));
        // Without a combined window the combined bucket believes the
        // tightest split one.
        assert_eq!(stats.tokens_available, Some(300));
        match limiter.try_acquire(cost(400, 100, 100)) {
            Err(LimitError::RateLimited { limit, .. }) => assert_eq!(limit, LimitKind::Tokens),
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
}

#[test]
fn tokens_per_day_reads_as_a_bare_amount_or_a_table_with_a_day_default() {
    let config: LimiterConfig = toml::from_str("tokens_per_day = 2000000\n").unwrap();
    assert_eq!(config.tokens_per_day, Some(Quota::per_day(2_000_000)));
    let config: LimiterConfig =
        toml::from_str("[tokens_per_day]\namount = 500\nburst = 100\n").unwrap();
    assert_eq!(
        config.tokens_per_day,
        Some(Quota::per_day(500).with_burst(100))
    );
    let config: LimiterConfig = toml::from_str(
        "[input_tokens]\namount = 40000\n[output_tokens]\namount = 8000\nperiod = \"30s\"\n",
    )
    .unwrap();
    assert_eq!(config.input_tokens, Some(Quota::per_minute(40_000)));
    assert_eq!(
        config.output_tokens,
        Some(Quota::per(8_000, Duration::from_secs(30)))
    );
    let text = toml::to_string(&config.clone().with_tokens_per_day(Quota::per_day(9))).unwrap();
    let back: LimiterConfig = toml::from_str(&text).unwrap();
    assert_eq!(back.tokens_per_day, Some(Quota::per_day(9)));
    assert_eq!(back.output_tokens, config.output_tokens);
    let err = toml::from_str::<LimiterConfig>("tokens_per_day = \"lots\"\n").unwrap_err();
    assert!(err.to_string().contains("amount of tokens"), "{err}");
    let err = LimiterConfig::default()
        .with_output_tokens(Quota::per_minute(0))
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("output_tokens"), "{err}");
}

/// What one step of the property's schedule does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Try to admit a request of these counts.
    Admit {
        tokens: u64,
        input: u64,
        output: u64,
    },
    /// Settle the oldest held permit: each count is this share (per mille)
    /// of its reservation.
    Settle {
        tokens: u32,
        input: u32,
        output: u32,
    },
    /// Drop the oldest held permit unsettled.
    Drop,
}

#[derive(Debug, Clone)]
struct Schedule {
    requests: Option<Quota>,
    quotas: [Option<Quota>; 4],
    /// (gap before, step).
    steps: Vec<(u64, Step)>,
}

fn quota(
    amount: std::ops::Range<u64>,
    periods: std::ops::RangeInclusive<u64>,
) -> impl Strategy<Value = Quota> {
    (amount, periods, 1u64..=100).prop_map(|(amount, period_s, burst_pct)| {
        Quota::per(amount, Duration::from_secs(period_s))
            .with_burst((amount * burst_pct / 50).max(1))
    })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let step = prop_oneof![
        4 => (0u64..3_000, 0u64..2_000, 0u64..800)
            .prop_map(|(tokens, input, output)| Step::Admit { tokens, input, output }),
        3 => (0u32..=1_000, 0u32..=1_000, 0u32..=1_000)
            .prop_map(|(tokens, input, output)| Step::Settle { tokens, input, output }),
        1 => Just(Step::Drop),
    ];
    (
        proptest::option::weighted(0.5, quota(1..30, 1..=60)),
        proptest::option::weighted(0.7, quota(500..6_000, 1..=60)),
        proptest::option::weighted(0.7, quota(300..4_000, 1..=60)),
        proptest::option::weighted(0.7, quota(100..2_000, 1..=60)),
        proptest::option::weighted(0.5, quota(2_000..20_000, 120..=86_400)),
        proptest::collection::vec(
            (prop_oneof![3 => 0u64..2_000, 1 => 0u64..20_000], step),
            1..120,
        ),
    )
        .prop_map(|(requests, tokens, input, output, daily, steps)| Schedule {
            requests,
            quotas: [tokens, input, output, daily],
            steps,
        })
}

/// An admission as the test saw it: when, and what it finally counted.
#[derive(Debug, Clone, Copy)]
struct Counted {
    at: Instant,
    counts: TokenCounts,
}

/// The largest total over windows `[t, t + period)` starting at an admission.
fn max_window(admitted: &[Counted], period: Duration, count: impl Fn(&TokenCounts) -> u64) -> u64 {
    admitted
        .iter()
        .map(|start| {
            admitted
                .iter()
                .filter(|a| a.at >= start.at && a.at < start.at + period)
                .map(|a| count(&a.counts))
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}

fn share(reserved: u64, per_mille: u32) -> u64 {
    reserved * u64::from(per_mille) / 1_000
}

fn run(s: &Schedule) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        let mut config = LimiterConfig::named("prop");
        config.requests = s.requests;
        [
            config.tokens,
            config.input_tokens,
            config.output_tokens,
            config.tokens_per_day,
        ] = s.quotas;
        let limiter = Limiter::new(config).unwrap();
        let mut admitted: Vec<Counted> = Vec::new();
        let mut held: std::collections::VecDeque<(usize, Permit)> = Default::default();
        for (gap_ms, step) in &s.steps {
            tokio::time::advance(Duration::from_millis(*gap_ms)).await;
            match *step {
                Step::Admit {
                    tokens,
                    input,
                    output,
                } => {
                    let before = availability(&limiter.stats());
                    match limiter.try_acquire(cost(tokens, input, output)) {
                        Ok(permit) => {
                            admitted.push(Counted {
                                at: Instant::now(),
                                counts: TokenCounts::ZERO,
                            });
                            held.push_back((admitted.len() - 1, permit));
                        }
                        Err(
                            LimitError::RateLimited { .. } | LimitError::CostExceedsCapacity { .. },
                        ) => {
                            prop_assert_eq!(
                                availability(&limiter.stats()),
                                before,
                                "a refusal consumed"
                            );
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
                    }
                }
                Step::Settle {
                    tokens,
                    input,
                    output,
                } => {
                    if let Some((i, permit)) = held.pop_front() {
                        let r = permit.cost();
                        let counts = TokenCounts {
                            tokens: share(r.tokens, tokens),
                            input: share(r.input_tokens, input),
                            output: share(r.output_tokens, output),
                        };
                        admitted[i].counts = counts;
                        permit.settle_counts(counts);
                    }
                }
                Step::Drop => drop(held.pop_front()),
            }
        }
        for (i, permit) in held.drain(..) {
            let r = permit.cost();
            admitted[i].counts = r.counts();
            permit.settle_counts(r.counts());
        }
        // (a) per dimension; the daily bucket counts the combined tokens.
        type Dimension = (Option<Quota>, fn(&TokenCounts) -> u64);
        let dims: [Dimension; 4] = [
            (s.quotas[0], |c| c.tokens),
            (s.quotas[1], |c| c.input),
            (s.quotas[2], |c| c.output),
            (s.quotas[3], |c| c.tokens),
        ];
        for (i, (q, count)) in dims.into_iter().enumerate() {
            if let Some(q) = q {
                let most = max_window(&admitted, q.period, count);
                prop_assert!(
                    most <= q.amount + q.burst(),
                    "dimension {i}: {most} counted in a window of {q:?}"
                );
            }
        }
        if let Some(q) = s.requests {
            let most = max_window(&admitted, q.period, |_| 1);
            prop_assert!(
                most <= q.amount + q.burst(),
                "{most} requests in a window of {q:?}"
            );
        }
        // (c) nothing leaked: after long enough, every bucket is full.
        tokio::time::advance(Duration::from_secs(10 * 86_400)).await;
        let stats = limiter.stats();
        let full = |q: Option<Quota>| q.map(|q| q.burst() as i64);
        prop_assert_eq!(
            availability(&stats),
            [
                full(s.requests),
                full(s.quotas[0]),
                full(s.quotas[1]),
                full(s.quotas[2]),
                full(s.quotas[3]),
            ]
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/dimensions.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// (a), (b), (c) for every dimension at once.
    #[test]
    fn no_dimension_over_admits_and_a_refusal_consumes_nothing(s in schedule()) {
        run(&s)?;
    }
}
