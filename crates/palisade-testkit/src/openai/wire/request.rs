//! A Chat Completions body → a core request, with OpenAI's own checks:
//! unknown parameters, types, ranges, tool-call pairing, `stream_options`
//! without `stream`. Every refusal is a 400 naming the parameter.

use palisade_core::{
    ChatRequest, ContentBlock, DocumentFormat, ImageFormat, MediaSource, Message, Role,
    ServiceTier, StructuredOutput, Tool, ToolChoice,
};
use serde_json::{Map, Value};

use super::error::OpenAiError;

/// Parameters OpenAI takes that the fake does not act on: kept as the core
/// request's passthrough, so a test sees they arrived.
const PASSTHROUGH: &[&str] = &[
    "seed",
    "user",
    "metadata",
    "store",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "verbosity",
    "modalities",
    "prediction",
    "web_search_options",
];

const HANDLED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "service_tier",
];

/// What the fake read from a body.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRequest {
    pub(crate) model: String,
    pub(crate) chat: ChatRequest,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

fn invalid(param: impl Into<String>, message: impl Into<String>) -> OpenAiError {
    OpenAiError::invalid(param, message)
}

fn type_error(param: &str, expected: &str) -> OpenAiError {
    invalid(
        param,
        format!("Invalid type for '{param}': expected {expected}."),
    )
}

/// Parses and checks a body. `model_override` is the Azure deployment (the
/// body's `model` is then optional).
pub(crate) fn parse(
    body: &[u8],
    model_override: Option<&str>,
) -> Result<ParsedRequest, OpenAiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        OpenAiError::new(
            400,
            Some("invalid_request_error"),
            None,
            format!("We could not parse the JSON body of your request. ({e})"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(invalid("body", "The request body must be a JSON object."));
    };
    for key in obj.keys() {
        if !HANDLED.contains(&key.as_str()) && !PASSTHROUGH.contains(&key.as_str()) {
            return Err(OpenAiError::new(
                400,
                Some("invalid_request_error"),
                None,
                format!("Unrecognized request argument supplied: {key}"),
            ));
        }
    }
    let model = match (obj.get("model"), model_override) {
        // Azure routes by the deployment, whatever the body says.
        (None | Some(Value::String(_)), Some(m)) => m.to_owned(),
        (Some(Value::String(m)), None) if !m.is_empty() => m.clone(),
        (None, None) => return Err(invalid("model", "you must provide a model parameter")),
        _ => return Err(type_error("model", "a string")),
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(type_error("stream", "a boolean")),
    };
    let mut include_usage = false;
    match obj.get("stream_options") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            if !stream {
                return Err(invalid(
                    "stream_options",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                ));
            }
            match o.get("include_usage") {
                None => {}
                Some(Value::Bool(b)) => include_usage = *b,
                Some(_) => return Err(type_error("stream_options.include_usage", "a boolean")),
            }
        }
        Some(_) => return Err(type_error("stream_options", "an object")),
    }
    if let Some(n) = obj.get("n")
        && n.as_u64() != Some(1)
    {
        return Err(invalid("n", "The fake server answers n = 1 only."));
    }
    let mut chat = ChatRequest::new(Vec::new());
    chat.max_tokens = max_tokens(&obj)?;
    chat.temperature = number(&obj, "temperature", 0.0, 2.0)?;
    chat.top_p = number(&obj, "top_p", 0.0, 1.0)?;
    chat.stop_sequences = stop(&obj)?;
    chat.tools = tools(&obj)?;
    chat.tool_choice = tool_choice(&obj, &chat.tools)?;
    match obj.get("parallel_tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            if chat.tools.is_empty() {
                return Err(invalid(
                    "parallel_tool_calls",
                    "parallel_tool_calls is only allowed when 'tools' are specified.",
                ));
            }
            chat.parallel_tool_calls = Some(*b);
        }
        Some(_) => return Err(type_error("parallel_tool_calls", "a boolean")),
    }
    chat.structured_output = response_format(&obj)?;
    chat.service_tier = match obj.get("service_tier") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => None,
            "default" => Some(ServiceTier::Default),
            "flex" => Some(ServiceTier::Flex),
            "priority" => Some(ServiceTier::Priority),
            "scale" => Some(ServiceTier::Reserved),
            other => {
                return Err(invalid(
                    "service_tier",
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'auto', 'default', 'flex', 'scale' and 'priority'."
                    ),
                ));
            }
        },
        Some(_) => return Err(type_error("service_tier", "a string")),
    };
    for key in PASSTHROUGH {
        if let Some(v) = obj.get(*key) {
            chat.passthrough.insert((*key).to_owned(), v.clone());
        }
    }
    let (system, messages) = messages(&obj)?;
    chat.system = system;
    chat.messages = messages;
    Ok(ParsedRequest {
        model,
        chat,
        stream,
        include_usage,
    })
}

