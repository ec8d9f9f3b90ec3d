//! What a caller asks for: the conversation, the inference settings, and the
//! metadata the resilience stack reads (priority, tags, estimate, deadline).

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::content::CachePoint;
pub(crate) use crate::content::ContentBlock;
pub use crate::priority::Priority;
use crate::structured::StructuredOutput;
use crate::tier::ServiceTier;
use crate::tools::{Tool, ToolChoice};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The human or application side of the conversation.
    User,
    /// The model's side of the conversation.
    Assistant,
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

    /// A turn with these blocks.
    pub fn new(role: Role, content: Vec<ContentBlock>) -> Self {
        Self { role, content }
    }

    /// All text of the message, blocks joined without separator.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(ContentBlock::as_text)
            .collect()
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
    /// The latest instant a call of this request may *start* (tokio time):
    /// a limiter stops queueing it then. Earlier than `deadline`, it leaves
    /// room for the call itself; a router sets it to move a queued request
    /// on when another candidate could serve it first. `None`: the
    /// `deadline` bounds the wait.
    #[serde(skip)]
    pub start_by: Option<Instant>,
}

/// A chat request, as the Messages / Converse APIs take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The system prompt, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// A prompt-cache point after the system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_cache_point: Option<CachePoint>,
    /// The conversation, oldest first; must start with a user turn and alternate.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// A prompt-cache point after the tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_cache_point: Option<CachePoint>,
    /// How the model must choose among the tools; `None` is the provider's
    /// default (auto).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools in one turn; `None` is the
    /// provider's default (yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
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
    /// A JSON schema the reply must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output: Option<StructuredOutput>,
    /// The service tier to be served at; `None` is the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
    /// Provider-specific fields sent as they are (Bedrock's
    /// `additionalModelRequestFields`, extra body fields of an HTTP API).
    /// Each provider documents where they go; one that takes none refuses
    /// a request that has them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub passthrough: serde_json::Map<String, serde_json::Value>,
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
            system_cache_point: None,
            messages,
            tools: Vec::new(),
            tools_cache_point: None,
            tool_choice: None,
            parallel_tool_calls: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: None,
            top_p: None,
            stop_sequences: Vec::new(),
            thinking: None,
            structured_output: None,
            service_tier: None,
            passthrough: serde_json::Map::new(),
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

    /// Adds a tool definition.
    pub fn with_tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets the tool choice.
    pub fn with_tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Puts a cache point after the system prompt.
    pub fn with_system_cache_point(mut self, point: CachePoint) -> Self {
        self.system_cache_point = Some(point);
        self
    }

    /// Puts a cache point after the tool definitions.
    pub fn with_tools_cache_point(mut self, point: CachePoint) -> Self {
        self.tools_cache_point = Some(point);
        self
    }

    /// Asks for a reply matching this schema.
    pub fn with_structured_output(mut self, output: StructuredOutput) -> Self {
        self.structured_output = Some(output);
        self
    }

    /// Asks for a service tier.
    pub fn with_service_tier(mut self, tier: ServiceTier) -> Self {
        self.service_tier = Some(tier);
        self
    }

    /// Adds a provider passthrough field.
    pub fn with_passthrough(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.passthrough.insert(key.into(), value);
        self
    }

    /// Appends a message.
    pub fn with_message(mut self, message: Message) -> Self {
        self.messages.push(message);
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
