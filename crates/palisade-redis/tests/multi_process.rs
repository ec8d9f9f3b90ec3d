//! Four OS processes, each with its own limiter over one Redis key, hammer a
//! shared quota for a measured period: together they never exceed the quota
//! plus the burst, and they use at least 90% of it.
//!
//! This test runs on the wall clock (separate processes share no other), and
//! counts admissions; it asserts no durations. The period is 4 s: long enough
//! that process start-up jitter is small against it, short enough for CI. The
//! quota is scaled to it: 40 requests per 2 s (20/s) with a burst of 10, so
//! the most any schedule can admit in the window is 10 + 20 × 4 = 90.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_core::Priority;
use palisade_limit::{Cost, LimitError, Limiter, LimiterConfig, Quota};
use palisade_redis::testing::RedisServer;
use palisade_redis::{RedisConfig, RedisConnection, RedisLimitStore};

const PROCESSES: usize = 4;
const TASKS_PER_PROCESS: usize = 4;
const AMOUNT: u64 = 40;
const PERIOD: Duration = Duration::from_secs(2);
const BURST: u64 = 10;
const MEASURED_MS: u64 = 4_000;

#[test]
fn four_processes_share_one_quota() {
    let Some(server) = RedisServer::start_or_skip("four_processes_share_one_quota") else {
        return;
    };
    // Children need a moment to start; they all begin at the same instant.
    let start = support::unix_ms() + 1_500;
    let end = start + MEASURED_MS;
    let env = [
        ("CHILD_REDIS_URL", server.url()),
        ("CHILD_START_MS", start.to_string()),
        ("CHILD_END_MS", end.to_string()),
    ];
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| support::spawn("quota_child", "quota", &env))
        .collect();
    let mut per_process = Vec::new();
    for child in &mut children {
        let line = support::read_after(child, "ADMITTED ", Duration::from_secs(30));
        per_process.push(line.and_then(|l| l.parse::<u64>().ok()));
    }
    for child in &mut children {
        assert!(
            support::wait_or_kill(child, Duration::from_secs(30)),
            "a child failed"
        );
    }
    let per_process: Vec<u64> = per_process
        .into_iter()
        .map(|n| n.expect("every child reports its admissions"))
        .collect();
    let total: u64 = per_process.iter().sum();
    let ceiling = BURST + AMOUNT * MEASURED_MS / u64::try_from(PERIOD.as_millis()).unwrap();
    // Straight to the stream: the harness would hide `eprintln!` on success,
    // and the measured share is the point of this test.
    let _ = writeln!(
        std::io::stderr(),
        "\nfour_processes_share_one_quota: admitted {total} of at most {ceiling} \
         (quota {AMOUNT} per {PERIOD:?} over {MEASURED_MS} ms + burst {BURST}; per process {per_process:?})"
    );
    assert!(total <= ceiling, "{total} > quota + burst = {ceiling}");
    assert!(total * 10 >= ceiling * 9, "{total} < 90% of {ceiling}");
    assert!(per_process.iter().all(|&n| n > 0), "{per_process:?}");
}

/// The child's side of [`four_processes_share_one_quota`]; does nothing
/// unless started by it.
#[test]
fn quota_child() {
    if std::env::var(support::ROLE).as_deref() != Ok("quota") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let admitted = runtime.block_on(run_child());
    println!("ADMITTED {admitted}");
}

async fn run_child() -> u64 {
    let (start, end) = (
        support::var("CHILD_START_MS").parse::<u64>().unwrap(),
        support::var("CHILD_END_MS").parse::<u64>().unwrap(),
    );
    let connection =
        RedisConnection::connect(RedisConfig::with_url(support::var("CHILD_REDIS_URL")))
            .await
            .unwrap();
    let store = RedisLimitStore::new(connection);
    store.preload().await.unwrap();
    let config = LimiterConfig {
        requests: Some(Quota::per(AMOUNT, PERIOD).with_burst(BURST)),
        max_concurrent: Some(16),
        max_wait: Duration::from_secs(1),
        ..LimiterConfig::named("shared-quota")
    };
    let limiter =
        Limiter::with_store(config, Arc::new(store), "model-q", Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_millis(
        start.saturating_sub(support::unix_ms()),
    ))
    .await;

    let admitted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS_PER_PROCESS {
        let (limiter, admitted) = (limiter.clone(), Arc::clone(&admitted));
        tasks.push(tokio::spawn(async move {
            while support::unix_ms() < end {
                match limiter.acquire(Cost::request(), Priority::Normal).await {
                    Ok(permit) => {
                        // Counted only if admitted inside the window.
                        if support::unix_ms() < end {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        drop(permit);
                    }
                    Err(LimitError::RateLimited { .. }) => {}
                    Err(other) => panic!("child limiter failed: {other}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    admitted.load(Ordering::Relaxed)
}
