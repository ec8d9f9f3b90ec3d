//! Limits keyed by a request tag: per user (`user=alice`) and per task type
//! (`task=analysis`), made on first use, dropped when idle, bounded in
//! memory, and taken with a layer's fixed limiters all or nothing.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
use palisade_limit::{
    Cost, KeyedLimitConfig, KeyedLimiters, LimitError, LimitKind, Limiter, LimiterConfig,
    LimiterSet, MemoryStore, Quota, RateLimitLayer, Untagged,
};
use tokio::time::advance;

/// The replaced patterns' per-user limit: 100 requests a minute, refused at
/// once when spent (so counting admissions counts the quota).
fn per_user(max_keys: usize) -> KeyedLimitConfig {
    KeyedLimitConfig::new(
        "user",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(100))
            .with_max_wait(Duration::ZERO),
    )
    .with_max_keys(max_keys)
    .with_idle_ttl(Duration::from_secs(120))
}

fn as_user(user: &str) -> ChatRequest {
    ChatRequest::user("hello").with_tag(format!("user={user}"))
}

fn as_task(task: &str) -> ChatRequest {
    ChatRequest::user("hello").with_tag(format!("task={task}"))
}

/// Calls `provider` with `request` until it is refused; returns how many
/// were admitted and the refusal.
async fn admitted_until_refused(
    provider: &impl Provider,
    request: &ChatRequest,
    at_most: usize,
) -> (usize, Option<ProviderError>) {
    for n in 0..at_most {
        if let Err(e) = provider.complete(request.clone()).await {
            return (n, Some(e));
        }
    }
    (at_most, None)
}

#[tokio::test(start_paused = true)]
async fn two_users_each_get_their_own_100_a_minute() {
    let keyed = KeyedLimiters::new(per_user(1_000)).unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));

    let (alice, refusal) = admitted_until_refused(&provider, &as_user("alice"), 500).await;
    assert_eq!(alice, 100);
    let refusal = refusal.unwrap();
    assert_eq!(refusal.kind(), ErrorKind::Throttled);
    assert!(refusal.to_string().contains("user:alice"), "{refusal}");
    // Alice spending hers left Bob's whole.
    let (bob, _) = admitted_until_refused(&provider, &as_user("bob"), 500).await;
    assert_eq!(bob, 100);
    assert_eq!(keyed.values(), ["alice", "bob"]);
    assert_eq!(keyed.get("alice").unwrap().name(), "user:alice");

    // A minute later each has a fresh 100 again.
    advance(Duration::from_secs(60)).await;
    let (alice, _) = admitted_until_refused(&provider, &as_user("alice"), 500).await;
    assert_eq!(alice, 100);
}

#[tokio::test(start_paused = true)]
async fn an_idle_user_is_dropped_after_idle_ttl_and_made_fresh_again() {
    let keyed = KeyedLimiters::new(per_user(1_000)).unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let (carol, _) = admitted_until_refused(&provider, &as_user("carol"), 500).await;
    assert_eq!(carol, 100);
    let before = keyed.get("carol").unwrap();
    // Erin holds a permit across the idle time: hers must stay.
    let erin = keyed.get("erin").unwrap();
    let erin_permit = erin.try_acquire(Cost::request()).unwrap();

    advance(Duration::from_secs(119)).await;
    assert_eq!(keyed.evict_idle(), 0, "not idle long enough yet");
    drop(before);
    advance(Duration::from_secs(1)).await;
    assert_eq!(keyed.evict_idle(), 1);
    assert_eq!(keyed.values(), ["erin"]);
    assert!(keyed.get("erin").unwrap().same_as(&erin));

    // Carol comes back to a new limiter with nothing counted.
    let again = keyed.get("carol").unwrap();
    assert_eq!(again.stats().admitted, 0);
    assert_eq!(keyed.evicted(), 1);
    drop(erin_permit);
}

