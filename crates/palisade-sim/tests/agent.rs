//! The agent workload: conversations of tool-calling turns through the
//! palisade stack, with and without prompt-cache points (issue 14).

use palisade_sim::{
    AgentReport, CacheReadQuota, Scenario, compare_cache_points, render_agent_table, simulate_agent,
};

const AGENT_SCENARIO: &str = include_str!("../scenarios/agent.toml");

fn scenario() -> Scenario {
    Scenario::from_toml_str(AGENT_SCENARIO, "scenarios/agent.toml").unwrap()
}

#[test]
fn print_it() {
    let c = compare_cache_points(&scenario()).unwrap();
    println!(
        "{}",
        render_agent_table(&[
            ("with cache points", &c.with_cache_points),
            ("without", &c.without_cache_points)
        ])
    );
    println!("{}", serde_json::to_string_pretty(&c).unwrap());
}

#[test]
fn print_variants() {
    for (name, from, to) in [
        ("no rpm", "rpm = 200\n", ""),
        ("tpm 400k", "tpm = 800000", "tpm = 400000"),
        ("not counted", "released_at_settle", "not_counted"),
    ] {
        let text = AGENT_SCENARIO.replace(from, to);
        let s = Scenario::from_toml_str(&text, "v").unwrap();
        let c = compare_cache_points(&s).unwrap();
        println!(
            "== {name}\n{}",
            render_agent_table(&[
                ("with cache points", &c.with_cache_points),
                ("without", &c.without_cache_points)
            ])
        );
    }
}
