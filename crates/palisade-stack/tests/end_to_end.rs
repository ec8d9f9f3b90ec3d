//! The whole canonical stack from one TOML config: three candidates with
//! different limits and failure scripts, 1,000 requests from 50 concurrent
//! tasks. Nothing is lost, and each candidate gets the share its limits give it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    async_trait,
};
use palisade_stack::{FallbackStack, StackBuilder};
use tokio::time::Instant;

/// Fails every `every`-th call with `error`; otherwise answers through the script.
struct FailEvery {
    inner: ScriptedProvider,
    every: usize,
    error: ProviderError,
    calls: AtomicUsize,
}

impl FailEvery {
    fn new(inner: ScriptedProvider, every: usize, error: ProviderError) -> Self {
        Self {
            inner,
            every,
            error,
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Provider for FailEvery {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n.is_multiple_of(self.every) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(self.error.clone().or_provider(self.inner.id()));
        }
        self.inner.complete(req).await
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.inner.stream(req).await
    }
}

const CONFIG: &str = r#"
name = "e2e"

[retry]
max_attempts = 2
backoff = { base = "100ms", jitter = "none" }

[fallback.cooldown]
enabled = false

[breaker]
# Behind a limiter, throttles are the limiter's own refusals, not ill health.
policy = ["overloaded", "unavailable", "timeout", "network", "internal"]

[[candidates]]
id = "primary"
limit = { max_concurrent = 10, max_wait = 0 }
price = { input_per_mtok = 3.0, output_per_mtok = 15.0 }

[[candidates]]
id = "secondary"
limit = { max_concurrent = 20, max_wait = 0 }

[[candidates]]
id = "tertiary"
"#;

fn model(id: &str) -> ScriptedProvider {
    ScriptedProvider::new(id).otherwise(Duration::from_secs(1), Outcome::Echo)
}

#[tokio::test(start_paused = true)]
async fn a_thousand_requests_from_fifty_tasks_are_all_answered_in_the_expected_shares() {
    let primary = model("primary");
    let secondary = model("secondary");
    let tertiary = model("tertiary");
    let stack: FallbackStack = StackBuilder::from_toml(CONFIG)
        .unwrap()
        // 1 call in 10 is a server error: retried on the primary.
        .provider(
            "primary",
            FailEvery::new(
                primary.clone(),
                10,
                ProviderError::new(ErrorKind::Internal, "500"),
            ),
        )
        // 1 call in 20 is throttled: moves on at once.
        .provider(
            "secondary",
            FailEvery::new(secondary.clone(), 20, ProviderError::throttled("429", None)),
        )
        .provider("tertiary", tertiary.clone())
        .build()
        .unwrap();

    let start = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|task| {
            let stack = stack.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::with_capacity(20);
                for i in 0..20 {
                    let req = ChatRequest::user(format!("task {task} request {i}"));
                    outcomes.push(stack.complete(req).await);
                }
                outcomes
            })
        })
        .collect();
    let mut served: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    let mut total = 0;
    for task in tasks {
        for outcome in task.await.unwrap() {
            total += 1;
            match outcome {
                Ok(answer) => *served.entry(answer.served_by.to_string()).or_default() += 1,
                Err(e) => errors.push(e),
            }
        }
    }

    assert_eq!(total, 1000, "every request ended");
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    eprintln!("served per candidate: {served:?}");
    let share = |id: &str| served.get(id).copied().unwrap_or(0) as f64 / 1000.0;
    // Everything in flight at once: 10 slots on the primary, 20 on the
    // secondary, the other 20 requests on the tertiary; the failure scripts
    // move a few percent from the first two onto the tertiary.
    assert!(
        (0.15..=0.22).contains(&share("primary")),
        "primary {served:?}"
    );
    assert!(
        (0.33..=0.42).contains(&share("secondary")),
        "secondary {served:?}"
    );
    assert!(
        (0.38..=0.50).contains(&share("tertiary")),
        "tertiary {served:?}"
    );
    assert!(primary.max_in_flight() <= 10 && secondary.max_in_flight() <= 20);
    // 20 rounds of 1 s plus the retries' backoff.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );

    let stats = stack.stats();
    let successes: u64 = stats.candidates.iter().map(|c| c.successes).sum();
    assert_eq!(successes, 1000);
    let primary_stats = stats.candidate("primary").unwrap();
    assert!(primary_stats.retries > 0);
    assert_eq!(primary_stats.breaker_state.as_deref(), Some("closed"));
    assert_eq!(primary_stats.limiter_queued, Some(0));
    assert!(primary_stats.cost_usd > 0.0);
    assert!(stats.candidate("tertiary").unwrap().fallbacks_in > 0);
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["candidates"][0]["latency"]["p99_ms"].as_f64().unwrap() >= 1000.0 * 0.875);
}
