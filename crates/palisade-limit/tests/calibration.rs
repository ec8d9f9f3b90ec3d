//! Calibration from rate-limit headers, through `RateLimitLayer`, against a
//! provider double with a true RPM and TPM that answers with the headers a
//! real provider sends (parsed into a `RateLimitSnapshot`), on paused time.
//!
//! The numbers of `converges_from_3x_above_the_true_quota` are in
//! docs/limits.md; rerun with
//! `cargo test -p palisade-limit --test calibration -- --nocapture` to see them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use palisade_core::http::{RateLimitSnapshot, RateLimitWindow};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderExt,
    ProviderId, StreamEvent, Usage,
};
use palisade_limit::{AdaptiveConfig, Limiter, LimiterConfig, Quota, RateLimitLayer};
use tokio::time::Instant;

/// What the double puts in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Headers {
    /// limit, remaining and reset (OpenAI, Anthropic).
    Full,
    /// remaining and reset only.
    NoLimit,
}

/// A continuously refilled bucket: the provider's quota of one dimension
/// (capacity = the per-minute limit, as Anthropic documents).
#[derive(Debug)]
struct Bucket {
    limit: f64,
    level: f64,
}

impl Bucket {
    fn new(limit: u64) -> Self {
        Self {
            limit: limit as f64,
            level: limit as f64,
        }
    }

    fn rate(&self) -> f64 {
        self.limit / 60.0
    }

    fn refill(&mut self, secs: f64) {
        self.level = (self.level + secs * self.rate()).min(self.limit);
    }

    /// Seconds until `n` fit.
    fn wait_for(&self, n: f64) -> f64 {
        ((n - self.level) / self.rate()).max(0.0)
    }

    fn window(&self, headers: Headers) -> RateLimitWindow {
        // Reset: time until full, rounded up to the millisecond.
        let reset_ms = ((self.limit - self.level) / self.rate() * 1_000.0).ceil() as u64;
        RateLimitWindow {
            limit: (headers == Headers::Full).then_some(self.limit as u64),
            remaining: Some(self.level.max(0.0).floor() as u64),
            reset: Some(Duration::from_millis(reset_ms)),
        }
    }
}

#[derive(Debug)]
struct Quotas {
    requests: Bucket,
    tokens: Bucket,
    last: Instant,
}

/// What the double counted.
#[derive(Debug, Default, Clone)]
struct Counts {
    calls: u64,
    throttled: u64,
    served: u64,
    served_tokens: u64,
    last_served: Option<Instant>,
}

/// A provider with a true RPM and TPM: a call arriving when either bucket
/// lacks room is refused with 429 (`Throttled`, `retry_after`), otherwise
/// charged its whole cost at once and answered after `latency`. Every answer
/// carries the headers, as seen when the call arrived.
#[derive(Debug, Clone)]
struct QuotaProvider {
    id: ProviderId,
    quotas: Arc<Mutex<Quotas>>,
    counts: Arc<Mutex<Counts>>,
    latency: Duration,
    headers: Headers,
}

impl QuotaProvider {
    fn new(rpm: u64, tpm: u64, headers: Headers) -> Self {
        Self {
            id: ProviderId::new("double/model"),
            quotas: Arc::new(Mutex::new(Quotas {
                requests: Bucket::new(rpm),
                tokens: Bucket::new(tpm),
                last: Instant::now(),
            })),
            counts: Arc::default(),
            latency: Duration::from_secs(1),
            headers,
        }
    }

    fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }

    /// The call's output: what the request says it wants, in its text.
    fn output_tokens(req: &ChatRequest) -> u32 {
        req.max_tokens / 2 + req.messages.len() as u32
    }

    /// Admits or refuses at arrival; the snapshot is the state after.
    fn arrive(&self, req: &ChatRequest) -> (Result<Usage, Duration>, RateLimitSnapshot) {
        let input = req.metadata.input_token_estimate.unwrap_or(0);
        let output = Self::output_tokens(req);
        let cost = f64::from(input + output);
        let now = Instant::now();
        let mut q = self.quotas.lock().unwrap();
        let secs = now.duration_since(q.last).as_secs_f64();
        q.last = now;
        q.requests.refill(secs);
        q.tokens.refill(secs);
        let mut counts = self.counts.lock().unwrap();
        counts.calls += 1;
        let outcome = if q.requests.level >= 1.0 && q.tokens.level >= cost {
            q.requests.level -= 1.0;
            q.tokens.level -= cost;
            counts.served += 1;
            counts.served_tokens += cost as u64;
            counts.last_served = Some(now);
            Ok(Usage::new(input, output))
        } else {
            counts.throttled += 1;
            let wait = q.requests.wait_for(1.0).max(q.tokens.wait_for(cost));
            Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
        };
        let snapshot = RateLimitSnapshot {
            requests: q.requests.window(self.headers),
            tokens: q.tokens.window(self.headers),
            ..RateLimitSnapshot::default()
        };
        (outcome, snapshot)
    }
}

#[async_trait]
impl Provider for QuotaProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (outcome, snapshot) = self.arrive(&req);
        match outcome {
            Ok(usage) => {
                tokio::time::sleep(self.latency).await;
                let mut response = ChatResponse::text(self.id.clone(), "ok", Some(usage));
                response.rate_limit = Some(Box::new(snapshot));
                Ok(response)
            }
            Err(retry_after) => Err(ProviderError::throttled("429", Some(retry_after))
                .with_provider(self.id.clone())
                .with_rate_limit(snapshot)),
        }
    }
}

/// The 500 requests: inputs 200–399 tokens, `max_tokens` 200, outputs 101
/// (so about 400 tokens a call), all known to the limiter up front
/// except the output.
fn job(i: usize) -> ChatRequest {
    let input = 200 + (i * 37 % 200) as u32;
    ChatRequest::user("x")
        .with_max_tokens(200)
        .with_input_token_estimate(input)
}

const TRUE_RPM: u64 = 120;
const TRUE_TPM: u64 = 40_000;
const JOBS: usize = 500;
const TASKS: usize = 20;

/// What one run measured.
#[derive(Debug)]
struct Run {
    counts: Counts,
    elapsed: Duration,
    /// The shortest the provider's own quotas allow for the work done (a
    /// full bucket at the start, then the refill rate): `elapsed` at 100 %
    /// goodput.
    ideal: Duration,
    calibrated_requests: Option<u64>,
    calibrated_tokens: Option<u64>,
}

impl Run {
    fn throttle_rate(&self) -> f64 {
        self.counts.throttled as f64 / self.counts.calls as f64
    }

    fn goodput(&self) -> f64 {
        self.ideal.as_secs_f64() / self.elapsed.as_secs_f64()
    }
}

