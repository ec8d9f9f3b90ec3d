//! Converse's tool, media and tool-result shapes as core blocks, checked as
//! Bedrock checks them: a `toolResult` must answer a `toolUse` of the
//! assistant turn right before it, and a `toolConfig` must be well formed.

use palisade_core::{
    ChatRequest, ContentBlock, DocumentFormat, ImageFormat, MediaSource, Role, Tool, ToolChoice,
};
use serde_json::{Map, Value};

use super::request::{WireRequestError, cache_point, content_block};

fn string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, WireRequestError> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| WireRequestError::new(format!("{path}.{key}"), "required, a string"))
}

/// `image`, `document`, `toolUse` and `toolResult` blocks; `None` for other
/// shapes.
pub(crate) fn media_or_tool_block(
    object: &Map<String, Value>,
    path: &str,
) -> Result<Option<ContentBlock>, WireRequestError> {
    if let Some(Value::Object(image)) = object.get("image") {
        let path = format!("{path}.image");
        let format = string(image, "format", &path)?;
        let format = ImageFormat::from_media_type(&format!("image/{format}")).ok_or_else(|| {
            WireRequestError::new(
                format!("{path}.format"),
                format!("unknown image format `{format}`"),
            )
        })?;
        let data = image
            .get("source")
            .and_then(|s| s.get("bytes"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                WireRequestError::new(format!("{path}.source.bytes"), "required, base64")
            })?;
        return Ok(Some(ContentBlock::Image {
            format,
            source: MediaSource::Base64 {
                data: data.to_owned(),
            },
        }));
    }
    if let Some(Value::Object(document)) = object.get("document") {
        let path = format!("{path}.document");
        let name = string(document, "name", &path)?;
        let format_name = string(document, "format", &path)?;
        let format = DocumentFormat::from_name(format_name).ok_or_else(|| {
            WireRequestError::new(
                format!("{path}.format"),
                format!("unknown document format `{format_name}`"),
            )
        })?;
        let source = document.get("source");
        let source = if let Some(data) = source.and_then(|s| s.get("bytes")).and_then(Value::as_str)
        {
            MediaSource::Base64 {
                data: data.to_owned(),
            }
        } else if let Some(text) = source.and_then(|s| s.get("text")).and_then(Value::as_str) {
            MediaSource::Text {
                text: text.to_owned(),
            }
        } else {
            return Err(WireRequestError::new(
                format!("{path}.source"),
                "expected `bytes` or `text`",
            ));
        };
        return Ok(Some(ContentBlock::Document {
            name: name.to_owned(),
            format,
            source,
        }));
    }
    if let Some(Value::Object(tool)) = object.get("toolUse") {
        let path = format!("{path}.toolUse");
        return Ok(Some(ContentBlock::ToolUse {
            id: string(tool, "toolUseId", &path)?.to_owned(),
            name: string(tool, "name", &path)?.to_owned(),
            input: tool.get("input").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(Value::Object(result)) = object.get("toolResult") {
        let path = format!("{path}.toolResult");
        let tool_use_id = string(result, "toolUseId", &path)?.to_owned();
        let mut content = Vec::new();
        if let Some(Value::Array(parts)) = result.get("content") {
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.content[{k}]");
                if let Some(json) = part.get("json") {
                    content.push(ContentBlock::Json {
                        value: json.clone(),
                    });
                } else if let Some(block) = content_block(part, &part_path)? {
                    content.push(block);
                }
            }
        }
        let is_error = match result.get("status").and_then(Value::as_str) {
            None | Some("success") => false,
            Some("error") => true,
            Some(other) => {
                return Err(WireRequestError::new(
                    format!("{path}.status"),
                    format!("expected `success` or `error`, got `{other}`"),
                ));
            }
        };
        return Ok(Some(ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        }));
    }
    Ok(None)
}

/// `toolConfig`: `tools` (`toolSpec` with `inputSchema.json`, or a
/// `cachePoint`) and `toolChoice` (`auto`, `any`, `tool`).
pub(crate) fn apply_tool_config(
    req: &mut ChatRequest,
    config: &Value,
) -> Result<(), WireRequestError> {
    let Some(Value::Array(tools)) = config.get("tools") else {
        return Err(WireRequestError::new(
            "toolConfig.tools",
            "required, a non-empty list",
        ));
    };
    for (i, tool) in tools.iter().enumerate() {
        let path = format!("toolConfig.tools[{i}]");
        if let Some(point) = tool.get("cachePoint") {
            req.tools_cache_point = Some(cache_point(point));
            continue;
        }
        let Some(Value::Object(spec)) = tool.get("toolSpec") else {
            return Err(WireRequestError::new(
                path,
                "expected `toolSpec` or `cachePoint`",
            ));
        };
        let path = format!("{path}.toolSpec");
        let schema = spec
            .get("inputSchema")
            .and_then(|s| s.get("json"))
            .filter(|s| s.is_object())
            .ok_or_else(|| {
                WireRequestError::new(
                    format!("{path}.inputSchema.json"),
                    "required, a JSON schema object",
                )
            })?;
        req.tools.push(Tool {
            name: string(spec, "name", &path)?.to_owned(),
            description: spec
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_schema: schema.clone(),
        });
    }
    req.tool_choice = match config.get("toolChoice") {
        None => None,
        Some(choice) if choice.get("auto").is_some() => Some(ToolChoice::Auto),
        Some(choice) if choice.get("any").is_some() => Some(ToolChoice::Any),
        Some(choice) => match choice
            .get("tool")
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) => {
                if !req.tools.iter().any(|t| t.name == name) {
                    return Err(WireRequestError::new(
                        "toolConfig.toolChoice.tool.name",
                        format!("`{name}` is not one of the tools"),
                    ));
                }
                Some(ToolChoice::Tool {
                    name: name.to_owned(),
                })
            }
            None => {
                return Err(WireRequestError::new(
                    "toolConfig.toolChoice",
                    "expected `auto`, `any` or `tool`",
                ));
            }
        },
    };
    Ok(())
}

/// Bedrock's rule: every `toolResult` answers a `toolUse` of the assistant
/// message right before its user message.
pub(crate) fn check_tool_results(req: &ChatRequest) -> Result<(), WireRequestError> {
    for (i, message) in req.messages.iter().enumerate() {
        for (j, block) in message.content.iter().enumerate() {
            let ContentBlock::ToolResult { tool_use_id, .. } = block else {
                continue;
            };
            let previous = i.checked_sub(1).and_then(|p| req.messages.get(p));
            let answered = previous.is_some_and(|p| {
                p.role == Role::Assistant
                    && p.content
                        .iter()
                        .any(|b| matches!(b, ContentBlock::ToolUse { id, .. } if id == tool_use_id))
            });
            if !answered {
                return Err(WireRequestError::new(
                    format!("messages[{i}].content[{j}].toolResult.toolUseId"),
                    format!(
                        "The toolResult `{tool_use_id}` does not match a toolUse in the previous assistant turn"
                    ),
                ));
            }
            if message.role != Role::User {
                return Err(WireRequestError::new(
                    format!("messages[{i}].content[{j}]"),
                    "a toolResult belongs in a user message",
                ));
            }
        }
    }
    Ok(())
}
