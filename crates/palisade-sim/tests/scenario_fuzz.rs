//! Hostile scenario files (issue 21): generated values — huge, tiny,
//! negative, NaN, infinite, wrong types, durations past any clock — put
//! into every kind of field. Whatever comes in, reading the scenario never
//! panics, a refusal is a typed error that names where (the line, and for a
//! bad value the key), and a scenario that is accepted simulates without
//! losing a request in bounded memory.
//!
//! This binary counts every allocation (its own global allocator) to check
//! the memory bound, so it holds this one test only.

use palisade_sim::{NoProgress, Scenario, ScenarioError, simulate};
use peak_alloc::PeakAlloc;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// What a field holds, so most generated values are of its type (and pass
/// the TOML parser to reach validation) while some are not.
#[derive(Clone, Copy)]
enum Kind {
    Number,
    Duration,
}
use Kind::{Duration as D, Number as N};

/// The fields a case may replace, with a harmless default each. The
/// template keeps every value on its own line, so a refusal's line is the
/// line of the value at fault.
const SLOTS: &[(&str, &str, Kind)] = &[
    ("seed = {}", "7", N),
    ("duration = {}", "\"2m\"", D),
    ("clients = {}", "4", N),
    (
        "[arrivals]\nkind = \"poisson\"\nper_client_per_minute = {}",
        "1.0",
        N,
    ),
    ("[requests]\nmax_tokens = {}", "512", N),
    ("deadline = {}", "\"2m\"", D),
    (
        "input_tokens = {{ kind = \"uniform\", min = 10, max = {} }}",
        "2000",
        N,
    ),
    ("priorities = {{ high = {}, normal = 1 }}", "0.5", N),
    (
        "[[models]]\nid = \"sim/a\"\ncontext_window = {}",
        "200000",
        N,
    ),
    (
        "output_tokens = {{ kind = \"log_normal\", median = {}, sigma = 0.6 }}",
        "200",
        N,
    ),
    (
        "price = {{ input_per_mtok = {}, output_per_mtok = 15 }}",
        "3",
        N,
    ),
    ("[models.quota]\nrpm = {}", "20", N),
    ("tpm = {}", "100000", N),
    ("output_burndown = {}", "5", N),
    ("window = {}", "\"1m\"", D),
    (
        "[models.latency]\ntime_to_first_token_ms = {{ kind = \"fixed\", value = {} }}",
        "400",
        N,
    ),
    (
        "per_output_token_ms = {{ kind = \"uniform\", min = 1, max = {} }}",
        "12",
        N,
    ),
    ("rejection_ms = {}", "80", N),
    ("[models.failures]\nerror_rate = {}", "0.01", N),
    ("outages = [{{ from = {}, to = \"90s\" }}]", "\"30s\"", D),
    (
        "slow = [{{ from = \"0s\", to = \"1m\", factor = {} }}]",
        "2",
        N,
    ),
    (
        "[[models]]\nid = \"sim/b\"\nquota = {{ rpm = {}, tpm = 50000 }}",
        "10",
        N,
    ),
    ("[naive]\nmax_attempts = {}", "3", N),
    ("initial_backoff = {}", "\"1s\"", D),
    ("[palisade]\nqueue_wait = {}", "\"2s\"", D),
    ("retry_attempts = {}", "3", N),
    ("breaker_open = {}", "\"20s\"", D),
];

fn render(overrides: &[(usize, String)]) -> String {
    let mut text = String::new();
    for (i, (template, default, _)) in SLOTS.iter().enumerate() {
        let value = overrides
            .iter()
            .rev()
            .find(|(slot, _)| *slot == i)
            .map_or(*default, |(_, v)| v.as_str());
        text.push_str(
            &template
                .replace("{{", "{")
                .replace("}}", "}")
                .replace("{}", value),
        );
        text.push('\n');
    }
    text
}

