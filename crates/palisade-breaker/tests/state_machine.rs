//! The state machine on a paused clock: each trip condition at exactly its
//! threshold, the policy, open durations, half-open probes, manual controls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, Growth, ISOLATED_RETRY_AFTER, OpenDuration,
    Outcome, SlidingWindow, StateChange, TransitionReason,
};
use palisade_core::{ErrorKind, ProviderError, Readiness};
use tokio::time::advance;

const FAIL: Outcome = Outcome::Failure {
    kind: ErrorKind::Unavailable,
    retry_after: None,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Only the conditions a test turns on; fixed 10 s open duration, no jitter.
fn quiet() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: None,
        failure_rate_threshold: None,
        slow_call_rate_threshold: None,
        open_duration: OpenDuration {
            base: secs(10),
            growth: Growth::Constant,
            max: None,
            jitter: 0.0,
        },
        ..BreakerConfig::default()
    }
}

fn breaker(config: BreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new("model-a", config).unwrap()
}

fn call(b: &CircuitBreaker, outcome: Outcome) {
    b.try_acquire().expect("admitted").record(outcome);
}

fn error(kind: ErrorKind) -> ProviderError {
    ProviderError::new(kind, "scripted")
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_trip_at_exactly_the_threshold() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(5),
        ..quiet()
    });
    for _ in 0..4 {
        call(&b, FAIL);
    }
    call(&b, Outcome::Success); // breaks the run
    for _ in 0..4 {
        call(&b, FAIL);
        assert_eq!(b.state(), BreakerState::Closed);
    }
    assert_eq!(b.snapshot().consecutive_failures, 4);
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Open);
    let refused = b.try_acquire().unwrap_err();
    assert_eq!(refused.state, BreakerState::Open);
    assert_eq!(refused.retry_after, secs(10));
}

#[tokio::test(start_paused = true)]
async fn failure_rate_trips_at_exactly_the_threshold_once_minimum_calls_are_seen() {
    let b = breaker(BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: SlidingWindow::Count { size: 10 },
        minimum_calls: 10,
        ..quiet()
    });
    // 9 failures: 100 %, but under the minimum of 10 calls.
    for _ in 0..9 {
        call(&b, FAIL);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().failure_rate, Some(100.0));
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Open);

    // Exactly 50 %: 5 successes, then the 5th failure is the 10th call.
    let b = breaker(BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: SlidingWindow::Count { size: 10 },
        minimum_calls: 10,
        ..quiet()
    });
    for _ in 0..5 {
        call(&b, Outcome::Success);
    }
    for _ in 0..4 {
        call(&b, FAIL);
    }
    assert_eq!(
        b.state(),
        BreakerState::Closed,
        "4/9 failed, under the minimum"
    );
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Open, "5/10 = 50 %");
}

