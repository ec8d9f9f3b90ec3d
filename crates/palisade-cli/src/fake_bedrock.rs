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

use std::process::ExitCode;

use clap::Args;

use crate::fake_server::{self, FakeServerArgs};

/// Arguments of `palisade fake-bedrock`.
#[derive(Debug, Args)]
pub(crate) struct FakeBedrockArgs {
    #[command(flatten)]
    common: FakeServerArgs,
}

/// Runs `palisade fake-bedrock`.
pub(crate) fn run(args: FakeBedrockArgs) -> ExitCode {
    crate::chat::init_tracing();
    fake_server::exit(serve(args))
}

#[cfg(feature = "fake-bedrock")]
fn serve(args: FakeBedrockArgs) -> Result<(), String> {
    use palisade_testkit::bedrock::FakeBedrock;

    fake_server::serve(args.common, "fake Bedrock running", |models, addr| {
        let mut builder = FakeBedrock::builder();
        for (id, provider) in models {
            builder = builder.model(id, provider);
        }
        async move { builder.bind(addr.as_str()).await }
    })
}

#[cfg(not(feature = "fake-bedrock"))]
fn serve(_: FakeBedrockArgs) -> Result<(), String> {
    Err(fake_server::not_built("fake-bedrock"))
}

#[cfg(feature = "fake-bedrock")]
impl fake_server::Served for palisade_testkit::bedrock::FakeBedrockServer {
    fn url(&self) -> String {
        self.endpoint_url()
    }
    async fn stop(self) {
        self.shutdown().await;
    }
}
