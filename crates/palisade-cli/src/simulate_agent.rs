//! `palisade simulate` on a scenario with an `[agent]` workload: the
//! conversations run through the palisade stack (no naive client: the
//! question is what prompt caching does to cost and quota, not how two
//! clients compare), as written or — with `--compare-cache-points` — with
//! cache points and without, side by side (docs/simulation.md, "Agent
//! conversations and prompt caching").
//!
//! Exit status: 0 on success; 1 on a failed run or one that lost
//! conversations (the report is still printed and says so).

use std::process::ExitCode;

use palisade_sim::{
    AgentReport, Scenario, compare_cache_points, render_agent_table, simulate_agent,
};

use crate::simulate::{fail, print};

/// Runs the agent workload of `scenario` and prints its report.
pub(crate) fn run(scenario: &Scenario, json: bool, compare: bool) -> ExitCode {
    let (text, reports) = if compare {
        let comparison = match compare_cache_points(scenario) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let text = if json {
            serde_json::to_string_pretty(&comparison).map(|j| j + "\n")
        } else {
            Ok(format!(
                "{}cache points saved {:.1}% of the cost\n",
                render_agent_table(&[
                    ("with cache points", &comparison.with_cache_points),
                    ("without cache points", &comparison.without_cache_points),
                ]),
                comparison.cost_saved_pct()
            ))
        };
        (
            text,
            vec![
                comparison.with_cache_points,
                comparison.without_cache_points,
            ],
        )
    } else {
        let report = match simulate_agent(scenario) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        let text = if json {
            serde_json::to_string_pretty(&report).map(|j| j + "\n")
        } else {
            let name = if report.cache_points {
                "with cache points"
            } else {
                "without cache points"
            };
            Ok(render_agent_table(&[(name, &report)]))
        };
        (text, vec![report])
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if let Err(e) = print(&text) {
        return fail(&e);
    }
    match lost_conversations(&reports) {
        Some(message) => fail(&message),
        None => ExitCode::SUCCESS,
    }
}

/// Why a finished agent report must not be trusted: conversations without
/// an outcome. `None` when every conversation is accounted for.
fn lost_conversations(reports: &[AgentReport]) -> Option<String> {
    let lost: u64 = reports.iter().map(|r| r.conversations_lost).sum();
    (lost > 0).then(|| {
        format!("the simulation lost {lost} conversations: the report is incomplete; this is a bug")
    })
}
