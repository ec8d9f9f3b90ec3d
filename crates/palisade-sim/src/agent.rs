//! The agent workload (`[agent]` in a scenario): conversations of several
//! tool-calling turns whose context grows, with or without prompt-cache
//! points, so that what caching does to cost and quota is measured.
//!
//! Every conversation shares one stable prefix — the tool definitions and the
//! system prompt — and then has its own opening user message. Each model
//! call but the last is answered with a tool call; the agent runs the tool
//! (a drawn delay) and sends the conversation back with the call and its
//! result appended, so every turn resends everything before it. The last call
//! is answered in text and ends the conversation.
//!
//! With `cache_points = true` each request carries the cache points an agent
//! built on the Anthropic or Bedrock APIs would set: one after the system
//! prompt (tools and system, shared by every conversation) and one at the
//! end of each of the last two user turns, so a turn reads the prefix the
//! turn before it wrote and writes only what is new. Three points, within
//! Claude's four.

use std::time::Duration;

use palisade_core::{
    CachePoint, CacheTtl, ChatRequest, ContentBlock, Message, Role, Tool, ToolChoice,
};
use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;
use crate::limits::{
    MAX_EXPECTED_REQUESTS, MAX_LATENCY_MS, MAX_TOKENS, MAX_WAIT, count_within, duration_within,
    positive_at_most,
};
use crate::rng::SimRng;
use crate::text::filler;

/// Most tool-calling turns a conversation may have.
pub const MAX_TOOL_CALLS: u32 = 200;
/// Most tool definitions a request may carry.
pub const MAX_TOOLS: u32 = 128;

/// An agent workload: how many conversations start, and what each holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentWorkload {
    /// Conversations started per minute (Poisson arrivals over the
    /// scenario's `duration`). Default: 6.
    pub conversations_per_minute: f64,
    /// Tool-calling turns per conversation; each conversation makes one model
    /// call more than this (the final answer). Default: 8.
    pub tool_calls: u32,
    /// Length of the system prompt, in tokens. Default: 3,000.
    pub system_prompt_tokens: u32,
    /// Tool definitions in every request. Default: 10.
    pub tools: u32,
    /// Length of each tool's description, in tokens. Default: 150.
    pub tool_description_tokens: u32,
    /// Length of the opening user message, in tokens. Default: 300.
    pub user_message_tokens: u32,
    /// Length of each tool result, in tokens. Default: uniform 300–1,500.
    pub tool_result_tokens: Distribution,
    /// How long the agent takes to run a tool, in milliseconds. Default:
    /// log-normal, median 1,500, sigma 0.5.
    pub tool_time_ms: Distribution,
    /// `max_tokens` of every call. Default: 1,024.
    pub max_tokens: u32,
    /// Whether the requests carry prompt-cache points. Default: true.
    pub cache_points: bool,
    /// The lifetime the cache points ask for (`"5m"` or `"1h"`). Default: 5m.
    pub cache_ttl: CacheTtl,
    /// How long the agent waits for one call before it gives the
    /// conversation up (the call's deadline). Default: 2 min.
    #[serde(with = "palisade_core::duration")]
    pub call_deadline: Duration,
}

impl Default for AgentWorkload {
    fn default() -> Self {
        Self {
            conversations_per_minute: 6.0,
            tool_calls: 8,
            system_prompt_tokens: 3_000,
            tools: 10,
            tool_description_tokens: 150,
            user_message_tokens: 300,
            tool_result_tokens: Distribution::Uniform {
                min: 300.0,
                max: 1_500.0,
            },
            tool_time_ms: Distribution::LogNormal {
                median: 1_500.0,
                sigma: 0.5,
            },
            max_tokens: 1_024,
            cache_points: true,
            cache_ttl: CacheTtl::FiveMinutes,
            call_deadline: Duration::from_secs(120),
        }
    }
}

