//! Every retry is a tracing event, and calls and attempts are spans with
//! OpenTelemetry GenAI field names.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
use palisade_stack::{Backoff, Candidate, Fallback, RetryLayer, RetryPolicy};
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