fn max_tokens(obj: &Map<String, Value>) -> Result<u32, OpenAiError> {
    let read = |name: &str| -> Result<Option<u32>, OpenAiError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
                _ => Err(invalid(
                    name,
                    format!(
                        "Invalid '{name}': integer below minimum value. Expected a value >= 1."
                    ),
                )),
            },
        }
    };
    match (read("max_tokens")?, read("max_completion_tokens")?) {
        (Some(_), Some(_)) => Err(invalid(
            "max_tokens",
            "max_tokens and max_completion_tokens cannot both be set.",
        )),
        (Some(n), None) | (None, Some(n)) => Ok(n),
        (None, None) => Ok(4096),
    }
}

fn number(
    obj: &Map<String, Value>,
    name: &str,
    min: f64,
    max: f64,
) -> Result<Option<f32>, OpenAiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if (min..=max).contains(&x) => Ok(Some(x as f32)),
            Some(x) => Err(invalid(
                name,
                format!("Invalid '{name}': {x} is out of range [{min}, {max}]."),
            )),
            None => Err(type_error(name, "a number")),
        },
    }
}

fn stop(obj: &Map<String, Value>) -> Result<Vec<String>, OpenAiError> {
    match obj.get("stop") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => {
            if items.len() > 4 {
                return Err(invalid(
                    "stop",
                    "Invalid 'stop': array too long. Expected at most 4 items.",
                ));
            }
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| type_error("stop", "strings"))
                })
                .collect()
        }
        Some(_) => Err(type_error("stop", "a string or an array of strings")),
    }
}

fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn tools(obj: &Map<String, Value>) -> Result<Vec<Tool>, OpenAiError> {
    let Some(value) = obj.get("tools").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(type_error("tools", "an array"));
    };
    let mut out: Vec<Tool> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let param = format!("tools[{i}]");
        if item.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                format!("{param}.type"),
                "Invalid value: expected 'function'.",
            ));
        }
        let Some(function) = item.get("function").and_then(Value::as_object) else {
            return Err(invalid(
                format!("{param}.function"),
                "Missing required parameter: 'function'.",
            ));
        };
        let name = function.get("name").and_then(Value::as_str).unwrap_or("");
        if !is_valid_name(name) {
            return Err(invalid(
                format!("{param}.function.name"),
                format!(
                    "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                ),
            ));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(invalid(
                format!("{param}.function.name"),
                format!("Duplicate function name: '{name}'."),
            ));
        }
        let parameters = match function.get("parameters") {
            None | Some(Value::Null) => serde_json::json!({ "type": "object", "properties": {} }),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => {
                return Err(type_error(
                    &format!("{param}.function.parameters"),
                    "an object",
                ));
            }
        };
        out.push(Tool {
            name: name.to_owned(),
            description: function
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_schema: parameters,
        });
    }
    Ok(out)
}

fn tool_choice(
    obj: &Map<String, Value>,
    tools: &[Tool],
) -> Result<Option<ToolChoice>, OpenAiError> {
    let choice = match obj.get("tool_choice") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Any,
            "none" => ToolChoice::None,
            other => {
                return Err(invalid(
                    "tool_choice",
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."
                    ),
                ));
            }
        },
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        "tool_choice.function.name",
                        "Missing required parameter: 'tool_choice.function.name'.",
                    )
                })?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(invalid(
                    "tool_choice",
                    format!(
                        "Invalid value for 'tool_choice': function '{name}' is not among the tools."
                    ),
                ));
            }
            ToolChoice::Tool {
                name: name.to_owned(),
            }
        }
        Some(_) => return Err(type_error("tool_choice", "a string or an object")),
    };
    if tools.is_empty() {
        return Err(invalid(
            "tool_choice",
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        ));
    }
    Ok(Some(choice))
}

