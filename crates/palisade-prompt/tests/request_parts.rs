//! Tools and prompt-cache points declared by a template (and carried by a
//! `context_toon` block) reach the rendered `ChatRequest` where the request
//! model puts them, count against a token budget exactly, and a bad
//! declaration fails at build naming the field.

use palisade_core::{
    CachePoint, CacheTtl, ChatRequest, ContentBlock, HeuristicEstimator, Message, TokenEstimator,
    Tool, ToolChoice, validate,
};
use palisade_prompt::{ContextSlot, PromptError, PromptInputs, PromptTemplate, TokenBudget};
use serde_json::json;

fn weather() -> Tool {
    Tool::new(
        "get_weather",
        "Current weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

fn one_hour() -> CachePoint {
    CachePoint {
        ttl: CacheTtl::OneHour,
    }
}

/// The texts of a message's blocks, and where its cache points sit.
fn shape(message: &Message) -> Vec<String> {
    message
        .content
        .iter()
        .map(|b| match b {
            ContentBlock::Text { text } => format!("text({})", text.len()),
            ContentBlock::CachePoint { ttl } => format!("cache({ttl:?})"),
            other => other.type_name().to_owned(),
        })
        .collect()
}

fn joined_text(message: &Message) -> String {
    message
        .content
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect()
}

#[test]
fn tools_choice_and_system_and_tools_cache_points_reach_the_request() {
    let template = PromptTemplate::builder("agent")
        .role("You are a weather assistant.")
        .task("Answer the question, calling tools as needed.")
        .user_message("question")
        .tool(weather())
        .tool_choice(ToolChoice::Auto)
        .cache_after_system(CachePoint::default())
        .cache_after_tools(one_hour())
        .build()
        .unwrap();
    assert_eq!(template.tools(), [weather()]);
    let mut inputs = PromptInputs::new();
    inputs.user_message("Weather in Lisbon?");
    let prompt = template.render(&inputs).unwrap();
    assert_eq!(prompt.tools(), [weather()]);

    let request = prompt.to_chat_request();
    assert_eq!(request.tools, [weather()]);
    assert_eq!(request.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(request.system_cache_point, Some(CachePoint::default()));
    assert_eq!(request.tools_cache_point, Some(one_hour()));
    // No cache point inside the turn: one text block, as before.
    assert_eq!(shape(&request.messages[0]).len(), 1);
    assert_eq!(validate(&request), Ok(()));
}

#[test]
fn a_context_slot_cache_point_cuts_the_user_turn_after_its_block() {
    let template = PromptTemplate::builder("doc")
        .task("Answer from the handbook.")
        .context(ContextSlot::required("handbook").with_cache_point(one_hour()))
        .context(ContextSlot::optional("notes"))
        .user_message("question")
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs
        .context_text("handbook", "Rule 1. Rule 2.")
        .context_text("notes", "today only")
        .user_message("What is rule 2?");
    let prompt = template.render(&inputs).unwrap();
    let request = prompt.to_chat_request();
    let turn = &request.messages[0];

    assert_eq!(turn.content.len(), 3, "{:?}", shape(turn));
    assert_eq!(
        turn.content[1],
        ContentBlock::CachePoint {
            ttl: CacheTtl::OneHour
        }
    );
    let before = turn.content[0].as_text().unwrap();
    assert!(before.starts_with("<task>"), "{before}");
    assert!(before.ends_with("Rule 1. Rule 2.\n</handbook>"), "{before}");
    let after = turn.content[2].as_text().unwrap();
    assert!(after.starts_with("\n<notes>"), "{after}");
    // Cut, not changed: the pieces are the user turn, in order.
    assert_eq!(joined_text(turn), prompt.user_turn());
    // The text rendering has no cache points and is unchanged by them.
    assert!(!prompt.to_text().contains("cache"), "{}", prompt.to_text());
    assert_eq!(validate(&request), Ok(()));
}

#[test]
fn a_context_toon_block_can_carry_its_own_cache_point() {
    #[derive(serde::Serialize)]
    struct Row {
        id: u32,
        name: &'static str,
    }
    let rows: Vec<Row> = (1..=5).map(|id| Row { id, name: "item" }).collect();
    let template = PromptTemplate::builder("rows")
        .task("Summarise the rows.")
        .context(ContextSlot::required("rows"))
        .context(ContextSlot::required("question_context"))
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs
        .context_toon_cached("rows", &rows, CachePoint::default())
        .unwrap();
    inputs.context_text("question_context", "only ids above 2");
    let request = template.render(&inputs).unwrap().into_chat_request();
    let turn = &request.messages[0];
    assert_eq!(
        shape(turn),
        [
            format!("text({})", turn.content[0].as_text().unwrap().len()),
            "cache(FiveMinutes)".to_owned(),
            format!("text({})", turn.content[2].as_text().unwrap().len()),
        ]
    );
    assert!(
        turn.content[0].as_text().unwrap().ends_with("</rows>"),
        "{turn:?}"
    );

    // Without the cache point, the same data renders as one block.
    let mut plain = PromptInputs::new();
    plain.context_toon("rows", &rows).unwrap();
    plain.context_text("question_context", "only ids above 2");
    let request = template.render(&plain).unwrap().into_chat_request();
    assert_eq!(request.messages[0].content.len(), 1);
}

#[test]
fn history_and_user_turn_cache_points_mark_the_conversation() {
    let template = PromptTemplate::builder("chat")
        .task("Answer.")
        .user_message("question")
        .cache_after_history(CachePoint::default())
        .cache_after_user_turn(one_hour())
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs
        .history([Message::user("Hi"), Message::assistant("Hello!")])
        .user_message("Weather?");
    let request = template.render(&inputs).unwrap().into_chat_request();
    assert_eq!(
        shape(&request.messages[1]),
        ["text(6)", "cache(FiveMinutes)"]
    );
    let last = request.messages[2].content.last().unwrap();
    assert_eq!(
        *last,
        ContentBlock::CachePoint {
            ttl: CacheTtl::OneHour
        }
    );
    assert_eq!(validate(&request), Ok(()));

    // No history: no history cache point, and the turn still validates.
    let mut fresh = PromptInputs::new();
    fresh.user_message("Weather?");
    let request = template.render(&fresh).unwrap().into_chat_request();
    assert_eq!(request.messages.len(), 1);
    let cache_points = request.messages[0]
        .content
        .iter()
        .filter(|b| matches!(b, ContentBlock::CachePoint { .. }))
        .count();
    assert_eq!(cache_points, 1);
}

#[tokio::test]
async fn tools_and_cache_points_are_counted_exactly_against_a_budget() {
    let template = PromptTemplate::builder("agent")
        .task("Answer.")
        .context(
            ContextSlot::required("document")
                .truncatable()
                .with_cache_point(CachePoint::default()),
        )
        .user_message("question")
        .tool(weather())
        .cache_after_tools(CachePoint::default())
        .cache_after_history(CachePoint::default())
        .build()
        .unwrap();
    let turn = "word ".repeat(150);
    let mut inputs = PromptInputs::new();
    inputs
        .context_text("document", "paragraph of text. ".repeat(200))
        .history((0..6).flat_map(|_| [Message::user(&turn), Message::assistant(&turn)]))
        .user_message("And now?");

    let prompt = template
        .render_within(&inputs, &TokenBudget::new(3_000, 500))
        .unwrap();
    let report = prompt.budget_report().unwrap().clone();
    let request: ChatRequest = prompt.into_chat_request();
    assert_eq!(
        HeuristicEstimator.estimate_request(&request).await,
        report.input_tokens,
        "the fitted request estimates to the reported count, tools included"
    );
    assert!(report.input_tokens <= 2_500, "{report:?}");
    assert!(
        report.dropped_history_messages > 0,
        "the budget was tight: {report:?}"
    );
    // The history that is left still ends with its cache point.
    if let Some(last_history) = request.messages.iter().rev().nth(1) {
        assert!(matches!(
            last_history.content.last(),
            Some(ContentBlock::CachePoint { .. })
        ));
    }
    assert_eq!(validate(&request), Ok(()));
}

#[test]
fn bad_tool_declarations_fail_at_build_naming_the_field() {
    let field_of = |err: PromptError| match err {
        PromptError::InvalidRequestPart {
            template, field, ..
        } => {
            assert_eq!(template, "t");
            field
        }
        other => panic!("expected InvalidRequestPart, got {other:?}"),
    };
    let duplicate = PromptTemplate::builder("t")
        .tool(weather())
        .tool(weather())
        .build()
        .unwrap_err();
    assert_eq!(field_of(duplicate), "tools[1].name");

    let bad_name = PromptTemplate::builder("t")
        .tool(Tool::new("get weather", "d", json!({"type": "object"})))
        .build()
        .unwrap_err();
    assert_eq!(field_of(bad_name), "tools[0].name");

    let unknown_choice = PromptTemplate::builder("t")
        .tool(weather())
        .tool_choice(ToolChoice::Tool {
            name: "get_time".into(),
        })
        .build()
        .unwrap_err();
    assert_eq!(field_of(unknown_choice), "tool_choice.name");

    let cache_without_tools = PromptTemplate::builder("t")
        .cache_after_tools(CachePoint::default())
        .build()
        .unwrap_err();
    let message = cache_without_tools.to_string();
    assert_eq!(field_of(cache_without_tools), "tools_cache_point");
    assert!(
        message.contains("template `t`: tools_cache_point"),
        "{message}"
    );
}
