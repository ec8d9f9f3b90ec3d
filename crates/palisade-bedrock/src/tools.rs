//! A request's tools, tool choice and structured output as a Converse
//! `toolConfig`.
//!
//! Structured output is emulated with one forced tool: its name is the
//! schema's name, its input schema the schema, and `toolChoice` names it.
//! The answer's tool input is the structured value (see
//! [`response`](crate::response)), and the forced tool never appears in the
//! answer's content.
//!
//! `ToolChoice::None` has no Converse form (Converse's `toolChoice` is `auto`,
//! `any` or `tool`); leaving the tools out would break a conversation that
//! already holds tool blocks, so it is refused with `InvalidRequest`.

use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, SpecificToolChoice, Tool as WireTool,
    ToolChoice as WireToolChoice, ToolConfiguration, ToolInputSchema, ToolSpecification,
};
use palisade_core::{ChatRequest, ToolChoice};

use crate::request::{RequestError, cache_point};

/// The `toolConfig` for `req`, or `None` when it has no tools and no
/// structured output. Counts the tools' cache point into `cache_points`.
pub(crate) fn tool_config(
    req: &ChatRequest,
    cache_points: &mut u32,
) -> Result<Option<ToolConfiguration>, RequestError> {
    if req.tools.is_empty() && req.structured_output.is_none() {
        if let Some(choice) = &req.tool_choice
            && *choice != ToolChoice::Auto
        {
            return Err(RequestError::new(
                "tool_choice",
                "a tool choice without tools",
            ));
        }
        if req.tools_cache_point.is_some() {
            return Err(RequestError::new(
                "tools_cache_point",
                "a tools cache point without tools",
            ));
        }
        return Ok(None);
    }
    if req.parallel_tool_calls == Some(false) {
        // Converse has no switch for it; Claude may call several tools at once.
        return Err(RequestError::new(
            "parallel_tool_calls",
            "Converse cannot turn parallel tool calls off",
        ));
    }
    let mut tools = Vec::with_capacity(req.tools.len() + 2);
    for (i, tool) in req.tools.iter().enumerate() {
        tools.push(spec(
            &tool.name,
            tool.description.as_deref(),
            &tool.input_schema,
            &format!("tools[{i}]"),
        )?);
    }
    let choice = if let Some(output) = &req.structured_output {
        if req.tools.iter().any(|t| t.name == output.name) {
            return Err(RequestError::new(
                "structured_output.name",
                format!(
                    "`{}` is also the name of one of the request's tools",
                    output.name
                ),
            ));
        }
        if let Some(choice) = &req.tool_choice
            && *choice != ToolChoice::Auto
        {
            return Err(RequestError::new(
                "tool_choice",
                "structured output on Bedrock forces its own tool; leave tool_choice unset",
            ));
        }
        if req.thinking.is_some() {
            return Err(RequestError::new(
                "structured_output",
                "Claude refuses a forced tool choice with extended thinking, and Bedrock emulates structured output with one",
            ));
        }
        tools.push(spec(
            &output.name,
            output.description.as_deref(),
            &output.schema,
            "structured_output",
        )?);
        Some(specific(&output.name)?)
    } else {
        match &req.tool_choice {
            None | Some(ToolChoice::Auto) => {
                Some(WireToolChoice::Auto(AutoToolChoice::builder().build()))
            }
            Some(ToolChoice::Any) => Some(WireToolChoice::Any(AnyToolChoice::builder().build())),
            Some(ToolChoice::Tool { name }) => Some(specific(name)?),
            Some(ToolChoice::None) => {
                return Err(RequestError::new(
                    "tool_choice",
                    "`none` has no Converse form; leave the tools out instead",
                ));
            }
            Some(other) => {
                return Err(RequestError::new(
                    "tool_choice",
                    format!("{other:?} has no Converse form"),
                ));
            }
        }
    };
    if let Some(point) = req.tools_cache_point {
        *cache_points += 1;
        tools.push(WireTool::CachePoint(cache_point(
            point.ttl,
            "tools_cache_point",
        )?));
    }
    ToolConfiguration::builder()
        .set_tools(Some(tools))
        .set_tool_choice(choice)
        .build()
        .map(Some)
        .map_err(|e| RequestError::new("tools", e.to_string()))
}

fn spec(
    name: &str,
    description: Option<&str>,
    schema: &serde_json::Value,
    field: &str,
) -> Result<WireTool, RequestError> {
    if !schema.is_object() {
        return Err(RequestError::new(
            format!("{field}.input_schema"),
            "a tool's input schema must be a JSON object",
        ));
    }
    ToolSpecification::builder()
        .name(name)
        .set_description(description.map(str::to_owned))
        .input_schema(ToolInputSchema::Json(crate::document::from_json(schema)))
        .build()
        .map(WireTool::ToolSpec)
        .map_err(|e| RequestError::new(field, e.to_string()))
}

fn specific(name: &str) -> Result<WireToolChoice, RequestError> {
    SpecificToolChoice::builder()
        .name(name)
        .build()
        .map(WireToolChoice::Tool)
        .map_err(|e| RequestError::new("tool_choice", e.to_string()))
}
