//! Alerts (issue 22, gap 5): alert-only thresholds for spend per calendar
//! month and failed calls per window, delivered once per crossing to the
//! callbacks, re-armed when the month changes or the window drops below the
//! count; their TOML, validation and the sidecar's `MONTHLY_BUDGET_ALERT`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, Provider, ProviderError};
use palisade_stack::alert::{CalendarMonth, FailureThreshold};
use palisade_stack::{
    Alert, AlertConfig, FallbackStack, StackBuilder, StackConfig, StackConfigError, UtcClock,
};

/// 2026-12-31T23:00:00Z and 2027-01-01T00:00:00Z.
const DEC_31_2026_2300: i64 = 1_798_758_000;
const JAN_1_2027: i64 = 1_798_761_600;

/// Every scripted `then_text` answer uses 10 input and 5 output tokens: at
/// $100k / $200k per Mtok that is $1 + $1 = $2 an answer.
const PRICED: &str = "[prices]\nm = { input_per_mtok = 100000.0, output_per_mtok = 200000.0 }\n\
                      [retry]\nmax_attempts = 1\n[[candidates]]\nid = \"m\"\n";

type Seen = Arc<Mutex<Vec<Alert>>>;

fn stack(toml: &str, provider: ScriptedProvider, clock: UtcClock) -> (FallbackStack, Seen) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let stack = StackBuilder::from_toml(toml)
        .unwrap()
        .provider("m", provider)
        .alert_clock(clock)
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .build()
        .unwrap();
    (stack, seen)
}

fn settable_clock(start: i64) -> (Arc<AtomicI64>, UtcClock) {
    let now = Arc::new(AtomicI64::new(start));
    let read = Arc::clone(&now);
    (now, UtcClock::from_fn(move || read.load(Ordering::Relaxed)))
}

fn answers(n: usize) -> ScriptedProvider {
    (0..n).fold(ScriptedProvider::new("m"), |p, _| p.then_text("ok"))
}

