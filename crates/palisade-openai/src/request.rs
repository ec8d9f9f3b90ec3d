//! Core request → Chat Completions body.
//!
//! Every [`ChatRequest`] field is carried or refused, never dropped:
//!
//! | core field | Chat Completions |
//! |---|---|
//! | `system` | a first `{"role":"system"}` message |
//! | `messages` | `messages`: text and JSON blocks as `text` parts, images as `image_url` parts (a `data:` URL for inline bytes, the URL itself otherwise), PDF documents as `file` parts; tool uses as the assistant's `tool_calls`; tool results as `{"role":"tool"}` messages placed before the rest of their user turn |
//! | `tools`, `tool_choice`, `parallel_tool_calls` | `tools` (`type: function`), `tool_choice` (`auto`, `required`, `none`, a named function), `parallel_tool_calls` (refused without tools, as OpenAI does) |
//! | `max_tokens` | `max_completion_tokens` (or `max_tokens`, per [`MaxTokensField`]) |
//! | `temperature`, `top_p` | the same |
//! | `stop_sequences` | `stop` (at most 4, as OpenAI allows) |
//! | `structured_output` | `response_format: {"type":"json_schema", "json_schema":{name, description, schema}}` |
//! | `service_tier` | `service_tier`: `flex`, `default`, `priority`; `reserved` is refused |
//! | `passthrough` | merged into the body's top level (e.g. `seed`, `reasoning_effort`, `user`); a key the adapter already sets is refused |
//! | cache points (`system_cache_point`, `tools_cache_point`, `cache_point` blocks) | accepted and **not sent**: OpenAI caches prompt prefixes automatically (1024 tokens and more), with no request field to mark them; cached tokens come back as `Usage::cache_read_tokens`. The TTL is the provider's. Declared with `Capabilities::caching` |
//! | `thinking`, `reasoning` / `redacted_reasoning` blocks | refused (Chat Completions has no thinking budget and takes no reasoning back; use `passthrough` `reasoning_effort` for reasoning models) |
//! | documents other than PDF | refused (Chat Completions `file` parts take PDFs) |
//! | images or documents inside a tool result, images in an assistant turn | refused (tool and assistant messages take text only) |
//! | `metadata` | not sent: it is for the stack |
//!
//! A tool result with `is_error` has its text prefixed with `Error: `, since
//! tool messages have no error flag.

use palisade_core::{
    ChatRequest, ContentBlock, DocumentFormat, MediaSource, ProviderError, Role, ServiceTier,
    ToolChoice,
};
use serde_json::{Map, Value, json};

use crate::config::MaxTokensField;

/// OpenAI's limit on stop sequences.
pub const MAX_STOP_SEQUENCES: usize = 4;

fn refuse(field: impl AsRef<str>, detail: impl AsRef<str>) -> ProviderError {
    ProviderError::invalid_request(format!("openai: {}: {}", field.as_ref(), detail.as_ref()))
}

