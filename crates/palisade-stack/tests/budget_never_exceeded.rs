//! Property: a budget is never exceeded — overall or per tag — however many
//! calls start together, how long they take, whether they fail, and how
//! close to their `max_tokens` they answer, as long as no call costs more
//! than its reservation (the provider here bills the heuristic estimate of
//! the input, which the reservation covers with its margin).

use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, HeuristicEstimator, Provider, ProviderError, ProviderExt,
    ProviderId, TokenEstimator, Usage, async_trait,
};
use palisade_stack::{BudgetConfig, BudgetExceeded, BudgetLayer, Price, PriceTable};
use proptest::prelude::*;

/// Answers after a delay drawn from the request, billing its estimated
/// input and a share of its `max_tokens`; some requests fail.
struct Metered {
    id: ProviderId,
}

/// One call's shape, carried in the request's tags so the provider can
/// read it back.
#[derive(Debug, Clone)]
struct Call {
    text_len: usize,
    max_tokens: u32,
    output_share: f64,
    delay_ms: u64,
    fails: bool,
    tenant: Option<u8>,
}

#[async_trait]
impl Provider for Metered {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let tag = |name: &str| {
            req.metadata
                .tags
                .iter()
                .find_map(|t| t.strip_prefix(name))
                .map(str::to_owned)
        };
        let delay: u64 = tag("delay=").unwrap().parse().unwrap();
        let share: f64 = tag("share=").unwrap().parse().unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if tag("fails").is_some() {
            return Err(ProviderError::new(ErrorKind::Unavailable, "503"));
        }
        let input = HeuristicEstimator.input_tokens(&req).await;
        let output = (f64::from(req.max_tokens) * share).floor() as u32;
        Ok(ChatResponse::text(
            self.id.clone(),
            "ok",
            Some(Usage::new(input, output)),
        ))
    }
}

fn call() -> impl Strategy<Value = Call> {
    (
        1usize..4_000,
        1u32..4_000,
        0.0f64..=1.0,
        0u64..3_000,
        prop::bool::weighted(0.15),
        prop::option::of(0u8..3),
    )
        .prop_map(
            |(text_len, max_tokens, output_share, delay_ms, fails, tenant)| Call {
                text_len,
                max_tokens,
                output_share,
                delay_ms,
                fails,
                tenant,
            },
        )
}

fn request(call: &Call) -> ChatRequest {
    let mut req = ChatRequest::user("x".repeat(call.text_len))
        .with_max_tokens(call.max_tokens)
        .with_tag(format!("delay={}", call.delay_ms))
        .with_tag(format!("share={}", call.output_share));
    if call.fails {
        req = req.with_tag("fails");
    }
    if let Some(t) = call.tenant {
        req = req.with_tag(format!("tenant={t}"));
    }
    req
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_budget_is_ever_exceeded(
        limit in 0.001f64..0.5,
        tenant_limit in 0.001f64..0.2,
        waves in prop::collection::vec(prop::collection::vec(call(), 1..30), 1..4),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let layer = BudgetLayer::new(
                BudgetConfig {
                    limit_usd: Some(limit),
                    tags: (0..3).map(|t| (format!("tenant={t}"), tenant_limit)).collect(),
                    ..BudgetConfig::default()
                },
                PriceTable::new().with(
                    "m",
                    Price {
                        cache_write_per_mtok: 3.75,
                        cache_read_per_mtok: 0.3,
                        ..Price::new(3.0, 15.0)
                    },
                ),
            );
            let budgeted = Metered { id: ProviderId::new("m") }.layer(layer.clone());
            for wave in &waves {
                // Every call of a wave starts at once: only reservations keep
                // them from all passing the same check.
                let results =
                    futures_util::future::join_all(wave.iter().map(|c| budgeted.complete(request(c))))
                        .await;
                for result in &results {
                    match result {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::QuotaExhausted => {
                            // A refusal is justified: the call did not fit.
                            let x = BudgetExceeded::find(e).unwrap();
                            prop_assert!(x.spent + x.reserved + x.needed > x.limit, "{x:?}");
                        }
                        Err(e) => prop_assert_eq!(e.kind(), ErrorKind::Unavailable),
                    }
                }
                let snap = layer.snapshot();
                prop_assert!(
                    snap.total.spent_usd <= limit + 1e-12,
                    "spent {} of {}", snap.total.spent_usd, limit
                );
                for (tag, scope) in &snap.tags {
                    prop_assert!(
                        scope.spent_usd <= tenant_limit + 1e-12,
                        "{tag}: spent {} of {}", scope.spent_usd, tenant_limit
                    );
                }
                // Every call has settled or failed: nothing is still held.
                prop_assert!(snap.total.reserved_usd.abs() < 1e-12);
            }
            Ok(())
        })?;
    }
}