#[tokio::test(start_paused = true)]
async fn failure_rate_over_a_full_window_forgets_old_calls() {
    let b = breaker(BreakerConfig {
        failure_rate_threshold: Some(60.0),
        window: SlidingWindow::Count { size: 5 },
        minimum_calls: 5,
        ..quiet()
    });
    // F F S S S: 40 %. Each further failure evicts the oldest call.
    for o in [
        FAIL,
        FAIL,
        Outcome::Success,
        Outcome::Success,
        Outcome::Success,
    ] {
        call(&b, o);
    }
    call(&b, FAIL); // evicts F: F S S S F = 40 %
    assert_eq!(b.state(), BreakerState::Closed);
    call(&b, FAIL); // evicts F: S S S F F = 40 %
    assert_eq!(b.state(), BreakerState::Closed);
    call(&b, FAIL); // evicts S: S S F F F = 60 %
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn time_window_counts_only_recent_calls() {
    let b = breaker(BreakerConfig {
        failure_rate_threshold: Some(50.0),
        window: SlidingWindow::Time {
            length: secs(10),
            buckets: 10,
        },
        minimum_calls: 4,
        ..quiet()
    });
    call(&b, FAIL);
    call(&b, FAIL);
    call(&b, FAIL);
    advance(secs(11)).await; // those three age out
    call(&b, Outcome::Success);
    call(&b, Outcome::Success);
    call(&b, FAIL);
    assert_eq!(b.snapshot().calls, 3);
    assert_eq!(b.state(), BreakerState::Closed);
    advance(secs(5)).await;
    call(&b, FAIL); // 2 of 4 in the last 10 s
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_trips_at_exactly_the_threshold() {
    let b = breaker(BreakerConfig {
        slow_call_rate_threshold: Some(50.0),
        slow_call_duration: secs(10),
        window: SlidingWindow::Count { size: 4 },
        minimum_calls: 4,
        ..quiet()
    });
    let timed = |d: Duration| {
        let b = b.clone();
        async move {
            let permit = b.try_acquire().unwrap();
            advance(d).await;
            permit.record_success();
        }
    };
    timed(Duration::from_millis(9_999)).await; // not slow
    timed(secs(1)).await;
    timed(secs(10)).await; // slow: at the threshold
    assert_eq!(b.snapshot().slow_calls, 1);
    assert_eq!(b.state(), BreakerState::Closed);
    timed(secs(30)).await; // 2 of 4 slow
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn non_counting_kinds_never_trip() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        failure_rate_threshold: Some(1.0),
        window: SlidingWindow::Count { size: 10 },
        minimum_calls: 1,
        ..quiet()
    });
    for kind in [
        ErrorKind::InvalidRequest,
        ErrorKind::ContextWindowExceeded,
        ErrorKind::ContentFiltered,
        ErrorKind::Auth,
        ErrorKind::QuotaExhausted,
        ErrorKind::NotFound,
        ErrorKind::Cancelled,
    ] {
        for _ in 0..500 {
            b.try_acquire().unwrap().record_error(&error(kind));
        }
    }
    let s = b.snapshot();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!((s.calls, s.failures, s.consecutive_failures), (0, 0, 0));
    assert_eq!(s.last_error_kind, None);
    // Every counting kind trips it at once.
    b.try_acquire()
        .unwrap()
        .record_error(&error(ErrorKind::Overloaded));
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.snapshot().last_error_kind, Some(ErrorKind::Overloaded));
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_do_not_break_a_run() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(3),
        ..quiet()
    });
    call(&b, FAIL);
    b.try_acquire()
        .unwrap()
        .record_error(&error(ErrorKind::InvalidRequest));
    call(&b, FAIL);
    drop(b.try_acquire().unwrap()); // a cancelled call
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn open_turns_half_open_after_the_open_duration() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        ..quiet()
    });
    call(&b, FAIL);
    advance(Duration::from_millis(9_999)).await;
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(
        b.try_acquire().unwrap_err().retry_after,
        Duration::from_millis(1)
    );
    assert_eq!(
        b.readiness(),
        Readiness::Unavailable {
            retry_after: Duration::from_millis(1)
        }
    );
    advance(Duration::from_millis(1)).await;
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert_eq!(b.readiness(), Readiness::Ready);
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    probe.record_success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_at_most_k_probes_and_closes_after_m_successes() {
    let mut config = BreakerConfig {
        consecutive_failures: Some(1),
        ..quiet()
    };
    config.half_open.max_probes = 2;
    config.half_open.successes_to_close = 3;
    let b = breaker(config);
    call(&b, FAIL);
    advance(secs(10)).await;

    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let refused = b.try_acquire().unwrap_err();
    assert_eq!(refused.state, BreakerState::HalfOpen);
    assert_eq!(refused.retry_after, secs(1));
    assert_eq!(
        b.readiness(),
        Readiness::Unavailable {
            retry_after: secs(1)
        }
    );

    drop(p1); // a cancelled probe frees its slot without a verdict
    let p3 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    p2.record_success();
    p3.record_success();
    assert_eq!(b.state(), BreakerState::HalfOpen, "2 of 3 successes");
    b.try_acquire().unwrap().record_success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().consecutive_opens, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_longer_up_to_the_cap() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        open_duration: OpenDuration {
            base: secs(10),
            growth: Growth::Exponential { multiplier: 2.0 },
            max: Some(secs(35)),
            jitter: 0.0,
        },
        ..quiet()
    });
    call(&b, FAIL);
    let mut durations = vec![b.try_acquire().unwrap_err().retry_after];
    for _ in 0..3 {
        advance(*durations.last().unwrap()).await;
        let probe = b.try_acquire().unwrap();
        assert!(probe.is_probe());
        // A probe's non-counting error is no verdict: still half-open.
        probe.record_error(&error(ErrorKind::InvalidRequest));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.try_acquire().unwrap().record(FAIL);
        durations.push(b.try_acquire().unwrap_err().retry_after);
    }
    assert_eq!(durations, [secs(10), secs(20), secs(35), secs(35)]);
    assert_eq!(b.snapshot().consecutive_opens, 4);
}

