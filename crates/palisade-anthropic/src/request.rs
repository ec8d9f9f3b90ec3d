//! A core [`ChatRequest`] as a Messages API body, field by field; what the
//! API (or the chosen `anthropic-version`) would refuse is refused here, with
//! `InvalidRequest` naming the field.

use palisade_core::{
    CacheTtl, ChatRequest, ContentBlock, DocumentFormat, MediaSource, Message, Role, ServiceTier,
    StructuredOutput, ToolChoice,
};
use serde_json::{Map, Value, json};

use crate::config::{ApiVersion, StructuredOutputMode};

/// The most `cache_control` breakpoints one request may carry.
pub const MAX_CACHE_POINTS: u32 = 4;

/// The smallest thinking budget the API takes.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// A request the provider refuses before sending: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Refusal {
    /// The request field, e.g. `messages[2].content[0]`.
    pub field: String,
    /// Why.
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        message: message.into(),
    }
}

/// What the body builder needs besides the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyOptions<'a> {
    pub(crate) model: &'a str,
    pub(crate) version: ApiVersion,
    pub(crate) structured: StructuredOutputMode,
    pub(crate) stream: bool,
}

/// Keys the provider sets itself; a passthrough field may not replace one.
const OWN_KEYS: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "stop_sequences",
    "thinking",
    "stream",
    "service_tier",
    "output_config",
];

