//! Bedrock Runtime request bodies (Converse, ConverseStream, CountTokens) as
//! the AWS SDK writes them, translated into [`ChatRequest`]s.
//!
//! Parsing is lenient where Bedrock is (unknown top-level fields are ignored)
//! and precise where it matters: every rejection names the JSON path of the
//! offending field, so a test failure says what the SDK actually sent.

use palisade_core::{ChatRequest, DEFAULT_MAX_TOKENS, Message, Role, ServiceTier, ThinkingConfig};
use serde::Deserialize;
use serde_json::Value;

use super::content::{cache_point, content_block};
pub(crate) use super::error::WireRequestError;
use super::tools;

/// The fields of a Converse / ConverseStream body the fake understands.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody {
    #[serde(default)]
    messages: Vec<WireMessage>,
    #[serde(default)]
    system: Vec<Value>,
    #[serde(default)]
    inference_config: Option<InferenceConfig>,
    #[serde(default)]
    additional_model_request_fields: Option<Value>,
    #[serde(default)]
    tool_config: Option<Value>,
    #[serde(default)]
    service_tier: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
}

/// `POST /model/{id}/count-tokens`: `{"input": {"converse": {...}}}`.
#[derive(Debug, Deserialize)]
struct CountTokensBody {
    input: CountTokensInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountTokensInput {
    converse: Option<ConverseBody>,
    invoke_model: Option<Value>,
}

/// Translates a Converse or ConverseStream body.
///
/// `inferenceConfig.maxTokens` defaults to [`DEFAULT_MAX_TOKENS`] when absent
/// (real Bedrock uses the model's maximum; the fake has no catalog).
pub(crate) fn converse_request(body: &[u8]) -> Result<ChatRequest, WireRequestError> {
    let parsed: ConverseBody = serde_json::from_slice(body)
        .map_err(|e| WireRequestError::new("body", format!("not a valid Converse request: {e}")))?;
    chat_request(parsed)
}

/// Translates a CountTokens body; only the `converse` input form is supported.
pub(crate) fn count_tokens_request(body: &[u8]) -> Result<ChatRequest, WireRequestError> {
    let parsed: CountTokensBody = serde_json::from_slice(body).map_err(|e| {
        WireRequestError::new("body", format!("not a valid CountTokens request: {e}"))
    })?;
    match parsed.input {
        CountTokensInput {
            converse: Some(converse),
            ..
        } => chat_request(converse),
        CountTokensInput {
            invoke_model: Some(_),
            ..
        } => Err(WireRequestError::new(
            "input.invokeModel",
            "the fake server counts only `converse` inputs",
        )),
        _ => Err(WireRequestError::new(
            "input",
            "expected exactly one of `converse` or `invokeModel`",
        )),
    }
}

fn chat_request(body: ConverseBody) -> Result<ChatRequest, WireRequestError> {
    let mut messages = Vec::with_capacity(body.messages.len());
    for (i, message) in body.messages.iter().enumerate() {
        messages.push(message_from_wire(message, i)?);
    }
    let mut req = ChatRequest::new(messages);
    req.system = system_prompt(&body.system)?;
    let config = body.inference_config.unwrap_or_default();
    req.max_tokens = config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    req.temperature = config.temperature;
    req.top_p = config.top_p;
    req.stop_sequences = config.stop_sequences;
    if let Some(fields) = &body.additional_model_request_fields {
        req.thinking = thinking(fields)?;
        if let Some(object) = fields.as_object() {
            for (key, value) in object.iter().filter(|(k, _)| *k != "thinking") {
                req.passthrough.insert(key.clone(), value.clone());
            }
        }
    }
    req.system_cache_point = body
        .system
        .iter()
        .find_map(|b| b.get("cachePoint"))
        .map(cache_point);
    if let Some(config) = &body.tool_config {
        tools::apply_tool_config(&mut req, config)?;
    }
    if let Some(tier) = &body.service_tier {
        let name = tier.get("type").and_then(Value::as_str).unwrap_or("");
        req.service_tier = Some(ServiceTier::from_name(name).ok_or_else(|| {
            WireRequestError::new(
                "serviceTier.type",
                format!("`{name}` is not a service tier (default, flex, priority, reserved)"),
            )
        })?);
    }
    tools::check_tool_results(&req)?;
    Ok(req)
}

fn message_from_wire(message: &WireMessage, i: usize) -> Result<Message, WireRequestError> {
    let role = match message.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(WireRequestError::new(
                format!("messages[{i}].role"),
                format!("expected `user` or `assistant`, got `{other}`"),
            ));
        }
    };
    let mut content = Vec::with_capacity(message.content.len());
    for (j, block) in message.content.iter().enumerate() {
        if let Some(block) = content_block(block, &format!("messages[{i}].content[{j}]"))? {
            content.push(block);
        }
    }
    Ok(Message { role, content })
}

