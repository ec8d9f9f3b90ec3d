//! Prompt-cache affinity in the agent workload: the built-in scenario
//! `agent-two-models` (two deployments of one model, each with its own
//! quota and prompt cache) run with `[palisade] cache_affinity` on and off
//! on the same conversations.

use palisade_sim::{AgentReport, Scenario, render_agent_table, simulate_agent};

const TWO_MODELS: &str = include_str!("../scenarios/agent-two-models.toml");

/// The built-in scenario with affinity `on`, or off as docs/simulation.md
/// turns it off (the file with `cache_affinity = false`).
fn two_models(on: bool) -> Scenario {
    let text = if on {
        TWO_MODELS.to_owned()
    } else {
        let off = TWO_MODELS.replace("\ncache_affinity = true", "\ncache_affinity = false");
        assert_ne!(
            off, TWO_MODELS,
            "the scenario no longer sets cache_affinity"
        );
        off
    };
    let s = Scenario::from_toml_str(&text, "agent-two-models").unwrap();
    assert_eq!(s.palisade.cache_affinity, on);
    if on {
        assert_eq!(Scenario::named("agent-two-models"), Some(s.clone()));
    }
    s
}

/// Both runs, side by side (each is a single-threaded simulation).
fn on_and_off() -> (AgentReport, AgentReport) {
    std::thread::scope(|scope| {
        let on = scope.spawn(|| simulate_agent(&two_models(true)).unwrap());
        let off = simulate_agent(&two_models(false)).unwrap();
        (on.join().unwrap(), off)
    })
}

/// The summary docs/simulation.md ("Cache affinity") shows.
fn summary(on: &AgentReport, off: &AgentReport) -> String {
    let mut rows = vec![
        "| | `cache_affinity = true` | `cache_affinity = false` |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    let mut row = |name: &str, f: &dyn Fn(&AgentReport) -> String| {
        rows.push(format!("| {name} | {} | {} |", f(on), f(off)));
    };
    row("conversations completed / failed", &|r| {
        format!("{} / {}", r.conversations_completed, r.conversations_failed)
    });
    row(
        "`model_switches`: turns answered by another model than the turn before",
        &|r| thousands(r.model_switches),
    );
    row("cache reads, % of prompt tokens", &|r| {
        format!("{:.1}%", r.cache_read_pct)
    });
    row("cache writes", &|r| {
        format!("{:.2} M tokens", r.cache_write_tokens as f64 / 1e6)
    });
    row("cost", &|r| format!("${:.2}", r.cost_usd));
    row("call latency p50 / p95 / p99", &|r| {
        let l = &r.call_latency_ms;
        format!(
            "{:.1} s / {:.1} s / {:.1} s",
            l.p50 / 1e3,
            l.p95 / 1e3,
            l.p99 / 1e3
        )
    });
    row("conversation p50 / p95", &|r| {
        let c = &r.conversation_ms;
        format!("{:.1} s / {:.1} s", c.p50 / 1e3, c.p95 / 1e3)
    });
    for id in on.models.keys() {
        row(&format!("calls answered by `{id}`"), &|r| {
            thousands(r.models.get(id).map_or(0, |m| m.completed))
        });
    }
    rows.join("\n") + "\n"
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn affinity_keeps_conversations_on_the_model_holding_their_cache() {
    let (on, off) = on_and_off();
    let table = render_agent_table(&[("cache affinity on", &on), ("cache affinity off", &off)]);
    let summary = summary(&on, &off);
    eprintln!("{table}\n{summary}");
    for r in [&on, &off] {
        assert_eq!(r.conversations_lost, 0);
        assert_eq!(r.conversations, on.conversations);
    }
    // Off, routing by expected wait moves turns to the other deployment,
    // where nothing of the conversation is cached; on, far fewer move.
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
    assert!(on.cost_usd < off.cost_usd);

    // docs/simulation.md quotes both; they must be what the scenario gives.
    let docs = include_str!("../../../docs/simulation.md");
    assert!(
        docs.contains(&table) && docs.contains(&summary),
        "docs/simulation.md no longer shows what agent-two-models gives; the run gives:\n{table}\n{summary}"
    );
}
