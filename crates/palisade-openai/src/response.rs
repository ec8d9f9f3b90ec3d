//! Chat Completions answer → core response: content, tool calls, usage with
//! cached tokens, finish reason, service tier.

use palisade_core::{
    ChatResponse, ContentBlock, ErrorKind, ProviderError, ProviderId, ServiceTier, StopReason,
    StructuredOutput, Usage,
};
use serde::Deserialize;

/// Compatible servers send `null` where OpenAI leaves a field out (vLLM's
/// usage chunk has `"choices": null`); both read as the default.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `POST /chat/completions` answer (the fields the adapter reads).
#[derive(Debug, Deserialize)]
pub(crate) struct WireCompletion {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default, deserialize_with = "crate::response::null_as_default")]
    pub(crate) choices: Vec<WireChoice>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    #[serde(default)]
    pub(crate) service_tier: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChoice {
    pub(crate) message: WireMessage,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
    #[serde(default, deserialize_with = "crate::response::null_as_default")]
    pub(crate) tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireToolCall {
    pub(crate) id: String,
    pub(crate) function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: String,
}

/// `usage`, with `prompt_tokens_details.cached_tokens`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) prompt_tokens: u32,
    #[serde(default)]
    pub(crate) completion_tokens: u32,
    #[serde(default)]
    pub(crate) prompt_tokens_details: Option<WirePromptDetails>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct WirePromptDetails {
    #[serde(default)]
    pub(crate) cached_tokens: u32,
}

impl WireUsage {
    /// OpenAI's `prompt_tokens` includes the cached ones; core counts them
    /// apart (`input_tokens` is what is billed at the normal rate).
    pub(crate) fn to_core(self) -> Usage {
        let cached = self
            .prompt_tokens_details
            .map_or(0, |d| d.cached_tokens)
            .min(self.prompt_tokens);
        Usage::new(self.prompt_tokens - cached, self.completion_tokens).with_cache(cached, 0)
    }
}

/// `finish_reason` → stop reason: `stop` → `EndTurn` (OpenAI says `stop` for
/// a stop sequence too, so `StopSequence` is never reported), `length` →
/// `MaxTokens`, `tool_calls` / `function_call` → `ToolUse`, `content_filter`
/// → `ContentFiltered`; a missing or unknown reason is `EndTurn`.
pub fn stop_reason(finish_reason: Option<&str>) -> StopReason {
    match finish_reason {
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFiltered,
        _ => StopReason::EndTurn,
    }
}

/// The tier named by the answer's `service_tier` (`scale` is reserved
/// capacity; `auto` and unknown names are `None`).
pub fn service_tier(name: Option<&str>) -> Option<ServiceTier> {
    match name? {
        "flex" => Some(ServiceTier::Flex),
        "default" => Some(ServiceTier::Default),
        "priority" => Some(ServiceTier::Priority),
        "scale" => Some(ServiceTier::Reserved),
        _ => None,
    }
}

/// A tool call's `arguments` string as JSON (empty is `{}`).
pub(crate) fn tool_input(
    served_by: &ProviderId,
    id: &str,
    arguments: &str,
) -> Result<serde_json::Value, ProviderError> {
    if arguments.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(arguments).map_err(|e| {
        ProviderError::new(
            ErrorKind::Internal,
            format!("the arguments of tool call `{id}` are not valid JSON: {e}"),
        )
        .with_provider(served_by.clone())
    })
}

/// Checks the reply against the request's schema, when it asked for one.
pub(crate) fn structured(
    served_by: &ProviderId,
    schema: Option<&StructuredOutput>,
    response: &ChatResponse,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let Some(schema) = schema else {
        return Ok(None);
    };
    // A filtered or truncated reply is reported as such, not as a schema error.
    if matches!(
        response.stop_reason,
        StopReason::ContentFiltered | StopReason::MaxTokens
    ) {
        return Ok(None);
    }
    schema
        .parse(&response.text_content())
        .map(Some)
        .map_err(|e| {
            ProviderError::new(
                ErrorKind::Internal,
                format!("structured output `{}`: {e}", schema.name),
            )
            .with_provider(served_by.clone())
        })
}

/// Converts an answer body. The first choice is the answer (the adapter
/// never asks for `n > 1`). A `refusal` becomes the text of a
/// `ContentFiltered` answer.
pub(crate) fn from_wire(
    served_by: &ProviderId,
    fallback_model: &str,
    wire: WireCompletion,
) -> Result<ChatResponse, ProviderError> {
    let choice = wire.choices.into_iter().next().ok_or_else(|| {
        ProviderError::new(ErrorKind::Internal, "the answer has no choices")
            .with_provider(served_by.clone())
    })?;
    let mut content = Vec::new();
    let mut stop = stop_reason(choice.finish_reason.as_deref());
    if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::text(text));
    }
    if let Some(refusal) = choice.message.refusal.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::text(refusal));
        stop = StopReason::ContentFiltered;
    }
    for call in choice.message.tool_calls {
        let input = tool_input(served_by, &call.id, &call.function.arguments)?;
        content.push(ContentBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
        });
    }
    let mut response =
        ChatResponse::text(served_by.clone(), "", wire.usage.map(WireUsage::to_core));
    response.content = content;
    response.stop_reason = stop;
    response.model = wire.model.unwrap_or_else(|| fallback_model.to_owned());
    response.service_tier = service_tier(wire.service_tier.as_deref());
    Ok(response)
}
