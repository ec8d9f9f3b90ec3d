//! A Palisade [`Provider`](palisade_core::Provider) over Amazon Bedrock
//! (`aws-sdk-bedrockruntime`): Converse for `complete`, ConverseStream for
//! `stream`, CountTokens for exact estimates, every failure classified into
//! the core [`ErrorKind`](palisade_core::ErrorKind) taxonomy, and a catalog of
//! the Claude models with their limits, prices and quota burndown, and the
//! [`profile`] of how Bedrock counts a call against its quotas (and
//! [`mantle_profile`] for the `bedrock-mantle` endpoint).
//!
//! # Example
//!
//! A provider pointed at the fake Bedrock server of `palisade-testkit` (the
//! real SDK client, the real wire protocol, no AWS account):
//!
//! ```
//! use palisade_bedrock::BedrockProvider;
//! use palisade_bedrock::aws::Credentials;
//! use palisade_core::{ChatRequest, Provider};
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::bedrock::FakeBedrock;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
//! let server = FakeBedrock::builder()
//!     .model(model_id, ScriptedProvider::new("sonnet").then_text("Hello from Bedrock"))
//!     .bind("127.0.0.1:0")
//!     .await?;
//!
//! let provider = BedrockProvider::builder(model_id)
//!     .region("us-east-1")
//!     .endpoint_url(server.endpoint_url())
//!     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None, None, "example"))
//!     .build()
//!     .await?;
//!
//! let answer = provider.complete(ChatRequest::user("Hi")).await?;
//! assert_eq!(answer.text_content(), "Hello from Bedrock");
//! assert_eq!(provider.context_window(), Some(200_000));
//! assert!(answer.request_id.is_some()); // x-amzn-RequestId, kept for support tickets
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `limit` | no | [`BedrockQuotaProfile`] implements `palisade_limit::CostModel`, so a limiter reserves what Bedrock counts (the facade's `limit` feature turns it on). Without it the crate depends on `palisade-core` alone. |
//!
//! The SDK is built with `default-features = false` and only
//! `behavior-version-latest`, `rt-tokio` and `default-https-client` (hyper 1 +
//! rustls), so the SDK's legacy hyper 0.14 / rustls 0.21 stack is not compiled
//! in.
//!
//! # Configuration
//!
//! [`BedrockConfig`] (serde) holds the client settings: region
//! (`BEDROCK_REGION`, then `AWS_REGION`), endpoint URL override, AWS profile,
//! and `sdk_retries` (off by default: the stack's retry layer owns retries,
//! and SDK retries underneath it would multiply attempts and hide throttling).
//! [`BedrockEnv`] reads the seed system's variables (`BEDROCK_MODEL_ID`,
//! `BEDROCK_FALLBACK_MODELS`). A provider can also wrap an existing SDK
//! client ([`BedrockProvider::from_client`]).
//!
//! # Errors
//!
//! The mapping from Bedrock exceptions, HTTP statuses and transport failures
//! to error kinds is the table in [`error`]; [`classify`] is that table as a
//! function. Every error keeps the AWS request id.
//!
//! The guide, `docs/bedrock.md` in the repository, covers configuration,
//! environment variables, the error table, the catalog and testing with the
//! fake server in one place.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod catalog;
mod config;
mod count_tokens;
mod document;
mod env;
pub mod error;
pub mod mantle_profile;
pub mod profile;
mod provider;
mod rejection;
mod request;
mod response;
mod stream;
mod telemetry;
mod tools;

#[allow(deprecated)]
pub use catalog::Prices;
pub use catalog::{ClaudeModel, Lifecycle};
pub use config::{BedrockConfig, BedrockConfigError};
pub use count_tokens::BedrockTokenEstimator;
pub use env::BedrockEnv;
pub use error::classify;
pub use mantle_profile::BedrockMantleQuotaProfile;
pub use profile::BedrockQuotaProfile;
pub use provider::{BedrockProvider, BedrockProviderBuilder};
pub use request::{MIN_THINKING_BUDGET, RequestError};

/// The guide, `docs/bedrock.md`, compiled with the doc tests so that its Rust
/// snippets build (and those that need no AWS account run, against the fake
/// server). Only under `cfg(doctest)`: the file lives outside the crate; and
/// with `limit`, because one snippet hands the quota profile to a limiter.
#[cfg(all(doctest, feature = "limit"))]
#[doc = include_str!("../../../docs/bedrock.md")]
mod user_guide {}

/// The AWS SDK types a caller needs to configure a provider: credentials,
/// the client, its config, and the region.
pub mod aws {
    pub use aws_sdk_bedrockruntime::Client;
    pub use aws_sdk_bedrockruntime::Config;
    pub use aws_sdk_bedrockruntime::config::{Credentials, Region};
}