#[tokio::test(start_paused = true)]
async fn get_drops_idle_limiters_on_its_own() {
    let keyed = KeyedLimiters::new(per_user(1_000)).unwrap();
    for user in ["a", "b", "c"] {
        drop(keyed.get(user).unwrap());
    }
    advance(Duration::from_secs(120)).await;
    drop(keyed.get("d").unwrap());
    assert_eq!(keyed.values(), ["d"]);
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_users_never_hold_more_than_max_keys_limiters() {
    let keyed = KeyedLimiters::new(per_user(100)).unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    // Five users hold a permit the whole time: the bound must make room
    // around them, never by dropping them.
    let held: Vec<(Limiter, _)> = (0..5)
        .map(|i| {
            let limiter = keyed.get(&format!("held-{i}")).unwrap();
            let permit = limiter.try_acquire(Cost::request()).unwrap();
            (limiter, permit)
        })
        .collect();

    let mut most = 0;
    for user in 0..10_000 {
        provider
            .complete(as_user(&format!("u{user}")))
            .await
            .unwrap();
        most = most.max(keyed.len());
    }
    assert_eq!(most, 100);
    for (limiter, _) in &held {
        let name = limiter.name().strip_prefix("user:").unwrap();
        assert!(keyed.get(name).unwrap().same_as(limiter), "{name} dropped");
    }
    assert!(keyed.evicted() >= 10_000 - 95, "{}", keyed.evicted());
}

#[tokio::test(start_paused = true)]
async fn a_new_user_is_refused_while_every_slot_is_held() {
    let keyed = KeyedLimiters::new(per_user(2)).unwrap();
    let a = keyed
        .get("a")
        .unwrap()
        .try_acquire(Cost::request())
        .unwrap();
    let _b = keyed
        .get("b")
        .unwrap()
        .try_acquire(Cost::request())
        .unwrap();
    let err = keyed.get("c").unwrap_err();
    assert!(
        matches!(
            &err,
            LimitError::RateLimited { limiter, limit: LimitKind::Concurrency, retry_after: None }
                if limiter == "user:c"
        ),
        "{err:?}"
    );
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let refused = provider.complete(as_user("c")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Throttled);
    // One release makes room.
    drop(a);
    provider.complete(as_user("c")).await.unwrap();
    assert_eq!(keyed.values(), ["b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn per_task_overrides_give_analysis_5_and_chat_10_a_minute() {
    let config = KeyedLimitConfig::new(
        "task",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(20))
            .with_max_wait(Duration::ZERO),
    )
    .with_override(
        "analysis",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(5))
            .with_max_wait(Duration::ZERO),
    )
    .with_override(
        "chat",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(10))
            .with_max_wait(Duration::ZERO),
    );
    let keyed = KeyedLimiters::new(config).unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let mut got = Vec::new();
    for task in ["analysis", "chat", "summary"] {
        got.push(
            admitted_until_refused(&provider, &as_task(task), 100)
                .await
                .0,
        );
    }
    assert_eq!(got, [5, 10, 20]);
    assert_eq!(keyed.get("analysis").unwrap().name(), "task:analysis");
}

#[tokio::test(start_paused = true)]
async fn user_and_task_limits_apply_together() {
    let users = KeyedLimiters::new(per_user(1_000)).unwrap();
    let tasks = KeyedLimiters::new(KeyedLimitConfig::new(
        "task",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(5))
            .with_max_wait(Duration::ZERO),
    ))
    .unwrap();
    let provider = ScriptedProvider::new("model").layer(
        RateLimitLayer::new(LimiterSet::new())
            .with_keyed(users.clone())
            .with_keyed(tasks),
    );
    let request = as_user("alice").with_tag("task=analysis");
    let (n, refusal) = admitted_until_refused(&provider, &request, 100).await;
    assert_eq!(n, 5);
    assert!(refusal.unwrap().to_string().contains("task:analysis"));
    // The refused call took nothing from Alice's own limit.
    assert_eq!(users.get("alice").unwrap().stats().admitted, 5);
}

