//! A core [`ChatRequest`] as the parts of a Converse / ConverseStream /
//! CountTokens call, checked before it costs a round trip.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, CacheTtl as WireCacheTtl, ContentBlock as WireBlock,
    ConversationRole, DocumentBlock, DocumentFormat as WireDocumentFormat, DocumentSource,
    ImageBlock, ImageFormat as WireImageFormat, ImageSource, InferenceConfiguration,
    Message as WireMessage, ReasoningContentBlock, ReasoningTextBlock,
    ServiceTier as WireServiceTier, ServiceTierType, SystemContentBlock, ToolConfiguration,
    ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolUseBlock,
};
use aws_smithy_types::{Blob, Document, Number};
use palisade_core::{
    CacheTtl, ChatRequest, ContentBlock, DocumentFormat, ImageFormat, MediaSource, ProviderError,
    Role, ServiceTier,
};

use crate::catalog::ClaudeModel;

/// The smallest thinking budget Claude accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// A request Bedrock would refuse, found before sending it: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Bedrock request: {field}: {message}")]
pub struct RequestError {
    field: String,
    message: String,
}

impl RequestError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The offending field, e.g. `thinking.budget_tokens`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<RequestError> for ProviderError {
    fn from(err: RequestError) -> Self {
        ProviderError::invalid_request(err.to_string()).with_source(err)
    }
}

/// What a Converse call takes, built from a core request.
#[derive(Debug, Clone)]
pub(crate) struct ConverseParts {
    pub(crate) messages: Vec<WireMessage>,
    pub(crate) system: Option<Vec<SystemContentBlock>>,
    pub(crate) inference: InferenceConfiguration,
    pub(crate) additional_fields: Option<Document>,
    pub(crate) tool_config: Option<ToolConfiguration>,
    pub(crate) service_tier: Option<WireServiceTier>,
}

/// Images Claude takes in one request on Converse, and the size of each.
pub(crate) const MAX_IMAGES: u32 = 20;
/// Largest image, in bytes (3.75 MB).
pub(crate) const MAX_IMAGE_BYTES: u64 = 3_750_000;
/// Documents Claude takes in one request on Converse.
pub(crate) const MAX_DOCUMENTS: u32 = 5;
/// Largest document, in bytes (4.5 MB).
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 4_500_000;
/// Cache points Claude takes in one request (system, tools and messages).
pub(crate) const MAX_CACHE_POINTS: u32 = 4;

/// Counts of the media and cache points seen while converting, checked
/// against the limits above.
#[derive(Default)]
struct Tally {
    images: u32,
    documents: u32,
    cache_points: u32,
}

/// Checks `req` (the core rules, then Bedrock's extended-thinking rules for
/// `model`) and converts it.
pub(crate) fn converse_parts(
    req: &ChatRequest,
    model: Option<&ClaudeModel>,
) -> Result<ConverseParts, ProviderError> {
    palisade_core::validate(req)?;
    check_thinking(req, model)?;
    let mut tally = Tally::default();
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, message) in req.messages.iter().enumerate() {
        let role = match message.role {
            Role::User => ConversationRole::User,
            Role::Assistant => ConversationRole::Assistant,
        };
        let content = message
            .content
            .iter()
            .enumerate()
            .map(|(j, block)| wire_block(block, &format!("messages[{i}].content[{j}]"), &mut tally))
            .collect::<Result<Vec<_>, _>>()?;
        let message = WireMessage::builder()
            .role(role)
            .set_content(Some(content))
            .build()
            .map_err(|e| RequestError::new(format!("messages[{i}]"), e.to_string()))?;
        messages.push(message);
    }
    let inference = InferenceConfiguration::builder()
        .max_tokens(i32::try_from(req.max_tokens).unwrap_or(i32::MAX))
        .set_temperature(req.temperature)
        .set_top_p(req.top_p)
        .set_stop_sequences((!req.stop_sequences.is_empty()).then(|| req.stop_sequences.clone()))
        .build();
    let mut system = req
        .system
        .as_ref()
        .map(|s| vec![SystemContentBlock::Text(s.clone())]);
    if let Some(point) = req.system_cache_point {
        tally.cache_points += 1;
        system
            .get_or_insert_with(Vec::new)
            .push(SystemContentBlock::CachePoint(cache_point(
                point.ttl,
                "system_cache_point",
            )?));
    }
    let tool_config = crate::tools::tool_config(req, &mut tally.cache_points)?;
    if tally.cache_points > MAX_CACHE_POINTS {
        return Err(RequestError::new(
            "cache_point",
            format!(
                "{} cache points; Claude on Bedrock takes at most {MAX_CACHE_POINTS}",
                tally.cache_points
            ),
        )
        .into());
    }
    Ok(ConverseParts {
        messages,
        system,
        inference,
        additional_fields: additional_fields(req)?,
        tool_config,
        service_tier: service_tier(req, model)?,
    })
}

