//! A Chat Completions body → a core [`ChatRequest`].
//!
//! Every parameter is carried or refused: an unknown one is a 400 naming it
//! (as OpenAI answers "Unrecognized request argument"), never dropped.
//!
//! | Chat Completions | `ChatRequest` |
//! |---|---|
//! | `messages`: `system` / `developer` | `system` (texts joined by a blank line) |
//! | `user` content: text, `image_url` (data URL or http(s)) | text and image blocks |
//! | `assistant` content and `tool_calls` | text and `tool_use` blocks |
//! | `tool` (`tool_call_id`, content) | a user turn's `tool_result` block |
//! | `tools` (`function`), `tool_choice`, `parallel_tool_calls` | `tools`, `tool_choice` (`required` → any), `parallel_tool_calls` |
//! | `max_tokens` / `max_completion_tokens` | `max_tokens` (`--default-max-tokens` when neither) |
//! | `temperature`, `top_p`, `stop` | the same |
//! | `response_format` `json_schema` | `structured_output` (`json_object` refused: it has no schema) |
//! | `service_tier` | `auto` → none, `default`, `flex`, `priority`, `scale` → reserved |
//! | `user` | the tag `user:ID` (for budgets and stats) |
//! | `model` | not routed on: the stack chooses the candidate |
//! | `n` | 1 only |
//!
//! Consecutive turns of one role (a `tool` turn and the `user` turn after it,
//! say) become one turn, as the core request alternates.

use palisade_core::{
    ChatRequest, ContentBlock, ImageFormat, MediaSource, Message, Role, ServiceTier,
    StructuredOutput, Tool, ToolChoice,
};
use serde::Deserialize;
use serde_json::Value;

use crate::serve::error::ApiError;
use crate::serve::wire::{Content, part};

/// What a body asks for.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The request for the stack.
    pub(super) chat: ChatRequest,
    /// The `model` the client named (echoed in logs, not routed on).
    pub(super) model: String,
    /// Whether to answer with server-sent events.
    pub(super) stream: bool,
    /// Whether the stream ends with a usage chunk.
    pub(super) include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    model: String,
    messages: Vec<WireMessage>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case", deny_unknown_fields)]
