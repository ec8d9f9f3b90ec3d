//! Time as the limiter sees it: nanoseconds since the limiter was created.
//!
//! The default source follows tokio's clock, which is what lets
//! `tokio::time::pause()` and `advance()` drive a limiter in tests and in the
//! simulator. Reading tokio's clock costs what `std::time::Instant::now()`
//! costs (a vDSO call, 20-70 ns on the development VMs), which was most of an
//! admission. But tokio's clock can only be paused on a thread in the context
//! of a current-thread runtime (a multi-thread runtime refuses `pause()`, and
//! outside any runtime tokio's `Instant::now()` is the OS clock). Everywhere
//! else the two clocks agree, so the default source reads the CPU's
//! time-stamp counter there (through `quanta`, as governor does) and tokio's
//! clock only where it could be paused: the same decisions under paused time,
//! a cheap read everywhere else. See [`Clock::now`].
//!
//! Plain `u64` nanoseconds keep the admission arithmetic to integer adds and
//! compares: a `u64` of nanoseconds lasts 584 years.

use std::cell::Cell;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::time::Instant;

/// Nanoseconds since the limiter's epoch.
pub(crate) type Nanos = u64;

/// Where a limiter reads the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    /// tokio's clock (default): follows `tokio::time::pause()` / `advance()`,
    /// so tests and simulations are deterministic. Where tokio's clock
    /// cannot be paused (outside a runtime, on a multi-thread runtime) it
    /// equals the OS clock, and the limiter reads the CPU's time-stamp
    /// counter instead, which is several times cheaper.
    #[default]
    Tokio,
    /// The CPU's time-stamp counter (calibrated by `quanta`; it falls back to
    /// the OS clock where the counter is unreliable), everywhere. It ignores
    /// tokio's paused time: never use it in tests or simulations. Since the
    /// default reads the counter wherever time cannot be paused, this only
    /// saves the check of the runtime on current-thread runtimes.
    Tsc,
}

/// How [`Clock::now`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// tokio's clock where it could be paused, the counter elsewhere.
    Follow,
    /// The counter, always ([`ClockSource::Tsc`]).
    Counter,
    /// tokio's clock, always: the reference the tests compare `Follow` with.
    #[cfg(test)]
    Tokio,
}

/// A limiter's view of time.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    read: Read,
    epoch: Instant,
    counter: quanta::Clock,
    /// The counter's raw value at `epoch`.
    start: u64,
}

impl Clock {
    /// A default (tokio-following) clock whose zero is now.
    pub(crate) fn new() -> Self {
        Self::with_source(ClockSource::Tokio)
    }

    /// A clock of the given source whose zero is now.
    pub(crate) fn with_source(source: ClockSource) -> Self {
        let read = match source {
            ClockSource::Tokio => Read::Follow,
            ClockSource::Tsc => Read::Counter,
        };
        Self::reading(read)
    }

    /// A clock that reads tokio's clock on every call (what the default did
    /// before it learned to skip it), for the tests that compare the two.
    #[cfg(test)]
    pub(crate) fn tokio_always() -> Self {
        Self::reading(Read::Tokio)
    }

    fn reading(read: Read) -> Self {
        // quanta calibrates once per process; a clock is then a copy.
        let counter = quanta::Clock::new();
        // Both zeros taken together, so that the counter's nanoseconds and
        // tokio's (unpaused, the OS clock's) count from the same instant.
        let epoch = Instant::now();
        let start = counter.raw();
        Self {
            read,
            epoch,
            counter,
            start,
        }
    }

    /// Now, in nanoseconds since the epoch.
    ///
    /// The default reads tokio's clock only where `tokio::time::pause()`
    /// could be in force; elsewhere tokio's clock is the OS clock, which the
    /// counter tracks (quanta scales it to the OS's monotonic clock) at a
    /// fraction of the cost. A limiter used both from a current-thread
    /// runtime and from elsewhere mixes the two, which differ by the
    /// counter's calibration error (parts per million of the limiter's age);
    /// every use of the time tolerates a step back of that size (buckets
    /// clamp with `max`, differences saturate).
    #[inline]
    pub(crate) fn now(&self) -> Nanos {
        match self.read {
            Read::Follow if tokio_time_pausable() => self.since_epoch(Instant::now()),
            Read::Follow | Read::Counter => self.counter_now(),
            #[cfg(test)]
            Read::Tokio => self.since_epoch(Instant::now()),
        }
    }

