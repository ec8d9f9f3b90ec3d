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
use palisade_sim::{Scenario, SimulatedModelConfig, SimulatedProvider};
use palisade_stack::{ProviderKind, StackBuilder, StackConfig};
use serde::Serialize;

mod failure;

use failure::{call_failed, fail_setup, trail_lines};

use crate::providers;

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

/// Where the stack comes from, and whether it runs in virtual time.
struct Plan {
    config: StackConfig,
    /// Simulated models bound by candidate id; every other candidate gets
    /// its network provider from [`providers::remote`].
    simulated: Vec<(String, SimulatedModelConfig)>,
    note: Option<String>,
}

impl Plan {
    fn is_simulated(&self) -> bool {
        self.simulated.len() == self.config.candidates.len()
    }
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
    let plan = match plan(&args) {
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
        let stack = build(plan).await?;
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
    one_line(&error.to_string())
}

/// A multi-line message (a TOML error with its source excerpt) on one line:
/// the first line, then the last.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if lines.len() > 1 => format!("{first}: {last}"),
        (Some(first), _) => (*first).to_owned(),
        _ => message.to_owned(),
    }
}

/// Whether the environment names AWS credentials (keys, a profile, a web
/// identity or a container credentials endpoint).
fn aws_credentials_present() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn plan(args: &ChatArgs) -> Result<Plan, String> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            StackConfig::from_toml(&text)
                .map_err(|e| format!("{}: {}", path.display(), one_line(&e.to_string())))?
        }
        None if aws_credentials_present() && cfg!(feature = "bedrock") => {
            // The limits come from the stack's variables, the models from
            // Bedrock's (read by palisade-bedrock).
            let mut config = StackConfig::from_env().map_err(|e| e.to_string())?;
            let Some(models) = bedrock_env_models()? else {
                return Err(
                    "AWS credentials are set but BEDROCK_MODEL_ID is not; set it, or pass --config"
                        .into(),
                );
            };
            config.add_models(models);
            config.name = "bedrock".into();
            // Every model named in the environment is a Bedrock model, even
            // one spelled `sim/…` (served by a fake Bedrock, say).
            for candidate in &mut config.candidates {
                candidate.provider = Some(ProviderKind::Bedrock.as_str().to_owned());
            }
            return Ok(Plan {
                config,
                simulated: Vec::new(),
                note: None,
            });
        }
        None => {
            let why = if aws_credentials_present() {
                "this binary was built without the `bedrock` feature"
            } else {
                "no --config and no AWS credentials"
            };
            let scenario = Scenario::builtin();
            let config = scenario.palisade.stack_config(&scenario);
            let note = format!(
                "{why}: using a simulated stack ({}; see `palisade simulate --print-default`)",
                scenario
                    .models
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let simulated = scenario
                .models
                .into_iter()
                .map(|m| (m.id.clone(), m))
                .collect();
            return Ok(Plan {
                config,
                simulated,
                note: Some(note),
            });
        }
    };
    // Refuse what cannot work (an unknown provider, a key variable on a
    // Bedrock candidate, …) before any client is made.
    config.validate().map_err(|e| e.to_string())?;
    let mut simulated = Vec::new();
    let mut bedrock = false;
    for candidate in &config.candidates {
        match providers::kind_of(candidate).map_err(|e| e.to_string())? {
            ProviderKind::Simulated => simulated.push((
                candidate.id.clone(),
                SimulatedModelConfig::new(candidate.model()),
            )),
            ProviderKind::Bedrock => bedrock = true,
            _ => {}
        }
    }
    let note = (bedrock && !aws_credentials_present())
        .then(|| "no AWS credentials in the environment: Bedrock calls may be refused".to_owned());
    Ok(Plan {
        config,
        simulated,
        note,
    })
}

async fn build(plan: Plan) -> Result<SharedProvider, String> {
    let remote: Vec<_> = plan
        .config
        .candidates
        .iter()
        .filter(|c| !plan.simulated.iter().any(|(id, _)| *id == c.id))
        .cloned()
        .collect();
    let mut builder = StackBuilder::new(plan.config).cost_model_factory(providers::cost_model);
    for (id, model) in plan.simulated {
        let provider = SimulatedProvider::new(model, SEED).map_err(|e| e.to_string())?;
        builder = builder.provider(id, provider);
    }
    for candidate in remote {
        let provider = providers::remote(&candidate)
            .await
            .map_err(|e| e.to_string())?;
        builder = builder.shared_provider(candidate.id, provider);
    }
    let stack = builder.build().map_err(|e| e.to_string())?;
    Ok(Arc::new(stack))
}

/// The seed of simulated models: the same prompt gets the same answer.
const SEED: u64 = 42;

/// The models `BEDROCK_MODEL_ID` and `BEDROCK_FALLBACK_MODELS` name, primary
/// first; `None` when `BEDROCK_MODEL_ID` is not set.
#[cfg(feature = "bedrock")]
fn bedrock_env_models() -> Result<Option<Vec<String>>, String> {
    let env = palisade_bedrock::BedrockEnv::from_env_if_named().map_err(|e| e.to_string())?;
    Ok(env.map(|env| env.model_ids().map(str::to_owned).collect()))
}

#[cfg(not(feature = "bedrock"))]
fn bedrock_env_models() -> Result<Option<Vec<String>>, String> {
    Ok(None)
}
