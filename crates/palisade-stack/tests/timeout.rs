//! Timeout: per attempt, the request's deadline, the config's overall limit;
//! the timed-out call is cancelled.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderExt};
use palisade_stack::{TimeoutConfig, TimeoutError, TimeoutLayer};
use tokio::time::Instant;

fn slow(latency: Duration) -> ScriptedProvider {
    ScriptedProvider::new("slow").otherwise(latency, Outcome::Echo)
}

#[tokio::test(start_paused = true)]
async fn an_attempt_past_its_limit_is_a_typed_timeout_and_is_cancelled() {
    let p = slow(Duration::from_secs(10));
    let t = p
        .clone()
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(2)));
    let start = Instant::now();
    let err = t.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(matches!(
        TimeoutError::find(&err),
        Some(TimeoutError::AttemptTimedOut { after, .. }) if *after == Duration::from_secs(2)
    ));
    assert_eq!(p.cancelled(), 1);
    assert_eq!(p.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_request_deadline_wins_when_earlier() {
    let p = slow(Duration::from_secs(10));
    let t = p
        .clone()
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(5)));
    let start = Instant::now();
    let err = t
        .complete(ChatRequest::user("hi").with_timeout(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert!(matches!(
        TimeoutError::find(&err),
        Some(TimeoutError::DeadlineElapsed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_elapsed_deadline_fails_without_calling() {
    let p = slow(Duration::ZERO);
    let t = p.clone().layer(TimeoutLayer::default());
    let req = ChatRequest::user("hi").with_deadline(Instant::now());
    let err = t.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(p.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_overall_limit_becomes_the_request_deadline() {
    let p = slow(Duration::ZERO);
    let t = p.clone().layer(TimeoutLayer::new(TimeoutConfig {
        per_attempt: None,
        overall: Some(Duration::from_secs(30)),
    }));
    let start = Instant::now();
    t.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        p.calls()[0].request.metadata.deadline,
        Some(start + Duration::from_secs(30))
    );
}

#[tokio::test(start_paused = true)]
async fn streams_time_out_waiting_for_the_first_event() {
    let p = slow(Duration::from_secs(10));
    let t = p
        .clone()
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(3)));
    let err = t.stream(ChatRequest::user("hi")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(p.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_releases_its_limiter_permit() {
    use palisade_limit::{Limiter, LimiterConfig, RateLimitLayer};

    let limiter = Limiter::new(LimiterConfig::named("slow").with_max_concurrent(1)).unwrap();
    let p = slow(Duration::from_secs(10));
    let t = p
        .clone()
        .layer(RateLimitLayer::new(limiter.clone()))
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(1)));
    t.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(limiter.in_flight(), 0);
    assert_eq!(p.cancelled(), 1);
}

/// Streams one text event, then nothing: a stalled stream.
struct Stalls(palisade_core::ProviderId);

#[palisade_core::async_trait]
impl Provider for Stalls {
    fn id(&self) -> &palisade_core::ProviderId {
        &self.0
    }
    async fn complete(
        &self,
        _req: ChatRequest,
    ) -> Result<palisade_core::ChatResponse, palisade_core::ProviderError> {
        std::future::pending().await
    }
    async fn stream(
        &self,
        _req: ChatRequest,
    ) -> Result<palisade_core::ChatStream, palisade_core::ProviderError> {
        use futures_util::StreamExt;
        let first = futures_util::stream::iter([Ok(palisade_core::StreamEvent::TextDelta {
            text: "partial".into(),
        })]);
        Ok(palisade_core::ChatStream::new(
            self.0.clone(),
            first.chain(futures_util::stream::pending()),
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_is_cut_at_the_deadline() {
    use futures_util::StreamExt;

    let t = Stalls("stalls".into()).layer(TimeoutLayer::default());
    let start = Instant::now();
    let mut stream = t
        .stream(ChatRequest::user("hi").with_timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the timeout"
    );
}
