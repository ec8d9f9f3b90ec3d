//! `palisade chat --config` with `provider = "openai"`, `"anthropic"` and
//! `"bedrock"` candidates, end to end: the built binary's `fake-openai`,
//! `fake-anthropic` and `fake-bedrock` serve simulated models over the real
//! wire formats, and `palisade chat` reaches them through the real clients
//! (reqwest, the AWS SDK).
#![cfg(all(
    feature = "openai",
    feature = "anthropic",
    feature = "bedrock",
    feature = "fake-openai",
    feature = "fake-anthropic",
    feature = "fake-bedrock"
))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

mod support;
use support::TempFile;

/// The models every fake serves: one that answers, one in an outage from
/// the server's start (503 / 529 / `ServiceUnavailableException`). Latency
/// is small so the tests are quick in real time.
const SCENARIO: &str = r#"
[[models]]
id = "sim/up"
[models.latency]
time_to_first_token_ms = { kind = "fixed", value = 5 }
per_output_token_ms = { kind = "fixed", value = 0 }

[[models]]
id = "sim/down"
[models.failures]
outages = [{ from = "0s", to = "24h" }]
"#;

/// A `palisade fake-*` server, killed on drop.
struct Fake {
    child: Child,
    url: String,
}

impl Fake {
    fn start(command: &str, scenario: &TempFile, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([command, "--port", "0", "--config", scenario.path()])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the fake server");
        let stdout = child.stdout.take().expect("stdout");
        let url = BufReader::new(stdout)
            .lines()
            .next()
            .expect("a first line")
            .expect("utf-8");
        assert!(url.starts_with("http://"), "{command}: {url}");
        Fake { child, url }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `palisade chat --json --config STACK` with fake AWS credentials and no
/// other provider variables than `env`.
fn chat(stack: &str, env: &[(&str, &str)]) -> Output {
    let config = TempFile::new("toml", stack);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args([
        "chat",
        "--json",
        "--max-tokens",
        "16",
        "--config",
        config.path(),
        "hello",
    ])
    .env_remove("RUST_LOG")
    .env_remove("AWS_PROFILE")
    .env_remove("AWS_ENDPOINT_URL")
    .env_remove("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    .env_remove("OPENAI_API_KEY")
    .env_remove("ANTHROPIC_API_KEY")
    .env("AWS_ACCESS_KEY_ID", "test")
    .env("AWS_SECRET_ACCESS_KEY", "test")
    .env_remove("AWS_REGION")
    .env_remove("BEDROCK_REGION");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run palisade chat")
}

fn answer(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `(provider, outcome)` of each attempt.
fn trail(v: &serde_json::Value) -> Vec<(String, String)> {
    v["response"]["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap_or_default().to_owned(),
                a["outcome"]["outcome"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_openai_candidate_reaches_fake_openai() {
    let scenario = TempFile::new("toml", SCENARIO);
    let fake = Fake::start("fake-openai", &scenario, &["--api-key", "sk-local"]);
    let stack = format!(
        "[[candidates]]\nid = \"local\"\nprovider = \"openai\"\nmodel = \"sim/up\"\n\
         base_url = \"{}\"\napi_key_env = \"LOCAL_OPENAI_KEY\"\n",
        fake.url
    );
    let v = answer(&chat(&stack, &[("LOCAL_OPENAI_KEY", "sk-local")]));
    assert_eq!(v["simulated"], false);
    assert_eq!(v["response"]["served_by"], "local");
    assert_eq!(v["response"]["usage"]["output_tokens"], 16);
    assert_eq!(trail(&v), [("local".to_owned(), "succeeded".to_owned())]);
}

#[test]
fn an_anthropic_candidate_reaches_fake_anthropic_with_the_default_key_variable() {
    let scenario = TempFile::new("toml", SCENARIO);
    let fake = Fake::start("fake-anthropic", &scenario, &["--api-key", "sk-ant-local"]);
    let stack = format!(
        "[[candidates]]\nid = \"claude\"\nprovider = \"anthropic\"\nmodel = \"sim/up\"\n\
         base_url = \"{}\"\n",
        fake.url
    );
    let v = answer(&chat(&stack, &[("ANTHROPIC_API_KEY", "sk-ant-local")]));
    assert_eq!(v["response"]["served_by"], "claude");
    assert_eq!(v["response"]["model"], "sim/up");
    assert_eq!(trail(&v), [("claude".to_owned(), "succeeded".to_owned())]);
}

/// One stack, three providers: Anthropic and Bedrock are down, the
/// OpenAI-compatible server answers; the trail shows all three, in order.
/// Then with Bedrock up it answers and OpenAI is never called.
#[test]
fn a_mixed_stack_falls_back_from_anthropic_to_bedrock_to_openai() {
    let scenario = TempFile::new("toml", SCENARIO);
    let anthropic = Fake::start("fake-anthropic", &scenario, &[]);
    let bedrock = Fake::start("fake-bedrock", &scenario, &[]);
    let openai = Fake::start("fake-openai", &scenario, &[]);
    let stack = |bedrock_model: &str| {
        format!(
            "name = \"mixed\"\n\
             [retry]\nmax_attempts = 1\n\
             [fallback]\nmax_rounds = 1\n\
             [[candidates]]\nid = \"claude\"\nprovider = \"anthropic\"\nmodel = \"sim/down\"\n\
             base_url = \"{}\"\napi_key_env = \"MIXED_ANTHROPIC_KEY\"\n\
             [[candidates]]\nid = \"bedrock\"\nprovider = \"bedrock\"\nmodel = \"{bedrock_model}\"\n\
             region = \"eu-west-1\"\nendpoint_url = \"{}\"\n\
             [[candidates]]\nid = \"local\"\nprovider = \"openai\"\nmodel = \"sim/up\"\n\
             base_url = \"{}\"\n",
            anthropic.url, bedrock.url, openai.url
        )
    };
    let env = [("MIXED_ANTHROPIC_KEY", "sk-ant-mixed")];

    let v = answer(&chat(&stack("sim/down"), &env));
    assert_eq!(v["response"]["served_by"], "local");
    let providers: Vec<String> = trail(&v).into_iter().map(|(p, _)| p).collect();
    assert_eq!(providers, ["claude", "bedrock", "local"], "{v}");
    let outcomes: Vec<String> = trail(&v).into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, ["failed", "failed", "succeeded"], "{v}");

    let v = answer(&chat(&stack("sim/up"), &env));
    assert_eq!(v["response"]["served_by"], "bedrock");
    assert_eq!(
        trail(&v),
        [
            ("claude".to_owned(), "failed".to_owned()),
            ("bedrock".to_owned(), "succeeded".to_owned())
        ]
    );
}

#[test]
fn a_missing_key_names_the_variable_and_the_candidate_and_no_call_is_made() {
    let stack = "[[candidates]]\nid = \"claude\"\nprovider = \"anthropic\"\nmodel = \"m\"\n\
                 base_url = \"http://127.0.0.1:9\"\napi_key_env = \"PALISADE_TEST_UNSET_KEY\"\n";
    let out = chat(stack, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("candidate `claude`"), "{err}");
    assert!(err.contains("`PALISADE_TEST_UNSET_KEY`"), "{err}");
    assert!(err.contains("api_key_env"), "{err}");
}

#[test]
fn an_unknown_provider_is_refused_naming_the_candidate() {
    let out = chat(
        "[[candidates]]\nid = \"g\"\nprovider = \"gemini\"\nmodel = \"m\"\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("candidates.g.provider"), "{err}");
    assert!(err.contains("gemini"), "{err}");
}

/// A wrong key: the call fails as an auth error, and the key itself
/// appears nowhere in what `palisade chat` prints.
#[test]
fn a_refused_key_is_an_error_that_never_shows_the_key() {
    let scenario = TempFile::new("toml", SCENARIO);
    let anthropic = Fake::start("fake-anthropic", &scenario, &["--api-key", "sk-right"]);
    let openai = Fake::start("fake-openai", &scenario, &["--api-key", "sk-right"]);
    let secret = "sk-wrong-0123456789-secret";
    for (provider, url) in [("anthropic", &anthropic.url), ("openai", &openai.url)] {
        let stack = format!(
            "[[candidates]]\nid = \"c\"\nprovider = \"{provider}\"\nmodel = \"sim/up\"\n\
             base_url = \"{url}\"\napi_key_env = \"WRONG_KEY\"\n"
        );
        let out = chat(&stack, &[("WRONG_KEY", secret)]);
        assert_eq!(out.status.code(), Some(1), "{provider}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "{provider}: {all}");
        assert!(!all.contains("0123456789"), "{provider}: {all}");
    }
}

/// Issue 21 item 7: `region` is a candidate key now, and the error for a
/// missing one says so and names the candidate.
#[test]
fn a_missing_region_names_the_candidate_and_the_region_key() {
    let stack = "[[candidates]]\nid = \"b\"\nprovider = \"bedrock\"\nmodel = \"sim/up\"\n\
                 endpoint_url = \"http://127.0.0.1:9\"\n";
    // No profile file and no instance metadata: nothing else can name a region.
    let no_region = [
        ("AWS_CONFIG_FILE", "/nonexistent/aws/config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let out = chat(stack, &no_region);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("candidate `b`"), "{err}");
    assert!(err.contains("no AWS region: set `region`"), "{err}");
}
