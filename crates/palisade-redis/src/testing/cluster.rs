//! `RedisCluster`: a local Redis Cluster (three masters, three replicas) of
//! `redis-server` processes on free loopback ports, created with
//! `redis-cli --cluster create … --cluster-replicas 1`, torn down on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{TestServerError, log_tail, on_path, send_signal, skip_unless_installed, spawn};

/// Masters of the test cluster (each with one replica).
const MASTERS: usize = 3;

/// One node of a [`RedisCluster`].
#[derive(Debug)]
struct Node {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// A local Redis Cluster: three masters with one replica each, every
/// node a `redis-server` child process with its own directory under one
/// temporary folder, persistence off.
///
/// ```no_run
/// # // no_run: needs redis-server and redis-cli on PATH.
/// use std::time::Duration;
/// use palisade_redis::testing::RedisCluster;
///
/// let Some(cluster) = RedisCluster::start_or_skip("my_test", Duration::from_secs(5)) else {
///     return;
/// };
/// let url = cluster.url(); // redis+cluster://127.0.0.1:<port>,…
/// # let _ = url;
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    binary: PathBuf,
    cli: PathBuf,
    nodes: Vec<Node>,
    node_timeout: Duration,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts six nodes, joins them into a cluster (`--cluster-replicas 1`)
    /// and waits until every node reports `cluster_state:ok` and every
    /// replica is in sync with its master. `node_timeout` is the nodes'
    /// `cluster-node-timeout`: how long a master may be silent before its
    /// replica takes over.
    pub fn start(node_timeout: Duration) -> Result<Self, TestServerError> {
        let binary = on_path("redis-server").ok_or(TestServerError::NotInstalled)?;
        let cli = on_path("redis-cli").ok_or(TestServerError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("palisade-redis-cluster-")
            .tempdir()
            .map_err(TestServerError::TempDir)?;
        let mut cluster = Self {
            binary,
            cli,
            nodes: Vec::new(),
            node_timeout,
            _dir: dir,
        };
        let root = cluster._dir.path().to_owned();
        for i in 0..MASTERS * 2 {
            let node_dir = root.join(format!("node-{i}"));
            std::fs::create_dir_all(&node_dir).map_err(TestServerError::TempDir)?;
            let (port, child) = cluster.spawn_node(&node_dir)?;
            cluster.nodes.push(Node {
                port,
                dir: node_dir,
                child: Some(child),
            });
        }
        cluster.create()?;
        cluster.wait_until_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// [`RedisCluster::start`] for a test: `None` (after printing why) when
    /// `redis-server` or `redis-cli` is not installed, unless `CI=true`,
    /// where that fails the test.
    pub fn start_or_skip(test: &str, node_timeout: Duration) -> Option<Self> {
        skip_unless_installed(test, Self::start(node_timeout))
    }

    /// `redis+cluster://127.0.0.1:<port>,…` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Every node's port.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// The port of the master that serves `key`'s slot now, as a running
    /// node sees it.
    pub fn master_of(&self, key: &str) -> Option<u16> {
        let slot: u16 = self
            .cli_on_any(&["cluster", "keyslot", key])?
            .trim()
            .parse()
            .ok()?;
        let nodes = self.cli_on_any(&["cluster", "nodes"])?;
        nodes.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.contains("master") || flags.contains("fail") {
                return None;
            }
            let serves = fields
                .iter()
                .skip(8)
                .any(|range| match range.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= slot)
                            && b.parse::<u16>().is_ok_and(|b| slot <= b)
                    }
                    None => range.parse::<u16>() == Ok(slot),
                });
            serves.then(|| port_of(fields.get(1)?)).flatten()
        })
    }

    /// Kills the node on `port` (SIGKILL: a crashed host). Its replica, if
    /// it was a master, is promoted after the node timeout.
    pub fn kill(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port)
            && let Some(mut child) = node.child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes every node (SIGSTOP): connections stay open, nothing answers.
    /// Keep it shorter than the node timeout, or nodes will mark each other
    /// failed when they resume.
    pub fn pause(&self) -> std::io::Result<()> {
        for node in &self.nodes {
            if node.child.is_some() {
                send_signal(node.child.as_ref(), "-STOP")?;
            }
        }
        Ok(())
    }

    /// Lets every [paused](Self::pause) node run again (SIGCONT).
    pub fn resume(&self) -> std::io::Result<()> {
        for node in &self.nodes {
            if node.child.is_some() {
                send_signal(node.child.as_ref(), "-CONT")?;
            }
        }
        Ok(())
    }

    /// Whether every running node reports `cluster_state:ok`.
    pub fn is_healthy(&self) -> bool {
        self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
            self.cli(n.port, &["cluster", "info"])
                .is_some_and(|info| info.contains("cluster_state:ok"))
        })
    }

    fn spawn_node(&self, dir: &Path) -> Result<(u16, Child), TestServerError> {
        let timeout_ms = self.node_timeout.as_millis().max(100).to_string();
        let mut last = None;
        for _ in 0..10 {
            let Some(port) = cluster_port() else { continue };
            let args = [
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-config-file".to_owned(),
                dir.join("nodes.conf").display().to_string(),
                "--cluster-node-timeout".to_owned(),
                timeout_ms.clone(),
            ];
            match spawn(&self.binary, port, dir, &args) {
                Ok(child) => return Ok((port, child)),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| TestServerError::DidNotStart {
            path: self.binary.clone(),
            port: 0,
            reason: "no free port pair (port and port + 10000 for the cluster bus)".into(),
        }))
    }

    /// `redis-cli --cluster create <nodes> --cluster-replicas 1 --cluster-yes`.
    fn create(&self) -> Result<(), TestServerError> {
        let mut command = Command::new(&self.cli);
        command.args(["--cluster", "create"]);
        for node in &self.nodes {
            command.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = command
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| self.failed(format!("redis-cli --cluster create: {err}")))?;
        if output.status.success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&output.stdout);
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            Err(self.failed(format!(
                "redis-cli --cluster create failed ({}): {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )))
        }
    }

    /// Until every node reports `cluster_state:ok` and every replica's link
    /// to its master is up (a replica that has not synced cannot take over).
    fn wait_until_healthy(&self, limit: Duration) -> Result<(), TestServerError> {
        let deadline = Instant::now() + limit;
        loop {
            let synced = self.nodes.iter().all(|n| {
                self.cli(n.port, &["info", "replication"])
                    .is_some_and(|info| {
                        info.contains("role:master") || info.contains("master_link_status:up")
                    })
            });
            if synced && self.is_healthy() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = self
                    .nodes
                    .first()
                    .map(|n| log_tail(&n.dir.join("redis.log")))
                    .unwrap_or_default();
                return Err(self.failed(format!(
                    "the cluster was not healthy within {limit:?}; first node's log: {log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        let output = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `args` on the first running node that answers.
    fn cli_on_any(&self, args: &[&str]) -> Option<String> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .find_map(|n| self.cli(n.port, args).filter(|out| !out.trim().is_empty()))
    }

    fn failed(&self, reason: String) -> TestServerError {
        TestServerError::DidNotStart {
            path: self.cli.clone(),
            port: self.nodes.first().map_or(0, |n| n.port),
            reason,
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let _ = self.resume();
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `127.0.0.1:7000@17000` → 7000.
fn port_of(address: &str) -> Option<u16> {
    let host_port = address.split('@').next()?;
    host_port.rsplit_once(':')?.1.parse().ok()
}

/// A port whose cluster-bus port (+10000) is free too.
fn cluster_port() -> Option<u16> {
    let port = 20_000 + rand::random::<u16>() % 20_000;
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    (free(port) && free(port + 10_000)).then_some(port)
}
