//! The limit scripts against a real redis-server: all-or-nothing admission,
//! the server's clock, hash-tagged keys, refunds and debt, lease expiry,
//! NOSCRIPT recovery, and atomicity under concurrent callers.

use std::time::Duration;

use palisade_limit::TokenCounts;
use palisade_redis::keys::{LimitKeys, cluster_hash_tag};
use palisade_redis::limit::scripts::{self, AdmitReply, BucketRate, Refusal, SharedLimits};
use palisade_redis::testing::RedisServer;
use palisade_redis::{RedisConfig, RedisConnection};
use redis::AsyncCommands;

const HOUR: Duration = Duration::from_secs(3600);
const TTL: Duration = Duration::from_secs(30);

async fn connect(server: &RedisServer) -> RedisConnection {
    RedisConnection::connect(RedisConfig::with_url(server.url()))
        .await
        .unwrap()
}

/// `burst` units, refilling one per hour: nothing refills during a test.
fn slow(burst: u64) -> Option<BucketRate> {
    BucketRate::new(1, HOUR, burst)
}

async fn admit(
    conn: &RedisConnection,
    keys: &LimitKeys,
    limits: &SharedLimits,
    tokens: u64,
    lease: &str,
) -> AdmitReply {
    scripts::admit(
        conn,
        keys,
        limits,
        TokenCounts::combined(tokens),
        lease,
        TTL,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn admits_the_burst_then_says_when() {
    let Some(server) = RedisServer::start_or_skip("admits_the_burst_then_says_when") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "burst");
    // 60 per minute, burst 3: three at once, then one per second.
    let limits = SharedLimits {
        requests: BucketRate::new(60, Duration::from_secs(60), 3),
        ..SharedLimits::default()
    };
    for _ in 0..3 {
        assert_eq!(
            admit(&conn, &keys, &limits, 0, "").await,
            AdmitReply::Admitted
        );
    }
    match admit(&conn, &keys, &limits, 0, "").await {
        AdmitReply::Refused { by, retry_after } => {
            assert_eq!(by, Refusal::Requests);
            assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
            assert!(retry_after > Duration::ZERO);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn refusal_by_one_limit_takes_nothing_from_the_others() {
    let Some(server) = RedisServer::start_or_skip("refusal_by_one_limit_takes_nothing") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "all-or-nothing");
    let limits = SharedLimits {
        requests: slow(2),
        tokens: slow(100),
        max_concurrent: Some(5),
        ..SharedLimits::default()
    };
    // 80 tokens fit; the next 80 do not, and that refusal must not spend a
    // request or a lease.
    assert_eq!(
        admit(&conn, &keys, &limits, 80, "a").await,
        AdmitReply::Admitted
    );
    assert!(matches!(
        admit(&conn, &keys, &limits, 80, "b").await,
        AdmitReply::Refused {
            by: Refusal::Tokens,
            ..
        }
    ));
    let mut manager = conn.link();
    let leases: u64 = manager.zcard(&keys.leases).await.unwrap();
    assert_eq!(leases, 1, "the refused admission left no lease");
    // The request budget of 2 still has one left.
    assert_eq!(
        admit(&conn, &keys, &limits, 10, "c").await,
        AdmitReply::Admitted
    );
    assert!(matches!(
        admit(&conn, &keys, &limits, 1, "d").await,
        AdmitReply::Refused {
            by: Refusal::Requests,
            ..
        }
    ));
}

#[tokio::test]
async fn a_cost_above_the_burst_is_never_admitted() {
    let Some(server) = RedisServer::start_or_skip("a_cost_above_the_burst_is_never_admitted")
    else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "never");
    let limits = SharedLimits {
        tokens: slow(1000),
        ..SharedLimits::default()
    };
    assert_eq!(
        admit(&conn, &keys, &limits, 1001, "").await,
        AdmitReply::Never {
            by: Refusal::Tokens,
            burst: 1000
        }
    );
    assert_eq!(
        admit(&conn, &keys, &limits, 1000, "").await,
        AdmitReply::Admitted
    );
}

#[tokio::test]
async fn keys_are_hash_tagged_and_stamped_with_the_server_clock() {
    let Some(server) = RedisServer::start_or_skip("keys_are_hash_tagged") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "bedrock/us.anthropic.claude-sonnet-4:0");
    let limits = SharedLimits {
        requests: slow(10),
        tokens: slow(10_000),
        max_concurrent: Some(4),
        ..SharedLimits::default()
    };
    let mut manager = conn.link();
    let before: (u64, u64) = redis::cmd("TIME").query_async(&mut manager).await.unwrap();
    assert_eq!(
        admit(&conn, &keys, &limits, 500, "lease-1").await,
        AdmitReply::Admitted
    );
    let after: (u64, u64) = redis::cmd("TIME").query_async(&mut manager).await.unwrap();

    let mut found: Vec<String> = manager.keys("palisade:*").await.unwrap();
    found.sort();
    assert_eq!(
        found,
        [
            "palisade:{bedrock/us.anthropic.claude-sonnet-4:0}:leases",
            "palisade:{bedrock/us.anthropic.claude-sonnet-4:0}:rate",
        ]
    );
    for key in &found {
        assert_eq!(
            cluster_hash_tag(key),
            "bedrock/us.anthropic.claude-sonnet-4:0"
        );
    }
    // The same slot, as the server computes it.
    let slot = |key: &str| {
        let key = key.to_owned();
        let mut manager = conn.link();
        async move {
            redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query_async::<i64>(&mut manager)
                .await
        }
    };
    if let Ok(first) = slot(&found[0]).await {
        for key in &found[1..] {
            assert_eq!(slot(key).await.unwrap(), first, "{key}");
        }
    }

    // The bucket's timestamp is the server's TIME, between the two reads.
    let micros = |(s, us): (u64, u64)| s * 1_000_000 + us;
    let state: String = manager.get(&keys.rate).await.unwrap();
    let fields: Vec<&str> = state.split(' ').collect();
    let [requests, level, stamp] = fields.as_slice() else {
        panic!("not a bucket: {state}");
    };
    assert_eq!(requests.parse::<f64>().unwrap().round(), 1.0);
    assert_eq!(level.parse::<f64>().unwrap().round(), 500.0);
    let stamp: u64 = stamp.parse().unwrap();
    assert!(
        micros(before) <= stamp && stamp <= micros(after),
        "{before:?} {stamp} {after:?}"
    );

    // Every key expires on its own: an idle limit leaves nothing behind.
    for key in &found {
        let ttl: i64 = manager.pttl(key).await.unwrap();
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}

#[tokio::test]
async fn settle_refunds_the_unused_part_and_charges_overruns_as_debt() {
    let Some(server) = RedisServer::start_or_skip("settle_refunds_and_charges") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "settle");
    let limits = SharedLimits {
        tokens: slow(1000),
        max_concurrent: Some(10),
        ..SharedLimits::default()
    };
    assert_eq!(
        admit(&conn, &keys, &limits, 1000, "l1").await,
        AdmitReply::Admitted
    );
    // Used 400 of 1000: 600 come back, and the lease ends.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::combined(600),
        TokenCounts::ZERO,
        "l1",
    )
    .await
    .unwrap();
    assert_eq!(
        (
            settled.tokens.refunded,
            settled.tokens.charged,
            settled.lease_removed
        ),
        (600, 0, true)
    );
    assert_eq!(
        admit(&conn, &keys, &limits, 600, "l2").await,
        AdmitReply::Admitted
    );
    // Used 900 of 600: 300 of debt, so even 1 token no longer fits.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::ZERO,
        TokenCounts::combined(300),
        "l2",
    )
    .await
    .unwrap();
    assert_eq!((settled.tokens.refunded, settled.tokens.charged), (0, 300));
    assert!(matches!(
        admit(&conn, &keys, &limits, 1, "l3").await,
        AdmitReply::Refused {
            by: Refusal::Tokens,
            ..
        }
    ));
    // A refund larger than what the bucket holds cannot make it fuller than full.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::combined(5000),
        TokenCounts::ZERO,
        "",
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 1300);
    assert_eq!(
        admit(&conn, &keys, &limits, 1000, "l4").await,
        AdmitReply::Admitted
    );
    assert!(matches!(
        admit(&conn, &keys, &limits, 1, "l5").await,
        AdmitReply::Refused { .. }
    ));
}