#[tokio::test(start_paused = true)]
async fn untagged_requests_are_unlimited_by_default() {
    let keyed = KeyedLimiters::new(KeyedLimitConfig::new(
        "user",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(1))
            .with_max_wait(Duration::ZERO),
    ))
    .unwrap();
    assert_eq!(keyed.config().untagged, Untagged::Unlimited);
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let untagged = ChatRequest::user("hello");
    let (n, _) = admitted_until_refused(&provider, &untagged, 50).await;
    assert_eq!(n, 50);
    // An empty value counts as no tag.
    let (n, _) = admitted_until_refused(&provider, &as_user(""), 50).await;
    assert_eq!(n, 50);
    assert!(keyed.is_empty());
}

#[tokio::test(start_paused = true)]
async fn untagged_requests_can_share_one_limiter_of_the_template() {
    let keyed = KeyedLimiters::new(
        KeyedLimitConfig::new(
            "user",
            LimiterConfig::default()
                .with_requests(Quota::per_minute(3))
                .with_max_wait(Duration::ZERO),
        )
        .with_untagged(Untagged::Shared),
    )
    .unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let (n, refusal) = admitted_until_refused(&provider, &ChatRequest::user("hi"), 50).await;
    assert_eq!(n, 3);
    assert!(refusal.unwrap().to_string().contains("user:<untagged>"));
    // Tagged users keep their own.
    let (n, _) = admitted_until_refused(&provider, &as_user("alice"), 50).await;
    assert_eq!(n, 3);
    assert_eq!(keyed.untagged().unwrap().stats().admitted, 3);
}

#[tokio::test(start_paused = true)]
async fn keyed_and_fixed_limiters_are_taken_all_or_nothing_and_settled_together() {
    let account = Limiter::new(
        LimiterConfig::named("account")
            .with_tokens(Quota::per_minute(100_000))
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let keyed = KeyedLimiters::new(KeyedLimitConfig::new(
        "user",
        LimiterConfig::default()
            .with_requests(Quota::per_minute(1))
            .with_tokens(Quota::per_minute(100_000))
            .with_max_wait(Duration::ZERO),
    ))
    .unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(account.clone()).with_keyed(keyed.clone()));
    let request = as_user("alice").with_max_tokens(500);
    provider.complete(request.clone()).await.unwrap();
    let alice = keyed.get("alice").unwrap();
    // Both reserved the same estimate and settled the same usage.
    let (a, k) = (account.stats(), alice.stats());
    assert_eq!(a.tokens_reserved, k.tokens_reserved);
    assert_eq!(a.tokens_settled, k.tokens_settled);
    assert!(a.tokens_settled > 0);
    assert_eq!((a.in_flight, k.in_flight), (0, 0));

    // Alice's request quota is spent: the account must not keep anything.
    let before = account.stats();
    let refused = provider.complete(request).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Throttled);
    let after = account.stats();
    assert_eq!(after.tokens_available, before.tokens_available);
    assert_eq!(after.tokens_reserved, before.tokens_reserved);
    assert_eq!(after.in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_store_shares_each_users_limit_between_processes() {
    let store = Arc::new(MemoryStore::new());
    let lease = Duration::from_secs(30);
    // A store is asked, not peeked at, so a zero wait would refuse before
    // asking; 100 ms is shorter than the 600 ms a spent 100/min refills one.
    let mut config = per_user(1_000);
    config.limit.max_wait = Duration::from_millis(100);
    let one = KeyedLimiters::with_store(config.clone(), store.clone(), lease).unwrap();
    let two = KeyedLimiters::with_store(config, store, lease).unwrap();
    let first = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(one));
    let second = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(two));
    let (n, _) = admitted_until_refused(&first, &as_user("alice"), 60).await;
    assert_eq!(n, 60);
    // The other process sees the 60 Alice spent, and Bob's are separate.
    let (n, _) = admitted_until_refused(&second, &as_user("alice"), 500).await;
    assert_eq!(n, 40);
    let (n, _) = admitted_until_refused(&second, &as_user("bob"), 500).await;
    assert_eq!(n, 100);
}

