//! The agent workload (issue 14): conversations of tool-calling turns through
//! the palisade stack, with and without prompt-cache points, on the shipped
//! scenario `scenarios/agent.toml` (shortened to keep the tests quick).

use std::time::Duration;

use palisade_sim::{
    CacheReadQuota, NoProgress, Scenario, compare_cache_points, render_agent_table, simulate,
    simulate_agent,
};

const AGENT_SCENARIO: &str = include_str!("../scenarios/agent.toml");

/// The shipped agent scenario, six minutes of conversations starting.
fn scenario() -> Scenario {
    let mut s = Scenario::from_toml_str(AGENT_SCENARIO, "scenarios/agent.toml").unwrap();
    s.duration = Duration::from_secs(360);
    s
}

#[test]
fn with_cache_points_the_same_conversations_read_the_cache_cost_less_and_use_less_quota() {
    let c = compare_cache_points(&scenario()).unwrap();
    let (with, without) = (&c.with_cache_points, &c.without_cache_points);
    assert!(with.conversations > 20, "{}", with.conversations);
    // The same work on both sides.
    assert_eq!(with.conversations, without.conversations);
    assert_eq!(with.conversations_completed, with.conversations);
    assert_eq!(without.conversations_completed, without.conversations);
    assert_eq!(with.conversations_lost + without.conversations_lost, 0);
    assert_eq!(with.calls, without.calls);
    assert_eq!(with.output_tokens, without.output_tokens);
    assert_eq!(with.prompt_tokens, without.prompt_tokens);

    assert!(with.cache_points && !without.cache_points);
    assert!(with.cache_read_tokens > 0);
    assert!(with.cache_write_tokens > 0);
    // Each turn reads what the turn before wrote: reads dominate.
    assert!(with.cache_read_tokens > 5 * with.cache_write_tokens);
    assert_eq!(without.cache_read_tokens, 0);
    assert_eq!(without.cache_write_tokens, 0);
    assert_eq!(without.input_tokens, without.prompt_tokens);

    assert!(
        with.cost_usd < without.cost_usd / 2.0,
        "{} vs {}",
        with.cost_usd,
        without.cost_usd
    );
    assert!(c.cost_saved_pct() > 50.0);

    // Bedrock-like quota: cache reads are given back at settlement.
    let (m_with, m_without) = (&with.models["sim/claude"], &without.models["sim/claude"]);
    assert_eq!(m_with.cache_reads, CacheReadQuota::ReleasedAtSettle);
    assert!(m_with.mean_tpm_used < m_without.mean_tpm_used / 2.0);
    assert!(m_with.peak_tpm_used < m_without.peak_tpm_used);
    assert!(m_without.peak_tpm_used <= m_without.tpm_limit.unwrap());

    let table = render_agent_table(&[("with", with), ("without", without)]);
    assert!(table.contains("cache read"), "{table}");
    assert!(table.contains("sim/claude: peak TPM used"), "{table}");
}

#[test]
fn the_context_grows_turn_over_turn() {
    let report = simulate_agent(&scenario()).unwrap();
    let by_turn = &report.prompt_tokens_by_turn;
    assert_eq!(by_turn.len(), 9, "8 tool calls and the final answer");
    // Each turn adds the tool call and a result of at least 300 tokens.
    assert!(
        by_turn.windows(2).all(|w| w[1] > w[0] + 300.0),
        "{by_turn:?}"
    );
}

#[test]
fn the_same_scenario_gives_the_same_report() {
    let a = serde_json::to_string(&simulate_agent(&scenario()).unwrap()).unwrap();
    let b = serde_json::to_string(&simulate_agent(&scenario()).unwrap()).unwrap();
    assert_eq!(a, b);
    let mut other = scenario();
    other.seed = 7;
    let c = serde_json::to_string(&simulate_agent(&other).unwrap()).unwrap();
    assert_ne!(a, c, "another seed, other conversations");
}

#[test]
fn a_quota_that_counts_cache_reads_is_used_as_much_with_cache_points_as_without() {
    let text = AGENT_SCENARIO.replace(
        "cache_reads = \"released_at_settle\"",
        "cache_reads = \"counted\"",
    );
    let mut s = Scenario::from_toml_str(&text, "counted").unwrap();
    s.duration = Duration::from_secs(360);
    let c = compare_cache_points(&s).unwrap();
    let (with, without) = (
        &c.with_cache_points.models["sim/claude"],
        &c.without_cache_points.models["sim/claude"],
    );
    assert!(c.with_cache_points.cache_read_tokens > 0);
    // Cheaper, but the same charges against the quota.
    assert!(c.with_cache_points.cost_usd < c.without_cache_points.cost_usd);
    assert_eq!(with.mean_tpm_used, without.mean_tpm_used);
    assert_eq!(with.peak_tpm_used, without.peak_tpm_used);
}

#[test]
fn simulate_refuses_an_agent_scenario_and_simulate_agent_one_without() {
    let err = simulate(&scenario(), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("[agent]"), "{err}");
    let plain = Scenario::from_toml_str("[[models]]\nid = \"a\"\n", "t").unwrap();
    let err = simulate_agent(&plain).unwrap_err();
    assert!(err.to_string().contains("[agent]"), "{err}");
    assert!(Scenario::builtin().agent.is_none());
}

#[test]
fn a_bad_agent_field_is_named_with_its_line() {
    let text = AGENT_SCENARIO.replace("tools = 10", "tools = 0");
    let err = Scenario::from_toml_str(&text, "agent.toml").unwrap_err();
    assert_eq!(err.field(), Some("agent.tools"));
    assert!(err.to_string().contains("agent.toml, line"), "{err}");
}

#[test]
fn the_agent_scenario_round_trips_through_toml() {
    let s = scenario();
    let text = toml::to_string(&s).unwrap();
    assert_eq!(Scenario::from_toml_str(&text, "t").unwrap(), s);
}

/// docs/simulation.md quotes the whole comparison table of the shipped
/// scenario; it must be what the scenario gives.
#[test]
fn the_documented_figures_are_what_the_shipped_scenario_gives() {
    let docs = include_str!("../../../docs/simulation.md");
    let full = Scenario::from_toml_str(AGENT_SCENARIO, "scenarios/agent.toml").unwrap();
    let c = compare_cache_points(&full).unwrap();
    let table = render_agent_table(&[
        ("with cache points", &c.with_cache_points),
        ("without cache points", &c.without_cache_points),
    ]);
    let saved = format!(
        "cache points saved {:.1}% of the cost\n",
        c.cost_saved_pct()
    );
    assert!(
        docs.contains(&format!("{table}{saved}")),
        "docs/simulation.md no longer shows what the agent scenario gives; the run gives:\n{table}{saved}"
    );
}
