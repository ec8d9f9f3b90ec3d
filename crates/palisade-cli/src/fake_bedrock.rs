//! `palisade fake-bedrock`: serves simulated models behind the real Bedrock
//! Runtime wire protocol (Converse, ConverseStream, CountTokens) on a local
//! port, for testing Bedrock clients without an AWS account.
//!
//! The models are a scenario file's `[[models]]` (quotas, latency, failures;
//! outage windows count from the server's start), or the default scenario's
//! three when no file is given; each answers under its `id`. The server runs
//! in real time until interrupted (Ctrl-C). The first line on stdout is the
//! endpoint URL, for scripts.
//!
//! Exit status: 0 when stopped, 1 if the port cannot be bound or the config
//! is bad (one line on stderr), 2 on usage errors (from clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `palisade fake-bedrock`.
#[derive(Debug, Args)]
pub(crate) struct FakeBedrockArgs {
    /// Port to listen on; 0 picks a free one (printed on the first line).
    #[arg(long)]
    port: u16,
    /// Scenario TOML whose `[[models]]` are served; the default scenario's
    /// models when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
}

/// Runs `palisade fake-bedrock`.
pub(crate) fn run(args: FakeBedrockArgs) -> ExitCode {
    crate::chat::init_tracing();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palisade: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "fake-bedrock")]
fn serve(args: FakeBedrockArgs) -> Result<(), String> {
    use std::io::Write;

    use palisade_sim::{Scenario, SimulatedProvider};
    use palisade_testkit::bedrock::FakeBedrock;

    let FakeBedrockArgs { port, config, host } = args;
    let scenario = match config {
        Some(path) => Scenario::from_file(&path).map_err(|e| e.to_string())?,
        None => Scenario::builtin(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let mut builder = FakeBedrock::builder();
        for model in &scenario.models {
            let provider =
                SimulatedProvider::new(model.clone(), scenario.seed).map_err(|e| e.to_string())?;
            builder = builder.model(model.id.clone(), provider);
        }
        let addr = format!("{host}:{port}");
        let server = builder
            .bind(addr.as_str())
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", server.endpoint_url());
        for model in &scenario.models {
            let _ = writeln!(out, "  serving model {}", model.id);
        }
        let _ = writeln!(out, "fake Bedrock running; Ctrl-C stops it");
        let _ = out.flush();
        drop(out);
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
        server.shutdown().await;
        Ok(())
    })
}

#[cfg(not(feature = "fake-bedrock"))]
fn serve(_: FakeBedrockArgs) -> Result<(), String> {
    Err(
        "this binary was built without the `fake-bedrock` feature; run \
         `cargo run --release -p palisade-cli --features fake-bedrock -- fake-bedrock --port P`"
            .into(),
    )
}
