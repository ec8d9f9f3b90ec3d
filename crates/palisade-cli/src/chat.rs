//! `palisade chat`: sends one prompt through a palisade stack and prints the
//! answer, the model that served it and the attempts trail.
//!
//! The stack comes from `--config STACK.toml` (the format of docs/config.md).
//! Each candidate's `provider` picks its client (`providers.rs`): `sim`
//! (simulated models: default latency, no quotas; the default for model ids
//! starting with `sim/`), `bedrock` (the default otherwise; AWS credentials),
//! `openai` or `anthropic`, each network provider behind the feature of the
//! same name; one stack may mix them. With no config
//! and no AWS credentials, the stack is the default simulation scenario's
//! (three simulated models behind limiters, breakers, retry and fallback),
//! and the command says so. A stack of simulated models only runs in virtual
//! time: the answer comes at once and the time reported is simulated.
//!
//! Exit status: 0 with an answer, 1 on a failed call or a bad config, 2 on
//! usage errors (from clap). A bad config is one line on stderr. A failed
//! call is its error on one line (for a stack, how many candidates were tried
//! and how each attempt ended) followed by the attempts trail, one attempt a
//! line; with `--json`, stdout gets a JSON object with an `error` (kind,
//! message, provider, `candidates_tried`, `attempts`) instead of a `response`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use palisade_core::{ChatRequest, ChatResponse, Provider, ProviderError, SharedProvider};
use serde::Serialize;

mod failure;

use failure::{call_failed, fail_setup, trail_lines};

use crate::stack_file::{self, StackPlan};

/// Arguments of `palisade chat`.
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// Stack config TOML (docs/config.md); the simulated default stack when
    /// absent and no AWS credentials are set.
    #[arg(long, value_name = "STACK.toml")]
    config: Option<PathBuf>,
    /// Print the answer, model and attempts as JSON.
    #[arg(long)]
    json: bool,
    /// Most tokens the answer may have.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_tokens: u32,
    /// The prompt.
    prompt: String,
}

/// What `--json` prints.
#[derive(Serialize)]
struct ChatOutput<'a> {
    /// Whether every candidate was simulated (the time is then simulated).
    simulated: bool,
    /// Time from sending to the answer, in ms.
    elapsed_ms: f64,
    /// The answer, with `served_by`, `usage` and `attempts`.
    response: &'a ChatResponse,
}

/// Why `palisade chat` got no answer.
enum Failure {
    /// The config or the providers could not be set up.
    Setup(String),
    /// The call failed after this long.
    Call(ProviderError, std::time::Duration),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Setup(message)
    }
}

/// Installs a `tracing` subscriber when `RUST_LOG` is set; logging stays off
/// otherwise, so simulations pay nothing for it.
pub(crate) fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Runs `palisade chat`.
pub(crate) fn run(args: ChatArgs) -> ExitCode {
    init_tracing();
    let plan = match StackPlan::from_file(args.config.as_deref()) {
        Ok(plan) => plan,
        Err(e) => return fail_setup(&e, args.json),
    };
    if let Some(note) = &plan.note {
        eprintln!("palisade: {note}");
    }
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    runtime.enable_all();
    if plan.is_simulated() {
        runtime.start_paused(true);
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => return fail_setup(&format!("cannot start the runtime: {e}"), args.json),
    };
    let simulated = plan.is_simulated();
    let json = args.json;
    let request = ChatRequest::user(args.prompt).with_max_tokens(args.max_tokens);
    let outcome = runtime.block_on(async move {
        let stack: SharedProvider = Arc::new(plan.build().await?);
        let start = tokio::time::Instant::now();
        let answer = stack
            .complete(request)
            .await
            .map_err(|e| Failure::Call(e, start.elapsed()))?;
        Ok::<_, Failure>((answer, start.elapsed()))
    });
    let (answer, elapsed) = match outcome {
        Ok(v) => v,
        Err(Failure::Setup(e)) => return fail_setup(&e, json),
        Err(Failure::Call(e, elapsed)) => return call_failed(&e, elapsed, simulated, json),
    };
    if json {
        let out = ChatOutput {
            simulated,
            elapsed_ms: (elapsed.as_secs_f64() * 1e4).round() / 10.0,
            response: &answer,
        };
        return match serde_json::to_string_pretty(&out) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    println!("{}", answer.text_content());
    println!();
    let time = if simulated { "simulated " } else { "" };
    println!(
        "served by {} (model {}) in {}{:.1} s",
        answer.served_by,
        answer.model,
        time,
        elapsed.as_secs_f64()
    );
    if let Some(usage) = answer.usage {
        println!(
            "usage: {} input tokens, {} output tokens",
            usage.input_tokens, usage.output_tokens
        );
    }
    if !answer.attempts.is_empty() {
        println!("attempts:");
        for line in trail_lines(&answer.attempts) {
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {error}");
    ExitCode::from(1)
}

fn describe(error: &ProviderError) -> String {
    stack_file::one_line(&error.to_string())
}
