//! `palisade fake-openai`: serves simulated models behind the OpenAI Chat
//! Completions wire format (`POST /v1/chat/completions`, JSON and SSE, with
//! the `x-ratelimit-*` headers) on a local port, for testing OpenAI-compatible
//! clients without an account.
//!
//! The models are a scenario file's `[[models]]` (quotas, latency, failures;
//! outage windows count from the server's start), or the default scenario's
//! three when no file is given; each answers under its `id`. The server runs
//! in real time until interrupted (Ctrl-C). The first line on stdout is the
//! base URL (`…/v1`, what a client's `base_url` takes), for scripts; any key,
//! or none, is accepted unless `--api-key` names the one to require.
//!
//! Exit status: 0 when stopped, 1 if the port cannot be bound or the config
//! is bad (one line on stderr), 2 on usage errors (from clap).

use std::process::ExitCode;

use clap::Args;

use crate::fake_server::{self, FakeServerArgs};

/// Arguments of `palisade fake-openai`.
#[derive(Debug, Args)]
pub(crate) struct FakeOpenAiArgs {
    #[command(flatten)]
    common: FakeServerArgs,
    /// The only API key accepted (`Authorization: Bearer`); any when absent.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

/// Runs `palisade fake-openai`.
pub(crate) fn run(args: FakeOpenAiArgs) -> ExitCode {
    crate::chat::init_tracing();
    fake_server::exit(serve(args))
}

#[cfg(feature = "fake-openai")]
fn serve(args: FakeOpenAiArgs) -> Result<(), String> {
    use palisade_testkit::openai::FakeOpenAi;

    let FakeOpenAiArgs { common, api_key } = args;
    let banner = "fake OpenAI-compatible Chat Completions API running";
    fake_server::serve(common, banner, |models, addr| {
        let mut builder = FakeOpenAi::builder();
        if let Some(key) = api_key {
            builder = builder.api_key(key);
        }
        for (id, provider) in models {
            builder = builder.model(id, provider);
        }
        async move { builder.bind(addr.as_str()).await }
    })
}

#[cfg(not(feature = "fake-openai"))]
fn serve(_: FakeOpenAiArgs) -> Result<(), String> {
    Err(fake_server::not_built("fake-openai"))
}

#[cfg(feature = "fake-openai")]
impl fake_server::Served for palisade_testkit::openai::FakeOpenAiServer {
    fn url(&self) -> String {
        self.base_url()
    }
    async fn stop(self) {
        self.shutdown().await;
    }
}
