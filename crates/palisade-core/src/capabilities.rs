//! What a provider accepts, so routing can skip a candidate that cannot serve
//! a request and a provider can refuse, naming the field, instead of dropping
//! what it cannot carry.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::content::ContentBlock;
use crate::error::{ErrorKind, ProviderError};
use crate::provider::ProviderId;
use crate::request::ChatRequest;
use crate::tier::TierSet;

/// How a provider serves [`StructuredOutput`](crate::StructuredOutput).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutputSupport {
    /// Not at all.
    None,
    /// The API takes a JSON schema for the reply.
    Native,
    /// Emulated with one forced tool whose input schema is the schema.
    ForcedTool,
}

/// What a provider accepts. Layers forward their inner provider's.
///
/// A provider that states nothing is assumed to accept everything
/// ([`Capabilities::all`]) and to refuse itself what it cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Tool definitions, tool use and tool result blocks.
    pub tools: bool,
    /// Image blocks.
    pub images: bool,
    /// Image blocks given by URL (not only inline bytes).
    pub image_urls: bool,
    /// Document blocks.
    pub documents: bool,
    /// Prompt-cache points.
    pub caching: bool,
    /// Structured output.
    pub structured_output: StructuredOutputSupport,
    /// Extended thinking.
    pub thinking: bool,
    /// The service tiers a request may ask for.
    pub service_tiers: TierSet,
    /// Provider passthrough fields.
    pub passthrough: bool,
    /// Most images in one request.
    pub max_images: Option<u32>,
    /// Largest image, in bytes.
    pub max_image_bytes: Option<u64>,
    /// Most documents in one request.
    pub max_documents: Option<u32>,
    /// Largest document, in bytes.
    pub max_document_bytes: Option<u64>,
    /// Most cache points in one request.
    pub max_cache_points: Option<u32>,
}

/// A feature of a request that a provider may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Feature {
    /// Tools.
    Tools,
    /// Images.
    Images,
    /// Images by URL.
    ImageUrls,
    /// Documents.
    Documents,
    /// Cache points.
    Caching,
    /// Structured output.
    StructuredOutput,
    /// Extended thinking.
    Thinking,
    /// A service tier.
    ServiceTier,
    /// Passthrough fields.
    Passthrough,
    /// More images than allowed.
    ImageCount,
    /// An image larger than allowed.
    ImageSize,
    /// More documents than allowed.
    DocumentCount,
    /// A document larger than allowed.
    DocumentSize,
    /// More cache points than allowed.
    CachePointCount,
}

impl Feature {
    /// The snake_case name, as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Feature::Tools => "tools",
            Feature::Images => "images",
            Feature::ImageUrls => "image_urls",
            Feature::Documents => "documents",
            Feature::Caching => "caching",
            Feature::StructuredOutput => "structured_output",
            Feature::Thinking => "thinking",
            Feature::ServiceTier => "service_tier",
            Feature::Passthrough => "passthrough",
            Feature::ImageCount => "image_count",
            Feature::ImageSize => "image_size",
            Feature::DocumentCount => "document_count",
            Feature::DocumentSize => "document_size",
            Feature::CachePointCount => "cache_point_count",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request needs something a provider lacks: what, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct Unsupported {
    /// The missing feature.
    pub feature: Feature,
    /// The request field that needs it, e.g. `messages[0].content[1]`.
    pub field: String,
    /// What exactly is not supported.
    pub detail: String,
}

impl Unsupported {
    fn new(feature: Feature, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            feature,
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// The refusal a provider returns: [`ErrorKind::InvalidRequest`] naming
    /// the field, from `provider`.
    pub fn into_error(self, provider: &ProviderId) -> ProviderError {
        ProviderError::new(
            ErrorKind::InvalidRequest,
            format!("{provider} does not support {}: {self}", self.feature),
        )
        .with_provider(provider.clone())
    }
}

impl Capabilities {
    /// Accepts everything, with no limits: what a provider that states
    /// nothing is assumed to accept.
    pub const fn all() -> Self {
        Self {
            tools: true,
            images: true,
            image_urls: true,
            documents: true,
            caching: true,
            structured_output: StructuredOutputSupport::Native,
            thinking: true,
            service_tiers: TierSet::ALL,
            passthrough: true,
            max_images: None,
            max_image_bytes: None,
            max_documents: None,
            max_document_bytes: None,
            max_cache_points: None,
        }
    }

    /// Text (and JSON) only: no tools, images, documents, caching, structured
    /// output, thinking, tiers besides the default, or passthrough.
    pub const fn text_only() -> Self {
        Self {
            tools: false,
            images: false,
            image_urls: false,
            documents: false,
            caching: false,
            structured_output: StructuredOutputSupport::None,
            thinking: false,
            service_tiers: TierSet::DEFAULT_ONLY,
            passthrough: false,
            max_images: None,
            max_image_bytes: None,
            max_documents: None,
            max_document_bytes: None,
            max_cache_points: None,
        }
    }

