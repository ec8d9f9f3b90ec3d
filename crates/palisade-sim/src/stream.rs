//! The streamed form of a simulated answer: text in chunks at the model's
//! per-token pace, then usage, then stop.

use palisade_core::{ChatStream, ProviderError, ProviderId, StopReason, StreamEvent};

use crate::limits::MAX_CALL_TIME;
use crate::provider::OpenCall;
use crate::text::filler;

/// Tokens per text delta: about what Bedrock's ConverseStream sends per
/// `contentBlockDelta` for Claude models.
const CHUNK_TOKENS: u32 = 16;

enum Step {
    Text { sent: u32 },
    Usage,
    Stop,
    Done,
}

struct Progress {
    call: OpenCall,
    max_tokens: u32,
    step: Step,
}

/// A stream over an admitted call whose first token has just arrived.
/// Dropping it early settles the quota for the tokens generated so far.
pub(crate) fn answer_stream(served_by: ProviderId, call: OpenCall, max_tokens: u32) -> ChatStream {
    let progress = Progress {
        call,
        max_tokens,
        step: Step::Text { sent: 0 },
    };
    ChatStream::new(
        served_by,
        futures_util::stream::unfold(progress, next_event),
    )
}

async fn next_event(mut p: Progress) -> Option<(Result<StreamEvent, ProviderError>, Progress)> {
    match p.step {
        Step::Text { sent } => {
            let total = p.call.output();
            let chunk = CHUNK_TOKENS.min(total.saturating_sub(sent)).max(1);
            // The first token came with the stream; each further token takes
            // one per-token interval.
            // `chunk` is at least 1, so `chunk - 1` cannot wrap.
            let waits = if sent == 0 { chunk - 1 } else { chunk };
            let wait = p
                .call
                .timing()
                .per_token
                .checked_mul(waits)
                .unwrap_or(MAX_CALL_TIME);
            tokio::time::sleep(wait).await;
            let sent = sent + chunk;
            p.step = if sent < total {
                Step::Text { sent }
            } else {
                Step::Usage
            };
            Some((
                Ok(StreamEvent::TextDelta {
                    text: filler(chunk),
                }),
                p,
            ))
        }
        Step::Usage => {
            p.step = Step::Stop;
            Some((Ok(StreamEvent::Usage(p.call.usage())), p))
        }
        Step::Stop => {
            p.call.complete();
            let reason = if p.call.output() >= p.max_tokens {
                StopReason::MaxTokens
            } else {
                StopReason::EndTurn
            };
            p.step = Step::Done;
            Some((Ok(StreamEvent::Stop { reason }), p))
        }
        Step::Done => None,
    }
}