/// `additionalModelRequestFields`: the thinking fields merged with the
/// request's passthrough; a passthrough `thinking` next to a typed thinking
/// config is ambiguous and refused.
fn additional_fields(req: &ChatRequest) -> Result<Option<Document>, RequestError> {
    let mut fields = match req.thinking {
        Some(t) => match thinking_fields(t.budget_tokens) {
            Document::Object(map) => map,
            _ => HashMap::new(),
        },
        None => HashMap::new(),
    };
    for (key, value) in &req.passthrough {
        if fields.contains_key(key) {
            return Err(RequestError::new(
                format!("passthrough.{key}"),
                "conflicts with the request's typed `thinking` config",
            ));
        }
        fields.insert(key.clone(), crate::document::from_json(value));
    }
    Ok((!fields.is_empty()).then_some(Document::Object(fields)))
}

/// The request's service tier, refused when the catalog says the model does
/// not offer it (models outside the catalog are given the benefit of the doubt).
fn service_tier(
    req: &ChatRequest,
    model: Option<&ClaudeModel>,
) -> Result<Option<WireServiceTier>, RequestError> {
    let Some(tier) = req.service_tier else {
        return Ok(None);
    };
    if let Some(model) = model
        && !model.service_tiers.contains(tier)
    {
        return Err(RequestError::new(
            "service_tier",
            format!(
                "{} does not offer the `{}` tier on Bedrock",
                model.name,
                tier.as_str()
            ),
        ));
    }
    let wire = match tier {
        ServiceTier::Flex => ServiceTierType::Flex,
        ServiceTier::Priority => ServiceTierType::Priority,
        ServiceTier::Reserved => ServiceTierType::Reserved,
        _ => ServiceTierType::Default,
    };
    WireServiceTier::builder()
        .r#type(wire)
        .build()
        .map(Some)
        .map_err(|e| RequestError::new("service_tier", e.to_string()))
}

/// A Converse cache point with its lifetime.
pub(crate) fn cache_point(ttl: CacheTtl, field: &str) -> Result<CachePointBlock, RequestError> {
    let ttl = match ttl {
        CacheTtl::OneHour => WireCacheTtl::OneHour,
        _ => WireCacheTtl::FiveMinutes,
    };
    CachePointBlock::builder()
        .r#type(CachePointType::Default)
        .ttl(ttl)
        .build()
        .map_err(|e| RequestError::new(field, e.to_string()))
}

fn inline_bytes(source: &MediaSource, field: &str) -> Result<Vec<u8>, RequestError> {
    match source.bytes() {
        Some(Ok(bytes)) => Ok(bytes),
        Some(Err(e)) => Err(RequestError::new(
            format!("{field}.source"),
            format!("invalid base64: {e}"),
        )),
        None => Err(RequestError::new(
            format!("{field}.source"),
            "Converse takes inline bytes only, not a URL",
        )),
    }
}

fn image_block(
    format: ImageFormat,
    source: &MediaSource,
    field: &str,
    tally: &mut Tally,
) -> Result<ImageBlock, RequestError> {
    tally.images += 1;
    if tally.images > MAX_IMAGES {
        return Err(RequestError::new(
            field,
            format!("more than {MAX_IMAGES} images in one request"),
        ));
    }
    let bytes = inline_bytes(source, field)?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(RequestError::new(
            field,
            format!(
                "image of {} bytes exceeds Bedrock's {MAX_IMAGE_BYTES}-byte limit",
                bytes.len()
            ),
        ));
    }
    let format = match format {
        ImageFormat::Png => WireImageFormat::Png,
        ImageFormat::Jpeg => WireImageFormat::Jpeg,
        ImageFormat::Gif => WireImageFormat::Gif,
        _ => WireImageFormat::Webp,
    };
    ImageBlock::builder()
        .format(format)
        .source(ImageSource::Bytes(Blob::new(bytes)))
        .build()
        .map_err(|e| RequestError::new(field, e.to_string()))
}

