//! A Messages API request body, parsed strictly (unknown fields are
//! refused, as the API refuses them) and translated into a core
//! [`ChatRequest`] for the model's provider.

use palisade_core::{
    CachePoint, CacheTtl, ChatRequest, ContentBlock, DocumentFormat, ImageFormat, MediaSource,
    Message, Role, ServiceTier, StructuredOutput, ThinkingConfig, Tool, ToolChoice,
};
use serde::Deserialize;

/// The parsed body, with what the translation does not carry.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRequest {
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) chat: ChatRequest,
    /// Sampling parameters present (refused under `2026-10-21`).
    pub(crate) sampling: Vec<&'static str>,
    /// Whether an assistant turn holds a document (refused under `2026-10-21`).
    pub(crate) assistant_document: bool,
    /// Whether a user turn's text block carries citations (refused under
    /// `2026-10-21`).
    pub(crate) user_citations: bool,
    /// `(message index, signature, thinking text)` of every echoed thinking block.
    pub(crate) echoed_thinking: Vec<(usize, String, String)>,
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
    tools: Vec<WireTool>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    thinking: Option<WireThinking>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    output_config: Option<OutputConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum System {
    Text(String),
    Blocks(Vec<SystemBlock>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemBlock {
    #[serde(rename = "type")]
    kind: String,
    text: String,
    #[serde(default)]
    cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheControl {
    #[serde(rename = "type")]
    kind: CacheKind,
    #[serde(default)]
    ttl: Option<WireTtl>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CacheKind {
    Ephemeral,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum WireTtl {
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    OneHour,
}

impl CacheControl {
    fn ttl(self) -> CacheTtl {
        let CacheKind::Ephemeral = self.kind;
        match self.ttl {
            Some(WireTtl::OneHour) => CacheTtl::OneHour,
            _ => CacheTtl::FiveMinutes,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMessage {
    role: WireRole,
    content: Content,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireRole {
    User,
    Assistant,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<WireBlock>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireBlock {
    Text {
        text: String,
        #[serde(default)]
        cache_control: Option<CacheControl>,
        /// Citations the API attached to an earlier answer (echoed back).
        #[serde(default)]
        citations: Option<Vec<serde_json::Value>>,
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
        input: serde_json::Value,
        #[serde(default)]
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Content>,
        #[serde(default)]
        is_error: bool,
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
struct WireTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    input_schema: serde_json::Value,
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
    None {},
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireThinking {
    Enabled { budget_tokens: u32 },
    Disabled {},
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputConfig {
    format: OutputFormat,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum OutputFormat {
    JsonSchema { schema: serde_json::Value },
}

/// Parses a body; the error is the `invalid_request_error` message.
pub(crate) fn parse(body: &[u8]) -> Result<ParsedRequest, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut chat = ChatRequest::new(Vec::with_capacity(body.messages.len()));
    chat.max_tokens = body.max_tokens;
    match body.system {
        None => {}
        Some(System::Text(text)) => chat.system = Some(text),
        Some(System::Blocks(blocks)) => {
            let mut text = String::new();
            for (i, b) in blocks.iter().enumerate() {
                if b.kind != "text" {
                    return Err(format!("system.{i}.type: Input should be 'text'"));
                }
                text.push_str(&b.text);
                if let Some(cc) = b.cache_control {
                    chat.system_cache_point = Some(CachePoint { ttl: cc.ttl() });
                }
            }
            chat.system = Some(text);
        }
    }
    let tool_count = body.tools.len();
    for (i, t) in body.tools.into_iter().enumerate() {
        if let Some(cc) = t.cache_control {
            if i + 1 != tool_count {
                // The core request has one cache point after the tools; a
                // point on an earlier tool cannot be carried.
                return Err(format!(
                    "tools.{i}.cache_control: the fake server takes a cache point on the last tool only"
                ));
            }
            chat.tools_cache_point = Some(CachePoint { ttl: cc.ttl() });
        }
        chat.tools.push(Tool {
            name: t.name,
            description: t.description,
            input_schema: t.input_schema,
        });
    }
    if let Some(choice) = body.tool_choice {
        let (choice, disable) = match choice {
            WireToolChoice::Auto {
                disable_parallel_tool_use,
            } => (ToolChoice::Auto, disable_parallel_tool_use),
            WireToolChoice::Any {
                disable_parallel_tool_use,
            } => (ToolChoice::Any, disable_parallel_tool_use),
            WireToolChoice::None {} => (ToolChoice::None, None),
            WireToolChoice::Tool {
                name,
                disable_parallel_tool_use,
            } => (ToolChoice::Tool { name }, disable_parallel_tool_use),
        };
        chat.tool_choice = Some(choice);
        if disable == Some(true) {
            chat.parallel_tool_calls = Some(false);
        }
    }
    let mut sampling = Vec::new();
    if body.temperature.is_some() {
        sampling.push("temperature");
    }
    if body.top_p.is_some() {
        sampling.push("top_p");
    }
    if let Some(k) = body.top_k {
        sampling.push("top_k");
        chat.passthrough.insert("top_k".into(), k.into());
    }
    chat.temperature = body.temperature;
    chat.top_p = body.top_p;
    chat.stop_sequences = body.stop_sequences;
    if let Some(WireThinking::Enabled { budget_tokens }) = body.thinking {
        if budget_tokens < 1024 {
            return Err(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                    .into(),
            );
        }
        chat.thinking = Some(ThinkingConfig { budget_tokens });
    }
    if let Some(metadata) = body.metadata {
        chat.passthrough.insert("metadata".into(), metadata);
    }
    if let Some(tier) = body.service_tier {
        chat.service_tier = Some(match tier.as_str() {
            "auto" => ServiceTier::Priority,
            "standard_only" => ServiceTier::Default,
            other => {
                return Err(format!(
                    "service_tier: Input should be 'auto' or 'standard_only', got {other:?}"
                ));
            }
        });
    }
    if let Some(config) = body.output_config {
        let OutputFormat::JsonSchema { schema } = config.format;
        chat.structured_output = Some(StructuredOutput::new("output", schema));
    }
    let mut assistant_document = false;
    let mut user_citations = false;
    let mut echoed_thinking = Vec::new();
    for (i, m) in body.messages.into_iter().enumerate() {
        let role = match m.role {
            WireRole::User => Role::User,
            WireRole::Assistant => Role::Assistant,
        };
        let mut content = Vec::new();
        match m.content {
            Content::Text(text) => content.push(ContentBlock::text(text)),
            Content::Blocks(blocks) => {
                if blocks.is_empty() {
                    return Err(format!(
                        "messages.{i}.content: List should have at least 1 item"
                    ));
                }
                for (j, b) in blocks.into_iter().enumerate() {
                    if role == Role::Assistant && matches!(b, WireBlock::Document { .. }) {
                        assistant_document = true;
                    }
                    if role == Role::User
                        && matches!(&b, WireBlock::Text { citations: Some(c), .. } if !c.is_empty())
                    {
                        user_citations = true;
                    }
                    if let WireBlock::Thinking {
                        thinking,
                        signature,
                    } = &b
                    {
                        echoed_thinking.push((i, signature.clone(), thinking.clone()));
                    }
                    block(b, &format!("messages.{i}.content.{j}"), &mut content)?;
                }
            }
        }
        chat.messages.push(Message::new(role, content));
    }
    Ok(ParsedRequest {
        model: body.model,
        stream: body.stream.unwrap_or(false),
        chat,
        sampling,
        assistant_document,
        user_citations,
        echoed_thinking,
    })
}

fn block(b: WireBlock, field: &str, out: &mut Vec<ContentBlock>) -> Result<(), String> {
    let cache = match b {
        WireBlock::Text {
            text,
            cache_control,
            ..
        } => {
            if text.is_empty() {
                return Err(format!("{field}: text content blocks must be non-empty"));
            }
            out.push(ContentBlock::text(text));
            cache_control
        }
        WireBlock::Image {
            source,
            cache_control,
        } => {
            let (format, source) = match source {
                Source::Base64 { media_type, data } => {
                    let format = ImageFormat::from_media_type(&media_type).ok_or_else(|| {
                        format!("{field}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
                    })?;
                    (format, MediaSource::Base64 { data })
                }
                Source::Url { url } => (ImageFormat::Png, MediaSource::Url { url }),
                Source::Text { .. } => {
                    return Err(format!("{field}.source: images take base64 or url sources"));
                }
            };
            out.push(ContentBlock::Image { format, source });
            cache_control
        }
        WireBlock::Document {
            source,
            title,
            cache_control,
        } => {
            let (format, source) = match source {
                Source::Base64 { media_type, data } if media_type == "application/pdf" => {
                    (DocumentFormat::Pdf, MediaSource::Base64 { data })
                }
                Source::Base64 { media_type, .. } => {
                    return Err(format!(
                        "{field}.source.base64.media_type: Input should be 'application/pdf', got {media_type:?}"
                    ));
                }
                Source::Url { url } => (DocumentFormat::Pdf, MediaSource::Url { url }),
                Source::Text { media_type, data } if media_type == "text/plain" => {
                    (DocumentFormat::Txt, MediaSource::Text { text: data })
                }
                Source::Text { media_type, .. } => {
                    return Err(format!(
                        "{field}.source.text.media_type: Input should be 'text/plain', got {media_type:?}"
                    ));
                }
            };
            out.push(ContentBlock::Document {
                name: title.unwrap_or_else(|| "document".into()),
                format,
                source,
            });
            cache_control
        }
        WireBlock::ToolUse {
            id,
            name,
            input,
            cache_control,
        } => {
            out.push(ContentBlock::ToolUse { id, name, input });
            cache_control
        }
        WireBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control,
        } => {
            let mut inner = Vec::new();
            match content {
                None => {}
                Some(Content::Text(text)) => inner.push(ContentBlock::text(text)),
                Some(Content::Blocks(blocks)) => {
                    for (k, b) in blocks.into_iter().enumerate() {
                        if matches!(
                            b,
                            WireBlock::ToolUse { .. }
                                | WireBlock::ToolResult { .. }
                                | WireBlock::Thinking { .. }
                                | WireBlock::RedactedThinking { .. }
                        ) {
                            return Err(format!(
                                "{field}.content.{k}: tool results hold text, image and document blocks"
                            ));
                        }
                        block(b, &format!("{field}.content.{k}"), &mut inner)?;
                    }
                }
            }
            out.push(ContentBlock::ToolResult {
                tool_use_id,
                content: inner,
                is_error,
            });
            cache_control
        }
        WireBlock::Thinking {
            thinking,
            signature,
        } => {
            out.push(ContentBlock::Reasoning {
                text: thinking,
                signature: Some(signature),
            });
            None
        }
        WireBlock::RedactedThinking { data } => {
            out.push(ContentBlock::RedactedReasoning { data });
            None
        }
    };
    if let Some(cc) = cache {
        out.push(ContentBlock::CachePoint { ttl: cc.ttl() });
    }
    Ok(())
}
