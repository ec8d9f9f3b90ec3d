//! A Messages API answer as a core [`ChatResponse`], with structured output
//! parsed and checked.

use palisade_core::{
    ChatResponse, ContentBlock, ErrorKind, ProviderError, ProviderId, Reasoning, StopReason,
    StructuredOutput,
};

use crate::config::StructuredOutputMode;
use crate::wire::{WireBlock, WireMessage, stop_reason};

/// How the request asked for structured output, so the answer is read the
/// same way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Structured<'a> {
    pub(crate) output: &'a StructuredOutput,
    pub(crate) mode: StructuredOutputMode,
}

/// Converts an answer. The first thinking block becomes
/// [`ChatResponse::reasoning`]; later ones (interleaved thinking) stay in
/// the content, in place, as [`ContentBlock::Reasoning`], so
/// [`ChatResponse::to_message`] echoes every one back with its signature.
pub(crate) fn from_wire(
    message: WireMessage,
    served_by: &ProviderId,
    model: &str,
    structured: Option<Structured<'_>>,
) -> Result<ChatResponse, ProviderError> {
    let internal =
        |msg: String| ProviderError::new(ErrorKind::Internal, msg).with_provider(served_by.clone());
    let mut content = Vec::with_capacity(message.content.len());
    let mut reasoning: Option<Reasoning> = None;
    let mut forced_input = None;
    for block in message.content {
        match block {
            WireBlock::Text { text } => content.push(ContentBlock::Text { text }),
            WireBlock::ToolUse { id, name, input } => {
                let is_forced = structured.is_some_and(|s| {
                    s.mode == StructuredOutputMode::ForcedTool && s.output.name == name
                });
                if is_forced {
                    forced_input = Some(input);
                } else {
                    content.push(ContentBlock::ToolUse { id, name, input });
                }
            }
            WireBlock::Thinking {
                thinking,
                signature,
            } => {
                if reasoning.is_none() && content.is_empty() {
                    reasoning = Some(Reasoning {
                        text: thinking,
                        signature,
                    });
                } else {
                    content.push(ContentBlock::Reasoning {
                        text: thinking,
                        signature,
                    });
                }
            }
            WireBlock::RedactedThinking { data } => {
                content.push(ContentBlock::RedactedReasoning { data });
            }
            WireBlock::Other => {}
        }
    }
    let raw_stop = message.stop_reason.unwrap_or_default();
    let mut stop = stop_reason(&raw_stop)
        .ok_or_else(|| internal(format!("unknown stop_reason {raw_stop:?}")))?;
    let structured_value = match structured {
        None => None,
        // A refusal has no value to parse; the stop reason says why.
        Some(_) if stop == StopReason::ContentFiltered => None,
        Some(s) => {
            let value = match s.mode {
                StructuredOutputMode::ForcedTool => {
                    let value = forced_input.ok_or_else(|| {
                        internal(format!(
                            "structured output: the model did not call the forced tool `{}`",
                            s.output.name
                        ))
                    })?;
                    s.output.check(&value).map_err(|e| {
                        internal(format!("structured output `{}`: {e}", s.output.name))
                    })?;
                    // The forced tool is hidden: for the caller the turn ended.
                    if stop == StopReason::ToolUse
                        && !content
                            .iter()
                            .any(|b| matches!(b, ContentBlock::ToolUse { .. }))
                    {
                        stop = StopReason::EndTurn;
                    }
                    value
                }
                StructuredOutputMode::Native => {
                    let text: String = content
                        .iter()
                        .filter_map(ContentBlock::as_answer_text)
                        .collect();
                    s.output.parse(&text).map_err(|e| {
                        internal(format!("structured output `{}`: {e}", s.output.name))
                    })?
                }
            };
            Some(value)
        }
    };
    let usage = message.usage;
    Ok(ChatResponse {
        content,
        reasoning,
        usage: usage.map(crate::wire::WireUsage::to_core),
        stop_reason: stop,
        served_by: served_by.clone(),
        model: message.model.unwrap_or_else(|| model.to_owned()),
        request_id: None,
        structured: structured_value,
        service_tier: usage.and_then(crate::wire::WireUsage::tier),
        rate_limit: None,
        attempts: Vec::new(),
    })
}
