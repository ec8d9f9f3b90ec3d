//! Two limiters — think two instances of a service — sharing one quota
//! through Redis: 10 requests per minute between them, not 10 each.
//!
//! Uses the Redis at `REDIS_URL` when it is set; otherwise starts a
//! throwaway `redis-server` from `PATH` on a free loopback port (install it
//! with `apt-get install -y redis-server`) and stops it at the end.
//!
//! ```text
//! cargo run --example shared_quota --features redis,limit
//! ```

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use palisade::Priority;
use palisade::limit::{Cost, LimitError, Limiter, LimiterConfig, Quota};
use palisade::redis::{RedisConfig, RedisConnection, RedisLimitStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = LocalRedis::start()?;
            (server.url.clone(), Some(server))
        }
    };
    println!("Redis: {url}");

    // What both instances are configured with: 10 requests per minute, all
    // of which may go at once, and a short wait (a refusal that would need
    // longer fails at once).
    let config = LimiterConfig {
        requests: Some(Quota::per_minute(10)),
        max_wait: Duration::from_millis(100),
        ..LimiterConfig::named("claude")
    };
    // A fresh key per run, so a shared Redis does not carry the last run's use.
    let key = format!("example/claude/{}", std::process::id());

    let mut instances = Vec::new();
    for name in ["instance A", "instance B"] {
        // Each instance has its own connection, as separate processes would.
        let connection = RedisConnection::connect(RedisConfig::with_url(&url)).await?;
        let store = Arc::new(RedisLimitStore::new(connection));
        store.preload().await?;
        let limiter =
            Limiter::with_store(config.clone(), store.clone(), &key, Duration::from_secs(30))?;
        instances.push((name, limiter, store, 0u32));
    }

    // Twenty requests, alternating between the instances.
    for round in 0..20 {
        let (name, limiter, _, admitted) = &mut instances[round % 2];
        match limiter.acquire(Cost::request(), Priority::Normal).await {
            Ok(permit) => {
                *admitted += 1;
                drop(permit); // the call would run here
            }
            Err(LimitError::RateLimited { retry_after, .. }) => {
                let wait = retry_after.unwrap_or_default().as_secs_f64();
                println!("{name}: refused, the shared quota is spent (retry in {wait:.1}s)");
            }
            Err(other) => return Err(other.into()),
        }
    }

    let mut total = 0;
    for (name, _, store, admitted) in &instances {
        total += admitted;
        let stats = store.stats();
        println!(
            "{name}: {admitted} admitted ({} Redis calls, Redis available: {})",
            stats.calls, stats.available
        );
    }
    println!("together: {total} admitted of a shared quota of 10 per minute");
    assert_eq!(total, 10, "the two instances share one quota");
    Ok(())
}

/// A `redis-server` child on a free loopback port, killed on drop.
struct LocalRedis {
    child: Child,
    url: String,
}

impl LocalRedis {
    fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| {
                format!("REDIS_URL is not set and redis-server could not be started: {err}")
            })?;
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        // Ready when it accepts connections (bounded: 5 s).
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("redis-server did not start listening within 5 s".into())
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
