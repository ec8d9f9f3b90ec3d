//! End-to-end tests of `palisade plan`, running the built binary: the
//! default scenario, the sample trace, `--json` and its documented fields,
//! and the errors a bad trace or bad arguments give.

use std::collections::BTreeSet;
use std::path::PathBuf;
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

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// The figures a quota-increase request asks for, as the table names them.
const REQUEST_FIGURES: [&str; 6] = [
    "steady RPM",
    "peak RPM",
    "steady TPM",
    "peak TPM",
    "avg input tokens",
    "avg output tokens",
];

#[test]
fn no_arguments_plans_the_default_scenario_and_prints_the_table() {
    let out = palisade(&["plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.starts_with("Quota plan for scenario \"default\" (seed 42): 1h simulated"),
        "{table}"
    );
    for figure in REQUEST_FIGURES {
        assert!(table.contains(figure), "no {figure:?} in\n{table}");
    }
    for model in ["sim/primary", "sim/fallback-small", "sim/fallback-other"] {
        assert!(table.contains(model), "no {model} in\n{table}");
    }
    assert!(table.contains("Simulation runs: "), "{table}");
    assert!(table.contains("p99 queueing ≤ 30.0 s: met"), "{table}");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn the_sample_trace_plans_against_its_scenario() {
    let out = palisade(&[
        "plan",
        "--trace",
        &repo("examples/plan_trace.jsonl"),
        "--scenario",
        &repo("examples/plan_trace.toml"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.starts_with(
            "Quota plan for trace \"plan-trace\" (seed 42): 30m simulated, 456 requests"
        ),
        "{table}"
    );
    for figure in REQUEST_FIGURES {
        assert!(table.contains(figure), "no {figure:?} in\n{table}");
    }
    assert!(table.contains("anthropic.claude-sonnet-4-5"), "{table}");
    assert!(table.contains("anthropic.claude-haiku-4-5"), "{table}");

    // Without a scenario, the trace's models are default ones with no quota.
    let out = palisade(&["plan", "--trace", &repo("examples/plan_trace.jsonl")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("current                none           none"));
}

/// Every key of a JSON value, nested ones included.
fn keys(value: &serde_json::Value, into: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                into.insert(k.clone());
                // `failed_by_kind` is keyed by error kind, not by field.
                if k != "failed_by_kind" {
                    keys(v, into);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, into)),
        _ => {}
    }
}

#[test]
fn json_is_version_1_deterministic_and_every_field_is_documented() {
    let args = ["plan", "--json", "--duration", "10m", "--clients", "100"];
    let a = palisade(&args);
    let b = palisade(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(
        a.stdout, b.stdout,
        "two runs, one seed: byte-identical JSON"
    );

    let plan: serde_json::Value = serde_json::from_slice(&a.stdout).expect("JSON");
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["source"]["kind"], "scenario");
    assert_eq!(plan["source"]["duration_s"], 600.0);
    assert_eq!(plan["target"]["max_queue_p99_s"], 30.0);
    let runs = &plan["runs"];
    assert_eq!(
        runs["total"].as_u64().unwrap(),
        1 + 2 + runs["search"].as_u64().unwrap() + 1
    );
    let models = plan["models"].as_array().expect("models");
    assert_eq!(models.len(), 3);
    for m in models {
        for path in [
            &m["demand"]["rpm"]["steady"],
            &m["demand"]["rpm"]["peak"],
            &m["demand"]["tpm"]["steady"],
            &m["demand"]["tpm"]["peak"],
            &m["demand"]["avg_input_tokens"],
            &m["demand"]["avg_output_tokens"],
            &m["at_current"]["palisade"]["latency_ms"]["p99"],
        ] {
            assert!(path.is_number(), "{m}");
        }
    }
    assert!(plan["at_recommended"]["palisade"]["throttles"] == 0);

    // docs/simulation.md, "Planning quotas", names every field.
    let docs = std::fs::read_to_string(repo("docs/simulation.md")).expect("docs");
    let start = docs
        .find("## Planning quotas")
        .expect("a Planning quotas section");
    let section = &docs[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut all = BTreeSet::new();
    keys(&plan, &mut all);
    let undocumented: Vec<&String> = all
        .iter()
        .filter(|k| !section.contains(&format!("`{k}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "fields not documented in docs/simulation.md: {undocumented:?}"
    );
}

#[test]
fn a_bad_trace_line_is_refused_with_its_line_and_field() {
    let trace = TempFile::new(
        "jsonl",
        "{\"ts\": 0, \"model\": \"m\", \"input_tokens\": 10, \"output_tokens\": 5}\n\
         {\"ts\": 1, \"model\": \"m\", \"input_tokens\": 10}\n",
    );
    let out = palisade(&["plan", "--trace", trace.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("line 2: field `output_tokens` is missing"),
        "{err}"
    );

    let unknown = TempFile::new(
        "jsonl",
        "{\"ts\": 0, \"model\": \"sim/nope\", \"input_tokens\": 10, \"output_tokens\": 5}\n",
    );
    let out = palisade(&["plan", "--trace", unknown.path(), "--scenario", "default"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("model \"sim/nope\" is not the id of a [[models]] entry"),
        "{err}"
    );

    let out = palisade(&["plan", "--trace", "/no/such/trace.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read trace file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2_and_unplannable_scenarios_exit_1() {
    let out = palisade(&["plan", "--trace", "t.jsonl", "--duration", "5m"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = palisade(&["plan", "--max-queue-p99", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = palisade(&["plan", "--scenario", "agent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[agent] workload"),
        "{}",
        stderr(&out)
    );
}
