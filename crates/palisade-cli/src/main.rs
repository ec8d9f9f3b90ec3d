//! `palisade`: the command line of the Palisade workspace.
//!
//! `main` only parses arguments and dispatches; each command family lives in
//! its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod toon;

/// Palisade: resilience tools for applications that call LLMs.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Convert JSON to TOON and back, and compare their token costs.
    Toon(toon::ToonArgs),
}

fn main() -> ExitCode {
    // Usage errors exit with status 2 (clap's convention), bad input with 1.
    let cli = Cli::parse();
    match cli.command {
        Command::Toon(args) => toon::run(args),
    }
}
