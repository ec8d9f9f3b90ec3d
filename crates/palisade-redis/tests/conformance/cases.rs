//! The cases every store must pass, and the runner that names the store and
//! the case on every line it prints.
//!
//! Limits are chosen so that nothing refills during a case (one unit an
//! hour), which makes every assertion a count: the same case holds on paused
//! tokio time and on a Redis server's wall clock. Only lease and probe
//! expiry need time to pass, and they are given margins of hundreds of
//! milliseconds either side.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use palisade_breaker::store::{ProbeGrant, Transition};
use palisade_breaker::{BreakerState, ISOLATED_RETRY_AFTER};
use palisade_core::{Priority, ProviderId};
use palisade_limit::{
    Cost, Lease, LimitKind, LimitStore, Limiter, LimiterConfig, Quota, Reservation, StoreError,
    StoreLimits, TokenCounts,
};
use palisade_redis::FailurePolicy;

use super::fixture::StoreFixture;

const HOUR: Duration = Duration::from_secs(3600);

type Case = for<'a> fn(&'a dyn StoreFixture) -> BoxFuture<'a, ()>;

/// Every case, by name. A new case goes here and runs against every store.
const CASES: &[(&str, Case)] = &[
    ("admission_and_refusal_per_limit", |f| {
        Box::pin(admission_and_refusal_per_limit(f))
    }),
    ("settle_refunds_and_charges_debt", |f| {
        Box::pin(settle_refunds_and_charges_debt(f))
    }),
    ("release_gives_back_the_refund", |f| {
        Box::pin(release_gives_back_the_refund(f))
    }),
    ("admission_and_refusal_per_dimension", |f| {
        Box::pin(admission_and_refusal_per_dimension(f))
    }),
    ("settle_refunds_and_charges_each_dimension", |f| {
        Box::pin(settle_refunds_and_charges_each_dimension(f))
    }),
    ("release_refunds_each_dimension", |f| {
        Box::pin(release_refunds_each_dimension(f))
    }),
    ("lease_expiry_and_renewal", |f| {
        Box::pin(lease_expiry_and_renewal(f))
    }),
    ("concurrency_cap_across_instances", |f| {
        Box::pin(concurrency_cap_across_instances(f))
    }),
    ("limiters_on_two_instances_share_one_quota", |f| {
        Box::pin(limiters_on_two_instances_share_one_quota(f))
    }),
    ("breaker_open_half_open_close_across_instances", |f| {
        Box::pin(breaker_open_half_open_close_across_instances(f))
    }),
    ("breaker_isolation_reset_and_later_deadline", |f| {
        Box::pin(breaker_isolation_reset_and_later_deadline(f))
    }),
    ("breaker_probe_of_a_crashed_instance_expires", |f| {
        Box::pin(breaker_probe_of_a_crashed_instance_expires(f))
    }),
    ("fail_open_decides_locally_then_recovers", |f| {
        Box::pin(fail_open_decides_locally_then_recovers(f))
    }),
    ("fail_closed_refuses_then_recovers", |f| {
        Box::pin(fail_closed_refuses_then_recovers(f))
    }),
];

/// Runs every case against `fixture`, printing one line per case (straight
/// to stderr, so it shows even when the test passes), and fails naming the
/// store and every failed case.
pub(crate) async fn run(fixture: &dyn StoreFixture) {
    let store = fixture.name();
    let mut failed = Vec::new();
    for (case, run_case) in CASES {
        let outcome = AssertUnwindSafe(run_case(fixture)).catch_unwind().await;
        // A case that failed with the store cut off must not leave it so.
        fixture.heal();
        let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
        let _ = writeln!(
            std::io::stderr(),
            "conformance[{store}] {case} ... {verdict}"
        );
        if outcome.is_err() {
            failed.push(*case);
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "conformance[{store}]: {} passed, {} failed",
        CASES.len() - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "conformance[{store}] failed: {failed:?}");
}

fn limits() -> StoreLimits {
    StoreLimits {
        requests: None,
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: None,
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

fn requests(burst: u64) -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per(1, HOUR).with_burst(burst)),
        ..limits()
    }
}