/// The body for `POST /chat/completions`.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`](palisade_core::ErrorKind::InvalidRequest)
/// naming the field the API cannot carry.
pub fn chat_body(
    req: &ChatRequest,
    model: &str,
    max_tokens_field: MaxTokensField,
    stream: bool,
) -> Result<Value, ProviderError> {
    if req.thinking.is_some() {
        return Err(refuse(
            "thinking",
            "Chat Completions has no thinking budget; use passthrough `reasoning_effort`",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_owned()));
    body.insert("messages".into(), Value::Array(messages(req)?));
    body.insert(max_tokens_field.as_str().into(), json!(req.max_tokens));
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop_sequences.is_empty() {
        if req.stop_sequences.len() > MAX_STOP_SEQUENCES {
            return Err(refuse(
                "stop_sequences",
                format!(
                    "{} stop sequences; OpenAI takes at most {MAX_STOP_SEQUENCES}",
                    req.stop_sequences.len()
                ),
            ));
        }
        body.insert("stop".into(), json!(req.stop_sequences));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut function = Map::new();
                function.insert("name".into(), Value::String(t.name.clone()));
                if let Some(d) = &t.description {
                    function.insert("description".into(), Value::String(d.clone()));
                }
                function.insert("parameters".into(), t.input_schema.clone());
                json!({ "type": "function", "function": function })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let value = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool { name } => {
                json!({ "type": "function", "function": { "name": name } })
            }
            other => {
                return Err(refuse(
                    "tool_choice",
                    format!("{other:?} has no OpenAI form"),
                ));
            }
        };
        body.insert("tool_choice".into(), value);
    }
    if let Some(parallel) = req.parallel_tool_calls {
        if req.tools.is_empty() {
            return Err(refuse(
                "parallel_tool_calls",
                "only allowed when tools are specified",
            ));
        }
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(output) = &req.structured_output {
        let mut schema = Map::new();
        schema.insert("name".into(), Value::String(output.name.clone()));
        if let Some(d) = &output.description {
            schema.insert("description".into(), Value::String(d.clone()));
        }
        schema.insert("schema".into(), output.schema.clone());
        body.insert(
            "response_format".into(),
            json!({ "type": "json_schema", "json_schema": schema }),
        );
    }
    if let Some(tier) = req.service_tier {
        let name = match tier {
            ServiceTier::Flex => "flex",
            ServiceTier::Default => "default",
            ServiceTier::Priority => "priority",
            other => {
                return Err(refuse(
                    "service_tier",
                    format!("OpenAI offers no `{other}` tier (flex, default, priority)"),
                ));
            }
        };
        body.insert("service_tier".into(), json!(name));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    for (key, value) in &req.passthrough {
        if body.contains_key(key) {
            return Err(refuse(
                format!("passthrough.{key}"),
                "the adapter sets this field itself; use the request field",
            ));
        }
        body.insert(key.clone(), value.clone());
    }
    Ok(Value::Object(body))
}

fn messages(req: &ChatRequest) -> Result<Vec<Value>, ProviderError> {
    let mut out = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        out.push(json!({ "role": "system", "content": system }));
    }
    for (i, message) in req.messages.iter().enumerate() {
        match message.role {
            Role::User => user_turn(i, &message.content, &mut out)?,
            Role::Assistant => out.push(assistant_turn(i, &message.content)?),
        }
    }
    Ok(out)
}

fn user_turn(i: usize, blocks: &[ContentBlock], out: &mut Vec<Value>) -> Result<(), ProviderError> {
    let mut parts = Vec::new();
    // Tool messages must directly follow the assistant turn that called the
    // tools, so they go first; the rest of the turn follows as one message.
    for (j, block) in blocks.iter().enumerate() {
        let field = format!("messages[{i}].content[{j}]");
        match block {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut text = String::new();
                if *is_error {
                    text.push_str("Error: ");
                }
                for (k, inner) in content.iter().enumerate() {
                    match inner {
                        ContentBlock::Text { text: t } => text.push_str(t),
                        ContentBlock::Json { value } => text.push_str(&value.to_string()),
                        ContentBlock::CachePoint { .. } => {}
                        other => {
                            return Err(refuse(
                                format!("{field}.content[{k}]"),
                                format!(
                                    "a tool message takes text only, not a {} block",
                                    other.type_name()
                                ),
                            ));
                        }
                    }
                }
                out.push(json!({ "role": "tool", "tool_call_id": tool_use_id, "content": text }));
            }
            other => {
                if let Some(part) = user_part(&field, other)? {
                    parts.push(part);
                }
            }
        }
    }
    if !parts.is_empty() {
        out.push(json!({ "role": "user", "content": parts }));
    }
    Ok(())
}

fn user_part(field: &str, block: &ContentBlock) -> Result<Option<Value>, ProviderError> {
    Ok(Some(match block {
        ContentBlock::Text { text } => json!({ "type": "text", "text": text }),
        ContentBlock::Json { value } => json!({ "type": "text", "text": value.to_string() }),
        ContentBlock::Image { format, source } => {
            let url = match source {
                MediaSource::Base64 { data } => {
                    format!("data:{};base64,{data}", format.media_type())
                }
                MediaSource::Url { url } => url.clone(),
                _ => return Err(refuse(field, "an image needs base64 bytes or a URL")),
            };
            json!({ "type": "image_url", "image_url": { "url": url } })
        }
        ContentBlock::Document {
            name,
            format,
            source,
        } => {
            if *format != DocumentFormat::Pdf {
                return Err(refuse(
                    field,
                    format!(
                        "Chat Completions file parts take PDF documents, not `{}`",
                        format.name()
                    ),
                ));
            }
            let MediaSource::Base64 { data } = source else {
                return Err(refuse(field, "a PDF document needs its bytes (base64)"));
            };
            json!({ "type": "file", "file": {
                "filename": name,
                "file_data": format!("data:application/pdf;base64,{data}"),
            } })
        }
        // OpenAI caches prefixes by itself (see the module docs).
        ContentBlock::CachePoint { .. } => return Ok(None),
        ContentBlock::ToolUse { .. } => {
            return Err(refuse(field, "a tool use belongs in an assistant turn"));
        }
        other => {
            return Err(refuse(
                field,
                format!(
                    "Chat Completions takes no {} block in a user turn",
                    other.type_name()
                ),
            ));
        }
    }))
}

fn assistant_turn(i: usize, blocks: &[ContentBlock]) -> Result<Value, ProviderError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        match block {
            ContentBlock::Text { text: t } => text.push_str(t),
            ContentBlock::Json { value } => text.push_str(&value.to_string()),
            ContentBlock::ToolUse { id, name, input } => tool_calls.push(json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": input.to_string() },
            })),
            ContentBlock::CachePoint { .. } => {}
            other => {
                return Err(refuse(
                    format!("messages[{i}].content[{j}]"),
                    format!(
                        "an assistant message takes text and tool calls, not a {} block",
                        other.type_name()
                    ),
                ));
            }
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if text.is_empty() && !tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    Ok(Value::Object(message))
}
