//! Admission latency and throughput over loopback, against the floor any
//! Redis-backed limiter stands on: a raw `PING` round trip on the same
//! connection (`RedisLink`: a `ConnectionManager` for one server), measured in
//! the same run.
//!
//! - `single`: one task, one operation per iteration (the median is p50
//!   latency);
//! - `concurrent_32`: 32 operations in flight at once on the one multiplexed
//!   connection, one iteration per batch of 32 (`Throughput::Elements(32)`,
//!   so criterion reports operations per second).
//!
//! The admission is `RedisLimitStore::try_reserve` with a request limit, a
//! token limit and a concurrency cap (all generous, so every call is
//! admitted): one `EVALSHA` of `admit.lua` taking RPM, TPM and a lease. The
//! paired run adds a single-task series with every token dimension limited
//! (input, output and per-day quotas too).
//! Only the admission is timed; each lease is released afterwards, untimed,
//! so the lease set stays small as it would in service.
//!
//! Criterion's estimate is of the mean time per iteration within a sample, and
//! `PING` and admissions are measured one after the other; on a shared, busy
//! machine load shifts between the two skew their ratio. So after criterion
//! the bench also runs a *paired* measurement: `PING` and admission
//! alternate on the same connection, every operation is timed on its own,
//! and it prints the p50 / p90 / p99 of each and the p50 ratio (single task,
//! and 32 tasks each alternating). It ends with a throughput run: 32 tasks
//! doing only `PING`s, then 32 tasks doing only admissions, each admission
//! followed by its release (both counted in the wall time, as in service).
//! Last, a *decomposed* run splits the admission's round trip: `PING`, an
//! `EVALSHA` of `return 1` (the floor of any script), `admit.lua` called
//! directly (`scripts::admit_prepared`) and the store's `try_reserve`,
//! alternating on one connection, on a multi-thread and a current-thread
//! runtime. `-- nomatch` (a filter no criterion bench matches) runs only the
//! paired and decomposed parts.
//!
//! Starts its own redis-server; skips with a message if none is installed.
//! Run: `cargo bench -p palisade-redis --bench admission -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use futures_util::future::join_all;
use palisade_limit::{Lease, LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::RedisLink;
use palisade_redis::keys::LimitKeys;
use palisade_redis::limit::{AdmitReply, BucketRate, PreparedLimit, SharedLimits, scripts};
use palisade_redis::testing::{RedisServer, TestServerError};
use palisade_redis::{RedisConfig, RedisConnection, RedisLimitStore};

const KEY: &str = "bench/model";

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_second(10_000_000)),
        tokens: Some(Quota::per_second(10_000_000_000)),
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(1_000_000),
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

/// [`limits`] with input-tokens, output-tokens and tokens-per-day quotas
/// too: every dimension the script checks.
fn every_dimension() -> StoreLimits {
    StoreLimits {
        input_tokens: Some(Quota::per_second(10_000_000_000)),
        output_tokens: Some(Quota::per_second(10_000_000_000)),
        tokens_per_day: Some(Quota::per_second(10_000_000_000)),
        ..limits()
    }
}

/// What an admission reserves: 500 tokens, split 300 input / 200 output
/// where those are limited.
fn reservation(limits: &StoreLimits) -> TokenCounts {
    if limits.input_tokens.is_some() {
        TokenCounts {
            tokens: 500,
            input: 300,
            output: 200,
        }
    } else {
        TokenCounts::combined(500)
    }
}

async fn ping(manager: &RedisLink) {
    let mut manager = manager.clone();
    let pong: String = redis::cmd("PING").query_async(&mut manager).await.unwrap();
    assert_eq!(pong, "PONG");
}

async fn admit(store: &RedisLimitStore, limits: &StoreLimits) -> Lease {
    match store
        .try_reserve(KEY, limits, reservation(limits))
        .await
        .unwrap()
    {
        Reservation::Admitted(lease) => lease,
        other => panic!("the bench limits admit everything, got {other:?}"),
    }
}

