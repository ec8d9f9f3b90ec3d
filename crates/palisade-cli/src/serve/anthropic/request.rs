//! A Messages API body → a core [`ChatRequest`].
//!
//! Every field is carried or refused: an unknown one is a 400 naming it.
//!
//! | Messages API | `ChatRequest` |
//! |---|---|
//! | `system` (a string, or text blocks; `cache_control` on one) | `system` (+ `system_cache_point`) |
//! | `messages` blocks: `text`, `image`, `document`, `tool_use`, `tool_result`, `thinking`, `redacted_thinking` | `text`, `image`, `document`, `tool_use`, `tool_result`, `reasoning`, `redacted_reasoning` |
//! | `cache_control` on a block (`ttl` `5m` / `1h`) | a `cache_point` block after it |
//! | `tools` (`cache_control` on one) | `tools` (+ `tools_cache_point`) |
//! | `tool_choice` (`auto`, `any`, `tool`, `none`; `disable_parallel_tool_use`) | `tool_choice`, `parallel_tool_calls` |
//! | `max_tokens`, `temperature`, `top_p`, `stop_sequences` | the same |
//! | `top_k` | `passthrough.top_k` (sent to providers that take it) |
//! | `thinking` `enabled` (`budget_tokens`) / `disabled` | `thinking` |
//! | `service_tier` `auto` / `standard_only` | none / `default` |
//! | `metadata.user_id` | the tag `user:ID` |
//! | `model` | not routed on: the stack chooses the candidate |

