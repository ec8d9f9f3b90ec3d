//! `palisade simulate`: runs a load scenario in virtual time against the
//! naive client and the palisade stack, and prints them side by side.
//!
//! With no arguments it runs the built-in default scenario
//! (docs/simulation.md). Exit status: 0 on success, 1 on a bad scenario or a
//! failed run (one line on stderr), 2 on usage errors (from clap).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use palisade_sim::{
    DEFAULT_SCENARIO_TOML, NAIVE, NoProgress, ProgressSink, Scenario, parse_duration, render_table,
    simulate,
};

/// Arguments of `palisade simulate`.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Scenario TOML file; the built-in default scenario when absent.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Simulated time during which requests arrive (e.g. 1h, 20m, 90s).
    #[arg(long, value_parser = duration_arg)]
    duration: Option<Duration>,
    /// Number of clients.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    clients: Option<u32>,
    /// Seed of every random draw; the same seed gives the same report.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON (field names in docs/simulation.md).
    #[arg(long)]
    json: bool,
    /// Print the built-in default scenario as TOML and exit.
    #[arg(long, conflicts_with_all = ["scenario", "duration", "clients", "seed", "json"])]
    print_default: bool,
}

fn duration_arg(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("{e}; write e.g. 90s, 20m, 1h"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
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
    let mut scenario = match args.scenario {
        Some(path) => match Scenario::from_file(&path) {
            Ok(s) => s,
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

    let bar = progress_bar(&scenario);
    let report = match &bar {
        Some(bar) => simulate(&scenario, bar),
        None => simulate(&scenario, &NoProgress),
    };
    if let Some(bar) = &bar {
        bar.0.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(e) => return fail(&e),
        }
    } else {
        render_table(&report)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("palisade: {error}");
    ExitCode::from(1)
}

/// The progress bar: on stderr, and only when stderr is a terminal.
struct Bar(ProgressBar);

impl ProgressSink for Bar {
    fn update(&self, system: &str, simulated: Duration, finished: u64, total: u64) {
        // Two systems run one after the other over the same simulated span.
        let offset = if system == NAIVE {
            0
        } else {
            self.0.length().unwrap_or(0) / 2
        };
        let half = self.0.length().unwrap_or(0) / 2;
        self.0.set_position(offset + simulated.as_secs().min(half));
        self.0
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
    Some(Bar(bar))
}
