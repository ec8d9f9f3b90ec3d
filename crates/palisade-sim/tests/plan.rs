//! The quota planner (issue 18): demand figures read from a run with no
//! quota, a bounded search over real simulation runs, and — the acceptance
//! point — recommended quotas that, fed back into the scenario, simulate
//! with no call refused for quota and p99 queueing within the bound.

use std::path::PathBuf;
use std::time::Duration;

use palisade_sim::{
    MAX_SEARCH_RUNS, NoProgress, PlanTarget, QuotaPlan, Scenario, Trace, TraceError, plan,
    plan_trace, render_plan_table, simulate, simulate_trace,
};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// The default scenario, shortened for a debug build but still holding the
/// primary's outage (minutes 20 to 30), so the fallbacks have demand too.
fn short_default() -> Scenario {
    let mut s = Scenario::builtin();
    s.duration = Duration::from_secs(25 * 60);
    s
}

fn assert_recommended_quotas_meet_the_target(
    plan: &QuotaPlan,
    report: &palisade_sim::SystemReport,
) {
    assert_eq!(
        report.throttles_seen_by_provider, 0,
        "the recommended quotas refused calls"
    );
    assert!(
        report.queue_ms.p99 <= plan.max_queue_p99_ms(),
        "p99 queueing {} ms over the bound {} ms",
        report.queue_ms.p99,
        plan.max_queue_p99_ms()
    );
    assert_eq!(report.lost, 0);
    // The plan's prediction is that run's outcome.
    assert_eq!(plan.at_recommended.palisade.queue_ms, report.queue_ms);
    assert_eq!(plan.at_recommended.palisade.completed, report.completed);
}

#[test]
fn recommended_quotas_fed_back_into_the_default_scenario_simulate_with_no_throttles() {
    let scenario = short_default();
    let target = PlanTarget::default();
    let plan = plan(&scenario, &target).unwrap();
    assert!(plan.target_met, "{}", render_plan_table(&plan));
    assert_eq!(plan.version, 1);
    assert!(plan.runs.search >= 1 && plan.runs.search <= MAX_SEARCH_RUNS);
    assert_eq!(plan.runs.total, 1 + 2 + plan.runs.search + 1);

    let mut fed = scenario.clone();
    plan.apply(&mut fed);
    assert_ne!(fed, scenario, "the plan changed no quota");
    let report = simulate(&fed, &NoProgress).unwrap();
    assert_recommended_quotas_meet_the_target(&plan, &report.palisade);

    // At the current quotas the naive client is throttled (the scenario
    // offers 10% over the primary's quota), and the plan says so.
    let current = simulate(&scenario, &NoProgress).unwrap();
    assert_eq!(
        plan.at_current.naive.throttles,
        current.naive.throttles_seen_by_provider
    );
    assert!(plan.at_current.naive.throttles > 0);
    assert_eq!(plan.at_current.palisade.cost_usd, current.palisade.cost_usd);

    // With no quota the fallbacks in order absorb the outage: the last one
    // is never reached, and keeps its quotas.
    let unreached = &plan.models[2];
    assert_eq!(unreached.demand.requests, 0);
    assert_eq!(unreached.recommended, unreached.current);
    for m in &plan.models[..2] {
        let d = &m.demand;
        assert!(d.requests > 0, "{} had no demand", m.id);
        assert!(d.rpm.peak >= d.rpm.steady && d.tpm.peak >= d.tpm.steady);
        assert!(d.peak_tpm_reserved as f64 >= d.tpm.peak, "{}", m.id);
        let (rpm, tpm) = (m.recommended.rpm.unwrap(), m.recommended.tpm.unwrap());
        assert!(
            f64::from(rpm) >= d.rpm.steady.floor(),
            "{}: {rpm} rpm",
            m.id
        );
        assert!(tpm as f64 >= d.tpm.steady.floor(), "{}: {tpm} tpm", m.id);
    }
    // The primary carries the load: its demand is about the offered 55/min
    // (less the outage minutes it spent refusing).
    let primary = &plan.models[0].demand;
    assert!(
        (35.0..60.0).contains(&primary.rpm.steady),
        "{}",
        primary.rpm.steady
    );
}

