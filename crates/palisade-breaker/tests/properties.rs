//! Property: over random configurations (count or time window, slow calls
//! on or off) and random sequences of admissions, outcomes, cancellations,
//! clock advances and manual resets, the breaker behaves exactly like a plain
//! reference model — so it never admits a call while open before its time,
//! never admits more than K probes, and its counts are the model's.

use std::collections::VecDeque;
use std::time::Duration;

use palisade_breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, Growth, ISOLATED_RETRY_AFTER, OpenDuration,
    Outcome, Permit, SlidingWindow,
};
use palisade_core::ErrorKind;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Params {
    consecutive: Option<u32>,
    rate: Option<f64>,
    /// `(percent, slow after ms)`: the slow-call condition.
    slow: Option<(f64, u64)>,
    /// `count_dropped_calls_after`, in ms.
    dropped_after: Option<u64>,
    window: Windowing,
    minimum: u32,
    probes: u32,
    successes: u32,
    base_ms: u64,
    cap_ms: u64,
}

#[derive(Debug, Clone, Copy)]
enum Windowing {
    Count(u32),
    /// `buckets` slices of `bucket_ms` each.
    Time {
        buckets: u32,
        bucket_ms: u64,
    },
}

impl Params {
    fn config(&self) -> BreakerConfig {
        let window = match self.window {
            Windowing::Count(size) => SlidingWindow::Count { size },
            Windowing::Time { buckets, bucket_ms } => SlidingWindow::Time {
                length: Duration::from_millis(bucket_ms * u64::from(buckets)),
                buckets,
            },
        };
        let mut c = BreakerConfig {
            consecutive_failures: self.consecutive,
            failure_rate_threshold: self.rate,
            slow_call_rate_threshold: self.slow.map(|(rate, _)| rate),
            slow_call_duration: Duration::from_millis(self.slow.map_or(60_000, |(_, ms)| ms)),
            count_dropped_calls_after: self.dropped_after.map(Duration::from_millis),
            window,
            minimum_calls: self.minimum,
            open_duration: OpenDuration {
                base: Duration::from_millis(self.base_ms),
                growth: Growth::Exponential { multiplier: 2.0 },
                max: Some(Duration::from_millis(self.cap_ms)),
                jitter: 0.0,
            },
            ..BreakerConfig::default()
        };
        c.half_open.max_probes = self.probes;
        c.half_open.successes_to_close = self.successes;
        c
    }
}

fn params() -> impl Strategy<Value = Params> {
    let percent = || prop::sample::select(vec![25.0, 50.0, 75.0, 100.0]);
    let window = prop_oneof![
        (1u32..8).prop_map(Windowing::Count),
        (1u32..5, 1u64..6).prop_map(|(buckets, half_seconds)| Windowing::Time {
            buckets,
            bucket_ms: half_seconds * 500,
        }),
    ];
    (
        (
            prop::option::of(1u32..6),
            prop::option::of(percent()),
            prop::option::of((percent(), 1u64..4).prop_map(|(r, s)| (r, s * 1000))),
            window,
            prop::option::of((1u64..4).prop_map(|s| s * 1000)),
        ),
        (1u32..8, 1u32..4, 1u32..4, 1u64..5, 0u64..4),
    )
        .prop_map(
            |(
                (consecutive, rate, slow, window, dropped_after),
                (minimum, probes, successes, base, cap),
            )| {
                let minimum = match window {
                    Windowing::Count(size) => minimum.min(size),
                    Windowing::Time { .. } => minimum,
                };
                Params {
                    consecutive,
                    rate,
                    slow,
                    dropped_after,
                    window,
                    minimum,
                    probes,
                    successes,
                    base_ms: base * 1000,
                    cap_ms: (base * 1000) << cap,
                }
            },
        )
}

#[derive(Debug, Clone, Copy)]
enum Verdict {
    Success,
    Failure,
    /// A throttle with this Retry-After in ms.
    Throttled(u64),
    /// A non-counting error, reported.
    Ignored,
    /// Dropped without a report: ignored, or a timeout once held
    /// `count_dropped_calls_after`.
    Dropped,
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Finish(usize, Verdict),
    Advance(u64),
    Isolate,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    let verdict = prop_oneof![
        4 => Just(Verdict::Success),
        4 => Just(Verdict::Failure),
        1 => (1u64..20_000).prop_map(Verdict::Throttled),
        1 => Just(Verdict::Ignored),
        2 => Just(Verdict::Dropped),
    ];
    prop_oneof![
        6 => Just(Op::Acquire),
        6 => (any::<usize>(), verdict).prop_map(|(i, v)| Op::Finish(i, v)),
        // Whole half-seconds hit slice and slow-call boundaries exactly.
        2 => (1u64..7).prop_map(|n| Op::Advance(n * 500)),
        1 => (0u64..6_000).prop_map(Op::Advance),
        1 => Just(Op::Isolate),
        1 => Just(Op::Reset),
    ]
}

