//! A streamed answer assembles into the same response as `complete`: text
//! and tool-use blocks in order, tool inputs parsed from their deltas, and
//! who served it; broken streams are typed errors, never panics.

use palisade_core::{
    Attempt, AttemptOutcome, ChatResponse, ChatStream, ContentBlock, ErrorKind, ProviderError,
    StopReason, StreamAssemblyError, StreamEvent, Usage, collect_stream, stream_from_response,
};
use serde_json::json;

fn events(list: Vec<StreamEvent>) -> Vec<Result<StreamEvent, ProviderError>> {
    list.into_iter().map(Ok).collect()
}

#[tokio::test]
async fn interleaved_text_and_tool_input_deltas_assemble_exactly() {
    use StreamEvent as E;
    let stream = ChatStream::from_events(
        "bedrock/m".into(),
        events(vec![
            E::TextDelta {
                text: "Let me ".into(),
            },
            E::TextDelta {
                text: "check.".into(),
            },
            E::BlockStop,
            E::ToolUseStart {
                id: "t1".into(),
                name: "weather".into(),
            },
            E::ToolInputDelta {
                json: "{\"city\":".into(),
            },
            E::ToolInputDelta {
                json: " \"Paris\"}".into(),
            },
            E::BlockStop,
            E::ToolUseStart {
                id: "t2".into(),
                name: "time".into(),
            },
            E::BlockStop,
            E::Usage(Usage::new(10, 20)),
            E::Stop {
                reason: StopReason::ToolUse,
            },
        ]),
    )
    .with_model("anthropic.claude");
    let response = collect_stream(stream).await.unwrap();
    assert_eq!(
        response.content,
        vec![
            ContentBlock::text("Let me check."),
            ContentBlock::ToolUse {
                id: "t1".into(),
                name: "weather".into(),
                input: json!({"city": "Paris"})
            },
            ContentBlock::ToolUse {
                id: "t2".into(),
                name: "time".into(),
                input: json!({})
            },
        ]
    );
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(response.served_by.as_str(), "bedrock/m");
    assert_eq!(response.model, "anthropic.claude");
    assert_eq!(response.tool_uses().count(), 2);
}

#[tokio::test]
async fn a_truncated_tool_input_is_a_typed_error() {
    use StreamEvent as E;
    // The connection is cut inside the tool input: no stop event.
    let cut = ChatStream::from_events(
        "m".into(),
        events(vec![
            E::ToolUseStart {
                id: "t1".into(),
                name: "weather".into(),
            },
            E::ToolInputDelta {
                json: "{\"city\": \"Par".into(),
            },
        ]),
    );
    let err = collect_stream(cut).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);

    // The stream says it stopped, but the input is not JSON.
    let malformed = ChatStream::from_events(
        "m".into(),
        events(vec![
            E::ToolUseStart {
                id: "t1".into(),
                name: "weather".into(),
            },
            E::ToolInputDelta {
                json: "{\"city\": \"Par".into(),
            },
            E::Stop {
                reason: StopReason::ToolUse,
            },
        ]),
    );
    let err = collect_stream(malformed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.message().contains("t1"), "{}", err.message());
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<StreamAssemblyError>())
        .cloned();
    assert!(
        matches!(source, Some(StreamAssemblyError::ToolInput { .. })),
        "{source:?}"
    );

    let orphan = ChatStream::from_events(
        "m".into(),
        events(vec![
            E::ToolInputDelta { json: "{}".into() },
            E::Stop {
                reason: StopReason::EndTurn,
            },
        ]),
    );
    assert_eq!(
        collect_stream(orphan).await.unwrap_err().kind(),
        ErrorKind::Internal
    );
}

#[tokio::test]
async fn a_response_with_tools_round_trips_through_a_stream_with_its_trail() {
    let mut response = ChatResponse::text(
        "primary".into(),
        "Calling the tool.",
        Some(Usage::new(5, 7)),
    );
    response.content.push(ContentBlock::ToolUse {
        id: "toolu_1".into(),
        name: "weather".into(),
        input: json!({"city": "Oslo", "days": [1, 2]}),
    });
    response.stop_reason = StopReason::ToolUse;
    response.model = "model-x".into();
    response.attempts = vec![
        Attempt::new(
            "primary".into(),
            AttemptOutcome::Succeeded,
            std::time::Duration::from_millis(3),
        )
        .with_model("model-x"),
    ];
    let stream = stream_from_response(response.clone());
    assert_eq!(stream.served_by().as_str(), "primary");
    assert_eq!(stream.attempts().len(), 1);
    assert_eq!(collect_stream(stream).await.unwrap(), response);
}
