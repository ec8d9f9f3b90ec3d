//! A recorded trace of requests (JSON Lines), and the scenario it runs in.
//!
//! One JSON object per line, in any order (they are sorted by `ts`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `ts` | number, required | seconds from the start of the trace |
//! | `model` | string, required | the model it was sent to |
//! | `input_tokens` | whole number, required | prompt tokens billed at the input rate |
//! | `output_tokens` | whole number ≥ 1, required | tokens of the answer |
//! | `max_tokens` | whole number ≥ `output_tokens`, optional | the request's `max_tokens`; default: the scenario's `requests.max_tokens`, raised to `output_tokens` |
//! | `cache_read_tokens` | whole number, optional | prompt tokens read from the prompt cache |
//! | `cache_write_tokens` | whole number, optional | prompt tokens written to the prompt cache |
//!
//! Any other field, a missing or mistyped one, or a line that is not a JSON
//! object is a [`TraceError::Line`] naming the line and the field: a
//! misspelt `output_token` must not be dropped silently. Blank lines are
//! skipped.
//!
//! A trace runs in a scenario ([`Trace::bind`]): each request goes to its
//! own model, with that model's quotas, latency, failures and price from the
//! scenario's `[[models]]` entry of the same id (or a default model, with no
//! quota, when no scenario is given); the scenario's `requests.deadline`,
//! `naive` and `palisade` tables apply. Requests arrive from 0 to the end
//! of the minute that holds the last `ts` (a trace whose last request is at
//! 1,799.2 s lasts 30 minutes).

use std::path::Path;
use std::time::Duration;

use palisade_core::Priority;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::arrival::Arrival;
use crate::driver::ProgressSink;
use crate::limits::{
    MAX_DURATION, MAX_EXPECTED_IN_FLIGHT, MAX_EXPECTED_REQUESTS, MAX_TOKENS, duration_from_secs,
};
use crate::model::SimulatedModelConfig;
use crate::report::SimulationReport;
use crate::scenario::Scenario;
use crate::simulation::{Load, SimulationError, simulate_load};

/// The fields a trace line may hold.
pub const TRACE_FIELDS: &[&str] = &[
    "ts",
    "model",
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
];

/// A trace could not be read, or does not fit the scenario it runs in.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be read.
    #[error("cannot read trace file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a valid request.
    #[error("trace {origin} line {line}: {}{message}", field.as_ref().map(|f| format!("field `{f}` ")).unwrap_or_default())]
    Line {
        /// Where the text came from.
        origin: String,
        /// The line, counting from 1.
        line: usize,
        /// The field at fault, when one is.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The trace as a whole cannot run (empty, too large, too dense).
    #[error("trace {origin}: {message}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A model of the trace is not a model of the scenario it runs in.
    #[error(
        "trace {origin} line {line}: model {model:?} is not the id of a [[models]] entry of \
         scenario {scenario:?} ({known})"
    )]
    UnknownModel {
        /// Where the text came from.
        origin: String,
        /// The first line that names it.
        line: usize,
        /// The model id.
        model: String,
        /// The scenario's name.
        scenario: String,
        /// The scenario's model ids, comma-separated.
        known: String,
    },
}

/// One request of a trace, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRequest {
    /// Seconds from the start of the trace.
    pub ts: f64,
    /// The model it was sent to.
    pub model: String,
    /// Prompt tokens billed at the input rate.
    pub input_tokens: u32,
    /// Tokens of the answer.
    pub output_tokens: u32,
    /// Its `max_tokens`, when recorded.
    pub max_tokens: Option<u32>,
    /// Prompt tokens read from the cache.
    pub cache_read_tokens: u32,
    /// Prompt tokens written to the cache.
    pub cache_write_tokens: u32,
    /// The line it was read from (for errors that come later).
    pub line: usize,
}

/// A recorded trace: its requests in time order (ties in file order).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    origin: String,
    requests: Vec<TraceRequest>,
}

/// A trace bound to the scenario it runs in: the scenario (its models the
/// trace's, its duration the trace's) and the requests pinned to them.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundTrace {
    /// The scenario the trace runs in.
    pub scenario: Scenario,
    pub(crate) requests: Vec<Arrival>,
}

