//! Every retry is a tracing event, and calls and attempts are spans with
//! OpenTelemetry GenAI field names, naming a candidate by its one id.
//!
//! Every test here installs its own subscriber: a test without one would
//! race them for tracing's cached callsite interest.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
use palisade_stack::{Backoff, Candidate, Fallback, RetryLayer, RetryPolicy, StackBuilder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default)]
struct Seen {
    spans: Vec<(String, Vec<String>)>,
    events: Vec<(String, String)>,
}

/// Records span names with their field names, and event targets with messages.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let fields = span
            .metadata()
            .fields()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        let mut seen = self.0.lock().unwrap();
        seen.spans.push((span.metadata().name().to_owned(), fields));
        Id::from_u64(seen.spans.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let target = event.metadata().target().to_owned();
        self.0.lock().unwrap().events.push((target, message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn retries_are_events_and_calls_are_gen_ai_spans() {
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.0);
    tracing::subscriber::with_default(recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let p = ScriptedProvider::new("m")
                .then_errors(2, &ProviderError::new(ErrorKind::Internal, "500"))
                .then_text("ok");
            let policy = RetryPolicy::default().with_backoff(Backoff::exponential(
                Duration::from_millis(10),
                Duration::from_secs(1),
            ));
            let fallback = Fallback::new([Candidate::new(p.layer(RetryLayer::new(policy)))]);
            fallback.complete(ChatRequest::user("hi")).await.unwrap();
        });
    });
    let seen = seen.lock().unwrap();
    let retries = seen
        .events
        .iter()
        .filter(|(target, message)| target == "palisade_stack::retry" && message == "retrying")
        .count();
    assert_eq!(retries, 2, "{:?}", seen.events);
    let chat = seen
        .spans
        .iter()
        .find(|(name, _)| name == "chat")
        .expect("a call span");
    for field in [
        "gen_ai.operation.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.response.model",
    ] {
        assert!(chat.1.iter().any(|f| f == field), "chat span lacks {field}");
    }
    let attempt = seen
        .spans
        .iter()
        .find(|(name, _)| name == "attempt")
        .expect("an attempt span");
    assert!(attempt.1.iter().any(|f| f == "gen_ai.request.model"));
}

/// Records the value of `gen_ai.request.model` of every span and event.
#[derive(Clone, Default)]
struct ModelFields(Arc<Mutex<Vec<(String, String)>>>);

struct Grab<'a>(&'a mut Vec<(String, String)>, &'static str);

impl Visit for Grab<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "gen_ai.request.model" {
            self.0.push((self.1.to_owned(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "gen_ai.request.model" {
            self.0.push((self.1.to_owned(), value.to_owned()));
        }
    }
}

impl Subscriber for ModelFields {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut seen = self.0.lock().unwrap();
        span.record(&mut Grab(&mut seen, span.metadata().name()));
        Id::from_u64(seen.len() as u64 + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut seen = self.0.lock().unwrap();
        event.record(&mut Grab(&mut seen, "event"));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn spans_and_events_carry_the_candidates_config_id() {
    let recorder = ModelFields::default();
    let seen = Arc::clone(&recorder.0);
    tracing::subscriber::with_default(recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let config = r#"
                [retry]
                max_attempts = 2
                backoff = { base = "10ms", jitter = "none" }
                defer_to_fallback = false
                [[candidates]]
                id = "flaky"
            "#;
            let flaky = ScriptedProvider::new("openai/flaky")
                .then_error(ProviderError::new(ErrorKind::Internal, "500"));
            let stack = StackBuilder::from_toml(config)
                .unwrap()
                .provider("flaky", flaky)
                .build()
                .unwrap();
            stack.complete(ChatRequest::user("hi")).await.unwrap();
        });
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|(name, _)| name == "attempt"),
        "an attempt span: {seen:?}"
    );
    assert!(
        seen.iter().any(|(name, _)| name == "event"),
        "a retry event: {seen:?}"
    );
    for (name, value) in seen.iter() {
        assert_eq!(value, "flaky", "{name} names another id: {seen:?}");
    }
}
