//! Full-fidelity requests through the whole canonical stack (`StackBuilder`:
//! limiter, breaker, retry, fallback): tools reach a fallback candidate
//! unchanged, and a candidate that cannot serve a request's features is
//! passed over with the reason in the attempts trail.

use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{
    AttemptOutcome, Capabilities, ChatRequest, ChatResponse, ChatStream, ContentBlock, Feature,
    ImageFormat, Message, Provider, ProviderError, ProviderId, Role, SkipReason, Tool, ToolChoice,
    async_trait,
};
use palisade_stack::{FallbackStack, StackBuilder};
use serde_json::json;

const TWO_CANDIDATES: &str = r#"
name = "caps"

[[candidates]]
id = "primary"

[[candidates]]
id = "secondary"
"#;

/// A scripted model that states what it accepts, as a real provider's
/// `capabilities` does (the scripted provider itself accepts everything).
struct Stating {
    inner: ScriptedProvider,
    capabilities: Capabilities,
}

#[async_trait]
impl Provider for Stating {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.inner.complete(req).await
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.inner.stream(req).await
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}

fn stack(primary: impl Provider + 'static, secondary: impl Provider + 'static) -> FallbackStack {
    StackBuilder::from_toml(TWO_CANDIDATES)
        .unwrap()
        .provider("primary", primary)
        .provider("secondary", secondary)
        .build()
        .unwrap()
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "get_weather",
            "Current weather for a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        ),
        Tool::new(
            "get_time",
            "Local time in a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}, "format": {"enum": ["12h", "24h"]}}}),
        ),
    ]
}

#[tokio::test(start_paused = true)]
async fn a_tool_request_falls_back_from_a_throttled_primary_with_its_tools_unchanged() {
    let primary = ScriptedProvider::new("primary").then_error(ProviderError::throttled(
        "rate exceeded",
        Some(Duration::from_secs(2)),
    ));
    let secondary = ScriptedProvider::new("secondary").then_text("calling tools");
    let stack = stack(primary.clone(), secondary.clone());

    let mut req =
        ChatRequest::user("Weather and time in Lisbon?").with_tool_choice(ToolChoice::Any);
    req.parallel_tool_calls = Some(true);
    for tool in tools() {
        req = req.with_tool(tool);
    }
    let answer = stack.complete(req.clone()).await.unwrap();

    assert_eq!(answer.served_by.as_str(), "secondary");
    let outcomes: Vec<_> = answer
        .attempts
        .iter()
        .map(|a| (a.provider.as_str().to_owned(), a.outcome.clone()))
        .collect();
    assert!(
        matches!(&outcomes[0], (id, AttemptOutcome::Failed { kind, .. }) if id == "primary" && *kind == palisade_core::ErrorKind::Throttled),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.last(),
        Some(&("secondary".to_owned(), AttemptOutcome::Succeeded))
    );
    // Both candidates saw the same tools, choice and parallel switch, as sent.
    for model in [&primary, &secondary] {
        let calls = model.calls();
        assert_eq!(calls.len(), 1, "{}", model.id());
        let sent = &calls[0].request;
        assert_eq!(sent.tools, req.tools, "{}", model.id());
        assert_eq!(sent.tool_choice, Some(ToolChoice::Any));
        assert_eq!(sent.parallel_tool_calls, Some(true));
    }
}

#[tokio::test(start_paused = true)]
async fn a_vision_request_skips_a_candidate_without_images_and_says_why() {
    let text_only = ScriptedProvider::new("primary").then_text("never called");
    let primary = Stating {
        inner: text_only.clone(),
        capabilities: Capabilities::text_only(),
    };
    let vision = ScriptedProvider::new("secondary").then_text("a cat on a mat");
    let stack = stack(primary, vision.clone());

    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::text("What is in the picture?"),
            ContentBlock::image(ImageFormat::Png, b"\x89PNG\r\n\x1a\n"),
        ],
    )]);
    let answer = stack.complete(req).await.unwrap();

    assert_eq!(answer.text_content(), "a cat on a mat");
    assert_eq!(
        text_only.call_count(),
        0,
        "the text-only candidate was called"
    );
    assert_eq!(vision.call_count(), 1);
    let first = &answer.attempts[0];
    assert_eq!(first.provider.as_str(), "primary");
    assert_eq!(
        first.outcome,
        AttemptOutcome::Skipped(SkipReason::Unsupported {
            feature: Feature::Images,
            field: "messages[0].content[1]".to_owned(),
        })
    );
    assert!(
        first.outcome.to_string().contains("messages[0].content[1]"),
        "{}",
        first.outcome
    );
    assert_eq!(
        stack
            .stats()
            .candidate("primary")
            .unwrap()
            .skipped_unsupported,
        1
    );

    // A text request still goes to the text-only primary.
    let text = stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(text.served_by.as_str(), "primary");
}
