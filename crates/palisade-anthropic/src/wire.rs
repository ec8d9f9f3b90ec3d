//! The Messages API's answer types, as far as the provider reads them.
//! Unknown fields and block types are ignored (the API adds them over time).

use serde::Deserialize;

/// `POST /v1/messages` answer (and `message_start.message`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) content: Vec<WireBlock>,
    #[serde(default)]
    pub(crate) stop_reason: Option<String>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
}

/// A content block of an answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: serde_json::Value,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    #[serde(other)]
    Other,
}

/// `usage`, in answers, `message_start` and `message_delta`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) cache_creation: Option<WireCacheCreation>,
    #[serde(default)]
    pub(crate) service_tier: Option<WireServiceTier>,
}

/// `usage.cache_creation`: cache writes split by lifetime.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct WireCacheCreation {
    #[serde(default)]
    pub(crate) ephemeral_5m_input_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) ephemeral_1h_input_tokens: Option<u32>,
}

/// `usage.service_tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireServiceTier {
    Standard,
    Priority,
    Batch,
    #[serde(other)]
    Other,
}

impl WireUsage {
    /// Fields present in `later` replace this one's (a `message_delta`'s
    /// usage is cumulative).
    pub(crate) fn merge(self, later: WireUsage) -> WireUsage {
        WireUsage {
            input_tokens: later.input_tokens.or(self.input_tokens),
            output_tokens: later.output_tokens.or(self.output_tokens),
            cache_read_input_tokens: later
                .cache_read_input_tokens
                .or(self.cache_read_input_tokens),
            cache_creation_input_tokens: later
                .cache_creation_input_tokens
                .or(self.cache_creation_input_tokens),
            cache_creation: later.cache_creation.or(self.cache_creation),
            service_tier: later.service_tier.or(self.service_tier),
        }
    }

    /// As core usage: cache writes are `cache_creation_input_tokens`, of
    /// which the 1 h ones are `cache_creation.ephemeral_1h_input_tokens`.
    pub(crate) fn to_core(self) -> palisade_core::Usage {
        let split = self.cache_creation.unwrap_or_default();
        let write = self.cache_creation_input_tokens.unwrap_or_else(|| {
            split.ephemeral_5m_input_tokens.unwrap_or(0)
                + split.ephemeral_1h_input_tokens.unwrap_or(0)
        });
        let mut usage = palisade_core::Usage::new(
            self.input_tokens.unwrap_or(0),
            self.output_tokens.unwrap_or(0),
        )
        .with_cache(self.cache_read_input_tokens.unwrap_or(0), write);
        usage.cache_write_1h_tokens = split.ephemeral_1h_input_tokens.unwrap_or(0).min(write);
        usage
    }

    pub(crate) fn tier(self) -> Option<palisade_core::ServiceTier> {
        match self.service_tier? {
            WireServiceTier::Standard => Some(palisade_core::ServiceTier::Default),
            WireServiceTier::Priority => Some(palisade_core::ServiceTier::Priority),
            WireServiceTier::Batch | WireServiceTier::Other => None,
        }
    }
}

/// The stop reasons, as core knows them; `None` for one it does not.
pub(crate) fn stop_reason(reason: &str) -> Option<palisade_core::StopReason> {
    use palisade_core::StopReason as S;
    Some(match reason {
        "end_turn" | "pause_turn" => S::EndTurn,
        "max_tokens" | "model_context_window_exceeded" => S::MaxTokens,
        "stop_sequence" => S::StopSequence,
        "tool_use" => S::ToolUse,
        "refusal" => S::ContentFiltered,
        _ => return None,
    })
}

/// Mid-stream events (`event:` names with their `data:` payloads).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireEvent {
    MessageStart {
        message: WireMessage,
    },
    ContentBlockStart {
        #[serde(default)]
        index: usize,
        content_block: WireBlock,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: usize,
        delta: WireDelta,
    },
    ContentBlockStop {
        #[serde(default)]
        index: usize,
    },
    MessageDelta {
        #[serde(default)]
        delta: WireMessageDelta,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: WireError,
    },
    #[serde(other)]
    Other,
}

/// `content_block_delta.delta`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    #[serde(other)]
    Other,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireMessageDelta {
    #[serde(default)]
    pub(crate) stop_reason: Option<String>,
}

/// `{"type": "...", "message": "..."}` of an error body or event.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireError {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) message: String,
}
