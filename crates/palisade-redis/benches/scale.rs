//! Admission throughput and latency as a fleet grows: 1, 2 and 4 instances
//! (each its own `RedisConnection` and `RedisLimitStore`, as separate
//! processes would have), 8 tasks per instance, admitting round-robin across
//! 8 models, on one `redis-server` and on a local Redis Cluster of 3 masters
//! (+ 3 replicas). Every admission is timed on its own (p50 / p99); the rate
//! is admissions over the wall time of the whole run.
//!
//! The admission takes a request and 500 tokens (limits generous enough that
//! all are admitted); no concurrency cap, so one script per admission.
//! After each run the bench reads `usec_per_call` of `EVALSHA` from
//! `INFO commandstats` on every master: Redis runs one script at a time, so
//! one master admits at most 1 / usec_per_call per second.
//!
//! Starts its own servers (skips with a message without redis-server or
//! redis-cli). Plain `main`, not criterion: the measurement is a fixed
//! number of operations per configuration, printed as a table.
//!
//! Run: `cargo bench -p palisade-redis --bench scale`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use palisade_limit::{LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::testing::{RedisCluster, RedisServer};
use palisade_redis::{RedisConfig, RedisConnection, RedisLimitStore};

const MODELS: usize = 8;
const TASKS_PER_INSTANCE: usize = 8;
const ADMISSIONS_PER_TASK: usize = 400;

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_second(10_000_000)),
        tokens: Some(Quota::per_second(10_000_000_000)),
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: None,
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

struct Run {
    per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn run(url: &str, instances: usize) -> Run {
    let mut stores = Vec::new();
    for _ in 0..instances {
        let connection = RedisConnection::connect(RedisConfig::with_url(url))
            .await
            .expect("connect");
        let store = RedisLimitStore::new(connection);
        store.preload().await.expect("preload");
        stores.push(Arc::new(store));
    }
    let limits = Arc::new(limits());
    let models: Arc<Vec<String>> =
        Arc::new((0..MODELS).map(|m| format!("scale/model-{m}")).collect());
    // Warm-up: every instance admits once on every model.
    for store in &stores {
        for model in models.iter() {
            store
                .try_reserve(model, &limits, TokenCounts::combined(500))
                .await
                .expect("warm-up");
        }
    }
    let start = Instant::now();
    let tasks: Vec<_> = stores
        .iter()
        .flat_map(|store| (0..TASKS_PER_INSTANCE).map(move |t| (Arc::clone(store), t)))
        .map(|(store, t)| {
            let (limits, models) = (Arc::clone(&limits), Arc::clone(&models));
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(ADMISSIONS_PER_TASK);
                for i in 0..ADMISSIONS_PER_TASK {
                    let model = &models[(t + i) % MODELS];
                    let began = Instant::now();
                    let answer = store
                        .try_reserve(model, &limits, TokenCounts::combined(500))
                        .await;
                    times.push(began.elapsed());
                    assert!(matches!(answer, Ok(Reservation::Admitted(_))), "{answer:?}");
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in join_all(tasks).await {
        times.extend(task.expect("task"));
    }
    let wall = start.elapsed();
    times.sort();
    Run {
        per_s: times.len() as f64 / wall.as_secs_f64(),
        p50_us: percentile(&times, 0.5),
        p99_us: percentile(&times, 0.99),
    }
}

/// `usec_per_call` of EVALSHA on the server at `port`.
fn script_cost_us(port: u16) -> Option<f64> {
    let output = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "info", "commandstats"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().find(|l| l.starts_with("cmdstat_evalsha:"))?;
    let field = line.split(',').find(|f| f.starts_with("usec_per_call="))?;
    field.trim_start_matches("usec_per_call=").parse().ok()
}

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return; // `cargo test --benches`: nothing to check quickly here.
    }
    let server = match RedisServer::start() {
        Ok(server) => server,
        Err(err) => {
            eprintln!("SKIPPED redis scale bench: {err}");
            return;
        }
    };
    let cluster = match RedisCluster::start(Duration::from_secs(15)) {
        Ok(cluster) => cluster,
        Err(err) => {
            eprintln!("SKIPPED redis scale bench: {err}");
            return;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{MODELS} models, {TASKS_PER_INSTANCE} tasks per instance, {ADMISSIONS_PER_TASK} admissions per task"
    );
    println!("| topology | instances | admissions/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|---|");
    for (name, url) in [
        ("single", server.url()),
        ("cluster (3 masters)", cluster.url()),
    ] {
        for instances in [1, 2, 4] {
            let r = runtime.block_on(run(&url, instances));
            println!(
                "| {name} | {instances} | {:.0} | {:.1} | {:.1} |",
                r.per_s, r.p50_us, r.p99_us
            );
        }
    }
    let single = script_cost_us(server.port());
    let masters: Vec<Option<f64>> = cluster.ports().into_iter().map(script_cost_us).collect();
    println!("EVALSHA usec_per_call: single {single:?}; cluster nodes {masters:?}");
}
