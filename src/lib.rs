#![doc = include_str!("../README.md")]
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `limit` | yes | [`limit`]: RPM / TPM / concurrency limits, `RateLimitLayer` |
//! | `breaker` | yes | [`breaker`]: circuit breakers, `CircuitBreakerLayer`, `HealthRegistry` |
//! | `stack` | yes | [`stack`]: retry, timeouts, fallback and routing, hedging, budgets, batch, `StackBuilder` |
//! | `toon` | yes | [`toon`]: the TOON encoder / decoder |
//! | `prompt` | no | [`prompt`]: prompt templates, escaping, budgets, reply extraction |
//! | `anthropic` | no | [`anthropic`]: the Anthropic Messages API provider (reqwest + rustls) |
//! | `bedrock` | no | [`bedrock`]: the Bedrock provider (the AWS SDK) |
//! | `openai` | no | [`openai`]: OpenAI Chat Completions and compatible servers (Azure OpenAI, vLLM, Ollama, LiteLLM, OpenRouter) over reqwest + rustls |
//! | `redis` | no | [`redis`]: shared quotas and breaker state in Redis |
//! | `sim` | no | [`sim`]: simulated providers and the virtual-time load simulator |
//! | `testing` | no | [`testing`]: the scripted provider for tests (and, with `redis`, a throwaway `redis-server`) |
//! | `metrics` | no | counters and histograms of the stack through the `metrics` facade |
//! | `tokens` | no | TOON token reports with a real tokenizer (`o200k_base`) |
//! | `tower` | no | [`tower`]: a `Provider` as a `tower::Service` and back, layers both ways |
//! | `testkit` | no | [`testkit`]: wire-level fake provider servers for tests |
//! | `fake-anthropic` | no | the fake Anthropic Messages API server in [`testkit`] |
//! | `fake-bedrock` | no | the fake Bedrock Runtime server in [`testkit`] |
//! | `fake-openai` | no | the fake OpenAI-compatible server in [`testkit`] |
//!
//! The items of `palisade-core` — the [`Provider`] trait, the request,
//! response and stream types, the error taxonomy, layers, [`http`] helpers —
//! are re-exported at the root: `palisade::ChatRequest`, `palisade::Provider`.
//! [`prelude`] has what most applications import.

pub use palisade_core::*;

#[cfg(feature = "anthropic")]
pub use palisade_anthropic as anthropic;
#[cfg(feature = "bedrock")]
pub use palisade_bedrock as bedrock;
#[cfg(feature = "breaker")]
pub use palisade_breaker as breaker;
#[cfg(feature = "limit")]
pub use palisade_limit as limit;
#[cfg(feature = "openai")]
pub use palisade_openai as openai;
#[cfg(feature = "prompt")]
pub use palisade_prompt as prompt;
#[cfg(feature = "redis")]
pub use palisade_redis as redis;
#[cfg(feature = "sim")]
pub use palisade_sim as sim;
#[cfg(feature = "stack")]
pub use palisade_stack as stack;
#[cfg(feature = "testkit")]
pub use palisade_testkit as testkit;
#[cfg(feature = "toon")]
pub use palisade_toon as toon;
#[cfg(feature = "tower")]
pub use palisade_tower as tower;

pub mod prelude;