fn response_format(obj: &Map<String, Value>) -> Result<Option<StructuredOutput>, OpenAiError> {
    let Some(format) = obj.get("response_format").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text" | "json_object") => Ok(None),
        Some("json_schema") => {
            let Some(spec) = format.get("json_schema").and_then(Value::as_object) else {
                return Err(invalid(
                    "response_format.json_schema",
                    "Missing required parameter: 'response_format.json_schema'.",
                ));
            };
            let name = spec.get("name").and_then(Value::as_str).unwrap_or("");
            if !is_valid_name(name) {
                return Err(invalid(
                    "response_format.json_schema.name",
                    "Missing or invalid 'response_format.json_schema.name'.",
                ));
            }
            let schema = spec
                .get("schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            let mut out = StructuredOutput::new(name, schema);
            out.description = spec
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Some(out))
        }
        _ => Err(invalid(
            "response_format.type",
            "Invalid value: expected 'text', 'json_object' or 'json_schema'.",
        )),
    }
}

/// Messages → system prompt + alternating core turns: consecutive messages
/// of one side (a run of `tool` messages and the user message after them)
/// become one turn.
fn messages(obj: &Map<String, Value>) -> Result<(Option<String>, Vec<Message>), OpenAiError> {
    let Some(Value::Array(items)) = obj.get("messages") else {
        return Err(invalid(
            "messages",
            "Missing required parameter: 'messages'.",
        ));
    };
    if items.is_empty() {
        return Err(invalid(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
        ));
    }
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    // Tool calls of the last assistant message still waiting for an answer.
    let mut pending: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let param = format!("messages[{i}]");
        let role = item.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "tool" && !pending.is_empty() {
            return Err(invalid(
                "messages",
                format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    pending.join(", ")
                ),
            ));
        }
        let (turn_role, blocks) = match role {
            "system" | "developer" => {
                system.push(text_of(item.get("content"), &format!("{param}.content"))?);
                continue;
            }
            "user" => (Role::User, user_blocks(item.get("content"), &param)?),
            "assistant" => {
                let mut blocks = Vec::new();
                match item.get("content") {
                    None | Some(Value::Null) => {}
                    c => {
                        let text = text_of(c, &format!("{param}.content"))?;
                        if !text.is_empty() {
                            blocks.push(ContentBlock::text(text));
                        }
                    }
                }
                if let Some(calls) = item.get("tool_calls").filter(|v| !v.is_null()) {
                    let Value::Array(calls) = calls else {
                        return Err(type_error(&format!("{param}.tool_calls"), "an array"));
                    };
                    for (j, call) in calls.iter().enumerate() {
                        let cparam = format!("{param}.tool_calls[{j}]");
                        let id = call.get("id").and_then(Value::as_str).ok_or_else(|| {
                            invalid(format!("{cparam}.id"), "Missing required parameter.")
                        })?;
                        let function = call.get("function").ok_or_else(|| {
                            invalid(format!("{cparam}.function"), "Missing required parameter.")
                        })?;
                        let name =
                            function
                                .get("name")
                                .and_then(Value::as_str)
                                .ok_or_else(|| {
                                    invalid(
                                        format!("{cparam}.function.name"),
                                        "Missing required parameter.",
                                    )
                                })?;
                        let args = function
                            .get("arguments")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                invalid(
                                    format!("{cparam}.function.arguments"),
                                    "Missing required parameter.",
                                )
                            })?;
                        let input: Value = serde_json::from_str(args).map_err(|_| {
                            invalid(
                                format!("{cparam}.function.arguments"),
                                "The function arguments are not valid JSON.",
                            )
                        })?;
                        pending.push(id.to_owned());
                        blocks.push(ContentBlock::ToolUse {
                            id: id.to_owned(),
                            name: name.to_owned(),
                            input,
                        });
                    }
                }
                if blocks.is_empty() {
                    return Err(invalid(
                        format!("{param}.content"),
                        "An assistant message needs 'content' or 'tool_calls'.",
                    ));
                }
                (Role::Assistant, blocks)
            }
            "tool" => {
                let id = item
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            format!("{param}.tool_call_id"),
                            "Missing required parameter: 'tool_call_id'.",
                        )
                    })?;
                let Some(at) = pending.iter().position(|p| p == id) else {
                    return Err(invalid(
                        format!("{param}.role"),
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    ));
                };
                pending.remove(at);
                let text = text_of(item.get("content"), &format!("{param}.content"))?;
                (Role::User, vec![ContentBlock::tool_result(id, text)])
            }
            other => {
                return Err(invalid(
                    format!("{param}.role"),
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'."
                    ),
                ));
            }
        };
        match turns.last_mut() {
            Some(last) if last.role == turn_role => last.content.extend(blocks),
            _ => turns.push(Message::new(turn_role, blocks)),
        }
    }
    if !pending.is_empty() {
        return Err(invalid(
            "messages",
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                pending.join(", ")
            ),
        ));
    }
    let system = (!system.is_empty()).then(|| system.join("\n"));
    Ok((system, turns))
}