#[tokio::test(start_paused = true)]
async fn the_seed_policy_opens_for_60s_per_consecutive_error() {
    let b = breaker(BreakerConfig::seed());
    for _ in 0..5 {
        call(&b, FAIL);
    }
    assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(300));
    advance(secs(300)).await;
    b.try_acquire().unwrap().record(FAIL);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(360));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_keeps_it_open_at_least_that_long() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(2),
        ..quiet()
    });
    let throttled = ProviderError::throttled("slow down", Some(secs(120)));
    b.try_acquire().unwrap().record_error(&throttled);
    advance(secs(20)).await;
    call(&b, FAIL); // trips 20 s later: 100 s of the Retry-After remain
    assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(100));

    // Off: the configured duration only.
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        honor_retry_after: false,
        ..quiet()
    });
    b.try_acquire().unwrap().record_error(&throttled);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(10));
}

#[tokio::test(start_paused = true)]
async fn outcomes_of_calls_admitted_before_a_transition_do_not_count() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(2),
        ..quiet()
    });
    let straggler = b.try_acquire().unwrap();
    call(&b, FAIL);
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Open);
    advance(secs(10)).await;
    let probe = b.try_acquire().unwrap();
    straggler.record(FAIL); // admitted while closed: no vote now
    assert_eq!(b.state(), BreakerState::HalfOpen);
    probe.record_success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn calls_in_flight_at_a_reset_do_not_count_after_it() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        ..quiet()
    });
    let in_flight = b.try_acquire().unwrap();
    b.reset();
    in_flight.record(FAIL);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn isolate_holds_until_reset() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(3),
        ..quiet()
    });
    call(&b, FAIL);
    call(&b, FAIL);
    b.isolate();
    let refused = b.try_acquire().unwrap_err();
    assert_eq!(refused.state, BreakerState::Isolated);
    assert_eq!(refused.retry_after, ISOLATED_RETRY_AFTER);
    advance(secs(24 * 3600)).await;
    assert_eq!(b.state(), BreakerState::Isolated);
    assert!(!b.readiness().is_ready());
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    let s = b.snapshot();
    assert_eq!((s.calls, s.consecutive_failures), (0, 0));
    // The run was cleared: two more failures do not trip.
    call(&b, FAIL);
    call(&b, FAIL);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn every_state_change_reaches_the_listener() {
    let seen: Arc<Mutex<Vec<StateChange>>> = Arc::default();
    let log = seen.clone();
    let b = CircuitBreaker::builder("model-a")
        .config(BreakerConfig {
            consecutive_failures: Some(1),
            ..quiet()
        })
        .on_state_change(move |c| log.lock().unwrap().push(c.clone()))
        .build()
        .unwrap();
    call(&b, FAIL);
    advance(secs(10)).await;
    b.try_acquire().unwrap().record(FAIL);
    advance(secs(10)).await;
    b.try_acquire().unwrap().record_success();
    b.isolate();
    b.reset();
    let seen = seen.lock().unwrap();
    let steps: Vec<_> = seen.iter().map(|c| (c.from, c.to, c.reason)).collect();
    use BreakerState::*;
    assert_eq!(
        steps,
        [
            (
                Closed,
                Open,
                TransitionReason::ConsecutiveFailures { count: 1 }
            ),
            (Open, HalfOpen, TransitionReason::OpenElapsed),
            (HalfOpen, Open, TransitionReason::ProbeFailed),
            (Open, HalfOpen, TransitionReason::OpenElapsed),
            (
                HalfOpen,
                Closed,
                TransitionReason::ProbesSucceeded { successes: 1 }
            ),
            (Closed, Isolated, TransitionReason::Isolated),
            (Isolated, Closed, TransitionReason::Reset),
        ]
    );
    assert_eq!(seen[0].open_for, Some(secs(10)));
    assert_eq!(seen[0].provider.as_str(), "model-a");
}

#[tokio::test(start_paused = true)]
async fn jitter_is_reproducible_with_a_seed_and_only_shortens() {
    let config = BreakerConfig {
        consecutive_failures: Some(1),
        open_duration: OpenDuration {
            base: secs(100),
            growth: Growth::Constant,
            max: None,
            jitter: 0.5,
        },
        ..quiet()
    };
    let open_for = |seed| {
        let b = CircuitBreaker::builder("m")
            .config(config.clone())
            .jitter_seed(seed)
            .build()
            .unwrap();
        call(&b, FAIL);
        b.try_acquire().unwrap_err().retry_after
    };
    assert_eq!(open_for(7), open_for(7));
    for seed in 0..20 {
        let d = open_for(seed);
        assert!(d >= secs(50) && d <= secs(100), "{d:?}");
    }
}