fn pick(values: &[&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(values.to_vec())
        .prop_map(str::to_owned)
        .boxed()
}

/// Values a person or a broken generator might write into a field of `kind`.
fn hostile_value(kind: Kind) -> BoxedStrategy<String> {
    let wrong_type = pick(&[
        "true",
        "[]",
        "[1, 2]",
        "{}",
        "\"\"",
        "\"soon\"",
        "\"sim/a\"",
    ]);
    let typed = match kind {
        Kind::Number => prop_oneof![
            3 => pick(&[
                "0", "-1", "1", "2", "0.5", "2e22", "1e300", "-1e300", "1e-300", "nan", "inf",
                "-inf", "4294967295", "4294967296", "18446744073709551615",
                "9223372036854775807", "-9223372036854775808", "1e12", "1e9", "10000000",
                "100000", "0.0",
            ]),
            1 => any::<f64>().prop_map(|f| format!("{f:e}")),
            1 => any::<i64>().prop_map(|i| i.to_string()),
            2 => (0u32..200).prop_map(|i| i.to_string()),
            1 => (0.0f64..10.0).prop_map(|f| format!("{f:?}")),
        ]
        .boxed(),
        Kind::Duration => prop_oneof![
            3 => pick(&[
                "\"0s\"", "\"1ns\"", "\"10000h\"", "\"744h\"", "\"1d\"", "\"1e30s\"",
                "\"-5s\"", "\"999999999999999d\"", "1e12", "0", "-1", "nan", "inf", "2.5",
            ]),
            1 => (0u64..u64::MAX, prop::sample::select(vec!["ns", "ms", "s", "m", "h", "d"]))
                .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
            2 => (0u64..300).prop_map(|n| format!("\"{n}s\"")),
        ]
        .boxed(),
    };
    prop_oneof![9 => typed, 1 => wrong_type].boxed()
}

fn override_strategy() -> impl Strategy<Value = (usize, String)> {
    (0..SLOTS.len()).prop_flat_map(|i| (Just(i), hostile_value(SLOTS[i].2)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hostile_scenarios_are_refused_by_name_or_simulated_safely(
        overrides in prop::collection::vec(override_strategy(), 1..4)
    ) {
        let text = render(&overrides);
        ALLOCATOR.reset_peak_usage();
        let before = ALLOCATOR.current_usage();
        match Scenario::from_toml_str(&text, "fuzz.toml") {
            Err(ScenarioError::Parse { message, .. }) => {
                prop_assert!(message.contains("line"), "{message}\n{text}");
            }
            Err(ScenarioError::Invalid { field, message, location }) => {
                // Every field of the template is written, so the error
                // points at it: the line named holds the key at fault.
                prop_assert!(location.is_some(), "{field}: {message}\n{text}");
                let line_number = location.map_or(0, |l| l.line);
                let line = text.lines().nth(line_number.saturating_sub(1)).unwrap_or_default();
                let key = field
                    .rsplit('.')
                    .next()
                    .and_then(|k| k.split('[').next())
                    .unwrap_or_default();
                prop_assert!(
                    !key.is_empty() && line.contains(key),
                    "`{field}` reported at line {line_number}: `{line}`\n{text}"
                );
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
            Ok(scenario) => {
                prop_assert!(scenario.expected_requests() <= palisade_sim::limits::MAX_EXPECTED_REQUESTS);
                // What a run holds at once grows with this, never with the duration.
                prop_assert!(scenario.expected_in_flight() <= palisade_sim::limits::MAX_EXPECTED_IN_FLIGHT);
                // Simulate what is small enough for a test (the hostile value
                // may be a latency, a quota, a price: exactly what panicked).
                if scenario.expected_requests() <= 2_000.0 {
                    let report = simulate(&scenario, &NoProgress);
                    let report = report.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                    for side in [&report.naive, &report.palisade] {
                        prop_assert_eq!(side.lost, 0, "{}", text);
                        prop_assert_eq!(side.completed + side.failed, side.requests);
                    }
                    let peak = ALLOCATOR.peak_usage().saturating_sub(before);
                    prop_assert!(peak < 256 << 20, "peak {} bytes\n{}", peak, text);
                }
            }
        }
    }
}