/// The reference: the documented semantics, written as plainly as possible.
#[derive(Debug)]
struct Model {
    p: Params,
    now: u64,
    state: BreakerState,
    generation: u64,
    open_until: u64,
    opens: u32,
    probes: u32,
    probe_successes: u32,
    consecutive: u32,
    /// `(recorded at ms, failed, slow)`, oldest first.
    window: VecDeque<(u64, bool, bool)>,
    retry_not_before: Option<u64>,
}

/// A permit as the model sees it.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    generation: u64,
    probe: bool,
    admitted_ms: u64,
}

impl Model {
    fn new(p: Params) -> Self {
        Self {
            p,
            now: 0,
            state: BreakerState::Closed,
            generation: 0,
            open_until: 0,
            opens: 0,
            probes: 0,
            probe_successes: 0,
            consecutive: 0,
            window: VecDeque::new(),
            retry_not_before: None,
        }
    }

    fn effective_state(&self) -> BreakerState {
        match self.state {
            BreakerState::Open if self.now >= self.open_until => BreakerState::HalfOpen,
            s => s,
        }
    }

    fn set(&mut self, state: BreakerState) {
        self.state = state;
        self.generation += 1;
    }

    /// A stamp, or `Err(retry_after in ms)`.
    fn acquire(&mut self) -> Result<Stamp, u64> {
        let stamp = |generation, probe| Stamp {
            generation,
            probe,
            admitted_ms: self.now,
        };
        match self.state {
            BreakerState::Closed => return Ok(stamp(self.generation, false)),
            BreakerState::Isolated => return Err(ISOLATED_RETRY_AFTER.as_millis() as u64),
            BreakerState::Open if self.now < self.open_until => {
                return Err(self.open_until - self.now);
            }
            BreakerState::Open => {
                self.set(BreakerState::HalfOpen);
                self.probes = 0;
                self.probe_successes = 0;
            }
            BreakerState::HalfOpen => {}
        }
        if self.probes < self.p.probes {
            self.probes += 1;
            Ok(Stamp {
                generation: self.generation,
                probe: true,
                admitted_ms: self.now,
            })
        } else {
            Err(1000)
        }
    }

    /// The window's `(calls, failures, slow)` now.
    fn counts(&self) -> (u32, u32, u32) {
        let live = |t: u64| match self.p.window {
            Windowing::Count(_) => true,
            Windowing::Time { buckets, bucket_ms } => {
                let epoch = |ms: u64| ms / bucket_ms + 1;
                epoch(self.now) - epoch(t) < u64::from(buckets)
            }
        };
        let mut c = (0, 0, 0);
        for (t, failed, slow) in &self.window {
            if live(*t) {
                c.0 += 1;
                c.1 += u32::from(*failed);
                c.2 += u32::from(*slow);
            }
        }
        c
    }

    fn note_failure(&mut self, verdict: Verdict) {
        if let Verdict::Throttled(ms) = verdict {
            let deadline = self.now + ms;
            self.retry_not_before =
                Some(self.retry_not_before.map_or(deadline, |d| d.max(deadline)));
        }
    }

    fn finish(&mut self, stamp: Stamp, verdict: Verdict) {
        let held = self.now - stamp.admitted_ms;
        let verdict = match verdict {
            Verdict::Dropped if self.p.dropped_after.is_some_and(|ms| held >= ms) => {
                Verdict::Failure
            }
            Verdict::Dropped => Verdict::Ignored,
            v => v,
        };
        let slow = self
            .p
            .slow
            .is_some_and(|(_, ms)| self.now - stamp.admitted_ms >= ms);
        if stamp.probe {
            if self.state != BreakerState::HalfOpen || stamp.generation != self.generation {
                return;
            }
            self.probes -= 1;
            match verdict {
                Verdict::Ignored | Verdict::Dropped => {}
                Verdict::Success if !slow => {
                    self.probe_successes += 1;
                    if self.probe_successes >= self.p.successes {
                        self.close();
                    }
                }
                Verdict::Success | Verdict::Failure | Verdict::Throttled(_) => {
                    self.note_failure(verdict);
                    self.consecutive += 1;
                    self.open();
                }
            }
            return;
        }
        if self.state != BreakerState::Closed || stamp.generation != self.generation {
            return;
        }
        let failed = match verdict {
            Verdict::Ignored | Verdict::Dropped => return,
            Verdict::Success => {
                self.consecutive = 0;
                false
            }
            Verdict::Failure | Verdict::Throttled(_) => {
                self.note_failure(verdict);
                self.consecutive += 1;
                true
            }
        };
        self.push(failed, slow);
        if !failed && !slow {
            return;
        }
        let by_run = failed && self.p.consecutive.is_some_and(|c| self.consecutive >= c);
        let (calls, failures, slows) = self.counts();
        let reached = |part: u32, threshold: Option<f64>| {
            threshold.is_some_and(|t| f64::from(part) * 100.0 >= t * f64::from(calls))
        };
        let by_rate = calls >= self.p.minimum
            && (reached(failures, self.p.rate) || reached(slows, self.p.slow.map(|(r, _)| r)));
        if by_run || by_rate {
            self.open();
        }
    }