fn bench(c: &mut Criterion, server: &RedisServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (manager, store) = runtime.block_on(async {
        let connection = RedisConnection::connect(RedisConfig::with_url(server.url()))
            .await
            .unwrap();
        let store = RedisLimitStore::new(connection.clone());
        store.preload().await.unwrap();
        (connection.link(), Arc::new(store))
    });
    let limits = Arc::new(limits());

    let mut group = c.benchmark_group("redis_admission/single");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("ping", 1), |b| {
        b.to_async(&runtime).iter(|| ping(&manager));
    });
    group.bench_function(BenchmarkId::new("admit", 1), |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (store, limits) = (Arc::clone(&store), Arc::clone(&limits));
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let lease = admit(&store, &limits).await;
                    timed += start.elapsed();
                    store
                        .release(KEY, &limits, lease.clone(), lease.tokens)
                        .await
                        .unwrap();
                }
                timed
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("redis_admission/concurrent_32");
    group.throughput(Throughput::Elements(32));
    group.bench_function(BenchmarkId::new("ping", 32), |b| {
        b.to_async(&runtime)
            .iter(|| join_all((0..32).map(|_| ping(&manager))));
    });
    group.bench_function(BenchmarkId::new("admit", 32), |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (store, limits) = (Arc::clone(&store), Arc::clone(&limits));
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let leases = join_all((0..32).map(|_| admit(&store, &limits))).await;
                    timed += start.elapsed();
                    join_all(
                        leases
                            .into_iter()
                            .map(|lease| store.release(KEY, &limits, lease.clone(), lease.tokens)),
                    )
                    .await;
                }
                timed
            }
        });
    });
    group.finish();
}

/// Per-operation latencies of `PING` and admission, alternating.
async fn paired(
    manager: RedisLink,
    store: Arc<RedisLimitStore>,
    limits: Arc<StoreLimits>,
    rounds: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut pings, mut admits) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let start = Instant::now();
        ping(&manager).await;
        pings.push(start.elapsed());
        let start = Instant::now();
        let lease = admit(&store, &limits).await;
        admits.push(start.elapsed());
        store
            .release(KEY, &limits, lease.clone(), lease.tokens)
            .await
            .unwrap();
    }
    (pings, admits)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// The p50, p90 and p99 of `sorted`, as one line of the bench's output.
fn percentiles(sorted: &[Duration]) -> String {
    format!(
        "p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs",
        percentile(sorted, 0.5),
        percentile(sorted, 0.9),
        percentile(sorted, 0.99)
    )
}

fn report(label: &str, mut pings: Vec<Duration>, mut admits: Vec<Duration>) {
    pings.sort();
    admits.sort();
    println!("paired {label} ({} operations each)", pings.len());
    println!("  {:>6}: {}", "ping", percentiles(&pings));
    println!("  {:>6}: {}", "admit", percentiles(&admits));
    println!(
        "  admission p50 / PING p50 = {:.2}",
        percentile(&admits, 0.5) / percentile(&pings, 0.5)
    );
}

/// Operations per second of 32 tasks doing `rounds` of `op` each.
async fn throughput<F, Fut>(rounds: usize, op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                for _ in 0..rounds {
                    op().await;
                }
            })
        })
        .collect();
    for task in join_all(tasks).await {
        task.unwrap();
    }
    (32 * rounds) as f64 / start.elapsed().as_secs_f64()
}

fn paired_run(server: &RedisServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let connection = RedisConnection::connect(RedisConfig::with_url(server.url()))
            .await
            .unwrap();
        let store = Arc::new(RedisLimitStore::new(connection.clone()));
        let limits = Arc::new(limits());
        let manager = connection.link();
        // Warm-up, then single task.
        paired(
            manager.clone(),
            Arc::clone(&store),
            Arc::clone(&limits),
            500,
        )
        .await;
        let (p, a) = paired(
            manager.clone(),
            Arc::clone(&store),
            Arc::clone(&limits),
            5_000,
        )
        .await;
        report("single task", p, a);
        let every = Arc::new(every_dimension());
        let (p, a) = paired(
            manager.clone(),
            Arc::clone(&store),
            Arc::clone(&every),
            5_000,
        )
        .await;
        report("single task, every dimension limited", p, a);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (manager, store, limits) =
                    (manager.clone(), Arc::clone(&store), Arc::clone(&limits));
                tokio::spawn(paired(manager, store, limits, 200))
            })
            .collect();
        let (mut pings, mut admits) = (Vec::new(), Vec::new());
        for task in join_all(tasks).await {
            let (p, a) = task.unwrap();
            pings.extend(p);
            admits.extend(a);
        }
        report("32 concurrent tasks", pings, admits);

        let pings_per_s = throughput(300, move || {
            let manager = manager.clone();
            async move { ping(&manager).await }
        })
        .await;
        let admits_per_s = throughput(300, move || {
            let (store, limits) = (Arc::clone(&store), Arc::clone(&limits));
            async move {
                let lease = admit(&store, &limits).await;
                store
                    .release(KEY, &limits, lease.clone(), lease.tokens)
                    .await
                    .unwrap();
            }
        })
        .await;
        println!("throughput, 32 tasks on one connection");
        println!("    ping: {pings_per_s:>8.0} /s");
        println!("   admit: {admits_per_s:>8.0} /s (each followed by its release)");
    });
}