fn document_block(
    name: &str,
    format: DocumentFormat,
    source: &MediaSource,
    field: &str,
    tally: &mut Tally,
) -> Result<DocumentBlock, RequestError> {
    tally.documents += 1;
    if tally.documents > MAX_DOCUMENTS {
        return Err(RequestError::new(
            field,
            format!("more than {MAX_DOCUMENTS} documents in one request"),
        ));
    }
    let wire_source = match source {
        MediaSource::Text { text } => DocumentSource::Text(text.clone()),
        other => DocumentSource::Bytes(Blob::new(inline_bytes(other, field)?)),
    };
    let size = source.approx_len().unwrap_or(0) as u64;
    if size > MAX_DOCUMENT_BYTES {
        return Err(RequestError::new(
            field,
            format!("document of {size} bytes exceeds Bedrock's {MAX_DOCUMENT_BYTES}-byte limit"),
        ));
    }
    DocumentBlock::builder()
        .format(WireDocumentFormat::from(format.name()))
        .name(name)
        .source(wire_source)
        .build()
        .map_err(|e| RequestError::new(field, e.to_string()))
}

fn wire_block(
    block: &ContentBlock,
    field: &str,
    tally: &mut Tally,
) -> Result<WireBlock, RequestError> {
    Ok(match block {
        ContentBlock::Text { text } => WireBlock::Text(text.clone()),
        // Converse has no JSON block outside tool results; Claude reads JSON
        // as text just as well.
        ContentBlock::Json { value } => WireBlock::Text(value.to_string()),
        ContentBlock::Reasoning { text, signature } => {
            let reasoning = ReasoningTextBlock::builder()
                .text(text)
                .set_signature(signature.clone())
                .build()
                .map_err(|e| RequestError::new(field, e.to_string()))?;
            WireBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(reasoning))
        }
        ContentBlock::RedactedReasoning { data } => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| {
                    RequestError::new(format!("{field}.data"), format!("invalid base64: {e}"))
                })?;
            WireBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(Blob::new(bytes)))
        }
        ContentBlock::ToolUse { id, name, input } => WireBlock::ToolUse(
            ToolUseBlock::builder()
                .tool_use_id(id)
                .name(name)
                .input(crate::document::from_json(input))
                .build()
                .map_err(|e| RequestError::new(field, e.to_string()))?,
        ),
        ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut parts = Vec::with_capacity(content.len());
            for (k, part) in content.iter().enumerate() {
                let part_field = format!("{field}.content[{k}]");
                parts.push(match part {
                    ContentBlock::Text { text } => ToolResultContentBlock::Text(text.clone()),
                    ContentBlock::Json { value } => {
                        ToolResultContentBlock::Json(crate::document::from_json(value))
                    }
                    ContentBlock::Image { format, source } => ToolResultContentBlock::Image(
                        image_block(*format, source, &part_field, tally)?,
                    ),
                    ContentBlock::Document {
                        name,
                        format,
                        source,
                    } => ToolResultContentBlock::Document(document_block(
                        name,
                        *format,
                        source,
                        &part_field,
                        tally,
                    )?),
                    other => {
                        return Err(RequestError::new(
                            part_field,
                            format!(
                                "a `{}` block cannot be part of a tool result",
                                other.type_name()
                            ),
                        ));
                    }
                });
            }
            WireBlock::ToolResult(
                ToolResultBlock::builder()
                    .tool_use_id(tool_use_id)
                    .set_content(Some(parts))
                    .set_status(is_error.then_some(ToolResultStatus::Error))
                    .build()
                    .map_err(|e| RequestError::new(field, e.to_string()))?,
            )
        }
        ContentBlock::Image { format, source } => {
            WireBlock::Image(image_block(*format, source, field, tally)?)
        }
        ContentBlock::Document {
            name,
            format,
            source,
        } => WireBlock::Document(document_block(name, *format, source, field, tally)?),
        ContentBlock::CachePoint { ttl } => {
            tally.cache_points += 1;
            WireBlock::CachePoint(cache_point(*ttl, field)?)
        }
        other => {
            return Err(RequestError::new(
                field,
                format!("a `{}` block has no Converse form", other.type_name()),
            ));
        }
    })
}

/// `{"thinking": {"type": "enabled", "budget_tokens": N}}`, the Anthropic
/// field Converse forwards through `additionalModelRequestFields`.
fn thinking_fields(budget_tokens: u32) -> Document {
    let thinking = HashMap::from([
        ("type".to_owned(), Document::String("enabled".to_owned())),
        (
            "budget_tokens".to_owned(),
            Document::Number(Number::PosInt(u64::from(budget_tokens))),
        ),
    ]);
    Document::Object(HashMap::from([(
        "thinking".to_owned(),
        Document::Object(thinking),
    )]))
}

