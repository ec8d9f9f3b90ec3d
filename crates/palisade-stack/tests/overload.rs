//! Routing by expected wait (`fallback.overload`): a request goes where it
//! is served soonest, an idle secondary serves while the primary queues, and
//! a request that no candidate can serve before its deadline is refused at
//! once with a typed error carrying the true earliest `retry_after`.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ErrorKind, ErrorOrigin, Provider};
use palisade_limit::{Limiter, LimiterConfig, Quota, RateLimit};
use palisade_stack::{Candidate, Fallback, FallbackConfig, FallbackError, OverloadConfig};
use tokio::time::Instant;

fn limited(id: &str, per_minute: u64, latency: Duration) -> (Candidate, ScriptedProvider) {
    candidate(id, per_minute, latency, Duration::from_secs(3600))
}

/// A model behind a limiter of `per_minute` requests (burst 1) that waits
/// at most `max_wait` for admission.
fn candidate(
    id: &str,
    per_minute: u64,
    latency: Duration,
    max_wait: Duration,
) -> (Candidate, ScriptedProvider) {
    behind(
        id,
        latency,
        LimiterConfig::named(id)
            .with_requests(Quota::per_minute(per_minute).with_burst(1))
            .with_max_wait(max_wait),
    )
}

/// A model whose calls take `latency`, behind a limiter of `config`.
fn behind(id: &str, latency: Duration, config: LimiterConfig) -> (Candidate, ScriptedProvider) {
    let provider = ScriptedProvider::new(id).otherwise(latency, Outcome::Echo);
    let limiter = Limiter::new(config).unwrap();
    (
        Candidate::new(RateLimit::new(provider.clone(), limiter)).with_id(id),
        provider,
    )
}

fn with_deadline(after: Duration) -> ChatRequest {
    let mut req = ChatRequest::user("hi");
    req.metadata.deadline = Some(Instant::now() + after);
    req
}

