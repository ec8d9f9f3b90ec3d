//! [`RenderedPrompt`]: a prompt ready to send, as a chat request or as one
//! text.

use palisade_core::{CachePoint, ChatRequest, ContentBlock, Message, Role, Tool};

use crate::budget::BudgetReport;
use crate::draft::UserTurn;
use crate::escape::escape_text;
use crate::section::{push_section, separate_sections};
use crate::template::TemplateCachePoints;
use crate::toon_context::ContextEncoding;

/// A rendered prompt: system prompt, history and the new user turn, ready to
/// send as a [`ChatRequest`] or to print as one text.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    pub(crate) system: Option<String>,
    pub(crate) history: Vec<Message>,
    pub(crate) user_turn: String,
    /// Byte offsets in `user_turn` where cache points go.
    pub(crate) user_turn_cache_points: Vec<(usize, CachePoint)>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: Option<palisade_core::ToolChoice>,
    pub(crate) cache_points: TemplateCachePoints,
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

    /// The tools the request carries (the template's).
    pub fn tools(&self) -> &[Tool] {
        &self.tools
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
    /// the user turn, with the template's tools, tool choice and cache
    /// points. The user turn is one text block, or, with cache points inside
    /// it, the text cut at each into consecutive text blocks with a
    /// [`ContentBlock::CachePoint`] between them (the same text in order).
    /// `max_tokens` is the budget's when rendered within one, else
    /// [`ChatRequest::new`]'s default.
    pub fn to_chat_request(&self) -> ChatRequest {
        self.clone().into_chat_request()
    }

    /// Like [`to_chat_request`](Self::to_chat_request), without copying.
    pub fn into_chat_request(self) -> ChatRequest {
        let mut messages = self.history;
        if let (Some(point), Some(last)) = (self.cache_points.history, messages.last_mut()) {
            last.content
                .push(ContentBlock::CachePoint { ttl: point.ttl });
        }
        let turn = UserTurn {
            text: self.user_turn,
            cache_points: self.user_turn_cache_points,
        };
        messages.push(Message::new(Role::User, user_turn_blocks(&turn)));
        let mut request = ChatRequest::new(messages);
        request.system = self.system;
        request.system_cache_point = self.cache_points.system;
        request.tools = self.tools;
        request.tools_cache_point = self.cache_points.tools;
        request.tool_choice = self.tool_choice;
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

/// The user turn's content: its text cut at the cache points, a cache point
/// block at each cut.
fn user_turn_blocks(turn: &UserTurn) -> Vec<ContentBlock> {
    let mut blocks = Vec::with_capacity(1 + 2 * turn.cache_points.len());
    let mut start = 0;
    for &(at, point) in &turn.cache_points {
        if let Some(piece) = turn.text.get(start..at).filter(|p| !p.is_empty()) {
            blocks.push(ContentBlock::text(piece));
        }
        blocks.push(ContentBlock::CachePoint { ttl: point.ttl });
        start = at;
    }
    if let Some(rest) = turn.text.get(start..).filter(|r| !r.is_empty()) {
        blocks.push(ContentBlock::text(rest));
    }
    if blocks.is_empty() {
        blocks.push(ContentBlock::text(""));
    }
    blocks
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
