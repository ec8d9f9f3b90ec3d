//! The palisade stack under test, built over the scenario's models.
//!
//! (Being integrated: the limiter, breaker and stack crates are landing.)

use std::time::Duration;

use palisade_core::SharedProvider;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// How the palisade side of a simulation is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PalisadeConfig {
    /// Longest a request queues at one model's limiter before the fallback
    /// tries the next model; the last model queues until the deadline.
    /// Default: 20 s.
    #[serde(with = "crate::duration_serde")]
    pub queue_wait: Duration,
}

impl Default for PalisadeConfig {
    fn default() -> Self {
        Self {
            queue_wait: Duration::from_secs(20),
        }
    }
}

impl PalisadeConfig {
    /// Checks the knobs; the error is `(field, what is wrong)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// Builds the palisade stack over the scenario's (probed) models.
pub(crate) fn build(
    _scenario: &Scenario,
    models: Vec<SharedProvider>,
) -> Result<SharedProvider, String> {
    models
        .into_iter()
        .next()
        .ok_or_else(|| "the scenario has no models".to_owned())
}
