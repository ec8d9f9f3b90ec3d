//! End-to-end tests of `palisade chat`, running the built binary with no AWS
//! credentials: the simulated default stack, a simulated stack config, and
//! exit codes.

use std::process::{Command, Output};

mod support;
use support::TempFile;

const AWS_VARS: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

fn palisade(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args).env_remove("RUST_LOG");
    for var in AWS_VARS {
        cmd.env_remove(var);
    }
    cmd.output().expect("run palisade")
}

#[test]
fn without_config_or_credentials_it_uses_a_simulated_stack_and_says_so() {
    let out = palisade(&["chat", "Hello"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("using a simulated stack"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("served by sim/primary"), "{text}");
    assert!(text.contains("attempts:"), "{text}");
}

#[test]
fn json_names_the_model_and_the_attempts() {
    let out = palisade(&["chat", "--json", "--max-tokens", "64", "Hello"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["simulated"], true);
    assert_eq!(v["response"]["served_by"], "sim/primary");
    assert!(v["response"]["usage"]["output_tokens"].as_u64().unwrap() <= 64);
    assert_eq!(
        v["response"]["attempts"][0]["outcome"]["outcome"],
        "succeeded"
    );
    // Same prompt, same simulated answer.
    let again = palisade(&["chat", "--json", "--max-tokens", "64", "Hello"]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn a_stack_config_with_simulated_candidates_is_used() {
    let config = TempFile::new(
        "toml",
        "name = \"mine\"\n\
         [[candidates]]\nid = \"sim/first\"\n\
         [[candidates]]\nid = \"sim/second\"\n",
    );
    let out = palisade(&["chat", "--config", config.path(), "--json", "Hi"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response"]["served_by"], "sim/first");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_configs_are_one_line_errors_with_exit_1() {
    let bad = TempFile::new("toml", "[[candidates]]\nid = \"sim/a\"\nbogus = 1\n");
    let out = palisade(&["chat", "--config", bad.path(), "Hi"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let out = palisade(&["chat", "--config", "/nonexistent/stack.toml", "Hi"]);
    assert_eq!(out.status.code(), Some(1));

    assert_eq!(
        palisade(&["chat"]).status.code(),
        Some(2),
        "the prompt is required"
    );
}

/// `palisade fake-bedrock` serves the simulated models over the Bedrock wire
/// protocol: a Converse call to the default primary answers like Bedrock.
#[cfg(feature = "fake-bedrock")]
#[test]
fn fake_bedrock_serves_the_simulated_models_over_the_wire() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;

    let mut server = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["fake-bedrock", "--port", "0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn palisade fake-bedrock");
    let stdout = server.stdout.take().expect("stdout");
    let url = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a first line")
        .expect("utf-8");
    let addr = url.trim_start_matches("http://").to_owned();

    let body = r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":20}}"#;
    let mut stream = TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "POST /model/sim%2Fprimary/converse HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    let read = stream.read_to_string(&mut response);
    let _ = server.kill();
    let _ = server.wait();
    read.expect("read the answer");

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"outputTokens\":20"), "{response}");
    assert!(
        response.contains("\"stopReason\":\"max_tokens\""),
        "{response}"
    );
}

#[cfg(not(feature = "fake-bedrock"))]
#[test]
fn fake_bedrock_without_its_feature_says_how_to_get_it() {
    let out = palisade(&["fake-bedrock", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features fake-bedrock"), "{err}");
}

#[cfg(not(feature = "fake-openai"))]
#[test]
fn fake_openai_without_its_feature_says_how_to_get_it() {
    let out = palisade(&["fake-openai", "--port", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features fake-openai"), "{err}");
}

/// Without the `openai` feature, an OpenAI candidate is refused before
/// anything starts, saying which feature is missing.
#[cfg(not(feature = "openai"))]
#[test]
fn an_openai_candidate_without_the_feature_names_it() {
    let config = TempFile::new(
        "toml",
        "[[candidates]]\nid = \"gpt\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\n",
    );
    let out = palisade(&["chat", "--config", config.path(), "Hi"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("candidate `gpt`"), "{err}");
    assert!(err.contains("--features openai"), "{err}");
}

/// The whole way round: `palisade chat` with AWS credentials and
/// `BEDROCK_MODEL_ID` builds Bedrock candidates (the real AWS SDK), pointed
/// by `AWS_ENDPOINT_URL` at `palisade fake-bedrock`, which answers with a
/// simulated model.
#[cfg(all(feature = "bedrock", feature = "fake-bedrock"))]
#[test]
fn chat_through_the_bedrock_sdk_to_the_fake_bedrock() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut server = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["fake-bedrock", "--port", "0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn palisade fake-bedrock");
    let stdout = server.stdout.take().expect("stdout");
    let url = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a first line")
        .expect("utf-8");

    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["chat", "--json", "--max-tokens", "30", "hello"])
        .env_remove("RUST_LOG")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &url)
        .env("BEDROCK_MODEL_ID", "sim/primary")
        .env_remove("BEDROCK_FALLBACK_MODELS")
        .output()
        .expect("run palisade chat");
    let _ = server.kill();
    let _ = server.wait();

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["simulated"], false);
    assert_eq!(v["response"]["model"], "sim/primary");
    assert_eq!(v["response"]["usage"]["output_tokens"], 30);
}

/// Issue #21, problem 5: a failed call prints its attempts trail, and with
/// `--json` a JSON error object on stdout; the exit status is 1. Here no
/// candidate's context window holds the request, so each is skipped.
#[test]
fn a_failed_call_prints_the_trail_and_a_json_error() {
    let config = TempFile::new(
        "toml",
        "[[candidates]]\nid = \"sim/small\"\ncontext_window = 8\n\
         [[candidates]]\nid = \"sim/smaller\"\ncontext_window = 4\n",
    );
    let prompt = "a prompt that needs more than a handful of tokens of context window";

    let out = palisade(&["chat", "--config", config.path(), "--json", prompt]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let error = &v["error"];
    assert_eq!(error["kind"], "context_window_exceeded", "{v}");
    assert_eq!(v["simulated"], true, "{v}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("2 candidates"), "{message}");
    let attempts = error["attempts"].as_array().expect("an attempts array");
    assert_eq!(attempts.len(), 2, "{v}");
    assert_eq!(attempts[0]["provider"], "sim/small");
    assert_eq!(attempts[0]["outcome"]["outcome"], "skipped");
    assert_eq!(attempts[1]["provider"], "sim/smaller");
    assert_eq!(error["candidates_tried"], 0, "{v}");

    let out = palisade(&["chat", "--config", config.path(), prompt]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("palisade: "), "{err}");
    assert!(err.contains("attempts:"), "{err}");
    assert!(err.contains("  1. sim/small skipped: "), "{err}");
    assert!(err.contains("  2. sim/smaller skipped: "), "{err}");
}

/// `--json` with a config it cannot use still writes JSON on stdout.
#[test]
fn json_reports_a_bad_config_as_a_json_error() {
    let bad = TempFile::new(
        "toml",
        "[retry]\nmax_attempts = 0\n[[candidates]]\nid = \"sim/a\"\n",
    );
    let out = palisade(&["chat", "--config", bad.path(), "--json", "Hi"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["error"]["kind"], "config");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("`retry.max_attempts`"), "{message}");
}

/// Issue #21, problem 5, as reported: every Bedrock candidate fails (here
/// the endpoint refuses connections); the error says that all of them were
/// tried, not only the last model's error, and `--json` carries the trail.
#[cfg(feature = "bedrock")]
#[test]
fn when_every_bedrock_candidate_fails_the_error_names_them_all() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
        // Dropped here: nothing listens on the port any more.
    };
    let config = TempFile::new(
        "toml",
        "[retry]\nmax_attempts = 1\n\
         [[candidates]]\nid = \"haiku\"\nmodel = \"anthropic.claude-3-haiku-20240307-v1:0\"\n\
         [[candidates]]\nid = \"sonnet\"\nmodel = \"anthropic.claude-3-5-sonnet-20240620-v1:0\"\n",
    );
    let run = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
        cmd.args(["chat", "--config", config.path()]);
        if json {
            cmd.arg("--json");
        }
        cmd.arg("hello")
            .env_remove("RUST_LOG")
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .output()
            .expect("run palisade chat")
    };

    let out = run(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains("none of 2 candidates answered (2 failed)"),
        "{err}"
    );
    assert!(
        first.contains("`haiku` failed") && first.contains("`sonnet` failed"),
        "{err}"
    );
    assert!(err.contains("  1. haiku failed: "), "{err}");
    assert!(err.contains("  2. sonnet failed: "), "{err}");

    let out = run(true);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["error"]["candidates_tried"], 2, "{v}");
    assert_eq!(v["error"]["provider"], "sonnet", "{v}");
    let attempts = v["error"]["attempts"].as_array().expect("attempts");
    let failed: Vec<_> = attempts
        .iter()
        .map(|a| (a["provider"].as_str(), a["outcome"]["outcome"].as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            (Some("haiku"), Some("failed")),
            (Some("sonnet"), Some("failed"))
        ]
    );
}
