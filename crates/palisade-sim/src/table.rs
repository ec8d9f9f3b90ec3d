//! The human-readable, side-by-side rendering of a [`SimulationReport`].

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::report::{ScenarioSummary, SimulationReport, SystemReport};

/// Renders the report as a plain-text table (no colours, fits 80 columns).
pub fn render_table(report: &SimulationReport) -> String {
    render_pair(
        &report.scenario,
        [("naive", &report.naive), ("palisade", &report.palisade)],
    )
}

/// The scenario's summary, then two systems' reports side by side under
/// their names.
pub(crate) fn render_pair(s: &ScenarioSummary, systems: [(&str, &SystemReport); 2]) -> String {
    let [(n_name, n), (p_name, p)] = systems;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Scenario {:?} (seed {}): {} simulated, {} clients, {} requests ({}/min offered)",
        s.name,
        s.seed,
        // A report is plain data (it may come from JSON): a duration that is
        // not a valid time is shown clamped rather than panicking.
        palisade_core::duration::format(crate::limits::duration_from_secs(s.duration_s)),
        s.clients,
        thousands(s.requests),
        s.offered_requests_per_min
    );
    for (i, m) in s.models.iter().enumerate() {
        let role = if i == 0 { "primary " } else { "fallback" };
        let bound = m
            .max_requests_per_min
            .map_or("no quota: unbounded".into(), |r| {
                format!("≤ {r:.1} req/min")
            });
        // Split quotas, when the model has them, follow the combined one.
        let split: String = [("ITPM", m.itpm), ("OTPM", m.otpm)]
            .into_iter()
            .filter_map(|(name, q)| q.map(|q| format!(" {:>10} {name}", thousands(q))))
            .collect();
        let _ = writeln!(
            out,
            "  {role} {:<24} {:>6} RPM {:>10} TPM{split}  burndown {:<3} {bound}",
            m.id,
            m.rpm.map_or("-".into(), |r| thousands(u64::from(r))),
            m.tpm.map_or("-".into(), thousands),
            m.output_burndown,
        );
    }
    match (s.quota_bound_tokens_per_min, s.capacity_tokens_per_min) {
        (Some(bound), Some(capacity)) => {
            let _ = writeln!(
                out,
                "  quota-bound goodput {} tokens/min = min(offered {}, capacity {})",
                thousands(bound as u64),
                thousands(s.offered_tokens_per_min as u64),
                thousands(capacity as u64)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "  offered {} tokens/min; no quota-bound maximum (a model has no quota)",
                thousands(s.offered_tokens_per_min as u64)
            );
        }
    }
    let _ = writeln!(out);

    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |label: &str, a: String, b: String| rows.push((label.to_owned(), a, b));
    let both = |f: &dyn Fn(&SystemReport) -> String| (f(n), f(p));

    let (a, b) = both(&|r| thousands(r.requests));
    row("requests", a, b);
    let (a, b) = both(&|r| format!("{} ({:.2}%)", thousands(r.completed), r.completed_pct));
    row("completed", a, b);
    let (a, b) = both(&|r| thousands(r.failed));
    row("failed", a, b);
    let kinds: BTreeSet<&String> = n
        .failed_by_kind
        .keys()
        .chain(p.failed_by_kind.keys())
        .collect();
    for kind in kinds {
        let count = |r: &SystemReport| thousands(r.failed_by_kind.get(kind).copied().unwrap_or(0));
        row(&format!("  {kind}"), count(n), count(p));
    }
    let (a, b) = both(&|r| thousands(r.lost));
    row("lost", a, b);
    let (a, b) = both(&|r| {
        if r.failed == 0 {
            "-".into()
        } else {
            seconds(r.time_to_failure_ms.p50)
        }
    });
    row("  time to failure p50", a, b);
    let (a, b) = both(&|r| thousands(r.calls_cut_by_deadline));
    row("calls cut by the deadline", a, b);
    let (a, b) = both(&|r| thousands(r.throttles_seen_by_provider));
    row("throttles seen by the models", a, b);
    let (a, b) = both(&|r| thousands(r.throttles_surfaced));
    row("throttles surfaced to callers", a, b);
    let (a, b) = both(&|r| thousands(r.provider_calls));
    row("calls to the models", a, b);
    let (a, b) = both(&|r| thousands(r.retries));
    row("retries (same model)", a, b);
    let (a, b) = both(&|r| thousands(r.fallbacks));
    row("fallbacks (next model)", a, b);
    let (a, b) = both(&|r| thousands(r.served_by_fallback));
    row("answered by a fallback model", a, b);
    let (a, b) = both(&|r| seconds(r.latency_ms.p50));
    row("latency p50", a, b);
    let (a, b) = both(&|r| seconds(r.latency_ms.p95));
    row("latency p95", a, b);
    let (a, b) = both(&|r| seconds(r.latency_ms.p99));
    row("latency p99", a, b);
    let (a, b) = both(&|r| seconds(r.queue_ms.p99));
    row("waiting p99 (queues, backoff)", a, b);
    let (a, b) = both(&|r| thousands(r.goodput_tokens_per_min as u64));
    row("goodput (tokens/min)", a, b);
    let (a, b) = both(&|r| {
        r.goodput_pct_of_quota_bound
            .map_or("-".into(), |p| format!("{p:.1}%"))
    });
    row("  of the quota-bound maximum", a, b);
    let (a, b) = both(&|r| format!("${:.2}", r.cost_usd));
    row("cost", a, b);
    let (a, b) = both(&|r| seconds(r.drain_s * 1e3));
    row("last answer after the end", a, b);
    for id in s.models.iter().map(|m| &m.id) {
        let share = |r: &SystemReport| {
            r.models
                .get(id)
                .map_or("-".into(), |m| format!("{:.1}%", m.share_pct))
        };
        row(&format!("share {id}"), share(n), share(p));
    }

    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let col = rows
        .iter()
        .map(|r| r.1.chars().count().max(r.2.chars().count()))
        .max()
        .unwrap_or(0)
        .max(8)
        .max(n_name.chars().count())
        .max(p_name.chars().count());
    let _ = writeln!(out, "{:width$}  {:>col$}  {:>col$}", "", n_name, p_name);
    for (label, a, b) in rows {
        let _ = writeln!(out, "{label:width$}  {a:>col$}  {b:>col$}");
    }
    for (name, r) in [(n_name, n), (p_name, p)] {
        if r.lost > 0 {
            let _ = writeln!(
                out,
                "\nERROR: the simulation lost {} of the {name} system's requests (no outcome \
                 recorded); this report is incomplete — please report it as a bug",
                thousands(r.lost)
            );
        }
    }
    out
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Milliseconds as a short human duration.
pub(crate) fn seconds(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 120_000.0 {
        format!("{:.1} s", ms / 1e3)
    } else {
        format!("{:.1} min", ms / 60e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(seconds(850.0), "850 ms");
        assert_eq!(seconds(1_500.0), "1.5 s");
        assert_eq!(seconds(180_000.0), "3.0 min");
    }
}
