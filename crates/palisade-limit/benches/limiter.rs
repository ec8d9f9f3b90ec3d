// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

//! Admission cost of palisade-limit next to governor's `check()`, measured in
//! one run so the ratios hold even when the machine is busy.
//!
//! Every limiter here has quotas too large to refuse, so each iteration is a
//! full admission (and release) rather than a cheap rejection. Rows named
//! `try_acquire_ref` take the borrowed permit (`Limiter::try_acquire_ref`),
//! the others the owned one; rows named `tsc_clock` use `ClockSource::Tsc`,
//! the others the default clock (which follows tokio's, and reads the TSC
//! where tokio's clock cannot be paused: on these plain threads, and in the
//! `in_runtime` group's multi-thread task, not in its current-thread
//! runtime); governor uses its default (quanta) clock.
//!
//! `cargo bench -p palisade-limit --bench limiter -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant as StdInstant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use governor::{Quota as GQuota, RateLimiter};
use palisade_limit::{ClockSource, Cost, Limiter, LimiterConfig, Quota};

const HUGE: u64 = 1 << 40;

fn rpm_only() -> Limiter {
    Limiter::new(LimiterConfig::default().with_requests(Quota::per_second(HUGE))).unwrap()
}

fn combined() -> Limiter {
    Limiter::new(
        LimiterConfig::default()
            .with_requests(Quota::per_second(HUGE))
            .with_tokens(Quota::per_second(HUGE))
            .with_max_concurrent(1_000_000),
    )
    .unwrap()
}

fn rpm_only_tsc() -> Limiter {
    Limiter::new(
        LimiterConfig::default()
            .with_requests(Quota::per_second(HUGE))
            .with_clock(ClockSource::Tsc),
    )
    .unwrap()
}

fn combined_tsc() -> Limiter {
    Limiter::new(
        LimiterConfig::default()
            .with_requests(Quota::per_second(HUGE))
            .with_tokens(Quota::per_second(HUGE))
            .with_max_concurrent(1_000_000)
            .with_clock(ClockSource::Tsc),
    )
    .unwrap()
}

fn governor_direct() -> governor::DefaultDirectRateLimiter {
    RateLimiter::direct(GQuota::per_second(NonZeroU32::MAX))
}

/// Runs `op` `iters` times split over two threads; returns the wall time of
/// the whole batch (so the result reads as the cost per operation of the
/// pair, i.e. throughput).
fn two_threads(iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters / 2 {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = StdInstant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn single_thread(c: &mut Criterion) {
    admissions(c, "single_thread");
}

/// The single-thread rows, in wall time or in thread CPU time.
fn admissions<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));

    let gov = governor_direct();
    g.bench_function("governor_check", |b| {
        b.iter(|| black_box(gov.check().is_ok()));
    });

    let rpm = rpm_only();
    g.bench_function("palisade_rpm_try_acquire_drop", |b| {
        b.iter(|| drop(black_box(rpm.try_acquire(Cost::request()))));
    });

    let all = combined();
    g.bench_function("palisade_rpm_tpm_conc_try_acquire_settle", |b| {
        b.iter(|| {
            if let Ok(p) = all.try_acquire(black_box(Cost::tokens(1_000))) {
                black_box(p.settle_tokens(600));
            }
        });
    });

    g.bench_function("palisade_rpm_tpm_conc_try_acquire_ref_settle", |b| {
        b.iter(|| {
            if let Ok(p) = all.try_acquire_ref(black_box(Cost::tokens(1_000))) {
                black_box(p.settle_tokens(600));
            }
        });
    });

    // The floor of any design with one lock per step and owned permits: a
    // TSC read, an Arc clone and drop, and two lock/unlock pairs, doing
    // nothing else.
    let floor = (
        std::sync::Arc::new(parking_lot::Mutex::new(0u64)),
        quanta::Clock::new(),
    );
    g.bench_function("floor_tsc_read_two_locks_arc", |b| {
        b.iter(|| {
            let t = floor.1.raw();
            let handle = std::sync::Arc::clone(&floor.0);
            *handle.lock() += black_box(t) & 1;
            *handle.lock() += 1;
            drop(black_box(handle));
        });
    });

    // The same floor for borrowed permits: no `Arc` traffic.
    g.bench_function("floor_tsc_read_two_locks", |b| {
        b.iter(|| {
            let t = floor.1.raw();
            *floor.0.lock() += black_box(t) & 1;
            *floor.0.lock() += 1;
        });
    });

    let rpm_tsc = rpm_only_tsc();
    g.bench_function("palisade_rpm_try_acquire_drop_tsc_clock", |b| {
        b.iter(|| drop(black_box(rpm_tsc.try_acquire(Cost::request()))));
    });
    let all_tsc = combined_tsc();
    g.bench_function("palisade_rpm_tpm_conc_try_acquire_settle_tsc_clock", |b| {
        b.iter(|| {
            if let Ok(p) = all_tsc.try_acquire(black_box(Cost::tokens(1_000))) {
                black_box(p.settle_tokens(600));
            }
        });
    });
    g.bench_function(
        "palisade_rpm_tpm_conc_try_acquire_ref_settle_tsc_clock",
        |b| {
            b.iter(|| {
                if let Ok(p) = all_tsc.try_acquire_ref(black_box(Cost::tokens(1_000))) {
                    black_box(p.settle_tokens(600));
                }
            });
        },
    );
    g.finish();
}

