//! [`PromptInputs`]: everything one render of a template reads.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::value::{Serde, Value};
use palisade_core::Message;
use serde::Serialize;

use crate::context::{ContextBlock, ContextFormat};

/// The inputs of one render: variables for the authored parts, context
/// blocks, conversation history and the user's latest message.
///
/// Everything here is treated as untrusted and escaped where it lands inside
/// a tag (see [`escape_text`](crate::escape_text)); only the template's own
/// text is emitted as written.
///
/// ```
/// use palisade_core::Message;
/// use palisade_prompt::PromptInputs;
///
/// let mut inputs = PromptInputs::new();
/// inputs
///     .var("section_title", "Methods")
///     .var("categories", &["risk", "obligation"])
///     .context_text("section", "The supplier shall …")
///     .history([Message::user("Hi"), Message::assistant("Hello!")])
///     .user_message("What are the risks?");
/// ```
#[derive(Debug, Clone, Default)]
pub struct PromptInputs {
    pub(crate) vars: BTreeMap<String, Value>,
    pub(crate) contexts: Vec<ContextBlock>,
    pub(crate) history: Vec<Message>,
    pub(crate) user_message: Option<String>,
}

impl PromptInputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a template variable to any serializable value (strings, numbers,
    /// lists, maps, your own serde types). A value that fails to serialize
    /// makes the render that reads it fail with the serializer's message.
    pub fn var<T: Serialize + ?Sized>(&mut self, name: impl Into<String>, value: &T) -> &mut Self {
        self.vars.insert(name.into(), Value::from(Serde(value)));
        self
    }

    /// Fills context slot `name` with text, placed escaped in `<name>`.
    /// Replaces an earlier block of the same name.
    pub fn context_text(&mut self, name: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.set_context(ContextBlock {
            name: name.into(),
            body: text.into(),
            format: ContextFormat::Text,
            encoding: None,
            cache_point: None,
        });
        self
    }

    /// Sets the conversation so far, oldest first: it must start with a user
    /// turn, alternate, and end with an assistant turn, since the rendered
    /// prompt is the next user turn. Budget fitting drops it oldest first,
    /// a user/assistant exchange at a time.
    pub fn history(&mut self, messages: impl IntoIterator<Item = Message>) -> &mut Self {
        self.history = messages.into_iter().collect();
        self
    }

    /// Sets the user's latest message, for templates that take one.
    pub fn user_message(&mut self, text: impl Into<String>) -> &mut Self {
        self.user_message = Some(text.into());
        self
    }

    /// The names of the variables set so far.
    pub fn variable_names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    pub(crate) fn provided_names(&self) -> BTreeSet<String> {
        self.vars.keys().cloned().collect()
    }

    pub(crate) fn set_context(&mut self, block: ContextBlock) {
        match self.contexts.iter_mut().find(|b| b.name == block.name) {
            Some(existing) => *existing = block,
            None => self.contexts.push(block),
        }
    }
}
