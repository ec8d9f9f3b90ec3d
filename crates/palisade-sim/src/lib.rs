//! Simulated providers with real quota semantics, a fake AWS Bedrock server,
//! and virtual-time load simulation. Also a testkit for users' own tests.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "bedrock-server")]
pub mod bedrock_server;

mod distribution;
mod duration_serde;
mod failure;
mod latency;
mod model;
mod provider;
mod quota;
mod rng;
mod stream;
mod text;

pub use distribution::Distribution;
pub use duration_serde::parse_duration;
pub use failure::{FailureConfig, InjectedError, SlowWindow, Window};
pub use latency::{CallTiming, LatencyConfig};
pub use model::{ModelConfigError, Price, SimulatedModelConfig};
pub use provider::{ProviderStats, SimulatedProvider};
pub use quota::{QuotaConfig, QuotaExceeded, QuotaLedger, ReservationId};
pub use rng::{SimRng, rng_for};