impl AgentWorkload {
    /// Checks every parameter; the error is `(field, what is wrong)`.
    /// `minutes` is the scenario's duration, which bounds the number of
    /// calls a run may make.
    pub fn validate(&self, minutes: f64) -> Result<(), (String, String)> {
        let field = |f: &str| {
            let f = f.to_owned();
            move |e: String| (f, e)
        };
        positive_at_most(self.conversations_per_minute, MAX_EXPECTED_REQUESTS)
            .map_err(field("conversations_per_minute"))?;
        count_within(self.tool_calls, 0, MAX_TOOL_CALLS).map_err(field("tool_calls"))?;
        count_within(self.system_prompt_tokens, 0, MAX_TOKENS)
            .map_err(field("system_prompt_tokens"))?;
        count_within(self.tools, 1, MAX_TOOLS).map_err(field("tools"))?;
        count_within(self.tool_description_tokens, 0, MAX_TOKENS)
            .map_err(field("tool_description_tokens"))?;
        count_within(self.user_message_tokens, 1, MAX_TOKENS)
            .map_err(field("user_message_tokens"))?;
        self.tool_result_tokens
            .validate(f64::from(MAX_TOKENS))
            .map_err(|(k, e)| (format!("tool_result_tokens.{k}"), e))?;
        self.tool_time_ms
            .validate(MAX_LATENCY_MS)
            .map_err(|(k, e)| (format!("tool_time_ms.{k}"), e))?;
        count_within(self.max_tokens, 1, MAX_TOKENS).map_err(field("max_tokens"))?;
        duration_within(self.call_deadline, MAX_WAIT, false).map_err(field("call_deadline"))?;
        let calls = self.conversations_per_minute * minutes * f64::from(self.tool_calls + 1);
        if calls > MAX_EXPECTED_REQUESTS {
            return Err((
                "conversations_per_minute".into(),
                format!(
                    "offers about {calls:.0} calls over the scenario's duration, more than the \
                     {MAX_EXPECTED_REQUESTS:.0} one run may simulate"
                ),
            ));
        }
        Ok(())
    }

    /// The tool definitions every request carries.
    pub fn tool_definitions(&self) -> Vec<Tool> {
        (0..self.tools)
            .map(|i| {
                Tool::new(
                    format!("tool_{i}"),
                    filler(self.tool_description_tokens),
                    serde_json::json!({
                        "type": "object",
                        "properties": { "query": { "type": "string" } },
                        "required": ["query"],
                    }),
                )
            })
            .collect()
    }

    /// Draws conversation `index`'s tool results and tool times.
    pub(crate) fn plan(&self, index: u64, start: Duration, rng: &mut SimRng) -> ConversationPlan {
        let turns = (0..self.tool_calls)
            .map(|_| PlannedTool {
                result_tokens: self.tool_result_tokens.sample_clamped(rng, 1, MAX_TOKENS),
                time: crate::limits::duration_from_ms(f64::from(self.tool_time_ms.sample_clamped(
                    rng,
                    0,
                    MAX_LATENCY_MS as u32,
                ))),
            })
            .collect();
        ConversationPlan {
            index,
            start,
            tools: turns,
        }
    }
}

/// One tool run of a planned conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlannedTool {
    pub(crate) result_tokens: u32,
    pub(crate) time: Duration,
}

/// A conversation drawn before the run: when it starts and what its tools
/// return, so both runs (with and without cache points) see the same work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConversationPlan {
    pub(crate) index: u64,
    pub(crate) start: Duration,
    pub(crate) tools: Vec<PlannedTool>,
}

/// A conversation in progress: the stable prefix and the turns so far.
#[derive(Debug, Clone)]
pub struct Conversation {
    index: u64,
    system: String,
    tools: Vec<Tool>,
    messages: Vec<Message>,
    cache_points: Option<CacheTtl>,
    max_tokens: u32,
}

impl Conversation {
    /// Conversation `index` of `workload`, before its first call.
    pub fn start(workload: &AgentWorkload, index: u64) -> Self {
        // The opening message names its conversation, so no two
        // conversations share more than the stable prefix.
        let opening = format!(
            "Conversation {index}. {}",
            filler(workload.user_message_tokens)
        );
        Self {
            index,
            system: filler(workload.system_prompt_tokens),
            tools: workload.tool_definitions(),
            messages: vec![Message::user(opening)],
            cache_points: workload.cache_points.then_some(workload.cache_ttl),
            max_tokens: workload.max_tokens,
        }
    }

