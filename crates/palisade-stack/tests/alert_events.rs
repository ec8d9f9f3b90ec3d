//! Each alert is also a `warn` event on target `palisade_stack::alert`,
//! with the threshold and the observed value as fields. Alone in its test
//! binary: a test without a subscriber would race it for tracing's cached
//! callsite interest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, Provider, ProviderError};
use palisade_stack::StackBuilder;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// An event's level, target and fields (as Debug text).
type Recorded = (Level, String, BTreeMap<String, String>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((*meta.level(), meta.target().to_owned(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_crossing_is_one_warn_event_with_its_numbers() {
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.0);
    let callbacks = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&callbacks);
    tracing::subscriber::with_default(recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let toml = "name = \"docs\"\n[alerts]\nfailures = { count = 2, window = \"10m\" }\n\
                        [retry]\nmax_attempts = 1\n[[candidates]]\nid = \"m\"\n";
            let provider = ScriptedProvider::new("m")
                .then_errors(5, &ProviderError::invalid_request("refused"));
            let stack = StackBuilder::from_toml(toml)
                .unwrap()
                .provider("m", provider)
                .on_alert(move |_| *counted.lock().unwrap() += 1)
                .build()
                .unwrap();
            for _ in 0..5 {
                assert!(stack.complete(ChatRequest::user("hi")).await.is_err());
            }
        });
    });
    assert_eq!(*callbacks.lock().unwrap(), 1);
    let seen = seen.lock().unwrap();
    let alerts: Vec<&Recorded> = seen
        .iter()
        .filter(|(_, target, _)| target == "palisade_stack::alert")
        .collect();
    assert_eq!(alerts.len(), 1, "{seen:?}");
    let (level, _, fields) = alerts[0];
    assert_eq!(*level, Level::WARN);
    assert_eq!(fields["alert"], "\"failures\"");
    assert_eq!(fields["stack"], "\"docs\"");
    assert_eq!(fields["threshold"], "2");
    assert_eq!(fields["observed"], "2");
    assert_eq!(fields["window_s"], "600.0");
    assert!(
        fields["message"].contains("failed 2 calls within 10m"),
        "{fields:?}"
    );
}
