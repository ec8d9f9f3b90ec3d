//! Request validation: the rules every chat API enforces, checked locally so a
//! bad request fails fast with a precise message instead of costing a round
//! trip (and a retry, and a fallback) to learn the same thing.

use std::fmt;

use crate::request::{ChatRequest, ContentBlock, Role};

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
/// a thinking budget smaller than `max_tokens`.
///
/// ```
/// use palisade_core::{validate, ChatRequest, ValidationErrorKind};
///
/// let err = validate(&ChatRequest::user("hi").with_max_tokens(0)).unwrap_err();
/// assert_eq!(err.kind(), ValidationErrorKind::MaxTokensZero);
/// assert_eq!(err.field(), "max_tokens");
/// ```
pub fn validate(req: &ChatRequest) -> Result<(), ValidationError> {
    use ValidationErrorKind as K;

    if req.max_tokens == 0 {
        return Err(ValidationError::new(
            K::MaxTokensZero,
            "max_tokens",
            "must be at least 1",
        ));
    }
    check_unit_interval(req.temperature, K::TemperatureOutOfRange, "temperature")?;
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
    }
    Ok(())
}

fn check_content(content: &[ContentBlock], i: usize) -> Result<(), ValidationError> {
    let mut has_content = false;
    for (j, block) in content.iter().enumerate() {
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
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(ValidationError::new(
            kind,
            field,
            format_args!("{v} is outside 0.0 ..= 1.0"),
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
