//! `palisade fake-anthropic`: serves simulated models behind the Anthropic
//! Messages API wire format (`POST /v1/messages`, JSON and SSE, with the
//! `anthropic-ratelimit-*` headers) on a local port, for testing Messages API
//! clients without an account.
//!
//! The models are a scenario file's `[[models]]` (quotas, latency, failures;
//! outage windows count from the server's start), or the default scenario's
//! three when no file is given; each answers under its `id`. The server runs
//! in real time until interrupted (Ctrl-C). The first line on stdout is the
//! base URL, for scripts; any non-empty key is accepted unless `--api-key`
//! names the one to require.
//!
//! Exit status: 0 when stopped, 1 if the port cannot be bound or the config
//! is bad (one line on stderr), 2 on usage errors (from clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `palisade fake-anthropic`.
#[derive(Debug, Args)]
pub(crate) struct FakeAnthropicArgs {
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
    /// The only API key accepted (`x-api-key` or `Authorization: Bearer`);
    /// any non-empty key when absent.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

/// Runs `palisade fake-anthropic`.
pub(crate) fn run(args: FakeAnthropicArgs) -> ExitCode {
    crate::chat::init_tracing();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palisade: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "fake-anthropic")]
fn serve(args: FakeAnthropicArgs) -> Result<(), String> {
    use std::io::Write;

    use palisade_sim::{Scenario, SimulatedProvider};
    use palisade_testkit::anthropic::FakeAnthropic;

    let FakeAnthropicArgs {
        port,
        config,
        host,
        api_key,
    } = args;
    let scenario = match config {
        Some(path) => Scenario::from_file(&path).map_err(|e| e.to_string())?,
        None => Scenario::builtin(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let mut builder = FakeAnthropic::builder();
        if let Some(key) = api_key {
            builder = builder.api_key(key);
        }
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
        let _ = writeln!(out, "{}", server.base_url());
        for model in &scenario.models {
            let _ = writeln!(out, "  serving model {}", model.id);
        }
        let _ = writeln!(out, "fake Anthropic Messages API running; Ctrl-C stops it");
        let _ = out.flush();
        drop(out);
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
        server.shutdown().await;
        Ok(())
    })
}

#[cfg(not(feature = "fake-anthropic"))]
fn serve(_: FakeAnthropicArgs) -> Result<(), String> {
    Err(
        "this binary was built without the `fake-anthropic` feature; run \
         `cargo run --release -p palisade-cli --features fake-anthropic -- fake-anthropic --port P`"
            .into(),
    )
}