fn count(seen: &Seen) -> usize {
    seen.lock().unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn monthly_spend_fires_once_per_month_and_never_refuses() {
    let toml = format!("[alerts]\nmonthly_spend_usd = 5.0\n{PRICED}");
    let (now, clock) = settable_clock(DEC_31_2026_2300);
    let (stack, seen) = stack(&toml, answers(10), clock);

    // $2, $4: below; $6 crosses $5; $8, $10: still over, no second alert.
    for i in 0..5 {
        stack.complete(ChatRequest::user("hi")).await.unwrap();
        assert_eq!(count(&seen), usize::from(i >= 2), "after answer {}", i + 1);
    }
    assert_eq!(
        seen.lock().unwrap()[0],
        Alert::MonthlySpend {
            stack: "stack".into(),
            month: CalendarMonth::new(2026, 12),
            threshold_usd: 5.0,
            spent_usd: 6.0,
        }
    );

    // A new month starts from zero and re-arms.
    now.store(JAN_1_2027, Ordering::Relaxed);
    for i in 0..3 {
        stack.complete(ChatRequest::user("hi")).await.unwrap();
        assert_eq!(
            count(&seen),
            1 + usize::from(i >= 2),
            "January answer {}",
            i + 1
        );
    }
    let seen = seen.lock().unwrap();
    let Alert::MonthlySpend {
        month, spent_usd, ..
    } = &seen[1]
    else {
        panic!("expected a monthly spend alert, got {:?}", seen[1]);
    };
    assert_eq!(month.to_string(), "2027-01");
    assert!((spent_usd - 6.0).abs() < 1e-9, "{spent_usd}");
}

#[tokio::test(start_paused = true)]
async fn streamed_answers_count_towards_the_month() {
    let toml = format!("[alerts]\nmonthly_spend_usd = 3.0\n{PRICED}");
    let (_, clock) = settable_clock(DEC_31_2026_2300);
    let (stack, seen) = stack(&toml, answers(2), clock);
    for expected in [0, 1] {
        let stream = stack.stream(ChatRequest::user("hi")).await.unwrap();
        palisade_core::collect_stream(stream).await.unwrap();
        assert_eq!(count(&seen), expected);
    }
}

fn failing(n: usize) -> ScriptedProvider {
    ScriptedProvider::new("m").then_errors(n, &ProviderError::invalid_request("refused"))
}

async fn fail(stack: &FallbackStack, n: usize) {
    for _ in 0..n {
        assert!(stack.complete(ChatRequest::user("hi")).await.is_err());
    }
}

#[tokio::test(start_paused = true)]
async fn failures_fire_once_per_crossing_and_rearm_when_the_window_drops_below() {
    let toml = format!("[alerts]\nfailures = {{ count = 3, window = \"1h\" }}\n{PRICED}");
    let (stack, seen) = stack(&toml, failing(20), UtcClock::system());

    fail(&stack, 2).await;
    assert_eq!(count(&seen), 0);
    fail(&stack, 1).await;
    assert_eq!(count(&seen), 1);
    // Still 3 or more in the hour: no second alert.
    fail(&stack, 4).await;
    assert_eq!(count(&seen), 1);

    // The hour passes; the window empties and the alert re-arms.
    tokio::time::advance(Duration::from_secs(3600)).await;
    fail(&stack, 2).await;
    assert_eq!(count(&seen), 1);
    fail(&stack, 1).await;
    assert_eq!(count(&seen), 2);
    assert_eq!(
        seen.lock().unwrap()[1],
        Alert::Failures {
            stack: "stack".into(),
            threshold: 3,
            observed: 3,
            window: Duration::from_secs(3600),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn failures_spread_wider_than_the_window_never_alert() {
    let toml = format!("[alerts]\nfailures = {{ count = 3, window = \"1h\" }}\n{PRICED}");
    let (stack, seen) = stack(&toml, failing(10), UtcClock::system());
    // One failure every 40 minutes: never 3 within an hour.
    for _ in 0..6 {
        fail(&stack, 1).await;
        tokio::time::advance(Duration::from_secs(40 * 60)).await;
    }
    assert_eq!(count(&seen), 0);
    // Two inside the last hour, and a third now: that is a crossing.
    fail(&stack, 1).await;
    tokio::time::advance(Duration::from_secs(60)).await;
    fail(&stack, 1).await;
    assert_eq!(count(&seen), 1);
}

#[tokio::test(start_paused = true)]
async fn successes_do_not_count_as_failures() {
    let toml = format!("[alerts]\nfailures = {{ count = 2, window = \"1h\" }}\n{PRICED}");
    let provider = ScriptedProvider::new("m")
        .then_error(ProviderError::invalid_request("refused"))
        .then_text("ok")
        .then_text("ok")
        .then_error(ProviderError::invalid_request("refused"));
    let (stack, seen) = stack(&toml, provider, UtcClock::system());
    fail(&stack, 1).await;
    for _ in 0..2 {
        stack.complete(ChatRequest::user("hi")).await.unwrap();
    }
    assert_eq!(count(&seen), 0);
    fail(&stack, 1).await;
    assert_eq!(count(&seen), 1);
}

#[tokio::test(start_paused = true)]
async fn per_candidate_failures_alert_even_when_a_fallback_answers() {
    let toml = "breakers = false\n[retry]\nmax_attempts = 1\n\
                [alerts]\nfailures = { count = 3, window = \"1h\", per_candidate = true }\n\
                [[candidates]]\nid = \"primary\"\n[[candidates]]\nid = \"secondary\"\n";
    let down = ProviderError::new(palisade_core::ErrorKind::Internal, "500");
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let stack = StackBuilder::from_toml(toml)
        .unwrap()
        .provider("primary", ScriptedProvider::new("p").then_errors(10, &down))
        .provider("secondary", answers(10))
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
        .build()
        .unwrap();
    for i in 0..5 {
        let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
        assert_eq!(answer.served_by.as_str(), "secondary");
        assert_eq!(count(&seen), usize::from(i >= 2), "after call {}", i + 1);
    }
    // Every stack call answered: only the candidate's alert fired.
    assert_eq!(
        seen.lock().unwrap()[0],
        Alert::CandidateFailures {
            stack: "stack".into(),
            candidate: "primary".into(),
            threshold: 3,
            observed: 3,
            window: Duration::from_secs(3600),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_budget_refusal_is_not_a_failure() {
    let toml = format!(
        "[budget]\nlimit_usd = 1.0\n[alerts]\nfailures = {{ count = 1, window = \"1h\" }}\n{PRICED}"
    );
    let (stack, seen) = stack(&toml, answers(5), UtcClock::system());
    // The call's worst case is far above $1: refused by the budget.
    let err = stack.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert!(
        palisade_stack::BudgetExceeded::find(&err).is_some(),
        "{err}"
    );
    assert_eq!(count(&seen), 0);
}

#[test]
fn alerts_serialize_with_their_kind_and_round_trip() {
    let alerts = [
        Alert::MonthlySpend {
            stack: "docs".into(),
            month: CalendarMonth::new(2026, 12),
            threshold_usd: 500.0,
            spent_usd: 501.25,
        },
        Alert::Failures {
            stack: "docs".into(),
            threshold: 10,
            observed: 10,
            window: Duration::from_secs(3600),
        },
    ];
    let json = serde_json::to_value(&alerts).unwrap();
    assert_eq!(json[0]["kind"], "monthly_spend");
    assert_eq!(json[0]["month"], "2026-12");
    assert_eq!(json[1]["kind"], "failures");
    assert_eq!(json[1]["window"], "1h");
    let back: Vec<Alert> = serde_json::from_value(json).unwrap();
    assert_eq!(back, alerts);
    assert!(
        alerts[0].to_string().contains("$501.25 in 2026-12"),
        "{}",
        alerts[0]
    );
    assert!(
        serde_json::from_str::<CalendarMonth>("\"2026-13\"").is_err(),
        "month 13 is refused"
    );
}

#[test]
fn the_alerts_table_parses_and_round_trips() {
    let config = StackConfig::from_toml(
        "[alerts]\nmonthly_spend_usd = 500.0\nfailures = { count = 10, window = \"1h\" }\n\
         [[candidates]]\nid = \"a\"\n",
    )
    .unwrap();
    let expected = AlertConfig {
        monthly_spend_usd: Some(500.0),
        failures: Some(FailureThreshold {
            count: 10,
            window: Duration::from_secs(3600),
            per_candidate: false,
        }),
    };
    assert_eq!(config.alerts, Some(expected));
    config.validate().unwrap();
    let again = StackConfig::from_toml(&config.to_toml().unwrap()).unwrap();
    assert_eq!(again, config);
}

#[test]
fn unknown_and_missing_alert_keys_are_named() {
    for (toml, named) in [
        ("[alerts]\nmonthly_usd = 5.0\n", "monthly_usd"),
        (
            "[alerts]\nfailures = { count = 1, window = \"1h\", per = \"x\" }\n",
            "per",
        ),
        ("[alerts]\nfailures = { window = \"1h\" }\n", "count"),
        (
            "[alerts]\nfailures = { count = 3, window = \"soon\" }\n",
            "soon",
        ),
    ] {
        let err = StackConfig::from_toml(toml).unwrap_err();
        assert!(
            matches!(&err, StackConfigError::Toml(m) if m.contains(named)),
            "{toml}: {err}"
        );
    }
}

#[test]
fn validation_names_the_alert_key() {
    for (table, field) in [
        ("monthly_spend_usd = 0.0", "alerts.monthly_spend_usd"),
        ("monthly_spend_usd = -5.0", "alerts.monthly_spend_usd"),
        ("monthly_spend_usd = nan", "alerts.monthly_spend_usd"),
        (
            "failures = { count = 0, window = \"1h\" }",
            "alerts.failures.count",
        ),
        (
            "failures = { count = 3, window = \"0s\" }",
            "alerts.failures.window",
        ),
        (
            "failures = { count = 3, window = \"36600d\" }",
            "alerts.failures.window",
        ),
    ] {
        let toml = format!("[alerts]\n{table}\n[[candidates]]\nid = \"a\"\n");
        let config = StackConfig::from_toml(&toml).unwrap();
        let err = config.validate().unwrap_err();
        assert!(
            matches!(&err, StackConfigError::Invalid { field: f, .. } if f == field),
            "{table}: {err}"
        );
        assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        // And the builder refuses it the same way.
        let built = StackBuilder::new(config)
            .provider("a", ScriptedProvider::new("a"))
            .build();
        assert!(built.is_err(), "{table}");
    }
}

#[test]
fn monthly_budget_alert_sets_the_monthly_spend_threshold() {
    let mut config = StackConfig::default();
    config
        .apply_env_from(|n| (n == "MONTHLY_BUDGET_ALERT").then(|| " 500 ".to_owned()))
        .unwrap();
    let alerts = config.alerts.as_ref().unwrap();
    assert_eq!(alerts.monthly_spend_usd, Some(500.0));
    assert_eq!(alerts.failures, None);
    // Alert-only: no budget that would refuse calls.
    assert_eq!(config.budget, None);

    // Blank is unset.
    let mut config = StackConfig::default();
    config
        .apply_env_from(|n| (n == "MONTHLY_BUDGET_ALERT").then(String::new))
        .unwrap();
    assert_eq!(config.alerts, None);

    for value in ["lots", "0", "-5", "nan", "inf", "$500"] {
        let err = StackConfig::default()
            .apply_env_from(|n| (n == "MONTHLY_BUDGET_ALERT").then(|| value.to_owned()))
            .unwrap_err();
        assert!(matches!(err, StackConfigError::Env(_)), "{value}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("`MONTHLY_BUDGET_ALERT` = {value:?}")),
            "{err}"
        );
    }
    assert!(palisade_stack::SIDECAR_ENV_VARS.contains(&"MONTHLY_BUDGET_ALERT"));
}
