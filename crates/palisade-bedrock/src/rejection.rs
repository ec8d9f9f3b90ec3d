//! Which request field a ValidationException rejected, for the failures a
//! caller can fix in one place: a tool input schema the model refuses, an
//! image over the size limit, a service tier the model does not offer.
//!
//! Bedrock names the field in its own words (`tools.0.custom.input_schema`,
//! `messages.0.content.1.image.source.base64`); the error a caller gets names
//! it as the [`ChatRequest`](palisade_core::ChatRequest) does
//! (`tools[0].input_schema`, `messages[0].content[1]`, `service_tier`), the
//! paths [`palisade_core::validate`] uses. Converse keeps one wire message per
//! request message and one wire block per content block, so the indices carry
//! over; a tool index past the request's own tools is the forced tool that
//! emulates structured output.

/// The request field `message` (a ValidationException's) says was rejected,
/// or `None` for any other validation failure.
pub(crate) fn rejected_field(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    if let Some(i) = index_after(&lower, "tools.").or_else(|| index_after(&lower, "tools["))
        && (lower.contains("input_schema") || lower.contains("inputschema"))
    {
        return Some(format!("tools[{i}].input_schema"));
    }
    if lower.contains("image")
        && ["exceeds", "too large", "max size", "maximum size"]
            .iter()
            .any(|m| lower.contains(m))
        && let Some(path) = message_block(&lower)
    {
        return Some(path);
    }
    let tier = lower.contains("service tier") || lower.contains("servicetier");
    let refused = [
        "not supported",
        "isn't supported",
        "isn\u{2019}t supported",
        "unsupported",
        "not available",
    ]
    .iter()
    .any(|m| lower.contains(m));
    (tier && refused).then(|| "service_tier".to_owned())
}

/// The number right after the first `prefix` in `text`.
fn index_after(text: &str, prefix: &str) -> Option<usize> {
    let start = text.find(prefix)? + prefix.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `messages[i].content[j]` (and `.content[k]` inside a tool result) from
/// Bedrock's `messages.i.content.j[.content.k]`.
fn message_block(text: &str) -> Option<String> {
    let start = text.find("messages.")?;
    let parts: Vec<&str> = text[start..].split(['.', ':', ' ']).collect();
    let number = |k: usize| parts.get(k).and_then(|p| p.parse::<usize>().ok());
    let (i, j) = (number(1)?, number(3)?);
    if parts.get(2) != Some(&"content") {
        return None;
    }
    let mut path = format!("messages[{i}].content[{j}]");
    if parts.get(4) == Some(&"content")
        && let Some(k) = number(5)
    {
        path.push_str(&format!(".content[{k}]"));
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_tool_schema_names_the_tool() {
        let messages = [
            "The model returned the following errors: tools.2.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12 (https://json-schema.org/draft/2020-12).",
            "The model returned the following errors: tools.2.custom.input_schema.type: Input should be 'object'",
            "The value at toolConfig.tools.2.member.toolSpec.inputSchema.json failed to satisfy constraint",
        ];
        for m in messages {
            assert_eq!(
                rejected_field(m).as_deref(),
                Some("tools[2].input_schema"),
                "{m}"
            );
        }
    }

    #[test]
    fn an_image_too_large_names_the_block() {
        assert_eq!(
            rejected_field(
                "The model returned the following errors: messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: 5316048 bytes > 5242880 bytes"
            )
            .as_deref(),
            Some("messages[0].content[1]")
        );
        assert_eq!(
            rejected_field(
                "messages.2.content.0.content.1.image.source.base64: image exceeds 3.75 MB maximum"
            )
            .as_deref(),
            Some("messages[2].content[0].content[1]")
        );
    }

    #[test]
    fn an_unsupported_tier_names_service_tier() {
        for m in [
            "The provided service tier 'flex' is not supported for model anthropic.claude-sonnet-4-5.",
            "serviceTier priority isn't supported for this model",
        ] {
            assert_eq!(rejected_field(m).as_deref(), Some("service_tier"), "{m}");
        }
    }

    #[test]
    fn other_validation_failures_name_nothing() {
        for m in [
            "Malformed input request",
            "Input is too long for requested model.",
            "temperature: must be <= 1",
            "Invocation of model ID x with on-demand throughput isn't supported.",
        ] {
            assert_eq!(rejected_field(m), None, "{m}");
        }
    }
}
