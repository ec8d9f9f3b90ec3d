//! `palisade simulate`: runs a load scenario in virtual time against the
//! naive client and the palisade stack, and prints them side by side.
//!
//! With no arguments it runs the built-in default scenario
//! (docs/simulation.md); `--scenario` takes a file or the name of a built-in
//! scenario (`large-max-tokens`, `budget`, `agent`, …). A scenario with an
//! `[agent]` workload runs through the palisade stack alone (the
//! `simulate_agent` module); `--compare-learned-output` (implied by the
//! built-in `large-max-tokens`) runs the palisade stack reserving
//! `max_tokens` and reserving learned output side by side (the `learned`
//! module); a scenario whose stack has a budget gets a line saying how
//! close it came to it. `--html FILE` also writes the report as a page of
//! charts (`palisade_sim::html`). Exit status: 0 on success; 1 on a bad scenario, a
//! failed run, or a run that lost requests (one line on stderr; the report
//! is still printed and says so); 2 on usage errors (from clap).

mod learned;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use palisade_sim::limits::{MAX_CLIENTS, MAX_DURATION};
use palisade_sim::{
    BUILTIN_SCENARIOS, BudgetOutcome, DEFAULT_SCENARIO_TOML, NAIVE, NoProgress, PALISADE,
    ProgressSink, Scenario, SimulationReport, parse_duration, render_table, simulate,
};

/// Arguments of `palisade simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Scenario TOML file, or the name of a built-in scenario (default,
    /// large-max-tokens, budget, agent, agent-tight-quota, agent-two-models,
    /// …); the built-in default scenario when absent.
    #[arg(long, value_name = "FILE|NAME")]
    scenario: Option<PathBuf>,
    /// Simulated time during which requests arrive (e.g. 1h, 20m, 90s).
    #[arg(long, value_parser = duration_arg)]
    duration: Option<Duration>,
    /// Number of clients (at most 100,000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CLIENTS)))]
    clients: Option<u32>,
    /// Seed of every random draw; the same seed gives the same report.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON (field names in docs/simulation.md).
    #[arg(long)]
    json: bool,
    /// For a scenario with an `[agent]` workload: run it with cache points
    /// and without, and print both side by side.
    #[arg(long, requires = "scenario")]
    compare_cache_points: bool,
    /// Run the palisade stack reserving `max_tokens` and reserving learned
    /// output (the scenario's `[palisade.learned_output]`, or the
    /// defaults), and print both side by side. Implied by the built-in
    /// `large-max-tokens` scenario.
    #[arg(long, requires = "scenario", conflicts_with = "compare_cache_points")]
    compare_learned_output: bool,
    /// Also write the report as one self-contained HTML page with charts
    /// over time (served per model, queue depth, throttles, latency; naive
    /// and palisade side by side) to FILE.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["compare_cache_points", "compare_learned_output"])]
    html: Option<PathBuf>,
    /// Print the built-in default scenario as TOML and exit.
    #[arg(long, conflicts_with_all = ["scenario", "duration", "clients", "seed", "json", "compare_cache_points", "compare_learned_output", "html"])]
    print_default: bool,
}

