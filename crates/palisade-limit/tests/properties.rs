//! Property tests: for random quotas, arrival schedules, costs, priorities,
//! settle outcomes and cancellations, on paused tokio time:
//!
//! (a) the cost admitted in any window of a quota's period never exceeds
//!     `amount + burst`;
//! (b) requests in flight never exceed the concurrency cap;
//! (c) once every permit is settled or dropped, the limiter returns to full
//!     capacity (no leaked reservation, slot or queue entry);
//! (d) cancelling waiting and admitted futures at random leaks nothing;
//! (e) with random provider rate-limit reports (any limit, remaining and
//!     reset, stale or not) calibrating the limiter meanwhile, (a) and (b)
//!     still hold: calibration never admits more than the configured limits.
//!
//! And: with only a requests quota, the limiter decides exactly like
//! governor's GCRA on the same quota.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::Priority;
use palisade_core::http::{RateLimitSnapshot, RateLimitWindow};
use palisade_limit::{Cost, LimitError, Limiter, LimiterConfig, Quota};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tokio::time::Instant;

/// How a request ends once admitted.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Settle with this share (per mille) of the reservation.
    Settle(u32),
    /// Settle with more than reserved (per mille above 1000: overrun).
    Overrun(u32),
    /// Drop the permit unsettled.
    Drop,
    /// The caller's task is aborted while it holds the permit.
    Abort,
}

#[derive(Debug, Clone)]
struct Request {
    arrive_ms: u64,
    tokens: u64,
    priority: Priority,
    hold_ms: u64,
    end: End,
    /// Give up waiting after this long (a cancelled waiting future).
    cancel_wait_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct Scenario {
    requests: Option<Quota>,
    tokens: Option<Quota>,
    max_concurrent: Option<u32>,
    load: Vec<Request>,
    /// Provider reports fed to the limiter: (at ms, snapshot).
    reports: Vec<(u64, RateLimitSnapshot)>,
}

fn window() -> impl Strategy<Value = RateLimitWindow> {
    (
        proptest::option::of(0u64..3_000),
        proptest::option::of(0u64..3_000),
        proptest::option::of(0u64..120_000),
    )
        .prop_map(|(limit, remaining, reset_ms)| RateLimitWindow {
            limit,
            remaining,
            reset: reset_ms.map(Duration::from_millis),
        })
}

fn snapshot() -> impl Strategy<Value = RateLimitSnapshot> {
    (
        window(),
        window(),
        proptest::option::weighted(0.2, window()),
        proptest::option::weighted(0.2, window()),
    )
        .prop_map(|(requests, tokens, input, output)| RateLimitSnapshot {
            requests,
            tokens,
            input_tokens: input.unwrap_or_default(),
            output_tokens: output.unwrap_or_default(),
        })
}

/// A scenario with provider reports arriving over its first minutes.
fn reported_scenario() -> impl Strategy<Value = Scenario> {
    (
        scenario(false),
        proptest::collection::vec((0u64..200_000, snapshot()), 1..12),
    )
        .prop_map(|(mut s, reports)| {
            s.reports = reports;
            s
        })
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![
        Just(Priority::Low),
        Just(Priority::Normal),
        Just(Priority::High),
        Just(Priority::Critical),
    ]
}

fn quota(amount: std::ops::Range<u64>) -> impl Strategy<Value = Quota> {
    (amount, 1u64..=60, 1u64..=100).prop_map(|(amount, period_s, burst_pct)| {
        let burst = (amount * burst_pct / 50).max(1);
        Quota::per(amount, Duration::from_secs(period_s)).with_burst(burst)
    })
}

fn scenario(overruns: bool) -> impl Strategy<Value = Scenario> {
    (
        proptest::option::weighted(0.7, quota(1..20)),
        proptest::option::weighted(0.8, quota(100..5_000)),
        proptest::option::weighted(0.6, 1u32..6),
    )
        .prop_flat_map(move |(requests, tokens, max_concurrent)| {
            let max_cost = tokens.map_or(1_000, |q| q.burst() + q.burst() / 10 + 1);
            let end = if overruns {
                prop_oneof![
                    (0u32..=1000).prop_map(End::Settle),
                    (1001u32..=2000).prop_map(End::Overrun),
                    Just(End::Drop),
                    Just(End::Abort),
                ]
                .boxed()
            } else {
                prop_oneof![
                    3 => (0u32..=1000).prop_map(End::Settle),
                    1 => Just(End::Drop),
                    1 => Just(End::Abort),
                ]
                .boxed()
            };
            let request = (
                0u64..500,
                0..max_cost,
                priority(),
                0u64..5_000,
                end,
                proptest::option::weighted(0.2, 0u64..20_000),
            )
                .prop_map(
                    |(gap, tokens, priority, hold_ms, end, cancel_wait_ms)| Request {
                        arrive_ms: gap,
                        tokens,
                        priority,
                        hold_ms,
                        end,
                        cancel_wait_ms,
                    },
                );
            proptest::collection::vec(request, 1..40).prop_map(move |mut load| {
                // Gaps to absolute arrival times.
                let mut t = 0;
                for r in &mut load {
                    t += r.arrive_ms * 10;
                    r.arrive_ms = t;
                }
                Scenario {
                    requests,
                    tokens,
                    max_concurrent,
                    load,
                    reports: Vec::new(),
                }
            })
        })
}

/// One admitted request, as the test saw it.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    at: Instant,
    /// Tokens it finally cost (0 when its reservation was refunded whole).
    cost: u64,
}

