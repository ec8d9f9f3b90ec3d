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
