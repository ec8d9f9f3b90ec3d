//! What comes back: content, reasoning, usage, stop reason, who served it, and
//! the trail of attempts that led there.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::provider::ProviderId;

/// Token usage of one call, as the provider reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens billed at the normal rate.
    pub input_tokens: u32,
    /// Output tokens (thinking included).
    pub output_tokens: u32,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u32,
    /// Input tokens written to the prompt cache (every lifetime).
    #[serde(default)]
    pub cache_write_tokens: u32,
    /// Of [`cache_write_tokens`](Usage::cache_write_tokens), those written
    /// with the 1-hour lifetime (priced higher than 5-minute writes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_1h_tokens: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Usage {
    /// Usage with only input and output tokens.
    pub const fn new(input_tokens: u32, output_tokens: u32) -> Self {
        Self {
            input_tokens,
            output_tokens,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
        }
    }

    /// Sets the cache read and write tokens (all writes with the 5-minute
    /// lifetime).
    #[must_use]
    pub const fn with_cache(mut self, read: u32, write: u32) -> Self {
        self.cache_read_tokens = read;
        self.cache_write_tokens = write;
        self
    }

    /// Every input-side token: input, cache reads and cache writes.
    pub const fn total_input(&self) -> u64 {
        self.input_tokens as u64 + self.cache_read_tokens as u64 + self.cache_write_tokens as u64
    }

    /// Every token the call touched (input, output, cache read and write).
    pub const fn total(&self) -> u64 {
        self.input_tokens as u64
            + self.output_tokens as u64
            + self.cache_read_tokens as u64
            + self.cache_write_tokens as u64
    }

    /// Field-wise sum, saturating.
    pub const fn saturating_add(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_add(other.cache_read_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_add(other.cache_write_tokens),
            cache_write_1h_tokens: self
                .cache_write_1h_tokens
                .saturating_add(other.cache_write_1h_tokens),
        }
    }
}

/// Why the model stopped producing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// `max_tokens` was reached; the answer is truncated.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
    /// The model asked to use a tool.
    ToolUse,
    /// The content policy stopped the answer.
    ContentFiltered,
}

/// The model's reasoning (extended thinking), when it was enabled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reasoning {
    /// The reasoning text.
    pub text: String,
    /// The provider's signature, needed to echo the reasoning back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Why a candidate was passed over without being called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Its breaker or cooldown refused calls for about `retry_after`.
    Unavailable {
        /// Time until it is expected back.
        retry_after: Duration,
    },
    /// The request's estimated tokens don't fit its context window.
    ContextWindowTooSmall {
        /// Estimated tokens the request needs.
        needed: u32,
        /// The candidate's context window.
        window: u32,
    },
    /// A hedged call that lost the race and was cancelled.
    HedgeLost,
    /// The candidate cannot serve something the request needs (tools,
    /// images, a tier, …).
    Unsupported {
        /// The missing feature.
        feature: crate::capabilities::Feature,
        /// The request field that needs it.
        field: String,
    },
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It produced the response.
    Succeeded,
    /// It failed with this error.
    Failed {
        /// The error's kind.
        kind: ErrorKind,
        /// The error's message.
        message: String,
    },
    /// It was not called.
    Skipped(SkipReason),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Unavailable { retry_after } => {
                write!(f, "unavailable for {:.1} s", retry_after.as_secs_f64())
            }
            SkipReason::ContextWindowTooSmall { needed, window } => {
                write!(f, "needs {needed} tokens, context window {window}")
            }
            SkipReason::HedgeLost => f.write_str("lost the hedge race"),
            SkipReason::Unsupported { feature, field } => {
                write!(f, "does not support {feature} (needed by `{field}`)")
            }
        }
    }
}

/// How an attempt ended, for people: `answered`, `failed: throttled: …`,
/// `skipped: unavailable for 4.0 s`.
impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Succeeded => f.write_str("answered"),
            AttemptOutcome::Failed { kind, message } => write!(f, "failed: {kind}: {message}"),
            AttemptOutcome::Skipped(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

/// One entry of the attempts trail: a candidate tried (or passed over) and why
/// it was left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The candidate, by the id routing knows it by (a stack's config id).
    pub provider: ProviderId,
    /// The model id behind the candidate, as its provider names it (the
    /// answer's [`ChatResponse::model`] when it answered), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// How long the attempt took (zero for a skip).
    pub elapsed: Duration,
}

impl Attempt {
    /// An attempt of `provider` that ended with `outcome` after `elapsed`.
    pub fn new(provider: ProviderId, outcome: AttemptOutcome, elapsed: Duration) -> Self {
        Self {
            provider,
            model: None,
            outcome,
            elapsed,
        }
    }

    /// Sets the model id behind the candidate.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer's content blocks (text, JSON).
    pub content: Vec<crate::request::ContentBlock>,
    /// The model's reasoning, when extended thinking was enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Token usage; `None` when the provider did not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why generation stopped.
    pub stop_reason: StopReason,
    /// The provider that actually served the answer.
    pub served_by: ProviderId,
    /// The model id that served it, as the provider named it.
    pub model: String,
    /// The provider's request id, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The reply parsed as the request's
    /// [`structured_output`](crate::ChatRequest::structured_output) asked,
    /// checked against its schema; `None` when none was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<serde_json::Value>,
    /// The service tier that actually served, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<crate::tier::ServiceTier>,
    /// The provider's rate-limit headers on this answer, so a limiter can
    /// correct its state (remaining capacity, reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Box<crate::http::RateLimitSnapshot>>,
    /// Every candidate tried or passed over before (and including) the one that
    /// served, in order. Empty when no routing layer was involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

impl ChatResponse {
    /// A plain text answer from `served_by`, stop reason `EndTurn`.
    pub fn text(served_by: ProviderId, text: impl Into<String>, usage: Option<Usage>) -> Self {
        let model = served_by.as_str().to_owned();
        Self {
            content: vec![crate::request::ContentBlock::text(text)],
            reasoning: None,
            usage,
            stop_reason: StopReason::EndTurn,
            served_by,
            model,
            request_id: None,
            structured: None,
            service_tier: None,
            rate_limit: None,
            attempts: Vec::new(),
        }
    }

    /// The tool-use blocks of the answer, in order: `(id, name, input)`.
    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &serde_json::Value)> {
        self.content.iter().filter_map(|b| match b {
            crate::request::ContentBlock::ToolUse { id, name, input } => {
                Some((id.as_str(), name.as_str(), input))
            }
            _ => None,
        })
    }

    /// The answer as the assistant turn to send back in the next request
    /// (reasoning first, unchanged, then the content), so multi-turn tool use
    /// with extended thinking echoes the signed reasoning as the APIs require.
    pub fn to_message(&self) -> crate::request::Message {
        let mut content = Vec::with_capacity(self.content.len() + 1);
        if let Some(r) = &self.reasoning {
            content.push(crate::request::ContentBlock::Reasoning {
                text: r.text.clone(),
                signature: r.signature.clone(),
            });
        }
        content.extend(self.content.iter().cloned());
        crate::request::Message::new(crate::request::Role::Assistant, content)
    }

    /// All text content, blocks joined without separator.
    pub fn text_content(&self) -> String {
        self.content
            .iter()
            .filter_map(crate::request::ContentBlock::as_answer_text)
            .collect()
    }
}