#[tokio::test(start_paused = true)]
async fn an_idle_secondary_serves_while_the_primary_queues() {
    // The primary admits one request every 10 s; the secondary is free.
    let (primary, p) = limited("primary", 6, Duration::ZERO);
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let fallback = Fallback::new([primary, secondary]);
    let start = Instant::now();
    let first = fallback.complete(ChatRequest::user("a")).await.unwrap();
    assert_eq!(first.served_by.as_str(), "primary");
    // The primary would hold the next one 10 s: the secondary serves now.
    let second = fallback.complete(ChatRequest::user("b")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "secondary");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!((p.call_count(), s.call_count()), (1, 1));

    // The same stack routed in order waits the 10 s at the primary.
    let (primary, _) = limited("primary", 6, Duration::ZERO);
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let in_order = Fallback::new([primary, secondary]).with_config(FallbackConfig {
        overload: OverloadConfig {
            enabled: false,
            ..OverloadConfig::default()
        },
        ..FallbackConfig::default()
    });
    in_order.complete(ChatRequest::user("a")).await.unwrap();
    let start = Instant::now();
    let second = in_order.complete(ChatRequest::user("b")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "primary");
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(s.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_preferred_candidate_is_waited_for_within_prefer_within() {
    // 120 a minute: the primary admits the next one in 0.5 s, within the
    // default 1 s preference, so the request waits for it.
    let (primary, _) = limited("primary", 120, Duration::ZERO);
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let fallback = Fallback::new([primary, secondary]);
    fallback.complete(ChatRequest::user("a")).await.unwrap();
    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("b")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "primary");
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    assert_eq!(s.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn what_cannot_make_its_deadline_is_refused_at_once() {
    // One request a minute; the second would wait 60 s, its deadline is 5 s.
    let (only, provider) = limited("only", 1, Duration::ZERO);
    let fallback = Fallback::new([only]);
    fallback.complete(ChatRequest::user("a")).await.unwrap();
    let start = Instant::now();
    let err = fallback
        .complete(with_deadline(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "refused without waiting");
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.origin(), ErrorOrigin::Layer);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert!(
        matches!(
            FallbackError::find(&err),
            Some(FallbackError::DeadlineUnreachable { soonest: Some(id), .. }) if id.as_str() == "only"
        ),
        "{err}"
    );
    assert!(err.message().contains("before its deadline"), "{err}");
    assert_eq!(provider.call_count(), 1);

    // Without shedding it waits its deadline out instead.
    let (only, _) = limited("only", 1, Duration::ZERO);
    let waiting = Fallback::new([only]).with_config(FallbackConfig {
        overload: OverloadConfig {
            shed: false,
            ..OverloadConfig::default()
        },
        ..FallbackConfig::default()
    });
    waiting.complete(ChatRequest::user("a")).await.unwrap();
    let start = Instant::now();
    let err = waiting
        .complete(with_deadline(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert!(start.elapsed() <= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_call_is_started_only_if_its_learned_latency_fits() {
    // Calls take 2 s; the rate-limit layer learns it from the first call
    // (reported with margin: 4 s after one sample).
    let (only, provider) = limited("only", 600, Duration::from_secs(2));
    let fallback = Fallback::new([only]);
    fallback.complete(ChatRequest::user("a")).await.unwrap();
    // 0.1 s of wait and 4 s of call do not fit 3 s: refused at once.
    let start = Instant::now();
    let err = fallback
        .complete(with_deadline(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(provider.call_count(), 1);
    // With room for it, the call is made.
    let answer = fallback
        .complete(with_deadline(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(answer.served_by.as_str(), "only");
}

#[tokio::test(start_paused = true)]
async fn the_queue_ahead_counts_when_choosing() {
    // The primary admits one every 0.5 s. Four requests at once: the first
    // is admitted now, the next two would wait 0.5 s and 1 s at the primary
    // (within the 1 s preference), the fourth 1.5 s: the idle secondary
    // serves it at once.
    let (primary, p) = limited("primary", 120, Duration::ZERO);
    let (secondary, s) = limited("secondary", 50, Duration::ZERO);
    let fallback = std::sync::Arc::new(Fallback::new([primary, secondary]));
    let start = Instant::now();
    let calls: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|text| {
            let f = fallback.clone();
            tokio::spawn(async move { f.complete(ChatRequest::user(text)).await })
        })
        .collect();
    let mut served = Vec::new();
    for call in calls {
        served.push(call.await.unwrap().unwrap().served_by.to_string());
    }
    assert_eq!(served, ["primary", "primary", "primary", "secondary"]);
    assert_eq!((p.call_count(), s.call_count()), (3, 1));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_queued_request_moves_when_another_candidate_could_serve_it_first() {
    // The primary admits one every 0.5 s. A request queues there (0.5 s
    // expected, within the preference) and is told to start by 1.5 s, when
    // the idle secondary could have served it plus the preference. Critical
    // work sharing the primary's limiter then jumps ahead of it: it leaves
    // the primary's queue at 1.5 s and the secondary serves it.
    let primary_model = ScriptedProvider::new("primary").otherwise(Duration::ZERO, Outcome::Echo);
    let shared = Limiter::new(
        LimiterConfig::named("primary")
            .with_requests(Quota::per_minute(120).with_burst(1))
            .with_max_wait(Duration::from_secs(3600)),
    )
    .unwrap();
    let primary =
        Candidate::new(RateLimit::new(primary_model.clone(), shared.clone())).with_id("primary");
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let fallback = std::sync::Arc::new(Fallback::new([primary, secondary]));
    fallback.complete(ChatRequest::user("a")).await.unwrap();
    let start = Instant::now();
    let queued = tokio::spawn({
        let f = fallback.clone();
        async move { f.complete(ChatRequest::user("b")).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(shared.stats().queued_now, 1);
    let critical: Vec<_> = (0..3)
        .map(|_| {
            let l = shared.clone();
            tokio::spawn(async move {
                l.acquire(
                    palisade_limit::Cost::request(),
                    palisade_core::Priority::Critical,
                )
                .await
                .map(|p| p.settle_tokens(0))
            })
        })
        .collect();
    let answer = queued.await.unwrap().unwrap();
    assert_eq!(answer.served_by.as_str(), "secondary");
    assert_eq!(start.elapsed(), Duration::from_millis(1_500));
    assert_eq!((primary_model.call_count(), s.call_count()), (1, 1));
    for c in critical {
        c.await.unwrap().unwrap();
    }
}

fn cached_conversation(turn: &str) -> ChatRequest {
    use palisade_core::{ContentBlock, Message, Role};
    let mut req = ChatRequest::user("the long shared document ...");
    req.messages[0].content.push(ContentBlock::CachePoint {
        ttl: Default::default(),
    });
    req.messages.push(Message::new(
        Role::Assistant,
        vec![ContentBlock::text("ok")],
    ));
    req.messages.push(Message::user(turn));
    req.metadata.deadline = Some(Instant::now() + Duration::from_secs(60));
    req
}

#[tokio::test(start_paused = true)]
async fn a_cached_conversation_goes_back_to_the_candidate_holding_its_cache() {
    // The secondary is idle, but the primary answered this conversation
    // and holds its cached prefix: the next turn waits the primary's 10 s
    // (it can serve well before the deadline) instead of moving.
    let (primary, _) = limited("primary", 6, Duration::ZERO);
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let fallback = Fallback::new([primary, secondary]);
    let first = fallback.complete(cached_conversation("q1")).await.unwrap();
    assert_eq!(first.served_by.as_str(), "primary");
    let start = Instant::now();
    let second = fallback.complete(cached_conversation("q2")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "primary");
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(s.call_count(), 0);
    // Another conversation (no shared prefix) is served at once elsewhere.
    let other = fallback
        .complete(ChatRequest::user("unrelated"))
        .await
        .unwrap();
    assert_eq!(other.served_by.as_str(), "secondary");

    // Off (`cache_affinity = 0`), the next turn moves to the idle secondary.
    let (primary, _) = limited("primary", 6, Duration::ZERO);
    let (secondary, _) = limited("secondary", 600, Duration::ZERO);
    let forgetful = Fallback::new([primary, secondary]).with_config(FallbackConfig {
        overload: OverloadConfig {
            cache_affinity: 0,
            ..OverloadConfig::default()
        },
        ..FallbackConfig::default()
    });
    forgetful.complete(cached_conversation("q1")).await.unwrap();
    let second = forgetful.complete(cached_conversation("q2")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "secondary");
}

/// Turn `turns` of an agent conversation marked as agents mark it: a cache
/// point after the system prompt and at the end of each of the last two
/// user turns, so the marks move every turn.
fn agent_turn(turns: usize) -> ChatRequest {
    use palisade_core::{CachePoint, ContentBlock, Message, Role};
    let mut req = ChatRequest::user("task: the long opening ...")
        .with_system("you are an agent with tools ...")
        .with_system_cache_point(CachePoint::default());
    for t in 0..turns {
        req.messages.push(Message::new(
            Role::Assistant,
            vec![ContentBlock::text(format!("call {t}"))],
        ));
        req.messages.push(Message::user(format!("result {t}")));
    }
    for message in req
        .messages
        .iter_mut()
        .rev()
        .filter(|m| m.role == Role::User)
        .take(2)
    {
        message.content.push(ContentBlock::CachePoint {
            ttl: Default::default(),
        });
    }
    req.metadata.deadline = Some(Instant::now() + Duration::from_secs(60));
    req
}

#[tokio::test(start_paused = true)]
async fn affinity_follows_a_conversation_whose_cache_points_move_every_turn() {
    // Each turn's last point is new; the prefix the turn before answered
    // ends at its second-to-last. The conversation stays on the primary,
    // waiting its 10 s, though the secondary is idle.
    let (primary, p) = limited("primary", 6, Duration::ZERO);
    let (secondary, s) = limited("secondary", 600, Duration::ZERO);
    let fallback = Fallback::new([primary, secondary]);
    for turn in 0..3 {
        let start = Instant::now();
        let answer = fallback.complete(agent_turn(turn)).await.unwrap();
        assert_eq!(answer.served_by.as_str(), "primary", "turn {turn}");
        let waited = if turn == 0 { 0 } else { 10 };
        assert_eq!(start.elapsed(), Duration::from_secs(waited), "turn {turn}");
    }
    assert_eq!((p.call_count(), s.call_count()), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn tier_pools_spill_over_cheapest_first_within_the_deadline() {
    use palisade_core::ServiceTier;
    // One model in three pools, each with its own quota, listed cheapest
    // first; `prefer_within` as long as the deadline: the cheapest pool
    // that can serve in time serves.
    let pool = |id: &str, per_minute: u64, tier: ServiceTier| {
        let (candidate, provider) = limited(id, per_minute, Duration::ZERO);
        (candidate.with_tier(tier), provider)
    };
    let (flex, f) = pool("flex", 1, ServiceTier::Flex);
    let (standard, d) = pool("default", 1, ServiceTier::Default);
    let (priority, p) = pool("priority", 1, ServiceTier::Priority);
    let fallback = Fallback::new([flex, standard, priority]).with_config(FallbackConfig {
        overload: OverloadConfig {
            prefer_within: Duration::from_secs(30),
            ..OverloadConfig::default()
        },
        ..FallbackConfig::default()
    });
    let mut served = Vec::new();
    for _ in 0..3 {
        let answer = fallback
            .complete(with_deadline(Duration::from_secs(30)))
            .await
            .unwrap();
        served.push(answer.served_by.to_string());
    }
    assert_eq!(served, ["flex", "default", "priority"]);
    // Each pool was called with its own tier.
    assert_eq!(f.calls()[0].request.service_tier, Some(ServiceTier::Flex));
    assert_eq!(
        d.calls()[0].request.service_tier,
        Some(ServiceTier::Default)
    );
    assert_eq!(
        p.calls()[0].request.service_tier,
        Some(ServiceTier::Priority)
    );
    // All three busy for a minute: a 30 s deadline cannot be met anywhere.
    let err = fallback
        .complete(with_deadline(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");

    // A request that asks for the priority tier skips the cheaper pools.
    let (flex, f) = pool("flex", 60, ServiceTier::Flex);
    let (standard, _) = pool("default", 60, ServiceTier::Default);
    let (priority, _) = pool("priority", 60, ServiceTier::Priority);
    let fallback = Fallback::new([flex, standard, priority]);
    let answer = fallback
        .complete(ChatRequest::user("urgent").with_service_tier(ServiceTier::Priority))
        .await
        .unwrap();
    assert_eq!(answer.served_by.as_str(), "priority");
    assert_eq!(f.call_count(), 0);
    assert_eq!(answer.attempts.len(), 3, "{:?}", answer.attempts);
}

#[test]
fn the_tier_pool_example_in_docs_limits_md_builds() {
    let doc = include_str!("../../../docs/limits.md");
    let start = doc
        .find("```toml\n[fallback.overload]")
        .expect("docs/limits.md has the tier pool example")
        + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let config = palisade_stack::StackConfig::from_toml(&doc[start..end]).unwrap();
    config.validate().unwrap();
    let tiers: Vec<_> = config.candidates.iter().map(|c| c.tier).collect();
    use palisade_core::ServiceTier;
    assert_eq!(
        tiers,
        [Some(ServiceTier::Flex), None, Some(ServiceTier::Priority)]
    );
    assert_eq!(
        config.fallback.overload.prefer_within,
        Duration::from_secs(60)
    );
}

/// A candidate whose limiter refuses at once what it cannot admit within
/// `max_wait` (issue 17: "with a short `max_wait`").
fn impatient(id: &str, per_minute: u64, max_wait: Duration) -> (Candidate, ScriptedProvider) {
    candidate(id, per_minute, Duration::ZERO, max_wait)
}

#[tokio::test(start_paused = true)]
async fn a_short_max_wait_uses_idle_capacity_and_reports_the_true_earliest_start() {
    // Issue 17: with a 5 ms `max_wait` the fallback reported "all
    // candidates unavailable; the earliest recovers in 0.005s" for a stack
    // with idle capacity. The primary admits one a minute; the secondary
    // one every 0.1 s. Ten requests at once: the secondary serves all but
    // the primary's one, within a second.
    let (primary, p) = impatient("primary", 1, Duration::from_millis(5));
    let (secondary, s) = impatient("secondary", 600, Duration::from_millis(5));
    let fallback = std::sync::Arc::new(Fallback::new([primary, secondary]).with_config(
        FallbackConfig {
            max_rounds: 3,
            ..FallbackConfig::default()
        },
    ));
    let start = Instant::now();
    let mut served = Vec::new();
    for result in ten_at_once(&fallback).await {
        match result {
            Ok((who, _)) => served.push(who),
            Err(err) => panic!("{err}"),
        }
    }
    assert_eq!(served.iter().filter(|s| *s == "primary").count(), 1);
    assert_eq!(served.iter().filter(|s| *s == "secondary").count(), 9);
    assert_eq!((p.call_count(), s.call_count()), (1, 9));
    // The secondary's nine slots, 0.1 s apart: never the primary's minute.
    assert!(
        start.elapsed() <= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );

    // With no capacity anywhere before the deadline, the refusal gives the
    // true earliest start, a minute away, not the 5 ms of a limiter's
    // `max_wait`.
    let (primary, _) = impatient("primary", 1, Duration::from_millis(5));
    let (secondary, _) = impatient("secondary", 1, Duration::from_millis(5));
    let fallback = Fallback::new([primary, secondary]).with_config(FallbackConfig {
        max_rounds: 3,
        ..FallbackConfig::default()
    });
    fallback.complete(ChatRequest::user("a")).await.unwrap();
    fallback.complete(ChatRequest::user("b")).await.unwrap();
    let start = Instant::now();
    let err = fallback
        .complete(with_deadline(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "refused without waiting");
    let retry_after = err.retry_after().expect("a refusal says when to retry");
    assert!(
        retry_after >= Duration::from_secs(59) && retry_after <= Duration::from_secs(60),
        "{retry_after:?}: {err}"
    );
    assert!(!err.message().contains("0.005s"), "{err}");
}

/// A model behind a limiter of at most `cap` calls at once that waits at
/// most 5 ms for a slot; each call takes `latency`.
fn capped(id: &str, cap: u32, latency: Duration) -> (Candidate, ScriptedProvider) {
    behind(
        id,
        latency,
        LimiterConfig::named(id)
            .with_max_concurrent(cap)
            .with_max_wait(Duration::from_millis(5)),
    )
}

/// Ten requests at once on `fallback`; each one's candidate and when it ended.
async fn ten_at_once(
    fallback: &std::sync::Arc<Fallback>,
) -> Vec<Result<(String, Duration), String>> {
    let start = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let f = fallback.clone();
            tokio::spawn(async move {
                f.complete(ChatRequest::user(format!("r{i}")))
                    .await
                    .map(|a| (a.served_by.to_string(), start.elapsed()))
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut ended = Vec::new();
    for call in calls {
        ended.push(call.await.unwrap());
    }
    ended
}

#[tokio::test(start_paused = true)]
async fn candidates_at_their_concurrency_caps_are_waited_for_once_their_latency_is_known() {
    // The primary takes one call at a time and each lasts 10 s; the
    // secondary three, each 0.5 s; both limiters wait 5 ms at most. A full
    // cap's refusal cannot say when a slot frees (no `retry_after`).
    let (primary, p) = capped("primary", 1, Duration::from_secs(10));
    let (secondary, s) = capped("secondary", 3, Duration::from_millis(500));
    let fallback = std::sync::Arc::new(Fallback::new([primary, secondary]));

    // Before any call has ended nothing says when a slot frees: the four
    // requests that find a slot are served, the six others fail at once.
    let cold = ten_at_once(&fallback).await;
    let failed: Vec<_> = cold.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(failed.len(), 6, "{cold:?}");
    assert!(failed[0].contains("concurrency limit"), "{}", failed[0]);
    assert_eq!((p.call_count(), s.call_count()), (1, 3));

    // Now both latencies are measured: a refused request waits for the
    // secondary's next slot instead of failing. All ten are served: one
    // by the primary, nine by the secondary three at a time, each within
    // a few of its 0.5 s calls (the estimate is a high one).
    let warm = ten_at_once(&fallback).await;
    let mut by_secondary = Vec::new();
    for result in &warm {
        match result {
            Ok((who, at)) if who == "secondary" => by_secondary.push(*at),
            Ok((who, at)) => assert_eq!((who.as_str(), *at), ("primary", Duration::from_secs(10))),
            Err(e) => panic!("{e}\n{warm:?}"),
        }
    }
    assert_eq!(by_secondary.len(), 9, "{warm:?}");
    assert!(
        by_secondary.iter().all(|at| *at <= Duration::from_secs(4)),
        "{by_secondary:?}"
    );
    assert_eq!((p.call_count(), s.call_count()), (2, 12));
}
