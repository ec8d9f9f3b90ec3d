//! A load scenario: who calls (clients, arrival process, request sizes,
//! priorities, deadlines), what they call (simulated models), and the two
//! systems compared (the naive client and the palisade stack).
//!
//! Scenarios are TOML files; every field but `models` has a default, and
//! [`Scenario::builtin`] is the documented default scenario
//! (`default_scenario.toml`, shown in docs/simulation.md).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::agent::AgentWorkload;
use crate::arrival::{ArrivalConfig, Arrivals, RequestMix, offered_load};
use crate::limits::{
    MAX_CLIENTS, MAX_DURATION, MAX_EXPECTED_IN_FLIGHT, MAX_EXPECTED_REQUESTS,
    MAX_RATE_PER_CLIENT_PER_MIN, MAX_TOKENS, MAX_WAIT, count_within, duration_within,
    positive_at_most,
};
use crate::locate::{Location, locate};
use crate::model::SimulatedModelConfig;
use crate::naive::NaiveConfig;
use crate::palisade_stack::PalisadeConfig;

/// The built-in default scenario, as TOML.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("default_scenario.toml");

/// The built-in scenarios by name, as TOML: what `palisade simulate
/// --scenario NAME` runs (docs/simulation.md shows each one's figures).
pub const BUILTIN_SCENARIOS: &[(&str, &str)] = &[
    ("default", DEFAULT_SCENARIO_TOML),
    ("agent", include_str!("../scenarios/agent.toml")),
    (
        "agent-tight-quota",
        include_str!("../scenarios/agent-tight-quota.toml"),
    ),
    (
        "agent-two-models",
        include_str!("../scenarios/agent-two-models.toml"),
    ),
    (
        "large-max-tokens",
        include_str!("../scenarios/large-max-tokens.toml"),
    ),
    ("budget", include_str!("../scenarios/budget.toml")),
    ("split-quota", include_str!("../scenarios/split-quota.toml")),
    ("overload", include_str!("../scenarios/overload.toml")),
    (
        "idle-fallback",
        include_str!("../scenarios/idle-fallback.toml"),
    ),
    ("tiers", include_str!("../scenarios/tiers.toml")),
    (
        "tiers-single",
        include_str!("../scenarios/tiers-single.toml"),
    ),
];

/// A load scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for reports. Default: `"custom"`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Seed of every random draw. Default: 42.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long requests keep arriving (simulated time). Default: 1 h.
    #[serde(default = "default_duration", with = "palisade_core::duration")]
    pub duration: Duration,
    /// Number of clients. Default: 200.
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// How each client spaces its requests. Default: Poisson, 0.275/min.
    #[serde(default)]
    pub arrivals: ArrivalConfig,
    /// What the requests look like.
    #[serde(default)]
    pub requests: RequestMix,
    /// The simulated models; the first is the primary. Required.
    pub models: Vec<SimulatedModelConfig>,
    /// The baseline client.
    #[serde(default)]
    pub naive: NaiveConfig,
    /// The palisade stack under test.
    #[serde(default)]
    pub palisade: PalisadeConfig,
    /// An agent workload (conversations of tool-calling turns) instead of
    /// the independent requests of `clients`, `arrivals` and `requests`;
    /// run by [`simulate_agent`](crate::simulate_agent) and
    /// [`compare_cache_points`](crate::compare_cache_points). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentWorkload>,
}

fn default_name() -> String {
    "custom".into()
}
fn default_seed() -> u64 {
    42
}
fn default_duration() -> Duration {
    Duration::from_secs(3_600)
}
fn default_clients() -> u32 {
    200
}

/// A scenario could not be read or is invalid.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or has a wrong field (the message names it).
    #[error("scenario {origin}: {message}")]
    Parse {
        /// Where the text came from.
        origin: String,
        /// The parser's message (key and line).
        message: String,
    },
    /// A field has a value that cannot be simulated.
    #[error("scenario {}field `{field}` {message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
    Invalid {
        /// The field, as a path (`models[1].quota.tpm`).
        field: String,
        /// What is wrong with it.
        message: String,
        /// Where the field is written, when the scenario came from text and
        /// the field is written there (else the table that would hold it).
        location: Option<Location>,
    },
}

