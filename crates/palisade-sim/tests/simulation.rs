//! Whole simulations: invariants, determinism, and the default scenario's
//! acceptance figures (the numbers the README and docs/simulation.md quote).

use std::time::Duration;

use palisade_sim::{NoProgress, Scenario, SimulationReport, render_table, simulate};

/// A small scenario: ten simulated minutes, an overloaded primary with an
/// outage, one fallback.
fn small() -> Scenario {
    Scenario::from_toml_str(
        r#"
        name = "small"
        seed = 7
        duration = "10m"
        clients = 40
        [arrivals]
        kind = "poisson"
        per_client_per_minute = 0.5
        [requests]
        deadline = "5m"
        [[models]]
        id = "sim/a"
        [models.quota]
        rpm = 12
        tpm = 60000
        output_burndown = 5.0
        [models.failures]
        error_rate = 0.02
        outages = [{ from = "3m", to = "5m" }]
        [[models]]
        id = "sim/b"
        [models.quota]
        rpm = 15
        tpm = 60000
        "#,
        "small",
    )
    .unwrap()
}

fn json(report: &SimulationReport) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

#[test]
fn every_request_is_accounted_for_on_both_sides() {
    let report = simulate(&small(), &NoProgress).unwrap();
    for side in [&report.naive, &report.palisade] {
        assert_eq!(side.requests, report.scenario.requests);
        assert_eq!(side.completed + side.failed, side.requests);
        assert_eq!(side.lost, 0);
        assert_eq!(side.failed, side.failed_by_kind.values().sum::<u64>());
        let by_model: u64 = side.models.values().map(|m| m.completed).sum();
        assert_eq!(by_model, side.completed);
    }
    assert!(
        report.naive.throttles_seen_by_provider > 0,
        "the primary is overloaded"
    );
    assert_eq!(report.palisade.throttles_surfaced, 0);
}

#[test]
fn the_same_scenario_gives_byte_identical_reports() {
    let a = json(&simulate(&small(), &NoProgress).unwrap());
    let b = json(&simulate(&small(), &NoProgress).unwrap());
    assert_eq!(a, b);

    let mut other = small();
    other.seed = 8;
    assert_ne!(a, json(&simulate(&other, &NoProgress).unwrap()));
}

#[test]
fn the_report_has_the_documented_field_names() {
    let report = simulate(&small(), &NoProgress).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
    for key in [
        "name",
        "seed",
        "duration_s",
        "clients",
        "requests",
        "offered_requests_per_min",
        "offered_tokens_per_min",
        "capacity_tokens_per_min",
        "quota_bound_tokens_per_min",
        "models",
    ] {
        assert!(value["scenario"].get(key).is_some(), "scenario.{key}");
    }
    for side in ["naive", "palisade"] {
        for key in [
            "requests",
            "completed",
            "failed",
            "lost",
            "completed_pct",
            "failed_by_kind",
            "throttles_seen_by_provider",
            "throttles_surfaced",
            "provider_calls",
            "retries",
            "fallbacks",
            "served_by_fallback",
            "latency_ms",
            "queue_ms",
            "goodput_tokens_per_min",
            "goodput_pct_of_quota_bound",
            "cost_usd",
            "drain_s",
            "models",
        ] {
            assert!(value[side].get(key).is_some(), "{side}.{key}");
        }
        for key in ["p50", "p95", "p99", "max", "mean"] {
            assert!(
                value[side]["latency_ms"].get(key).is_some(),
                "{side}.latency_ms.{key}"
            );
        }
    }
    let table = render_table(&report);
    assert!(table.contains("throttles surfaced to callers"), "{table}");
}

/// The headline claims, checked on every test run: in the default scenario
/// the palisade stack surfaces no throttling error, completes at least 99.9%
/// of requests, loses none and reaches at least 99% of the quota-bound
/// goodput, while the naive client is throttled.
#[test]
fn the_default_scenario_meets_the_acceptance_figures() {
    let scenario = Scenario::builtin();
    assert_eq!(scenario.duration, Duration::from_secs(3_600));
    let report = simulate(&scenario, &NoProgress).unwrap();
    let p = &report.palisade;
    assert_eq!(p.throttles_surfaced, 0, "{}", render_table(&report));
    assert!(p.completed_pct >= 99.9, "{}", render_table(&report));
    assert_eq!(p.lost, 0);
    assert_eq!(p.completed + p.failed, p.requests);
    assert!(
        p.goodput_pct_of_quota_bound.is_some_and(|pct| pct >= 99.0),
        "{}",
        render_table(&report)
    );

    let n = &report.naive;
    assert_eq!(n.lost, 0);
    assert!(n.throttles_surfaced > 0, "{}", render_table(&report));
    assert!(n.throttles_seen_by_provider > p.throttles_seen_by_provider);
}

/// `[palisade.stack]` replaces the derived stack: here a stack with no
/// limiter, whose calls the overloaded primary then throttles.
#[test]
fn a_whole_stack_config_in_the_scenario_is_the_stack_under_test() {
    let mut text = String::from(
        r#"
        seed = 3
        duration = "5m"
        clients = 40
        arrivals = { kind = "poisson", per_client_per_minute = 0.5 }
        [[models]]
        id = "sim/a"
        quota = { rpm = 10, tpm = 100000 }
        [[models]]
        id = "sim/b"
        quota = { rpm = 20, tpm = 100000 }
        "#,
    );
    let derived = simulate(&Scenario::from_toml_str(&text, "t").unwrap(), &NoProgress).unwrap();
    assert_eq!(derived.palisade.throttles_seen_by_provider, 0);

    text.push_str(
        r#"
        [palisade.stack]
        name = "no-limits"
        timeout = {}
        [[palisade.stack.candidates]]
        id = "sim/a"
        [[palisade.stack.candidates]]
        id = "sim/b"
        "#,
    );
    let given = simulate(&Scenario::from_toml_str(&text, "t").unwrap(), &NoProgress).unwrap();
    assert!(
        given.palisade.throttles_seen_by_provider > 0,
        "no limiter: the models throttle"
    );
    assert_eq!(given.palisade.lost, 0);
}

#[test]
fn the_stack_under_test_draws_its_jitter_from_the_scenario_seed() {
    let mut scenario = small();
    scenario.seed = 11;
    let derived = scenario.palisade.stack_config(&scenario);
    assert_eq!(derived.seed, Some(11));
    // A given stack without a seed gets the scenario's; one with a seed keeps it.
    let mut given = derived;
    given.seed = None;
    scenario.palisade.stack = Some(given.clone());
    assert_eq!(scenario.palisade.stack_config(&scenario).seed, Some(11));
    given.seed = Some(5);
    scenario.palisade.stack = Some(given);
    assert_eq!(scenario.palisade.stack_config(&scenario).seed, Some(5));
}
