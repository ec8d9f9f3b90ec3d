//! What the `fake-*` commands share: their common arguments, loading the
//! scenario's models, binding, printing the URL first, and serving until
//! Ctrl-C. Each command only says how to build its server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// The arguments every `palisade fake-*` command takes.
#[derive(Debug, Args)]
pub(crate) struct FakeServerArgs {
    /// Port to listen on; 0 picks a free one (printed on the first line).
    #[arg(long)]
    pub(crate) port: u16,
    /// Scenario TOML whose `[[models]]` are served; the default scenario's
    /// models when absent.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
}

/// The exit status of a `fake-*` command: 0 when stopped, 1 with one line on
/// stderr.
pub(crate) fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palisade: {e}");
            ExitCode::from(1)
        }
    }
}

/// The message of a command whose feature this binary lacks.
#[cfg_attr(
    all(
        feature = "fake-bedrock",
        feature = "fake-anthropic",
        feature = "fake-openai"
    ),
    allow(dead_code)
)]
pub(crate) fn not_built(command: &str) -> String {
    format!(
        "this binary was built without the `{command}` feature; run \
         `cargo run --release -p palisade-cli --features {command} -- {command} --port P`"
    )
}

#[cfg(any(
    feature = "fake-bedrock",
    feature = "fake-anthropic",
    feature = "fake-openai"
))]
pub(crate) use serving::{Served, serve};

#[cfg(any(
    feature = "fake-bedrock",
    feature = "fake-anthropic",
    feature = "fake-openai"
))]
mod serving {
    use std::future::Future;
    use std::io::Write;

    use palisade_sim::{Scenario, SimulatedProvider};

    use super::FakeServerArgs;

    /// A running fake server, as the shared loop sees it.
    pub(crate) trait Served {
        /// The URL clients are pointed at (printed on the first line).
        fn url(&self) -> String;
        /// Stops it and waits for open connections.
        fn stop(self) -> impl Future<Output = ()>;
    }

    /// Loads the models, binds the server `bind` makes from them at the
    /// address, prints its URL, the models and `banner`, and serves until
    /// Ctrl-C.
    pub(crate) fn serve<S, B, F>(args: FakeServerArgs, banner: &str, bind: B) -> Result<(), String>
    where
        S: Served,
        B: FnOnce(Vec<(String, SimulatedProvider)>, String) -> F,
        F: Future<Output = std::io::Result<S>>,
    {
        let FakeServerArgs { port, config, host } = args;
        let scenario = match config {
            Some(path) => Scenario::from_file(&path).map_err(|e| e.to_string())?,
            None => Scenario::builtin(),
        };
        let models = scenario
            .models
            .iter()
            .map(|model| {
                SimulatedProvider::new(model.clone(), scenario.seed)
                    .map(|p| (model.id.clone(), p))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime.block_on(async {
            let addr = format!("{host}:{port}");
            let server = bind(models, addr.clone())
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", server.url());
            for model in &scenario.models {
                let _ = writeln!(out, "  serving model {}", model.id);
            }
            let _ = writeln!(out, "{banner}; Ctrl-C stops it");
            let _ = out.flush();
            drop(out);
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
            server.stop().await;
            Ok(())
        })
    }
}
