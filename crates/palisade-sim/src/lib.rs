//! Simulated LLM providers with Bedrock's quota semantics and virtual-time
//! load simulation — the evidence behind Palisade's claims, and realistic
//! models for users' own tests. (The fake Bedrock wire server that can serve
//! them is in `palisade-testkit`, feature `bedrock`.)
//!
//! # A simulated model in a test
//!
//! A [`SimulatedProvider`] is a [`Provider`](palisade_core::Provider) with
//! requests-per-minute and tokens-per-minute quotas that behave like
//! Bedrock's (`max_tokens × output burndown` reserved when a call starts, the
//! unused part returned when it ends), latency, output lengths and failure
//! injection, all on tokio time — so under paused time a test of a whole
//! minute of traffic runs instantly and gives the same answers every time.
//!
//! ```
//! use palisade_core::{ChatRequest, ErrorKind, Provider};
//! use palisade_sim::{SimulatedModelConfig, SimulatedProvider};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // 2 requests and 20,000 tokens a minute, output burning down 5×.
//! let model = SimulatedProvider::new(
//!     SimulatedModelConfig::new("sim/claude").with_quota(2, 20_000, 5.0),
//!     42, // seed
//! )
//! .unwrap();
//! let request = || ChatRequest::user("hi").with_input_token_estimate(1_000).with_max_tokens(512);
//!
//! let answer = model.complete(request()).await.unwrap();
//! assert_eq!(answer.usage.unwrap().input_tokens, 1_000);
//! model.complete(request()).await.unwrap();
//! // The third request in the same minute is throttled, as Bedrock would.
//! let throttled = model.complete(request()).await.unwrap_err();
//! assert_eq!(throttled.kind(), ErrorKind::Throttled);
//! assert_eq!(model.stats().throttled_rpm, 1);
//! # }
//! ```
//!
//! # A load simulation
//!
//! A [`Scenario`] (TOML) describes clients, arrivals, request sizes, the
//! simulated models and the stack under test; [`simulate`] runs it against
//! a naive client (AWS SDK standard retries, no limiter or breaker) and
//! against the palisade stack, each on its own paused-time runtime, and
//! returns a [`SimulationReport`] ([`render_table`] prints it side by side).
//! The same scenario gives byte-identical reports.
//!
//! ```
//! use palisade_sim::{NoProgress, Scenario, simulate};
//!
//! let scenario = Scenario::from_toml_str(
//!     r#"
//!     duration = "5m"
//!     clients = 20
//!     arrivals = { kind = "poisson", per_client_per_minute = 1.0 }
//!     [[models]]
//!     id = "sim/primary"
//!     quota = { rpm = 15, tpm = 100000, output_burndown = 5.0 }
//!     [[models]]
//!     id = "sim/fallback"
//!     quota = { rpm = 10, tpm = 50000 }
//!     "#,
//!     "example",
//! )
//! .unwrap();
//! let report = simulate(&scenario, &NoProgress).unwrap();
//! assert_eq!(report.palisade.lost, 0);
//! assert_eq!(report.palisade.completed + report.palisade.failed, report.scenario.requests);
//! assert_eq!(report.palisade.throttles_surfaced, 0);
//! assert!(report.naive.throttles_seen_by_provider > 0);
//! ```
//!
//! # An agent workload
//!
//! A scenario with an `[agent]` table runs conversations of tool-calling
//! turns instead; [`compare_cache_points`] runs them with and without
//! prompt-cache points against models that cache prompt prefixes:
//!
//! ```
//! use palisade_sim::{Scenario, compare_cache_points};
//!
//! let scenario = Scenario::from_toml_str(
//!     r#"
//!     duration = "2m"
//!     [agent]
//!     conversations_per_minute = 4.0
//!     tool_calls = 3
//!     [[models]]
//!     id = "sim/claude"
//!     quota = { rpm = 100, tpm = 400000, output_burndown = 5.0 }
//!     prompt_cache = { enabled = true, cache_reads = "released_at_settle" }
//!     "#,
//!     "example",
//! )
//! .unwrap();
//! let c = compare_cache_points(&scenario).unwrap();
//! assert!(c.with_cache_points.cache_read_tokens > 0);
//! assert_eq!(c.without_cache_points.cache_read_tokens, 0);
//! assert!(c.with_cache_points.cost_usd < c.without_cache_points.cost_usd);
//! ```
//!
//! `palisade simulate` (the `palisade-cli` crate) runs the built-in default
//! scenario ([`Scenario::builtin`]); `docs/simulation.md` documents it, the
//! report's fields, and the measured figures.
//!
//! # What is in the box
//!
//! | item | what it does |
//! |---|---|
//! | [`SimulatedProvider`], [`SimulatedModelConfig`] | a model: [`QuotaConfig`], [`LatencyConfig`], output [`Distribution`], [`FailureConfig`] (error rate, outage and slow windows), [`Price`] |
//! | [`QuotaLedger`] | the sliding-minute RPM / TPM ledger with reserve-then-settle |
//! | [`Scenario`], [`ArrivalConfig`], [`RequestMix`] | the load, as TOML; [`Scenario::offered_load`] draws it |
//! | [`NaiveClient`] | the baseline: AWS SDK standard retry mode, then the next model |
//! | [`PalisadeConfig`] | the stack under test: derived from a few knobs, or a whole `palisade-stack` config |
//! | [`simulate`], [`SimulationReport`], [`render_table`] | run both systems and compare them |
//! | [`AgentWorkload`], [`simulate_agent`], [`compare_cache_points`], [`AgentReport`], [`render_agent_table`] | an agent workload (`[agent]`: conversations of tool-calling turns whose context grows) through the palisade stack, with and without prompt-cache points: tokens, cost, quota use |
//! | [`PromptCacheConfig`], [`CacheReadQuota`] | a model's prompt cache (`[models.prompt_cache]`) and how its token quota counts cache reads |
//! | [`compare_learned_output`], [`LearnedOutputComparison`], [`render_learned_table`] | the palisade stack reserving `max_tokens` against learned output reservations (`[palisade.learned_output]`) on the same load |
//! | [`BudgetOutcome`] | how a run kept to its budget (`[palisade.budget]`): spent against the limit, answered, refused |
//! | [`BUILTIN_SCENARIOS`], [`Scenario::named`] | the built-in scenarios `palisade simulate --scenario NAME` runs |
//! | [`Capacity`] | the quota-bound goodput a perfect client would reach |
//! | [`plan`], [`plan_trace`], [`QuotaPlan`], [`render_plan_table`] | the quota planner: the quotas a load needs (steady and peak RPM / TPM, tokens per day) for no throttling and p99 queueing under a bound, found by simulation, and the outcome at the current quotas |
//! | [`Trace`], [`BoundTrace`], [`simulate_trace`] | a recorded trace of requests (JSON Lines), each pinned to its model |
//! | [`limits`] | the range of every number a scenario may hold |
//! | `html::render` (feature `html`) | the report as one self-contained HTML page with SVG charts over time |
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `html` | no | `html`: [`SimulationReport`] as an HTML page of charts (plotters' SVG backend) |

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod agent;
mod agent_report;
mod agent_run;
mod arrival;
mod budget_outcome;
mod by_model;
mod capacity;
mod distribution;
mod driver;
mod failure;
#[cfg(feature = "html")]
pub mod html;
mod latency;
mod learned_run;
pub mod limits;
mod locate;
mod model;
mod naive;
mod palisade_stack;
mod percentiles;
mod plan;
mod plan_demand;
mod plan_report;
mod plan_table;
mod probe;
mod prompt_cache;
mod provider;
mod quota;
mod quota_log;
mod report;
mod rng;
mod scenario;
mod simulation;
mod stream;
mod table;
mod tally;
mod text;
mod timeline;
mod trace;

pub use agent::{AgentWorkload, Conversation, MAX_TOOL_CALLS, MAX_TOOLS};
pub use agent_report::{AgentModelReport, AgentReport, CacheComparison, render_agent_table};
pub use agent_run::{compare_cache_points, simulate_agent};
pub use arrival::{Arrival, ArrivalConfig, Arrivals, PriorityMix, RequestMix, offered_load};
pub use budget_outcome::BudgetOutcome;
pub use capacity::Capacity;
pub use distribution::Distribution;
pub use driver::{NoProgress, ProgressSink};
pub use failure::{FailureConfig, InjectedError, SlowWindow, Window};
pub use latency::{CallTiming, LatencyConfig};
pub use learned_run::{LearnedOutputComparison, compare_learned_output, render_learned_table};
pub use locate::Location;
pub use model::{ModelConfigError, SimulatedModelConfig, default_price};
pub use naive::{NaiveClient, NaiveConfig};
/// The one price type, from `palisade-core` (a scenario model's `price`).
pub use palisade_core::Price;
pub use palisade_core::duration::parse as parse_duration;
pub use palisade_stack::PalisadeConfig;
pub use plan::{MAX_SEARCH_RUNS, PlanError, PlanTarget, plan, plan_trace};
pub use plan_report::{
    ModelDemand, ModelOutcome, ModelOutcomes, ModelPlan, PLAN_VERSION, PlanOutcome, PlanRuns,
    PlanSource, PlanTargetReport, QuotaPlan, Quotas, Rate, SystemOutcome,
};
pub use plan_table::render_plan_table;
pub use prompt_cache::{CacheReadQuota, PromptCacheConfig};
pub use provider::{
    CACHE_READ_TAG, CACHE_WRITE_TAG, OUTPUT_TOKENS_TAG, ProviderStats, SimulatedProvider,
};
pub use quota::{QuotaCharge, QuotaConfig, QuotaExceeded, QuotaLedger, ReservationId};
pub use report::{
    LatencySummary, ModelReport, ModelSummary, ScenarioSummary, SimulationReport, SystemReport,
};
pub use rng::{SimRng, rng_for};
pub use scenario::{BUILTIN_SCENARIOS, DEFAULT_SCENARIO_TOML, Scenario, ScenarioError};
pub use simulation::{NAIVE, PALISADE, SimulationError, simulate};
pub use table::render_table;
pub use timeline::{Interval, MAX_INTERVALS, Timeline};
pub use trace::{BoundTrace, TRACE_FIELDS, Trace, TraceError, TraceRequest, simulate_trace};

/// The guide, `docs/simulation.md`, compiled with the doc tests so that its
/// Rust snippet builds and runs. Only under `cfg(doctest)`: the file lives
/// outside the crate.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/simulation.md")]
mod user_guide {}