#[test]
fn an_invalid_config_is_refused_with_the_field() {
    let err = CircuitBreaker::new(
        "m",
        BreakerConfig {
            minimum_calls: 0,
            ..BreakerConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.field(), "minimum_calls");
}

#[test]
fn concurrent_writers_leave_exact_counts() {
    let b = breaker(BreakerConfig {
        window: SlidingWindow::Count { size: 100 },
        ..quiet()
    });
    let hammer = |pattern: fn(usize) -> Outcome| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        b.try_acquire().unwrap().record(pattern(i));
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    };
    // Mixed outcomes from four threads, then enough successes to fill the
    // window: every failure must have been evicted exactly once.
    hammer(|i| if i % 3 == 0 { FAIL } else { Outcome::Success });
    hammer(|_| Outcome::Success);
    let s = b.snapshot();
    assert_eq!((s.calls, s.failures, s.consecutive_failures), (100, 0, 0));
    hammer(|_| FAIL);
    let s = b.snapshot();
    assert_eq!((s.calls, s.failures), (100, 100));
}

#[tokio::test(start_paused = true)]
async fn absurd_durations_do_not_overflow_the_clock() {
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        open_duration: OpenDuration {
            base: secs(10),
            growth: Growth::Exponential { multiplier: 1e9 },
            max: None,
            jitter: 0.0,
        },
        ..quiet()
    });
    // A server's Retry-After of u64::MAX seconds, then many failed probes.
    let absurd = ProviderError::throttled("429", Some(Duration::MAX));
    b.try_acquire().unwrap().record_error(&absurd);
    let year = secs(365 * 24 * 3600);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, year);
    for _ in 0..5 {
        advance(year).await;
        b.try_acquire().unwrap().record(FAIL);
        assert_eq!(b.try_acquire().unwrap_err().retry_after, year);
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn every_state_change_is_a_tracing_event_with_the_model() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        ..quiet()
    });
    call(&b, FAIL);
    advance(secs(10)).await;
    b.try_acquire().unwrap().record_success();
    b.isolate();
    b.reset();

    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 5, "{log}");
    for (line, (level, message, to)) in lines.iter().zip([
        ("WARN", "circuit breaker opened", "open"),
        ("INFO", "circuit breaker half-open", "half_open"),
        ("INFO", "circuit breaker closed", "closed"),
        ("WARN", "circuit breaker isolated", "isolated"),
        ("INFO", "circuit breaker closed", "closed"),
    ]) {
        assert!(line.contains(level) && line.contains(message), "{line}");
        assert!(line.contains("gen_ai.request.model=model-a"), "{line}");
        assert!(line.contains(&format!("to=\"{to}\"")), "{line}");
    }
    assert!(lines[0].contains("open_ms=10000"), "{}", lines[0]);
    assert!(lines[0].contains("reason=a failure"), "{}", lines[0]);
}

#[tokio::test(start_paused = true)]
async fn racing_callers_get_at_most_k_probes() {
    let mut config = BreakerConfig {
        consecutive_failures: Some(1),
        ..quiet()
    };
    config.half_open.max_probes = 3;
    let b = breaker(config);
    call(&b, FAIL);
    advance(secs(10)).await;
    // The first probe makes the change to half-open on the paused clock; the
    // threads (which read the real clock) race for the other two slots.
    let first = b.try_acquire().unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (b, barrier) = (b.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Admitted probes are held until the count is taken.
                (0..50)
                    .filter_map(|_| b.try_acquire().ok())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let held: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(held.len(), 2);
    assert!(first.is_probe() && held.iter().all(|p| p.is_probe()));
    assert_eq!(b.snapshot().probes_in_flight, 3);
    drop((first, held));
    assert_eq!(b.snapshot().probes_in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_local_layers_refusals_never_trip_it() {
    // A limiter's own refusal is reported as Throttled (callers back off alike)
    // but marked as raised by a layer: it says nothing about the provider.
    let b = breaker(BreakerConfig {
        consecutive_failures: Some(1),
        failure_rate_threshold: Some(1.0),
        window: SlidingWindow::Count { size: 10 },
        minimum_calls: 1,
        ..quiet()
    });
    let local = error(ErrorKind::Throttled).with_origin(palisade_core::ErrorOrigin::Layer);
    for _ in 0..500 {
        b.try_acquire().unwrap().record_error(&local);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().failures, 0);
    // The same kind from the provider trips it at once.
    b.try_acquire()
        .unwrap()
        .record_error(&error(ErrorKind::Throttled));
    assert_eq!(b.state(), BreakerState::Open);
}
