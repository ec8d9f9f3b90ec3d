//! What a served model accepts beyond the Converse shape, checked as Bedrock
//! checks it before the model runs: tool input schemas that are JSON
//! schemas, images within the size limit, a service tier the model offers.
//! Each refusal is the 400 ValidationException Bedrock answers, with a
//! message in Bedrock's words that names the wire field.

use palisade_core::{
    ChatRequest, ContentBlock, MediaSource, ServiceTier, StructuredOutput, TierSet, Tool,
};

/// Bedrock's limit on one image in a Converse request (3.75 MB).
pub const BEDROCK_MAX_IMAGE_BYTES: u64 = 3_750_000;

/// What one model served by the fake accepts (see
/// [`FakeBedrockBuilder::model_limits`](super::FakeBedrockBuilder::model_limits)).
///
/// The default takes every service tier and images up to
/// [`BEDROCK_MAX_IMAGE_BYTES`]; tool schemas are always checked.
///
/// ```
/// use palisade_core::{ServiceTier, TierSet};
/// use palisade_testkit::bedrock::ModelLimits;
///
/// let limits = ModelLimits::default()
///     .service_tiers(TierSet::of(&[ServiceTier::Default, ServiceTier::Flex]))
///     .max_image_bytes(1_000_000);
/// assert!(!limits.offers(ServiceTier::Priority));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
    service_tiers: TierSet,
    max_image_bytes: u64,
}

impl Default for ModelLimits {
    fn default() -> Self {
        Self {
            service_tiers: TierSet::ALL,
            max_image_bytes: BEDROCK_MAX_IMAGE_BYTES,
        }
    }
}

impl ModelLimits {
    /// The service tiers the model offers; any other `serviceTier` is refused.
    #[must_use]
    pub fn service_tiers(mut self, tiers: TierSet) -> Self {
        self.service_tiers = tiers;
        self
    }

    /// The largest image (decoded bytes) the model takes.
    #[must_use]
    pub fn max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// Whether the model offers `tier`.
    pub fn offers(&self, tier: ServiceTier) -> bool {
        self.service_tiers.contains(tier)
    }

    /// The first thing in `req` the model refuses, as Bedrock's
    /// ValidationException message.
    pub(crate) fn refusal(&self, model_id: &str, req: &ChatRequest) -> Option<String> {
        req.tools
            .iter()
            .enumerate()
            .find_map(|(i, tool)| tool_schema_refusal(i, tool))
            .or_else(|| self.image_refusal(req))
            .or_else(|| {
                let tier = req.service_tier?;
                (!self.offers(tier)).then(|| {
                    format!(
                        "The provided service tier '{}' is not supported for model {model_id}.",
                        tier.as_str()
                    )
                })
            })
    }

    fn image_refusal(&self, req: &ChatRequest) -> Option<String> {
        for (i, message) in req.messages.iter().enumerate() {
            for (j, block) in message.content.iter().enumerate() {
                let path = format!("messages.{i}.content.{j}");
                if let Some(refusal) = self.block_image_refusal(block, &path) {
                    return Some(refusal);
                }
                if let ContentBlock::ToolResult { content, .. } = block {
                    for (k, part) in content.iter().enumerate() {
                        let path = format!("{path}.content.{k}");
                        if let Some(refusal) = self.block_image_refusal(part, &path) {
                            return Some(refusal);
                        }
                    }
                }
            }
        }
        None
    }

    fn block_image_refusal(&self, block: &ContentBlock, path: &str) -> Option<String> {
        let ContentBlock::Image {
            source: MediaSource::Base64 { data },
            ..
        } = block
        else {
            return None;
        };
        let bytes = decoded_len(data);
        (bytes > self.max_image_bytes).then(|| {
            format!(
                "The model returned the following errors: {path}.image.source.base64: image exceeds {} MB maximum: {bytes} bytes > {} bytes",
                self.max_image_bytes as f64 / 1_000_000.0,
                self.max_image_bytes
            )
        })
    }
}

/// Claude's answer to a tool whose input schema is not a JSON schema of an
/// object.
fn tool_schema_refusal(i: usize, tool: &Tool) -> Option<String> {
    let is_object = tool.input_schema.get("type").and_then(|t| t.as_str()) == Some("object");
    let compiles = StructuredOutput::new("tool", tool.input_schema.clone())
        .check_schema()
        .is_ok();
    if !is_object {
        Some(format!(
            "The model returned the following errors: tools.{i}.custom.input_schema.type: Input should be 'object'"
        ))
    } else if !compiles {
        Some(format!(
            "The model returned the following errors: tools.{i}.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12 (https://json-schema.org/draft/2020-12). Learn more about tool use at https://docs.claude.com/en/docs/tool-use."
        ))
    } else {
        None
    }
}

/// The decoded size of padded standard base64, without decoding it.
fn decoded_len(data: &str) -> u64 {
    let data = data.trim_end();
    let padding = data.bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (data.len() as u64 / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::ImageFormat;
    use serde_json::json;

    #[test]
    fn decoded_len_counts_padding() {
        assert_eq!(decoded_len("aGk="), 2);
        assert_eq!(decoded_len("aGk/"), 3);
        assert_eq!(decoded_len("aA=="), 1);
    }

    #[test]
    fn each_refusal_names_its_wire_field() {
        let limits = ModelLimits::default()
            .max_image_bytes(4)
            .service_tiers(TierSet::DEFAULT_ONLY);
        let bad_tool = ChatRequest::user("hi").with_tool(Tool::new(
            "t",
            "d",
            json!({"type": "object", "properties": {"x": {"type": "strin"}}}),
        ));
        let refusal = limits.refusal("m", &bad_tool).unwrap();
        assert!(refusal.contains("tools.0.custom.input_schema"), "{refusal}");
        let array_tool =
            ChatRequest::user("hi").with_tool(Tool::new("t", "d", json!({"type": "array"})));
        assert!(
            limits
                .refusal("m", &array_tool)
                .unwrap()
                .contains("Input should be 'object'")
        );

        let image = ChatRequest::new(vec![palisade_core::Message::new(
            palisade_core::Role::User,
            vec![
                ContentBlock::text("look"),
                ContentBlock::image(ImageFormat::Png, b"\x89PNG\r\n\x1a\n"),
            ],
        )]);
        let refusal = limits.refusal("m", &image).unwrap();
        assert!(refusal.contains("messages.0.content.1.image"), "{refusal}");

        let tier = ChatRequest::user("hi").with_service_tier(ServiceTier::Flex);
        let refusal = limits.refusal("m", &tier).unwrap();
        assert!(refusal.contains("service tier 'flex'"), "{refusal}");
        assert_eq!(
            limits.refusal(
                "m",
                &ChatRequest::user("hi").with_service_tier(ServiceTier::Default)
            ),
            None
        );
    }
}