struct Outcome {
    admitted: Vec<Admitted>,
    max_in_flight: u32,
}

fn run(s: &Scenario, overruns: bool) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut config = LimiterConfig::named("prop").with_max_wait(Duration::from_secs(3_600));
        config.requests = s.requests;
        config.tokens = s.tokens;
        config.max_concurrent = s.max_concurrent;
        let limiter = Limiter::new(config).unwrap();
        let start = Instant::now();
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicU32::new(0));
        let max_in_flight = Arc::new(AtomicU32::new(0));
        let reported = !s.reports.is_empty();
        for (at_ms, snapshot) in s.reports.clone() {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
                limiter.observe_rate_limit(&snapshot);
            });
        }
        let mut tasks = Vec::new();
        for r in s.load.clone() {
            let limiter = limiter.clone();
            let admitted = Arc::clone(&admitted);
            let in_flight = Arc::clone(&in_flight);
            let max_in_flight = Arc::clone(&max_in_flight);
            let cap = s.max_concurrent;
            let task = tokio::spawn(async move {
                tokio::time::sleep_until(start + Duration::from_millis(r.arrive_ms)).await;
                let acquire = limiter.acquire(Cost::tokens(r.tokens), r.priority);
                let permit = match r.cancel_wait_ms {
                    Some(ms) => {
                        match tokio::time::timeout(Duration::from_millis(ms), acquire).await {
                            Ok(p) => p,
                            Err(_) => return,
                        }
                    }
                    None => acquire.await,
                };
                let permit = match permit {
                    Ok(p) => p,
                    Err(LimitError::CostExceedsCapacity { .. }) => return,
                    // Deep debt can push the wait past max_wait.
                    Err(LimitError::RateLimited { .. }) if overruns => return,
                    // A provider's tiny limit can slow admission past max_wait.
                    Err(LimitError::RateLimited { .. }) if reported => return,
                    Err(e) => panic!("unexpected refusal after {:?}: {e}", start.elapsed()),
                };
                let now_in_flight = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(now_in_flight, Ordering::SeqCst);
                if let Some(cap) = cap {
                    assert!(limiter.in_flight() <= cap);
                }
                let index = {
                    let mut a = admitted.lock().unwrap();
                    a.push(Admitted {
                        at: Instant::now(),
                        cost: 0,
                    });
                    a.len() - 1
                };
                // Released on every path below, including an abort.
                struct Leave(Arc<AtomicU32>);
                impl Drop for Leave {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                let leave = Leave(in_flight);
                tokio::time::sleep(Duration::from_millis(r.hold_ms)).await;
                drop(leave);
                match r.end {
                    End::Settle(per_mille) | End::Overrun(per_mille) => {
                        let actual = r.tokens * u64::from(per_mille) / 1000;
                        admitted.lock().unwrap()[index].cost = actual;
                        permit.settle_tokens(actual);
                    }
                    End::Drop | End::Abort => drop(permit),
                }
            });
            tasks.push((task, r));
        }
        // Abort some holders midway through their hold.
        for (task, r) in &tasks {
            if matches!(r.end, End::Abort) {
                let handle = task.abort_handle();
                let at = start + Duration::from_millis(r.arrive_ms + r.hold_ms / 2);
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    handle.abort();
                });
            }
        }
        for (task, _) in tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }

        // (c)/(d): nothing in flight or queued, and after a long quiet spell
        // every bucket is full again.
        let stats = limiter.stats();
        assert_eq!(stats.in_flight, 0, "{stats:?}");
        assert_eq!(stats.queued_now, 0, "{stats:?}");
        tokio::time::advance(Duration::from_secs(1_000_000)).await;
        let stats = limiter.stats();
        if reported {
            // Calibrated buckets are smaller; full means their own size.
            let admitted = admitted.lock().unwrap().clone();
            return Outcome {
                admitted,
                max_in_flight: max_in_flight.load(Ordering::SeqCst),
            };
        }
        if let Some(q) = s.tokens {
            assert_eq!(stats.tokens_available, Some(q.burst() as i64), "{stats:?}");
        }
        if let Some(q) = s.requests {
            assert_eq!(
                stats.requests_available,
                Some(q.burst() as i64),
                "{stats:?}"
            );
        }
        if let (Some(cap), None) = (s.max_concurrent, s.requests) {
            let permits: Vec<_> = (0..cap)
                .map(|_| limiter.try_acquire(Cost::request()))
                .collect();
            assert!(permits.iter().all(Result::is_ok), "slots leaked");
        }
        let admitted = admitted.lock().unwrap().clone();
        Outcome {
            admitted,
            max_in_flight: max_in_flight.load(Ordering::SeqCst),
        }
    })
}

