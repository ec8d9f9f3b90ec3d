//! [`RenderedPrompt`]: a prompt ready to send, as a chat request or as one
//! text.

use palisade_core::{ChatRequest, ContentBlock, Message, Role};

use crate::budget::BudgetReport;
use crate::escape::escape_text;
use crate::section::{push_section, separate_sections};
use crate::toon_context::ContextEncoding;

/// A rendered prompt: system prompt, history and the new user turn, ready to
/// send as a [`ChatRequest`] or to print as one text.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    pub(crate) system: Option<String>,
    pub(crate) history: Vec<Message>,
    pub(crate) user_turn: String,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) encodings: Vec<ContextEncoding>,
    pub(crate) budget: Option<BudgetReport>,
}

impl RenderedPrompt {
    /// The system prompt (role, expertise, behaviour), if the template has one.
    pub fn system(&self) -> Option<&str> {
        self.system.as_deref()
    }

    /// The history turns kept, oldest first.
    pub fn history(&self) -> &[Message] {
        &self.history
    }

    /// The new user turn: task, context, examples, constraints, output
    /// format and the user's message, as tagged sections.
    pub fn user_turn(&self) -> &str {
        &self.user_turn
    }

    /// How each structured context block was encoded and what it saved.
    pub fn context_encodings(&self) -> &[ContextEncoding] {
        &self.encodings
    }

    /// What budget fitting did, when rendered with
    /// [`render_within`](crate::PromptTemplate::render_within).
    pub fn budget_report(&self) -> Option<&BudgetReport> {
        self.budget.as_ref()
    }

    /// The prompt as a request: the system prompt, the history turns, then
    /// the user turn. `max_tokens` is the budget's when rendered within one,
    /// else [`ChatRequest::new`]'s default.
    pub fn to_chat_request(&self) -> ChatRequest {
        self.clone().into_chat_request()
    }

    /// Like [`to_chat_request`](Self::to_chat_request), without copying.
    pub fn into_chat_request(self) -> ChatRequest {
        let mut messages = self.history;
        messages.push(Message::user(self.user_turn));
        let mut request = ChatRequest::new(messages);
        request.system = self.system;
        if let Some(max_tokens) = self.max_tokens {
            request.max_tokens = max_tokens;
        }
        request
    }

    /// The prompt as one text, for completion-style APIs and logs: the system
    /// prompt, the history in a `<conversation_history>` section (each turn
    /// escaped in `<user>` or `<assistant>`), then the user turn, separated
    /// by blank lines.
    ///
    /// A prompt fitted with
    /// [`render_within`](crate::PromptTemplate::render_within) fits its
    /// budget in this rendering too: sent as the one message of a request,
    /// it costs [`BudgetReport::text_tokens`], at most the available input
    /// tokens (the markup and escaping of history can make it dearer than
    /// the chat request).
    pub fn to_text(&self) -> String {
        render_text(self.system.as_deref(), &self.history, &self.user_turn)
    }
}

/// The one-text rendering of a prompt's parts; see
/// [`RenderedPrompt::to_text`]. Budget fitting measures it too.
pub(crate) fn render_text(system: Option<&str>, history: &[Message], user_turn: &str) -> String {
    let mut out = String::new();
    if let Some(system) = system {
        out.push_str(system);
    }
    if !history.is_empty() {
        let mut turns = String::new();
        for (i, message) in history.iter().enumerate() {
            if i > 0 {
                turns.push('\n');
            }
            let tag = match message.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            push_section(&mut turns, tag, None, &escape_text(&message_text(message)));
        }
        separate_sections(&mut out);
        push_section(&mut out, "conversation_history", None, &turns);
    }
    separate_sections(&mut out);
    out.push_str(user_turn);
    out
}

/// All of a message's content as text: text blocks as written, JSON blocks
/// compact.
fn message_text(message: &Message) -> String {
    let mut text = String::new();
    for block in &message.content {
        match block {
            ContentBlock::Json { value } => text.push_str(&value.to_string()),
            other => text.push_str(other.as_text().unwrap_or_default()),
        }
    }
    text
}
