//! One test per validation rule: the error kind, and a message that names the field.

use palisade_core::{
    Capabilities, ChatRequest, ContentBlock, DocumentFormat, ErrorKind, Feature, ImageFormat,
    MediaSource, Message, ProviderError, Role, StructuredOutput, Tool, ToolChoice,
    ValidationErrorKind, validate, validate_for,
};

fn assert_invalid(req: &ChatRequest, kind: ValidationErrorKind, field: &str) {
    let err = validate(req).expect_err("request should be rejected");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.field(), field, "{err}");
    assert!(
        err.to_string().contains(field),
        "message {err:?} should name the field {field}"
    );
    // Adapters turn it into the taxonomy's InvalidRequest.
    let provider_err = ProviderError::from(err);
    assert_eq!(provider_err.kind(), ErrorKind::InvalidRequest);
    assert!(provider_err.to_string().contains(field));
}

#[test]
fn a_well_formed_request_passes() {
    let req = ChatRequest::new(vec![
        Message::user("hi"),
        Message::assistant("hello"),
        Message::user("how are you?"),
    ])
    .with_system("be brief")
    .with_temperature(1.0)
    .with_max_tokens(2048)
    .with_thinking(1024);
    assert_eq!(validate(&req), Ok(()));
}

#[test]
fn empty_messages() {
    assert_invalid(
        &ChatRequest::new(vec![]),
        ValidationErrorKind::EmptyMessages,
        "messages",
    );
}

#[test]
fn empty_content_blocks() {
    let req = ChatRequest::new(vec![Message {
        role: Role::User,
        content: vec![],
    }]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyContent,
        "messages[0].content",
    );
}

#[test]
fn blank_text_is_empty_content() {
    let req = ChatRequest::new(vec![Message::user("hi"), Message::assistant("  \n ")]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyContent,
        "messages[1].content",
    );
}

#[test]
fn first_message_must_be_user() {
    let req = ChatRequest::new(vec![Message::assistant("hello")]);
    assert_invalid(
        &req,
        ValidationErrorKind::FirstMessageNotUser,
        "messages[0].role",
    );
}

#[test]
fn roles_must_alternate() {
    let req = ChatRequest::new(vec![
        Message::user("a"),
        Message::assistant("b"),
        Message::assistant("c"),
    ]);
    assert_invalid(
        &req,
        ValidationErrorKind::RolesNotAlternating,
        "messages[2].role",
    );
}

#[test]
fn nul_byte_in_message_text() {
    let req = ChatRequest::new(vec![Message {
        role: Role::User,
        content: vec![ContentBlock::text("ok"), ContentBlock::text("bad\0byte")],
    }]);
    assert_invalid(
        &req,
        ValidationErrorKind::NulByte,
        "messages[0].content[1].text",
    );
}

#[test]
fn nul_byte_in_system() {
    let req = ChatRequest::user("hi").with_system("sys\0tem");
    assert_invalid(&req, ValidationErrorKind::NulByte, "system");
}

#[test]
fn temperature_out_of_range() {
    assert_invalid(
        &ChatRequest::user("hi").with_temperature(1.5),
        ValidationErrorKind::TemperatureOutOfRange,
        "temperature",
    );
    assert_invalid(
        &ChatRequest::user("hi").with_temperature(f32::NAN),
        ValidationErrorKind::TemperatureOutOfRange,
        "temperature",
    );
}

#[test]
fn top_p_out_of_range() {
    let mut req = ChatRequest::user("hi");
    req.top_p = Some(-0.1);
    assert_invalid(&req, ValidationErrorKind::TopPOutOfRange, "top_p");
}

#[test]
fn max_tokens_zero() {
    assert_invalid(
        &ChatRequest::user("hi").with_max_tokens(0),
        ValidationErrorKind::MaxTokensZero,
        "max_tokens",
    );
}

#[test]
fn thinking_budget_not_smaller_than_max_tokens() {
    let req = ChatRequest::user("hi")
        .with_max_tokens(1024)
        .with_thinking(1024);
    assert_invalid(
        &req,
        ValidationErrorKind::ThinkingBudgetTooLarge,
        "thinking.budget_tokens",
    );
}

fn tool(name: &str) -> Tool {
    Tool::new(name, "a tool", serde_json::json!({"type": "object"}))
}