/// Builds the JSON body of `POST /v1/messages`.
pub(crate) fn build_body(req: &ChatRequest, opts: BodyOptions<'_>) -> Result<Value, Refusal> {
    let mut body = Map::new();
    let mut cache = CacheBudget::default();
    body.insert("model".into(), json!(opts.model));
    body.insert("max_tokens".into(), json!(req.max_tokens));

    if let Some(system) = &req.system {
        match req.system_cache_point {
            None => {
                body.insert("system".into(), json!(system));
            }
            Some(point) => {
                let mut block = json!({ "type": "text", "text": system });
                cache.mark(&mut block, point.ttl, "system_cache_point")?;
                body.insert("system".into(), json!([block]));
            }
        }
    } else if req.system_cache_point.is_some() {
        return Err(refuse(
            "system_cache_point",
            "a cache point after the system prompt needs a system prompt",
        ));
    }

    let mut tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut tool = json!({ "name": t.name, "input_schema": t.input_schema });
            if let Some(d) = &t.description {
                tool["description"] = json!(d);
            }
            tool
        })
        .collect();
    let tools_point = req.tools_cache_point;
    let mut tool_choice = req.tool_choice.clone();
    let mut forced_structured = None;
    if let Some(output) = &req.structured_output {
        match opts.structured {
            StructuredOutputMode::Native => {
                body.insert(
                    "output_config".into(),
                    json!({ "format": { "type": "json_schema", "schema": output.schema } }),
                );
            }
            StructuredOutputMode::ForcedTool => {
                if req.thinking.is_some() {
                    return Err(refuse(
                        "structured_output",
                        "emulated with a forced tool, which the API refuses with extended thinking; \
                         use StructuredOutputMode::Native or turn thinking off",
                    ));
                }
                if matches!(req.tool_choice, Some(ToolChoice::None)) {
                    return Err(refuse(
                        "tool_choice",
                        "`none` contradicts structured_output, which is emulated with a forced tool",
                    ));
                }
                if req.tools.iter().any(|t| t.name == output.name) {
                    return Err(refuse(
                        "structured_output.name",
                        format!("a tool is already named `{}`", output.name),
                    ));
                }
                forced_structured = Some(output);
            }
        }
    }
    if let Some(output) = forced_structured {
        tools.push(structured_tool(output));
        tool_choice = Some(ToolChoice::Tool {
            name: output.name.clone(),
        });
    }
    if let Some(point) = tools_point {
        // Marked on the last caller tool, so the forced structured tool (which
        // comes after) stays out of the cached prefix only when there are
        // caller tools; with none, the point has nothing to mark.
        let last = if forced_structured.is_some() {
            tools.len().checked_sub(2)
        } else {
            tools.len().checked_sub(1)
        };
        match last {
            Some(i) => cache.mark(&mut tools[i], point.ttl, "tools_cache_point")?,
            None => {
                return Err(refuse(
                    "tools_cache_point",
                    "a cache point after the tool definitions needs at least one tool",
                ));
            }
        }
    }
    // The API orders the cacheable prefix tools → system → messages, and a
    // 1 h entry must not follow a 5 min one in that order.
    cache.check_order(req)?;
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice {
        let mut wire = match &choice {
            ToolChoice::Auto => json!({ "type": "auto" }),
            ToolChoice::Any => json!({ "type": "any" }),
            ToolChoice::None => json!({ "type": "none" }),
            ToolChoice::Tool { name } => json!({ "type": "tool", "name": name }),
            other => {
                return Err(refuse(
                    "tool_choice",
                    format!("{other:?} has no Messages API equivalent"),
                ));
            }
        };
        if req.parallel_tool_calls == Some(false) && !matches!(choice, ToolChoice::None) {
            wire["disable_parallel_tool_use"] = json!(true);
        }
        body.insert("tool_choice".into(), wire);
    } else if req.parallel_tool_calls == Some(false) {
        body.insert(
            "tool_choice".into(),
            json!({ "type": "auto", "disable_parallel_tool_use": true }),
        );
    }

    for (field, value) in [("temperature", req.temperature), ("top_p", req.top_p)] {
        if let Some(v) = value {
            if !opts.version.accepts_sampling_parameters() {
                return Err(refuse(
                    field,
                    format!(
                        "anthropic-version {} refuses sampling parameters (even at their defaults); \
                         remove it or use 2023-06-01",
                        opts.version
                    ),
                ));
            }
            body.insert(field.into(), json!(v));
        }
    }
    if !req.stop_sequences.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop_sequences));
    }
    if let Some(thinking) = req.thinking {
        if thinking.budget_tokens < MIN_THINKING_BUDGET {
            return Err(refuse(
                "thinking.budget_tokens",
                format!(
                    "{} is below the API's minimum of {MIN_THINKING_BUDGET}",
                    thinking.budget_tokens
                ),
            ));
        }
        body.insert(
            "thinking".into(),
            json!({ "type": "enabled", "budget_tokens": thinking.budget_tokens }),
        );
    }
    if let Some(tier) = req.service_tier {
        let wire = match tier {
            // `standard_only` never draws on Priority Tier capacity;
            // `auto` uses it when the organisation has it.
            ServiceTier::Default => "standard_only",
            ServiceTier::Priority => "auto",
            other => {
                return Err(refuse(
                    "service_tier",
                    format!("`{other}` is not offered by the Messages API (default, priority)"),
                ));
            }
        };
        body.insert("service_tier".into(), json!(wire));
    }

    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, message) in req.messages.iter().enumerate() {
        messages.push(message_to_wire(message, i, opts.version, &mut cache)?);
    }
    body.insert("messages".into(), Value::Array(messages));
    if cache.count > MAX_CACHE_POINTS {
        return Err(refuse(
            "messages",
            format!(
                "{} cache points; the API takes at most {MAX_CACHE_POINTS}",
                cache.count
            ),
        ));
    }

    for (key, value) in &req.passthrough {
        if OWN_KEYS.contains(&key.as_str()) {
            return Err(refuse(
                format!("passthrough.{key}"),
                "set by the provider from the request's own field; set that field instead",
            ));
        }
        if key == "top_k" && !opts.version.accepts_sampling_parameters() {
            return Err(refuse(
                "passthrough.top_k",
                format!(
                    "anthropic-version {} refuses sampling parameters",
                    opts.version
                ),
            ));
        }
        body.insert(key.clone(), value.clone());
    }
    if opts.stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(body))
}

fn structured_tool(output: &StructuredOutput) -> Value {
    json!({
        "name": output.name,
        "description": output.description.clone().unwrap_or_else(|| {
            "Answer by calling this tool with the reply as its input.".to_owned()
        }),
        "input_schema": output.schema,
    })
}

/// Counts cache breakpoints and checks their lifetimes' order.
#[derive(Default)]
struct CacheBudget {
    count: u32,
}

impl CacheBudget {
    fn mark(&mut self, block: &mut Value, ttl: CacheTtl, field: &str) -> Result<(), Refusal> {
        if block.get("cache_control").is_some() {
            return Err(refuse(field, "two cache points on the same block"));
        }
        self.count += 1;
        block["cache_control"] = match ttl {
            CacheTtl::FiveMinutes => json!({ "type": "ephemeral" }),
            CacheTtl::OneHour => json!({ "type": "ephemeral", "ttl": "1h" }),
            other => json!({ "type": "ephemeral", "ttl": other.as_str() }),
        };
        Ok(())
    }

