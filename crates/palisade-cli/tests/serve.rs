//! End-to-end tests of `palisade serve`: the real binary, serving a stack
//! whose first candidate is an OpenAI-compatible upstream (the fake server
//! of palisade-testkit in this process, answering by what it is asked) and
//! whose second is simulated; the official OpenAI and Anthropic Python SDKs
//! as clients, and reqwest for the operator routes.
//!
//! Where python3 or an SDK is missing the SDK tests say so and pass, except
//! under `CI=true`, where they fail.

#![cfg(all(feature = "serve", feature = "openai"))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ContentBlock, Provider, ProviderError, ProviderId,
    StopReason, Usage, async_trait, stream_from_response,
};
use palisade_testkit::openai::{FakeOpenAi, FakeOpenAiServer};

mod support;
use support::TempFile;

const CLIENT_KEY: &str = "sk-palisade-serve-test-client-0123456789";
const ADMIN_KEY: &str = "admin-palisade-serve-test-9876543210";
const WRONG_KEY: &str = "sk-wrong-key-that-must-not-be-logged-42";

/// The upstream model: calls the first tool when given tools and no tool
/// result yet, answers `tool said: RESULT` after one, and otherwise echoes
/// the last user text. A prompt containing `slow` takes 3 s (so a
/// test can catch a call in flight); one containing `throttle` is refused
/// as throttled for 30 s.
#[derive(Debug)]
struct Upstream(ProviderId);

fn last_user_blocks(req: &ChatRequest) -> &[ContentBlock] {
    req.messages.last().map_or(&[], |m| m.content.as_slice())
}

#[async_trait]
impl Provider for Upstream {
    fn id(&self) -> &ProviderId {
        &self.0
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let blocks = last_user_blocks(&req);
        let text: String = blocks.iter().filter_map(ContentBlock::as_text).collect();
        if text.contains("slow") {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        if text.contains("throttle") {
            return Err(ProviderError::throttled(
                "upstream: slow down",
                Some(Duration::from_secs(30)),
            ));
        }
        let result = blocks.iter().find_map(|b| match b {
            ContentBlock::ToolResult { content, .. } => Some(
                content
                    .iter()
                    .filter_map(ContentBlock::as_text)
                    .collect::<String>(),
            ),
            _ => None,
        });
        let usage = Some(Usage::new(12, 7));
        let mut answer = match (result, req.tools.first()) {
            (Some(result), _) => {
                ChatResponse::text(self.0.clone(), format!("tool said: {result}"), usage)
            }
            (None, Some(tool)) => {
                let mut a = ChatResponse::text(self.0.clone(), "", usage);
                a.content = vec![ContentBlock::ToolUse {
                    id: "call_weather_1".into(),
                    name: tool.name.clone(),
                    input: serde_json::json!({"city": "Paris"}),
                }];
                a.stop_reason = StopReason::ToolUse;
                a
            }
            (None, None) => ChatResponse::text(self.0.clone(), format!("echo: {text}"), usage),
        };
        answer.model = "gpt-4o-mini".into();
        Ok(answer)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        Ok(stream_from_response(self.complete(req).await?))
    }
}

/// A running `palisade serve` and the upstream behind it.
struct Served {
    child: Child,
    base: String,
    stderr: TempFile,
    _config: TempFile,
    _upstream: FakeOpenAiServer,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    /// The default stack: the upstream, then a simulated backup.
    fn start() -> Self {
        Self::start_with(|upstream| {
            format!(
                "name = \"serve-test\"\n\
                 [[candidates]]\nid = \"upstream\"\nprovider = \"openai\"\n\
                 model = \"gpt-4o-mini\"\nbase_url = \"{upstream}\"\n\
                 [[candidates]]\nid = \"sim/backup\"\n"
            )
        })
    }

    /// The stack `config` writes, given the upstream's base URL.
    fn start_with(config: impl FnOnce(&str) -> String) -> Self {
        Self::start_with_args(config, &[])
    }