#[tokio::test]
async fn an_unrenewed_lease_expires_and_its_slot_comes_back() {
    let Some(server) = RedisServer::start_or_skip("an_unrenewed_lease_expires") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "leases");
    let limits = SharedLimits {
        max_concurrent: Some(2),
        ..SharedLimits::default()
    };
    let short = Duration::from_millis(150);
    let held = scripts::admit(&conn, &keys, &limits, TokenCounts::ZERO, "kept", TTL)
        .await
        .unwrap();
    assert_eq!(held, AdmitReply::Admitted);
    let lost = scripts::admit(&conn, &keys, &limits, TokenCounts::ZERO, "dies", short)
        .await
        .unwrap();
    assert_eq!(lost, AdmitReply::Admitted);
    match admit(&conn, &keys, &limits, 0, "third").await {
        AdmitReply::Refused {
            by: Refusal::Concurrency,
            retry_after,
        } => assert!(
            retry_after <= short,
            "the oldest lease bounds the wait: {retry_after:?}"
        ),
        other => panic!("expected a concurrency refusal, got {other:?}"),
    }
    // Only the kept lease is renewed; the other one's holder "crashed".
    let mut admitted = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let lost = scripts::renew(&conn, &keys, &["kept".into()], TTL)
            .await
            .unwrap();
        assert!(lost.is_empty(), "{lost:?}");
        if admit(&conn, &keys, &limits, 0, "third").await == AdmitReply::Admitted {
            admitted = true;
            break;
        }
    }
    assert!(admitted, "the expired lease's slot never came back");
    // Renewing it late does not bring it back (its slot was handed out).
    let lost = scripts::renew(&conn, &keys, &["dies".into(), "kept".into()], TTL)
        .await
        .unwrap();
    assert_eq!(lost, ["dies"]);
    // Settling a lease removes it; settling it again finds nothing.
    let first = scripts::settle(
        &conn,
        &keys,
        &SharedLimits::default(),
        TokenCounts::ZERO,
        TokenCounts::ZERO,
        "third",
    )
    .await
    .unwrap();
    let again = scripts::settle(
        &conn,
        &keys,
        &SharedLimits::default(),
        TokenCounts::ZERO,
        TokenCounts::ZERO,
        "third",
    )
    .await
    .unwrap();
    assert!(first.lease_removed && !again.lease_removed);
}