    /// The API refuses a 1 h cache point after a 5 min one (in prefix order:
    /// tools, system, messages).
    fn check_order(&self, req: &ChatRequest) -> Result<(), Refusal> {
        let mut points: Vec<(String, CacheTtl)> = Vec::new();
        if let Some(p) = req.tools_cache_point {
            points.push(("tools_cache_point".into(), p.ttl));
        }
        if let Some(p) = req.system_cache_point {
            points.push(("system_cache_point".into(), p.ttl));
        }
        for (i, m) in req.messages.iter().enumerate() {
            for (j, b) in m.content.iter().enumerate() {
                if let ContentBlock::CachePoint { ttl } = b {
                    points.push((format!("messages[{i}].content[{j}]"), *ttl));
                }
            }
        }
        let mut seen_short = false;
        for (field, ttl) in points {
            match ttl {
                CacheTtl::OneHour if seen_short => {
                    return Err(refuse(
                        field,
                        "a 1h cache point cannot come after a 5m one (tools, system, messages order)",
                    ));
                }
                CacheTtl::OneHour => {}
                _ => seen_short = true,
            }
        }
        Ok(())
    }
}

fn message_to_wire(
    message: &Message,
    i: usize,
    version: ApiVersion,
    cache: &mut CacheBudget,
) -> Result<Value, Refusal> {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let mut blocks: Vec<Value> = Vec::with_capacity(message.content.len());
    for (j, block) in message.content.iter().enumerate() {
        let field = format!("messages[{i}].content[{j}]");
        if let ContentBlock::CachePoint { ttl } = block {
            match blocks.last_mut() {
                Some(previous) => cache.mark(previous, *ttl, &field)?,
                None => {
                    return Err(refuse(
                        field,
                        "a cache point must follow a content block of the same message",
                    ));
                }
            }
            continue;
        }
        if message.role == Role::Assistant
            && matches!(block, ContentBlock::Document { .. })
            && !version.accepts_assistant_documents()
        {
            return Err(refuse(
                field,
                format!("anthropic-version {version} refuses document blocks in assistant turns"),
            ));
        }
        blocks.push(block_to_wire(block, &field)?);
    }
    Ok(json!({ "role": role, "content": blocks }))
}

fn block_to_wire(block: &ContentBlock, field: &str) -> Result<Value, Refusal> {
    Ok(match block {
        ContentBlock::Text { text } => json!({ "type": "text", "text": text }),
        ContentBlock::Json { value } => json!({ "type": "text", "text": value.to_string() }),
        ContentBlock::Reasoning { text, signature } => {
            let Some(signature) = signature else {
                return Err(refuse(
                    field,
                    "a thinking block echoed back needs the signature it came with",
                ));
            };
            json!({ "type": "thinking", "thinking": text, "signature": signature })
        }
        ContentBlock::RedactedReasoning { data } => {
            json!({ "type": "redacted_thinking", "data": data })
        }
        ContentBlock::ToolUse { id, name, input } => {
            json!({ "type": "tool_use", "id": id, "name": name, "input": input })
        }
        ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut inner = Vec::with_capacity(content.len());
            for (k, b) in content.iter().enumerate() {
                let inner_field = format!("{field}.content[{k}]");
                match b {
                    ContentBlock::Text { .. }
                    | ContentBlock::Json { .. }
                    | ContentBlock::Image { .. }
                    | ContentBlock::Document { .. } => inner.push(block_to_wire(b, &inner_field)?),
                    other => {
                        return Err(refuse(
                            inner_field,
                            format!(
                                "{} blocks cannot be part of a tool result",
                                other.type_name()
                            ),
                        ));
                    }
                }
            }
            let mut wire =
                json!({ "type": "tool_result", "tool_use_id": tool_use_id, "content": inner });
            if *is_error {
                wire["is_error"] = json!(true);
            }
            wire
        }
        ContentBlock::Image { format, source } => {
            let source = match source {
                MediaSource::Base64 { data } => {
                    json!({ "type": "base64", "media_type": format.media_type(), "data": data })
                }
                MediaSource::Url { url } => json!({ "type": "url", "url": url }),
                _ => {
                    return Err(refuse(
                        field,
                        "an image needs base64 bytes or a URL, not a text source",
                    ));
                }
            };
            json!({ "type": "image", "source": source })
        }
        ContentBlock::Document {
            name,
            format,
            source,
        } => {
            let source = document_source(*format, source, field)?;
            json!({ "type": "document", "source": source, "title": name })
        }
        ContentBlock::CachePoint { .. } => {
            return Err(refuse(field, "a cache point cannot be nested here"));
        }
        other => {
            return Err(refuse(
                field,
                format!(
                    "{} blocks are not supported by the Messages API",
                    other.type_name()
                ),
            ));
        }
    })
}