/// 500 requests from 20 tasks through a limiter configured at 3× the true
/// quota; a task retries a 429 after its `retry_after`.
async fn run_3x(headers: Headers, adaptive: bool) -> Run {
    let mut config = LimiterConfig::named("3x")
        .with_requests(Quota::per_minute(3 * TRUE_RPM))
        .with_tokens(Quota::per_minute(3 * TRUE_TPM))
        .with_max_wait(Duration::from_secs(3_600));
    if adaptive {
        config = config.with_adaptive(AdaptiveConfig::enabled());
    }
    let limiter = Limiter::new(config).unwrap();
    let double = QuotaProvider::new(TRUE_RPM, TRUE_TPM, headers);
    let model = Arc::new(double.clone().layer(RateLimitLayer::new(limiter.clone())));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (model, next) = (Arc::clone(&model), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= JOBS {
                        return;
                    }
                    loop {
                        match model.complete(job(i)).await {
                            Ok(_) => break,
                            Err(e) if e.kind() == ErrorKind::Throttled => {
                                tokio::time::sleep(
                                    e.retry_after().unwrap_or(Duration::from_secs(1)),
                                )
                                .await;
                            }
                            Err(e) => panic!("job {i}: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let counts = double.counts();
    assert_eq!(counts.served, JOBS as u64);
    let elapsed = counts.last_served.unwrap().duration_since(start);
    let ideal_requests = (JOBS as f64 - TRUE_RPM as f64) / (TRUE_RPM as f64 / 60.0);
    let ideal_tokens = (counts.served_tokens as f64 - TRUE_TPM as f64) / (TRUE_TPM as f64 / 60.0);
    let stats = limiter.stats();
    Run {
        counts,
        elapsed,
        ideal: Duration::from_secs_f64(ideal_requests.max(ideal_tokens)),
        calibrated_requests: stats.calibrated_requests,
        calibrated_tokens: stats.calibrated_tokens,
    }
}

async fn check_3x(headers: Headers, adaptive: bool) {
    let run = run_3x(headers, adaptive).await;
    println!(
        "headers {headers:?}, adaptive {adaptive}: {} calls, {} throttled ({:.2} %), \
         {} served ({} tokens) in {:.1} s (ideal {:.1} s): goodput {:.1} % of the true quota; \
         calibrated to {:?} RPM, {:?} TPM",
        run.counts.calls,
        run.counts.throttled,
        100.0 * run.throttle_rate(),
        run.counts.served,
        run.counts.served_tokens,
        run.elapsed.as_secs_f64(),
        run.ideal.as_secs_f64(),
        100.0 * run.goodput(),
        run.calibrated_requests,
        run.calibrated_tokens,
    );
    assert!(run.throttle_rate() < 0.02, "{run:?}");
    assert!(run.goodput() >= 0.90, "{run:?}");
    // Converged to the provider's limits (within 2 %: inferred limits carry
    // the headers' rounding), never above them by more.
    let near = |got: Option<u64>, want: u64| {
        let got = got.unwrap() as f64;
        (got - want as f64).abs() <= want as f64 * 0.02
    };
    assert!(near(run.calibrated_requests, TRUE_RPM), "{run:?}");
    assert!(near(run.calibrated_tokens, TRUE_TPM), "{run:?}");
}

#[tokio::test(start_paused = true)]
async fn converges_from_3x_above_the_true_quota_with_stated_limits() {
    check_3x(Headers::Full, false).await;
}

#[tokio::test(start_paused = true)]
async fn converges_from_3x_above_the_true_quota_from_remaining_and_reset() {
    check_3x(Headers::NoLimit, false).await;
}

#[tokio::test(start_paused = true)]
async fn converges_from_3x_above_the_true_quota_in_adaptive_mode() {
    check_3x(Headers::Full, true).await;
    check_3x(Headers::NoLimit, true).await;
}

#[tokio::test(start_paused = true)]
async fn without_headers_a_3x_limiter_is_throttled() {
    // The same load without calibration (the double's headers dropped): the
    // test above can fail.
    #[derive(Debug, Clone)]
    struct Deaf(QuotaProvider);
    #[async_trait]
    impl Provider for Deaf {
        fn id(&self) -> &ProviderId {
            self.0.id()
        }
        async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
            match self.0.complete(req).await {
                Ok(mut r) => {
                    r.rate_limit = None;
                    Ok(r)
                }
                Err(e) => Err(ProviderError::throttled("429", e.retry_after())),
            }
        }
    }
    let limiter = Limiter::new(
        LimiterConfig::named("deaf")
            .with_requests(Quota::per_minute(3 * TRUE_RPM))
            .with_tokens(Quota::per_minute(3 * TRUE_TPM)),
    )
    .unwrap();
    let double = QuotaProvider::new(TRUE_RPM, TRUE_TPM, Headers::Full);
    let model = Arc::new(Deaf(double.clone()).layer(RateLimitLayer::new(limiter.clone())));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let model = Arc::clone(&model);
            tokio::spawn(async move {
                for i in (t..JOBS).step_by(TASKS) {
                    let _ = model.complete(job(i)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let counts = double.counts();
    println!(
        "without headers: {} calls, {} throttled ({:.1} %)",
        counts.calls,
        counts.throttled,
        100.0 * counts.throttled as f64 / counts.calls as f64
    );
    assert!(
        counts.throttled as f64 / counts.calls as f64 > 0.2,
        "{counts:?}"
    );
    assert_eq!(limiter.stats().calibrated_requests, Some(3 * TRUE_RPM));
}

/// A provider whose first answer is a 429 with a stale `remaining: 0` and a
/// 2 s reset on both windows, and which then serves everything at once
/// (its quota is the limiter's and the headers were wrong).
#[derive(Debug, Clone, Default)]
struct StaleZero {
    calls: Arc<AtomicUsize>,
    served_at: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl Provider for StaleZero {
    fn id(&self) -> &ProviderId {
        static ID: std::sync::LazyLock<ProviderId> =
            std::sync::LazyLock::new(|| ProviderId::new("double/stale"));
        &ID
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let zero = RateLimitWindow {
                limit: None,
                remaining: Some(0),
                reset: Some(Duration::from_secs(2)),
            };
            return Err(
                ProviderError::throttled("429", None).with_rate_limit(RateLimitSnapshot {
                    requests: zero,
                    tokens: zero,
                    ..RateLimitSnapshot::default()
                }),
            );
        }
        self.served_at.lock().unwrap().push(Instant::now());
        let input = req.metadata.input_token_estimate.unwrap_or(0);
        Ok(ChatResponse::text(
            self.id().clone(),
            "ok",
            Some(Usage::new(input, 10)),
        ))
    }
}

async fn stale_zero(adaptive: bool) -> (Duration, Duration) {
    let mut config = LimiterConfig::named("stale")
        .with_requests(Quota::per_minute(60))
        .with_tokens(Quota::per_minute(60_000));
    if adaptive {
        config = config.with_adaptive(AdaptiveConfig::enabled());
    }
    let limiter = Limiter::new(config).unwrap();
    let double = StaleZero::default();
    let model = Arc::new(double.clone().layer(RateLimitLayer::new(limiter.clone())));
    let start = Instant::now();
    let err = model.complete(job(0)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    // Then 50 requests from 20 tasks: the bucket held 59 before the report.
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let model = Arc::clone(&model);
            tokio::spawn(async move {
                for i in (t..50).step_by(TASKS) {
                    model.complete(job(i)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let served = double.served_at.lock().unwrap().clone();
    assert_eq!(served.len(), 50);
    let first = served.iter().min().unwrap().duration_since(start);
    let last = served.iter().max().unwrap().duration_since(start);
    println!(
        "stale remaining 0 with reset 2 s, adaptive {adaptive}: first admission after {:.2} s, \
         the 50th after {:.2} s",
        first.as_secs_f64(),
        last.as_secs_f64()
    );
    (first, last)
}

#[tokio::test(start_paused = true)]
async fn a_stale_remaining_zero_blocks_until_its_reset_only() {
    for adaptive in [false, true] {
        let (first, last) = stale_zero(adaptive).await;
        // The report is believed: nothing for the first second (the bucket
        // refills one request a second from empty)…
        assert!(first >= Duration::from_millis(900), "{first:?}");
        // …and forgotten at its reset: 50 requests of a 60-request bucket go
        // by 2 s, not over a whole refill of 50 s.
        assert!(last <= Duration::from_millis(2_100), "{last:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn remaining_without_reset_caps_until_refilled() {
    // The old contract of `observe_remaining`, now outside adaptive mode too.
    let limiter =
        Limiter::new(LimiterConfig::default().with_tokens(Quota::per_minute(60_000))).unwrap();
    limiter.observe_remaining(None, Some(1_000));
    assert_eq!(limiter.stats().tokens_available, Some(1_000));
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(limiter.stats().tokens_available, Some(31_000));
}

#[tokio::test(start_paused = true)]
async fn a_streams_error_calibrates_too() {
    #[derive(Debug)]
    struct CutStream(ProviderId);
    #[async_trait]
    impl Provider for CutStream {
        fn id(&self) -> &ProviderId {
            &self.0
        }
        async fn complete(&self, _: ChatRequest) -> Result<ChatResponse, ProviderError> {
            unreachable!("streams only")
        }
        async fn stream(&self, _: ChatRequest) -> Result<ChatStream, ProviderError> {
            let snapshot = RateLimitSnapshot {
                requests: RateLimitWindow {
                    limit: Some(30),
                    remaining: Some(5),
                    reset: Some(Duration::from_secs(50)),
                },
                ..RateLimitSnapshot::default()
            };
            let events = vec![
                Ok(StreamEvent::TextDelta { text: "hi".into() }),
                Err(ProviderError::throttled("429 mid-stream", None).with_rate_limit(snapshot)),
            ];
            Ok(ChatStream::new(
                self.0.clone(),
                futures_util::stream::iter(events),
            ))
        }
    }
    let limiter =
        Limiter::new(LimiterConfig::default().with_requests(Quota::per_minute(600))).unwrap();
    let model =
        CutStream(ProviderId::new("double/stream")).layer(RateLimitLayer::new(limiter.clone()));
    let mut stream = model.stream(ChatRequest::user("x")).await.unwrap();
    while stream.next().await.is_some() {}
    let stats = limiter.stats();
    assert_eq!(stats.calibrated_requests, Some(30));
    assert_eq!(stats.requests_available, Some(5));
}

#[tokio::test(start_paused = true)]
async fn a_successful_stream_calibrates_when_it_opens() {
    // The snapshot of the headers that opened the stream
    // (`ChatStream::rate_limit`), not an error, steers the limiter.
    #[derive(Debug)]
    struct OpenStream(ProviderId);
    #[async_trait]
    impl Provider for OpenStream {
        fn id(&self) -> &ProviderId {
            &self.0
        }
        async fn complete(&self, _: ChatRequest) -> Result<ChatResponse, ProviderError> {
            unreachable!("streams only")
        }
        async fn stream(&self, _: ChatRequest) -> Result<ChatStream, ProviderError> {
            let snapshot = RateLimitSnapshot {
                requests: RateLimitWindow {
                    limit: Some(30),
                    remaining: Some(7),
                    reset: Some(Duration::from_secs(46)),
                },
                ..RateLimitSnapshot::default()
            };
            let events = vec![
                Ok(StreamEvent::TextDelta { text: "hi".into() }),
                Ok(StreamEvent::Stop {
                    reason: palisade_core::StopReason::EndTurn,
                }),
            ];
            Ok(ChatStream::from_events(self.0.clone(), events).with_rate_limit(snapshot))
        }
    }
    let limiter =
        Limiter::new(LimiterConfig::default().with_requests(Quota::per_minute(600))).unwrap();
    let model =
        OpenStream(ProviderId::new("double/stream")).layer(RateLimitLayer::new(limiter.clone()));
    let stream = model.stream(ChatRequest::user("x")).await.unwrap();
    // Before any event is read.
    let stats = limiter.stats();
    assert_eq!(stats.calibrated_requests, Some(30));
    assert_eq!(stats.requests_available, Some(7));
    // The snapshot stays on the stream through the layer, and on the answer.
    assert_eq!(stream.rate_limit().unwrap().requests.remaining, Some(7));
    let answer = stream.into_response().await.unwrap();
    assert_eq!(answer.rate_limit.unwrap().requests.limit, Some(30));
}