/// System blocks joined by newlines; `cachePoint` blocks are dropped.
fn system_prompt(blocks: &[Value]) -> Result<Option<String>, WireRequestError> {
    let mut parts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        match block.get("text") {
            Some(Value::String(text)) => parts.push(text.as_str()),
            Some(_) => {
                return Err(WireRequestError::new(
                    format!("system[{i}].text"),
                    "must be a string",
                ));
            }
            None => {} // cachePoint, guardContent: no prompt text
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("\n")))
}

/// `additionalModelRequestFields.thinking`, as Anthropic models on Bedrock take
/// it: `{"type": "enabled", "budget_tokens": N}` or `{"type": "disabled"}`.
fn thinking(fields: &Value) -> Result<Option<ThinkingConfig>, WireRequestError> {
    const FIELD: &str = "additionalModelRequestFields.thinking";
    let Some(thinking) = fields.get("thinking") else {
        return Ok(None);
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => {}
        Some("disabled") => return Ok(None),
        _ => {
            return Err(WireRequestError::new(
                format!("{FIELD}.type"),
                "expected `enabled` or `disabled`",
            ));
        }
    }
    let budget = thinking
        .get("budget_tokens")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            WireRequestError::new(
                format!("{FIELD}.budget_tokens"),
                "required with `type: enabled`, a positive integer",
            )
        })?;
    Ok(Some(ThinkingConfig {
        budget_tokens: budget,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::ContentBlock;

    #[test]
    fn translates_a_full_converse_body() {
        let body = br#"{
            "system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
            "messages": [
                {"role": "user", "content": [{"text": "hi"}]},
                {"role": "assistant", "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
                    {"text": "hello"}
                ]},
                {"role": "user", "content": [{"guardContent": {"text": {"text": "x"}}}]}
            ],
            "inferenceConfig": {"maxTokens": 2000, "temperature": 1.0, "topP": 0.95, "stopSequences": ["END"]},
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}
        }"#;
        let req = converse_request(body).unwrap();
        assert_eq!(req.system.as_deref(), Some("be brief"));
        assert_eq!(req.messages.len(), 3);
        assert_eq!(
            req.messages[1].content[0],
            ContentBlock::Reasoning {
                text: "hmm".into(),
                signature: Some("sig".into())
            }
        );
        assert!(matches!(
            req.messages[2].content[0],
            ContentBlock::Json { .. }
        ));
        assert_eq!(req.max_tokens, 2000);
        assert_eq!(req.top_p, Some(0.95));
        assert_eq!(req.stop_sequences, ["END"]);
        assert_eq!(req.thinking.map(|t| t.budget_tokens), Some(1024));
    }

    #[test]
    fn rejections_name_the_field() {
        let err =
            converse_request(br#"{"messages":[{"role":"system","content":[]}]}"#).unwrap_err();
        assert_eq!(err.field, "messages[0].role");
        let err = converse_request(
            br#"{"messages":[],"additionalModelRequestFields":{"thinking":{"type":"enabled"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.field,
            "additionalModelRequestFields.thinking.budget_tokens"
        );
        let err = converse_request(b"not json").unwrap_err();
        assert_eq!(err.field, "body");
    }

    #[test]
    fn count_tokens_takes_the_converse_form_only() {
        let req = count_tokens_request(
            br#"{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}"#,
        )
        .unwrap();
        assert_eq!(req.messages[0].text(), "hi");
        let err =
            count_tokens_request(br#"{"input":{"invokeModel":{"body":"e30="}}}"#).unwrap_err();
        assert_eq!(err.field, "input.invokeModel");
    }
}
