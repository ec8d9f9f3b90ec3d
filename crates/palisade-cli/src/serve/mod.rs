//! `palisade serve`: a sidecar HTTP server in front of a palisade stack, so
//! an application in any language gets the stack by pointing its OpenAI or
//! Anthropic SDK's base URL at it.
//!
//! The stack is built from `--config STACK.toml` exactly as `palisade chat`
//! builds it (`stack_file.rs`); without a config it is the same default as
//! chat's. Here it runs in real time, simulated candidates included.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI Chat Completions, JSON or SSE (`openai.rs`) |
//! | `POST /v1/messages` | Anthropic Messages, JSON or SSE (`anthropic.rs`) |
//! | `GET /health` | liveness, and whether some candidate takes calls now |
//! | `GET /stats` | the stack's stats snapshot (every candidate) as JSON |
//! | `POST /reset` | closes breakers, clears cooldowns (admin key) |
//! | `GET /metrics` | Prometheus text, through the `metrics` facade |
//!
//! The first line on stdout is the base URL, for scripts. Ctrl-C or SIGTERM
//! stops accepting connections and waits for the calls in flight (at most
//! `--drain-timeout` seconds).
//!
//! Exit status: 0 when stopped and drained, 1 on a bad config, a port that
//! cannot be bound or a drain that timed out (one line on stderr), 2 on usage
//! errors (from clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[cfg(feature = "serve")]
mod anthropic;
#[cfg(feature = "serve")]
mod app;
#[cfg(feature = "serve")]
mod auth;
#[cfg(feature = "serve")]
mod error;
#[cfg(feature = "serve")]
mod openai;
#[cfg(feature = "serve")]
mod request_id;
#[cfg(feature = "serve")]
mod server;
#[cfg(feature = "serve")]
mod sse;
#[cfg(feature = "serve")]
mod wire;

/// Arguments of `palisade serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Stack config TOML (docs/config.md); without it, the default stack of
    /// `palisade chat`.
    #[arg(long, value_name = "STACK.toml")]
    config: Option<PathBuf>,
    /// Port to listen on; 0 picks a free one (the URL is printed first).
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Environment variable holding the key clients must send
    /// (`Authorization: Bearer KEY` or `x-api-key: KEY`); any client is
    /// served when absent.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Environment variable holding the key `POST /reset` requires; the
    /// route is refused (403) when absent.
    #[arg(long, value_name = "VAR")]
    admin_key_env: Option<String>,
    /// `max_tokens` of an OpenAI request that sets neither `max_tokens` nor
    /// `max_completion_tokens` (the stack needs one to reserve tokens).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    default_max_tokens: u32,
    /// Seconds shutdown waits for the calls in flight before giving up.
    #[arg(long, default_value_t = 30)]
    drain_timeout: u64,
}

/// Runs `palisade serve`.
pub(crate) fn run(args: ServeArgs) -> ExitCode {
    crate::chat::init_tracing();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palisade: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "serve")]
fn serve(args: ServeArgs) -> Result<(), String> {
    server::serve(args)
}

#[cfg(not(feature = "serve"))]
fn serve(_: ServeArgs) -> Result<(), String> {
    Err("this binary was built without the `serve` feature; run \
         `cargo run --release -p palisade-cli --features serve -- serve --config STACK.toml`"
        .into())
}
