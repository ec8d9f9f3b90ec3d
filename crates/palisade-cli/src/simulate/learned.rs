//! `palisade simulate --compare-learned-output` (implied by the built-in
//! `large-max-tokens` scenario): the palisade stack over the scenario's load
//! reserving `max_tokens` and reserving learned output, side by side
//! (docs/simulation.md, "Large max_tokens: learned output reservations").
//!
//! Exit status: 0 on success; 1 on a failed run or one that lost requests
//! (the report is still printed and says so).

use std::process::ExitCode;

use palisade_sim::{Scenario, compare_learned_output, render_learned_table};

use crate::simulate::{fail, print};

/// Runs the comparison and prints it.
pub(crate) fn run(scenario: &Scenario, json: bool) -> ExitCode {
    let comparison = match compare_learned_output(scenario) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let text = if json {
        match serde_json::to_string_pretty(&comparison) {
            Ok(j) => j + "\n",
            Err(e) => return fail(&e),
        }
    } else {
        render_learned_table(&comparison)
    };
    if let Err(e) = print(&text) {
        return fail(&e);
    }
    let lost = comparison.reserve_max_tokens.lost + comparison.learned.lost;
    if lost > 0 {
        return fail(&format!(
            "the simulation lost {lost} requests: the report is incomplete; this is a bug"
        ));
    }
    ExitCode::SUCCESS
}
