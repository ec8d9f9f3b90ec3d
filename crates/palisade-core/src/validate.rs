//! Request validation: the rules every chat API enforces, checked locally so a
//! bad request fails fast with a precise message instead of costing a round
//! trip (and a retry, and a fallback) to learn the same thing.

use std::fmt;

use std::collections::HashSet;

use crate::capabilities::{Capabilities, Feature};
use crate::content::MediaSource;
use crate::request::{ChatRequest, ContentBlock, Role};
use crate::tools::ToolChoice;

/// Which rule a request broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// The request has no messages.
    EmptyMessages,
    /// A message has no content blocks, or only empty text.
    EmptyContent,
    /// The first message is not from the user.
    FirstMessageNotUser,
    /// Two consecutive messages have the same role.
    RolesNotAlternating,
    /// Text contains a NUL byte, which the APIs reject.
    NulByte,
    /// Temperature outside 0.0 ..= 1.0 (or not a number).
    TemperatureOutOfRange,
    /// top_p outside 0.0 ..= 1.0 (or not a number).
    TopPOutOfRange,
    /// `max_tokens` is zero.
    MaxTokensZero,
    /// The thinking budget is not smaller than `max_tokens`.
    ThinkingBudgetTooLarge,
    /// A tool name does not match `^[a-zA-Z0-9_-]{1,64}$`.
    InvalidToolName,
    /// Two tools share a name.
    DuplicateToolName,
    /// A tool's input schema is not a JSON object.
    ToolSchemaNotObject,
    /// `tool_choice` names a tool the request does not define.
    UnknownToolChoice,
    /// `tool_choice` is `any` or `tool` but the request defines no tools.
    ToolChoiceWithoutTools,
    /// A tool-use block outside an assistant turn.
    ToolUseOutsideAssistant,
    /// A tool-result block outside a user turn.
    ToolResultOutsideUser,
    /// A tool result answers no tool use of the previous assistant turn.
    OrphanToolResult,
    /// Extended thinking is on and `tool_choice` forces a tool (`any` or
    /// `tool`); with thinking only `auto` and `none` are allowed.
    ThinkingWithForcedTool,
    /// An inline image or document is not valid base64.
    InvalidBase64,
    /// A document has an empty (or blank) name.
    EmptyDocumentName,
    /// The structured-output name does not match `^[a-zA-Z0-9_-]{1,64}$`.
    InvalidStructuredOutputName,
    /// The structured-output schema does not compile.
    InvalidStructuredOutputSchema,
    /// The target provider cannot serve something the request needs
    /// ([`validate_for`]).
    Unsupported(Feature),
}

/// A request that breaks an API rule: which rule, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {field}: {message}")]
pub struct ValidationError {
    kind: ValidationErrorKind,
    field: String,
    message: String,
}

