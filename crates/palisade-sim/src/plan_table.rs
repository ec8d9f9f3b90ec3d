//! The human-readable rendering of a [`QuotaPlan`]: per model, the figures a
//! quota-increase request asks for (named as such), the current and
//! recommended quotas, then both systems at both sets of quotas.

use std::fmt::Write as _;

use crate::plan_report::{ModelPlan, QuotaPlan, Quotas, Rate, SystemOutcome};
use crate::table::{seconds, thousands};

/// Renders the plan as a plain-text table (no colours, fits 80 columns).
pub fn render_plan_table(plan: &QuotaPlan) -> String {
    let mut out = String::new();
    let s = &plan.source;
    let _ = writeln!(
        out,
        "Quota plan for {} {:?} (seed {}): {} simulated, {} requests",
        s.kind,
        s.name,
        s.seed,
        palisade_core::duration::format(crate::limits::duration_from_secs(s.duration_s)),
        thousands(s.requests)
    );
    let _ = writeln!(
        out,
        "Target (palisade stack): no call refused for quota, at most {} failed requests\n  \
         (as many as with no quota), p99 queueing ≤ {}: {}",
        thousands(plan.target.max_failed),
        seconds(plan.max_queue_p99_ms()),
        if plan.target_met {
            "met".to_owned()
        } else {
            format!(
                "NOT met, even at scale {}\n  (the recommended quotas are the highest tried)",
                plan.runs.scale
            )
        }
    );
    let r = &plan.runs;
    let _ = writeln!(
        out,
        "Simulation runs: {} (1 with no quota, 2 at the current quotas, {} searching of\n  \
         at most {}, 1 naive check); scale {:.3} between steady (0) and peak (1)",
        r.total, r.search, r.search_limit, r.scale
    );
    for model in &plan.models {
        let _ = writeln!(out);
        render_model(&mut out, model);
    }
    let _ = writeln!(out);
    let free = &plan.at_no_quota;
    let _ = writeln!(
        out,
        "With no quota at all the palisade stack completes {} of {} requests, p99\n\
         queueing {}: no quota does better than that.\n",
        thousands(free.completed),
        thousands(free.requests),
        seconds(free.queue_ms.p99)
    );
    render_outcomes(&mut out, plan);
    out
}

fn render_model(out: &mut String, m: &ModelPlan) {
    let d = &m.demand;
    if d.requests == 0 {
        let _ = writeln!(
            out,
            "{} (output burndown {}): the load never reached it with no quota;\n  \
             its quotas stay as they are (RPM {}, TPM {})",
            m.id,
            m.output_burndown,
            m.current
                .rpm
                .map_or("none".into(), |r| thousands(u64::from(r))),
            m.current.tpm.map_or("none".into(), thousands),
        );
        return;
    }
    let _ = writeln!(
        out,
        "{} (output burndown {}; {} calls with no quota)",
        m.id,
        m.output_burndown,
        thousands(d.requests)
    );
    let _ = writeln!(out, "  Quota-increase request figures (per minute):");
    let pair = |out: &mut String, a: &str, x: String, b: &str, y: String| {
        let _ = writeln!(out, "    {a:<18} {x:>12}    {b:<18} {y:>12}");
    };
    pair(
        out,
        "steady RPM",
        format!("{:.1}", d.rpm.steady),
        "peak RPM",
        whole(d.rpm.peak),
    );
    pair(
        out,
        "steady TPM",
        whole(d.tpm.steady),
        "peak TPM",
        whole(d.tpm.peak),
    );
    pair(
        out,
        "avg input tokens",
        whole(d.avg_input_tokens),
        "avg output tokens",
        whole(d.avg_output_tokens),
    );
    let rate = |r: &Rate| format!("{} / {}", whole(r.steady), whole(r.peak));
    let _ = writeln!(
        out,
        "    {:<30} {:>30}",
        "input TPM steady / peak",
        rate(&d.input_tpm)
    );
    if d.counted_input_tpm != d.input_tpm {
        let _ = writeln!(
            out,
            "    {:<30} {:>30}",
            "  as the input quota counts",
            rate(&d.counted_input_tpm)
        );
    }
    let _ = writeln!(
        out,
        "    {:<30} {:>30}",
        "output TPM steady / peak",
        rate(&d.output_tpm)
    );
    let _ = writeln!(
        out,
        "    {:<30} {:>30}",
        "tokens per day steady / peak",
        rate(&d.tpd)
    );
    let _ = writeln!(out, "  Quotas            {:>12} {:>14}", "RPM", "TPM");
    let quotas = |out: &mut String, label: &str, q: &Quotas| {
        let _ = writeln!(
            out,
            "    {label:<14} {:>12} {:>14}",
            q.rpm.map_or("none".into(), |r| thousands(u64::from(r))),
            q.tpm.map_or("none".into(), thousands),
        );
    };
    quotas(out, "current", &m.current);
    quotas(out, "recommended", &m.recommended);
    let _ = writeln!(
        out,
        "    {:<14} {:>12} {:>14}   (refuses no call)",
        "peak",
        whole(d.rpm.peak),
        thousands(d.peak_tpm_reserved)
    );
    if m.current.itpm.is_some() || m.current.otpm.is_some() {
        let split = |q: &Quotas| {
            format!(
                "{} / {}",
                q.itpm.map_or("none".into(), thousands),
                q.otpm.map_or("none".into(), thousands)
            )
        };
        let _ = writeln!(
            out,
            "    input / output TPM: current {}, recommended {}",
            split(&m.current),
            split(&m.recommended)
        );
    }
    let (c, r) = (&m.at_current, &m.at_recommended);
    let _ = writeln!(
        out,
        "  Throttled calls: palisade {} → {}, naive {} → {} (current → recommended)",
        thousands(c.palisade.throttled),
        thousands(r.palisade.throttled),
        thousands(c.naive.throttled),
        thousands(r.naive.throttled)
    );
}

fn render_outcomes(out: &mut String, plan: &QuotaPlan) {
    let _ = writeln!(
        out,
        "{:<24} {:>27}   {:>27}",
        "Predicted", "at the current quotas", "at the recommended"
    );
    let _ = writeln!(
        out,
        "{:<24} {:>13} {:>13}   {:>13} {:>13}",
        "", "naive", "palisade", "naive", "palisade"
    );
    let (c, r) = (&plan.at_current, &plan.at_recommended);
    let row = |out: &mut String, label: &str, f: &dyn Fn(&SystemOutcome) -> String| {
        let _ = writeln!(
            out,
            "{label:<24} {:>13} {:>13}   {:>13} {:>13}",
            f(&c.naive),
            f(&c.palisade),
            f(&r.naive),
            f(&r.palisade)
        );
    };
    row(out, "completed", &|s| {
        format!("{}/{}", thousands(s.completed), thousands(s.requests))
    });
    row(out, "throttles seen by models", &|s| thousands(s.throttles));
    row(out, "throttles surfaced", &|s| {
        thousands(s.throttles_surfaced)
    });
    row(out, "latency p50", &|s| seconds(s.latency_ms.p50));
    row(out, "latency p99", &|s| seconds(s.latency_ms.p99));
    row(out, "queueing p99", &|s| seconds(s.queue_ms.p99));
    row(out, "cost", &|s| format!("${:.2}", s.cost_usd));
    row(out, "cost per day", &|s| {
        format!("${:.2}", s.cost_usd_per_day)
    });
}

/// A rate, rounded to a whole number with thousands separators.
fn whole(x: f64) -> String {
    thousands(x.max(0.0).round() as u64)
}
