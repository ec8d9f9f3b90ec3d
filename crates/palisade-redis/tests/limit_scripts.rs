//! The limit scripts against a real redis-server: all-or-nothing admission,
//! the server's clock, hash-tagged keys, refunds and debt, lease expiry,
//! NOSCRIPT recovery, and atomicity under concurrent callers.

use std::time::Duration;

use palisade_limit::TokenCounts;
use palisade_redis::keys::{LimitKeys, cluster_hash_tag};
use palisade_redis::limit::RefundStamp;
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
        assert!(matches!(
            admit(&conn, &keys, &limits, 0, "").await,
            AdmitReply::Admitted { .. }
        ));
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
    assert!(matches!(
        admit(&conn, &keys, &limits, 80, "a").await,
        AdmitReply::Admitted { .. }
    ));
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
    assert!(matches!(
        admit(&conn, &keys, &limits, 10, "c").await,
        AdmitReply::Admitted { .. }
    ));
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
    assert!(matches!(
        admit(&conn, &keys, &limits, 1000, "").await,
        AdmitReply::Admitted { .. }
    ));
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
    assert!(matches!(
        admit(&conn, &keys, &limits, 500, "lease-1").await,
        AdmitReply::Admitted { .. }
    ));
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
    let fields = state(&conn, &keys).await;
    let [requests, level, _, _, _, updated, born, added, ..] = fields[..] else {
        panic!("not a bucket: {fields:?}");
    };
    assert_eq!(requests.round(), 1.0);
    assert_eq!(level.round(), 500.0);
    assert_eq!(added, 500.0);
    // Updated and born (a new key) on the server's clock, exact.
    for stamp in [updated, born] {
        assert_eq!(stamp.fract(), 0.0, "{fields:?}");
        let stamp = stamp as u64;
        assert!(
            micros(before) <= stamp && stamp <= micros(after),
            "{before:?} {stamp} {after:?}"
        );
    }

    // Every key expires on its own: an idle limit leaves nothing behind.
    for key in &found {
        let ttl: i64 = manager.pttl(key).await.unwrap();
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}

/// The refund stamp of an admission that must have been admitted.
fn stamp(reply: AdmitReply) -> RefundStamp {
    match reply {
        AdmitReply::Admitted { stamp } => stamp,
        other => panic!("expected an admission, got {other:?}"),
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
    let l1 = stamp(admit(&conn, &keys, &limits, 1000, "l1").await);
    // Used 400 of 1000: 600 come back, and the lease ends.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::combined(600),
        TokenCounts::ZERO,
        "l1",
        Some(&l1),
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
    let l2 = stamp(admit(&conn, &keys, &limits, 600, "l2").await);
    // Used 900 of 600: 300 of debt, so even 1 token no longer fits.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::ZERO,
        TokenCounts::combined(300),
        "l2",
        Some(&l2),
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
    // Without a stamp nothing comes back, however much is asked.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::combined(5000),
        TokenCounts::ZERO,
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 0);
    // With one, no more than what is still in the bucket up to that
    // admission: l1's 400 (the 900 added since lie behind it).
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts::combined(5000),
        TokenCounts::ZERO,
        "",
        Some(&l1),
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 400);
    assert!(matches!(
        admit(&conn, &keys, &limits, 100, "l4").await,
        AdmitReply::Admitted { .. }
    ));
    assert!(matches!(
        admit(&conn, &keys, &limits, 1, "l5").await,
        AdmitReply::Refused { .. }
    ));
}

