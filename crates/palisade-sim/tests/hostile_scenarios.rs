//! Scenario files at and past the edges (issue 21): numbers the engine
//! cannot represent are refused with the key and the line where they are
//! written, runs too large for one process are refused before they start,
//! and a model with no quota gets figures that mean something.

use palisade_sim::{NoProgress, Scenario, render_table, simulate};

/// A small valid scenario with `line` added to the primary's `section`.
fn with_model_line(section: &str, line: &str) -> String {
    format!(
        "duration = \"2m\"\nclients = 5\n[[models]]\nid = \"sim/a\"\n[models.{section}]\n{line}\n"
    )
}

fn refusal(text: &str) -> String {
    match Scenario::from_toml_str(text, "hostile.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Item 1: latencies and slow factors too large for a `Duration` were
/// accepted, then panicked in every simulated call (6,664 panics, exit 0).
#[test]
fn latencies_beyond_what_a_duration_holds_are_refused_at_their_line() {
    let cases = [
        (
            "latency",
            "time_to_first_token_ms = { kind = \"fixed\", value = 2e22 }",
            "models[0].latency.time_to_first_token_ms.value",
        ),
        (
            "latency",
            "per_output_token_ms = { kind = \"fixed\", value = 2e22 }",
            "models[0].latency.per_output_token_ms.value",
        ),
        (
            "latency",
            "rejection_ms = 2e22",
            "models[0].latency.rejection_ms",
        ),
        (
            "failures",
            "slow = [{ from = \"0s\", to = \"1m\", factor = 1e300 }]",
            "models[0].failures.slow[0].factor",
        ),
    ];
    for (section, line, field) in cases {
        let err = refusal(&with_model_line(section, line));
        assert!(err.contains(field), "{err}");
        assert!(err.contains("hostile.toml, line 6"), "{err}");
    }
}

/// Item 2: nothing bounded a run's size; these allocated gigabytes or
/// aborted (`memory allocation of 8589934592 bytes failed`).
#[test]
fn runs_too_large_to_simulate_are_refused_at_their_line() {
    let model = "[[models]]\nid = \"sim/a\"\n";
    let cases = [
        ("duration = \"10000h\"\n", "`duration`", "line 1"),
        ("duration = 1e12\n", "`duration`", "line 1"),
        (
            "arrivals = { kind = \"poisson\", per_client_per_minute = 1e9 }\n",
            "`arrivals.per_client_per_minute`",
            "line 1",
        ),
        ("clients = 4294967295\n", "`clients`", "line 1"),
        // Each within its own range, together ~3.3 billion requests.
        (
            "duration = \"744h\"\nclients = 100000\narrivals = { kind = \"poisson\", per_client_per_minute = 1.0 }\n",
            "`duration`",
            "line 1",
        ),
    ];
    for (head, field, line) in cases {
        let err = refusal(&format!("{head}{model}"));
        assert!(err.contains(field), "{err}");
        assert!(err.contains(line), "{err}");
    }
}

/// Item 8: a model with no quota was reported as `≤ 0.0 req/min`,
/// `capacity 0` and "100.1% of the quota-bound maximum".
#[test]
fn a_model_with_no_quota_has_no_bound_rather_than_a_zero_one() {
    let scenario = Scenario::from_toml_str(
        "duration = \"10m\"\nclients = 20\n[[models]]\nid = \"sim/unlimited\"\n",
        "t",
    )
    .unwrap();
    let report = simulate(&scenario, &NoProgress).unwrap();
    let table = render_table(&report);
    assert!(!table.contains("≤ 0.0 req/min"), "{table}");
    assert!(!table.contains("capacity 0"), "{table}");
    assert!(table.contains("no quota"), "{table}");
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["scenario"]["capacity_tokens_per_min"].is_null(),
        "{json}"
    );
    assert!(json["scenario"]["quota_bound_tokens_per_min"].is_null());
    assert!(json["scenario"]["models"][0]["max_requests_per_min"].is_null());
    for side in ["naive", "palisade"] {
        assert!(json[side]["goodput_pct_of_quota_bound"].is_null(), "{side}");
        assert_eq!(json[side]["completed_pct"], 100.0, "{side}");
    }
}

/// The figures a command line override produces are held to the same limits.
#[test]
fn validate_checks_a_scenario_changed_in_code() {
    let mut scenario = Scenario::builtin();
    scenario.clients = 5_000;
    assert!(scenario.validate().is_ok());
    scenario.duration = std::time::Duration::from_secs(1_000 * 3_600);
    let err = scenario.validate().unwrap_err().to_string();
    assert!(err.contains("`duration`"), "{err}");
}

/// A model's price is `palisade_core::Price`: its keys, its defaults, and a
/// bad rate refused by name at its line; the old sim-only keys are refused
/// as unknown rather than silently ignored.
#[test]
fn prices_are_core_prices_checked_by_rate() {
    let model = "duration = \"2m\"\nclients = 5\n[[models]]\nid = \"sim/a\"\n";
    let priced = format!(
        "{model}price = {{ input_per_mtok = 1.0, output_per_mtok = 5.0, cache_write_1h_per_mtok = 2.0 }}\n"
    );
    let scenario = Scenario::from_toml_str(&priced, "priced.toml").unwrap();
    let price: palisade_core::Price = scenario.models[0].price;
    assert_eq!(
        price,
        palisade_core::Price::new(1.0, 5.0).with_cache_write_1h(2.0)
    );
    let unpriced = Scenario::from_toml_str(model, "unpriced.toml").unwrap();
    assert_eq!(unpriced.models[0].price, palisade_sim::default_price());

    for (line, field) in [
        (
            "price = { input_per_mtok = 1.0, output_per_mtok = -5.0 }",
            "models[0].price.output_per_mtok",
        ),
        (
            "price = { input_per_mtok = 2e6, output_per_mtok = 5.0 }",
            "models[0].price.input_per_mtok",
        ),
    ] {
        let err = refusal(&format!("{model}{line}\n"));
        assert!(err.contains(field), "{err}");
        assert!(err.contains("hostile.toml, line 5"), "{err}");
    }
    let err = refusal(&format!(
        "{model}price = {{ input_per_million_usd = 3.0, output_per_million_usd = 15.0 }}\n"
    ));
    assert!(err.contains("input_per_million_usd"), "{err}");
}

/// A scenario file of `tests/fixtures`.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The line of `file` that holds `needle` (1-based).
fn line_of(file: &std::path::Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
}

/// Items 1 and 2 as files a user would write: each is refused on reading,
/// by the key at fault and the line it is on.
#[test]
fn fixture_files_past_the_engine_limits_are_refused_by_key_and_line() {
    let cases = [
        (
            "latency-past-a-duration.toml",
            "models[0].latency.time_to_first_token_ms.value",
            "value = 2e22",
        ),
        (
            "slow-factor-1e300.toml",
            "models[0].failures.slow[0].factor",
            "factor = 1e300",
        ),
        ("duration-10000h.toml", "`duration`", "duration = "),
        (
            "rate-1e9.toml",
            "`arrivals.per_client_per_minute`",
            "per_client_per_minute = 1e9",
        ),
        (
            "all-in-flight-at-once.toml",
            "`requests.deadline`",
            "deadline =",
        ),
    ];
    for (name, field, written) in cases {
        let path = fixture(name);
        let err = match Scenario::from_file(&path) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e.to_string(),
        };
        let line = format!("line {}", line_of(&path, written));
        assert!(err.contains(field), "{name}: {err}");
        assert!(err.contains(&line), "{name}: want {line}: {err}");
    }
}