    /// Tool calls made so far.
    pub fn tool_calls(&self) -> usize {
        self.messages.len() / 2
    }

    /// The request for the next call: the whole conversation so far.
    pub fn request(&self) -> ChatRequest {
        let mut messages = self.messages.clone();
        let mut request = ChatRequest::new(Vec::new())
            .with_system(self.system.clone())
            .with_tool_choice(ToolChoice::Auto)
            .with_max_tokens(self.max_tokens);
        request.tools = self.tools.clone();
        if let Some(ttl) = self.cache_points {
            request = request.with_system_cache_point(CachePoint { ttl });
            // The last two user turns (messages alternate, starting with one).
            for message in messages
                .iter_mut()
                .rev()
                .filter(|m| m.role == Role::User)
                .take(2)
            {
                message.content.push(ContentBlock::CachePoint { ttl });
            }
        }
        request.messages = messages;
        request
    }

    /// Appends the model's tool call (`output_tokens` long, as the model
    /// reported) and the tool's result (`result_tokens` long).
    pub fn push_tool_turn(&mut self, output_tokens: u32, result_tokens: u32) {
        let turn = self.tool_calls();
        let id = format!("toolu_{}_{turn}", self.index);
        // The call's input is most of its output; the name and framing
        // (about a dozen tokens) the rest.
        let query = filler(output_tokens.saturating_sub(12).max(1));
        let name = format!("tool_{}", turn % self.tools.len().max(1));
        self.messages.push(Message::new(
            Role::Assistant,
            vec![ContentBlock::ToolUse {
                id: id.clone(),
                name,
                input: serde_json::json!({ "query": query }),
            }],
        ));
        self.messages.push(Message::new(
            Role::User,
            vec![ContentBlock::tool_result(
                id,
                format!("Result {}/{turn}. {}", self.index, filler(result_tokens)),
            )],
        ));
    }
}

#[cfg(test)]
mod tests {
    use palisade_core::{HeuristicEstimator, TokenEstimator};

    use super::*;

    #[tokio::test]
    async fn the_context_grows_turn_over_turn_and_carries_three_cache_points() {
        let workload = AgentWorkload::default();
        let mut conversation = Conversation::start(&workload, 7);
        let mut sizes = Vec::new();
        for turn in 0..4 {
            let request = conversation.request();
            palisade_core::validate(&request).unwrap_or_else(|e| panic!("turn {turn}: {e}"));
            let points = request
                .messages
                .iter()
                .flat_map(|m| &m.content)
                .filter(|b| matches!(b, ContentBlock::CachePoint { .. }))
                .count();
            assert_eq!(points, (turn + 1).min(2), "turn {turn}");
            assert!(request.system_cache_point.is_some());
            sizes.push(HeuristicEstimator.estimate_request(&request).await);
            conversation.push_tool_turn(80, 500);
        }
        assert!(sizes.windows(2).all(|w| w[1] > w[0] + 500), "{sizes:?}");
    }

    #[test]
    fn without_cache_points_a_request_has_none() {
        let workload = AgentWorkload {
            cache_points: false,
            ..AgentWorkload::default()
        };
        let mut conversation = Conversation::start(&workload, 0);
        conversation.push_tool_turn(80, 500);
        let request = conversation.request();
        assert!(request.system_cache_point.is_none());
        assert!(
            request
                .messages
                .iter()
                .flat_map(|m| &m.content)
                .all(|b| !matches!(b, ContentBlock::CachePoint { .. }))
        );
    }

    #[test]
    fn validation_names_the_field() {
        let bad = AgentWorkload {
            tools: 0,
            ..AgentWorkload::default()
        };
        assert_eq!(bad.validate(60.0).unwrap_err().0, "tools");
        let huge = AgentWorkload {
            conversations_per_minute: 1_000_000.0,
            ..AgentWorkload::default()
        };
        assert_eq!(
            huge.validate(600.0).unwrap_err().0,
            "conversations_per_minute"
        );
    }
}
