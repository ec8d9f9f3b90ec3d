//! Budget: cost per answer, rejection past the limit, per-tag limits, window reset.

use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderExt};
use palisade_stack::{BudgetConfig, BudgetExceeded, BudgetLayer, Price, PriceTable};

/// Every scripted `then_text` answer uses 10 input and 5 output tokens:
/// at $100k / $200k per Mtok that is $1 + $1 = $2 an answer.
fn prices() -> PriceTable {
    PriceTable::new().with("m", Price::new(100_000.0, 200_000.0))
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
    for _ in 0..3 {
        budgeted.complete(ChatRequest::user("hi")).await.unwrap();
    }
    // $6 spent of $5: refused without calling the provider.
    let err = budgeted
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    let exceeded = BudgetExceeded::find(&err).unwrap();
    assert_eq!(exceeded.scope, "total");
    assert!((exceeded.spent - 6.0).abs() < 1e-9);
    assert_eq!(p.call_count(), 3);
    let snap = layer.snapshot();
    assert_eq!(snap.rejected, 1);
    assert!((snap.total.spent_usd - 6.0).abs() < 1e-9);

    tokio::time::advance(Duration::from_secs(3600)).await;
    budgeted.complete(ChatRequest::user("hi")).await.unwrap();
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
    let acme = || ChatRequest::user("hi").with_tag("tenant=acme");
    budgeted.complete(acme()).await.unwrap();
    budgeted.complete(acme()).await.unwrap();
    let err = budgeted.complete(acme()).await.unwrap_err();
    assert_eq!(BudgetExceeded::find(&err).unwrap().scope, "tag:tenant=acme");
    // Other tenants are not limited.
    budgeted
        .complete(ChatRequest::user("hi").with_tag("tenant=other"))
        .await
        .unwrap();
    assert!((layer.snapshot().tags["tenant=acme"].spent_usd - 4.0).abs() < 1e-9);
}