/// Where an admission's round trip goes: `PING`, an `EVALSHA` of a script
/// that only returns 1 (the floor of any script), `admit.lua` called
/// directly through `scripts::admit_prepared` (the script without the
/// store: no lease keeper, no member id), and the store's `try_reserve`,
/// alternating on one connection, each operation timed on its own.
async fn decomposed(connection: RedisConnection, rounds: usize) -> [Vec<Duration>; 4] {
    let store = RedisLimitStore::new(connection.clone());
    let limits = limits();
    let bucket = |q: &Quota| BucketRate::new(q.amount, q.period, q.burst());
    let shared = SharedLimits {
        requests: limits.requests.as_ref().and_then(bucket),
        tokens: limits.tokens.as_ref().and_then(bucket),
        max_concurrent: limits.max_concurrent,
        ..SharedLimits::default()
    };
    // Its own key, so the direct series and the store's do not share a bucket.
    let prepared = PreparedLimit::new(LimitKeys::new("palisade", "bench/direct"), shared);
    let noop = redis::Script::new("return 1");
    let mut link = connection.link();
    let _: i64 = noop.invoke_async(&mut link).await.unwrap();
    let mut series: [Vec<Duration>; 4] = Default::default();
    for _ in 0..rounds {
        let start = Instant::now();
        ping(&link).await;
        series[0].push(start.elapsed());

        let start = Instant::now();
        let one: i64 = redis::cmd("EVALSHA")
            .arg(noop.get_hash())
            .arg(0)
            .query_async(&mut link)
            .await
            .unwrap();
        series[1].push(start.elapsed());
        assert_eq!(one, 1);

        let start = Instant::now();
        let reply = scripts::admit_prepared(
            &connection,
            &prepared,
            reservation(&limits),
            "decomposed",
            limits.lease_ttl,
        )
        .await
        .unwrap();
        series[2].push(start.elapsed());
        assert!(matches!(reply, AdmitReply::Admitted { .. }), "{reply:?}");
        let _: i64 = redis::cmd("ZREM")
            .arg(&prepared.keys().leases)
            .arg("decomposed")
            .query_async(&mut link)
            .await
            .unwrap();

        let start = Instant::now();
        let lease = admit(&store, &limits).await;
        series[3].push(start.elapsed());
        store
            .release(KEY, &limits, lease.clone(), lease.tokens)
            .await
            .unwrap();
    }
    series
}

fn decomposed_run(server: &RedisServer) {
    let runtimes = [
        (
            "multi-thread runtime, 2 workers",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "current-thread runtime",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
    ];
    for (label, runtime) in runtimes {
        let series = runtime.block_on(async {
            let connection = RedisConnection::connect(RedisConfig::with_url(server.url()))
                .await
                .unwrap();
            decomposed(connection.clone(), 500).await;
            decomposed(connection, 5_000).await
        });
        println!("decomposed, {label} (5000 operations each)");
        let names = [
            "PING",
            "EVALSHA return 1",
            "admit.lua direct",
            "try_reserve",
        ];
        let ping_p50 = {
            let mut v = series[0].clone();
            v.sort();
            percentile(&v, 0.5)
        };
        for (name, mut v) in names.into_iter().zip(series) {
            v.sort();
            println!(
                "  {name:>17}: {}  p50 / PING p50 {:.2}",
                percentiles(&v),
                percentile(&v, 0.5) / ping_p50
            );
        }
    }
}

fn main() {
    let server = match RedisServer::start() {
        Ok(server) => server,
        Err(TestServerError::NotInstalled) => {
            eprintln!("SKIPPED redis admission bench: redis-server is not on PATH");
            return;
        }
        Err(err) => panic!("redis admission bench: {err}"),
    };
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &server);
    criterion.final_summary();
    // `cargo test --benches` runs each bench once in test mode: no extras.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        paired_run(&server);
        decomposed_run(&server);
    }
}