enum WireMessage {
    System {
        content: Content,
    },
    Developer {
        content: Content,
    },
    User {
        content: Content,
    },
    Assistant {
        #[serde(default)]
        content: Option<Content>,
        #[serde(default)]
        tool_calls: Vec<WireToolCall>,
        #[serde(default)]
        refusal: Option<String>,
    },
    Tool {
        tool_call_id: String,
        content: Content,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    Refusal { refusal: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageUrl {
    url: String,
    /// Resolution hint; the core image block has no such setting, so only
    /// `auto` (the default) is accepted.
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: FunctionType,
    function: WireFunctionCall,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FunctionType {
    Function,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunctionCall {
    name: String,
    arguments: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    #[serde(rename = "type")]
    kind: FunctionType,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    /// OpenAI's strict schema adherence; the core tool has no such flag,
    /// so only `false` (the default) is accepted.
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireToolChoice {
    Mode(String),
    Function {
        #[serde(rename = "type")]
        kind: FunctionType,
        function: ChosenFunction,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChosenFunction {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchema },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonSchema {
    name: String,
    #[serde(default)]
    description: Option<String>,
    schema: Value,
    #[serde(default)]
    strict: Option<bool>,
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(Some(param.to_owned()), message)
}

/// Reads a body; a refusal names the parameter at fault.
pub(super) fn parse(body: &[u8], default_max_tokens: u32) -> Result<Parsed, ApiError> {
    let body: Body = crate::serve::app::from_json(body)?;
    if body.n.is_some_and(|n| n != 1) {
        return Err(invalid("n", "only n = 1 is served"));
    }
    let stream = body.stream.unwrap_or(false);
    if body.stream_options.is_some() && !stream {
        return Err(invalid(
            "stream_options",
            "'stream_options' is only allowed when 'stream' is true",
        ));
    }
    let mut chat = ChatRequest::new(Vec::new());
    chat.max_tokens = match (body.max_tokens, body.max_completion_tokens) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "max_tokens",
                "max_tokens and max_completion_tokens cannot both be set",
            ));
        }
        (Some(0), _) | (_, Some(0)) => {
            return Err(invalid("max_tokens", "max_tokens must be at least 1"));
        }
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => default_max_tokens,
    };
    chat.temperature = body.temperature;
    chat.top_p = body.top_p;
    chat.stop_sequences = match body.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    for (i, tool) in body.tools.into_iter().flatten().enumerate() {
        let WireTool {
            kind: FunctionType::Function,
            function,
        } = tool;
        if function.strict == Some(true) {
            return Err(invalid(
                &format!("tools[{i}].function.strict"),
                "strict function schemas are not supported; use response_format json_schema",
            ));
        }
        chat.tools.push(Tool {
            name: function.name,
            description: function.description,
            input_schema: function
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        });
    }
    chat.tool_choice = match body.tool_choice {
        None => None,
        Some(WireToolChoice::Mode(mode)) => Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Any,
            other => {
                return Err(invalid(
                    "tool_choice",
                    format!("unknown tool_choice `{other}`: expected auto, none or required"),
                ));
            }
        }),
        Some(WireToolChoice::Function {
            kind: FunctionType::Function,
            function,
        }) => Some(ToolChoice::Tool {
            name: function.name,
        }),
    };
    chat.parallel_tool_calls = body.parallel_tool_calls;
    chat.structured_output = match body.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => {
            return Err(invalid(
                "response_format",
                "`json_object` is not supported (it has no schema); use `json_schema`",
            ));
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            // `strict` asks for what a schema already means here: the reply
            // is checked against it.
            let _strict = json_schema.strict;
            Some(StructuredOutput {
                name: json_schema.name,
                description: json_schema.description,
                schema: json_schema.schema,
            })
        }
    };
    chat.service_tier = match body.service_tier.as_deref() {
        None | Some("auto") => None,
        Some("default") => Some(ServiceTier::Default),
        Some("flex") => Some(ServiceTier::Flex),
        Some("priority") => Some(ServiceTier::Priority),
        Some("scale") => Some(ServiceTier::Reserved),
        Some(other) => {
            return Err(invalid(
                "service_tier",
                format!(
                    "unknown service_tier `{other}`: expected auto, default, flex, priority or scale"
                ),
            ));
        }
    };
    if let Some(user) = body.user {
        chat.metadata.tags.push(format!("user:{user}"));
    }
    let (system, messages) = conversation(body.messages)?;
    chat.system = system;
    chat.messages = messages;
    Ok(Parsed {
        chat,
        model: body.model,
        stream,
        include_usage: body.stream_options.is_some_and(|o| o.include_usage),
    })
}

/// The system prompt and the alternating turns of `messages`.
fn conversation(messages: Vec<WireMessage>) -> Result<(Option<String>, Vec<Message>), ApiError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    let mut push = |role: Role, blocks: Vec<ContentBlock>| match turns.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => turns.push(Message::new(role, blocks)),
    };
    for (i, message) in messages.into_iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        match message {
            WireMessage::System { content } | WireMessage::Developer { content } => {
                system.push(text_only(content, &at("content"))?);
            }
            WireMessage::User { content } => push(Role::User, blocks(content, &at("content"))?),
            WireMessage::Assistant {
                content,
                tool_calls,
                refusal,
            } => {
                let mut out = match content {
                    Some(c) => blocks(c, &at("content"))?,
                    None => Vec::new(),
                };
                if let Some(refusal) = refusal {
                    out.push(ContentBlock::text(refusal));
                }
                for (j, call) in tool_calls.into_iter().enumerate() {
                    let input = if call.function.arguments.trim().is_empty() {
                        Value::Object(serde_json::Map::new())
                    } else {
                        serde_json::from_str(&call.function.arguments).map_err(|e| {
                            invalid(
                                &at(&format!("tool_calls[{j}].function.arguments")),
                                format!("the arguments are not JSON: {e}"),
                            )
                        })?
                    };
                    let FunctionType::Function = call.kind;
                    out.push(ContentBlock::ToolUse {
                        id: call.id,
                        name: call.function.name,
                        input,
                    });
                }
                if out.is_empty() {
                    return Err(invalid(
                        &at("content"),
                        "an assistant message needs content or tool_calls",
                    ));
                }
                push(Role::Assistant, out);
            }
            WireMessage::Tool {
                tool_call_id,
                content,
            } => {
                let result = blocks(content, &at("content"))?;
                push(
                    Role::User,
                    vec![ContentBlock::ToolResult {
                        tool_use_id: tool_call_id,
                        content: result,
                        is_error: false,
                    }],
                );
            }
        }
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok((system, turns))
}

