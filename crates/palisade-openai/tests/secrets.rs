//! The API key never shows: not in `Debug` of the key, the builder or the
//! provider, not in errors (even when a server echoes it), not in logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::MODEL;
use palisade_core::{ChatRequest, Provider};
use palisade_openai::{ApiKey, OpenAiProvider};
use palisade_testkit::ScriptedProvider;
use palisade_testkit::openai::{FakeOpenAi, Fault};
use tracing_subscriber::layer::SubscriberExt;

const SECRET: &str = "sk-proj-SECRET-9f8e7d6c5b4a3210";

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_key_is_redacted_in_debug() {
    let key = ApiKey::new(SECRET);
    assert!(!format!("{key:?}").contains(SECRET));
    let builder = OpenAiProvider::builder(MODEL).api_key(SECRET);
    assert!(!format!("{builder:?}").contains(SECRET));
    let provider = builder.build().unwrap();
    let shown = format!("{provider:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn the_key_is_in_no_error_and_no_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone()),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::debug!("capture is on");

    let server = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("ok"))
        .api_key("sk-some-other-key-0000")
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = OpenAiProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(SECRET)
        .build()
        .unwrap();
    // A wrong key: OpenAI echoes it masked.
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "call failed");
    // A careless server echoing the whole key.
    let careless = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("ok"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    careless.inject(
        MODEL,
        Fault::Http {
            status: 401,
            error_type: Some("invalid_request_error".into()),
            code: Some("invalid_api_key".into()),
            message: format!("Incorrect API key provided: {SECRET}."),
        },
    );
    let to_careless = OpenAiProvider::builder(MODEL)
        .base_url(careless.base_url())
        .api_key(SECRET)
        .build()
        .unwrap();
    let echoed = to_careless
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    tracing::error!(error = %echoed, debug = ?echoed, "call failed");
    assert!(echoed.message().contains("[redacted]"), "{echoed}");

    for shown in [
        err.to_string(),
        format!("{err:?}"),
        echoed.to_string(),
        format!("{echoed:?}"),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("capture is on"), "the subscriber captured");
    assert!(
        logs.contains("openai: answer"),
        "the provider logged: {logs}"
    );
    assert!(!logs.contains(SECRET), "{logs}");
}