/// user asks, assistant calls `weather` (id `t1`), user answers it.
fn tool_conversation() -> ChatRequest {
    ChatRequest::new(vec![
        Message::user("weather in Paris?"),
        Message::new(
            Role::Assistant,
            vec![ContentBlock::ToolUse {
                id: "t1".into(),
                name: "weather".into(),
                input: serde_json::json!({"city": "Paris"}),
            }],
        ),
        Message::new(Role::User, vec![ContentBlock::tool_result("t1", "21 C")]),
    ])
    .with_tool(tool("weather"))
}

#[test]
fn a_well_formed_tool_conversation_passes() {
    let req = tool_conversation()
        .with_tool_choice(ToolChoice::Tool {
            name: "weather".into(),
        })
        .with_structured_output(StructuredOutput::new(
            "answer",
            serde_json::json!({"type": "object"}),
        ));
    assert_eq!(validate(&req), Ok(()));
    assert_eq!(validate_for(&req, &Capabilities::all()), Ok(()));
}

#[test]
fn tool_name_pattern() {
    let too_long = "x".repeat(65);
    for bad in ["", "has space", "dot.ted", too_long.as_str()] {
        let req = ChatRequest::user("hi")
            .with_tool(tool("ok"))
            .with_tool(tool(bad));
        assert_invalid(&req, ValidationErrorKind::InvalidToolName, "tools[1].name");
    }
    let req = ChatRequest::user("hi").with_tool(tool(&"a-Z_9".repeat(12)));
    assert_eq!(validate(&req), Ok(()));
}

#[test]
fn tool_names_unique() {
    let req = ChatRequest::user("hi")
        .with_tool(tool("a"))
        .with_tool(tool("b"))
        .with_tool(tool("a"));
    assert_invalid(
        &req,
        ValidationErrorKind::DuplicateToolName,
        "tools[2].name",
    );
}

#[test]
fn tool_input_schema_is_an_object() {
    let req =
        ChatRequest::user("hi").with_tool(Tool::new("t", "d", serde_json::json!("not a schema")));
    assert_invalid(
        &req,
        ValidationErrorKind::ToolSchemaNotObject,
        "tools[0].input_schema",
    );
}

#[test]
fn tool_choice_names_an_existing_tool() {
    let req = ChatRequest::user("hi")
        .with_tool(tool("weather"))
        .with_tool_choice(ToolChoice::Tool {
            name: "clock".into(),
        });
    assert_invalid(
        &req,
        ValidationErrorKind::UnknownToolChoice,
        "tool_choice.name",
    );
}

#[test]
fn forcing_tool_choice_needs_tools() {
    for choice in [
        ToolChoice::Any,
        ToolChoice::Tool {
            name: "weather".into(),
        },
    ] {
        let req = ChatRequest::user("hi").with_tool_choice(choice);
        assert_invalid(
            &req,
            ValidationErrorKind::ToolChoiceWithoutTools,
            "tool_choice",
        );
    }
    // auto and none without tools are harmless.
    for choice in [ToolChoice::Auto, ToolChoice::None] {
        assert_eq!(
            validate(&ChatRequest::user("hi").with_tool_choice(choice)),
            Ok(())
        );
    }
}

#[test]
fn tool_use_only_in_assistant_turns() {
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::text("hi"),
            ContentBlock::ToolUse {
                id: "t1".into(),
                name: "weather".into(),
                input: serde_json::json!({}),
            },
        ],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::ToolUseOutsideAssistant,
        "messages[0].content[1]",
    );
}

#[test]
fn tool_result_only_in_user_turns() {
    let mut req = tool_conversation();
    req.messages[1]
        .content
        .push(ContentBlock::tool_result("t1", "early"));
    assert_invalid(
        &req,
        ValidationErrorKind::ToolResultOutsideUser,
        "messages[1].content[1]",
    );
}

#[test]
fn tool_result_answers_a_tool_use_of_the_previous_turn() {
    let mut req = tool_conversation();
    req.messages[2].content = vec![
        ContentBlock::tool_result("t1", "21 C"),
        ContentBlock::tool_result("t2", "no such call"),
    ];
    assert_invalid(
        &req,
        ValidationErrorKind::OrphanToolResult,
        "messages[2].content[1].tool_use_id",
    );
    // A result in the first turn has no previous turn at all.
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::tool_result("t1", "x")],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::OrphanToolResult,
        "messages[0].content[0].tool_use_id",
    );
    // An id from two turns back does not count.
    let mut req = tool_conversation();
    req.messages.push(Message::assistant("it is 21 C"));
    req.messages.push(Message::new(
        Role::User,
        vec![ContentBlock::tool_result("t1", "again")],
    ));
    assert_invalid(
        &req,
        ValidationErrorKind::OrphanToolResult,
        "messages[4].content[0].tool_use_id",
    );
}

