//! Error kinds survive the boundary in both directions.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, ErrorOrigin, Provider, ProviderError, StreamEvent,
};
use palisade_tower::{ProviderService, ServiceFailed, ServiceProvider, provider_error_from_box};
use tower::buffer::BufferLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceBuilder, ServiceExt, service_fn};

fn throttled() -> ProviderError {
    ProviderError::throttled("429 from upstream", Some(Duration::from_secs(12)))
        .with_request_id("req-7")
        .with_status(429)
}

#[tokio::test(start_paused = true)]
async fn tower_elapsed_becomes_timeout_counted_against_the_model() {
    let slow = ScriptedProvider::new("slow").otherwise(Duration::from_secs(60), Outcome::Echo);
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(5)))
        .service(ProviderService::new(slow));
    let provider = ServiceProvider::new("slow", service);

    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.origin(), ErrorOrigin::Provider);
    assert_eq!(err.provider().map(|p| p.as_str()), Some("slow"));
    assert!(err.source().unwrap().is::<tower::timeout::error::Elapsed>());
}

#[tokio::test(start_paused = true)]
async fn tower_load_shed_becomes_overloaded_from_a_layer() {
    let busy = ScriptedProvider::new("busy").otherwise(Duration::from_secs(10), Outcome::Echo);
    let service = ServiceBuilder::new()
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(1))
        .service(ProviderService::new(busy.clone()));
    let provider = std::sync::Arc::new(ServiceProvider::new("busy", service));

    let first = tokio::spawn({
        let provider = provider.clone();
        async move { provider.complete(ChatRequest::user("one")).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(busy.in_flight(), 1);

    let err = provider
        .complete(ChatRequest::user("two"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.origin(), ErrorOrigin::Layer);
    assert!(
        err.source()
            .unwrap()
            .is::<tower::load_shed::error::Overloaded>()
    );
    assert!(first.await.unwrap().is_ok());
    assert_eq!(busy.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_provider_error_comes_back_as_is_with_its_retry_after() {
    let model = ScriptedProvider::new("model").then_error(throttled());
    // Through tower's `BoxError` (the timeout layer boxes every error).
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(5)))
        .service(ProviderService::new(model));
    let provider = ServiceProvider::new("model", service);

    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(err.request_id(), Some("req-7"));
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.provider().map(|p| p.as_str()), Some("model"));
}

#[tokio::test(start_paused = true)]
async fn a_provider_error_behind_a_buffer_is_found_in_the_chain() {
    let model = ScriptedProvider::new("model").then_error(throttled());
    let service = ServiceBuilder::new()
        .layer(BufferLayer::new(8))
        .service(ProviderService::new(model));
    let provider = ServiceProvider::new("model", service);

    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_error_is_internal_and_keeps_its_source() {
    let service = service_fn(|_req: ChatRequest| async {
        Err::<ChatResponse, _>(io::Error::new(io::ErrorKind::BrokenPipe, "socket closed"))
    });
    let provider = ServiceProvider::new("raw", service);

    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.message().contains("socket closed"), "{err}");
    let failed = err
        .source()
        .unwrap()
        .downcast_ref::<ServiceFailed>()
        .unwrap();
    assert_eq!(failed.provider().as_str(), "raw");
    let io = failed.get_ref().downcast_ref::<io::Error>().unwrap();
    assert_eq!(io.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn elapsed_below_the_top_of_the_chain_is_still_a_timeout() {
    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapper(#[source] tower::timeout::error::Elapsed);

    let boxed: BoxError = Box::new(Wrapper(tower::timeout::error::Elapsed::new()));
    let err = provider_error_from_box(boxed, &"m".into());
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.source().unwrap().is::<ServiceFailed>());
}

#[tokio::test(start_paused = true)]
async fn a_send_only_boxed_service_is_a_provider_and_streams_its_answer() {
    // `BoxCloneService` is `Send` but not `Sync`; the provider must be both.
    let service: BoxCloneService<ChatRequest, ChatResponse, BoxError> =
        BoxCloneService::new(service_fn(|req: ChatRequest| async move {
            let text = format!("echo: {}", req.messages.len());
            Ok::<_, BoxError>(ChatResponse::text("boxed".into(), text, None))
        }));
    let provider = ServiceProvider::new("boxed", service);
    fn assert_provider<P: Provider>(_: &P) {}
    assert_provider(&provider);

    let mut stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let StreamEvent::TextDelta { text: delta, .. } = event.unwrap() {
            text.push_str(&delta);
        }
    }
    assert_eq!(text, "echo: 1");
}

#[tokio::test(start_paused = true)]
async fn errors_pass_through_a_provider_service_unchanged() {
    // Palisade → tower: `Error = ProviderError`, nothing converted.
    let model = ScriptedProvider::new("model").then_error(throttled());
    let err = ProviderService::new(model)
        .oneshot(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
}