    /// [`start_with`](Self::start_with), with more `serve` arguments.
    fn start_with_args(config: impl FnOnce(&str) -> String, args: &[&str]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let upstream = runtime
            .block_on(
                FakeOpenAi::builder()
                    .any_model(Upstream(ProviderId::new("upstream")))
                    .bind("127.0.0.1:0"),
            )
            .expect("bind the fake upstream");
        let config = TempFile::new("toml", &config(&upstream.base_url()));
        let stderr = TempFile::new("log", "");
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["serve", "--config", config.path(), "--port", "0"])
            .args(["--api-key-env", "PALISADE_SERVE_TEST_KEY"])
            .args(["--admin-key-env", "PALISADE_SERVE_TEST_ADMIN"])
            .args(args)
            .env("PALISADE_SERVE_TEST_KEY", CLIENT_KEY)
            .env("PALISADE_SERVE_TEST_ADMIN", ADMIN_KEY)
            .env("RUST_LOG", "debug")
            .env_remove("OPENAI_API_KEY")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr.path()).expect("stderr file"))
            .spawn()
            .expect("spawn palisade serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the URL line");
        let base = first.trim().to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "first line: {first:?}; stderr: {}",
            std::fs::read_to_string(stderr.path()).unwrap_or_default()
        );
        Served {
            child,
            base,
            stderr,
            _config: config,
            _upstream: upstream,
            runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs a Python client script with `BASE` and `KEY` set; its stdout
    /// parsed as one JSON value.
    fn python(&self, script: &str) -> serde_json::Value {
        let out = Command::new("python3")
            .args(["-c", script])
            .env("BASE", &self.base)
            .env("KEY", CLIENT_KEY)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "python failed:\n{}\nserver stderr:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Starts a slow call and waits until the stack has it in flight.
    fn slow_call_in_flight(
        &self,
        http: &reqwest::Client,
    ) -> tokio::task::JoinHandle<Result<(u16, String), reqwest::Error>> {
        let req = http
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(CLIENT_KEY)
            .json(&serde_json::json!({
                "model": "any", "messages": [{"role": "user", "content": "a slow one"}]
            }));
        let call = self.runtime.spawn(async move {
            let r = req.send().await?;
            Ok((r.status().as_u16(), r.text().await?))
        });
        let stats = http.get(self.url("/stats")).bearer_auth(CLIENT_KEY);
        for _ in 0..600 {
            let stats = stats.try_clone().expect("clonable request");
            let body: serde_json::Value = self
                .runtime
                .block_on(async { stats.send().await?.json().await })
                .expect("stats");
            if body["candidates"][0]["in_flight"] == 1 {
                return call;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the slow call never showed in flight");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SDK's version, or `None` after saying why it is skipped; under
/// `CI=true` a missing SDK fails the test.
fn sdk(package: &str) -> Option<String> {
    match palisade_testkit::python::package_version(package) {
        Ok(version) => Some(version),
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and {why}: the serve SDK tests need it"
            );
            eprintln!("SKIPPED: {why}; the {package} SDK check of palisade serve did not run");
            None
        }
    }
}

const OPENAI_SCRIPT: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
out = {}
user = [{"role": "user", "content": "hello there"}]
r = c.chat.completions.create(model="gpt-4o-mini", messages=user, max_tokens=50)
out["text"] = r.choices[0].message.content
out["finish"] = r.choices[0].finish_reason
out["completion_tokens"] = r.usage.completion_tokens
raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=user)
out["request_id"] = raw.headers.get("x-request-id")
out["served_by"] = raw.headers.get("x-palisade-served-by")
text, usage = "", None
for chunk in c.chat.completions.create(model="gpt-4o-mini", messages=user, stream=True,
                                       stream_options={"include_usage": True}):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["stream_text"], out["stream_usage"] = text, usage
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ask = [{"role": "user", "content": "weather in Paris?"}]
t = c.chat.completions.create(model="gpt-4o-mini", messages=ask, tools=tools)
call = t.choices[0].message.tool_calls[0]
out["tool"] = [call.function.name, json.loads(call.function.arguments), t.choices[0].finish_reason]
turn = {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments}}]}
f = c.chat.completions.create(model="gpt-4o-mini", tools=tools,
                              messages=ask + [turn, {"role": "tool", "tool_call_id": call.id, "content": "sunny"}])
