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

use std::process::ExitCode;

use clap::Args;

use crate::fake_server::{self, FakeServerArgs};

/// Arguments of `palisade fake-anthropic`.
#[derive(Debug, Args)]
pub(crate) struct FakeAnthropicArgs {
    #[command(flatten)]
    common: FakeServerArgs,
    /// The only API key accepted (`x-api-key` or `Authorization: Bearer`);
    /// any non-empty key when absent.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

/// Runs `palisade fake-anthropic`.
pub(crate) fn run(args: FakeAnthropicArgs) -> ExitCode {
    crate::chat::init_tracing();
    fake_server::exit(serve(args))
}

#[cfg(feature = "fake-anthropic")]
fn serve(args: FakeAnthropicArgs) -> Result<(), String> {
    use palisade_testkit::anthropic::FakeAnthropic;

    let FakeAnthropicArgs { common, api_key } = args;
    let banner = "fake Anthropic Messages API running";
    fake_server::serve(common, banner, |models, addr| {
        let mut builder = FakeAnthropic::builder();
        if let Some(key) = api_key {
            builder = builder.api_key(key);
        }
        for (id, provider) in models {
            builder = builder.model(id, provider);
        }
        async move { builder.bind(addr.as_str()).await }
    })
}

#[cfg(not(feature = "fake-anthropic"))]
fn serve(_: FakeAnthropicArgs) -> Result<(), String> {
    Err(fake_server::not_built("fake-anthropic"))
}

#[cfg(feature = "fake-anthropic")]
impl fake_server::Served for palisade_testkit::anthropic::FakeAnthropicServer {
    fn url(&self) -> String {
        self.base_url()
    }
    async fn stop(self) {
        self.shutdown().await;
    }
}
