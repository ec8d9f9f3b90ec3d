//! The agent simulation's report: tokens (plain input, cache reads, cache
//! writes, output), cost, and how much of each model's token quota the run
//! used, for one run or side by side with and without cache points.
//!
//! Maps are `BTreeMap`s and floats are rounded, so the same run serializes
//! to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::percentiles::LatencySummary;
use crate::prompt_cache::CacheReadQuota;

/// What one run of an agent workload did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentReport {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Simulated seconds during which conversations start.
    pub duration_s: f64,
    /// Whether the requests carried cache points.
    pub cache_points: bool,
    /// Conversations started.
    pub conversations: u64,
    /// Conversations that reached their final answer.
    pub conversations_completed: u64,
    /// Conversations given up after a failed call.
    pub conversations_failed: u64,
    /// Conversations with no outcome when the run ended (a bug if any).
    pub conversations_lost: u64,
    /// Calls the agent made (through the palisade stack).
    pub calls: u64,
    /// Calls answered.
    pub calls_completed: u64,
    /// Failed calls by the error kind the agent saw.
    pub calls_failed_by_kind: BTreeMap<String, u64>,
    /// Answered calls served by another model than the one that answered
    /// the same conversation's previous turn: each one reads nothing of the
    /// conversation from the cache (a model's prompt cache is its own).
    pub model_switches: u64,
    /// Every prompt token of the answered calls: input + cache reads +
    /// cache writes.
    pub prompt_tokens: u64,
    /// Prompt tokens billed at the input price.
    pub input_tokens: u64,
    /// Prompt tokens read from the cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the cache (every lifetime).
    pub cache_write_tokens: u64,
    /// Of the cache writes, those with the 1-hour lifetime.
    pub cache_write_1h_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// `cache_read_tokens / prompt_tokens`, in percent.
    pub cache_read_pct: f64,
    /// What the answered calls cost, in US dollars.
    pub cost_usd: f64,
    /// `cost_usd / conversations_completed`.
    pub cost_per_conversation_usd: f64,
    /// Mean prompt tokens of the answered calls, by turn (the first call of
    /// a conversation first): the context growing.
    pub prompt_tokens_by_turn: Vec<f64>,
    /// Latency of the answered calls (sent to answered, queueing included).
    pub call_latency_ms: LatencySummary,
    /// Duration of the completed conversations, tool time included.
    pub conversation_ms: LatencySummary,
    /// Per model, by id.
    pub models: BTreeMap<String, AgentModelReport>,
}

/// One model's share of an agent run, and its token quota use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentModelReport {
    /// Calls it received.
    pub calls: u64,
    /// Calls it answered.
    pub completed: u64,
    /// Calls it refused for quota (RPM or TPM).
    pub throttled: u64,
    /// Prompt tokens it billed at the input price.
    pub input_tokens: u64,
    /// Prompt tokens it read from its cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens it wrote to its cache.
    pub cache_write_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// What its answers cost, in US dollars.
    pub cost_usd: f64,
    /// How its quota counts cache reads.
    pub cache_reads: CacheReadQuota,
    /// Its tokens-per-minute quota, if it has one.
    pub tpm_limit: Option<u64>,
    /// Most tokens its quota counted in one window (sampled every simulated
    /// second): reservations of calls in flight and charges of settled ones.
    pub peak_tpm_used: u64,
    /// Mean of those samples over the scenario's `duration`.
    pub mean_tpm_used: f64,
    /// `peak_tpm_used / tpm_limit`, in percent; `null` without a quota.
    pub peak_tpm_pct: Option<f64>,
    /// `mean_tpm_used / tpm_limit`, in percent; `null` without a quota.
    pub mean_tpm_pct: Option<f64>,
}

/// The same agent workload with and without cache points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheComparison {
    /// With cache points.
    pub with_cache_points: AgentReport,
    /// Without cache points.
    pub without_cache_points: AgentReport,
}

impl CacheComparison {
    /// `1 − cost with / cost without`, in percent: what the cache points saved.
    pub fn cost_saved_pct(&self) -> f64 {
        let without = self.without_cache_points.cost_usd;
        if without <= 0.0 {
            return 0.0;
        }
        crate::report::round((1.0 - self.with_cache_points.cost_usd / without) * 100.0, 2)
    }
}