#[test]
fn the_plan_is_the_same_for_the_same_seed() {
    let mut scenario = short_default();
    scenario.duration = Duration::from_secs(5 * 60);
    let a = plan(&scenario, &PlanTarget::default()).unwrap();
    let b = plan(&scenario, &PlanTarget::default()).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

/// A trace whose demand is known exactly: ten calls in the first ten
/// seconds, then one a minute; every size fixed, no failures.
fn known_trace() -> Trace {
    let mut lines = String::new();
    for i in 0..10 {
        lines.push_str(&format!(
            "{{\"ts\": {i}, \"model\": \"sim/a\", \"input_tokens\": 1000, \"output_tokens\": 100, \"max_tokens\": 200}}\n"
        ));
    }
    for minute in 1..=5 {
        lines.push_str(&format!(
            "{{\"ts\": {}, \"model\": \"sim/a\", \"input_tokens\": 1000, \"output_tokens\": 100, \"max_tokens\": 200}}\n",
            minute * 60 + 30
        ));
    }
    Trace::from_jsonl_str(&lines, "known").unwrap()
}

#[test]
fn demand_figures_are_what_the_trace_asks_for() {
    let scenario = Scenario::from_toml_str(
        "[[models]]\nid = \"sim/a\"\nquota = { rpm = 5, tpm = 100000, output_burndown = 5.0 }\n",
        "t",
    )
    .unwrap();
    let bound = known_trace().bind(Some(&scenario)).unwrap();
    assert_eq!(bound.scenario.duration, Duration::from_secs(6 * 60));
    let plan = plan_trace(&bound, &PlanTarget::default()).unwrap();
    let d = &plan.models[0].demand;
    assert_eq!(d.requests, 15);
    assert_eq!(d.rpm.peak, 10.0);
    assert_eq!(d.rpm.steady, 2.5); // 15 calls over 6 minutes
    // Each call is charged 1,000 + 100 × 5 = 1,500 quota tokens.
    assert_eq!(d.tpm.peak, 15_000.0);
    assert_eq!(d.tpm.steady, 3_750.0);
    assert_eq!(d.input_tpm.peak, 10_000.0);
    assert_eq!(d.output_tpm.peak, 1_000.0);
    assert_eq!(d.avg_input_tokens, 1_000.0);
    assert_eq!(d.avg_output_tokens, 100.0);
    assert_eq!(d.tpd.steady, 3_750.0 * 1_440.0);
    // Each call reserves 1,000 + 200 × 5 = 2,000 until it settles.
    assert_eq!(d.largest_reservation, 2_000);
    assert!((15_000..=20_000).contains(&d.peak_tpm_reserved));
    // The current 5 RPM throttles a client without a limiter in the burst.
    assert!(plan.at_current.naive.throttles > 0);
    assert_eq!(plan.at_current.palisade.throttles, 0);

    let mut fed = bound.scenario.clone();
    plan.apply(&mut fed);
    let report = simulate_trace(&bound.with_scenario(fed).unwrap(), &NoProgress).unwrap();
    assert_recommended_quotas_meet_the_target(&plan, &report.palisade);
}

#[test]
fn a_tighter_queueing_bound_needs_larger_quotas() {
    let scenario = Scenario::from_toml_str(
        "[[models]]\nid = \"sim/a\"\nquota = { rpm = 5, tpm = 100000, output_burndown = 5.0 }\n",
        "t",
    )
    .unwrap();
    let bound = known_trace().bind(Some(&scenario)).unwrap();
    let loose = PlanTarget {
        max_queue_p99: Duration::from_secs(120),
    };
    let tight = PlanTarget {
        max_queue_p99: Duration::ZERO,
    };
    let loose = plan_trace(&bound, &loose).unwrap();
    let tight = plan_trace(&bound, &tight).unwrap();
    assert!(loose.target_met && tight.target_met);
    let rpm = |p: &QuotaPlan| p.models[0].recommended.rpm.unwrap();
    assert!(
        rpm(&tight) > rpm(&loose),
        "{} vs {}",
        rpm(&tight),
        rpm(&loose)
    );
    // With no queueing allowed, the burst of ten must fit in one window.
    assert!(rpm(&tight) >= 10, "{}", rpm(&tight));
    assert_eq!(tight.at_recommended.palisade.queue_ms.p99, 0.0);
}

#[test]
fn the_sample_trace_plans_and_its_recommended_quotas_hold() {
    let trace = Trace::from_file(&example("plan_trace.jsonl")).unwrap();
    assert!(trace.requests().len() >= 300, "{}", trace.requests().len());
    assert_eq!(
        trace.models(),
        vec!["anthropic.claude-sonnet-4-5", "anthropic.claude-haiku-4-5"]
    );
    let scenario = Scenario::from_file(&example("plan_trace.toml")).unwrap();
    let bound = trace.bind(Some(&scenario)).unwrap();
    let plan = plan_trace(&bound, &PlanTarget::default()).unwrap();
    assert!(plan.target_met, "{}", render_plan_table(&plan));
    assert_eq!(plan.source.kind, "trace");
    assert_eq!(plan.source.requests, trace.requests().len() as u64);
    // The bursty minute: the Sonnet peak is well over its steady rate, and
    // over the account's 20 RPM, which throttles the naive client.
    let sonnet = &plan.models[0];
    assert!(sonnet.demand.rpm.peak > 2.0 * sonnet.demand.rpm.steady);
    assert!(sonnet.demand.rpm.peak > 20.0);
    assert!(sonnet.at_current.naive.throttled > 0);

    let mut fed = bound.scenario.clone();
    plan.apply(&mut fed);
    let report = simulate_trace(&bound.with_scenario(fed).unwrap(), &NoProgress).unwrap();
    assert_recommended_quotas_meet_the_target(&plan, &report.palisade);

    let table = render_plan_table(&plan);
    for figure in [
        "steady RPM",
        "peak RPM",
        "steady TPM",
        "peak TPM",
        "avg input tokens",
        "avg output tokens",
    ] {
        assert!(table.contains(figure), "no {figure:?} in\n{table}");
    }
}

#[test]
fn the_sample_trace_is_what_its_script_writes() {
    // The generator is deterministic; when python3 is here, its output must
    // be the file in the repository byte for byte.
    let Ok(out) = std::process::Command::new("python3")
        .arg(example("plan_trace.py"))
        .output()
    else {
        eprintln!("python3 not found: the sample trace's generator is not checked");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read(example("plan_trace.jsonl")).unwrap();
    assert!(
        out.stdout == file,
        "examples/plan_trace.jsonl is not what plan_trace.py writes"
    );
}

fn line_error(text: &str) -> (usize, Option<String>, String) {
    match Trace::from_jsonl_str(text, "t").unwrap_err() {
        TraceError::Line {
            line,
            field,
            message,
            ..
        } => (line, field, message),
        other => panic!("not a line error: {other}"),
    }
}

#[test]
fn bad_trace_lines_are_typed_errors_naming_the_line_and_field() {
    let good = "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 10, \"output_tokens\": 5}\n";
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "{\"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 1}",
            Some("ts"),
            "missing",
        ),
        (
            "{\"ts\": \"soon\", \"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 1}",
            Some("ts"),
            "number",
        ),
        (
            "{\"ts\": -1, \"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 1}",
            Some("ts"),
            "within",
        ),
        (
            "{\"ts\": 1, \"model\": \"\", \"input_tokens\": 1, \"output_tokens\": 1}",
            Some("model"),
            "non-empty",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 1.5, \"output_tokens\": 1}",
            Some("input_tokens"),
            "whole number",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 0}",
            Some("output_tokens"),
            "at least 1",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 9, \"max_tokens\": 8}",
            Some("max_tokens"),
            "less than",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 1, \"output_token\": 9}",
            Some("output_token"),
            "not a trace field",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 1, \"output_tokens\": 1, \"cache_read_tokens\": -3}",
            Some("cache_read_tokens"),
            "whole number",
        ),
        (
            "{\"ts\": 1, \"model\": \"a\", \"input_tokens\": 0, \"output_tokens\": 1}",
            Some("input_tokens"),
            "1..=",
        ),
        ("[1, 2]", None, "not a JSON object"),
        ("{\"ts\": 1,", None, "not valid JSON"),
    ];
    for (bad, field, says) in cases {
        // The bad line is the third (after a good line and a blank one).
        let (line, got_field, message) = line_error(&format!("{good}\n{bad}\n{good}"));
        assert_eq!(line, 3, "{bad}");
        assert_eq!(got_field.as_deref(), *field, "{bad}: {message}");
        assert!(message.contains(says), "{bad}: {message}");
    }
    let err = Trace::from_jsonl_str(
        &format!("{good}{{\"ts\": 1, \"model\": \"a\"}}\n"),
        "calls.jsonl",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "trace calls.jsonl line 2: field `input_tokens` is missing"
    );
}

#[test]
fn a_trace_that_cannot_run_says_why() {
    assert!(matches!(
        Trace::from_jsonl_str("\n\n", "t"),
        Err(TraceError::Invalid { .. })
    ));
    let trace = Trace::from_jsonl_str(
        "{\"ts\": 1, \"model\": \"sim/a\", \"input_tokens\": 10, \"output_tokens\": 5}\n\
         {\"ts\": 2, \"model\": \"sim/b\", \"input_tokens\": 10, \"output_tokens\": 5}\n",
        "t",
    )
    .unwrap();
    let scenario = Scenario::from_toml_str("[[models]]\nid = \"sim/a\"\n", "s").unwrap();
    let err = trace.bind(Some(&scenario)).unwrap_err();
    assert!(
        matches!(&err, TraceError::UnknownModel { line: 2, model, .. } if model == "sim/b"),
        "{err}"
    );
    assert!(err.to_string().contains("(sim/a)"), "{err}");
    // Without a scenario every model of the trace is a default one.
    let bound = trace.bind(None).unwrap();
    assert_eq!(bound.scenario.models.len(), 2);
    assert_eq!(bound.scenario.models[1].quota.rpm, None);
}