fn document_source(
    format: DocumentFormat,
    source: &MediaSource,
    field: &str,
) -> Result<Value, Refusal> {
    match (format, source) {
        (DocumentFormat::Pdf, MediaSource::Base64 { data }) => Ok(json!({
            "type": "base64", "media_type": "application/pdf", "data": data
        })),
        (DocumentFormat::Pdf, MediaSource::Url { url }) => Ok(json!({ "type": "url", "url": url })),
        (f, MediaSource::Text { text }) if f.is_text() => Ok(json!({
            "type": "text", "media_type": "text/plain", "data": text
        })),
        (f, MediaSource::Base64 { .. }) if f.is_text() => {
            let bytes = source
                .bytes()
                .and_then(Result::ok)
                .ok_or_else(|| refuse(field, "the document's base64 does not decode"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| refuse(field, format!("a {} document must be UTF-8", f.name())))?;
            Ok(json!({ "type": "text", "media_type": "text/plain", "data": text }))
        }
        (f, _) => Err(refuse(
            field,
            format!(
                "{} documents are not supported (PDF as base64 or URL, text formats as text)",
                f.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::{CachePoint, Tool};

    fn opts(version: ApiVersion) -> BodyOptions<'static> {
        BodyOptions {
            model: "claude-test",
            version,
            structured: StructuredOutputMode::ForcedTool,
            stream: false,
        }
    }

    #[test]
    fn cache_points_become_cache_control() {
        let req = ChatRequest::new(vec![Message::new(
            Role::User,
            vec![ContentBlock::text("doc"), ContentBlock::cache_point()],
        )])
        .with_system("sys")
        .with_system_cache_point(CachePoint {
            ttl: CacheTtl::OneHour,
        })
        .with_tool(Tool::new("t", "d", json!({"type": "object"})))
        .with_tools_cache_point(CachePoint {
            ttl: CacheTtl::OneHour,
        });
        let body = build_body(&req, opts(ApiVersion::V2023_06_01)).unwrap();
        assert_eq!(body["system"][0]["cache_control"]["ttl"], "1h");
        assert_eq!(body["tools"][0]["cache_control"]["ttl"], "1h");
        assert_eq!(
            body["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
    }

    #[test]
    fn a_one_hour_point_after_a_five_minute_one_is_refused() {
        let req = ChatRequest::user("x")
            .with_system("sys")
            .with_system_cache_point(CachePoint {
                ttl: CacheTtl::OneHour,
            })
            .with_tool(Tool::new("t", "d", json!({"type": "object"})))
            .with_tools_cache_point(CachePoint::default());
        let err = build_body(&req, opts(ApiVersion::V2023_06_01)).unwrap_err();
        assert_eq!(err.field, "system_cache_point");
    }

    #[test]
    fn the_2026_version_refuses_sampling_parameters() {
        let req = ChatRequest::user("x").with_temperature(1.0);
        let err = build_body(&req, opts(ApiVersion::V2026_10_21)).unwrap_err();
        assert_eq!(err.field, "temperature");
        assert!(build_body(&req, opts(ApiVersion::V2023_06_01)).is_ok());
    }

    #[test]
    fn structured_output_is_a_forced_tool_by_default() {
        let req = ChatRequest::user("x")
            .with_structured_output(StructuredOutput::new("answer", json!({"type": "object"})));
        let body = build_body(&req, opts(ApiVersion::V2023_06_01)).unwrap();
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "answer"})
        );
        assert_eq!(body["tools"][0]["name"], "answer");
    }

    #[test]
    fn reasoning_without_signature_is_refused() {
        let req = ChatRequest::new(vec![
            Message::user("q"),
            Message::new(
                Role::Assistant,
                vec![ContentBlock::Reasoning {
                    text: "hmm".into(),
                    signature: None,
                }],
            ),
            Message::user("more"),
        ]);
        let err = build_body(&req, opts(ApiVersion::V2023_06_01)).unwrap_err();
        assert_eq!(err.field, "messages[1].content[0]");
    }
}