#[test]
fn toml_reads_per_task_overrides() {
    let config: KeyedLimitConfig = toml::from_str(
        r#"
        tag = "task"
        max_keys = 50
        idle_ttl = "5m"
        untagged = "shared"
        [limit.requests]
        amount = 20
        [overrides.analysis.requests]
        amount = 5
        [overrides.chat.requests]
        amount = 10
        "#,
    )
    .unwrap();
    assert_eq!(config.max_keys, 50);
    assert_eq!(config.idle_ttl, Duration::from_secs(300));
    assert_eq!(config.untagged, Untagged::Shared);
    assert_eq!(
        config.overrides["analysis"].requests,
        Some(Quota::per_minute(5))
    );
    assert!(KeyedLimiters::new(config).is_ok());

    let defaults: KeyedLimitConfig = toml::from_str("tag = \"user\"\n").unwrap();
    assert_eq!(defaults.max_keys, 10_000);
    assert_eq!(defaults.idle_ttl, Duration::from_secs(600));
    assert_eq!(defaults.untagged, Untagged::Unlimited);
}

#[test]
fn toml_errors_name_the_key() {
    let err = toml::from_str::<KeyedLimitConfig>("tag = \"user\"\nmax_key = 5\n").unwrap_err();
    assert!(err.to_string().contains("max_key"), "{err}");
    let err = toml::from_str::<KeyedLimitConfig>(
        "tag = \"task\"\n[overrides.analysis]\nmax_concurent = 2\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_concurent"), "{err}");
    let err =
        toml::from_str::<KeyedLimitConfig>("tag = \"user\"\nuntagged = \"free\"\n").unwrap_err();
    assert!(err.to_string().contains("free"), "{err}");
    let err = toml::from_str::<KeyedLimitConfig>("max_keys = 5\n").unwrap_err();
    assert!(err.to_string().contains("tag"), "{err}");
}

#[test]
fn validation_names_the_key() {
    let bad_override = KeyedLimitConfig::new("task", LimiterConfig::default()).with_override(
        "analysis",
        LimiterConfig::default().with_requests(Quota::per_minute(0)),
    );
    let err = KeyedLimiters::new(bad_override).unwrap_err().to_string();
    assert!(
        err.contains("overrides.analysis") && err.contains("`requests`"),
        "{err}"
    );

    let short_ttl = KeyedLimitConfig::new(
        "user",
        LimiterConfig::default().with_requests(Quota::per(100, Duration::from_secs(3_600))),
    )
    .with_idle_ttl(Duration::from_secs(600));
    let err = KeyedLimiters::new(short_ttl).unwrap_err().to_string();
    assert!(err.contains("idle_ttl") && err.contains("`limit`"), "{err}");

    let err = KeyedLimiters::new(
        KeyedLimitConfig::new("user", LimiterConfig::default()).with_max_keys(0),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("max_keys"), "{err}");
    let err = KeyedLimiters::new(KeyedLimitConfig::new("user=", LimiterConfig::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`tag`"), "{err}");
}

#[test]
fn the_documented_keyed_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/limits.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        // Outside the workspace (a packaged crate) the guide is not there.
        return;
    };
    let start = doc.find("```toml\ntag = ").expect("the keyed example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let config: KeyedLimitConfig = toml::from_str(&doc[start..end]).unwrap();
    assert_eq!(config.tag, "task");
    assert_eq!(config.max_keys, 1_000);
    assert_eq!(config.idle_ttl, Duration::from_secs(600));
    assert_eq!(config.limit.requests, Some(Quota::per_minute(20)));
    assert_eq!(
        config.overrides["chat"].requests,
        Some(Quota::per_minute(10))
    );
    assert!(KeyedLimiters::new(config).is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_open_stream_keeps_its_users_limiter() {
    let keyed = KeyedLimiters::new(per_user(1)).unwrap();
    let provider = ScriptedProvider::new("model")
        .layer(RateLimitLayer::new(LimiterSet::new()).with_keyed(keyed.clone()));
    let mut stream = provider.stream(as_user("alice")).await.unwrap();
    // Alice's permit rides with the stream: her limiter cannot make room.
    let refused = provider.complete(as_user("bob")).await.unwrap_err();
    assert!(refused.to_string().contains("user:bob"), "{refused}");
    while stream.next().await.is_some() {}
    drop(stream);
    provider.complete(as_user("bob")).await.unwrap();
    assert_eq!(keyed.values(), ["bob"]);
}