fn text_only(content: Content, param: &str) -> Result<String, ApiError> {
    match content {
        Content::Text(t) => Ok(t),
        Content::Parts(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                let at = format!("{param}[{j}]");
                match part::<Part>(p, &at)? {
                    Part::Text { text } => Ok(text),
                    _ => Err(invalid(&at, "a system message takes text parts only")),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("")),
    }
}

fn blocks(content: Content, param: &str) -> Result<Vec<ContentBlock>, ApiError> {
    match content {
        Content::Text(t) => Ok(vec![ContentBlock::text(t)]),
        Content::Parts(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                let at = format!("{param}[{j}]");
                match part::<Part>(p, &at)? {
                    Part::Text { text } => Ok(ContentBlock::text(text)),
                    Part::Refusal { refusal } => Ok(ContentBlock::text(refusal)),
                    Part::ImageUrl { image_url } => image(image_url, &at),
                }
            })
            .collect(),
    }
}

/// An `image_url` part: a `data:` URL becomes inline bytes, an http(s) URL
/// stays a URL (for the providers that fetch).
fn image(image: ImageUrl, param: &str) -> Result<ContentBlock, ApiError> {
    if image.detail.as_deref().is_some_and(|d| d != "auto") {
        return Err(invalid(
            &format!("{param}.image_url.detail"),
            "only detail `auto` is supported",
        ));
    }
    if let Some(rest) = image.url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
            invalid(
                &format!("{param}.image_url.url"),
                "a data URL must be base64",
            )
        })?;
        let format = ImageFormat::from_media_type(media_type).ok_or_else(|| {
            invalid(
                &format!("{param}.image_url.url"),
                format!("unsupported image type `{media_type}`: png, jpeg, gif or webp"),
            )
        })?;
        return Ok(ContentBlock::Image {
            format,
            source: MediaSource::Base64 {
                data: data.to_owned(),
            },
        });
    }
    let format = guess_format(&image.url).ok_or_else(|| {
        invalid(
            &format!("{param}.image_url.url"),
            "cannot tell the image type from the URL: end it in .png, .jpg, .gif or .webp, \
             or send a data URL",
        )
    })?;
    Ok(ContentBlock::Image {
        format,
        source: MediaSource::Url { url: image.url },
    })
}

fn guess_format(url: &str) -> Option<ImageFormat> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    match ext {
        "png" => Some(ImageFormat::Png),
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "gif" => Some(ImageFormat::Gif),
        "webp" => Some(ImageFormat::Webp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(v: &Value) -> Result<Parsed, ApiError> {
        parse(v.to_string().as_bytes(), 4096)
    }

    #[test]
    fn a_tool_conversation_maps_to_alternating_core_turns() {
        let p = parse_json(&serde_json::json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather",
                "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "max_completion_tokens": 50
        }))
        .unwrap();
        assert_eq!(p.chat.system.as_deref(), Some("be brief"));
        assert_eq!(p.chat.messages.len(), 3);
        assert_eq!(
            p.chat.messages[2].content.len(),
            2,
            "tool result + user text"
        );
        assert!(matches!(
            &p.chat.messages[1].content[0],
            ContentBlock::ToolUse { input, .. } if input["city"] == "Paris"
        ));
        assert_eq!(p.chat.tool_choice, Some(ToolChoice::Any));
        assert_eq!(p.chat.max_tokens, 50);
    }

    #[test]
    fn an_unknown_parameter_is_refused_by_name() {
        let err = parse_json(&serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {}
        }))
        .unwrap_err();
        let obj = err.object(crate::serve::error::Dialect::OpenAi);
        assert!(
            obj["message"].as_str().unwrap().contains("logit_bias"),
            "{obj}"
        );
    }

    #[test]
    fn a_bad_field_deep_in_the_body_is_named_by_its_path() {
        let err = parse_json(&serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "bot"}]
        }))
        .unwrap_err();
        let obj = err.object(crate::serve::error::Dialect::OpenAi);
        assert_eq!(obj["param"], "messages[1].role", "{obj}");
        assert!(obj["message"].as_str().unwrap().contains("`bot`"), "{obj}");

        let err = parse_json(&serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "hi"}, {"type": "file", "file": {}}]}]
        }))
        .unwrap_err();
        let obj = err.object(crate::serve::error::Dialect::OpenAi);
        assert_eq!(obj["param"], "messages[0].content[1].type", "{obj}");
        assert!(obj["message"].as_str().unwrap().contains("`file`"), "{obj}");
    }
}
