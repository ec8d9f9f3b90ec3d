//! Prompt-cache affinity in the agent workload: the built-in scenario
//! `agent-two-models` (two deployments, each with its own prompt cache) run
//! with `[palisade] cache_affinity` on and off on the same conversations.

use palisade_sim::{AgentReport, Scenario, render_agent_table, simulate_agent};

/// The scenario with affinity `on` or off.
fn two_models(on: bool) -> Scenario {
    let mut s = Scenario::named("agent-two-models").unwrap();
    s.palisade.cache_affinity = on;
    s
}

fn run(on: bool) -> AgentReport {
    simulate_agent(&two_models(on)).unwrap()
}

#[test]
fn affinity_keeps_conversations_on_the_model_holding_their_cache() {
    let (on, off) = (run(true), run(false));
    eprintln!(
        "{}",
        render_agent_table(&[("cache affinity on", &on), ("cache affinity off", &off)])
    );
    for r in [&on, &off] {
        assert_eq!(r.conversations_lost, 0);
        assert_eq!(r.conversations, on.conversations);
    }
    // Off, routing by expected wait moves turns to the other deployment,
    // where nothing of the conversation is cached.
    assert!(off.model_switches > 0, "{}", off.model_switches);
    assert!(
        on.model_switches < off.model_switches,
        "on {} off {}",
        on.model_switches,
        off.model_switches
    );
    // Every switch writes the conversation anew on the other model.
    assert!(on.cache_read_pct > off.cache_read_pct);
    assert!(on.cache_write_tokens < off.cache_write_tokens);
}
