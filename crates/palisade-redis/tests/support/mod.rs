//! Child processes for the multi-process tests: the test binary re-runs
//! itself with `--exact <child test>` and an environment that tells that test
//! it is a child (without it, the child test returns at once).

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The variable that makes a child test act (its value is the role).
pub(crate) const ROLE: &str = "PALISADE_REDIS_TEST_ROLE";

/// A child process that is killed when dropped, so a failing test leaves no
/// orphan behind.
pub(crate) struct ChildProcess(pub(crate) Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for ChildProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ChildProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Starts this test binary running only `test`, as a child with `role`.
pub(crate) fn spawn(test: &str, role: &str, env: &[(&str, String)]) -> ChildProcess {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    ChildProcess(command.spawn().expect("the test binary can be spawned"))
}

/// What follows `prefix` on the first line of the child's stdout that holds
/// it (the harness may print `test name ... ` before it), waiting at most
/// `limit`; `None` if the child ended or went quiet.
/// The reader thread keeps draining stdout so the child never blocks on it.
pub(crate) fn read_after(child: &mut Child, prefix: &str, limit: Duration) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    let prefix = prefix.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(at) = line.find(&prefix) {
                let _ = tx.send(line[at + prefix.len()..].trim().to_owned());
                sent = true;
            }
        }
    });
    rx.recv_timeout(limit).ok()
}

/// Waits for `child` to exit by itself, killing it after `limit`.
pub(crate) fn wait_or_kill(child: &mut Child, limit: Duration) -> bool {
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while waited < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(step);
        waited += step;
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Milliseconds since the Unix epoch (the one clock separate processes share).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads a required variable of a child's environment.
pub(crate) fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("child environment lacks {name}"))
}
