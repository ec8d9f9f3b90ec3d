//! Simulated providers with real quota semantics, a fake AWS Bedrock server,
//! and virtual-time load simulation. Also a testkit for users' own tests.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "bedrock-server")]
pub mod bedrock_server;

mod arrival;
mod capacity;
mod distribution;
mod driver;
mod duration_serde;
mod failure;
mod latency;
mod model;
mod naive;
mod palisade_stack;
mod probe;
mod provider;
mod quota;
mod report;
mod rng;
mod scenario;
mod simulation;
mod stream;
mod table;
mod text;

pub use arrival::{Arrival, ArrivalConfig, PriorityMix, RequestMix, offered_load};
pub use capacity::{Capacity, capacity};
pub use distribution::Distribution;
pub use driver::{NoProgress, ProgressSink};
pub use duration_serde::parse_duration;
pub use failure::{FailureConfig, InjectedError, SlowWindow, Window};
pub use latency::{CallTiming, LatencyConfig};
pub use model::{ModelConfigError, Price, SimulatedModelConfig};
pub use naive::{NaiveClient, NaiveConfig};
pub use palisade_stack::PalisadeConfig;
pub use provider::{ProviderStats, SimulatedProvider};
pub use quota::{QuotaConfig, QuotaExceeded, QuotaLedger, ReservationId};
pub use report::{
    LatencySummary, ModelReport, ModelSummary, ScenarioSummary, SimulationReport, SystemReport,
};
pub use rng::{SimRng, rng_for};
pub use scenario::{DEFAULT_SCENARIO_TOML, Scenario, ScenarioError};
pub use simulation::{NAIVE, PALISADE, SimulationError, simulate};
pub use table::render_table;
