//! The span per call carries the OpenTelemetry GenAI attributes, and mapped
//! errors are events.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{SONNET, client_for, serve};
use futures_util::StreamExt;
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, Provider};
use palisade_testkit::bedrock::WireFault;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Fields recorded on `bedrock.call` spans, and the messages of events.
#[derive(Clone, Default)]
struct Capture {
    fields: Arc<Mutex<BTreeMap<String, String>>>,
    events: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "bedrock.call" {
            attrs.record(&mut Fields(&mut self.fields.lock().unwrap()));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if ctx.span(id).is_some_and(|s| s.name() == "bedrock.call") {
            values.record(&mut Fields(&mut self.fields.lock().unwrap()));
        }
    }
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target().starts_with("palisade_bedrock") {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.events.lock().unwrap().push(fields);
        }
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

#[tokio::test]
async fn a_call_span_has_the_gen_ai_attributes() {
    let (capture, _guard) = capture();
    let server = serve(SONNET, ScriptedProvider::new("sonnet").then_text("hi")).await;
    let provider = client_for(&server, SONNET).await;
    provider
        .complete(ChatRequest::user("hi").with_max_tokens(300))
        .await
        .unwrap();

    let fields = capture.fields.lock().unwrap().clone();
    let request_id = server.last_request().unwrap().request_id;
    for (name, value) in [
        ("gen_ai.system", "aws.bedrock"),
        ("gen_ai.request.model", SONNET),
        ("gen_ai.request.max_tokens", "300"),
        ("gen_ai.usage.input_tokens", "10"),
        ("gen_ai.usage.output_tokens", "5"),
        ("gen_ai.response.finish_reasons", "end_turn"),
        ("aws.request_id", request_id.as_str()),
    ] {
        assert_eq!(
            fields.get(name).map(String::as_str),
            Some(value),
            "{name} in {fields:?}"
        );
    }
}

#[tokio::test]
async fn a_mapped_error_is_an_event_and_the_span_error_type() {
    let (capture, _guard) = capture();
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    server.inject(SONNET, WireFault::throttling());
    let provider = client_for(&server, SONNET).await;
    provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();

    let fields = capture.fields.lock().unwrap().clone();
    assert_eq!(
        fields.get("error.type").map(String::as_str),
        Some("throttled")
    );
    let events = capture.events.lock().unwrap().clone();
    let event = events
        .iter()
        .find(|e| e.get("message").is_some_and(|m| m == "bedrock error"))
        .unwrap_or_else(|| panic!("no error event in {events:?}"));
    assert_eq!(
        event.get("error.kind").map(String::as_str),
        Some("throttled")
    );
    assert_eq!(event.get("http.status").map(String::as_str), Some("429"));
    assert!(
        event
            .get("error.message")
            .is_some_and(|m| m.contains("ThrottlingException"))
    );
}

#[tokio::test]
async fn a_stream_records_usage_when_it_arrives() {
    let (capture, _guard) = capture();
    let server = serve(
        SONNET,
        ScriptedProvider::new("sonnet").then_text("streamed"),
    )
    .await;
    let provider = client_for(&server, SONNET).await;
    let stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
    let _events: Vec<_> = stream.collect().await;

    let fields = capture.fields.lock().unwrap().clone();
    assert_eq!(
        fields.get("gen_ai.usage.output_tokens").map(String::as_str),
        Some("5")
    );
    assert_eq!(
        fields
            .get("gen_ai.response.finish_reasons")
            .map(String::as_str),
        Some("end_turn")
    );
}
