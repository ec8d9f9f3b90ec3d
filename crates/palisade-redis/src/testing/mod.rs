//! Throwaway Redis servers for tests, benches and examples (feature
//! `testing`): [`RedisServer`], one `redis-server` from `PATH` on a free
//! loopback port with its working directory in a temporary folder,
//! persistence off, stopped on drop; and [`RedisCluster`], a local Redis
//! Cluster of three masters and three replicas built from such servers with
//! `redis-cli --cluster create`, torn down on drop.
//!
//! ```no_run
//! # // no_run: needs redis-server on PATH.
//! use palisade_redis::testing::RedisServer;
//!
//! let Some(server) = RedisServer::start_or_skip("my_test") else { return };
//! let url = server.url(); // redis://127.0.0.1:<port>
//! # let _ = url;
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod certificates;
mod cluster;

pub use certificates::ThrowawayCa;
pub use cluster::RedisCluster;

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// `redis-server` (or, for a cluster, `redis-cli`; for TLS, `openssl`)
    /// is not on `PATH`.
    #[error(
        "redis-server or redis-cli is not on PATH (install them, e.g. `apt-get install -y redis-server redis-tools`)"
    )]
    NotInstalled,
    /// It is there but did not start or did not answer.
    #[error("redis-server at {path} on port {port} did not come up: {reason}")]
    DidNotStart {
        /// The executable.
        path: PathBuf,
        /// The port it was given.
        port: u16,
        /// What went wrong (its log tail when there is one).
        reason: String,
    },
    /// The temporary directory could not be made.
    #[error("could not create a temporary directory for redis-server: {0}")]
    TempDir(#[source] io::Error),
}