    #[inline]
    fn counter_now(&self) -> Nanos {
        self.counter.delta_as_nanos(self.start, self.counter.raw())
    }

    /// Whether [`now`](Clock::now) reads the counter here.
    #[inline]
    fn reads_counter(&self) -> bool {
        match self.read {
            Read::Follow => !tokio_time_pausable(),
            Read::Counter => true,
            #[cfg(test)]
            Read::Tokio => false,
        }
    }

    /// `at` (a caller's deadline) in nanoseconds since the epoch: exact on
    /// tokio's clock (0 for instants before the epoch); on the counter, now
    /// plus the time left until `at` (now for instants past), so that the
    /// counter's drift from the OS clock moves no deadline.
    #[inline]
    pub(crate) fn since_epoch(&self, at: Instant) -> Nanos {
        if self.reads_counter() {
            let left = at.saturating_duration_since(Instant::now());
            self.counter_now().saturating_add(duration_to_nanos(left))
        } else {
            duration_to_nanos(at.saturating_duration_since(self.epoch))
        }
    }

    /// The tokio instant of `nanos` (for timers): exact on tokio's clock; on
    /// the counter, tokio's now plus the time left until `nanos` by the
    /// counter. A timer set at `epoch + nanos` would fire early wherever the
    /// counter runs behind the OS clock (by its calibration error, growing
    /// with the limiter's age), and the waiter, still refused, would re-arm
    /// the same past instant and spin until the counter caught up.
    pub(crate) fn instant(&self, nanos: Nanos) -> Instant {
        if self.reads_counter() {
            Instant::now() + Duration::from_nanos(nanos.saturating_sub(self.counter_now()))
        } else {
            self.epoch + Duration::from_nanos(nanos)
        }
    }
}

thread_local! {
    /// The last task this thread asked about and whether its runtime can
    /// pause time: task ids are unique in the process and a task never
    /// changes runtime, so the answer holds for as long as the id matches.
    static TASK_PAUSABLE: Cell<Option<(tokio::task::Id, bool)>> = const { Cell::new(None) };
}

/// Whether `tokio::time::Instant::now()` on this thread could return paused
/// time: only in the context of a runtime that can pause (a current-thread
/// one; tokio refuses `pause()` on a multi-thread runtime, and outside a
/// runtime its clock is the OS clock).
#[inline]
fn tokio_time_pausable() -> bool {
    // Inside a task, the answer is cached per task: asking the runtime
    // clones its handle (an atomic add and sub on a counter every worker
    // thread shares), which would cost what the counter saves.
    let Some(task) = tokio::task::try_id() else {
        return context_pausable();
    };
    TASK_PAUSABLE.with(|cache| match cache.get() {
        Some((id, pausable)) if id == task => pausable,
        _ => {
            let pausable = context_pausable();
            cache.set(Some((task, pausable)));
            pausable
        }
    })
}