#[tokio::test]
async fn a_refund_gives_back_only_what_is_still_in_the_bucket() {
    let Some(server) = RedisServer::start_or_skip("a_refund_gives_back_only_what_is_still") else {
        return;
    };
    let conn = connect(&server).await;
    let refund = TokenCounts::combined;

    // Nothing drains (1 per hour): settled in any order, each reservation
    // is still whole in the bucket and its unused part comes back exactly.
    let keys = LimitKeys::new("palisade", "exact");
    let limits = SharedLimits {
        tokens: slow(300),
        ..SharedLimits::default()
    };
    let a = stamp(admit(&conn, &keys, &limits, 100, "").await);
    let b = stamp(admit(&conn, &keys, &limits, 100, "").await);
    for (stamp, back) in [(&a, 60), (&b, 100)] {
        let settled = scripts::settle(
            &conn,
            &keys,
            &limits,
            refund(back),
            TokenCounts::ZERO,
            "",
            Some(stamp),
        )
        .await
        .unwrap();
        assert_eq!(settled.tokens.refunded, back);
    }
    assert_eq!(state(&conn, &keys).await[1].round(), 40.0);

    // 100 per second: A's reservation has drained out after 1.1 s and B's
    // fills the bucket; A's refund would come out of B's.
    let keys = LimitKeys::new("palisade", "late");
    let limits = SharedLimits {
        tokens: BucketRate::new(100, Duration::from_secs(1), 100),
        ..SharedLimits::default()
    };
    let a = stamp(admit(&conn, &keys, &limits, 100, "").await);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stamp(admit(&conn, &keys, &limits, 100, "").await);
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        refund(100),
        TokenCounts::ZERO,
        "",
        Some(&a),
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 0, "A's tokens drained long ago");
    assert!(matches!(
        admit(&conn, &keys, &limits, 50, "").await,
        AdmitReply::Refused {
            by: Refusal::Tokens,
            ..
        }
    ));

    // A key that expired and was made again is another birth: a stamp from
    // before refunds nothing, whatever the new key holds.
    let keys = LimitKeys::new("palisade", "reborn");
    let a = stamp(admit(&conn, &keys, &limits, 10, "").await);
    let mut link = conn.link();
    let _: () = link.del(&keys.rate).await.unwrap();
    stamp(admit(&conn, &keys, &limits, 100, "").await);
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        refund(10),
        TokenCounts::ZERO,
        "",
        Some(&a),
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 0);
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
    assert!(matches!(held, AdmitReply::Admitted { .. }));
    let lost = scripts::admit(&conn, &keys, &limits, TokenCounts::ZERO, "dies", short)
        .await
        .unwrap();
    assert!(matches!(lost, AdmitReply::Admitted { .. }));
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
        if matches!(
            admit(&conn, &keys, &limits, 0, "third").await,
            AdmitReply::Admitted { .. }
        ) {
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
        None,
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
        None,
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
    assert!(matches!(
        admit(&conn, &keys, &limits, 0, "").await,
        AdmitReply::Admitted { .. }
    ));
    let mut manager = conn.link();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut manager)
        .await
        .unwrap();
    assert!(matches!(
        admit(&conn, &keys, &limits, 0, "").await,
        AdmitReply::Admitted { .. }
    ));
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
                if matches!(
                    admit(&conn, &keys, &limits, 7, &lease).await,
                    AdmitReply::Admitted { .. }
                ) {
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

/// The state of a limit's rate key: its fields as numbers. The scripts
/// write a tag byte (1) and eleven little-endian doubles; older versions
/// wrote decimal text, which is read too.
async fn state(conn: &RedisConnection, keys: &LimitKeys) -> Vec<f64> {
    let mut link = conn.link();
    let state: Vec<u8> = link.get(&keys.rate).await.unwrap();
    if let [1, doubles @ ..] = state.as_slice()
        && doubles.len() == 11 * 8
    {
        return doubles
            .chunks_exact(8)
            .map(|d| f64::from_le_bytes(d.try_into().unwrap()))
            .collect();
    }
    let text = String::from_utf8(state).unwrap();
    text.split(' ')
        .map(|f| f.parse::<f64>().unwrap_or_else(|_| panic!("{text}")))
        .collect()
}

/// The raw bytes of a limit's rate key.
async fn raw_state(conn: &RedisConnection, keys: &LimitKeys) -> Vec<u8> {
    let mut link = conn.link();
    link.get(&keys.rate).await.unwrap()
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
    let admitted = stamp(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
    );
    // Written back in the stamped form, the new buckets holding this
    // admission; a new birth, in which only this admission was added.
    let fields = state(&conn, &keys).await;
    assert_eq!(fields.len(), 11, "{fields:?}");
    let levels: Vec<f64> = fields[..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [3.0, 1_000.0, 200.0, 100.0, 300.0], "{fields:?}");
    assert_eq!(fields[7..], [300.0, 200.0, 100.0, 300.0], "{fields:?}");
    assert_eq!(admitted.born() as f64, fields[6]);
    assert_eq!(admitted.added(), [300, 200, 100, 300]);

    // A settle reads the old form too (another key, left by an old
    // instance). No stamp can be of its birth: nothing is refunded from it
    // (its leases were an old instance's), debt is charged.
    let old = LimitKeys::new("palisade", "upgrade-settle");
    let written = format!("1 900 {}", server_now_us(&conn).await);
    let _: () = link.set(&old.rate, &written).await.unwrap();
    let settled = scripts::settle(
        &conn,
        &old,
        &limits,
        TokenCounts::combined(400),
        TokenCounts {
            output: 50,
            ..TokenCounts::ZERO
        },
        "",
        Some(&admitted),
    )
    .await
    .unwrap();
    assert_eq!(settled.tokens.refunded, 0);
    assert_eq!(settled.output_tokens.charged, 50);
    let fields = state(&conn, &old).await;
    assert_eq!(fields.len(), 11, "{fields:?}");
    assert_eq!(
        (fields[1].round(), fields[3].round()),
        (900.0, 50.0),
        "{fields:?}"
    );
}

#[tokio::test]
async fn a_key_in_the_six_field_form_is_read_and_stamped() {
    let Some(server) = RedisServer::start_or_skip("a_key_in_the_six_field_form") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "six-fields");
    // What an instance from before refund stamps left.
    let mut link = conn.link();
    let written = format!("1 500 0 40 500 {}", server_now_us(&conn).await);
    let _: () = link.set(&keys.rate, &written).await.unwrap();
    let limits = every_dimension(1_000);
    let counts = TokenCounts {
        tokens: 100,
        input: 60,
        output: 40,
    };
    let admitted = stamp(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
    );
    let fields = state(&conn, &keys).await;
    let levels: Vec<f64> = fields[..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [2.0, 600.0, 60.0, 80.0, 600.0], "{fields:?}");
    assert_eq!(admitted.added(), [100, 60, 40, 100]);
    // This admission, made in the new birth, is refunded in full.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        counts,
        TokenCounts::ZERO,
        "",
        Some(&admitted),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            settled.tokens.refunded,
            settled.input_tokens.refunded,
            settled.output_tokens.refunded,
            settled.tokens_per_day.refunded
        ),
        (100, 60, 40, 100)
    );
    let fields = state(&conn, &keys).await;
    let levels: Vec<f64> = fields[1..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [500.0, 0.0, 40.0, 500.0], "{fields:?}");
}

