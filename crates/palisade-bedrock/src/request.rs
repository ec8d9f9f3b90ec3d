//! A core [`ChatRequest`] as the parts of a Converse / ConverseStream /
//! CountTokens call, checked before it costs a round trip.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::types::{
    ContentBlock as WireBlock, ConversationRole, InferenceConfiguration, Message as WireMessage,
    ReasoningContentBlock, ReasoningTextBlock, SystemContentBlock,
};
use aws_smithy_types::{Document, Number};
use palisade_core::{ChatRequest, ContentBlock, ProviderError, Role};

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
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
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
}

/// Checks `req` (the core rules, then Bedrock's extended-thinking rules for
/// `model`) and converts it.
pub(crate) fn converse_parts(
    req: &ChatRequest,
    model: Option<&ClaudeModel>,
) -> Result<ConverseParts, ProviderError> {
    palisade_core::validate(req)?;
    check_thinking(req, model)?;
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
            .map(|(j, block)| wire_block(block, &format!("messages[{i}].content[{j}]")))
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
    Ok(ConverseParts {
        messages,
        system: req
            .system
            .as_ref()
            .map(|s| vec![SystemContentBlock::Text(s.clone())]),
        inference,
        additional_fields: req.thinking.map(|t| thinking_fields(t.budget_tokens)),
    })
}

fn wire_block(block: &ContentBlock, field: &str) -> Result<WireBlock, RequestError> {
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
        other => {
            return Err(RequestError::new(
                field,
                format!("content block {other:?} has no Converse form"),
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
