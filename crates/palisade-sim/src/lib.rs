//! Simulated providers with real quota semantics, a fake AWS Bedrock server,
//! and virtual-time load simulation. Also a testkit for users' own tests.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "bedrock-server")]
pub mod bedrock_server;