pub(crate) fn duration_arg(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("{e}; write e.g. 90s, 20m, 1h"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    if d > MAX_DURATION {
        return Err(format!(
            "must be at most {} of simulated time",
            palisade_core::duration::format(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// Runs `palisade simulate`.
pub(crate) fn run(args: SimulateArgs) -> ExitCode {
    crate::chat::init_tracing();
    if args.print_default {
        print!("{DEFAULT_SCENARIO_TOML}");
        return ExitCode::SUCCESS;
    }
    let mut compare_learned = args.compare_learned_output;
    let mut scenario = match args.scenario {
        Some(path) => match load(&path) {
            Ok((s, builtin)) => {
                compare_learned |= builtin && s.name == LEARNED_OUTPUT_SCENARIO;
                s
            }
            Err(e) => return fail(&e),
        },
        None => Scenario::builtin(),
    };
    if let Some(d) = args.duration {
        scenario.duration = d;
    }
    if let Some(c) = args.clients {
        scenario.clients = c;
    }
    if let Some(s) = args.seed {
        scenario.seed = s;
    }
    let overridden = args.duration.is_some() || args.clients.is_some();
    if let Err(e) = scenario.validate() {
        let note = if overridden {
            " (with --duration/--clients applied)"
        } else {
            ""
        };
        return fail(&format!("{e}{note}"));
    }

    if args.html.is_some() && (scenario.agent.is_some() || compare_learned) {
        return fail(&format!(
            "--html draws the naive client against the palisade stack; scenario \"{}\" {}",
            scenario.name,
            if scenario.agent.is_some() {
                "has an [agent] workload, which runs the palisade stack alone"
            } else {
                "compares two palisade stacks (--compare-learned-output)"
            }
        ));
    }
    if scenario.agent.is_some() {
        if args.compare_learned_output {
            return fail(&"--compare-learned-output needs a scenario without an [agent] workload");
        }
        return crate::simulate_agent::run(&scenario, args.json, args.compare_cache_points);
    }
    if args.compare_cache_points {
        return fail(&"--compare-cache-points needs a scenario with an [agent] workload");
    }
    if compare_learned {
        return learned::run(&scenario, args.json);
    }

    let bar = progress_bar(&scenario);
    let report = match &bar {
        Some(bar) => simulate(&scenario, bar),
        None => simulate(&scenario, &NoProgress),
    };
    if let Some(bar) = &bar {
        bar.bar.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let budget = BudgetOutcome::of(&scenario, &report.palisade);
    let text = if args.json {
        // The report's own fields in their order, then the budget's when
        // the stack has one (a scenario without one prints as before).
        let json = match budget {
            Some(budget) => serde_json::to_string_pretty(&BudgetedReport {
                report: &report,
                budget,
            }),
            None => serde_json::to_string_pretty(&report),
        };
        match json {
            Ok(json) => json + "\n",
            Err(e) => return fail(&e),
        }
    } else {
        let mut text = render_table(&report);
        if let Some(budget) = budget {
            text.push('\n');
            text.push_str(&budget.render());
        }
        text
    };
    if let Err(e) = print(&text) {
        return fail(&e);
    }
    if let Some(path) = &args.html
        && let Err(e) = write_html(&report, path)
    {
        return fail(&e);
    }
    if let Some(message) = lost_requests(&report) {
        return fail(&message);
    }
    match budget {
        Some(b) if b.exceeded() => fail(&format!(
            "the budget was exceeded (spent ${:.4} of ${:.2}); this is a bug",
            b.spent_usd, b.limit_usd
        )),
        _ => ExitCode::SUCCESS,
    }
}

/// Writes the report's HTML page to `path`.
pub(crate) fn write_html(report: &SimulationReport, path: &Path) -> Result<(), String> {
    let page = palisade_sim::html::render(report).map_err(|e| e.to_string())?;
    std::fs::write(path, page)
        .map_err(|e| format!("cannot write the HTML report to {}: {e}", path.display()))
}

/// A report with its budget's outcome (`--json` for a stack with a budget).
#[derive(serde::Serialize)]
struct BudgetedReport<'a> {
    #[serde(flatten)]
    report: &'a SimulationReport,
    budget: BudgetOutcome,
}

/// The built-in scenario that `--compare-learned-output` is implied for.
const LEARNED_OUTPUT_SCENARIO: &str = "large-max-tokens";

/// The scenario `--scenario` names: the file at `arg` when there is one,
/// else the built-in scenario of that name; the flag says which.
pub(crate) fn load(arg: &Path) -> Result<(Scenario, bool), String> {
    if !arg.exists()
        && let Some(scenario) = arg.to_str().and_then(Scenario::named)
    {
        return Ok((scenario, true));
    }
    Scenario::from_file(arg).map(|s| (s, false)).map_err(|e| {
        if arg.exists() {
            e.to_string()
        } else {
            let names: Vec<&str> = BUILTIN_SCENARIOS.iter().map(|(n, _)| *n).collect();
            format!("{e} (nor is it a built-in scenario: {})", names.join(", "))
        }
    })
}

/// Why a finished report must not be trusted: the engine lost requests
/// (they have no outcome). `None` when every request is accounted for.
pub(crate) fn lost_requests(report: &SimulationReport) -> Option<String> {
    let lost: Vec<String> = [(NAIVE, &report.naive), (PALISADE, &report.palisade)]
        .into_iter()
        .filter(|(_, r)| r.lost > 0)
        .map(|(name, r)| format!("{name} {} of {}", r.lost, r.requests))
        .collect();
    (!lost.is_empty()).then(|| {
        format!(
            "the simulation lost requests ({}): the report is incomplete; this is a bug",
            lost.join(", ")
        )
    })
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error worth
/// a message.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

pub(crate) fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {error}");
    ExitCode::from(1)
}

/// The progress bar: on stderr, and only when stderr is a terminal. The two
/// systems run side by side; the bar shows the simulated time both have
/// covered together.
struct Bar {
    bar: ProgressBar,
    /// Simulated seconds each system has covered (naive, palisade).
    covered: std::sync::Mutex<(u64, u64)>,
}

impl ProgressSink for Bar {
    fn update(&self, system: &str, simulated: Duration, finished: u64, total: u64) {
        let half = self.bar.length().unwrap_or(0) / 2;
        let mut covered = self.covered.lock().unwrap_or_else(|e| e.into_inner());
        let secs = simulated.as_secs().min(half);
        if system == NAIVE {
            covered.0 = secs;
        } else {
            covered.1 = secs;
        }
        self.bar.set_position(covered.0 + covered.1);
        self.bar
            .set_message(format!("{system}: {finished}/{total} requests done"));
    }
}

fn progress_bar(scenario: &Scenario) -> Option<Bar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(
        Some(scenario.duration.as_secs().max(1) * 2),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = ProgressStyle::with_template("simulating {bar:30} {percent:>3}% {msg}") {
        bar.set_style(style);
    }
    Some(Bar {
        bar,
        covered: std::sync::Mutex::new((0, 0)),
    })
}

#[cfg(test)]
mod tests {
    use palisade_sim::{NoProgress, Scenario, simulate};

    use super::lost_requests;

    /// Issue 21, item 1: a run that lost requests exited 0. A report with
    /// lost requests now makes the exit status 1, with a line saying so.
    #[test]
    fn a_report_with_lost_requests_is_a_failure() {
        let scenario = Scenario::from_toml_str(
            "duration = \"1m\"\nclients = 20\n[[models]]\nid = \"sim/a\"\n",
            "t",
        )
        .unwrap();
        let mut report = simulate(&scenario, &NoProgress).unwrap();
        assert_eq!(lost_requests(&report), None);
        report.palisade.lost = 3;
        let message = lost_requests(&report).unwrap();
        assert!(message.contains("palisade 3 of"), "{message}");
        assert!(palisade_sim::render_table(&report).contains("lost 3 of the palisade"));
    }
}