/// Claude's extended-thinking constraints: a budget of at least
/// [`MIN_THINKING_BUDGET`] and below `max_tokens` (the core rule), no
/// temperature other than 1, `top_p` only within 0.95 ..= 1, and a model that
/// supports it (models outside the catalog are given the benefit of the doubt).
fn check_thinking(req: &ChatRequest, model: Option<&ClaudeModel>) -> Result<(), RequestError> {
    let Some(thinking) = req.thinking else {
        return Ok(());
    };
    if let Some(model) = model
        && !model.extended_thinking
    {
        return Err(RequestError::new(
            "thinking",
            format!("{} does not support extended thinking", model.name),
        ));
    }
    if thinking.budget_tokens < MIN_THINKING_BUDGET {
        return Err(RequestError::new(
            "thinking.budget_tokens",
            format!(
                "{} is below the minimum of {MIN_THINKING_BUDGET}",
                thinking.budget_tokens
            ),
        ));
    }
    if let Some(t) = req.temperature
        && t != 1.0
    {
        return Err(RequestError::new(
            "temperature",
            format!("{t} is not allowed with extended thinking (leave it unset or 1.0)"),
        ));
    }
    if let Some(p) = req.top_p
        && !(0.95..=1.0).contains(&p)
    {
        return Err(RequestError::new(
            "top_p",
            format!("{p} is not allowed with extended thinking (0.95 ..= 1.0 or unset)"),
        ));
    }
    if let Some(model) = model
        && req.max_tokens > model.max_output_tokens
    {
        return Err(RequestError::new(
            "max_tokens",
            format!(
                "{} exceeds {}'s output limit of {}",
                req.max_tokens, model.name, model.max_output_tokens
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use palisade_core::{ErrorKind, Message};

    fn sonnet() -> Option<&'static ClaudeModel> {
        catalog::lookup("anthropic.claude-sonnet-4-5-20250929-v1:0")
    }

    #[test]
    fn converts_every_part() {
        let mut req = ChatRequest::new(vec![
            Message::user("hi"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentBlock::Reasoning {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    },
                    ContentBlock::text("hello"),
                ],
            },
            Message::user("again"),
        ])
        .with_system("be brief")
        .with_max_tokens(4000)
        .with_thinking(2000);
        req.stop_sequences = vec!["END".into()];
        let parts = converse_parts(&req, sonnet()).unwrap();
        assert_eq!(parts.messages.len(), 3);
        assert!(parts.messages[1].content()[0].is_reasoning_content());
        assert_eq!(parts.inference.max_tokens(), Some(4000));
        assert_eq!(parts.inference.stop_sequences(), ["END"]);
        assert_eq!(
            parts.system.unwrap()[0].as_text().map(String::as_str),
            Ok("be brief")
        );
        let Some(Document::Object(fields)) = parts.additional_fields else {
            panic!("no thinking fields");
        };
        let Some(Document::Object(thinking)) = fields.get("thinking") else {
            panic!("no thinking object");
        };
        assert_eq!(
            thinking.get("type"),
            Some(&Document::String("enabled".into()))
        );
        assert_eq!(
            thinking.get("budget_tokens"),
            Some(&Document::Number(Number::PosInt(2000)))
        );
    }

    #[test]
    fn thinking_constraints_are_checked_before_sending() {
        let base = ChatRequest::user("hi").with_max_tokens(4000);
        let field_of = |req: ChatRequest| -> String {
            let err = converse_parts(&req, sonnet()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            err.message().to_owned()
        };
        assert!(field_of(base.clone().with_thinking(512)).contains("thinking.budget_tokens"));
        assert!(field_of(base.clone().with_thinking(4000)).contains("thinking.budget_tokens"));
        assert!(
            field_of(base.clone().with_thinking(2000).with_temperature(0.5))
                .contains("temperature")
        );
        let mut low_top_p = base.clone().with_thinking(2000);
        low_top_p.top_p = Some(0.5);
        assert!(field_of(low_top_p).contains("top_p"));
        let too_long = ChatRequest::user("hi")
            .with_max_tokens(70_000)
            .with_thinking(2000);
        assert!(field_of(too_long).contains("max_tokens"));
        // Allowed: temperature 1, top_p 0.95, an unknown model.
        let mut fine = base.with_thinking(2000).with_temperature(1.0);
        fine.top_p = Some(0.95);
        assert!(converse_parts(&fine, sonnet()).is_ok());
        assert!(converse_parts(&fine, None).is_ok());
    }
}
