//! StackBuilder: config parsing, environment knobs, errors, and the layers it
//! builds (breaker state and reset, limiter, retry) seen through stats.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError, SharedProvider,
};
use palisade_stack::{FallbackStack, RoutingStrategy, StackBuilder, StackConfig, StackConfigError};

/// The stack `config` describes, each candidate bound to the scripted
/// provider of the same id.
fn build_stack(config: &str, providers: &[&ScriptedProvider]) -> FallbackStack {
    providers
        .iter()
        .fold(StackBuilder::from_toml(config).unwrap(), |builder, p| {
            builder.provider(p.id().as_str(), (*p).clone())
        })
        .build()
        .unwrap()
}

/// The state of candidate `id`'s breaker, from the stack's stats.
fn breaker_state(stack: &FallbackStack, id: &str) -> Option<String> {
    stack.stats().candidate(id).unwrap().breaker_state.clone()
}

/// A provider that answers every call after `latency`.
fn answering_after(id: &str, latency: Duration) -> ScriptedProvider {
    ScriptedProvider::new(id).otherwise(latency, palisade_core::testing::Outcome::Echo)
}

#[test]
fn the_documented_example_config_parses_and_round_trips() {
    let doc = include_str!("../../../docs/config.md");
    let start = doc
        .find("```toml\n")
        .expect("docs/config.md has a toml example")
        + 8;
    let end = start + doc[start..].find("```").unwrap();
    let config = StackConfig::from_toml(&doc[start..end]).unwrap();
    assert_eq!(config.candidates.len(), 3);
    assert_eq!(config.routing.strategy, RoutingStrategy::Priority);
    assert_eq!(config.fallback.pause, Duration::from_secs(5));
    // The document-analysis service's THROTTLE_COOLDOWN_SECONDS: 60 s, 30 s
    // for fallbacks.
    assert_eq!(config.fallback.cooldown.default, Duration::from_secs(60));
    let cooldowns: Vec<_> = config.candidates.iter().map(|c| c.cooldown).collect();
    let thirty = Some(Duration::from_secs(30));
    assert_eq!(cooldowns, [None, thirty, thirty]);
    assert!(config.budget.is_some());
    let again = StackConfig::from_toml(&config.to_toml().unwrap()).unwrap();
    assert_eq!(again, config);
}

#[test]
fn unknown_keys_and_bad_durations_are_rejected_with_their_place() {
    let err = StackConfig::from_toml("[retry]\nmax_atempts = 3\n").unwrap_err();
    assert!(err.to_string().contains("max_atempts"), "{err}");
    let err = StackConfig::from_toml("[fallback]\npause = \"5 parsecs\"\n").unwrap_err();
    assert!(err.to_string().contains("parsecs"), "{err}");
}

#[test]
fn environment_knobs_set_limits_and_models_come_from_the_provider() {
    let env = |name: &str| match name {
        // A provider's variables are not the stack's to read.
        "BEDROCK_MODEL_ID" => Some("us.anthropic.claude-sonnet-4".to_owned()),
        "MAX_CONCURRENT_REQUESTS" => Some("4".to_owned()),
        _ => None,
    };
    let mut config = StackConfig::default();
    config.apply_env_from(env).unwrap();
    assert!(config.candidates.is_empty(), "{:?}", config.candidates);
    assert_eq!(
        config.limit.as_ref().and_then(|l| l.max_concurrent),
        Some(4)
    );
    config.add_models(["model-a", " model-b ", "", "model-a", "model-c"]);
    let ids: Vec<&str> = config.candidates.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["model-a", "model-b", "model-c"]);
    assert_eq!(palisade_stack::builder::ENV_VARS, palisade_limit::ENV_VARS);

    let bad = |name: &str| (name == "MAX_REQUESTS_PER_MINUTE").then(|| "lots".to_owned());
    assert!(matches!(
        StackConfig::default().apply_env_from(bad),
        Err(StackConfigError::Env(_))
    ));
}

