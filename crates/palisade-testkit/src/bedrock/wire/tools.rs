//! Converse's `toolConfig` as the request's tools and tool choice, and the
//! tool results checked as Bedrock checks them: a `toolResult` must answer a
//! `toolUse` of the assistant turn right before it. (The blocks themselves
//! are read in `content.rs`.)

use palisade_core::{ChatRequest, ContentBlock, Role, Tool, ToolChoice};
use serde_json::Value;

use super::content::{cache_point, string};
use super::error::WireRequestError;

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