    fn push(&mut self, failed: bool, slow: bool) {
        if let Windowing::Count(size) = self.p.window
            && self.window.len() == size as usize
        {
            self.window.pop_front();
        }
        self.window.push_back((self.now, failed, slow));
    }

    fn open(&mut self) {
        self.opens += 1;
        let mut ms = self.p.base_ms;
        for _ in 1..self.opens {
            ms = (ms * 2).min(self.p.cap_ms);
        }
        let ms = ms.min(self.p.cap_ms);
        let until = self.now + ms;
        self.open_until = self.retry_not_before.take().map_or(until, |d| d.max(until));
        self.probes = 0;
        self.probe_successes = 0;
        self.window.clear();
        self.set(BreakerState::Open);
    }

    fn close(&mut self) {
        self.opens = 0;
        self.probes = 0;
        self.probe_successes = 0;
        self.window.clear();
        self.consecutive = 0;
        self.retry_not_before = None;
        if self.state != BreakerState::Closed {
            self.set(BreakerState::Closed);
        }
    }

    fn isolate(&mut self) {
        if self.state != BreakerState::Isolated {
            self.probes = 0;
            self.probe_successes = 0;
            self.set(BreakerState::Isolated);
        }
    }
}

fn record(permit: Permit, verdict: Verdict) {
    match verdict {
        Verdict::Success => permit.record_success(),
        Verdict::Failure => permit.record(Outcome::Failure {
            kind: ErrorKind::Internal,
            retry_after: None,
        }),
        Verdict::Throttled(ms) => permit.record(Outcome::Failure {
            kind: ErrorKind::Throttled,
            retry_after: Some(Duration::from_millis(ms)),
        }),
        Verdict::Ignored => permit.record(Outcome::Ignored),
        Verdict::Dropped => drop(permit),
    }
}

fn run(p: Params, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    rt.block_on(async move {
        let breaker = CircuitBreaker::new("model", p.config())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut model = Model::new(p.clone());
        let mut held: Vec<(Permit, Stamp)> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire => {
                    let expected = model.acquire();
                    match (breaker.try_acquire(), expected) {
                        (Ok(permit), Ok(stamp)) => {
                            prop_assert_eq!(permit.is_probe(), stamp.probe);
                            held.push((permit, stamp));
                        }
                        (Err(refused), Err(ms)) => {
                            prop_assert_eq!(refused.retry_after, Duration::from_millis(ms));
                        }
                        (real, expected) => {
                            return Err(TestCaseError::fail(format!(
                                "admission differs: breaker {:?}, model {expected:?} ({model:?})",
                                real.map(|p| p.is_probe())
                            )));
                        }
                    }
                }
                Op::Finish(i, verdict) if !held.is_empty() => {
                    let (permit, stamp) = held.remove(i % held.len());
                    model.finish(stamp, verdict);
                    record(permit, verdict);
                }
                Op::Finish(..) => {}
                Op::Advance(ms) => {
                    model.now += ms;
                    tokio::time::advance(Duration::from_millis(ms)).await;
                }
                Op::Isolate => {
                    model.isolate();
                    breaker.isolate();
                }
                Op::Reset => {
                    if model.state == BreakerState::Closed {
                        model.generation += 1;
                    }
                    model.close();
                    breaker.reset();
                }
            }
            let s = breaker.snapshot();
            prop_assert_eq!(s.state, model.effective_state());
            prop_assert!(s.probes_in_flight <= p.probes, "more than K probes");
            prop_assert_eq!(s.probes_in_flight, model.probes);
            let (calls, failures, slow) = model.counts();
            prop_assert_eq!((s.calls, s.failures, s.slow_calls), (calls, failures, slow));
            prop_assert_eq!(s.consecutive_failures, model.consecutive);
            prop_assert_eq!(s.consecutive_opens, model.opens);
            if model.effective_state() == BreakerState::Open {
                prop_assert_eq!(s.retry_after_ms, Some(model.open_until - model.now));
            }
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_breaker_matches_the_reference_model(
        p in params(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(p, ops)?;
    }
}