fn tokens(amount: u64) -> StoreLimits {
    StoreLimits {
        tokens: Some(Quota::per(amount, HOUR)),
        ..limits()
    }
}

fn concurrency(cap: u32, lease_ttl: Duration) -> StoreLimits {
    StoreLimits {
        max_concurrent: Some(cap),
        lease_ttl,
        ..limits()
    }
}

#[track_caller]
fn lease(answer: Result<Reservation, StoreError>) -> Lease {
    match answer {
        Ok(Reservation::Admitted(lease)) => lease,
        other => panic!("expected an admission, got {other:?}"),
    }
}

/// The binding limit of a refusal, and its retry-after.
#[track_caller]
fn refusal(answer: Result<Reservation, StoreError>) -> (LimitKind, Duration) {
    match answer {
        Ok(Reservation::NotBefore { limit, retry_after }) => (limit, retry_after),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn admission_and_refusal_per_limit(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;

    // Requests: the burst, then a refusal that says when one refills.
    let r = requests(3);
    for _ in 0..3 {
        lease(
            store
                .try_reserve("adm-requests", &r, TokenCounts::ZERO)
                .await,
        );
    }
    let (limit, retry_after) = refusal(
        store
            .try_reserve("adm-requests", &r, TokenCounts::ZERO)
            .await,
    );
    assert_eq!(limit, LimitKind::Requests);
    assert!(
        retry_after > Duration::ZERO && retry_after <= HOUR,
        "{retry_after:?}"
    );

    // Tokens: what fits is admitted, what does not is refused whole.
    let t = tokens(1_000);
    lease(
        store
            .try_reserve("adm-tokens", &t, TokenCounts::combined(600))
            .await,
    );
    let (limit, retry_after) = refusal(
        store
            .try_reserve("adm-tokens", &t, TokenCounts::combined(600))
            .await,
    );
    assert_eq!(limit, LimitKind::Tokens);
    assert!(
        retry_after > Duration::ZERO && retry_after <= HOUR,
        "{retry_after:?}"
    );
    lease(
        store
            .try_reserve("adm-tokens", &t, TokenCounts::combined(400))
            .await,
    );
    // More than the whole burst can never fit: an error, not a wait.
    assert!(matches!(
        store
            .try_reserve("adm-tokens-never", &t, TokenCounts::combined(1_001))
            .await,
        Err(StoreError::Protocol { .. })
    ));

    // Concurrency: the cap, then a slot freed by a release.
    let c = concurrency(2, Duration::from_secs(30));
    let first = lease(store.try_reserve("adm-conc", &c, TokenCounts::ZERO).await);
    lease(store.try_reserve("adm-conc", &c, TokenCounts::ZERO).await);
    let (limit, _) = refusal(store.try_reserve("adm-conc", &c, TokenCounts::ZERO).await);
    assert_eq!(limit, LimitKind::Concurrency);
    store
        .release("adm-conc", &c, first, TokenCounts::ZERO)
        .await
        .unwrap();
    lease(store.try_reserve("adm-conc", &c, TokenCounts::ZERO).await);

    // All or nothing: a refusal by tokens takes no request.
    let both = StoreLimits {
        requests: Some(Quota::per(1, HOUR).with_burst(2)),
        ..tokens(100)
    };
    lease(
        store
            .try_reserve("adm-both", &both, TokenCounts::combined(100))
            .await,
    );
    let (limit, _) = refusal(
        store
            .try_reserve("adm-both", &both, TokenCounts::combined(50))
            .await,
    );
    assert_eq!(limit, LimitKind::Tokens);
    lease(
        store
            .try_reserve("adm-both", &both, TokenCounts::ZERO)
            .await,
    );
    let (limit, _) = refusal(
        store
            .try_reserve("adm-both", &both, TokenCounts::ZERO)
            .await,
    );
    assert_eq!(limit, LimitKind::Requests);
}

async fn settle_refunds_and_charges_debt(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    let t = tokens(1_000);

    let whole = lease(
        store
            .try_reserve("settle-refund", &t, TokenCounts::combined(1_000))
            .await,
    );
    let settled = store
        .settle("settle-refund", &t, whole, TokenCounts::combined(300))
        .await
        .unwrap();
    assert_eq!((settled.refunded, settled.debt), (700, 0));
    lease(
        store
            .try_reserve("settle-refund", &t, TokenCounts::combined(700))
            .await,
    );
    refusal(
        store
            .try_reserve("settle-refund", &t, TokenCounts::combined(1))
            .await,
    );

    let half = lease(
        store
            .try_reserve("settle-debt", &t, TokenCounts::combined(500))
            .await,
    );
    let settled = store
        .settle("settle-debt", &t, half, TokenCounts::combined(800))
        .await
        .unwrap();
    assert_eq!((settled.refunded, settled.debt), (0, 300));
    // 800 are spent now, not 500.
    let (limit, _) = refusal(
        store
            .try_reserve("settle-debt", &t, TokenCounts::combined(201))
            .await,
    );
    assert_eq!(limit, LimitKind::Tokens);
    lease(
        store
            .try_reserve("settle-debt", &t, TokenCounts::combined(200))
            .await,
    );
}

async fn release_gives_back_the_refund(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    let t = StoreLimits {
        max_concurrent: Some(1),
        ..tokens(1_000)
    };
    let whole = lease(
        store
            .try_reserve("release", &t, TokenCounts::combined(1_000))
            .await,
    );
    store
        .release("release", &t, whole, TokenCounts::combined(400))
        .await
        .unwrap();
    // The slot is free again, and 400 tokens (not 1,000) came back.
    let again = lease(
        store
            .try_reserve("release", &t, TokenCounts::combined(400))
            .await,
    );
    store
        .release("release", &t, again, TokenCounts::ZERO)
        .await
        .unwrap();
    let (limit, _) = refusal(
        store
            .try_reserve("release", &t, TokenCounts::combined(1))
            .await,
    );
    assert_eq!(limit, LimitKind::Tokens);
}

/// The token dimensions, each with what a cost of `n` in it alone is.
const DIMENSIONS: [LimitKind; 4] = [
    LimitKind::Tokens,
    LimitKind::InputTokens,
    LimitKind::OutputTokens,
    LimitKind::TokensPerDay,
];

/// `n` against dimension `kind` only (the combined count for the tokens and
/// per-day dimensions, which both count it).
fn counts_in(kind: LimitKind, n: u64) -> TokenCounts {
    match kind {
        LimitKind::InputTokens => TokenCounts {
            input: n,
            ..TokenCounts::ZERO
        },
        LimitKind::OutputTokens => TokenCounts {
            output: n,
            ..TokenCounts::ZERO
        },
        _ => TokenCounts::combined(n),
    }
}

/// Every token dimension limited, none refilling during a case: `tight`
/// gets `tight_burst`, the others `burst`. The per-day quota refills one
/// token a day, the others one an hour.
fn every_dimension(tight: Option<LimitKind>, tight_burst: u64, burst: u64) -> StoreLimits {
    let size = |kind| {
        if Some(kind) == tight {
            tight_burst
        } else {
            burst
        }
    };
    StoreLimits {
        tokens: Some(Quota::per(1, HOUR).with_burst(size(LimitKind::Tokens))),
        input_tokens: Some(Quota::per(1, HOUR).with_burst(size(LimitKind::InputTokens))),
        output_tokens: Some(Quota::per(1, HOUR).with_burst(size(LimitKind::OutputTokens))),
        tokens_per_day: Some(Quota::per_day(1).with_burst(size(LimitKind::TokensPerDay))),
        ..limits()
    }
}

async fn admission_and_refusal_per_dimension(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    for kind in DIMENSIONS {
        let key = format!("dim-{kind}");
        // `kind` holds 100, every other dimension 1,000; two requests and
        // two slots in all.
        let limits = StoreLimits {
            requests: Some(Quota::per(1, HOUR).with_burst(2)),
            max_concurrent: Some(2),
            ..every_dimension(Some(kind), 100, 1_000)
        };
        let every = |n| TokenCounts {
            tokens: n,
            input: n,
            output: n,
        };
        lease(store.try_reserve(&key, &limits, every(60)).await);
        // 60 more fit everywhere but in `kind`: refused, naming it.
        let (limit, retry_after) = refusal(store.try_reserve(&key, &limits, every(60)).await);
        assert_eq!(limit, kind, "{key}");
        assert!(retry_after > Duration::ZERO, "{key}: {retry_after:?}");
        // The refusal took nothing from any limit: exactly what is left of
        // each (40 of `kind`, 940 of the others, the last request and slot)
        // is still admitted. The per-day and tokens dimensions both count
        // the combined tokens, so each takes what the tighter one leaves.
        let rest = |d: LimitKind| if d == kind { 40 } else { 940 };
        let combined = rest(LimitKind::Tokens).min(rest(LimitKind::TokensPerDay));
        let exact = TokenCounts {
            tokens: combined,
            input: rest(LimitKind::InputTokens),
            output: rest(LimitKind::OutputTokens),
        };
        lease(store.try_reserve(&key, &limits, exact).await);
        // `kind` is full now: one more of it alone is refused.
        refusal(store.try_reserve(&key, &limits, counts_in(kind, 1)).await);
        // More than the whole burst of `kind` can never fit: an error that
        // names the dimension, not a wait.
        match store
            .try_reserve(&format!("{key}-never"), &limits, counts_in(kind, 101))
            .await
        {
            Err(err @ StoreError::Protocol { .. }) => assert!(
                err.to_string()
                    .contains(&format!("exceeds the whole {kind} capacity of 100")),
                "{err}"
            ),
            other => panic!("{key}: expected an error, got {other:?}"),
        }
    }
}

async fn settle_refunds_and_charges_each_dimension(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    // Each dimension alone: a refund comes back, an overrun is debt.
    for kind in DIMENSIONS {
        let only = |burst| {
            let all = every_dimension(None, 0, burst);
            StoreLimits {
                tokens: all.tokens.filter(|_| kind == LimitKind::Tokens),
                input_tokens: all.input_tokens.filter(|_| kind == LimitKind::InputTokens),
                output_tokens: all
                    .output_tokens
                    .filter(|_| kind == LimitKind::OutputTokens),
                tokens_per_day: all
                    .tokens_per_day
                    .filter(|_| kind == LimitKind::TokensPerDay),
                ..limits()
            }
        };
        let limits = only(1_000);
        // The same count in every field, so every store's `Settled` (the
        // first limited dimension's) speaks of this one.
        let every = |n| TokenCounts {
            tokens: n,
            input: n,
            output: n,
        };
        let key = format!("settle-{kind}");
        let held = lease(store.try_reserve(&key, &limits, every(600)).await);
        let settled = store.settle(&key, &limits, held, every(200)).await.unwrap();
        assert_eq!((settled.refunded, settled.debt), (400, 0), "{key}");
        // 200 spent: 800 fit, not 801.
        let (limit, _) = refusal(store.try_reserve(&key, &limits, every(801)).await);
        assert_eq!(limit, kind, "{key}");
        lease(store.try_reserve(&key, &limits, every(800)).await);

        let key = format!("debt-{kind}");
        let held = lease(store.try_reserve(&key, &limits, every(500)).await);
        let settled = store.settle(&key, &limits, held, every(800)).await.unwrap();
        assert_eq!((settled.refunded, settled.debt), (0, 300), "{key}");
        let (limit, _) = refusal(store.try_reserve(&key, &limits, every(201)).await);
        assert_eq!(limit, kind, "{key}");
        lease(store.try_reserve(&key, &limits, every(200)).await);
    }

    // One settle refunding some dimensions and charging another. The
    // per-day bucket is larger, so the tokens bucket binds the combined count.
    let limits = StoreLimits {
        tokens_per_day: Some(Quota::per_day(1).with_burst(2_000)),
        ..every_dimension(None, 0, 1_000)
    };
    let reserved = TokenCounts {
        tokens: 1_000,
        input: 600,
        output: 400,
    };
    let actual = TokenCounts {
        tokens: 500,
        input: 700,
        output: 100,
    };
    let held = lease(store.try_reserve("settle-mixed", &limits, reserved).await);
    let settled = store
        .settle("settle-mixed", &limits, held, actual)
        .await
        .unwrap();
    // The combined tokens dimension speaks for the settle.
    assert_eq!((settled.refunded, settled.debt), (500, 0));
    // Spent now: 500 tokens (and 500 of the day), 700 input, 100 output.
    // Exactly the rest of each fits, then nothing more of any.
    let rest = TokenCounts {
        tokens: 500,
        input: 300,
        output: 900,
    };
    lease(store.try_reserve("settle-mixed", &limits, rest).await);
    for kind in [
        LimitKind::Tokens,
        LimitKind::InputTokens,
        LimitKind::OutputTokens,
    ] {
        let (limit, _) = refusal(
            store
                .try_reserve("settle-mixed", &limits, counts_in(kind, 1))
                .await,
        );
        assert_eq!(limit, kind);
    }
}

async fn release_refunds_each_dimension(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    let limits = StoreLimits {
        tokens_per_day: Some(Quota::per_day(1).with_burst(2_000)),
        max_concurrent: Some(2),
        ..every_dimension(None, 0, 1_000)
    };
    let key = "release-dims";
    let other = lease(
        store
            .try_reserve(
                key,
                &limits,
                TokenCounts {
                    tokens: 100,
                    input: 100,
                    output: 300,
                },
            )
            .await,
    );
    let held = lease(
        store
            .try_reserve(
                key,
                &limits,
                TokenCounts {
                    tokens: 900,
                    input: 600,
                    output: 400,
                },
            )
            .await,
    );
    // A refund per dimension, and never more than the lease reserved: the
    // 1,000 output tokens asked back are its 400, not the other lease's 300.
    let refund = TokenCounts {
        tokens: 400,
        input: 600,
        output: 1_000,
    };
    store.release(key, &limits, held, refund).await.unwrap();
    // Kept: tokens 100 + 500, input 100, output 300. Exactly the rest of
    // each fits (in the slot the release freed), then nothing more.
    let rest = TokenCounts {
        tokens: 400,
        input: 900,
        output: 700,
    };
    lease(store.try_reserve(key, &limits, rest).await);
    // The other lease ends keeping all it reserved: its slot comes back,
    // its tokens do not.
    store
        .release(key, &limits, other, TokenCounts::ZERO)
        .await
        .unwrap();
    for kind in [
        LimitKind::Tokens,
        LimitKind::InputTokens,
        LimitKind::OutputTokens,
    ] {
        let (limit, _) = refusal(store.try_reserve(key, &limits, counts_in(kind, 1)).await);
        assert_eq!(limit, kind);
    }
}

async fn lease_expiry_and_renewal(f: &dyn StoreFixture) {
    let ttl = Duration::from_secs(1);
    let c = concurrency(1, ttl);
    let held = {
        // This instance admits and then "crashes": it never settles, and
        // nothing it started renews the lease.
        let crashed = f.limit_store(FailurePolicy::FailClosed).await;
        lease(crashed.try_reserve("lease", &c, TokenCounts::ZERO).await)
    };
    let other = f.limit_store(FailurePolicy::FailClosed).await;
    let (limit, _) = refusal(other.try_reserve("lease", &c, TokenCounts::ZERO).await);
    assert_eq!(limit, LimitKind::Concurrency);

    // Renewed half-way, the lease outlives its first expiry.
    f.pass(ttl / 2).await;
    let renewal = other
        .renew("lease", &c, std::slice::from_ref(&held.token))
        .await
        .unwrap();
    assert_eq!((renewal.renewed, renewal.lost.len()), (1, 0), "{renewal:?}");
    f.pass(ttl * 7 / 10).await;
    let (limit, _) = refusal(other.try_reserve("lease", &c, TokenCounts::ZERO).await);
    assert_eq!(
        limit,
        LimitKind::Concurrency,
        "a renewed lease still holds its slot"
    );

    // Not renewed again, it expires and its slot comes back.
    f.pass(ttl * 13 / 10).await;
    let fresh = lease(other.try_reserve("lease", &c, TokenCounts::ZERO).await);
    // An expired lease is lost, not brought back.
    let renewal = other
        .renew("lease", &c, &[held.token.clone(), fresh.token.clone()])
        .await
        .unwrap();
    assert_eq!(renewal.renewed, 1, "{renewal:?}");
    assert_eq!(renewal.lost, vec![held.token], "{renewal:?}");
}

async fn concurrency_cap_across_instances(f: &dyn StoreFixture) {
    let c = concurrency(3, Duration::from_secs(30));
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(f.limit_store(FailurePolicy::FailClosed).await);
    }
    async fn attempt(store: &dyn LimitStore, c: &StoreLimits) -> Result<Reservation, StoreError> {
        store.try_reserve("cap", c, TokenCounts::ZERO).await
    }
    // 12 attempts at once from 4 instances: exactly the cap is admitted.
    let answers = join_all(
        instances
            .iter()
            .flat_map(|s| (0..3).map(|_| attempt(s.as_ref(), &c))),
    )
    .await;
    let mut admitted = Vec::new();
    for answer in answers {
        match answer {
            Ok(Reservation::Admitted(lease)) => admitted.push(lease),
            Ok(Reservation::NotBefore { limit, .. }) => assert_eq!(limit, LimitKind::Concurrency),
            Err(err) => panic!("store error: {err}"),
        }
    }
    assert_eq!(admitted.len(), 3);
    // Released by the instance that holds them (any instance may end any
    // lease of the key), the slots serve the others.
    for lease in admitted {
        instances[3]
            .release("cap", &c, lease, TokenCounts::ZERO)
            .await
            .unwrap();
    }
    let again = join_all(instances.iter().map(|s| attempt(s.as_ref(), &c))).await;
    let count = again
        .iter()
        .filter(|a| matches!(a, Ok(Reservation::Admitted(_))))
        .count();
    assert_eq!(count, 3);
}

async fn limiters_on_two_instances_share_one_quota(f: &dyn StoreFixture) {
    let config = LimiterConfig {
        requests: Some(Quota::per(1, HOUR).with_burst(5)),
        max_wait: Duration::from_millis(50),
        ..LimiterConfig::named("shared")
    };
    let mut limiters = Vec::new();
    for _ in 0..2 {
        let store = f.limit_store(FailurePolicy::FailClosed).await;
        limiters.push(
            Limiter::with_store(config.clone(), store, "limiters", Duration::from_secs(30))
                .unwrap(),
        );
    }
    let mut admitted = 0;
    let mut throttled = 0;
    for round in 0..8 {
        for limiter in &limiters {
            match limiter.acquire(Cost::request(), Priority::Normal).await {
                Ok(permit) => {
                    admitted += 1;
                    permit.settle_tokens(0);
                }
                Err(err) => {
                    assert!(err.retry_after().is_some(), "round {round}: {err}");
                    throttled += 1;
                }
            }
        }
    }
    assert_eq!((admitted, throttled), (5, 11));
}

async fn breaker_open_half_open_close_across_instances(f: &dyn StoreFixture) {
    let key = ProviderId::new("conformance/breaker");
    let a = f.breaker_store().await;
    let b = f.breaker_store().await;
    assert_eq!(b.load(&key).await.unwrap(), None, "nothing published yet");

    // A trips: B sees the circuit open and cannot probe yet.
    let open = Transition::Open {
        open_for: Duration::from_secs(1),
        consecutive_opens: 1,
    };
    assert_eq!(a.apply(&key, open).await.unwrap().state, BreakerState::Open);
    let seen = b.load(&key).await.unwrap().expect("published");
    assert_eq!(
        (seen.state, seen.consecutive_opens),
        (BreakerState::Open, 1)
    );
    assert!(
        seen.retry_after
            .is_some_and(|d| d <= Duration::from_secs(1)),
        "{seen:?}"
    );
    assert!(matches!(
        b.try_acquire_probe(&key, 1, Duration::from_secs(5))
            .await
            .unwrap(),
        ProbeGrant::Open { .. }
    ));

    // Past the deadline the first prober turns the fleet half-open; the
    // probe slots are fleet-wide.
    f.pass(Duration::from_millis(1_300)).await;
    let lease = Duration::from_secs(5);
    assert_eq!(
        b.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Granted
    );
    let seen = a.load(&key).await.unwrap().expect("published");
    assert_eq!(
        (seen.state, seen.probes_in_flight),
        (BreakerState::HalfOpen, 1)
    );
    assert_eq!(
        a.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Busy
    );
    b.release_probe(&key).await.unwrap();
    assert_eq!(
        a.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Granted
    );

    // A's probe succeeded: closed for everyone.
    assert_eq!(
        a.apply(&key, Transition::Close).await.unwrap().state,
        BreakerState::Closed
    );
    let seen = b.load(&key).await.unwrap().expect("published");
    assert_eq!(
        (seen.state, seen.consecutive_opens, seen.probes_in_flight),
        (BreakerState::Closed, 0, 0)
    );
    assert_eq!(
        b.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Closed
    );
}

async fn breaker_isolation_reset_and_later_deadline(f: &dyn StoreFixture) {
    let key = ProviderId::new("conformance/isolation");
    let a = f.breaker_store().await;
    let b = f.breaker_store().await;
    a.apply(&key, Transition::Isolate).await.unwrap();
    let seen = b.load(&key).await.unwrap().expect("published");
    assert_eq!(
        (seen.state, seen.retry_after),
        (BreakerState::Isolated, Some(ISOLATED_RETRY_AFTER))
    );
    // Neither a close nor a trip ends an isolation; a reset does.
    b.apply(&key, Transition::Close).await.unwrap();
    let open = Transition::Open {
        open_for: Duration::from_secs(1),
        consecutive_opens: 1,
    };
    assert_eq!(
        b.apply(&key, open).await.unwrap().state,
        BreakerState::Isolated
    );
    assert_eq!(
        b.try_acquire_probe(&key, 1, Duration::from_secs(1))
            .await
            .unwrap(),
        ProbeGrant::Isolated
    );
    assert_eq!(
        b.apply(&key, Transition::Reset).await.unwrap().state,
        BreakerState::Closed
    );
    assert_eq!(
        a.load(&key).await.unwrap().map(|s| s.state),
        Some(BreakerState::Closed)
    );

    // Two instances trip at once: the later deadline and the larger count win.
    let long = Transition::Open {
        open_for: Duration::from_secs(60),
        consecutive_opens: 3,
    };
    let short = Transition::Open {
        open_for: Duration::from_secs(1),
        consecutive_opens: 1,
    };
    a.apply(&key, long).await.unwrap();
    let seen = b.apply(&key, short).await.unwrap();
    assert_eq!(seen.consecutive_opens, 3);
    assert!(
        seen.retry_after
            .is_some_and(|d| d > Duration::from_secs(30)),
        "{seen:?}"
    );
}

async fn breaker_probe_of_a_crashed_instance_expires(f: &dyn StoreFixture) {
    let key = ProviderId::new("conformance/probe-lease");
    let open_now = Transition::Open {
        open_for: Duration::ZERO,
        consecutive_opens: 1,
    };
    let lease = Duration::from_millis(500);
    {
        let crashed = f.breaker_store().await;
        crashed.apply(&key, open_now).await.unwrap();
        f.pass(Duration::from_millis(5)).await;
        assert_eq!(
            crashed.try_acquire_probe(&key, 1, lease).await.unwrap(),
            ProbeGrant::Granted
        );
        // Dropped without releasing its probe slot.
    }
    let other = f.breaker_store().await;
    assert_eq!(
        other.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Busy
    );
    f.pass(Duration::from_millis(800)).await;
    assert_eq!(
        other.try_acquire_probe(&key, 1, lease).await.unwrap(),
        ProbeGrant::Granted
    );
}

/// Prints why an outage case does not apply to this store.
fn not_applicable(f: &dyn StoreFixture, case: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "conformance[{}] {case}: not applicable (an in-process store cannot be unreachable)",
        f.name()
    );
}