/// A `redis-server` child process on `127.0.0.1:<port>`.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    /// Serving TLS only (on `port`), see [`RedisServer::start_tls`].
    tls: bool,
    /// Arguments beyond the harness's own (kept for restarts).
    extra: Vec<String>,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Finds `redis-server` on `PATH`.
    pub fn binary() -> Option<PathBuf> {
        on_path("redis-server")
    }

    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Result<Self, TestServerError> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with more `redis-server` arguments, e.g.
    /// `["--requirepass", "…"]`. The readiness check is a raw `PING`, so
    /// arguments that make the server refuse it (TLS only) need their own.
    pub fn start_with(extra: &[&str]) -> Result<Self, TestServerError> {
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        Self::start_inner(extra, false)
    }

    /// A server that speaks only TLS, with `certificate` and `key` (PEM; see
    /// [`ThrowawayCa`]). Clients are not asked for certificates. Its
    /// [`url`](Self::url) is `rediss://127.0.0.1:<port>`.
    pub fn start_tls(certificate: &Path, key: &Path) -> Result<Self, TestServerError> {
        let path = |p: &Path| p.display().to_string();
        let extra = vec![
            "--tls-cert-file".to_owned(),
            path(certificate),
            "--tls-key-file".to_owned(),
            path(key),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        Self::start_inner(extra, true)
    }

    fn start_inner(extra: Vec<String>, tls: bool) -> Result<Self, TestServerError> {
        let binary = Self::binary().ok_or(TestServerError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("palisade-redis-")
            .tempdir()
            .map_err(TestServerError::TempDir)?;
        let mut last_error = None;
        // Another process may take the free port between our probe and the
        // server's bind; a few fresh ports make that race irrelevant.
        for _ in 0..5 {
            let port = free_port().map_err(|err| TestServerError::DidNotStart {
                path: binary.clone(),
                port: 0,
                reason: format!("no free port: {err}"),
            })?;
            match spawn(&binary, port, dir.path(), &with_port(&extra, tls, port)) {
                Ok(child) => {
                    return Ok(Self {
                        binary,
                        tls,
                        extra,
                        port,
                        dir,
                        child: Some(child),
                    });
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or(TestServerError::NotInstalled))
    }

    /// [`RedisServer::start`] for a test: `None` (after printing why, so the
    /// skip is visible) when `redis-server` is not installed, unless the
    /// environment says `CI=true`, where a missing server fails the test.
    /// Also fails when the server is installed but does not start.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        skip_unless_installed(test, Self::start())
    }

    /// A TLS server with a fresh [`ThrowawayCa`] for a test, or `None` as
    /// [`start_or_skip`](Self::start_or_skip) (also when `openssl` is
    /// missing).
    pub fn start_tls_or_skip(test: &str) -> Option<(Self, ThrowawayCa)> {
        let started = ThrowawayCa::generate().and_then(|ca| {
            Self::start_tls(&ca.server_certificate(), &ca.server_key()).map(|server| (server, ca))
        });
        skip_unless_installed(test, started)
    }

    /// [`start_or_skip`](Self::start_or_skip) with more arguments (see
    /// [`start_with`](Self::start_with)).
    pub fn start_or_skip_with(test: &str, extra: &[&str]) -> Option<Self> {
        skip_unless_installed(test, Self::start_with(extra))
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (kept across [`stop`](Self::stop) and
    /// [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL: like a crash or a network cut, no goodbye to
    /// clients). Its data is gone; persistence is off.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is
    /// answered, like a hung host or a partition that drops packets.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Lets a [paused](Self::pause) server run again (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        send_signal(self.child.as_ref(), signal)
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)), empty.
    pub fn restart(&mut self) -> Result<(), TestServerError> {
        self.stop();
        // The old socket may linger for a moment; redis-server binds with
        // SO_REUSEADDR, so a few retries cover it.
        let mut last = None;
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(err) => last = Some(err),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(last.unwrap_or(TestServerError::NotInstalled))
    }

    fn spawn(&mut self) -> Result<(), TestServerError> {
        self.child = Some(spawn(
            &self.binary,
            self.port,
            self.dir.path(),
            &self.extra,
        )?);
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused server would ignore SIGKILL's cleanup until continued.
        let _ = self.resume();
        self.stop();
    }
}

/// `extra`, and for a TLS server the plain port closed and `port` as the
/// TLS port (later arguments win in redis-server's command line).
fn with_port(extra: &[String], tls: bool, port: u16) -> Vec<String> {
    let mut args = extra.to_vec();
    if tls {
        args.extend([
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
        ]);
    }
    args
}

/// `started`, or `None` after a visible SKIPPED line when a binary is
/// missing, unless `CI=true`, where that fails the test; any other error
/// fails it too.
#[allow(clippy::panic)] // failing the calling test is this function's job
fn skip_unless_installed<T>(test: &str, started: Result<T, TestServerError>) -> Option<T> {
    match started {
        Ok(server) => Some(server),
        Err(TestServerError::NotInstalled) if !running_in_ci() => {
            // Written to the stream itself, not through `eprintln!`, which
            // the test harness captures and hides for a passing test.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: redis-server, redis-cli or openssl is not on PATH (install \
                 them with `apt-get install -y redis-server redis-tools openssl`; under CI=true \
                 this fails)"
            );
            None
        }
        Err(err) => panic!("{test}: {err}"),
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Sends `signal` (`-STOP`, `-CONT`) to `child` with `kill(1)`.
fn send_signal(child: Option<&Child>, signal: &str) -> io::Result<()> {
    let Some(child) = child else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "redis-server is not running",
        ));
    };
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("kill {signal} failed: {status}")))
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A raw RESP `PING`, so the harness does not depend on the client under
/// test. A server that wants a password first (`-NOAUTH`) is up too.
fn answers_ping(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Starts `redis-server` on `port` in `dir` with `extra` arguments and waits
/// for its `PONG`.
fn spawn(binary: &Path, port: u16, dir: &Path, extra: &[String]) -> Result<Child, TestServerError> {
    let log = dir.join("redis.log");
    let did_not_start = |reason: String| TestServerError::DidNotStart {
        path: binary.to_owned(),
        port,
        reason,
    };
    let mut child = Command::new(binary)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(&log)
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| did_not_start(format!("spawn failed: {err}")))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(did_not_start(format!(
                "exited with {status}; log: {}",
                log_tail(&log)
            )));
        }
        // A TLS port does not answer a plain PING; that it accepts
        // connections is enough (redis-server listens once it is ready).
        let tls = extra.iter().any(|a| a == "--tls-port");
        let ready = if tls {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        } else {
            answers_ping(addr)
        };
        if ready {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(did_not_start(format!(
                "no PONG within 10s; log: {}",
                log_tail(&log)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