out["after_tool"] = f.choices[0].message.content
name, args, finish = "", "", None
for chunk in c.chat.completions.create(model="gpt-4o-mini", messages=ask, tools=tools, stream=True):
    for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        name += tc.function.name or ""
        args += tc.function.arguments or ""
    if chunk.choices and chunk.choices[0].finish_reason:
        finish = chunk.choices[0].finish_reason
out["stream_tool"] = [name, json.loads(args), finish]
try:
    openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key="sk-wrong", max_retries=0) \
        .chat.completions.create(model="gpt-4o-mini", messages=user)
    out["wrong_key"] = "accepted"
except openai.AuthenticationError as e:
    out["wrong_key"] = e.status_code
print(json.dumps(out))
"#;

#[test]
fn the_openai_sdk_is_answered_through_the_stack_streaming_and_with_tools() {
    if sdk("openai").is_none() {
        return;
    }
    let served = Served::start();
    let out = served.python(OPENAI_SCRIPT);
    assert_eq!(out["text"], "echo: hello there", "{out}");
    assert_eq!(out["finish"], "stop");
    assert_eq!(out["completion_tokens"], 7);
    assert!(
        out["request_id"].as_str().unwrap().starts_with("req_"),
        "{out}"
    );
    assert_eq!(out["served_by"], "upstream");
    assert_eq!(out["stream_text"], "echo: hello there");
    assert_eq!(out["stream_usage"], 7);
    assert_eq!(
        out["tool"],
        serde_json::json!(["get_weather", {"city": "Paris"}, "tool_calls"])
    );
    assert_eq!(out["after_tool"], "tool said: sunny");
    assert_eq!(
        out["stream_tool"],
        serde_json::json!(["get_weather", {"city": "Paris"}, "tool_calls"])
    );
    assert_eq!(out["wrong_key"], 401);
}

const ANTHROPIC_SCRIPT: &str = r#"
import json, os, anthropic
c = anthropic.Anthropic(base_url=os.environ["BASE"], api_key=os.environ["KEY"], max_retries=0)
out = {}
user = [{"role": "user", "content": "hello there"}]
m = c.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=user)
out["text"], out["stop"], out["output_tokens"] = m.content[0].text, m.stop_reason, m.usage.output_tokens
raw = c.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=50, messages=user)
out["request_id"] = raw.headers.get("request-id")
with c.messages.stream(model="claude-sonnet-4-5", max_tokens=50, messages=user) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
out["stream"] = [text, final.stop_reason, final.usage.output_tokens, final.usage.input_tokens]
tools = [{"name": "get_weather", "description": "Weather of a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
ask = [{"role": "user", "content": "weather in Paris?"}]
t = c.messages.create(model="claude-sonnet-4-5", max_tokens=100, tools=tools, messages=ask)
tu = [b for b in t.content if b.type == "tool_use"][0]
out["tool"] = [tu.name, tu.input, t.stop_reason]
turn = {"role": "assistant", "content": [{"type": "tool_use", "id": tu.id, "name": tu.name, "input": tu.input}]}
result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": "sunny"}]}
f = c.messages.create(model="claude-sonnet-4-5", max_tokens=100, tools=tools, messages=ask + [turn, result])
out["after_tool"] = f.content[0].text
with c.messages.stream(model="claude-sonnet-4-5", max_tokens=100, tools=tools, messages=ask) as s:
    fm = s.get_final_message()
stu = [b for b in fm.content if b.type == "tool_use"][0]
out["stream_tool"] = [stu.name, stu.input, fm.stop_reason]
try:
    anthropic.Anthropic(base_url=os.environ["BASE"], api_key="sk-ant-wrong", max_retries=0) \
        .messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=user)
    out["wrong_key"] = "accepted"
except anthropic.AuthenticationError as e:
    out["wrong_key"] = e.status_code
try:
    c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "robot", "content": "x"}])
    out["bad_role"] = "accepted"
except anthropic.BadRequestError as e:
    out["bad_role"] = [e.status_code, e.body["error"]["message"]]
