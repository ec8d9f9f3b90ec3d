//! End-to-end tests of `palisade simulate`, running the built binary: the
//! default scenario, determinism of `--json`, overrides, and exit codes.

use std::process::{Command, Output};

mod support;
use support::TempFile;

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run palisade")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn no_arguments_runs_the_default_scenario_and_prints_the_table() {
    let out = palisade(&["simulate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(table.starts_with("Scenario \"default\" (seed 42): 1h simulated, 200 clients"));
    assert!(table.contains("throttles surfaced to callers"));
    // Piped stderr: no progress bar, no noise.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_is_identical_for_the_same_seed_and_has_the_documented_fields() {
    let args = ["simulate", "--json", "--duration", "10m", "--clients", "50"];
    let a = palisade(&args);
    let b = palisade(&args);
    assert!(a.status.success());
    assert_eq!(
        a.stdout, b.stdout,
        "two runs, one seed: byte-identical JSON"
    );

    let report: serde_json::Value = serde_json::from_slice(&a.stdout).expect("JSON");
    assert_eq!(report["scenario"]["clients"], 50);
    assert_eq!(report["scenario"]["duration_s"], 600.0);
    for side in ["naive", "palisade"] {
        let s = &report[side];
        let total = s["completed"].as_u64().unwrap() + s["failed"].as_u64().unwrap();
        assert_eq!(total, s["requests"].as_u64().unwrap());
        assert_eq!(s["lost"], 0);
    }

    let other = palisade(&[
        "simulate",
        "--json",
        "--duration",
        "10m",
        "--clients",
        "50",
        "--seed",
        "7",
    ]);
    assert_ne!(a.stdout, other.stdout, "another seed, another run");
}

#[test]
fn a_scenario_file_is_read_and_a_bad_one_is_one_line_with_exit_1() {
    let good = TempFile::new(
        "toml",
        "name = \"tiny\"\nduration = \"2m\"\nclients = 5\n[[models]]\nid = \"sim/only\"\n",
    );
    let out = palisade(&["simulate", "--scenario", good.path(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["scenario"]["name"], "tiny");

    let bad = TempFile::new(
        "toml",
        "[[models]]\nid = \"a\"\n[models.quota]\noutput_burndown = 0.5\n",
    );
    let out = palisade(&["simulate", "--scenario", bad.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("models[0].quota.output_burndown"), "{err}");

    let out = palisade(&["simulate", "--scenario", "/nonexistent/scenario.toml"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Issue 21, items 1 and 2: values the engine cannot represent were
/// accepted (then panicked 6,664 times and exited 0, or allocated gigabytes).
/// Now they are one line on stderr naming the key and its line, exit 1.
#[test]
fn values_past_the_engine_limits_are_one_line_naming_key_and_line() {
    let cases = [
        (
            "[[models]]\nid = \"a\"\n[models.latency]\ntime_to_first_token_ms = { kind = \"fixed\", value = 2e22 }\n",
            "models[0].latency.time_to_first_token_ms.value",
            "line 4",
        ),
        (
            "duration = \"10000h\"\n[[models]]\nid = \"a\"\n",
            "`duration`",
            "line 1",
        ),
        (
            "clients = 4294967295\n[[models]]\nid = \"a\"\n",
            "`clients`",
            "line 1",
        ),
    ];
    for (text, field, line) in cases {
        let file = TempFile::new("toml", text);
        let out = palisade(&["simulate", "--scenario", file.path()]);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(field) && err.contains(line), "{err}");
        assert!(out.stdout.is_empty());
    }
    // Overrides are held to the same limits: a combination too large to run.
    let out = palisade(&["simulate", "--duration", "744h", "--clients", "100000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`duration`") && err.contains("--duration"),
        "{err}"
    );
}

/// Issue 21, items 1, 2 and 8 with the scenario files of palisade-sim's
/// `tests/fixtures`: each file past the engine's limits is one line on
/// stderr naming its key, exit 1, nothing on stdout; the model without a
/// quota runs, exit 0, and its table says "no quota".
#[test]
fn the_hostile_fixture_files_are_refused_or_run_truthfully() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../palisade-sim/tests/fixtures/"
    );
    for (file, field) in [
        (
            "latency-past-a-duration.toml",
            "models[0].latency.time_to_first_token_ms.value",
        ),
        (
            "slow-factor-1e300.toml",
            "models[0].failures.slow[0].factor",
        ),
        ("duration-10000h.toml", "`duration`"),
        ("rate-1e9.toml", "`arrivals.per_client_per_minute`"),
        ("all-in-flight-at-once.toml", "`requests.deadline`"),
    ] {
        let out = palisade(&["simulate", "--scenario", &format!("{dir}{file}")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
        assert!(
            err.contains(field) && err.contains(", line "),
            "{file}: {err}"
        );
        assert!(out.stdout.is_empty(), "{file}");
    }
    let out = palisade(&["simulate", "--scenario", &format!("{dir}no-quota.toml")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(table.contains("no quota"), "{table}");
    assert!(
        !table.contains("capacity 0") && !table.contains("≤ 0.0 req/min"),
        "{table}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        palisade(&["simulate", "--clients", "0"]).status.code(),
        Some(2)
    );
    assert_eq!(
        palisade(&["simulate", "--duration", "soon"]).status.code(),
        Some(2)
    );
    assert_eq!(palisade(&["simulate", "--bogus"]).status.code(), Some(2));
    assert_eq!(
        palisade(&["simulate", "--duration", "10000h"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        palisade(&["simulate", "--clients", "100001"]).status.code(),
        Some(2)
    );
}

#[test]
fn print_default_prints_the_built_in_scenario() {
    let out = palisade(&["simulate", "--print-default"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("name = \"default\""));
    assert!(text.contains("rpm = 50"));
}

const AGENT_SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../palisade-sim/scenarios/agent.toml"
);

#[test]
fn an_agent_scenario_compares_cache_points_side_by_side() {
    let args = [
        "simulate",
        "--scenario",
        AGENT_SCENARIO,
        "--duration",
        "3m",
        "--compare-cache-points",
    ];
    let out = palisade(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(
        table.starts_with("Agent scenario \"agent\" (seed 42)"),
        "{table}"
    );
    assert!(table.contains("with cache points"), "{table}");
    assert!(table.contains("without cache points"), "{table}");
    assert!(table.contains("cache points saved"), "{table}");

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let a = palisade(&json_args);
    let b = palisade(&json_args);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "one seed: byte-identical JSON");
    let report: serde_json::Value = serde_json::from_slice(&a.stdout).expect("JSON");
    let with = &report["with_cache_points"];
    let without = &report["without_cache_points"];
    assert!(with["cache_read_tokens"].as_u64().unwrap() > 0);
    assert_eq!(without["cache_read_tokens"], 0);
    assert!(with["cost_usd"].as_f64().unwrap() < without["cost_usd"].as_f64().unwrap());
    assert!(
        with["models"]["sim/claude"]["peak_tpm_used"]
            .as_u64()
            .is_some()
    );
}

#[test]
fn an_agent_scenario_alone_runs_as_written_and_the_flag_needs_one() {
    let out = palisade(&["simulate", "--scenario", AGENT_SCENARIO, "--duration", "2m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(table.contains("with cache points"), "{table}");
    assert!(!table.contains("without cache points"), "{table}");

    let plain = TempFile::new("toml", "[[models]]\nid = \"sim/a\"\n");
    let out = palisade(&[
        "simulate",
        "--scenario",
        plain.path(),
        "--compare-cache-points",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[agent]"));
}