#[tokio::test]
async fn scripts_are_loaded_again_after_a_flush() {
    let Some(server) = RedisServer::start_or_skip("scripts_are_loaded_again_after_a_flush") else {
        return;
    };
    let conn = connect(&server).await;
    scripts::preload(&conn).await.unwrap();
    let keys = LimitKeys::new("palisade", "noscript");
    let limits = SharedLimits {
        requests: slow(5),
        ..SharedLimits::default()
    };
    assert_eq!(
        admit(&conn, &keys, &limits, 0, "").await,
        AdmitReply::Admitted
    );
    let mut manager = conn.link();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut manager)
        .await
        .unwrap();
    assert_eq!(
        admit(&conn, &keys, &limits, 0, "").await,
        AdmitReply::Admitted
    );
    assert_eq!(conn.stats().unexpected_replies, 0);
}

#[tokio::test]
async fn a_foreign_value_under_a_key_is_an_unexpected_reply() {
    let Some(server) = RedisServer::start_or_skip("a_foreign_value_under_a_key") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "foreign");
    let mut manager = conn.link();
    let _: () = manager.set(&keys.rate, "not a bucket").await.unwrap();
    let limits = SharedLimits {
        requests: slow(5),
        ..SharedLimits::default()
    };
    let err = scripts::admit(&conn, &keys, &limits, TokenCounts::ZERO, "", TTL)
        .await
        .unwrap_err();
    assert!(!err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("does not hold a bucket"), "{err}");
    assert!(conn.is_available());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_never_overdraw_a_limit() {
    let Some(server) = RedisServer::start_or_skip("concurrent_callers_never_overdraw") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "race");
    let limits = SharedLimits {
        requests: slow(100),
        tokens: slow(1_000),
        max_concurrent: Some(1_000),
        ..SharedLimits::default()
    };
    // 32 tasks × 20 attempts of 7 tokens each: the request budget (100) and
    // the token budget (1000 / 7 = 142) race; requests bind.
    let mut tasks = Vec::new();
    for task in 0..32 {
        let (conn, keys) = (conn.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0;
            for attempt in 0..20 {
                let lease = format!("{task}-{attempt}");
                if admit(&conn, &keys, &limits, 7, &lease).await == AdmitReply::Admitted {
                    admitted += 1;
                }
            }
            admitted
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 100);
    let mut manager = conn.link();
    let leases: u64 = manager.zcard(&keys.leases).await.unwrap();
    assert_eq!(leases, 100, "one lease per admission, none for refusals");
}

