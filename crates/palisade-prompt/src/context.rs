//! Context blocks: the data a prompt is about, each in its own tagged block.

use palisade_core::CachePoint;

use crate::toon_context::ContextEncoding;

/// How a context block's body is written, shown to the model as the block's
/// `format` attribute when it is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextFormat {
    /// Prose or a document; no attribute.
    Text,
    /// TOON-encoded data: `<name format="toon">`.
    Toon,
    /// Compact JSON data: `<name format="json">`.
    Json,
}

impl ContextFormat {
    /// The `format` attribute value, if the block is data.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            ContextFormat::Text => None,
            ContextFormat::Toon => Some("toon"),
            ContextFormat::Json => Some("json"),
        }
    }
}

/// One filled context slot, unescaped; escaping happens when it is placed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContextBlock {
    pub(crate) name: String,
    pub(crate) body: String,
    pub(crate) format: ContextFormat,
    /// How structured data was encoded, for the render report.
    pub(crate) encoding: Option<ContextEncoding>,
    /// A cache point the block itself carries (its slot may declare one too).
    pub(crate) cache_point: Option<CachePoint>,
}