fn two_threads_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("two_threads");
    g.throughput(Throughput::Elements(1));

    let gov = governor_direct();
    g.bench_function("governor_check", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, &|| {
                black_box(gov.check().is_ok());
            })
        });
    });

    for (name, all) in [
        ("palisade_rpm_tpm_conc_try_acquire_settle", combined()),
        (
            "palisade_rpm_tpm_conc_try_acquire_settle_tsc_clock",
            combined_tsc(),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                two_threads(iters, &|| {
                    if let Ok(p) = all.try_acquire(black_box(Cost::tokens(1_000))) {
                        black_box(p.settle_tokens(600));
                    }
                })
            });
        });
        g.bench_function(name.replace("try_acquire", "try_acquire_ref"), |b| {
            b.iter_custom(|iters| {
                two_threads(iters, &|| {
                    if let Ok(p) = all.try_acquire_ref(black_box(Cost::tokens(1_000))) {
                        black_box(p.settle_tokens(600));
                    }
                })
            });
        });
    }
    g.finish();
}

fn clocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.throughput(Throughput::Elements(1));
    g.bench_function("std_instant_now", |b| {
        b.iter(|| black_box(StdInstant::now()));
    });
    g.bench_function("tokio_instant_now", |b| {
        b.iter(|| black_box(tokio::time::Instant::now()));
    });
    let q = quanta::Clock::new();
    g.bench_function("quanta_raw", |b| b.iter(|| black_box(q.raw())));
    // What the default clock reads where tokio's clock cannot be paused: the
    // counter, scaled to nanoseconds, after asking tokio whether this thread
    // is in a runtime (it is not, here).
    let start = q.raw();
    g.bench_function("quanta_delta_as_nanos_and_runtime_check", |b| {
        b.iter(|| {
            black_box(tokio::runtime::Handle::try_current().is_ok());
            black_box(q.delta_as_nanos(start, q.raw()))
        });
    });
    g.finish();

    // The other floors: one uncontended lock and unlock, one `Arc` clone and
    // drop (what an owned permit adds to a borrowed one).
    let mut g = c.benchmark_group("floor");
    g.throughput(Throughput::Elements(1));
    let lock = std::sync::Arc::new(parking_lot::Mutex::new(0u64));
    g.bench_function("parking_lot_lock_unlock", |b| {
        b.iter(|| *black_box(&lock).lock() += 1);
    });
    g.bench_function("arc_clone_drop", |b| {
        b.iter(|| drop(black_box(std::sync::Arc::clone(&lock))));
    });
    g.finish();
}

/// The default configuration admitting from inside tokio: a task of a
/// multi-thread runtime (where time cannot be paused) and the body of a
/// current-thread runtime (where it could be: the default clock reads tokio's
/// clock there). Each sample is one batch run inside the runtime.
fn in_runtimes(c: &mut Criterion) {
    let mut g = c.benchmark_group("in_runtime");
    g.throughput(Throughput::Elements(1));
    let op = |all: &Limiter| {
        if let Ok(p) = all.try_acquire(black_box(Cost::tokens(1_000))) {
            black_box(p.settle_tokens(600));
        }
    };
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let all = std::sync::Arc::new(combined());
    g.bench_function("multi_thread_task_rpm_tpm_conc_try_acquire_settle", |b| {
        b.iter_custom(|iters| {
            let all = std::sync::Arc::clone(&all);
            multi
                .block_on(multi.spawn(async move {
                    let start = StdInstant::now();
                    for _ in 0..iters {
                        op(&all);
                    }
                    start.elapsed()
                }))
                .unwrap()
        });
    });
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    g.bench_function("current_thread_rpm_tpm_conc_try_acquire_settle", |b| {
        b.iter_custom(|iters| {
            current.block_on(async {
                let start = StdInstant::now();
                for _ in 0..iters {
                    op(&all);
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

/// The bench thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`): on a shared
/// machine it leaves out the slices other processes take, which wall time
/// does not.
struct ThreadCpuTime;

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, start: Self::Intermediate) -> Self::Value {
        start.elapsed()
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn single_thread_cpu(c: &mut Criterion<ThreadCpuTime>) {
    admissions(c, "single_thread_cpu_time");
}

criterion_group!(
    benches,
    single_thread,
    two_threads_group,
    clocks,
    in_runtimes
);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = single_thread_cpu
}
criterion_main!(benches, cpu_benches);