/// The state of a limit's rate key: its fields as numbers.
async fn state(conn: &RedisConnection, keys: &LimitKeys) -> Vec<f64> {
    let mut link = conn.link();
    let state: String = link.get(&keys.rate).await.unwrap();
    state
        .split(' ')
        .map(|f| f.parse::<f64>().unwrap_or_else(|_| panic!("{state}")))
        .collect()
}

/// The server's clock, in µs.
async fn server_now_us(conn: &RedisConnection) -> u64 {
    let mut link = conn.link();
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut link).await.unwrap();
    s * 1_000_000 + us
}

/// Every token dimension limited, none refilling during a test.
fn every_dimension(burst: u64) -> SharedLimits {
    SharedLimits {
        requests: slow(10),
        tokens: slow(burst),
        input_tokens: slow(burst),
        output_tokens: slow(burst),
        tokens_per_day: BucketRate::new(1, Duration::from_secs(86_400), burst),
        max_concurrent: None,
    }
}

#[tokio::test]
async fn a_key_in_the_old_three_field_form_is_read_and_upgraded() {
    let Some(server) = RedisServer::start_or_skip("a_key_in_the_old_three_field_form") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "upgrade");
    // What an instance from before the new dimensions left: 2 requests and
    // 700 tokens used, as "<requests> <tokens> <updated µs>".
    let mut link = conn.link();
    let written = format!("2 700 {}", server_now_us(&conn).await);
    let _: () = link.set(&keys.rate, &written).await.unwrap();
    let limits = every_dimension(1_000);
    let counts = TokenCounts {
        tokens: 300,
        input: 200,
        output: 100,
    };
    // Its levels count: 300 more tokens fit, 301 do not.
    assert!(matches!(
        scripts::admit(&conn, &keys, &limits, TokenCounts::combined(301), "", TTL)
            .await
            .unwrap(),
        AdmitReply::Refused {
            by: Refusal::Tokens,
            ..
        }
    ));
    assert_eq!(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
        AdmitReply::Admitted
    );
    // Written back in the full form, the new buckets holding this admission.
    let fields = state(&conn, &keys).await;
    let levels: Vec<f64> = fields[..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [3.0, 1_000.0, 200.0, 100.0, 300.0], "{fields:?}");

    // A settle reads the old form too (another key, left by an old instance).
    let old = LimitKeys::new("palisade", "upgrade-settle");
    let written = format!("1 900 {}", server_now_us(&conn).await);
    let _: () = link.set(&old.rate, &written).await.unwrap();
    let settled = scripts::settle(
        &conn,
        &old,
        &limits,
        TokenCounts::combined(400),
        TokenCounts::ZERO,
        "",
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 400);
    // The per-day bucket held nothing in the old form: nothing to give back.
    assert_eq!(settled.tokens_per_day.refunded, 0);
    let fields = state(&conn, &old).await;
    assert_eq!(fields.len(), 3, "still the old form: {fields:?}");
    assert_eq!(fields[1].round(), 500.0, "{fields:?}");
}

#[tokio::test]
async fn limits_without_the_new_dimensions_keep_the_old_form() {
    let Some(server) = RedisServer::start_or_skip("limits_without_the_new_dimensions") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "old-form");
    let limits = SharedLimits {
        requests: slow(10),
        tokens: slow(1_000),
        ..SharedLimits::default()
    };
    admit(&conn, &keys, &limits, 500, "").await;
    // Instances from before the new dimensions read exactly this form.
    let fields = state(&conn, &keys).await;
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert_eq!(
        (fields[0].round(), fields[1].round()),
        (1.0, 500.0),
        "{fields:?}"
    );
    // Once a new dimension holds something, the full form.
    let with_output = SharedLimits {
        output_tokens: slow(1_000),
        ..limits
    };
    let counts = TokenCounts {
        output: 50,
        ..TokenCounts::combined(100)
    };
    scripts::admit(&conn, &keys, &with_output, counts, "", TTL)
        .await
        .unwrap();
    let fields = state(&conn, &keys).await;
    assert_eq!(fields.len(), 6, "{fields:?}");
    assert_eq!(fields[3].round(), 50.0, "{fields:?}");
    // Given back, the output bucket is empty and the old form returns.
    scripts::settle(
        &conn,
        &keys,
        &with_output,
        TokenCounts {
            output: 50,
            ..TokenCounts::ZERO
        },
        TokenCounts::ZERO,
        "",
    )
    .await
    .unwrap();
    assert_eq!(state(&conn, &keys).await.len(), 3);
}