    /// The first thing `req` needs that these capabilities lack, or `None`
    /// when the provider can serve it.
    pub fn check(&self, req: &ChatRequest) -> Result<(), Unsupported> {
        if !self.tools && !req.tools.is_empty() {
            return Err(Unsupported::new(
                Feature::Tools,
                "tools",
                "tool definitions are not supported",
            ));
        }
        if !self.tools && req.tool_choice.is_some() {
            return Err(Unsupported::new(
                Feature::Tools,
                "tool_choice",
                "tool choice is not supported",
            ));
        }
        if let Some(tier) = req.service_tier
            && !self.service_tiers.contains(tier)
        {
            return Err(Unsupported::new(
                Feature::ServiceTier,
                "service_tier",
                format!(
                    "service tier `{tier}` is not offered (offered: {:?})",
                    self.service_tiers
                ),
            ));
        }
        if req.structured_output.is_some()
            && self.structured_output == StructuredOutputSupport::None
        {
            return Err(Unsupported::new(
                Feature::StructuredOutput,
                "structured_output",
                "structured output is not supported",
            ));
        }
        if req.thinking.is_some() && !self.thinking {
            return Err(Unsupported::new(
                Feature::Thinking,
                "thinking",
                "extended thinking is not supported",
            ));
        }
        if !req.passthrough.is_empty() && !self.passthrough {
            return Err(Unsupported::new(
                Feature::Passthrough,
                "passthrough",
                "provider passthrough fields are not supported",
            ));
        }
        let mut cache_points = u32::from(req.system_cache_point.is_some())
            + u32::from(req.tools_cache_point.is_some());
        if cache_points > 0 && !self.caching {
            let field = if req.system_cache_point.is_some() {
                "system_cache_point"
            } else {
                "tools_cache_point"
            };
            return Err(Unsupported::new(
                Feature::Caching,
                field,
                "prompt caching is not supported",
            ));
        }
        let mut images = 0u32;
        let mut documents = 0u32;
        for (i, message) in req.messages.iter().enumerate() {
            for (j, block) in message.content.iter().enumerate() {
                let field = format!("messages[{i}].content[{j}]");
                self.check_block(
                    block,
                    &field,
                    &mut images,
                    &mut documents,
                    &mut cache_points,
                )?;
                if let ContentBlock::ToolResult { content, .. } = block {
                    for (k, inner) in content.iter().enumerate() {
                        self.check_block(
                            inner,
                            &format!("{field}.content[{k}]"),
                            &mut images,
                            &mut documents,
                            &mut cache_points,
                        )?;
                    }
                }
            }
        }
        if let Some(max) = self.max_cache_points
            && cache_points > max
        {
            return Err(Unsupported::new(
                Feature::CachePointCount,
                "messages",
                format!("{cache_points} cache points; at most {max} are allowed"),
            ));
        }
        Ok(())
    }

    fn check_block(
        &self,
        block: &ContentBlock,
        field: &str,
        images: &mut u32,
        documents: &mut u32,
        cache_points: &mut u32,
    ) -> Result<(), Unsupported> {
        match block {
            ContentBlock::ToolUse { .. } | ContentBlock::ToolResult { .. } if !self.tools => {
                Err(Unsupported::new(
                    Feature::Tools,
                    field,
                    format!("{} blocks are not supported", block.type_name()),
                ))
            }
            ContentBlock::Image { source, .. } => {
                if !self.images {
                    return Err(Unsupported::new(
                        Feature::Images,
                        field,
                        "image blocks are not supported",
                    ));
                }
                if matches!(source, crate::MediaSource::Url { .. }) && !self.image_urls {
                    return Err(Unsupported::new(
                        Feature::ImageUrls,
                        field,
                        "images by URL are not supported; send the bytes",
                    ));
                }
                *images += 1;
                if let Some(max) = self.max_images
                    && *images > max
                {
                    return Err(Unsupported::new(
                        Feature::ImageCount,
                        field,
                        format!("more than {max} images in one request"),
                    ));
                }
                check_size(source, self.max_image_bytes, Feature::ImageSize, field)
            }
            ContentBlock::Document { source, .. } => {
                if !self.documents {
                    return Err(Unsupported::new(
                        Feature::Documents,
                        field,
                        "document blocks are not supported",
                    ));
                }
                *documents += 1;
                if let Some(max) = self.max_documents
                    && *documents > max
                {
                    return Err(Unsupported::new(
                        Feature::DocumentCount,
                        field,
                        format!("more than {max} documents in one request"),
                    ));
                }
                check_size(
                    source,
                    self.max_document_bytes,
                    Feature::DocumentSize,
                    field,
                )
            }
            ContentBlock::CachePoint { .. } => {
                if !self.caching {
                    return Err(Unsupported::new(
                        Feature::Caching,
                        field,
                        "prompt caching is not supported",
                    ));
                }
                *cache_points += 1;
                Ok(())
            }
            ContentBlock::Reasoning { .. } | ContentBlock::RedactedReasoning { .. }
                if !self.thinking =>
            {
                Err(Unsupported::new(
                    Feature::Thinking,
                    field,
                    "reasoning blocks are not supported",
                ))
            }
            _ => Ok(()),
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::all()
    }
}

fn check_size(
    source: &crate::MediaSource,
    max: Option<u64>,
    feature: Feature,
    field: &str,
) -> Result<(), Unsupported> {
    match (max, source.approx_len()) {
        (Some(max), Some(len)) if len as u64 > max => Err(Unsupported::new(
            feature,
            field,
            format!("{len} bytes; at most {max} are allowed"),
        )),
        _ => Ok(()),
    }
}
