//! `palisade`: the command line of the Palisade workspace.
//!
//! `main` only parses arguments and dispatches; each command family lives in
//! its own module.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod chat;
mod fake_anthropic;
mod fake_bedrock;
mod fake_openai;
mod fake_server;
mod plan;
mod providers;
mod serve;
mod simulate;
mod simulate_agent;
mod stack_file;
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
    /// Run a load scenario in virtual time: the naive client and the palisade
    /// stack side by side (the built-in default scenario with no arguments).
    Simulate(simulate::SimulateArgs),
    /// Plan quotas: the steady and peak RPM / TPM a load needs for no
    /// throttling and bounded queueing, and what the current quotas give.
    Plan(plan::PlanArgs),
    /// Send one prompt through a palisade stack and show who answered.
    Chat(chat::ChatArgs),
    /// Serve simulated models behind the Anthropic Messages API wire format.
    FakeAnthropic(fake_anthropic::FakeAnthropicArgs),
    /// Serve simulated models behind the Bedrock Runtime wire protocol.
    FakeBedrock(fake_bedrock::FakeBedrockArgs),
    /// Serve simulated models behind the OpenAI Chat Completions wire format.
    FakeOpenai(fake_openai::FakeOpenAiArgs),
    /// Serve a stack over HTTP: OpenAI- and Anthropic-compatible endpoints,
    /// health, stats, reset and Prometheus metrics.
    Serve(serve::ServeArgs),
    /// Convert JSON to TOON and back, and compare their token costs.
    Toon(toon::ToonArgs),
}

fn main() -> ExitCode {
    // Usage errors exit with status 2 (clap's convention), bad input with 1.
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Chat(args) => chat::run(args),
        Command::FakeAnthropic(args) => fake_anthropic::run(args),
        Command::FakeBedrock(args) => fake_bedrock::run(args),
        Command::FakeOpenai(args) => fake_openai::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Toon(args) => toon::run(args),
    }
}
