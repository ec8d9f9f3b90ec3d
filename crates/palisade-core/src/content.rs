//! What a message is made of: text, JSON, reasoning, tool use and results,
//! images, documents and prompt-cache points.
//!
//! The blocks are the union of what the Messages, Converse and Chat
//! Completions APIs accept. A provider that cannot carry a block refuses the
//! request with [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest)
//! naming the field; no layer or provider drops one silently.

use serde::{Deserialize, Serialize};

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// Structured data (a JSON value) placed in the conversation, e.g. a
    /// document's fields; adapters render it as the API expects.
    Json {
        /// The value.
        value: serde_json::Value,
    },
    /// A model's earlier reasoning, echoed back in multi-turn extended thinking
    /// (unchanged: the signature covers it).
    Reasoning {
        /// The reasoning text.
        text: String,
        /// The provider's signature over it, required when echoing it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the provider returned encrypted (redacted by its safety
    /// systems); echoed back as it came.
    RedactedReasoning {
        /// The opaque payload.
        data: String,
    },
    /// The model asks for a tool to be run (an assistant block).
    ToolUse {
        /// The id that the matching [`ContentBlock::ToolResult`] answers.
        id: String,
        /// The tool's name, one of the request's [`Tool`](crate::Tool)s.
        name: String,
        /// The tool's input, a JSON value matching the tool's input schema.
        input: serde_json::Value,
    },
    /// The result of running a tool (a user block answering a tool use of
    /// the previous assistant turn).
    ToolResult {
        /// The [`ContentBlock::ToolUse`] id it answers.
        tool_use_id: String,
        /// The result: text, JSON, image or document blocks.
        content: Vec<ContentBlock>,
        /// The tool failed; `content` says how.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// An image.
    Image {
        /// Its encoding.
        format: ImageFormat,
        /// Where its bytes are.
        source: MediaSource,
    },
    /// A document (PDF, text, CSV, …) the model reads.
    Document {
        /// A name for it (Converse requires one; it appears in citations).
        name: String,
        /// Its format.
        format: DocumentFormat,
        /// Where its bytes are.
        source: MediaSource,
    },
    /// A prompt-cache point: everything before it (tools, system, the
    /// conversation so far) may be cached and read back at a lower price.
    CachePoint {
        /// How long the cached prefix lives.
        #[serde(default)]
        ttl: CacheTtl,
    },
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }

    /// An image from its raw bytes (kept as base64).
    pub fn image(format: ImageFormat, bytes: &[u8]) -> Self {
        ContentBlock::Image {
            format,
            source: MediaSource::from_bytes(bytes),
        }
    }

    /// A document from its raw bytes (kept as base64).
    pub fn document(name: impl Into<String>, format: DocumentFormat, bytes: &[u8]) -> Self {
        ContentBlock::Document {
            name: name.into(),
            format,
            source: MediaSource::from_bytes(bytes),
        }
    }

    /// A tool result with one text block.
    pub fn tool_result(tool_use_id: impl Into<String>, text: impl Into<String>) -> Self {
        ContentBlock::ToolResult {
            tool_use_id: tool_use_id.into(),
            content: vec![ContentBlock::text(text)],
            is_error: false,
        }
    }

    /// A cache point with the default (5 minute) lifetime.
    pub fn cache_point() -> Self {
        ContentBlock::CachePoint {
            ttl: CacheTtl::default(),
        }
    }

    /// The block's text, if it is a text or reasoning block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text { text } | ContentBlock::Reasoning { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The block's answer text: text blocks only (reasoning is not part of
    /// the answer).
    pub fn as_answer_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text { text } => Some(text),
            _ => None,
        }
    }

    /// The name of the block's type as serialized (`text`, `tool_use`, …),
    /// for error messages and capability checks.
    pub fn type_name(&self) -> &'static str {
        match self {
            ContentBlock::Text { .. } => "text",
            ContentBlock::Json { .. } => "json",
            ContentBlock::Reasoning { .. } => "reasoning",
            ContentBlock::RedactedReasoning { .. } => "redacted_reasoning",
            ContentBlock::ToolUse { .. } => "tool_use",
            ContentBlock::ToolResult { .. } => "tool_result",
            ContentBlock::Image { .. } => "image",
            ContentBlock::Document { .. } => "document",
            ContentBlock::CachePoint { .. } => "cache_point",
        }
    }
}

/// Where an image's or document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaSource {
    /// The bytes themselves, base64-encoded (standard alphabet, padded).
    Base64 {
        /// The encoded bytes.
        data: String,
    },
    /// A URL the provider fetches itself (only some providers accept it).
    Url {
        /// The URL.
        url: String,
    },
    /// A document's text, for text-like formats.
    Text {
        /// The text.
        text: String,
    },
}