use palisade_core::{
    CachePoint, CacheTtl, ChatRequest, ContentBlock, DocumentFormat, ImageFormat, MediaSource,
    Message, Role, ServiceTier, ThinkingConfig, Tool, ToolChoice,
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
    /// The `model` the client named (logged, not routed on).
    pub(super) model: String,
    /// Whether to answer with server-sent events.
    pub(super) stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    model: String,
    max_tokens: u32,
    messages: Vec<WireMessage>,
    #[serde(default)]
    system: Option<System>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    thinking: Option<Thinking>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Thinking {
    Enabled { budget_tokens: u32 },
    Disabled,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum System {
    Text(String),
    Blocks(Vec<SystemBlock>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum SystemBlock {
    Text {
        text: String,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMessage {
    role: Role,
    content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Block {
    Text {
        text: String,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    Image {
        source: Source,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    Document {
        source: Source,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Content>,
        #[serde(default)]
        is_error: Option<bool>,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Source {
    Base64 { media_type: String, data: String },
    Url { url: String },
    Text { media_type: String, data: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheControl {
    #[serde(rename = "type")]
    kind: Ephemeral,
    #[serde(default)]
    ttl: Option<CacheTtl>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Ephemeral {
    Ephemeral,
}

impl CacheControl {
    fn point(self) -> CachePoint {
        let Ephemeral::Ephemeral = self.kind;
        CachePoint {
            ttl: self.ttl.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    input_schema: Value,
    /// `custom` (a client tool) is the only kind served; server tools
    /// (web search, code execution) run at Anthropic, not behind a stack.
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    cache_control: Option<CacheControl>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireToolChoice {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(Some(param.to_owned()), message)
}

/// Reads a body; a refusal names the field at fault.
pub(super) fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let body: Body = crate::serve::app::from_json(body)?;
    if body.max_tokens == 0 {
        return Err(invalid("max_tokens", "max_tokens must be at least 1"));
    }
    let mut chat = ChatRequest::new(Vec::new());
    chat.max_tokens = body.max_tokens;
    chat.temperature = body.temperature;
    chat.top_p = body.top_p;
    if let Some(k) = body.top_k {
        chat.passthrough.insert("top_k".into(), Value::from(k));
    }
    chat.stop_sequences = body.stop_sequences.unwrap_or_default();
    match body.system {
        None => {}
        Some(System::Text(text)) => chat.system = Some(text),
        Some(System::Blocks(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for block in blocks {
                let SystemBlock::Text {
                    text,
                    cache_control,
                } = block;
                texts.push(text);
                if let Some(cc) = cache_control {
                    chat.system_cache_point = Some(cc.point());
                }
            }
            chat.system = Some(texts.join("\n\n"));
        }
    }
    for (i, tool) in body.tools.into_iter().flatten().enumerate() {
        if tool.kind.as_deref().is_some_and(|k| k != "custom") {
            return Err(invalid(
                &format!("tools[{i}].type"),
                "server tools are not served; only client tools (`custom`, or no type)",
            ));
        }
        if let Some(cc) = tool.cache_control {
            chat.tools_cache_point = Some(cc.point());
        }
        chat.tools.push(Tool {
            name: tool.name,
            description: tool.description,
            input_schema: tool.input_schema,
        });
    }
    let (choice, parallel) = match body.tool_choice {
        None => (None, None),
        Some(WireToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Auto), disable_parallel_tool_use),
        Some(WireToolChoice::Any {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Any), disable_parallel_tool_use),
        Some(WireToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Tool { name }), disable_parallel_tool_use),
        Some(WireToolChoice::None) => (Some(ToolChoice::None), None),
    };
    chat.tool_choice = choice;
    chat.parallel_tool_calls = parallel.map(|disable| !disable);
    chat.thinking = match body.thinking {
        None | Some(Thinking::Disabled) => None,
        Some(Thinking::Enabled { budget_tokens }) => Some(ThinkingConfig { budget_tokens }),
    };
    chat.service_tier = match body.service_tier.as_deref() {
        None | Some("auto") => None,
        Some("standard_only") => Some(ServiceTier::Default),
        Some(other) => {
            return Err(invalid(
                "service_tier",
                format!("unknown service_tier `{other}`: expected auto or standard_only"),
            ));
        }
    };
    if let Some(user) = body.metadata.and_then(|m| m.user_id) {
        chat.metadata.tags.push(format!("user:{user}"));
    }
    for (i, message) in body.messages.into_iter().enumerate() {
        let content = blocks(message.content, &format!("messages[{i}].content"))?;
        match chat.messages.last_mut() {
            Some(last) if last.role == message.role => last.content.extend(content),
            _ => chat.messages.push(Message::new(message.role, content)),
        }
    }
    Ok(Parsed {
        chat,
        model: body.model,
        stream: body.stream.unwrap_or(false),
    })
}

fn blocks(content: Content, param: &str) -> Result<Vec<ContentBlock>, ApiError> {
    let wire = match content {
        Content::Text(text) => return Ok(vec![ContentBlock::text(text)]),
        Content::Parts(wire) => wire,
    };
    let mut out = Vec::with_capacity(wire.len());
    for (j, block) in wire.into_iter().enumerate() {
        let at = format!("{param}[{j}]");
        let (core, cache) = match part::<Block>(block, &at)? {
            Block::Text {
                text,
                cache_control,
            } => (ContentBlock::text(text), cache_control),
            Block::Image {
                source,
                cache_control,
            } => {
                let (media_type, source) = media(source, &at)?;
                let format = match media_type.as_deref() {
                    None => guess_image(&source).ok_or_else(|| {
                        invalid(
                            &format!("{at}.source.url"),
                            "cannot tell the image type from the URL",
                        )
                    })?,
                    Some(t) => ImageFormat::from_media_type(t).ok_or_else(|| {
                        invalid(
                            &format!("{at}.source.media_type"),
                            format!("unsupported image type `{t}`: png, jpeg, gif or webp"),
                        )
                    })?,
                };
                (ContentBlock::Image { format, source }, cache_control)
            }
            Block::Document {
                source,
                title,
                cache_control,
            } => {
                let (media_type, source) = media(source, &at)?;
                let format = match media_type.as_deref() {
                    None | Some("application/pdf") => DocumentFormat::Pdf,
                    Some("text/plain") => DocumentFormat::Txt,
                    Some(t) => {
                        return Err(invalid(
                            &format!("{at}.source.media_type"),
                            format!(
                                "unsupported document type `{t}`: application/pdf or text/plain"
                            ),
                        ));
                    }
                };
                let name = title.unwrap_or_else(|| format!("document-{j}"));
                (
                    ContentBlock::Document {
                        name,
                        format,
                        source,
                    },
                    cache_control,
                )
            }
            Block::ToolUse {
                id,
                name,
                input,
                cache_control,
            } => (ContentBlock::ToolUse { id, name, input }, cache_control),
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            } => {
                let content = match content {
                    None => Vec::new(),
                    Some(c) => blocks(c, &format!("{at}.content"))?,
                };
                (
                    ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error: is_error.unwrap_or(false),
                    },
                    cache_control,
                )
            }
            Block::Thinking {
                thinking,
                signature,
            } => (
                ContentBlock::Reasoning {
                    text: thinking,
                    signature: Some(signature),
                },
                None,
            ),
            Block::RedactedThinking { data } => (ContentBlock::RedactedReasoning { data }, None),
        };
        out.push(core);
        if let Some(cc) = cache {
            out.push(ContentBlock::CachePoint {
                ttl: cc.point().ttl,
            });
        }
    }
    Ok(out)
}

/// A block's source: its media type (none for a URL) and where its bytes are.
fn media(source: Source, at: &str) -> Result<(Option<String>, MediaSource), ApiError> {
    Ok(match source {
        Source::Base64 { media_type, data } => (Some(media_type), MediaSource::Base64 { data }),
        Source::Url { url } => (None, MediaSource::Url { url }),
        Source::Text { media_type, data } => {
            if media_type != "text/plain" {
                return Err(invalid(
                    &format!("{at}.source.media_type"),
                    "a text source must be text/plain",
                ));
            }
            (Some(media_type), MediaSource::Text { text: data })
        }
    })
}

fn guess_image(source: &MediaSource) -> Option<ImageFormat> {
    let MediaSource::Url { url } = source else {
        return None;
    };
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit('.').next()? {
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
    use crate::serve::error::Dialect;

    #[test]
    fn tools_cache_points_and_tool_results_map_to_core() {
        let p = parse(
            serde_json::json!({
                "model": "claude", "max_tokens": 100,
                "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
                "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Oslo"}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "cold",
                         "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert!(p.chat.system_cache_point.is_some());
        assert_eq!(p.chat.tool_choice, Some(ToolChoice::Any));
        assert_eq!(p.chat.parallel_tool_calls, Some(false));
        let last = &p.chat.messages[2].content;
        assert!(matches!(last[0], ContentBlock::ToolResult { .. }));
        assert_eq!(
            last[1],
            ContentBlock::CachePoint {
                ttl: CacheTtl::OneHour
            }
        );
    }

    #[test]
    fn an_unknown_block_field_is_refused_with_its_path() {
        let err = parse(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","citations":[]}]}]}"#,
        )
        .unwrap_err();
        let message = err.object(Dialect::Anthropic)["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.starts_with("messages[0].content[0]: unknown field `citations`"),
            "{message}"
        );
    }
}
