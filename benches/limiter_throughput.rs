// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

//! Admissions per second of a requests + tokens + concurrency limiter
//! (`palisade::limit`), admission and settle, beside governor's `check()`,
//! from 1, 2 and (where the machine has them) 16 threads sharing one
//! limiter, all in one run so the ratios hold on a busy machine.
//!
//! Every limit is far too large to refuse, so each operation is a full
//! admission: `try_acquire` + `settle_tokens` (the synchronous path), and
//! `acquire(..).await` + `settle_tokens` (the async path, polled once: an
//! admission that does not wait completes on its first poll). Criterion
//! reports time per operation and throughput (elements/s = admissions per
//! second of all threads together).
//!
//! `cargo bench --bench limiter_throughput -- --warm-up-time 1 --measurement-time 3`

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use governor::{Quota as GQuota, RateLimiter};
use palisade::Priority;
use palisade::limit::{Cost, Limiter, LimiterConfig, Quota};

const HUGE: u64 = 1 << 40;

/// Requests + tokens + concurrency, none of which ever refuses here.
fn limiter() -> Limiter {
    Limiter::new(
        LimiterConfig::named("bench")
            .with_requests(Quota::per_second(HUGE))
            .with_tokens(Quota::per_second(HUGE))
            .with_max_concurrent(1_000_000),
    )
    .expect("valid config")
}

/// Runs `op` `iters` times in all, split over `threads` threads started
/// together; returns the wall time of the whole batch, so criterion's
/// per-iteration time is the inverse of the threads' combined throughput.
fn on_threads(threads: usize, iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        return start.elapsed();
    }
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..per_thread {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

/// Polls `fut` once: the admission never waits, so it is ready at once.
fn poll_once<F: Future>(fut: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

fn throughput(c: &mut Criterion) {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, 2, 16] {
        if threads > available {
            println!("limiter_throughput: skipping {threads} threads ({available} available)");
            continue;
        }
        let mut g = c.benchmark_group(format!("threads_{threads}"));
        g.throughput(Throughput::Elements(1));

        let gov = RateLimiter::direct(GQuota::per_second(NonZeroU32::MAX));
        g.bench_function("governor_check", |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|| {
                    black_box(gov.check().is_ok());
                })
            });
        });

        let sync = limiter();
        g.bench_function("palisade_rpm_tpm_conc_try_acquire_settle", |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|| {
                    if let Ok(p) = sync.try_acquire(black_box(Cost::tokens(1_000))) {
                        black_box(p.settle_tokens(600));
                    }
                })
            });
        });

        let async_ = limiter();
        g.bench_function("palisade_rpm_tpm_conc_acquire_settle", |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|| {
                    let admitted =
                        poll_once(async_.acquire(black_box(Cost::tokens(1_000)), Priority::Normal));
                    if let Some(Ok(p)) = admitted {
                        black_box(p.settle_tokens(600));
                    }
                })
            });
        });
        g.finish();

        // Every operation above must have been an admission, not a refusal.
        for l in [&sync, &async_] {
            let stats = l.stats();
            assert_eq!(stats.rejected, 0, "{stats:?}");
            assert_eq!(stats.in_flight, 0, "{stats:?}");
        }
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