/// A string, or an array of `text` parts joined.
fn text_of(content: Option<&Value>, param: &str) -> Result<String, OpenAiError> {
    match content {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (k, part) in parts.iter().enumerate() {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(t)) => out.push_str(t),
                    _ => {
                        return Err(invalid(
                            format!("{param}[{k}]"),
                            "Expected a text content part.",
                        ));
                    }
                }
            }
            Ok(out)
        }
        None | Some(Value::Null) => Err(invalid(param, "Missing required parameter: 'content'.")),
        Some(_) => Err(type_error(param, "a string or an array of content parts")),
    }
}

fn user_blocks(content: Option<&Value>, param: &str) -> Result<Vec<ContentBlock>, OpenAiError> {
    let cparam = format!("{param}.content");
    match content {
        Some(Value::String(s)) => Ok(vec![ContentBlock::text(s.clone())]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(k, part)| user_part(part, &format!("{cparam}[{k}]")))
            .collect(),
        None | Some(Value::Null) => Err(invalid(cparam, "Missing required parameter: 'content'.")),
        Some(_) => Err(type_error(&cparam, "a string or an array of content parts")),
    }
}

fn user_part(part: &Value, param: &str) -> Result<ContentBlock, OpenAiError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => part
            .get("text")
            .and_then(Value::as_str)
            .map(ContentBlock::text)
            .ok_or_else(|| invalid(format!("{param}.text"), "Missing required parameter.")),
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|i| i.get("url"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        format!("{param}.image_url.url"),
                        "Missing required parameter.",
                    )
                })?;
            if let Some(rest) = url.strip_prefix("data:") {
                let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
                    invalid(
                        format!("{param}.image_url.url"),
                        "Invalid image data URL: expected data:<type>;base64,<data>.",
                    )
                })?;
                let format = ImageFormat::from_media_type(media_type).ok_or_else(|| {
                    invalid(format!("{param}.image_url.url"), format!("Invalid image type '{media_type}'. Supported: image/png, image/jpeg, image/gif, image/webp."))
                })?;
                Ok(ContentBlock::Image {
                    format,
                    source: MediaSource::Base64 {
                        data: data.to_owned(),
                    },
                })
            } else if url.starts_with("https://") || url.starts_with("http://") {
                let lower = url.to_ascii_lowercase();
                let format = if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
                    ImageFormat::Jpeg
                } else if lower.ends_with(".gif") {
                    ImageFormat::Gif
                } else if lower.ends_with(".webp") {
                    ImageFormat::Webp
                } else {
                    ImageFormat::Png
                };
                Ok(ContentBlock::Image {
                    format,
                    source: MediaSource::Url {
                        url: url.to_owned(),
                    },
                })
            } else {
                Err(invalid(
                    format!("{param}.image_url.url"),
                    "Invalid image URL: expected an http(s) URL or a base64 data URL.",
                ))
            }
        }
        Some("file") => {
            let file = part
                .get("file")
                .ok_or_else(|| invalid(format!("{param}.file"), "Missing required parameter."))?;
            let name = file
                .get("filename")
                .and_then(Value::as_str)
                .unwrap_or("file.pdf");
            let data = file
                .get("file_data")
                .and_then(Value::as_str)
                .and_then(|d| d.strip_prefix("data:application/pdf;base64,"))
                .ok_or_else(|| {
                    invalid(
                        format!("{param}.file.file_data"),
                        "Expected a base64 PDF data URL.",
                    )
                })?;
            Ok(ContentBlock::Document {
                name: name.to_owned(),
                format: DocumentFormat::Pdf,
                source: MediaSource::Base64 {
                    data: data.to_owned(),
                },
            })
        }
        Some(other) => Err(invalid(
            format!("{param}.type"),
            format!(
                "Invalid value: '{other}'. Supported values are: 'text', 'image_url' and 'file'."
            ),
        )),
        None => Err(invalid(
            format!("{param}.type"),
            "Missing required parameter: 'type'.",
        )),
    }
}