print(json.dumps(out))
"#;

#[test]
fn the_anthropic_sdk_is_answered_through_the_stack_streaming_and_with_tools() {
    if sdk("anthropic").is_none() {
        return;
    }
    let served = Served::start();
    let out = served.python(ANTHROPIC_SCRIPT);
    assert_eq!(out["text"], "echo: hello there", "{out}");
    assert_eq!(out["stop"], "end_turn");
    assert_eq!(out["output_tokens"], 7);
    assert!(
        out["request_id"].as_str().unwrap().starts_with("req_"),
        "{out}"
    );
    assert_eq!(
        out["stream"],
        serde_json::json!(["echo: hello there", "end_turn", 7, 12])
    );
    assert_eq!(
        out["tool"],
        serde_json::json!(["get_weather", {"city": "Paris"}, "tool_use"])
    );
    assert_eq!(out["after_tool"], "tool said: sunny");
    assert_eq!(
        out["stream_tool"],
        serde_json::json!(["get_weather", {"city": "Paris"}, "tool_use"])
    );
    assert_eq!(out["wrong_key"], 401);
    assert_eq!(out["bad_role"][0], 400);
    let message = out["bad_role"][1].as_str().unwrap();
    assert!(
        message.contains("messages[0].role") && message.contains("robot"),
        "{message}"
    );
}

/// The operator routes, the client key, and a shutdown that drains.
#[test]
fn operator_routes_keys_and_a_draining_shutdown() {
    let mut served = Served::start();
    let http = reqwest::Client::new();
    let rt = &served.runtime;
    let get = |path: &str, key: Option<&str>| {
        let mut req = http.get(served.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        rt.block_on(async {
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.text().await.expect("body"))
        })
    };

    let (status, _, body) = get("/health", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");

    // The stats are behind the client key.
    let (status, headers, body) = get("/stats", None);
    assert_eq!(status, 401, "{body}");
    assert!(headers.contains_key("x-request-id"));
    let (status, _, body) = get("/stats", Some(WRONG_KEY));
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(WRONG_KEY), "{body}");
    let (status, _, body) = get("/stats", Some(CLIENT_KEY));
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = stats["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["upstream", "sim/backup"], "{body}");

    // A call, with the key as Anthropic sends it; then its trace in the
    // stats and the metrics.
    let post = |path: &str, key: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(served.url(path)).json(&body);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        rt.block_on(async {
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.text().await.expect("body"))
        })
    };
    let chat = serde_json::json!({"model": "any", "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, body) = post("/v1/chat/completions", None, chat.clone());
    assert_eq!(status, 401, "{body}");
    let (status, headers, body) = post("/v1/chat/completions", Some(CLIENT_KEY), chat);
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-palisade-served-by"], "upstream");
    let bad = serde_json::json!({"model": "m", "messages": [], "frequency_penalty": 1});
    let (status, _, body) = post("/v1/chat/completions", Some(CLIENT_KEY), bad);
    assert_eq!(status, 400, "{body}");
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frequency_penalty"),
        "{body}"
    );
    let (_, _, body) = get("/stats", Some(CLIENT_KEY));
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["candidates"][0]["successes"], 1, "{body}");

    let (status, headers, metrics) = get("/metrics", None);
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        metrics.contains("palisade_serve_requests")
            && metrics.contains("route=\"/v1/chat/completions\""),
        "{metrics}"
    );
    assert!(metrics.contains("palisade_stack_attempts"), "{metrics}");

    // Reset: the admin key only.
    let (status, _, body) = post("/reset", Some(CLIENT_KEY), serde_json::json!({}));
    assert_eq!(status, 401, "the client key is not the admin key: {body}");
    let (status, _, body) = post("/reset", Some(ADMIN_KEY), serde_json::json!({}));
    assert_eq!(status, 200, "{body}");

    // A slow call in flight, then SIGTERM: the call is answered, the
    // server exits 0.
    let slow = served.slow_call_in_flight(&http);
    let pid = served.child.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let (status, body) = rt
        .block_on(slow)
        .expect("slow task")
        .expect("slow call answered");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("echo: a slow one"), "{body}");
    let exit = served.child.wait().expect("wait");
    let log = served.log();
    assert!(exit.success(), "exit {exit:?}; stderr:\n{log}");
    assert!(log.contains("waiting for the calls in flight"), "{log}");
    // The keys were never logged, not even at debug level.
    for key in [CLIENT_KEY, ADMIN_KEY, WRONG_KEY] {
        assert!(!log.contains(key), "a key reached the log:\n{log}");
    }
}

