//! One Converse content block as its core block: text, reasoning, cache
//! points, images, documents, tool uses and tool results (whose content
//! holds blocks again, hence one module for the recursion).

use palisade_core::{CachePoint, CacheTtl, ContentBlock, DocumentFormat, ImageFormat, MediaSource};
use serde_json::{Map, Value};

use super::error::WireRequestError;

/// A wire `cachePoint` object's lifetime (`ttl`, default five minutes).
pub(crate) fn cache_point(point: &Value) -> CachePoint {
    let ttl = match point.get("ttl").and_then(Value::as_str) {
        Some("1h") => CacheTtl::OneHour,
        _ => CacheTtl::FiveMinutes,
    };
    CachePoint { ttl }
}

/// One wire content block as its core block (text, reasoning, cache point,
/// tool use and result, image, document); anything else (guard content,
/// citations) is kept whole as a [`ContentBlock::Json`] so a provider behind
/// the fake still sees it.
pub(crate) fn content_block(
    block: &Value,
    path: &str,
) -> Result<Option<ContentBlock>, WireRequestError> {
    let Some(object) = block.as_object() else {
        return Err(WireRequestError::new(
            path,
            "a content block must be an object",
        ));
    };
    if let Some(text) = object.get("text") {
        let text = text
            .as_str()
            .ok_or_else(|| WireRequestError::new(format!("{path}.text"), "must be a string"))?;
        return Ok(Some(ContentBlock::text(text)));
    }
    if let Some(point) = object.get("cachePoint") {
        return Ok(Some(ContentBlock::CachePoint {
            ttl: cache_point(point).ttl,
        }));
    }
    if let Some(block) = media_or_tool_block(object, path)? {
        return Ok(Some(block));
    }
    if let Some(reasoning) = object.get("reasoningContent") {
        let text_block = reasoning.get("reasoningText").ok_or_else(|| {
            WireRequestError::new(
                format!("{path}.reasoningContent"),
                "only `reasoningText` reasoning blocks are supported",
            )
        })?;
        let text = text_block
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                WireRequestError::new(
                    format!("{path}.reasoningContent.reasoningText.text"),
                    "must be a string",
                )
            })?;
        let signature = text_block
            .get("signature")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok(Some(ContentBlock::Reasoning {
            text: text.to_owned(),
            signature,
        }));
    }
    Ok(Some(ContentBlock::Json {
        value: block.clone(),
    }))
}

/// The string at `key` of a wire object, required.
pub(super) fn string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, WireRequestError> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| WireRequestError::new(format!("{path}.{key}"), "required, a string"))
}

/// `image`, `document`, `toolUse` and `toolResult` blocks; `None` for other
/// shapes.
pub(crate) fn media_or_tool_block(
    object: &Map<String, Value>,
    path: &str,
) -> Result<Option<ContentBlock>, WireRequestError> {
    if let Some(Value::Object(image)) = object.get("image") {
        let path = format!("{path}.image");
        let format = string(image, "format", &path)?;
        let format = ImageFormat::from_media_type(&format!("image/{format}")).ok_or_else(|| {
            WireRequestError::new(
                format!("{path}.format"),
                format!("unknown image format `{format}`"),
            )
        })?;
        let data = image
            .get("source")
            .and_then(|s| s.get("bytes"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                WireRequestError::new(format!("{path}.source.bytes"), "required, base64")
            })?;
        return Ok(Some(ContentBlock::Image {
            format,
            source: MediaSource::Base64 {
                data: data.to_owned(),
            },
        }));
    }
    if let Some(Value::Object(document)) = object.get("document") {
        let path = format!("{path}.document");
        let name = string(document, "name", &path)?;
        let format_name = string(document, "format", &path)?;
        let format = DocumentFormat::from_name(format_name).ok_or_else(|| {
            WireRequestError::new(
                format!("{path}.format"),
                format!("unknown document format `{format_name}`"),
            )
        })?;
        let source = document.get("source");
        let source = if let Some(data) = source.and_then(|s| s.get("bytes")).and_then(Value::as_str)
        {
            MediaSource::Base64 {
                data: data.to_owned(),
            }
        } else if let Some(text) = source.and_then(|s| s.get("text")).and_then(Value::as_str) {
            MediaSource::Text {
                text: text.to_owned(),
            }
        } else {
            return Err(WireRequestError::new(
                format!("{path}.source"),
                "expected `bytes` or `text`",
            ));
        };
        return Ok(Some(ContentBlock::Document {
            name: name.to_owned(),
            format,
            source,
        }));
    }
    if let Some(Value::Object(tool)) = object.get("toolUse") {
        let path = format!("{path}.toolUse");
        return Ok(Some(ContentBlock::ToolUse {
            id: string(tool, "toolUseId", &path)?.to_owned(),
            name: string(tool, "name", &path)?.to_owned(),
            input: tool.get("input").cloned().unwrap_or(Value::Null),
        }));
    }
    if let Some(Value::Object(result)) = object.get("toolResult") {
        let path = format!("{path}.toolResult");
        let tool_use_id = string(result, "toolUseId", &path)?.to_owned();
        let mut content = Vec::new();
        if let Some(Value::Array(parts)) = result.get("content") {
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.content[{k}]");
                if let Some(json) = part.get("json") {
                    content.push(ContentBlock::Json {
                        value: json.clone(),
                    });
                } else if let Some(block) = content_block(part, &part_path)? {
                    content.push(block);
                }
            }
        }
        let is_error = match result.get("status").and_then(Value::as_str) {
            None | Some("success") => false,
            Some("error") => true,
            Some(other) => {
                return Err(WireRequestError::new(
                    format!("{path}.status"),
                    format!("expected `success` or `error`, got `{other}`"),
                ));
            }
        };
        return Ok(Some(ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        }));
    }
    Ok(None)
}