impl ScenarioError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            field: field.into(),
            message: message.into(),
            location: None,
        }
    }

    /// The field at fault, for an invalid value.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl Scenario {
    /// The built-in default scenario (see docs/simulation.md).
    pub fn builtin() -> Self {
        // Parsed and validated by a unit test; a failure here is a build bug.
        match Self::from_toml_str(DEFAULT_SCENARIO_TOML, "built-in") {
            Ok(s) => s,
            Err(e) => unreachable!("the built-in scenario is invalid: {e}"),
        }
    }

    /// The built-in scenario called `name` ([`BUILTIN_SCENARIOS`]), if there
    /// is one.
    pub fn named(name: &str) -> Option<Self> {
        let (_, text) = BUILTIN_SCENARIOS.iter().find(|(n, _)| *n == name)?;
        // Each is parsed and validated by a unit test; a failure here is a
        // build bug.
        match Self::from_toml_str(text, name) {
            Ok(s) => Some(s),
            Err(e) => unreachable!("the built-in scenario {name} is invalid: {e}"),
        }
    }

    /// Parses and validates a scenario; `origin` names the text in errors,
    /// which give the line and column of the field at fault.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            origin: origin.to_owned(),
            message: one_line(&e.to_string()),
        })?;
        scenario.validate().map_err(|e| match e {
            ScenarioError::Invalid { field, message, .. } => {
                let location = locate(text, origin, &field);
                ScenarioError::Invalid {
                    field,
                    message,
                    location,
                }
            }
            other => other,
        })?;
        Ok(scenario)
    }

    /// Reads, parses and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks every number against the range the engine can represent
    /// (the [`limits`](crate::limits)); the error names the first bad field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.check()
            .map_err(|(field, message)| ScenarioError::invalid(field, message))
    }

    fn check(&self) -> Result<(), (String, String)> {
        let at = |field: &str| {
            let field = field.to_owned();
            move |message: String| (field, message)
        };
        duration_within(self.duration, MAX_DURATION, false).map_err(at("duration"))?;
        count_within(self.clients, 1, MAX_CLIENTS).map_err(at("clients"))?;
        let rate = self.arrivals.per_client_per_minute();
        positive_at_most(rate, MAX_RATE_PER_CLIENT_PER_MIN)
            .map_err(at("arrivals.per_client_per_minute"))?;
        let expected = self.expected_requests();
        if expected > MAX_EXPECTED_REQUESTS {
            return Err((
                "duration".into(),
                format!(
                    "is too long for this load: {} clients × {rate}/min × {} minutes offer about \
                     {expected:.0} requests, more than the {MAX_EXPECTED_REQUESTS:.0} one run may \
                     simulate; shorten `duration` or lower `clients`",
                    self.clients,
                    self.duration.as_secs_f64() / 60.0
                ),
            ));
        }
        self.requests
            .input_tokens
            .validate(f64::from(MAX_TOKENS))
            .map_err(|(k, e)| (format!("requests.input_tokens.{k}"), e))?;
        count_within(self.requests.max_tokens, 1, MAX_TOKENS).map_err(at("requests.max_tokens"))?;
        duration_within(self.requests.deadline, MAX_WAIT, false)
            .map_err(at("requests.deadline"))?;
        let in_flight = self.expected_in_flight();
        if in_flight > MAX_EXPECTED_IN_FLIGHT {
            return Err((
                "requests.deadline".into(),
                format!(
                    "keeps too many requests waiting at once for this load: {} clients × \
                     {rate}/min × {} minutes of deadline is about {in_flight:.0} requests in \
                     flight, more than the {MAX_EXPECTED_IN_FLIGHT:.0} one run may hold (each \
                     holds memory until it ends); shorten `requests.deadline` or lower `clients`",
                    self.clients,
                    self.requests.deadline.min(self.duration).as_secs_f64() / 60.0
                ),
            ));
        }
        self.requests
            .priorities
            .validate()
            .map_err(|(k, e)| (format!("requests.priorities.{k}"), e))?;
        if self.models.is_empty() {
            return Err((
                "models".into(),
                "needs at least one [[models]] entry".into(),
            ));
        }
        let mut ids = BTreeSet::new();
        for (i, model) in self.models.iter().enumerate() {
            model
                .validate()
                .map_err(|e| (format!("models[{i}].{}", e.field), e.message))?;
            if !ids.insert(model.id.as_str()) {
                return Err((
                    format!("models[{i}].id"),
                    format!("{:?} appears twice", model.id),
                ));
            }
        }
        self.naive
            .validate()
            .map_err(|(f, e)| (format!("naive.{f}"), e))?;
        self.palisade
            .validate()
            .map_err(|(f, e)| (format!("palisade.{f}"), e))?;
        if let Some(agent) = &self.agent {
            agent
                .validate(self.duration.as_secs_f64() / 60.0)
                .map_err(|(f, e)| (format!("agent.{f}"), e))?;
        }
        if let Some(stack) = &self.palisade.stack {
            for (i, candidate) in stack.candidates.iter().enumerate() {
                if !ids.contains(candidate.id.as_str()) {
                    return Err((
                        format!("palisade.stack.candidates[{i}].id"),
                        format!("{:?} is not the id of a [[models]] entry", candidate.id),
                    ));
                }
            }
        }
        Ok(())
    }

    /// About how many requests the scenario offers:
    /// `clients × per_client_per_minute × duration`.
    pub fn expected_requests(&self) -> f64 {
        f64::from(self.clients)
            * self.arrivals.per_client_per_minute()
            * (self.duration.as_secs_f64() / 60.0)
    }

    /// About how many requests can be in flight at once: those offered
    /// within one caller deadline (`clients × per_client_per_minute ×
    /// min(duration, requests.deadline)`), since every request ends by its
    /// deadline. What a run holds in memory grows with this, not with the
    /// duration.
    pub fn expected_in_flight(&self) -> f64 {
        f64::from(self.clients)
            * self.arrivals.per_client_per_minute()
            * (self.requests.deadline.min(self.duration).as_secs_f64() / 60.0)
    }

    /// The offered load: every request of the run, in time order, drawn
    /// lazily (memory does not grow with the duration).
    pub fn offered_load(&self) -> Arrivals {
        offered_load(
            self.seed,
            self.clients,
            self.duration,
            &self.arrivals,
            &self.requests,
        )
    }
}