#[tokio::test]
async fn a_key_in_the_stamped_text_form_keeps_its_birth_and_refunds() {
    let Some(server) = RedisServer::start_or_skip("a_key_in_the_stamped_text_form") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = LimitKeys::new("palisade", "stamped-text");
    // What the previous version left: its admission of 300 tokens (200
    // input, 100 output), stamped with birth `born` and those counts, as
    // decimal text.
    let born = server_now_us(&conn).await;
    let written = format!("1 300 200 100 300 {born} {born} 300 200 100 300");
    let mut link = conn.link();
    let _: () = link.set(&keys.rate, &written).await.unwrap();
    let old_lease = RefundStamp::new(born as i64, [300, 200, 100, 300]);
    let limits = every_dimension(1_000);
    let counts = TokenCounts {
        tokens: 100,
        input: 60,
        output: 40,
    };
    let admitted = stamp(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
    );
    // Read with its birth and counts, written back in the binary form.
    assert_eq!(admitted.born(), born as i64);
    assert_eq!(admitted.added(), [400, 260, 140, 400]);
    let raw = raw_state(&conn, &keys).await;
    assert_eq!((raw.len(), raw[0]), (89, 1), "{raw:?}");
    let fields = state(&conn, &keys).await;
    let levels: Vec<f64> = fields[..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [2.0, 400.0, 260.0, 140.0, 400.0], "{fields:?}");
    assert_eq!(fields[6], born as f64);
    // The old version's lease, settled after the upgrade, still gets its
    // unused part back: its stamp is of the same birth.
    let settled = scripts::settle(
        &conn,
        &keys,
        &limits,
        TokenCounts {
            tokens: 250,
            input: 150,
            output: 50,
        },
        TokenCounts::ZERO,
        "",
        Some(&old_lease),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            settled.tokens.refunded,
            settled.input_tokens.refunded,
            settled.output_tokens.refunded,
            settled.tokens_per_day.refunded
        ),
        (250, 150, 50, 250)
    );
    let fields = state(&conn, &keys).await;
    let levels: Vec<f64> = fields[1..5].iter().map(|l| l.round()).collect();
    assert_eq!(levels, [150.0, 110.0, 90.0, 150.0], "{fields:?}");
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
    let admitted = stamp(
        scripts::admit(&conn, &keys, &limits, counts, "", TTL)
            .await
            .unwrap(),
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
        Some(&admitted),
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
        assert!(matches!(
            scripts::admit(&conn, &keys, &limits, half, "a", TTL)
                .await
                .unwrap(),
            AdmitReply::Admitted { .. }
        ));
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
