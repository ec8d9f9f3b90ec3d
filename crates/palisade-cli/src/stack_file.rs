//! The stack of `--config STACK.toml` (docs/config.md), as `palisade chat`
//! and `palisade serve` build it: the plan (which candidates are simulated,
//! which get a network provider from `providers.rs`, what to tell the user),
//! then the [`FallbackStack`] itself.

use std::path::Path;

use palisade_sim::{Scenario, SimulatedModelConfig, SimulatedProvider};
use palisade_stack::{FallbackStack, ProviderKind, StackBuilder, StackConfig};

use crate::providers;

/// Where the stack comes from, and whether it runs in virtual time.
pub(crate) struct StackPlan {
    pub(crate) config: StackConfig,
    /// Simulated models bound by candidate id; every other candidate gets
    /// its network provider from [`providers::remote`].
    pub(crate) simulated: Vec<(String, SimulatedModelConfig)>,
    /// What to tell the user about where the stack came from.
    pub(crate) note: Option<String>,
}

impl StackPlan {
    /// Whether every candidate is simulated (the stack can then run in
    /// virtual time).
    pub(crate) fn is_simulated(&self) -> bool {
        self.simulated.len() == self.config.candidates.len()
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

impl StackPlan {
    /// The plan of `--config PATH`, or without one the Bedrock stack of the
    /// environment (AWS credentials and `BEDROCK_MODEL_ID`), else the default
    /// simulation scenario's stack (with a note saying so).
    pub(crate) fn from_file(path: Option<&Path>) -> Result<Self, String> {
        let config = match path {
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
                return Ok(StackPlan {
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
                return Ok(StackPlan {
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
        let note = (bedrock && !aws_credentials_present()).then(|| {
            "no AWS credentials in the environment: Bedrock calls may be refused".to_owned()
        });
        Ok(StackPlan {
            config,
            simulated,
            note,
        })
    }

    /// Makes every candidate's provider and builds the stack around them.
    pub(crate) async fn build(self) -> Result<FallbackStack, String> {
        let plan = self;
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
        builder.build().map_err(|e| e.to_string())
    }
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

/// A multi-line message (a TOML error with its source excerpt) on one line:
/// the first line, then the last.
pub(crate) fn one_line(message: &str) -> String {
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
