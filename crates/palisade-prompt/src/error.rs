//! The error of building and rendering prompts.

use crate::budget::BudgetError;
use crate::interpolate::TemplateError;

/// Why a template could not be built, or a prompt could not be rendered from
/// it. Each variant names what was wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// An authored part failed to parse or render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A section or context name is not a valid tag name.
    #[error(
        "`{name}` is not a valid tag name: use an ASCII lowercase letter followed by lowercase letters, digits, `_` or `-` (at most 64)"
    )]
    InvalidTagName {
        /// The rejected name.
        name: String,
    },
    /// Two context slots of one template share a name.
    #[error("template `{template}` declares context `{name}` twice")]
    DuplicateContext {
        /// The template.
        template: String,
        /// The repeated name.
        name: String,
    },
    /// The template declares a required context block the inputs lack.
    #[error("template `{template}` requires context `{name}`, which was not provided")]
    MissingContext {
        /// The template.
        template: String,
        /// The missing block.
        name: String,
    },
    /// The inputs provide a context block the template does not declare
    /// (usually a typo in its name).
    #[error("template `{template}` has no context `{name}` (declared: {declared})")]
    UnknownContext {
        /// The template.
        template: String,
        /// The unknown block.
        name: String,
        /// The names the template declares, comma-separated.
        declared: String,
    },
    /// The template takes the user's latest message but none was given.
    #[error(
        "template `{template}` needs a user message (its `<{tag}>` section), none was provided"
    )]
    MissingUserMessage {
        /// The template.
        template: String,
        /// The tag the message goes in.
        tag: String,
    },
    /// A user message was given to a template that does not take one.
    #[error("template `{template}` takes no user message, but one was provided")]
    UnexpectedUserMessage {
        /// The template.
        template: String,
    },
    /// The conversation history breaks the turn rules: it must start with a
    /// user turn, alternate, and end with an assistant turn (the rendered
    /// prompt is the next user turn).
    #[error("history[{index}]: {reason}")]
    InvalidHistory {
        /// Index of the offending message.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The template's tools or cache points would make an invalid request
    /// (a bad tool name, a duplicate, a tool choice naming no tool, a cache
    /// point after tools the template does not declare).
    #[error("template `{template}`: {field}: {message}")]
    InvalidRequestPart {
        /// The template.
        template: String,
        /// The request field, as `palisade_core::validate` names it
        /// (`tools[1].name`, `tool_choice.name`, `tools_cache_point`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Structured context could not be encoded.
    #[error("context `{name}` could not be encoded: {message}")]
    ContextEncoding {
        /// The context block.
        name: String,
        /// The encoder's message.
        message: String,
    },
    /// The prompt does not fit its token budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
}