impl ValidationError {
    fn new(
        kind: ValidationErrorKind,
        field: impl Into<String>,
        message: impl fmt::Display,
    ) -> Self {
        Self {
            kind,
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// Which rule was broken.
    pub fn kind(&self) -> ValidationErrorKind {
        self.kind
    }

    /// The path of the offending field, e.g. `messages[2].content[0].text`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong, for humans.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Checks a request against the rules of the Anthropic Messages and Bedrock
/// Converse APIs (the strictest common set), returning the first broken one.
///
/// Rules: at least one message; every message has non-empty content; the
/// conversation starts with a user turn and roles alternate; no NUL bytes in
/// any text; `temperature` and `top_p` within 0.0 ..= 1.0; `max_tokens` > 0;
/// a thinking budget smaller than `max_tokens`; tool names match
/// `^[a-zA-Z0-9_-]{1,64}$` and are unique; tool input schemas are JSON
/// objects; a `tool` choice names a defined tool and `any`/`tool` need tools;
/// with thinking on, `tool_choice` is `auto` or `none`; tool-use blocks only in
/// assistant turns, tool results only in user turns, each answering a tool use
/// of the previous assistant turn by id; inline base64 media decodes;
/// documents have a name; the structured-output name matches the tool-name
/// pattern and its schema compiles. Content holding only cache points (or
/// blank text) is empty.
///
/// ```
/// use palisade_core::{validate, ChatRequest, ValidationErrorKind};
///
/// let err = validate(&ChatRequest::user("hi").with_max_tokens(0)).unwrap_err();
/// assert_eq!(err.kind(), ValidationErrorKind::MaxTokensZero);
/// assert_eq!(err.field(), "max_tokens");
/// ```
pub fn validate(req: &ChatRequest) -> Result<(), ValidationError> {
    validate_with(req, &ValidationRules::default())
}

/// The ranges [`validate`] checks that differ between providers. The
/// default is the strictest common set (Anthropic and Bedrock Converse);
/// a provider crate with wider ranges passes its own, as palisade-openai
/// does for OpenAI's `temperature` of 0.0 ..= 2.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationRules {
    /// The largest `temperature` accepted. Default 1.0.
    pub max_temperature: f32,
}

impl Default for ValidationRules {
    fn default() -> Self {
        Self {
            max_temperature: 1.0,
        }
    }
}

/// [`validate`] with a provider's own ranges.
///
/// ```
/// use palisade_core::{validate, validate_with, ChatRequest, ValidationRules};
///
/// let warm = ChatRequest::user("hi").with_temperature(1.5);
/// assert!(validate(&warm).is_err());
/// assert!(validate_with(&warm, &ValidationRules { max_temperature: 2.0 }).is_ok());
/// ```
pub fn validate_with(req: &ChatRequest, rules: &ValidationRules) -> Result<(), ValidationError> {
    use ValidationErrorKind as K;

    if req.max_tokens == 0 {
        return Err(ValidationError::new(
            K::MaxTokensZero,
            "max_tokens",
            "must be at least 1",
        ));
    }
    check_range(
        req.temperature,
        rules.max_temperature,
        K::TemperatureOutOfRange,
        "temperature",
    )?;
    check_unit_interval(req.top_p, K::TopPOutOfRange, "top_p")?;
    if let Some(thinking) = req.thinking
        && thinking.budget_tokens >= req.max_tokens
    {
        return Err(ValidationError::new(
            K::ThinkingBudgetTooLarge,
            "thinking.budget_tokens",
            format_args!(
                "budget {} must be smaller than max_tokens {}",
                thinking.budget_tokens, req.max_tokens
            ),
        ));
    }
    check_tools(req)?;
    if let Some(output) = &req.structured_output {
        if !is_valid_name(&output.name) {
            return Err(ValidationError::new(
                K::InvalidStructuredOutputName,
                "structured_output.name",
                format_args!("`{}` does not match ^[a-zA-Z0-9_-]{{1,64}}$", output.name),
            ));
        }
        output.check_schema().map_err(|e| {
            ValidationError::new(
                K::InvalidStructuredOutputSchema,
                "structured_output.schema",
                e,
            )
        })?;
    }
    if let Some(system) = &req.system {
        check_no_nul(system, "system")?;
    }
    for (i, seq) in req.stop_sequences.iter().enumerate() {
        check_no_nul(seq, &format!("stop_sequences[{i}]"))?;
    }
    if req.messages.is_empty() {
        return Err(ValidationError::new(
            K::EmptyMessages,
            "messages",
            "at least one message is required",
        ));
    }
    let mut previous: Option<Role> = None;
    for (i, message) in req.messages.iter().enumerate() {
        match (previous, message.role) {
            (None, Role::Assistant) => {
                return Err(ValidationError::new(
                    K::FirstMessageNotUser,
                    format!("messages[{i}].role"),
                    "the conversation must start with a user message",
                ));
            }
            (Some(prev), role) if prev == role => {
                return Err(ValidationError::new(
                    K::RolesNotAlternating,
                    format!("messages[{i}].role"),
                    format_args!(
                        "two consecutive {} messages; user and assistant turns must alternate",
                        role_name(role)
                    ),
                ));
            }
            _ => {}
        }
        previous = Some(message.role);
        check_content(&message.content, i)?;
        check_tool_blocks(req, i)?;
    }
    Ok(())
}

/// [`validate`], then the target's [`Capabilities::check`]: a request the
/// provider cannot serve is a [`ValidationErrorKind::Unsupported`] error naming
/// the field that needs the missing feature.
///
/// ```
/// use palisade_core::{
///     validate_for, Capabilities, ChatRequest, Feature, Tool, ValidationErrorKind,
/// };
/// use serde_json::json;
///
/// let req = ChatRequest::user("weather?")
///     .with_tool(Tool::new("weather", "current weather", json!({"type": "object"})));
/// assert!(validate_for(&req, &Capabilities::all()).is_ok());
/// let err = validate_for(&req, &Capabilities::text_only()).unwrap_err();
/// assert_eq!(err.kind(), ValidationErrorKind::Unsupported(Feature::Tools));
/// assert_eq!(err.field(), "tools");
/// ```
///
/// # Errors
/// The first broken rule, or the first unsupported feature.
pub fn validate_for(req: &ChatRequest, capabilities: &Capabilities) -> Result<(), ValidationError> {
    validate_for_with(req, capabilities, &ValidationRules::default())
}

/// [`validate_for`] with a provider's own ranges ([`ValidationRules`]).
pub fn validate_for_with(
    req: &ChatRequest,
    capabilities: &Capabilities,
    rules: &ValidationRules,
) -> Result<(), ValidationError> {
    validate_with(req, rules)?;
    capabilities.check(req).map_err(|u| {
        ValidationError::new(
            ValidationErrorKind::Unsupported(u.feature),
            u.field,
            format_args!("{} not supported: {}", u.feature, u.detail),
        )
    })
}

/// `^[a-zA-Z0-9_-]{1,64}$`, the tool-name rule of the Messages and Converse
/// APIs (and of OpenAI function names).
fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_tools(req: &ChatRequest) -> Result<(), ValidationError> {
    use ValidationErrorKind as K;
    let mut names = HashSet::with_capacity(req.tools.len());
    for (i, tool) in req.tools.iter().enumerate() {
        if !is_valid_name(&tool.name) {
            return Err(ValidationError::new(
                K::InvalidToolName,
                format!("tools[{i}].name"),
                format_args!("`{}` does not match ^[a-zA-Z0-9_-]{{1,64}}$", tool.name),
            ));
        }
        if !names.insert(tool.name.as_str()) {
            return Err(ValidationError::new(
                K::DuplicateToolName,
                format!("tools[{i}].name"),
                format_args!("`{}` is defined more than once", tool.name),
            ));
        }
        if !tool.input_schema.is_object() {
            return Err(ValidationError::new(
                K::ToolSchemaNotObject,
                format!("tools[{i}].input_schema"),
                "must be a JSON object (a JSON schema of the input)",
            ));
        }
    }
    match &req.tool_choice {
        Some(ToolChoice::Any | ToolChoice::Tool { .. }) if req.tools.is_empty() => {
            return Err(ValidationError::new(
                K::ToolChoiceWithoutTools,
                "tool_choice",
                "`any` and `tool` choices need at least one tool",
            ));
        }
        Some(ToolChoice::Tool { name }) if !names.contains(name.as_str()) => {
            return Err(ValidationError::new(
                K::UnknownToolChoice,
                "tool_choice.name",
                format_args!("no tool named `{name}` is defined"),
            ));
        }
        _ => {}
    }
    if req.thinking.is_some()
        && matches!(
            req.tool_choice,
            Some(ToolChoice::Any | ToolChoice::Tool { .. })
        )
    {
        return Err(ValidationError::new(
            K::ThinkingWithForcedTool,
            "tool_choice",
            "with extended thinking on, tool_choice must be `auto` or `none`",
        ));
    }
    Ok(())
}

/// Tool-use and tool-result placement in message `i`, and that every result
/// answers a tool use of the previous (assistant) turn.
fn check_tool_blocks(req: &ChatRequest, i: usize) -> Result<(), ValidationError> {
    use ValidationErrorKind as K;
    let message = &req.messages[i];
    for (j, block) in message.content.iter().enumerate() {
        match (block, message.role) {
            (ContentBlock::ToolUse { .. }, Role::User) => {
                return Err(ValidationError::new(
                    K::ToolUseOutsideAssistant,
                    format!("messages[{i}].content[{j}]"),
                    "tool_use blocks belong in assistant turns",
                ));
            }
            (ContentBlock::ToolResult { .. }, Role::Assistant) => {
                return Err(ValidationError::new(
                    K::ToolResultOutsideUser,
                    format!("messages[{i}].content[{j}]"),
                    "tool_result blocks belong in user turns",
                ));
            }
            (ContentBlock::ToolResult { tool_use_id, .. }, Role::User) => {
                let answered = i
                    .checked_sub(1)
                    .and_then(|p| req.messages.get(p))
                    .is_some_and(|prev| {
                        prev.content.iter().any(
                            |b| matches!(b, ContentBlock::ToolUse { id, .. } if id == tool_use_id),
                        )
                    });
                if !answered {
                    return Err(ValidationError::new(
                        K::OrphanToolResult,
                        format!("messages[{i}].content[{j}].tool_use_id"),
                        format_args!(
                            "`{tool_use_id}` answers no tool use of the previous assistant turn"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Media and document rules of one block (and of a tool result's blocks).
fn check_media(block: &ContentBlock, field: &str) -> Result<(), ValidationError> {
    match block {
        ContentBlock::Image { source, .. } => check_base64(source, field),
        ContentBlock::Document { name, source, .. } => {
            if name.trim().is_empty() {
                return Err(ValidationError::new(
                    ValidationErrorKind::EmptyDocumentName,
                    format!("{field}.name"),
                    "a document needs a non-empty name",
                ));
            }
            check_base64(source, field)
        }
        ContentBlock::ToolResult { content, .. } => {
            for (k, inner) in content.iter().enumerate() {
                check_media(inner, &format!("{field}.content[{k}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_base64(source: &MediaSource, field: &str) -> Result<(), ValidationError> {
    // Only a base64 source can fail to decode (text is UTF-8 already, a URL
    // is the provider's to fetch).
    match source.bytes() {
        Some(Err(e)) => Err(ValidationError::new(
            ValidationErrorKind::InvalidBase64,
            format!("{field}.source.data"),
            format_args!("not valid base64: {e}"),
        )),
        _ => Ok(()),
    }
}

fn check_content(content: &[ContentBlock], i: usize) -> Result<(), ValidationError> {
    let mut has_content = false;
    for (j, block) in content.iter().enumerate() {
        check_media(block, &format!("messages[{i}].content[{j}]"))?;
        match block {
            ContentBlock::Text { text } | ContentBlock::Reasoning { text, .. } => {
                check_no_nul(text, &format!("messages[{i}].content[{j}].text"))?;
                has_content |= !text.trim().is_empty();
            }
            ContentBlock::CachePoint { .. } => {}
            _ => has_content = true,
        }
    }
    if has_content {
        Ok(())
    } else {
        Err(ValidationError::new(
            ValidationErrorKind::EmptyContent,
            format!("messages[{i}].content"),
            "a message needs at least one non-blank content block",
        ))
    }
}

fn check_unit_interval(
    value: Option<f32>,
    kind: ValidationErrorKind,
    field: &str,
) -> Result<(), ValidationError> {
    check_range(value, 1.0, kind, field)
}

fn check_range(
    value: Option<f32>,
    max: f32,
    kind: ValidationErrorKind,
    field: &str,
) -> Result<(), ValidationError> {
    match value {
        Some(v) if !(0.0..=max).contains(&v) => Err(ValidationError::new(
            kind,
            field,
            format_args!("{v} is outside 0.0 ..= {max:.1}"),
        )),
        _ => Ok(()),
    }
}

fn check_no_nul(text: &str, field: &str) -> Result<(), ValidationError> {
    match text.find('\0') {
        Some(at) => Err(ValidationError::new(
            ValidationErrorKind::NulByte,
            field,
            format_args!("contains a NUL byte at byte offset {at}"),
        )),
        None => Ok(()),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}
