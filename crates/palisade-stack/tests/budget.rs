//! Budget: cost per answer, reservation of the worst case before a call,
//! rejection past the limit, per-tag limits, window reset.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError, ProviderExt, Usage,
};
use palisade_stack::{BudgetConfig, BudgetExceeded, BudgetLayer, Price, PriceTable};

/// Every scripted `then_text` answer uses 10 input and 5 output tokens:
/// at $100k / $200k per Mtok that is $1 + $1 = $2 an answer. [`hi`] asks
/// for at most 5 output tokens and estimates to 8 input tokens (10 with the
/// default 25% margin), so its reservation is that same $2.
fn prices() -> PriceTable {
    PriceTable::new().with("m", Price::new(100_000.0, 200_000.0))
}

fn hi() -> ChatRequest {
    ChatRequest::user("hi").with_max_tokens(5)
}

fn model(answers: usize) -> ScriptedProvider {
    (0..answers).fold(ScriptedProvider::new("m"), |p, _| p.then_text("ok"))
}

#[tokio::test(start_paused = true)]
async fn rejects_past_the_limit_until_the_window_resets() {
    let layer = BudgetLayer::new(
        BudgetConfig {
            window: Duration::from_secs(3600),
            limit_usd: Some(5.0),
            ..BudgetConfig::default()
        },
        prices(),
    );
    let p = model(10);
    let budgeted = p.clone().layer(layer.clone());
    for _ in 0..2 {
        budgeted.complete(hi()).await.unwrap();
    }
    // $4 spent of $5, and the next call may cost $2: refused without
    // calling the provider (a check-only budget let it through to $6).
    let err = budgeted.complete(hi()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    let exceeded = BudgetExceeded::find(&err).unwrap();
    assert_eq!(exceeded.scope, "total");
    assert!((exceeded.spent - 4.0).abs() < 1e-9);
    assert!((exceeded.needed - 2.0).abs() < 1e-9);
    assert!(!exceeded.never_fits());
    assert_eq!(p.call_count(), 2);
    let snap = layer.snapshot();
    assert_eq!(snap.rejected, 1);
    assert!((snap.total.spent_usd - 4.0).abs() < 1e-9);
    assert_eq!(snap.total.reserved_usd, 0.0);

    tokio::time::advance(Duration::from_secs(3600)).await;
    budgeted.complete(hi()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn per_tag_limits_apply_to_tagged_requests_only() {
    let layer = BudgetLayer::new(
        BudgetConfig {
            tags: [("tenant=acme".to_owned(), 3.0)].into(),
            ..BudgetConfig::default()
        },
        prices(),
    );
    let budgeted = model(10).layer(layer.clone());
    let acme = || hi().with_tag("tenant=acme");
    budgeted.complete(acme()).await.unwrap();
    // $2 of $3 spent; another $2 would pass the tenant's limit.
    let err = budgeted.complete(acme()).await.unwrap_err();
    assert_eq!(BudgetExceeded::find(&err).unwrap().scope, "tag:tenant=acme");
    // Other tenants are not limited.
    budgeted
        .complete(hi().with_tag("tenant=other"))
        .await
        .unwrap();
    assert!((layer.snapshot().tags["tenant=acme"].spent_usd - 2.0).abs() < 1e-9);
}

fn five_dollars() -> BudgetLayer {
    BudgetLayer::new(
        BudgetConfig {
            limit_usd: Some(5.0),
            ..BudgetConfig::default()
        },
        prices(),
    )
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_cannot_all_pass_a_check_only_one_fits() {
    let layer = five_dollars();
    let p = (0..10).fold(ScriptedProvider::new("m"), |p, _| {
        p.then(
            Duration::from_secs(1),
            Outcome::Respond(ChatResponse::text(
                "m".into(),
                "ok",
                Some(Usage::new(10, 5)),
            )),
        )
    });
    let budgeted = p.clone().layer(layer.clone());
    let calls = (0..10).map(|_| budgeted.complete(hi()));
    let results = futures_util::future::join_all(calls).await;
    // Ten calls start together; holds of $2 each fit $5 twice.
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    assert_eq!(p.call_count(), 2);
    let snap = layer.snapshot();
    assert!((snap.total.spent_usd - 4.0).abs() < 1e-9);
    assert_eq!(snap.total.reserved_usd, 0.0);
    assert_eq!(snap.rejected, 8);
}

#[tokio::test(start_paused = true)]
async fn calls_in_flight_hold_their_worst_case_until_they_settle() {
    let layer = five_dollars();
    let p = ScriptedProvider::new("m").then(
        Duration::from_secs(10),
        Outcome::Respond(ChatResponse::text(
            "m".into(),
            "ok",
            Some(Usage::new(10, 1)),
        )),
    );
    let budgeted = p.layer(layer.clone());
    let call = tokio::spawn(async move { budgeted.complete(hi()).await });
    tokio::time::advance(Duration::from_secs(1)).await;
    let held = layer.snapshot();
    assert!((held.total.reserved_usd - 2.0).abs() < 1e-9);
    assert_eq!(held.total.spent_usd, 0.0);
    call.await.unwrap().unwrap();
    // Settled to the real cost: $1 input + $0.2 output.
    let settled = layer.snapshot();
    assert_eq!(settled.total.reserved_usd, 0.0);
    assert!((settled.total.spent_usd - 1.2).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_frees_its_hold_and_costs_nothing() {
    let layer = five_dollars();
    let p = ScriptedProvider::new("m")
        .then_error(ProviderError::new(ErrorKind::Unavailable, "503"))
        .then_text("ok");
    let budgeted = p.layer(layer.clone());
    assert!(budgeted.complete(hi()).await.is_err());
    let snap = layer.snapshot();
    assert_eq!(snap.total.reserved_usd, 0.0);
    assert_eq!(snap.total.spent_usd, 0.0);
    budgeted.complete(hi()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_worst_case_exceeds_the_whole_limit_has_no_retry_after() {
    let layer = five_dollars();
    let p = model(1);
    let budgeted = p.clone().layer(layer.clone());
    // 100 output tokens at $200k/Mtok = $20 alone.
    let err = budgeted
        .complete(ChatRequest::user("hi").with_max_tokens(100))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert_eq!(err.retry_after(), None);
    let exceeded = BudgetExceeded::find(&err).unwrap();
    assert!(exceeded.never_fits());
    assert!(
        err.to_string().contains("more than the whole limit"),
        "{err}"
    );
    assert_eq!(p.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_until_its_usage_and_a_dropped_stream_frees_the_hold() {
    let layer = five_dollars();
    let p = model(2);
    let budgeted = p.layer(layer.clone());
    let stream = budgeted.stream(hi()).await.unwrap();
    assert!((layer.snapshot().total.reserved_usd - 2.0).abs() < 1e-9);
    let answer = palisade_core::collect_stream(stream).await.unwrap();
    assert_eq!(answer.text_content(), "ok");
    let snap = layer.snapshot();
    assert_eq!(snap.total.reserved_usd, 0.0);
    assert!((snap.total.spent_usd - 2.0).abs() < 1e-9);

    let dropped = budgeted.stream(hi()).await.unwrap();
    assert!((layer.snapshot().total.reserved_usd - 2.0).abs() < 1e-9);
    drop(dropped);
    let snap = layer.snapshot();
    assert_eq!(snap.total.reserved_usd, 0.0);
    assert!((snap.total.spent_usd - 2.0).abs() < 1e-9);
}