impl MediaSource {
    /// A base64 source holding these bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        use base64::Engine as _;
        MediaSource::Base64 {
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The raw bytes of an inline source: decoded base64, or a text source's
    /// UTF-8. `None` for a URL.
    ///
    /// # Errors
    /// Invalid base64 is an error naming the problem.
    pub fn bytes(&self) -> Option<Result<Vec<u8>, base64::DecodeError>> {
        use base64::Engine as _;
        match self {
            MediaSource::Base64 { data } => {
                Some(base64::engine::general_purpose::STANDARD.decode(data))
            }
            MediaSource::Text { text } => Some(Ok(text.as_bytes().to_vec())),
            MediaSource::Url { .. } => None,
        }
    }

    /// Size of the inline bytes without decoding them (base64 length × 3/4);
    /// `None` for a URL.
    pub fn approx_len(&self) -> Option<usize> {
        match self {
            MediaSource::Base64 { data } => {
                let pad = data.bytes().rev().take_while(|&b| b == b'=').count();
                Some((data.len() / 4 * 3).saturating_sub(pad))
            }
            MediaSource::Text { text } => Some(text.len()),
            MediaSource::Url { .. } => None,
        }
    }
}

/// An image's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageFormat {
    /// `image/png`
    Png,
    /// `image/jpeg`
    Jpeg,
    /// `image/gif`
    Gif,
    /// `image/webp`
    Webp,
}

impl ImageFormat {
    /// The MIME type.
    pub const fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// The format for a MIME type (`image/png`, …).
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "image/png" => Some(ImageFormat::Png),
            "image/jpeg" | "image/jpg" => Some(ImageFormat::Jpeg),
            "image/gif" => Some(ImageFormat::Gif),
            "image/webp" => Some(ImageFormat::Webp),
            _ => None,
        }
    }

    /// The lowercase name (`png`, …), as Converse writes it.
    pub const fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
        }
    }
}

/// A document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DocumentFormat {
    /// PDF.
    Pdf,
    /// Comma-separated values.
    Csv,
    /// Word 97–2003.
    Doc,
    /// Word.
    Docx,
    /// Excel 97–2003.
    Xls,
    /// Excel.
    Xlsx,
    /// HTML.
    Html,
    /// Plain text.
    Txt,
    /// Markdown.
    Md,
}

impl DocumentFormat {
    /// The lowercase name (`pdf`, …), as Converse writes it.
    pub const fn name(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "pdf",
            DocumentFormat::Csv => "csv",
            DocumentFormat::Doc => "doc",
            DocumentFormat::Docx => "docx",
            DocumentFormat::Xls => "xls",
            DocumentFormat::Xlsx => "xlsx",
            DocumentFormat::Html => "html",
            DocumentFormat::Txt => "txt",
            DocumentFormat::Md => "md",
        }
    }

    /// The format for a lowercase name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "pdf" => DocumentFormat::Pdf,
            "csv" => DocumentFormat::Csv,
            "doc" => DocumentFormat::Doc,
            "docx" => DocumentFormat::Docx,
            "xls" => DocumentFormat::Xls,
            "xlsx" => DocumentFormat::Xlsx,
            "html" => DocumentFormat::Html,
            "txt" => DocumentFormat::Txt,
            "md" => DocumentFormat::Md,
            _ => return None,
        })
    }

    /// The MIME type.
    pub const fn media_type(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::Csv => "text/csv",
            DocumentFormat::Doc => "application/msword",
            DocumentFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentFormat::Xls => "application/vnd.ms-excel",
            DocumentFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            DocumentFormat::Html => "text/html",
            DocumentFormat::Txt => "text/plain",
            DocumentFormat::Md => "text/markdown",
        }
    }

    /// Whether the format is text (its bytes are UTF-8 the model reads as is).
    pub const fn is_text(self) -> bool {
        matches!(
            self,
            DocumentFormat::Csv | DocumentFormat::Html | DocumentFormat::Txt | DocumentFormat::Md
        )
    }
}

/// How long a cached prompt prefix lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CacheTtl {
    /// Five minutes, refreshed on every read (the default).
    #[default]
    #[serde(rename = "5m")]
    FiveMinutes,
    /// One hour (written at a higher price).
    #[serde(rename = "1h")]
    OneHour,
}

impl CacheTtl {
    /// The lifetime.
    pub const fn duration(self) -> std::time::Duration {
        match self {
            CacheTtl::FiveMinutes => std::time::Duration::from_secs(300),
            CacheTtl::OneHour => std::time::Duration::from_secs(3600),
        }
    }

    /// The wire name (`5m`, `1h`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheTtl::FiveMinutes => "5m",
            CacheTtl::OneHour => "1h",
        }
    }
}

/// A cache point placed after the system prompt or the tool definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CachePoint {
    /// How long the cached prefix lives.
    #[serde(default)]
    pub ttl: CacheTtl,
}
