//! The fake Anthropic server against the official `anthropic` Python SDK
//! (`tests/sdk/check_fake_server.py`): create, stream, a tool round trip
//! (whole and streamed), a validation error, 529, 429 and 401 as the SDK
//! parses them. Skipped, with a message, when `python3` or the `anthropic`
//! package is missing (`pip install anthropic`).

use std::process::Command;
use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatResponse, ContentBlock, ProviderId, StopReason, Usage};
use palisade_testkit::anthropic::{FakeAnthropic, Fault};
use serde_json::json;

const KEY: &str = "sk-ant-sdk-test";

/// Why the SDK check cannot run, or `None` (printing the SDK's version).
fn sdk_missing() -> Option<String> {
    match palisade_testkit::python::package_version("anthropic") {
        Ok(version) => {
            println!("anthropic SDK {version}");
            None
        }
        Err(reason) => Some(reason),
    }
}

fn tool_call() -> Outcome {
    let mut r = ChatResponse::text(ProviderId::new("m"), "", Some(Usage::new(20, 8)));
    r.content = vec![ContentBlock::ToolUse {
        id: "toolu_sdk".into(),
        name: "get_weather".into(),
        input: json!({"city": "Paris"}),
    }];
    r.stop_reason = StopReason::ToolUse;
    Outcome::Respond(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_reads_the_fake_server() {
    if let Some(reason) = sdk_missing() {
        println!("skipping the Python SDK check: {reason}");
        return;
    }
    let model = ScriptedProvider::new("m")
        .then_text("hello from the fake")
        .then_text("streamed by the fake")
        .then(Duration::ZERO, tool_call())
        .then_text("sunny in Paris")
        .then(Duration::ZERO, tool_call());
    let server = FakeAnthropic::builder()
        .model("claude-sdk", model)
        .model("claude-overloaded", ScriptedProvider::new("o"))
        .model("claude-throttled", ScriptedProvider::new("t"))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    server.set_fault("claude-overloaded", Fault::overloaded());
    server.set_fault(
        "claude-throttled",
        Fault::rate_limited(Duration::from_secs(2)),
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/check_fake_server.py"
    );
    let base = server.base_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([
                script,
                &base,
                KEY,
                "claude-sdk",
                "claude-overloaded",
                "claude-throttled",
            ])
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
    // The SDK 2.x default: Bearer auth, the 2026 version.
    let first = &server.requests()[0];
    println!(
        "SDK sent anthropic-version {:?}, authorization {}",
        first.header("anthropic-version"),
        first
            .header("authorization")
            .map_or("none", |_| "Bearer ***")
    );
}
