//! The fake OpenAI-compatible server against the official `openai` Python
//! SDK (`tests/sdk/check_fake_server.py`), an independent client of the
//! wire format: a completion, a stream with `stream_options.include_usage`,
//! a tool call round trip (whole and streamed), a validation error, a 429
//! and a 401 as the SDK parses them. Skipped, with a message, when
//! `python3` or the `openai` package is missing (`pip install openai`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{KEY, tool_call};
use palisade_testkit::openai::{FakeOpenAi, Fault, Quota};
use palisade_testkit::{Outcome, ScriptedProvider};
use serde_json::json;

const MODEL: &str = "gpt-sdk";

/// Why the SDK check cannot run, or `None` (printing the SDK's version).
fn sdk_missing() -> Option<String> {
    match palisade_testkit::python::package_version("openai") {
        Ok(version) => {
            println!("openai SDK {version}");
            None
        }
        Err(reason) => Some(reason),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_reads_the_fake_server() {
    if let Some(reason) = sdk_missing() {
        println!("skipping the Python SDK check: {reason}");
        return;
    }
    let call = || {
        Outcome::Respond(tool_call(
            "call_sdk",
            "get_weather",
            json!({"city": "Paris"}),
        ))
    };
    let model = ScriptedProvider::new("m")
        .then_text("hello from the fake")
        .then_text("streamed by the fake")
        .then(Duration::ZERO, call())
        .then_text("sunny in Paris")
        .then(Duration::ZERO, call());
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        // A quota, so every answer carries `x-ratelimit-*`.
        .quota(MODEL, Quota::new(1_000, 1_000_000))
        .model("gpt-throttled", ScriptedProvider::new("t"))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    server.set_fault(
        "gpt-throttled",
        Fault::RateLimited {
            retry_after: Duration::from_secs(2),
        },
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/check_fake_server.py"
    );
    let base = server.base_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &base, KEY, MODEL, "gpt-throttled"])
            .output()
    })
    .await
    .unwrap()
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "the SDK check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the SDK sent: the body as its own serializer wrote it, accepted
    // by the fake's strict validation.
    let streamed = server
        .requests()
        .into_iter()
        .find(|r| r.streaming)
        .expect("a streamed request");
    let body = streamed.body_json().unwrap();
    assert_eq!(body["stream_options"]["include_usage"], json!(true));
    println!(
        "SDK sent user-agent {:?}",
        streamed.header("user-agent").unwrap_or("none")
    );
}