/// The largest total over windows `[t, t + period)` starting at an admission.
fn max_window(admitted: &[Admitted], period: Duration, cost: impl Fn(&Admitted) -> u64) -> u64 {
    admitted
        .iter()
        .map(|start| {
            admitted
                .iter()
                .filter(|a| a.at >= start.at && a.at < start.at + period)
                .map(&cost)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides, for longer runs.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// (a), (b), (c), (d) with usage never above the reservation.
    #[test]
    fn quotas_hold_and_nothing_leaks(s in scenario(false)) {
        let out = run(&s, false);
        if let Some(q) = s.requests {
            let most = max_window(&out.admitted, q.period, |_| 1);
            prop_assert!(most <= q.amount + q.burst(), "{most} requests in a window of {q:?}");
        }
        if let Some(q) = s.tokens {
            let most = max_window(&out.admitted, q.period, |a| a.cost);
            prop_assert!(most <= q.amount + q.burst(), "{most} tokens in a window of {q:?}");
        }
        if let Some(cap) = s.max_concurrent {
            prop_assert!(out.max_in_flight <= cap);
        }
    }

    /// (e): (a) and (b) under provider reports calibrating the limiter.
    #[test]
    fn calibration_never_over_admits(s in reported_scenario()) {
        let out = run(&s, false);
        if let Some(q) = s.requests {
            let most = max_window(&out.admitted, q.period, |_| 1);
            prop_assert!(most <= q.amount + q.burst(), "{most} requests in a window of {q:?}");
        }
        if let Some(q) = s.tokens {
            let most = max_window(&out.admitted, q.period, |a| a.cost);
            prop_assert!(most <= q.amount + q.burst(), "{most} tokens in a window of {q:?}");
        }
        if let Some(cap) = s.max_concurrent {
            prop_assert!(out.max_in_flight <= cap);
        }
    }

    /// (c), (d) with overruns (debt) in the mix: debt is paid off by refill and
    /// nothing leaks.
    #[test]
    fn debt_and_cancellation_leak_nothing(s in scenario(true)) {
        run(&s, true);
    }

    /// A requests-only limiter admits exactly when governor does.
    #[test]
    fn requests_only_matches_governor(
        amount in 1u32..50,
        period_s in 1u64..120,
        burst in 1u32..50,
        gaps_ms in proptest::collection::vec(0u64..5_000, 1..200),
    ) {
        use governor::clock::FakeRelativeClock;
        use governor::{Quota as GQuota, RateLimiter};

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let period = Duration::from_secs(period_s);
            let unit = (period.as_nanos() as u64).div_ceil(u64::from(amount));
            let clock = FakeRelativeClock::default();
            let quota = GQuota::with_period(Duration::from_nanos(unit))
                .unwrap()
                .allow_burst(NonZeroU32::new(burst).unwrap());
            let governor = RateLimiter::direct_with_clock(quota, clock.clone());
            let ours = Limiter::new(LimiterConfig::default().with_requests(
                Quota::per(u64::from(amount), period).with_burst(u64::from(burst)),
            ))
            .unwrap();
            for gap in gaps_ms {
                let gap = Duration::from_millis(gap);
                tokio::time::advance(gap).await;
                clock.advance(gap);
                let theirs = governor.check().is_ok();
                let mine = ours.try_acquire(Cost::request()).is_ok();
                assert_eq!(mine, theirs);
            }
        });
    }
}
