//! `palisade plan`: the quotas a load needs (steady and peak RPM and TPM,
//! tokens per day, average request sizes — the figures a quota-increase
//! request asks for), found by simulation for no throttling and p99
//! queueing under a bound, and what happens at the quotas the scenario has
//! (docs/simulation.md, "Planning quotas").
//!
//! The load is the built-in default scenario with no arguments, a scenario
//! (`--scenario FILE|NAME`, as `palisade simulate` takes it), or a JSONL
//! trace of requests (`--trace FILE`), run against the models of
//! `--scenario` when given. Exit status: 0 when a plan was made (whether or
//! not the target could be met: the table and `target_met` say); 1 on a
//! bad scenario or trace, a failed run or an HTML page that cannot be
//! written; 2 on usage errors (from clap). `--html FILE` also writes the run
//! at the current quotas as a page of charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use palisade_sim::limits::{MAX_CLIENTS, MAX_WAIT};
use palisade_sim::{
    PlanTarget, QuotaPlan, Scenario, Trace, parse_duration, plan, plan_trace, render_plan_table,
};

use crate::simulate::{duration_arg, fail, load, print};

/// Arguments of `palisade plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Scenario TOML file, or the name of a built-in scenario (default,
    /// large-max-tokens, budget, …); the built-in default scenario when
    /// absent. With `--trace`: the models (quotas, latency, price) the
    /// trace runs against, by id.
    #[arg(long, visible_aliases = ["scenario-file", "config"], value_name = "FILE|NAME")]
    scenario: Option<PathBuf>,
    /// A JSONL trace of requests (one object per line: ts, model,
    /// input_tokens, output_tokens, optional max_tokens, cache_read_tokens,
    /// cache_write_tokens) to plan for instead of the scenario's own load.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// The most p99 queueing (time requests wait outside the models) the
    /// recommended quotas may leave, e.g. 30s, 2m, 0s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = queue_bound_arg)]
    max_queue_p99: Duration,
    /// Simulated time during which the scenario's requests arrive (e.g. 1h,
    /// 20m); not with `--trace`, whose last request sets it.
    #[arg(long, value_parser = duration_arg, conflicts_with = "trace")]
    duration: Option<Duration>,
    /// Number of the scenario's clients (at most 100,000); not with `--trace`.
    #[arg(long, conflicts_with = "trace",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CLIENTS)))]
    clients: Option<u32>,
    /// Seed of every random draw; the same seed gives the same plan.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the plan as JSON (version 1; fields in docs/simulation.md).
    #[arg(long)]
    json: bool,
    /// Also write the simulation at the scenario's own quotas (naive client
    /// and palisade stack side by side) as a page of charts to FILE, as
    /// `palisade simulate --html` does.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

fn queue_bound_arg(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("{e}; write e.g. 30s, 2m, 0s"))?;
    if d > MAX_WAIT {
        return Err(format!(
            "must be at most {}",
            palisade_core::duration::format(MAX_WAIT)
        ));
    }
    Ok(d)
}

/// Runs `palisade plan`.
pub(crate) fn run(args: PlanArgs) -> ExitCode {
    crate::chat::init_tracing();
    let scenario = match args.scenario {
        Some(path) => match load(&path) {
            Ok((s, _)) => Some(s),
            Err(e) => return fail(&e),
        },
        None => None,
    };
    let target = PlanTarget {
        max_queue_p99: args.max_queue_p99,
    };
    let planned = match args.trace {
        Some(path) => plan_for_trace(&path, scenario.as_ref(), args.seed, &target),
        None => {
            let mut scenario = scenario.unwrap_or_else(Scenario::builtin);
            if let Some(seed) = args.seed {
                scenario.seed = seed;
            }
            if let Some(d) = args.duration {
                scenario.duration = d;
            }
            if let Some(c) = args.clients {
                scenario.clients = c;
            }
            match scenario.validate() {
                Ok(()) => plan(&scenario, &target).map_err(|e| e.to_string()),
                Err(e) => {
                    let overridden = args.duration.is_some() || args.clients.is_some();
                    let note = if overridden {
                        " (with --duration/--clients applied)"
                    } else {
                        ""
                    };
                    Err(format!("{e}{note}"))
                }
            }
        }
    };
    let planned: QuotaPlan = match planned {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Some(path) = &args.html
        && let Err(e) = crate::simulate::write_html(&planned.current_report, path)
    {
        return fail(&e);
    }
    let text = if args.json {
        match serde_json::to_string_pretty(&planned) {
            Ok(json) => json + "\n",
            Err(e) => return fail(&e),
        }
    } else {
        render_plan_table(&planned)
    };
    match print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Reads the trace, binds it to the scenario's models (or default ones),
/// and plans for it.
fn plan_for_trace(
    path: &Path,
    scenario: Option<&Scenario>,
    seed: Option<u64>,
    target: &PlanTarget,
) -> Result<QuotaPlan, String> {
    let trace = Trace::from_file(path).map_err(|e| e.to_string())?;
    let mut bound = trace.bind(scenario).map_err(|e| e.to_string())?;
    if let Some(seed) = seed {
        bound.scenario.seed = seed;
    }
    plan_trace(&bound, target).map_err(|e| e.to_string())
}
