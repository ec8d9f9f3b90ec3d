//! Keys: one limiter per model from a template, and sets that roll back.

use palisade_limit::{Cost, LimitKind, Limiter, LimiterConfig, LimiterMap, LimiterSet, Quota};

#[tokio::test(start_paused = true)]
async fn a_map_makes_one_limiter_per_key_from_the_template() {
    let map =
        LimiterMap::new(LimiterConfig::default().with_requests(Quota::per_minute(1))).unwrap();
    let a = map.get("model-a");
    assert!(a.same_as(&map.get("model-a")));
    assert_eq!(a.name(), "model-a");
    let _p = a.try_acquire(Cost::request()).unwrap();
    assert!(a.try_acquire(Cost::request()).is_err());
    // Another key has its own quota.
    assert!(map.get("model-b").try_acquire(Cost::request()).is_ok());
    map.configure(
        "model-c",
        LimiterConfig::named("model-c").with_requests(Quota::per_minute(5)),
    )
    .unwrap();
    assert_eq!(map.keys(), ["model-a", "model-b", "model-c"]);
}

#[tokio::test(start_paused = true)]
async fn a_set_rolls_back_what_it_took_when_one_limiter_refuses() {
    // Whichever order the set takes them in, the refusal leaves both
    // limiters exactly as they were.
    for _ in 0..8 {
        let roomy = Limiter::new(
            LimiterConfig::named("roomy")
                .with_requests(Quota::per_minute(10))
                .with_tokens(Quota::per_minute(1_000))
                .with_max_concurrent(4),
        )
        .unwrap();
        let tight =
            Limiter::new(LimiterConfig::named("tight").with_tokens(Quota::per_minute(50))).unwrap();
        let set = LimiterSet::new().with(roomy.clone()).with(tight.clone());
        let err = set.try_acquire(Cost::tokens(80)).unwrap_err();
        assert!(matches!(
            err,
            palisade_limit::LimitError::CostExceedsCapacity {
                limit: LimitKind::Tokens,
                ..
            }
        ));
        let stats = roomy.stats();
        assert_eq!(stats.requests_available, Some(10));
        assert_eq!(stats.tokens_available, Some(1_000));
        assert_eq!((stats.in_flight, stats.admitted), (0, 0));

        let permits = set.try_acquire(Cost::tokens(40)).unwrap();
        assert_eq!(permits.permits().len(), 2);
        let settled = permits.settle_tokens(10);
        assert_eq!(settled.refunded, 30);
        assert_eq!(tight.stats().tokens_available, Some(40));
        assert_eq!(roomy.stats().in_flight, 0);
    }
}
