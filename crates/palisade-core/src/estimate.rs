//! Token estimation: how many tokens a request will cost before it is sent.
//!
//! Limiters reserve tokens before a call and settle with the real usage after
//! it, so an estimate only has to be close; an exact count (Bedrock's
//! CountTokens, a real tokenizer) can be plugged in through [`TokenEstimator`].

use async_trait::async_trait;

use crate::request::{ChatRequest, ContentBlock};

/// Estimates token counts for requests and text.
#[async_trait]
pub trait TokenEstimator: Send + Sync {
    /// Estimated tokens of a piece of text. Synchronous so templates can fit
    /// prompts piece by piece.
    fn estimate_text(&self, text: &str) -> u32;

    /// Estimated input tokens of a whole request (system, messages and the
    /// per-message framing). The default sums [`estimate_text`] over the
    /// parts; exact estimators (a count-tokens API) override it.
    ///
    /// A request's [`input_token_estimate`] overrides any estimator; use
    /// [`input_tokens`] to honour it.
    ///
    /// [`estimate_text`]: TokenEstimator::estimate_text
    /// [`input_token_estimate`]: crate::RequestMetadata::input_token_estimate
    /// [`input_tokens`]: TokenEstimator::input_tokens
    async fn estimate_request(&self, req: &ChatRequest) -> u32 {
        heuristic_request_tokens(self, req)
    }

    /// The request's explicit estimate if it has one, else
    /// [`estimate_request`](TokenEstimator::estimate_request).
    async fn input_tokens(&self, req: &ChatRequest) -> u32 {
        match req.metadata.input_token_estimate {
            Some(n) => n,
            None => self.estimate_request(req).await,
        }
    }
}

/// Tokens of framing added per message (role markers, separators) and per
/// request, as chat APIs count them; small, but it keeps tiny prompts from
/// estimating to zero.
const PER_MESSAGE_OVERHEAD: u32 = 4;
const PER_REQUEST_OVERHEAD: u32 = 3;

/// Sums an estimator's text estimates over a request's parts.
fn heuristic_request_tokens<E: TokenEstimator + ?Sized>(est: &E, req: &ChatRequest) -> u32 {
    let mut total = PER_REQUEST_OVERHEAD;
    if let Some(system) = &req.system {
        total = total.saturating_add(est.estimate_text(system) + PER_MESSAGE_OVERHEAD);
    }
    for message in &req.messages {
        total = total.saturating_add(PER_MESSAGE_OVERHEAD);
        for block in &message.content {
            let n = match block {
                ContentBlock::Text { text } | ContentBlock::Reasoning { text, .. } => {
                    est.estimate_text(text)
                }
                ContentBlock::Json { value } => est.estimate_text(&value.to_string()),
            };
            total = total.saturating_add(n);
        }
    }
    total
}

/// The default estimator: a character heuristic, no tokenizer.
///
/// ASCII text counts one token per four characters (rounded up), which is what
/// BPE tokenizers of the Claude and GPT families average on English prose and
/// code; every non-ASCII character counts one token, since CJK and other
/// scripts tokenize at about one token per character. It is **approximate**:
/// expect ±25% on typical text and worse on unusual text (long numbers, base64).
/// Reservation-then-settle limiters correct for the error after every call;
/// plug in an exact estimator where the error matters.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeuristicEstimator;

#[async_trait]
impl TokenEstimator for HeuristicEstimator {
    fn estimate_text(&self, text: &str) -> u32 {
        let mut ascii: u64 = 0;
        let mut other: u64 = 0;
        for ch in text.chars() {
            if ch.is_ascii() {
                ascii += 1;
            } else {
                other += 1;
            }
        }
        u32::try_from(ascii.div_ceil(4) + other).unwrap_or(u32::MAX)
    }
}