/// [`tokio_time_pausable`], asked of the runtime this thread is in.
#[inline]
fn context_pausable() -> bool {
    match Handle::try_current() {
        Ok(handle) => handle.runtime_flavor() != RuntimeFlavor::MultiThread,
        // No runtime (or this thread's runtime context is being torn
        // down): tokio reads the OS clock.
        Err(_) => false,
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn duration_to_nanos(d: Duration) -> Nanos {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_the_default_reads_the_counter() {
        assert!(!tokio_time_pausable());
        let clock = Clock::new();
        let (a, b) = (clock.now(), clock.now());
        assert!(b >= a, "{a} {b}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_multi_thread_runtime_cannot_pause_so_the_counter_is_read() {
        assert!(!tokio_time_pausable());
        let inner = tokio::spawn(async { tokio_time_pausable() }).await;
        assert!(!inner.expect("task ran"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn on_the_counter_a_waiter_sleeps_until_its_turn() {
        use crate::{Cost, Limiter, LimiterConfig, Quota};
        // Burst 1, one request per 20 ms: the second waits on a timer set
        // from the counter's time (no assertion on how long it took).
        let limiter = Limiter::new(LimiterConfig::default().with_requests(Quota {
            burst: Some(1),
            ..Quota::per_second(50)
        }))
        .expect("valid config");
        let first = limiter.try_acquire(Cost::request()).expect("admitted");
        drop(first);
        let second = limiter
            .acquire(Cost::request(), palisade_core::Priority::Normal)
            .await;
        assert!(second.is_ok(), "{second:?}");
        // A deadline already past refuses at once.
        let late = limiter
            .acquire_until(
                Cost::request(),
                palisade_core::Priority::Normal,
                Some(Instant::now()),
            )
            .await;
        assert!(late.is_err(), "{late:?}");
        assert_eq!(limiter.stats().admitted, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn under_paused_time_the_default_reads_tokio() {
        assert!(tokio_time_pausable());
        let (follow, tokio) = (Clock::new(), Clock::tokio_always());
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(follow.now(), tokio.now());
        // In a task of the paused runtime too (the cached answer).
        let (a, b) = tokio::spawn(async move {
            tokio::time::advance(Duration::from_secs(2)).await;
            (follow.now(), tokio.now())
        })
        .await
        .expect("task ran");
        assert_eq!(a, b);
        assert_eq!(a, 3_500_000_000);
    }

    /// One step of a scripted run and what the limiter answered.
    fn script(seed: u64, tokio_always: bool) -> Vec<String> {
        use crate::{Cost, Limiter, LimiterConfig, Permit, Quota};
        use palisade_core::Priority;
        use std::sync::Arc;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut limiter = Limiter::new(
                LimiterConfig::named("same")
                    .with_requests(Quota::per_second(5))
                    .with_tokens(Quota::per_minute(2_000))
                    .with_max_concurrent(3)
                    .with_max_wait(Duration::from_secs(2)),
            )
            .expect("valid config");
            if tokio_always {
                Arc::get_mut(&mut limiter.shared)
                    .expect("only handle")
                    .clock = Clock::tokio_always();
            }
            let start = Instant::now();
            let mut rng = seed;
            let mut next = move |n: u64| {
                rng = rng
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (rng >> 33) % n
            };
            let mut held: Vec<Permit> = Vec::new();
            let mut trace = Vec::new();
            for _ in 0..400 {
                let step = match next(6) {
                    0 | 1 => match limiter.try_acquire(Cost::tokens(50 + next(400))) {
                        Ok(p) => {
                            held.push(p);
                            "admitted".to_owned()
                        }
                        Err(e) => format!("refused: {e}"),
                    },
                    2 => {
                        let cost = Cost::tokens(50 + next(400));
                        let deadline = Instant::now() + Duration::from_millis(next(1_500));
                        match limiter
                            .acquire_until(cost, Priority::Normal, Some(deadline))
                            .await
                        {
                            Ok(p) => {
                                held.push(p);
                                "waited".to_owned()
                            }
                            Err(e) => format!("gave up: {e}"),
                        }
                    }
                    3 if !held.is_empty() => {
                        let p = held.swap_remove(next(held.len() as u64) as usize);
                        format!("{:?}", p.settle_tokens(next(600)))
                    }
                    4 if !held.is_empty() => {
                        drop(held.swap_remove(0));
                        "dropped".to_owned()
                    }
                    _ => {
                        tokio::time::advance(Duration::from_millis(next(700))).await;
                        "advanced".to_owned()
                    }
                };
                let s = limiter.stats();
                trace.push(format!(
                    "{step} at {:?}; {:?} {:?} {:?} {}",
                    start.elapsed(),
                    s.requests_available,
                    s.tokens_available,
                    s.in_flight,
                    s.admitted
                ));
            }
            trace
        })
    }

    #[test]
    fn the_default_and_tokios_clock_decide_alike_under_paused_time() {
        for seed in [1, 7, 2_026] {
            let (follow, tokio) = (script(seed, false), script(seed, true));
            assert_eq!(follow.len(), tokio.len());
            for (i, (a, b)) in follow.iter().zip(&tokio).enumerate() {
                assert_eq!(a, b, "seed {seed}, step {i}");
            }
            // The script exercised every answer.
            for word in ["admitted", "refused", "waited", "gave up", "Settled"] {
                assert!(
                    follow.iter().any(|s| s.contains(word)),
                    "seed {seed}: no {word}"
                );
            }
        }
    }
}