impl BoundTrace {
    /// How many requests it holds.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether it holds none (a bound trace never does).
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The same trace in `scenario` (another seed or other quotas for the
    /// same models, in the same order): the requests stay pinned to the
    /// models by index.
    pub fn with_scenario(&self, scenario: Scenario) -> Result<Self, SimulationError> {
        let ids = |s: &Scenario| s.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        if ids(&scenario) != ids(&self.scenario) {
            return Err(SimulationError::new(
                "trace",
                "the scenario's models are not the trace's models in the trace's order",
            ));
        }
        Ok(Self {
            scenario,
            requests: self.requests.clone(),
        })
    }
}

impl Trace {
    /// Reads and checks a trace file.
    pub fn from_file(path: &Path) -> Result<Self, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_jsonl_str(&text, &path.display().to_string())
    }

    /// Parses and checks JSON Lines; `origin` names the text in errors.
    pub fn from_jsonl_str(text: &str, origin: &str) -> Result<Self, TraceError> {
        let mut requests = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if requests.len() as f64 >= MAX_EXPECTED_REQUESTS {
                return Err(TraceError::Invalid {
                    origin: origin.to_owned(),
                    message: format!(
                        "has more than {MAX_EXPECTED_REQUESTS:.0} requests, more than one run \
                         may simulate; split it"
                    ),
                });
            }
            let number = index + 1;
            let request =
                parse_line(line, number).map_err(|(field, message)| TraceError::Line {
                    origin: origin.to_owned(),
                    line: number,
                    field,
                    message,
                })?;
            requests.push(request);
        }
        if requests.is_empty() {
            return Err(TraceError::Invalid {
                origin: origin.to_owned(),
                message: "has no requests (one JSON object per line)".into(),
            });
        }
        // Stable: requests at the same instant keep their file order.
        requests.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        Ok(Self {
            origin: origin.to_owned(),
            requests,
        })
    }

    /// Where the trace came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Its requests, in time order.
    pub fn requests(&self) -> &[TraceRequest] {
        &self.requests
    }

    /// The model ids, in the order they first appear.
    pub fn models(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for r in &self.requests {
            if !ids.contains(&r.model.as_str()) {
                ids.push(&r.model);
            }
        }
        ids
    }

    /// The simulated time the trace spans: to the end of the minute that
    /// holds its last `ts` (at least one minute).
    pub fn duration(&self) -> Duration {
        let last = self.requests.last().map_or(0.0, |r| r.ts);
        let minutes = (last / 60.0).floor() + 1.0;
        duration_from_secs(minutes * 60.0).min(MAX_DURATION)
    }

    /// The scenario the trace runs in, and its requests pinned to the models.
    ///
    /// With `base`, each trace model is the `[[models]]` entry of the same id
    /// (an id the scenario lacks is a [`TraceError::UnknownModel`]), in the
    /// scenario's order (models the trace never names are left out), and
    /// the scenario's other tables apply; without it,
    /// each is [`SimulatedModelConfig::new`] (no quota, default latency and
    /// price), in the trace's order. The duration becomes the trace's, and
    /// `requests.max_tokens` the largest `max_tokens` of the trace (the
    /// palisade limiter sizes its token burst from it).
    pub fn bind(&self, base: Option<&Scenario>) -> Result<BoundTrace, TraceError> {
        let ids = self.models();
        let mut scenario = match base {
            Some(base) => base.clone(),
            None => bare_scenario(self.origin()),
        };
        scenario.models = match base {
            Some(base) => {
                for id in &ids {
                    if !base.models.iter().any(|m| m.id == *id) {
                        let line = self
                            .requests
                            .iter()
                            .find(|r| r.model == *id)
                            .map_or(0, |r| r.line);
                        return Err(TraceError::UnknownModel {
                            origin: self.origin.clone(),
                            line,
                            model: (*id).to_owned(),
                            scenario: base.name.clone(),
                            known: base
                                .models
                                .iter()
                                .map(|m| m.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                }
                base.models
                    .iter()
                    .filter(|m| ids.contains(&m.id.as_str()))
                    .cloned()
                    .collect()
            }
            None => ids
                .iter()
                .map(|id| SimulatedModelConfig::new(*id))
                .collect(),
        };
        // One client: a trace's arrivals are its own, and the scenario's
        // load checks (clients × rate × duration) must not refuse it.
        scenario.clients = 1;
        scenario.duration = self.duration();
        scenario.agent = None;
        let default_max = scenario.requests.max_tokens;
        let requests: Vec<Arrival> = self
            .requests
            .iter()
            .map(|r| Arrival {
                at: duration_from_secs(r.ts),
                client: 0,
                input_tokens: r.input_tokens,
                max_tokens: r.max_tokens.unwrap_or(default_max.max(r.output_tokens)),
                priority: Priority::Normal,
                model: scenario.models.iter().position(|m| m.id == r.model),
                output_tokens: Some(r.output_tokens),
                cache_read_tokens: r.cache_read_tokens,
                cache_write_tokens: r.cache_write_tokens,
            })
            .collect();
        scenario.requests.max_tokens = requests.iter().map(|a| a.max_tokens).max().unwrap_or(1);
        let invalid = |message: String| TraceError::Invalid {
            origin: self.origin.clone(),
            message,
        };
        let in_flight = most_within(&requests, scenario.requests.deadline);
        if in_flight as f64 > MAX_EXPECTED_IN_FLIGHT {
            return Err(invalid(format!(
                "sends {in_flight} requests within one caller deadline ({}), more than the \
                 {MAX_EXPECTED_IN_FLIGHT:.0} one run may hold in flight; shorten \
                 `requests.deadline` in the scenario or split the trace",
                palisade_core::duration::format(scenario.requests.deadline)
            )));
        }
        scenario
            .validate()
            .map_err(|e| invalid(format!("cannot run in its scenario: {e}")))?;
        Ok(BoundTrace { scenario, requests })
    }
}

/// Runs a bound trace against the naive client and the palisade stack, as
/// [`simulate`](crate::simulate) runs a scenario: each request goes to its
/// own model's client (a naive client, or a palisade stack over that one
/// model), never to another model.
pub fn simulate_trace(
    trace: &BoundTrace,
    progress: &dyn ProgressSink,
) -> Result<SimulationReport, SimulationError> {
    simulate_load(&trace.scenario, Load::Trace(&trace.requests), progress)
}

/// The scenario of a trace run without one: default tables, no models yet.
fn bare_scenario(origin: &str) -> Scenario {
    Scenario {
        name: format!("trace {origin}"),
        seed: 42,
        duration: Duration::from_secs(60),
        clients: 1,
        arrivals: Default::default(),
        requests: Default::default(),
        models: Vec::new(),
        naive: Default::default(),
        palisade: Default::default(),
        agent: None,
    }
}

/// The most requests sent within any span of `window` (what the run holds
/// in flight at most, since each ends by its deadline).
fn most_within(requests: &[Arrival], window: Duration) -> usize {
    let mut first = 0;
    let mut most = 0;
    for (last, r) in requests.iter().enumerate() {
        while requests
            .get(first)
            .is_some_and(|old| first < last && old.at + window <= r.at)
        {
            first += 1;
        }
        most = most.max(last + 1 - first);
    }
    most
}

type LineError = (Option<String>, String);

fn parse_line(line: &str, number: usize) -> Result<TraceRequest, LineError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| (None, format!("is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err((None, "is not a JSON object".into()));
    };
    if let Some(unknown) = object.keys().find(|k| !TRACE_FIELDS.contains(&k.as_str())) {
        return Err((
            Some(unknown.clone()),
            format!(
                "is not a trace field (expected {})",
                TRACE_FIELDS.join(", ")
            ),
        ));
    }
    let ts = match object.get("ts") {
        None => return Err(missing("ts")),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| wrong("ts", "a number of seconds", v))?,
    };
    let longest = MAX_DURATION.as_secs_f64();
    if !(ts.is_finite() && (0.0..=longest).contains(&ts)) {
        return Err((
            Some("ts".into()),
            format!("must be within 0..={longest} seconds, got {ts}"),
        ));
    }
    let model = match object.get("model") {
        None => return Err(missing("model")),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(v) => return Err(wrong("model", "a non-empty string", v)),
    };
    let input_tokens = tokens(&object, "input_tokens")?.ok_or_else(|| missing("input_tokens"))?;
    let output_tokens =
        tokens(&object, "output_tokens")?.ok_or_else(|| missing("output_tokens"))?;
    if output_tokens == 0 {
        return Err((
            Some("output_tokens".into()),
            "must be at least 1 (a simulated answer has at least one token)".into(),
        ));
    }
    let max_tokens = tokens(&object, "max_tokens")?;
    if let Some(max) = max_tokens
        && max < output_tokens
    {
        return Err((
            Some("max_tokens".into()),
            format!("is {max}, less than the line's output_tokens {output_tokens}"),
        ));
    }
    let cache_read_tokens = tokens(&object, "cache_read_tokens")?.unwrap_or(0);
    let cache_write_tokens = tokens(&object, "cache_write_tokens")?.unwrap_or(0);
    let prompt =
        u64::from(input_tokens) + u64::from(cache_read_tokens) + u64::from(cache_write_tokens);
    if prompt == 0 || prompt > u64::from(MAX_TOKENS) {
        return Err((
            Some("input_tokens".into()),
            format!(
                "with the cache tokens makes a prompt of {prompt} tokens; it must be within \
                 1..={MAX_TOKENS}"
            ),
        ));
    }
    Ok(TraceRequest {
        ts,
        model,
        input_tokens,
        output_tokens,
        max_tokens,
        cache_read_tokens,
        cache_write_tokens,
        line: number,
    })
}

fn missing(field: &str) -> LineError {
    (Some(field.into()), "is missing".into())
}

fn wrong(field: &str, expected: &str, got: &Value) -> LineError {
    (Some(field.into()), format!("must be {expected}, got {got}"))
}

/// An optional token count: a whole number within `0..=MAX_TOKENS`.
fn tokens(object: &Map<String, Value>, field: &str) -> Result<Option<u32>, LineError> {
    let Some(value) = object.get(field) else {
        return Ok(None);
    };
    let expected = format!("a whole number within 0..={MAX_TOKENS}");
    let n = value
        .as_u64()
        .ok_or_else(|| wrong(field, &expected, value))?;
    match u32::try_from(n) {
        Ok(n) if n <= MAX_TOKENS => Ok(Some(n)),
        _ => Err(wrong(field, &expected, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sorted_by_time_and_models_listed_in_order_of_appearance() {
        let trace = Trace::from_jsonl_str(
            "{\"ts\": 5, \"model\": \"b\", \"input_tokens\": 10, \"output_tokens\": 2}\n\n\
             {\"ts\": 1.5, \"model\": \"a\", \"input_tokens\": 20, \"output_tokens\": 3, \"max_tokens\": 8}\n",
            "t",
        )
        .unwrap();
        assert_eq!(trace.requests()[0].model, "a");
        assert_eq!(trace.requests()[0].line, 3);
        assert_eq!(trace.models(), vec!["a", "b"]);
        assert_eq!(trace.duration(), Duration::from_secs(60));
        let bound = trace.bind(None).unwrap();
        assert_eq!(bound.scenario.requests.max_tokens, 1_024);
        assert_eq!(bound.requests[0].max_tokens, 8);
        assert_eq!(bound.requests[1].model, Some(1));
    }

    #[test]
    fn most_within_counts_the_densest_span() {
        let at = |s: u64| Arrival {
            at: Duration::from_secs(s),
            client: 0,
            input_tokens: 1,
            max_tokens: 1,
            priority: Priority::Normal,
            model: None,
            output_tokens: None,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        };
        let load = [at(0), at(1), at(2), at(10), at(11)];
        assert_eq!(most_within(&load, Duration::from_secs(3)), 3);
        assert_eq!(most_within(&load, Duration::from_secs(100)), 5);
    }
}