#[test]
fn prices_are_core_prices_and_bad_rates_are_named() {
    let config = StackConfig::from_toml(
        r#"
        [[candidates]]
        id = "a"
        price = { input_per_mtok = 3.0, output_per_mtok = 15.0, cache_write_1h_per_mtok = 6.0 }
        [prices]
        "model-b" = { input_per_mtok = 1.0, output_per_mtok = -5.0 }
        "#,
    )
    .unwrap();
    let price: palisade_core::Price = config.candidates[0].price.unwrap();
    assert_eq!(price.cache_write_1h_per_mtok, Some(6.0));
    assert_eq!(
        config.validate(),
        Err(StackConfigError::Invalid {
            field: "prices.\"model-b\".output_per_mtok".into(),
            problem: "must be a number of USD, not negative",
        })
    );
}

#[test]
fn building_reports_what_is_missing() {
    assert_eq!(
        StackBuilder::new(StackConfig::default())
            .build()
            .unwrap_err(),
        StackConfigError::NoCandidates
    );
    let config = "[[candidates]]\nid = \"a\"\n[[candidates]]\nid = \"b\"\n";
    let err = StackBuilder::from_toml(config)
        .unwrap()
        .provider("a", ScriptedProvider::new("a"))
        .build()
        .unwrap_err();
    assert_eq!(err, StackConfigError::MissingProvider("b".into()));
    let dup = "[[candidates]]\nid = \"a\"\n[[candidates]]\nid = \"a\"\n";
    let err = StackBuilder::from_toml(dup)
        .unwrap()
        .provider("a", ScriptedProvider::new("a"))
        .build()
        .unwrap_err();
    assert_eq!(err, StackConfigError::DuplicateCandidate("a".into()));
}

#[tokio::test(start_paused = true)]
async fn a_factory_makes_providers_from_candidate_configs() {
    let config = "[[candidates]]\nid = \"primary\"\nmodel = \"claude\"\n";
    let stack = StackBuilder::from_toml(config)
        .unwrap()
        // No annotation: the closure's error type is the concrete FactoryError.
        .provider_factory(|c| Ok(ScriptedProvider::new(c.id.as_str()).then_text(c.model())))
        .build()
        .unwrap();
    assert_eq!(
        stack
            .complete(ChatRequest::user("hi"))
            .await
            .unwrap()
            .text_content(),
        "claude"
    );
}