#[test]
fn thinking_allows_only_auto_or_none_tool_choice() {
    let base = tool_conversation()
        .with_max_tokens(4096)
        .with_thinking(2048);
    for choice in [ToolChoice::Auto, ToolChoice::None] {
        assert_eq!(validate(&base.clone().with_tool_choice(choice)), Ok(()));
    }
    for choice in [
        ToolChoice::Any,
        ToolChoice::Tool {
            name: "weather".into(),
        },
    ] {
        assert_invalid(
            &base.clone().with_tool_choice(choice),
            ValidationErrorKind::ThinkingWithForcedTool,
            "tool_choice",
        );
    }
}

#[test]
fn base64_media_must_decode() {
    let bad = MediaSource::Base64 {
        data: "not base64!".into(),
    };
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::text("look"),
            ContentBlock::Image {
                format: ImageFormat::Png,
                source: bad.clone(),
            },
        ],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::InvalidBase64,
        "messages[0].content[1].source.data",
    );
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::Document {
            name: "report".into(),
            format: DocumentFormat::Pdf,
            source: bad.clone(),
        }],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::InvalidBase64,
        "messages[0].content[0].source.data",
    );
    // Inside a tool result too.
    let mut req = tool_conversation();
    req.messages[2].content = vec![ContentBlock::ToolResult {
        tool_use_id: "t1".into(),
        content: vec![ContentBlock::Image {
            format: ImageFormat::Png,
            source: bad,
        }],
        is_error: false,
    }];
    assert_invalid(
        &req,
        ValidationErrorKind::InvalidBase64,
        "messages[2].content[0].content[0].source.data",
    );
    // Good bytes pass.
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::image(ImageFormat::Png, b"\x89PNG")],
    )]);
    assert_eq!(validate(&req), Ok(()));
}

#[test]
fn document_name_non_empty() {
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::document(" ", DocumentFormat::Txt, b"hello")],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyDocumentName,
        "messages[0].content[0].name",
    );
}

#[test]
fn structured_output_name_pattern() {
    let req = ChatRequest::user("hi").with_structured_output(StructuredOutput::new(
        "my answer",
        serde_json::json!({"type": "object"}),
    ));
    assert_invalid(
        &req,
        ValidationErrorKind::InvalidStructuredOutputName,
        "structured_output.name",
    );
}

#[test]
fn structured_output_schema_compiles() {
    let req = ChatRequest::user("hi").with_structured_output(StructuredOutput::new(
        "answer",
        serde_json::json!({"type": "no-such-type"}),
    ));
    assert_invalid(
        &req,
        ValidationErrorKind::InvalidStructuredOutputSchema,
        "structured_output.schema",
    );
}

#[test]
fn only_cache_points_is_empty_content() {
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::cache_point(), ContentBlock::cache_point()],
    )]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyContent,
        "messages[0].content",
    );
}

#[test]
fn validate_for_names_the_unsupported_field() {
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::text("look"),
            ContentBlock::image(ImageFormat::Png, b"\x89PNG"),
        ],
    )]);
    let err = validate_for(&req, &Capabilities::text_only()).expect_err("no images");
    assert_eq!(
        err.kind(),
        ValidationErrorKind::Unsupported(Feature::Images)
    );
    assert_eq!(err.field(), "messages[0].content[1]");
    assert!(err.to_string().contains("messages[0].content[1]"), "{err}");
    assert_eq!(ProviderError::from(err).kind(), ErrorKind::InvalidRequest);

    // The request's own rules come first.
    let err = validate_for(&req.clone().with_max_tokens(0), &Capabilities::text_only())
        .expect_err("max_tokens 0");
    assert_eq!(err.kind(), ValidationErrorKind::MaxTokensZero);

    let mut caps = Capabilities::all();
    caps.max_images = Some(0);
    let err = validate_for(&req, &caps).expect_err("too many images");
    assert_eq!(
        err.kind(),
        ValidationErrorKind::Unsupported(Feature::ImageCount)
    );
}