/// A stack with nothing left to try answers as the providers do: 503 with
/// `Retry-After` (the only candidate cooling down after a throttle), in
/// each endpoint's error shape, with its request id header.
#[test]
fn a_throttled_stack_answers_with_retry_after_in_each_dialect() {
    let served = Served::start_with(|upstream| {
        format!(
            "name = \"throttled\"\n[retry]\nmax_attempts = 1\n\
             [timeout]\noverall = \"300ms\"\n\
             [[candidates]]\nid = \"upstream\"\nprovider = \"openai\"\n\
             model = \"gpt-4o-mini\"\nbase_url = \"{upstream}\"\n"
        )
    });
    let http = reqwest::Client::new();
    let call = |path: &str, body: serde_json::Value| {
        let req = http
            .post(served.url(path))
            .bearer_auth(CLIENT_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body);
        served.runtime.block_on(async {
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let body: serde_json::Value = r.json().await.expect("JSON body");
            (status, headers, body)
        })
    };
    let retry_after = |headers: &reqwest::header::HeaderMap| -> u64 {
        headers["retry-after"].to_str().unwrap().parse().unwrap()
    };
    let messages = serde_json::json!([{"role": "user", "content": "please throttle"}]);
    let (status, headers, body) = call(
        "/v1/chat/completions",
        serde_json::json!({"model": "m", "messages": messages}),
    );
    // The throttle put the only candidate in a 30 s cooldown: the stack
    // says when it recovers.
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["type"], "server_error", "{body}");
    assert_eq!(retry_after(&headers), 30, "{headers:?}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(headers.contains_key("x-request-id"));

    let (status, headers, body) = call(
        "/v1/messages",
        serde_json::json!({"model": "m", "max_tokens": 10, "messages": messages}),
    );
    assert_eq!(status, 503, "{body}");
    assert!((29..=30).contains(&retry_after(&headers)), "{headers:?}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    assert_eq!(
        body["request_id"].as_str(),
        headers["request-id"].to_str().ok(),
        "{body}"
    );
}

/// A key variable that is named but unset refuses to start (rather than
/// serve without a key), naming the variable.
#[test]
fn a_named_but_unset_key_variable_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--port", "0"])
        .args(["--api-key-env", "PALISADE_SERVE_TEST_SURELY_UNSET"])
        .env_remove("PALISADE_SERVE_TEST_SURELY_UNSET")
        .env_remove("RUST_LOG")
        // No AWS credentials: the default stack is the simulated one.
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .output()
        .expect("run palisade serve");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--api-key-env") && err.contains("`PALISADE_SERVE_TEST_SURELY_UNSET`"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it must not have started serving");
}

/// A call that outlasts `--drain-timeout` is cut, and the exit status says so.
#[test]
fn a_drain_that_times_out_exits_1() {
    let mut served = Served::start_with_args(
        |upstream| {
            format!(
                "[[candidates]]\nid = \"upstream\"\nprovider = \"openai\"\n\
                 model = \"gpt-4o-mini\"\nbase_url = \"{upstream}\"\n"
            )
        },
        &["--drain-timeout", "0"],
    );
    let http = reqwest::Client::new();
    let slow = served.slow_call_in_flight(&http);
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let exit = served.child.wait().expect("wait");
    let log = served.log();
    assert_eq!(exit.code(), Some(1), "stderr:\n{log}");
    assert!(
        log.contains("calls still in flight after --drain-timeout 0 s"),
        "{log}"
    );
    let cut = served.runtime.block_on(slow).expect("slow task");
    assert!(
        cut.is_err(),
        "the cut call cannot have been answered: {cut:?}"
    );
}