#[test]
fn a_failing_factory_names_the_candidate_and_shared_providers_still_fit() {
    let config = "[[candidates]]\nid = \"a\"\n[[candidates]]\nid = \"b\"\n";
    let err = StackBuilder::from_toml(config)
        .unwrap()
        .provider_factory(|c| {
            let provider: SharedProvider = match c.id.as_str() {
                "a" => std::sync::Arc::new(ScriptedProvider::new("a")),
                other => return Err(format!("no client for {other}").into()),
            };
            Ok(provider)
        })
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        StackConfigError::Factory {
            id: "b".into(),
            reason: "no client for b".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_the_fallback_skips_and_reset_closes_it() {
    let config = r#"
        [retry]
        max_attempts = 1
        [breaker]
        consecutive_failures = 3
        [[candidates]]
        id = "flaky"
        [[candidates]]
        id = "steady"
    "#;
    let flaky = ScriptedProvider::new("flaky")
        .then_errors(3, &ProviderError::new(ErrorKind::Internal, "500"));
    let steady = ScriptedProvider::new("steady");
    let stack = build_stack(config, &[&flaky, &steady]);
    for _ in 0..3 {
        stack.complete(ChatRequest::user("hi")).await.unwrap();
    }
    let stats = stack.stats();
    assert_eq!(
        stats.candidate("flaky").unwrap().breaker_state.as_deref(),
        Some("open")
    );
    // Open: skipped without a call.
    let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(flaky.call_count(), 3);
    assert!(matches!(
        answer.attempts[0].outcome,
        palisade_core::AttemptOutcome::Skipped(palisade_core::SkipReason::Unavailable { .. })
    ));
    // reset() closes it by hand.
    stack.reset();
    assert_eq!(breaker_state(&stack, "flaky").as_deref(), Some("closed"));
    assert_eq!(
        stack
            .complete(ChatRequest::user("hi"))
            .await
            .unwrap()
            .served_by
            .as_str(),
        "flaky"
    );
}

#[tokio::test(start_paused = true)]
async fn the_overall_timeout_bounds_the_whole_request() {
    let config = r#"
        [timeout]
        overall = "2s"
        per_attempt = "10s"
        [[candidates]]
        id = "slow"
    "#;
    let slow = answering_after("slow", Duration::from_secs(5));
    let stack = build_stack(config, &[&slow]);
    let start = tokio::time::Instant::now();
    let err = stack.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(slow.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_budget_section_puts_a_budget_in_front() {
    let config = r#"
        [budget]
        limit_usd = 0.001
        [prices]
        "m" = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
        [[candidates]]
        id = "m"
    "#;
    let stack = build_stack(config, &[&ScriptedProvider::new("m")]);
    let mut refused = None;
    for i in 0..100 {
        if let Err(e) = stack
            .complete(ChatRequest::user("hello there").with_max_tokens(16))
            .await
        {
            refused = Some((i, e));
            break;
        }
    }
    let (i, err) = refused.expect("the budget refuses eventually");
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert!(i > 0);
    let budget = stack.stats().budget.unwrap();
    // Reserved before each call, so never past the limit, and refused only
    // when the next call's worst case no longer fits.
    let exceeded = palisade_stack::BudgetExceeded::find(&err).unwrap();
    assert!(budget.total.spent_usd <= 0.001);
    assert!(budget.total.spent_usd + exceeded.needed > 0.001);
    assert_eq!(budget.rejected, 1);
}

/// The defect this replaced: a $0.05 budget from TOML answered 2 requests
/// and spent $0.068, because it was checked, not reserved.
#[tokio::test(start_paused = true)]
async fn a_budget_from_toml_is_never_exceeded_by_calls_in_flight() {
    let config = r#"
        [budget]
        limit_usd = 0.05
        [prices]
        "m" = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
        [[candidates]]
        id = "m"
    "#;
    // Each answer: 1,000 input + 2,000 output tokens = $0.033.
    let m = (0..10).fold(ScriptedProvider::new("m"), |p, _| {
        p.then(
            Duration::from_secs(2),
            Outcome::Respond(ChatResponse::text(
                "m".into(),
                "ok",
                Some(palisade_core::Usage::new(1_000, 2_000)),
            )),
        )
    });
    let stack = build_stack(config, &[&m]);
    let request = || {
        ChatRequest::user("a question")
            .with_max_tokens(2_000)
            .with_input_token_estimate(1_000)
    };
    let calls = (0..4).map(|_| stack.complete(request()));
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(m.call_count(), 1);
    let budget = stack.stats().budget.unwrap();
    assert!((budget.total.spent_usd - 0.033).abs() < 1e-9);
    assert!(budget.total.spent_usd <= 0.05);
}

#[test]
fn values_that_cannot_work_are_named() {
    let base = "[[candidates]]\nid = \"a\"\n";
    for (extra, field) in [
        ("[budget]\nlimit_usd = -5.0\n", "budget.limit_usd"),
        ("[budget]\nwarn_at = 1.5\n", "budget.warn_at"),
        (
            "[retry]\nbackoff = { multiplier = 0.5 }\n",
            "retry.backoff.multiplier",
        ),
        (
            "[fallback]\nhedge = { delay = \"1s\", max_hedges = 0 }\n",
            "fallback.hedge.max_hedges",
        ),
    ] {
        let config = StackConfig::from_toml(&format!("{extra}{base}")).unwrap();
        match config.validate() {
            Err(StackConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{extra}: expected an invalid {field}, got {other:?}"),
        }
    }
    let config = StackConfig::from_toml("[[candidates]]\nid = \"a\"\nweight = -1.0\n").unwrap();
    let err = config.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "stack config: `candidates.a.weight` must be a number, not negative"
    );
}

/// Issue #21, problem 6: values that parse but fail (or stall) every call are
/// refused before a stack is built, each under its key.
#[test]
fn values_that_fail_every_call_are_refused_under_their_key() {
    let base = "[[candidates]]\nid = \"a\"\n";
    for (extra, candidate, field) in [
        ("[retry]\nmax_attempts = 0\n", "", "retry.max_attempts"),
        ("[fallback]\nmax_rounds = 0\n", "", "fallback.max_rounds"),
        (
            "[timeout]\nper_attempt = \"0s\"\n",
            "",
            "timeout.per_attempt",
        ),
        ("[timeout]\noverall = 0\n", "", "timeout.overall"),
        ("[timeout]\noverall = 1e19\n", "", "timeout.overall"),
        (
            "[fallback]\nmax_wait = \"36600000d\"\n",
            "",
            "fallback.max_wait",
        ),
        (
            "[retry]\nbudget = { ratio = nan }\n",
            "",
            "retry.budget.ratio",
        ),
        (
            "[retry]\nbackoff = { additive_ratio = inf }\n",
            "",
            "retry.backoff.additive_ratio",
        ),
        ("[budget]\nlimit_usd = nan\n", "", "budget.limit_usd"),
        ("[budget]\nwindow = 0\n", "", "budget.window"),
        (
            "[prices]\nm = { input_per_mtok = nan, output_per_mtok = 1.0 }\n",
            "",
            "prices.\"m\".input_per_mtok",
        ),
        ("[limit]\nmax_concurrent = 0\n", "", "limit.max_concurrent"),
        ("[limit]\nrequests = { amount = 0 }\n", "", "limit.requests"),
        (
            "[limit]\ntokens = { amount = 5, period = 0 }\n",
            "",
            "limit.tokens",
        ),
        ("", "timeout = \"0s\"\n", "candidates.a.timeout"),
        (
            "",
            "retry = { max_attempts = 0 }\n",
            "candidates.a.retry.max_attempts",
        ),
        ("", "weight = nan\n", "candidates.a.weight"),
        (
            "",
            "price = { input_per_mtok = -1.0, output_per_mtok = 1.0 }\n",
            "candidates.a.price.input_per_mtok",
        ),
        (
            "",
            "limit = { tokens = { amount = 0 } }\n",
            "candidates.a.limit.tokens",
        ),
        (
            "",
            "limit = { adaptive = { decrease_factor = nan } }\n",
            "candidates.a.limit.adaptive.decrease_factor",
        ),
    ] {
        let text = format!("{extra}{base}{candidate}");
        let config = StackConfig::from_toml(&text).unwrap();
        match config.validate() {
            Err(StackConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
            other => panic!("{text}: expected an invalid `{field}`, got {other:?}"),
        }
        let a = ScriptedProvider::new("a");
        let built = StackBuilder::new(config).provider("a", a).build();
        assert!(built.is_err(), "{text}: built a stack that cannot work");
    }
    // A breaker's own rules, under the key of its table.
    for (text, field) in [
        (
            "[breaker]\nminimum_calls = 0\n[[candidates]]\nid = \"a\"\n",
            "breaker.minimum_calls",
        ),
        (
            "[[candidates]]\nid = \"a\"\nbreaker = { consecutive_failures = 0 }\n",
            "candidates.a.breaker.consecutive_failures",
        ),
    ] {
        match StackConfig::from_toml(text).unwrap().validate() {
            Err(e @ StackConfigError::InvalidSection { .. }) => {
                assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
            }
            other => panic!("{text}: expected an invalid `{field}`, got {other:?}"),
        }
    }
    // The defaults, and the documented example, still pass.
    StackConfig::from_toml(base).unwrap().validate().unwrap();
}

/// Issue #21, problem 9: a candidate without `id` is reported at its table's
/// header, and named (which candidate, which model), not only as "missing
/// field `id`" at a place that reads as the start of the file.
#[test]
fn a_candidate_without_an_id_is_reported_at_its_table() {
    let text = "name = \"s\"\n\n[[candidates]]\nid = \"a\"\n\n[[candidates]]\nmodel = \"m\"\nweight = 2.0\n";
    let err = StackConfig::from_toml(text).unwrap_err().to_string();
    assert!(err.contains("line 6, column 1"), "{err}");
    assert!(err.contains("6 | [[candidates]]"), "{err}");
    assert!(
        err.contains("missing field `id` in candidate 2 (model \"m\")"),
        "{err}"
    );

    // The first entry on the first line: the place is right, and the
    // message says it is the candidate's table, not the file's start.
    let err = StackConfig::from_toml("[[candidates]]\nweight = 2.0\n[[candidates]]\nid = \"b\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1, column 1"), "{err}");
    assert!(err.contains("missing field `id` in candidate 1\n"), "{err}");
}

/// Issue #21, problem 5: when every candidate fails, the stack's error says
/// how many were tried and carries the whole trail, not only the last error.
#[tokio::test(start_paused = true)]
async fn when_every_candidate_fails_the_error_tells_the_whole_story() {
    let config = "[retry]\nmax_attempts = 1\n\
                  [[candidates]]\nid = \"a\"\nmodel = \"model-a\"\n\
                  [[candidates]]\nid = \"b\"\n\
                  [[candidates]]\nid = \"c\"\n";
    let a = ScriptedProvider::new("a").then_error(ProviderError::throttled("slow down", None));
    let b = ScriptedProvider::new("b").then_error(ProviderError::new(ErrorKind::Internal, "500"));
    let c = ScriptedProvider::new("c").then_error(ProviderError::new(
        ErrorKind::Unavailable,
        "ServiceUnavailableException: try later",
    ));
    let stack = build_stack(config, &[&a, &b, &c]);
    let err = stack.complete(ChatRequest::user("hi")).await.unwrap_err();
    // Kind and provider are still the last candidate's, for callers that
    // decide on them.
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.provider().map(|p| p.as_str()), Some("c"));
    let message = err.to_string();
    assert!(
        message.contains("none of 3 candidates answered (3 failed)"),
        "{message}"
    );
    for part in [
        "`a` failed: throttled: slow down",
        "`b` failed: internal: 500",
        "ServiceUnavailableException",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    let failure = palisade_stack::FallbackError::find(&err).expect("a fallback error");
    assert_eq!(failure.candidates_tried(), 3);
    assert_eq!(failure.attempts().len(), 3);
    assert_eq!(
        failure.last_error().map(ProviderError::message),
        Some("ServiceUnavailableException: try later")
    );
}

#[tokio::test(start_paused = true)]
async fn streams_go_through_the_whole_stack() {
    let config = r#"
        [limit]
        max_concurrent = 1
        [budget]
        limit_usd = 10.0
        [prices]
        "primary" = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
        [[candidates]]
        id = "primary"
        [[candidates]]
        id = "secondary"
    "#;
    let primary = ScriptedProvider::new("primary")
        .then_error(ProviderError::new(ErrorKind::Unavailable, "503"));
    let secondary = ScriptedProvider::new("secondary").then_text("streamed");
    let stack = build_stack(config, &[&primary, &secondary]);
    let stream = stack.stream(ChatRequest::user("hi")).await.unwrap();
    let answer = palisade_core::collect_stream(stream).await.unwrap();
    assert_eq!(answer.text_content(), "streamed");
    let stats = stack.stats();
    assert_eq!(stats.candidate("secondary").unwrap().successes, 1);
    assert_eq!(
        stats.candidate("secondary").unwrap().limiter_queued,
        Some(0)
    );
    assert!(
        stats.budget.unwrap().total.spent_usd > 0.0,
        "the stream's usage was charged"
    );
}

/// The offsets from the first call at which `seed`'s stack calls a provider
/// that fails three times with a retryable error.
async fn retry_times_with_seed(seed: u64) -> Vec<Duration> {
    let config =
        format!("seed = {seed}\n[retry]\nmax_attempts = 4\n[[candidates]]\nid = \"only\"\n");
    let p = ScriptedProvider::new("only")
        .then_errors(3, &ProviderError::new(ErrorKind::Overloaded, "busy"))
        .then_text("ok");
    let stack = build_stack(&config, &[&p]);
    stack.complete(ChatRequest::user("hi")).await.unwrap();
    let calls = p.calls();
    calls.iter().map(|c| c.at - calls[0].at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_seeded_stack_replays_the_same_jittered_delays() {
    let first = retry_times_with_seed(7).await;
    assert_eq!(first.len(), 4);
    assert_eq!(first, retry_times_with_seed(7).await);
    // Another seed draws other (full-jitter) delays.
    assert_ne!(first, retry_times_with_seed(8).await);
}

#[tokio::test(start_paused = true)]
async fn a_model_that_hangs_opens_its_breaker_through_the_per_attempt_timeout() {
    let config = r#"
        [retry]
        max_attempts = 1
        [timeout]
        per_attempt = "1s"
        [breaker]
        consecutive_failures = 3
        [[candidates]]
        id = "hung"
        [[candidates]]
        id = "steady"
    "#;
    let hung = answering_after("hung", Duration::from_secs(3_600));
    let steady = ScriptedProvider::new("steady");
    let stack = build_stack(config, &[&hung, &steady]);
    for _ in 0..3 {
        let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
        assert_eq!(answer.served_by.as_str(), "steady");
    }
    assert_eq!(hung.cancelled(), 3, "each timed-out call was dropped");
    assert_eq!(
        breaker_state(&stack, "hung").as_deref(),
        Some("open"),
        "three timeouts are three failures"
    );
    // Open: the next request goes straight to the steady model.
    stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(hung.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_per_attempt_timeout_times_the_model_not_the_limiter_queue() {
    // One call at a time, each taking 1.5 s, with a 2 s per-attempt limit: the
    // second request queues 1.5 s at the limiter, then needs 1.5 s of the
    // model, and still makes it.
    let config = r#"
        [retry]
        max_attempts = 1
        [timeout]
        per_attempt = "2s"
        [limit]
        max_concurrent = 1
        [[candidates]]
        id = "only"
    "#;
    let only = answering_after("only", Duration::from_millis(1_500));
    let stack = build_stack(config, &[&only]);
    let (a, b) = tokio::join!(
        stack.complete(ChatRequest::user("first")),
        stack.complete(ChatRequest::user("second")),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(only.max_in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_does_not_count_against_the_model() {
    let config = r#"
        [retry]
        max_attempts = 1
        [timeout]
        per_attempt = "10s"
        [breaker]
        consecutive_failures = 1
        [[candidates]]
        id = "slow"
    "#;
    let slow = answering_after("slow", Duration::from_secs(5));
    let stack = build_stack(config, &[&slow]);
    let mut req = ChatRequest::user("hurry");
    req.metadata.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(1));
    let err = stack.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        breaker_state(&stack, "slow").as_deref(),
        Some("closed"),
        "the caller's deadline says nothing about the model"
    );
}

/// A provider's quota profile reaches the candidate's limiter: here one
/// whose output counts 20× makes a call that the default would admit too
/// big for the quota.
#[tokio::test(start_paused = true)]
async fn a_cost_model_factory_sets_how_each_candidates_limiter_counts() {
    use palisade_limit::{BurndownConfig, CostModel, DefaultCostModel};
    let config = r#"
        [limit]
        tokens = { amount = 1000, burst = 1000 }
        max_wait = "1s"
        [[candidates]]
        id = "m"
    "#;
    let request = || ChatRequest::user("hi").with_max_tokens(100);
    let plain = build_stack(config, &[&ScriptedProvider::new("m")]);
    plain.complete(request()).await.unwrap();

    let stack = StackBuilder::from_toml(config)
        .unwrap()
        .provider("m", ScriptedProvider::new("m"))
        .cost_model_factory(|c| {
            let burndown = BurndownConfig::default().with_model(&c.id, 20);
            Some(std::sync::Arc::new(DefaultCostModel::new(burndown))
                as std::sync::Arc<dyn CostModel>)
        })
        .build()
        .unwrap();
    let err = stack.complete(request()).await.unwrap_err();
    // 8 input tokens + 100 × 20: more than the whole bucket.
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("cost of 2008"), "{err}");
}

/// Issue #22, gap 1: a candidate sets its own cooldown after a throttle
/// without Retry-After (the seed systems: 60 s for the primary, 30 s for
/// fallbacks), and the stack uses it.
#[tokio::test(start_paused = true)]
async fn a_candidate_cooldown_key_cools_that_candidate_down() {
    let config = "[retry]\nmax_attempts = 1\n\
                  [fallback.cooldown]\ndefault = \"60s\"\n\
                  [[candidates]]\nid = \"primary\"\n\
                  [[candidates]]\nid = \"secondary\"\ncooldown = \"30s\"\n\
                  [[candidates]]\nid = \"last\"\n";
    let parsed = StackConfig::from_toml(config).unwrap();
    assert_eq!(parsed.candidates[0].cooldown, None);
    assert_eq!(parsed.candidates[1].cooldown, Some(Duration::from_secs(30)));
    let again = StackConfig::from_toml(&parsed.to_toml().unwrap()).unwrap();
    assert_eq!(again, parsed);

    let throttle = || ProviderError::throttled("ThrottlingException: Too many requests", None);
    let primary = ScriptedProvider::new("primary").then_error(throttle());
    let secondary = ScriptedProvider::new("secondary").then_error(throttle());
    let last = ScriptedProvider::new("last");
    let stack = build_stack(config, &[&primary, &secondary, &last]);
    let first = stack.complete(ChatRequest::user("1")).await.unwrap();
    assert_eq!(first.served_by.as_str(), "last");
    let cooling: Vec<_> = stack
        .fallback()
        .candidates()
        .iter()
        .map(|c| c.cooldown_remaining())
        .collect();
    assert_eq!(
        cooling,
        [
            Some(Duration::from_secs(60)),
            Some(Duration::from_secs(30)),
            None
        ]
    );

    tokio::time::advance(Duration::from_secs(30)).await;
    let second = stack.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "secondary");
    tokio::time::advance(Duration::from_secs(30)).await;
    let third = stack.complete(ChatRequest::user("3")).await.unwrap();
    assert_eq!(third.served_by.as_str(), "primary");
}

/// Issue #22, gap 3: the rate-limiting sidecar's variables land on the keys
/// they mean.
#[test]
fn the_sidecars_variables_are_carried_over() {
    let env = |name: &str| {
        let value = match name {
            "MAX_CONCURRENT_REQUESTS" => "5",
            "DEFAULT_MODEL" => "primary-model",
            "REQUEST_TIMEOUT" => "45",
            "MAX_RETRIES" => "3",
            "BEDROCK_RPM" => "30",
            "BEDROCK_TPM" => "120000",
            "OPENAI_RPM" => "500",
            "ANTHROPIC_TPM" => "80000",
            "MONTHLY_BUDGET_ALERT" => "500",
            // Not carried (docs/config.md says why): read by nobody.
            "MAX_WORKERS" => "10",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let mut config = StackConfig::from_toml(
        "[[candidates]]\nid = \"gpt\"\nprovider = \"openai\"\n\
         [[candidates]]\nid = \"claude\"\nprovider = \"anthropic\"\n\
         [[candidates]]\nid = \"fallback-model\"\n",
    )
    .unwrap();
    config.apply_env_from(env).unwrap();

    let ids: Vec<&str> = config.candidates.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["primary-model", "gpt", "claude", "fallback-model"]);
    assert_eq!(config.timeout.per_attempt, Some(Duration::from_secs(45)));
    assert_eq!(config.retry.max_attempts, 3);
    let alerts = config
        .alerts
        .as_ref()
        .expect("MONTHLY_BUDGET_ALERT sets [alerts]");
    assert_eq!(alerts.monthly_spend_usd, Some(500.0));
    let per_minute = |q: Option<palisade_limit::Quota>| q.map(|q| (q.amount, q.period.as_secs()));
    let limits: Vec<_> = config
        .candidates
        .iter()
        .map(|c| {
            let l = c
                .limit
                .as_ref()
                .expect("every candidate has a provider limit");
            (
                per_minute(l.requests),
                per_minute(l.tokens),
                l.max_concurrent,
            )
        })
        .collect();
    assert_eq!(
        limits,
        [
            // Bedrock (the default provider): both, over the stack's cap of 5.
            (Some((30, 60)), Some((120_000, 60)), Some(5)),
            (Some((500, 60)), None, Some(5)),
            (None, Some((80_000, 60)), Some(5)),
            (Some((30, 60)), Some((120_000, 60)), Some(5)),
        ]
    );
    config.validate().unwrap();

    // DEFAULT_MODEL naming a candidate already there moves it first.
    let mut config =
        StackConfig::from_toml("[[candidates]]\nid = \"a\"\n[[candidates]]\nid = \"b\"\n").unwrap();
    config
        .apply_env_from(|n| (n == "DEFAULT_MODEL").then(|| "b".to_owned()))
        .unwrap();
    let ids: Vec<&str> = config.candidates.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"]);
}

#[test]
fn bad_sidecar_values_are_refused_naming_the_variable_and_value() {
    for (var, value) in [
        ("REQUEST_TIMEOUT", "0"),
        ("REQUEST_TIMEOUT", "soon"),
        ("MAX_RETRIES", "0"),
        ("MAX_RETRIES", "-1"),
        ("MAX_RETRIES", "99999999999"),
        ("BEDROCK_RPM", "thirty"),
        ("OPENAI_TPM", "0"),
        ("ANTHROPIC_RPM", "1.5"),
    ] {
        let mut config = StackConfig::default();
        let err = config
            .apply_env_from(|n| (n == var).then(|| value.to_owned()))
            .unwrap_err();
        assert!(matches!(err, StackConfigError::Env(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{var}` = {value:?}")),
            "{var}: {message}"
        );
    }
    // Blank is unset.
    let mut config = StackConfig::default();
    config
        .apply_env_from(|n| (n == "MAX_RETRIES").then(|| "  ".to_owned()))
        .unwrap();
    assert_eq!(
        config.retry.max_attempts,
        StackConfig::default().retry.max_attempts
    );
}

#[test]
fn the_seed_presets_match_the_replaced_systems() {
    use palisade_stack::RetryPolicy;
    let retry = RetryPolicy::seed();
    assert_eq!(retry.max_attempts, 3);
    let delays: Vec<u64> = (1..=3)
        .map(|n| retry.backoff.exponential_delay(n).as_secs())
        .collect();
    assert_eq!(delays, [1, 2, 4]);
    let patient = RetryPolicy::seed_patient();
    assert_eq!(patient.max_attempts, 5);
    assert_eq!(patient.max_total_time, Some(Duration::from_secs(300)));
    assert_eq!(patient.backoff, retry.backoff);

    let limit = palisade_limit::LimiterConfig::seed_document_service();
    assert_eq!(limit.requests.map(|q| q.amount), Some(30));
    assert_eq!(limit.max_concurrent, Some(5));
    assert_eq!(limit.tokens.map(|q| q.amount), Some(120_000));
}
