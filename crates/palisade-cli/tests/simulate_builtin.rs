//! `palisade simulate --scenario NAME`: the built-in scenarios of issue 16
//! run from the CLI with their figures (`large-max-tokens` side by side,
//! `budget` with its budget line), and a name that is neither a file nor a
//! built-in scenario is one line with exit 1.

use std::process::{Command, Output};

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
fn large_max_tokens_prints_both_reservations_and_learned_admits_three_times_more() {
    let out = palisade(&["simulate", "--scenario", "large-max-tokens"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(
        table.starts_with("Scenario \"large-max-tokens\""),
        "{table}"
    );
    assert!(table.contains("reserve max_tokens") && table.contains("learned"));

    let json = palisade(&["simulate", "--scenario", "large-max-tokens", "--json"]);
    assert!(json.status.success());
    let c: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let (reserve, learned) = (&c["reserve_max_tokens"], &c["learned"]);
    let answered = |r: &serde_json::Value| r["completed"].as_u64().unwrap();
    assert!(
        answered(learned) >= 3 * answered(reserve),
        "learned {} vs reserve {}",
        answered(learned),
        answered(reserve)
    );
    for r in [reserve, learned] {
        assert_eq!(r["throttles_surfaced"], 0);
        assert_eq!(r["lost"], 0);
    }
}

#[test]
fn budget_says_how_close_it_came_and_is_never_exceeded() {
    let out = palisade(&["simulate", "--scenario", "budget"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    assert!(table.contains("budget: spent $"), "{table}");
    assert!(table.contains("never exceeded"), "{table}");

    let json = palisade(&["simulate", "--scenario", "budget", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let budget = &report["budget"];
    let spent = budget["spent_usd"].as_f64().unwrap();
    let limit = budget["limit_usd"].as_f64().unwrap();
    assert!(spent <= limit, "{budget}");
    assert!(budget["refused"].as_u64().unwrap() > 0, "{budget}");
    assert_eq!(report["palisade"]["cost_usd"].as_f64().unwrap(), spent);
}

#[test]
fn an_unknown_name_lists_the_built_in_scenarios() {
    let out = palisade(&["simulate", "--scenario", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("large-max-tokens, budget"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn compare_learned_output_refuses_an_agent_scenario() {
    let out = palisade(&[
        "simulate",
        "--scenario",
        "agent",
        "--compare-learned-output",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--compare-learned-output"), "{err}");
}