async fn fail_open_decides_locally_then_recovers(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailOpen).await;
    let breakers = f.breaker_store().await;
    let key = ProviderId::new("conformance/outage");
    let r = requests(4);
    // One admission through the shared store (3 of 4 left there).
    lease(store.try_reserve("fail-open", &r, TokenCounts::ZERO).await);
    breakers.load(&key).await.unwrap();
    if !f.cut() {
        return not_applicable(f, "fail_open_decides_locally_then_recovers");
    }
    // Cut off, the instance keeps `local_share` of the limit for itself.
    let local = (4.0 * f.local_share()).ceil() as usize;
    let mut local_leases = Vec::new();
    for _ in 0..local {
        local_leases.push(lease(
            store.try_reserve("fail-open", &r, TokenCounts::ZERO).await,
        ));
    }
    let (limit, _) = refusal(store.try_reserve("fail-open", &r, TokenCounts::ZERO).await);
    assert_eq!(limit, LimitKind::Requests);
    // Leases issued locally are settled locally; the breaker store fails
    // (the breaker then goes on with its local state).
    for l in local_leases {
        store
            .settle("fail-open", &r, l, TokenCounts::ZERO)
            .await
            .unwrap();
    }
    assert!(breakers.load(&key).await.is_err());
    f.heal();

    // Back on the shared store, which had 3 admissions left. The call that
    // timed out when the cut began may still have run there once the server
    // answered again (a timeout does not say the command was lost), so 1–3
    // remain: never more than the shared quota.
    let mut shared = 0;
    for _ in 0..60 {
        if let Ok(Reservation::Admitted(_)) =
            store.try_reserve("fail-open", &r, TokenCounts::ZERO).await
        {
            shared += 1;
            break;
        }
        f.pass(Duration::from_millis(100)).await;
    }
    assert_eq!(shared, 1, "the shared store never answered again");
    loop {
        match store.try_reserve("fail-open", &r, TokenCounts::ZERO).await {
            Ok(Reservation::Admitted(_)) => shared += 1,
            Ok(Reservation::NotBefore { limit, .. }) => {
                assert_eq!(limit, LimitKind::Requests);
                break;
            }
            Err(err) => panic!("after recovery: {err}"),
        }
        assert!(shared <= 3, "the shared store admitted past its quota");
    }
    // The breaker store's connection recovers by itself too.
    for _ in 0..60 {
        if breakers.load(&key).await.is_ok() {
            return;
        }
        f.pass(Duration::from_millis(100)).await;
    }
    panic!("the breaker store never answered again");
}

async fn fail_closed_refuses_then_recovers(f: &dyn StoreFixture) {
    let store = f.limit_store(FailurePolicy::FailClosed).await;
    let r = requests(4);
    lease(
        store
            .try_reserve("fail-closed", &r, TokenCounts::ZERO)
            .await,
    );
    if !f.cut() {
        return not_applicable(f, "fail_closed_refuses_then_recovers");
    }
    for _ in 0..3 {
        match store
            .try_reserve("fail-closed", &r, TokenCounts::ZERO)
            .await
        {
            Err(err) => assert!(err.is_unavailable(), "{err}"),
            Ok(answer) => panic!("cut off, fail_closed answered {answer:?}"),
        }
    }
    f.heal();
    for _ in 0..60 {
        match store
            .try_reserve("fail-closed", &r, TokenCounts::ZERO)
            .await
        {
            Ok(answer) => {
                lease(Ok(answer));
                return;
            }
            Err(err) => assert!(err.is_unavailable(), "{err}"),
        }
        f.pass(Duration::from_millis(100)).await;
    }
    panic!("the shared store never answered again");
}