/// Item 2: a load within the limit on a run's requests, all of it offered
/// within one caller deadline, is held to the limit on requests in flight
/// at once (what bounds a run's memory), named by the deadline.
#[test]
fn requests_in_flight_at_once_are_bounded_by_the_deadline_check() {
    let head = "duration = \"2m\"\nclients = 100000\narrivals = { kind = \"poisson\", per_client_per_minute = 10.0 }\n";
    let model = "[[models]]\nid = \"sim/a\"\n";
    let scenario = Scenario::from_toml_str(
        &format!("{head}[requests]\ndeadline = \"1d\"\n{model}"),
        "t",
    );
    let err = scenario.unwrap_err().to_string();
    assert!(err.contains("`requests.deadline`"), "{err}");
    assert!(err.contains("in flight"), "{err}");
    assert!(err.contains("t, line 5"), "{err}");
    // The same load with a deadline that lets few wait at once is accepted.
    let short = format!("{head}[requests]\ndeadline = \"1s\"\n{model}");
    let scenario = Scenario::from_toml_str(&short, "t").unwrap();
    assert!(scenario.expected_in_flight() <= palisade_sim::limits::MAX_EXPECTED_IN_FLIGHT);
    // The 24-hour, 5,000-client run of docs/simulation.md is well inside it.
    let mut day = Scenario::builtin();
    day.clients = 5_000;
    day.duration = std::time::Duration::from_secs(24 * 3_600);
    assert!(day.validate().is_ok());
    assert!(day.expected_in_flight() < 25_000.0);
}

/// Item 8 as a file: a model without a quota runs, and its figures say
/// there is no bound instead of a zero one.
#[test]
fn a_fixture_model_with_no_quota_is_reported_as_such() {
    let scenario = Scenario::from_file(&fixture("no-quota.toml")).unwrap();
    let report = simulate(&scenario, &NoProgress).unwrap();
    let table = render_table(&report);
    for wrong in ["≤ 0.0 req/min", "capacity 0", "100.1%"] {
        assert!(!table.contains(wrong), "{wrong}:\n{table}");
    }
    assert!(table.contains("no quota"), "{table}");
    assert_eq!(report.palisade.lost + report.naive.lost, 0);
}

/// A report is plain data with public fields: rendering one whose figures
/// are not valid numbers (built by hand, or edited) does not panic; the
/// duration is shown clamped.
#[test]
fn rendering_a_report_with_invalid_figures_does_not_panic() {
    let scenario = Scenario::from_toml_str(
        "duration = \"1m\"\nclients = 5\n[[models]]\nid = \"sim/a\"\n",
        "t",
    )
    .unwrap();
    let report = simulate(&scenario, &NoProgress).unwrap();
    for bad in [f64::NAN, -1.0, f64::INFINITY, 1e300, 2e22] {
        let mut edited = report.clone();
        edited.scenario.duration_s = bad;
        edited.palisade.completed_pct = bad;
        let table = render_table(&edited);
        assert!(table.starts_with("Scenario "), "{table}");
    }
}