/// A TOML error on one line: where (`line L, column C`) and what, without
/// the source excerpt the parser draws under it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_scenario_is_the_documented_default() {
        let s = Scenario::builtin();
        assert_eq!(s.duration, Duration::from_secs(3_600));
        assert_eq!(s.clients, 200);
        assert_eq!(s.models.len(), 3);
        let primary = &s.models[0];
        assert_eq!(primary.quota.rpm, Some(50));
        assert_eq!(primary.quota.tpm, Some(200_000));
        assert_eq!(primary.quota.output_burndown, 5.0);
        assert_eq!(primary.failures.error_rate, 0.01);
        assert_eq!(primary.failures.outages.len(), 1);
        assert_eq!(
            primary.failures.outages[0].from,
            Duration::from_secs(20 * 60)
        );
        assert_eq!(primary.failures.outages[0].to, Duration::from_secs(30 * 60));
        assert_eq!(s.requests.max_tokens, 1_024);
        for fallback in &s.models[1..] {
            assert!(fallback.quota.rpm < primary.quota.rpm);
            assert!(fallback.quota.tpm < primary.quota.tpm);
        }
    }

    #[test]
    fn every_builtin_scenario_is_valid_and_named_as_listed() {
        for (name, text) in BUILTIN_SCENARIOS {
            let s = Scenario::from_toml_str(text, name).unwrap();
            assert_eq!(&s.name, name);
            assert_eq!(Scenario::named(name), Some(s));
        }
        assert_eq!(Scenario::named("default"), Some(Scenario::builtin()));
        assert_eq!(Scenario::named("no-such-scenario"), None);
    }

    #[test]
    fn errors_name_the_field() {
        let err = Scenario::from_toml_str("models = []", "t").unwrap_err();
        assert!(err.to_string().contains("`models`"), "{err}");

        let err = Scenario::from_toml_str(
            "[[models]]\nid = \"a\"\n[models.quota]\noutput_burndown = 0.5\n",
            "t",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("models[0].quota.output_burndown"),
            "{err}"
        );

        let err = Scenario::from_toml_str("clients = 3\nbogus = 1\n[[models]]\nid = \"a\"", "t")
            .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");

        let err = Scenario::from_toml_str("duration = \"soon\"\n[[models]]\nid = \"a\"", "t")
            .unwrap_err();
        assert!(err.to_string().contains("duration"), "{err}");
    }

    #[test]
    fn a_minimal_scenario_takes_the_defaults() {
        let s = Scenario::from_toml_str("[[models]]\nid = \"a\"", "t").unwrap();
        assert_eq!(s.seed, 42);
        assert_eq!(s.requests.deadline, Duration::from_secs(600));
        let round_trip = toml::to_string(&s).unwrap();
        assert_eq!(Scenario::from_toml_str(&round_trip, "t").unwrap(), s);
    }
}
