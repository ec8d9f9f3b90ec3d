//! What a caller asks for: the conversation, the inference settings, and the
//! metadata the resilience stack reads (priority, tags, estimate, deadline).

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The human or application side of the conversation.
    User,
    /// The model's side of the conversation.
    Assistant,
}

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// Structured data (a JSON value) placed in the conversation, e.g. a tool
    /// result or a document's fields; adapters render it as the API expects.
    Json {
        /// The value.
        value: serde_json::Value,
    },
    /// A model's earlier reasoning, echoed back in multi-turn extended thinking.
    Reasoning {
        /// The reasoning text.
        text: String,
        /// The provider's signature over it, required when echoing it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }

    /// The block's text, if it is a text or reasoning block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text { text } | ContentBlock::Reasoning { text, .. } => Some(text),
            ContentBlock::Json { .. } => None,
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said, in order.
    pub content: Vec<ContentBlock>,
}

impl Message {
    /// A user turn with one text block.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![ContentBlock::text(text)],
        }
    }

    /// An assistant turn with one text block.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![ContentBlock::text(text)],
        }
    }

    /// All text of the message, blocks joined without separator.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(ContentBlock::as_text)
            .collect()
    }
}

/// How urgent a request is. Limiters serve higher priorities first; batch
/// executors and budgets may read it too. Ordered `Low < Normal < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Background work that may wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// User-facing work.
    High,
    /// Must go first (health checks, interactive escalations).
    Critical,
}

impl Priority {
    /// All priorities from highest to lowest (the order a limiter serves them).
    pub const HIGHEST_FIRST: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// Index into [`Priority::HIGHEST_FIRST`] (0 = Critical).
    pub const fn rank(self) -> usize {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }
}

/// Extended thinking ("reasoning") settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThinkingConfig {
    /// Tokens the model may spend thinking; must be smaller than `max_tokens`.
    pub budget_tokens: u32,
}

/// Request metadata read by the stack, never sent to the provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestMetadata {
    /// Scheduling priority.
    #[serde(default)]
    pub priority: Priority,
    /// Free-form tags (tenant, feature, job id) used by budgets and stats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// An explicit estimate of the input tokens, overriding the estimator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_token_estimate: Option<u32>,
    /// The instant by which the caller needs an answer (tokio time). Layers
    /// stop waiting, retrying and falling back past it.
    #[serde(skip)]
    pub deadline: Option<Instant>,
}

/// A chat request, as the Messages / Converse APIs take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The system prompt, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The conversation, oldest first; must start with a user turn and alternate.
    pub messages: Vec<Message>,
    /// The most tokens the model may produce (thinking included).
    pub max_tokens: u32,
    /// Sampling temperature, 0.0 ..= 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0.0 ..= 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Sequences that stop generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    /// Extended thinking, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
    /// Metadata for the stack (not sent to the provider).
    #[serde(default)]
    pub metadata: RequestMetadata,
}

/// Default `max_tokens` of [`ChatRequest::new`]: small enough not to reserve
/// a large share of a tokens-per-minute quota by accident.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

impl ChatRequest {
    /// A request with the given conversation and [`DEFAULT_MAX_TOKENS`].
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            system: None,
            messages,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: None,
            top_p: None,
            stop_sequences: Vec::new(),
            thinking: None,
            metadata: RequestMetadata::default(),
        }
    }

    /// A one-turn request: a single user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(vec![Message::user(text)])
    }

    /// Sets the system prompt.
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Sets `max_tokens`.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sets the temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Enables extended thinking with the given budget.
    pub fn with_thinking(mut self, budget_tokens: u32) -> Self {
        self.thinking = Some(ThinkingConfig { budget_tokens });
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.metadata.priority = priority;
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.metadata.tags.push(tag.into());
        self
    }

    /// Sets an explicit input-token estimate.
    pub fn with_input_token_estimate(mut self, tokens: u32) -> Self {
        self.metadata.input_token_estimate = Some(tokens);
        self
    }

    /// Sets the deadline (tokio time).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.metadata.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now (tokio time).
    pub fn with_timeout(self, timeout: std::time::Duration) -> Self {
        self.with_deadline(Instant::now() + timeout)
    }
}