#[tokio::test]
async fn the_rate_key_lives_until_every_bucket_is_empty() {
    let Some(server) = RedisServer::start_or_skip("the_rate_key_lives_until_every_bucket") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "ttl");
    // Requests empty within a second; 600 output tokens at 10 a second
    // take a minute; the combined tokens 6 s.
    let limits = SharedLimits {
        requests: BucketRate::new(10, Duration::from_secs(1), 10),
        tokens: BucketRate::new(100, Duration::from_secs(1), 1_000),
        output_tokens: BucketRate::new(10, Duration::from_secs(1), 1_000),
        ..SharedLimits::default()
    };
    let counts = TokenCounts {
        tokens: 600,
        input: 0,
        output: 600,
    };
    assert_eq!(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
        AdmitReply::Admitted
    );
    let mut link = conn.link();
    let ttl: i64 = link.pttl(&keys.rate).await.unwrap();
    assert!((55_000..=60_001).contains(&ttl), "{ttl} ms");
    // Refunded to 60 output tokens, the combined tokens (6 s) bind the TTL.
    scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts {
            output: 540,
            ..TokenCounts::ZERO
        },
        TokenCounts::ZERO,
        "",
    )
    .await
    .unwrap();
    let ttl: i64 = link.pttl(&keys.rate).await.unwrap();
    assert!((5_000..=6_001).contains(&ttl), "{ttl} ms");
}

#[tokio::test]
async fn each_dimension_refuses_alone_and_takes_nothing_from_the_others() {
    let Some(server) = RedisServer::start_or_skip("each_dimension_refuses_alone") else {
        return;
    };
    let conn = connect(&server).await;
    let cases = [
        (Refusal::Tokens, TokenCounts::combined(101)),
        (
            Refusal::InputTokens,
            TokenCounts {
                input: 101,
                ..TokenCounts::ZERO
            },
        ),
        (
            Refusal::OutputTokens,
            TokenCounts {
                output: 101,
                ..TokenCounts::ZERO
            },
        ),
        (Refusal::TokensPerDay, TokenCounts::combined(101)),
    ];
    for (by, too_much) in cases {
        let keys = LimitKeys::new("palisade", &format!("alone-{by:?}"));
        let mut limits = every_dimension(1_000);
        let tight = slow(100);
        match by {
            Refusal::Tokens => limits.tokens = tight,
            Refusal::InputTokens => limits.input_tokens = tight,
            Refusal::OutputTokens => limits.output_tokens = tight,
            _ => limits.tokens_per_day = BucketRate::new(1, Duration::from_secs(86_400), 100),
        }
        limits.max_concurrent = Some(3);
        // Beyond the burst: never, naming the dimension and its burst.
        assert_eq!(
            scripts::admit(&conn, &keys, &limits, too_much, "x", TTL)
                .await
                .unwrap(),
            AdmitReply::Never { by, burst: 100 }
        );
        let half = TokenCounts {
            tokens: 60,
            input: 60,
            output: 60,
        };
        assert_eq!(
            scripts::admit(&conn, &keys, &limits, half, "a", TTL)
                .await
                .unwrap(),
            AdmitReply::Admitted
        );
        match scripts::admit(&conn, &keys, &limits, half, "b", TTL)
            .await
            .unwrap()
        {
            AdmitReply::Refused { by: refused, .. } => assert_eq!(refused, by),
            other => panic!("{by:?}: expected a refusal, got {other:?}"),
        }
        // Nothing written by the refusals: one request, 60 of each, one lease.
        let fields = state(&conn, &keys).await;
        let levels: Vec<f64> = fields[..5].iter().map(|l| l.round()).collect();
        assert_eq!(levels, [1.0, 60.0, 60.0, 60.0, 60.0], "{by:?}: {fields:?}");
        let mut link = conn.link();
        let leases: u64 = link.zcard(&keys.leases).await.unwrap();
        assert_eq!(leases, 1, "{by:?}");
    }
}