/// The report as a table, one column per run.
pub fn render_agent_table(runs: &[(&str, &AgentReport)]) -> String {
    let Some((_, first)) = runs.first() else {
        return String::new();
    };
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&AgentReport) -> String| {
        rows.push((name.to_owned(), runs.iter().map(|(_, r)| f(r)).collect()));
    };
    row("conversations (completed)", &|r| {
        format!(
            "{} ({})",
            thousands(r.conversations),
            thousands(r.conversations_completed)
        )
    });
    row("calls (answered)", &|r| {
        format!("{} ({})", thousands(r.calls), thousands(r.calls_completed))
    });
    row("model switches", &|r| thousands(r.model_switches));
    row("prompt tokens", &|r| thousands(r.prompt_tokens));
    row("  input", &|r| thousands(r.input_tokens));
    row("  cache read", &|r| thousands(r.cache_read_tokens));
    row("  cache write", &|r| thousands(r.cache_write_tokens));
    row("output tokens", &|r| thousands(r.output_tokens));
    row("cache read % of prompt", &|r| {
        format!("{:.1}%", r.cache_read_pct)
    });
    row("cost", &|r| format!("${:.2}", r.cost_usd));
    row("cost per completed conversation", &|r| {
        format!("${:.4}", r.cost_per_conversation_usd)
    });
    row("prompt tokens, first → last turn", &|r| match (
        r.prompt_tokens_by_turn.first(),
        r.prompt_tokens_by_turn.last(),
    ) {
        (Some(a), Some(b)) => format!("{a:.0} → {b:.0}"),
        _ => "-".into(),
    });
    row("call latency p50 / p99", &|r| {
        format!(
            "{:.1} s / {:.1} s",
            r.call_latency_ms.p50 / 1e3,
            r.call_latency_ms.p99 / 1e3
        )
    });
    for id in first.models.keys() {
        let model = |r: &AgentReport| r.models.get(id).cloned();
        row(&format!("{id}: TPM limit"), &|r| {
            model(r)
                .and_then(|m| m.tpm_limit)
                .map_or("none".into(), thousands)
        });
        row(&format!("{id}: peak TPM used"), &|r| {
            model(r).map_or("-".into(), |m| {
                with_pct(thousands(m.peak_tpm_used), m.peak_tpm_pct)
            })
        });
        row(&format!("{id}: mean TPM used"), &|r| {
            model(r).map_or("-".into(), |m| {
                with_pct(thousands(m.mean_tpm_used.round() as u64), m.mean_tpm_pct)
            })
        });
        row(&format!("{id}: quota counts cache reads"), &|r| {
            model(r).map_or("-".into(), |m| match m.cache_reads {
                CacheReadQuota::Counted => "yes".into(),
                CacheReadQuota::ReleasedAtSettle => "until settled".into(),
                CacheReadQuota::NotCounted => "no".into(),
            })
        });
        row(&format!("{id}: throttles"), &|r| {
            model(r).map_or("-".into(), |m| m.throttled.to_string())
        });
    }
    row("failed calls", &|r| {
        let failed: u64 = r.calls_failed_by_kind.values().sum();
        if failed == 0 {
            "0".into()
        } else {
            let kinds: Vec<String> = r
                .calls_failed_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            format!("{failed} ({})", kinds.join(", "))
        }
    });

    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|c| {
            rows.iter()
                .map(|(_, v)| v[c].chars().count())
                .chain(std::iter::once(runs[c].0.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Agent scenario {:?} (seed {}): conversations start for {} s",
        first.scenario, first.seed, first.duration_s
    );
    let _ = write!(out, "{:label_width$}", "");
    for ((name, _), w) in runs.iter().zip(&widths) {
        let _ = write!(out, "  {name:>w$}");
    }
    out.push('\n');
    for (label, values) in &rows {
        let _ = write!(out, "{label:label_width$}");
        for (v, w) in values.iter().zip(&widths) {
            let _ = write!(out, "  {v:>w$}");
        }
        out.push('\n');
    }
    for (name, r) in runs {
        if r.conversations_lost > 0 {
            let _ = writeln!(
                out,
                "the {name} run lost {} conversations (no outcome): this report is incomplete",
                r.conversations_lost
            );
        }
    }
    out
}

fn with_pct(value: String, pct: Option<f64>) -> String {
    match pct {
        Some(p) => format!("{value} ({p:.1}%)"),
        None => value,
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
