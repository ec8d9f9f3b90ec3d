//! Budget fitting: history goes oldest first, then truncatable context is
//! cut; what cannot fit is a typed error with the numbers.

use palisade_core::{HeuristicEstimator, Message, TokenEstimator};
use palisade_prompt::{
    BudgetError, ContextSlot, PromptError, PromptInputs, PromptTemplate, TokenBudget,
};

fn chat_template() -> PromptTemplate {
    PromptTemplate::builder("chat")
        .role("You are a helpful assistant.")
        .task("Answer the question.")
        .context(ContextSlot::required("notes"))
        .context(ContextSlot::optional("document").truncatable())
        .user_message("question")
        .build()
        .unwrap()
}

/// 20 exchanges of about 100 tokens each, numbered so order is visible.
fn long_history() -> Vec<Message> {
    (0..20)
        .flat_map(|i| {
            [
                Message::user(format!("question {i}: {}", "lorem ipsum ".repeat(30))),
                Message::assistant(format!("answer {i}: {}", "dolor sit amet ".repeat(25))),
            ]
        })
        .collect()
}

fn inputs_with(history: Vec<Message>, document: Option<&str>) -> PromptInputs {
    let mut inputs = PromptInputs::new();
    inputs
        .context_text("notes", "Keep it short.")
        .history(history)
        .user_message("What is the latest answer?");
    if let Some(document) = document {
        inputs.context_text("document", document);
    }
    inputs
}

#[tokio::test]
async fn long_history_is_trimmed_oldest_first() {
    let template = chat_template();
    let history = long_history();
    let inputs = inputs_with(history.clone(), None);
    let full = template.render(&inputs).unwrap().to_chat_request();
    let full_tokens = HeuristicEstimator.estimate_request(&full).await;

    let budget = TokenBudget::new(full_tokens / 2 + 500, 500);
    let prompt = template.render_within(&inputs, &budget).unwrap();
    let report = prompt.budget_report().unwrap().clone();

    // Dropped whole exchanges, oldest first: what is kept is the newest suffix.
    assert!(report.dropped_history_messages > 0);
    assert_eq!(report.dropped_history_messages % 2, 0);
    assert_eq!(
        prompt.history(),
        &history[report.dropped_history_messages..]
    );
    assert!(report.truncated.is_empty());

    // It fits, the count is what the core estimator says, and max_tokens is set.
    let request = prompt.to_chat_request();
    assert_eq!(request.max_tokens, 500);
    let estimated = HeuristicEstimator.estimate_request(&request).await;
    assert_eq!(estimated, report.input_tokens);
    assert!(report.input_tokens <= budget.available_input_tokens());
    assert_eq!(report.available_input_tokens, full_tokens / 2);

    // Minimal: keeping one more (older) exchange would not have fitted.
    let mut one_more = request.clone();
    let start = report.dropped_history_messages - 2;
    one_more
        .messages
        .splice(0..0, history[start..start + 2].iter().cloned());
    assert!(HeuristicEstimator.estimate_request(&one_more).await > budget.available_input_tokens());

    // System, task and the latest user turn are intact.
    let last = request.messages.last().unwrap().text();
    assert!(last.starts_with("<task>\nAnswer the question.\n</task>"));
    assert!(last.ends_with("<question>\nWhat is the latest answer?\n</question>"));
    assert_eq!(
        request.system.as_deref(),
        Some("You are a helpful assistant.")
    );
    palisade_core::validate(&request).unwrap();
}

#[test]
fn a_prompt_that_fits_is_untouched() {
    let template = chat_template();
    let inputs = inputs_with(long_history(), Some("short doc"));
    let plain = template.render(&inputs).unwrap();
    let fitted = template
        .render_within(&inputs, &TokenBudget::new(200_000, 8_192))
        .unwrap();
    assert_eq!(fitted.history(), plain.history());
    assert_eq!(fitted.user_turn(), plain.user_turn());
    let report = fitted.budget_report().unwrap();
    assert_eq!(report.dropped_history_messages, 0);
    assert!(report.truncated.is_empty());
}

#[tokio::test]
async fn truncatable_context_is_cut_after_history_with_a_marker() {
    let template = chat_template();
    let document: String = (0..2_000)
        .map(|i| format!("line {i} of the document\n"))
        .collect();
    let inputs = inputs_with(long_history(), Some(&document));
    let budget = TokenBudget::new(3_000, 1_000);
    let prompt = template.render_within(&inputs, &budget).unwrap();
    let report = prompt.budget_report().unwrap();

    assert_eq!(
        report.dropped_history_messages, 40,
        "all history goes first"
    );
    assert!(prompt.history().is_empty());
    assert_eq!(report.truncated.len(), 1);
    let cut = &report.truncated[0];
    assert_eq!(cut.name, "document");
    assert_eq!(cut.total_chars, document.chars().count());
    assert!(cut.kept_chars > 0 && cut.kept_chars < cut.total_chars);

    let turn = prompt.user_turn();
    let omitted = cut.total_chars - cut.kept_chars;
    assert!(turn.contains(&format!(
        "[truncated: {omitted} of {} characters omitted to fit the context window]\n</document>",
        cut.total_chars
    )));
    assert!(
        turn.contains(&document[..cut.kept_chars]),
        "keeps the start"
    );
    assert!(
        turn.contains("<notes>\nKeep it short.\n</notes>"),
        "other blocks stay whole"
    );

    let request = prompt.to_chat_request();
    let estimated = HeuristicEstimator.estimate_request(&request).await;
    assert_eq!(estimated, report.input_tokens);
    assert!(estimated <= 2_000);
    // Close to the limit: the cut keeps as much as fits.
    assert!(estimated > 1_990, "{estimated}");
}

#[test]
fn an_unfittable_prompt_errors_with_the_numbers() {
    let template = chat_template();
    let mut inputs = inputs_with(long_history(), None);
    inputs.context_text("notes", "not truncatable ".repeat(1_000));
    let err = template
        .render_within(&inputs, &TokenBudget::new(4_000, 1_000))
        .unwrap_err();
    let PromptError::Budget(BudgetError::DoesNotFit {
        minimum_input_tokens,
        text_tokens,
        system_tokens,
        user_turn_tokens,
        available_input_tokens,
        context_window,
        max_tokens,
        dropped_history_messages,
        truncated_contexts,
    }) = err.clone()
    else {
        panic!("expected DoesNotFit, got {err:?}");
    };
    assert_eq!(available_input_tokens, 3_000);
    assert_eq!((context_window, max_tokens), (4_000, 1_000));
    assert_eq!(dropped_history_messages, 40);
    assert_eq!(truncated_contexts, 0);
    assert!(minimum_input_tokens > available_input_tokens);
    assert_eq!(minimum_input_tokens, 3 + system_tokens + user_turn_tokens);
    assert!(text_tokens > available_input_tokens, "{text_tokens}");
    let message = err.to_string();
    for number in [minimum_input_tokens, available_input_tokens, 4_000, 1_000] {
        assert!(message.contains(&number.to_string()), "{message}");
    }
}

#[test]
fn max_tokens_beyond_the_window_cannot_fit() {
    let template = chat_template();
    let inputs = inputs_with(Vec::new(), None);
    let err = template
        .render_within(&inputs, &TokenBudget::new(1_000, 2_000))
        .unwrap_err();
    assert!(matches!(
        err,
        PromptError::Budget(BudgetError::DoesNotFit {
            available_input_tokens: 0,
            ..
        })
    ));
}

/// One token per character: a stand-in for an exact tokenizer.
struct PerChar;
impl TokenEstimator for PerChar {
    fn estimate_text(&self, text: &str) -> u32 {
        u32::try_from(text.chars().count()).unwrap_or(u32::MAX)
    }
}

#[tokio::test]
async fn the_budget_counts_with_the_estimator_given() {
    let template = chat_template();
    let inputs = inputs_with(long_history(), None);
    let budget = TokenBudget::new(12_000, 1_000).with_estimator(PerChar);
    let prompt = template.render_within(&inputs, &budget).unwrap();
    let report = prompt.budget_report().unwrap();
    let request = prompt.to_chat_request();
    assert_eq!(
        PerChar.estimate_request(&request).await,
        report.input_tokens
    );
    assert!(report.input_tokens <= 11_000);
    // The heuristic (4 chars a token) would have kept everything.
    let heuristic = template
        .render_within(&inputs, &TokenBudget::new(12_000, 1_000))
        .unwrap();
    assert!(
        report.dropped_history_messages
            > heuristic.budget_report().unwrap().dropped_history_messages
    );
}

#[tokio::test]
async fn history_with_tool_blocks_is_counted_as_the_core_counts_it() {
    use palisade_core::ContentBlock;
    let template = chat_template();
    let mut tool_call = Message::assistant("Let me look that up.");
    tool_call.content.push(ContentBlock::ToolUse {
        id: "call_1".into(),
        name: "lookup_clause".into(),
        input: serde_json::json!({"section": "3.1", "query": "late fee ".repeat(40)}),
    });
    let mut tool_answer = Message::user("");
    tool_answer.content = vec![ContentBlock::tool_result(
        "call_1",
        "A fee of EUR 40. ".repeat(40),
    )];
    let mut history = long_history();
    history.extend([
        Message::user("What is the late fee?"),
        tool_call,
        tool_answer,
        Message::assistant("EUR 40."),
    ]);
    let inputs = inputs_with(history, None);
    let budget = TokenBudget::new(3_000, 1_000);
    let prompt = template.render_within(&inputs, &budget).unwrap();
    let report = prompt.budget_report().unwrap();
    assert!(report.dropped_history_messages > 0);
    let request = prompt.to_chat_request();
    assert_eq!(
        HeuristicEstimator.estimate_request(&request).await,
        report.input_tokens
    );
}

/// One item of a framework checklist, the way the seed service keeps them.
#[derive(serde::Serialize)]
struct ChecklistItem {
    id: String,
    requirement: String,
}

fn checklist(items: usize) -> Vec<ChecklistItem> {
    (1..=items)
        .map(|i| ChecklistItem {
            id: format!("ISO27001:A.5.{i}"),
            requirement: format!("Control {i} is documented, owned and reviewed."),
        })
        .collect()
}

fn analysis_inputs(section: &str) -> PromptInputs {
    let mut inputs = PromptInputs::new();
    inputs
        .var("document_title", "Security Policy")
        .var("document_type", "policy")
        .var("section_title", "Access control")
        .context_text("section", section);
    inputs
}

/// The rendered block of a data slot, as `context_toon` encodes and the
/// prompt escapes it.
fn data_block<T: serde::Serialize + ?Sized>(name: &str, value: &T) -> String {
    let encoded = palisade_toon::encode_for_prompt(value).unwrap();
    assert!(
        matches!(encoded.format, palisade_toon::PromptFormat::Toon(_)),
        "{}",
        encoded.text
    );
    format!(
        "<{name} format=\"toon\">\n{}\n</{name}>",
        palisade_prompt::escape_text(&encoded.text)
    )
}

#[tokio::test]
async fn the_framework_checklist_counts_against_the_budget_and_stays_whole() {
    let template = palisade_prompt::builtins::document_analysis();
    let section: String = (0..2_000)
        .map(|i| format!("{i}. Access is granted by the team lead.\n"))
        .collect();
    let budget = TokenBudget::new(6_000, 1_000);

    let without = template
        .render_within(&analysis_inputs(&section), &budget)
        .unwrap();
    let mut inputs = analysis_inputs(&section);
    let items = checklist(40);
    inputs.context_toon("framework_checklist", &items).unwrap();
    let with = template.render_within(&inputs, &budget).unwrap();

    // The checklist is data, never cut: the section gives way to it.
    let report = with.budget_report().unwrap();
    assert_eq!(report.truncated.len(), 1);
    assert_eq!(report.truncated[0].name, "section");
    let kept_without = without.budget_report().unwrap().truncated[0].kept_chars;
    assert!(
        report.truncated[0].kept_chars < kept_without,
        "{} >= {kept_without}",
        report.truncated[0].kept_chars
    );
    assert!(
        with.user_turn()
            .contains(&data_block("framework_checklist", &items)),
        "{}",
        with.user_turn()
    );
    let estimated = HeuristicEstimator
        .estimate_request(&with.to_chat_request())
        .await;
    assert_eq!(estimated, report.input_tokens);
    assert!(estimated <= budget.available_input_tokens());

    // A checklist that alone exceeds the window cannot fit.
    let mut inputs = analysis_inputs("A short section.");
    inputs
        .context_toon("framework_checklist", &checklist(2_000))
        .unwrap();
    let err = template.render_within(&inputs, &budget).unwrap_err();
    assert!(
        matches!(err, PromptError::Budget(BudgetError::DoesNotFit { .. })),
        "{err:?}"
    );
}

#[derive(serde::Serialize)]
struct PriorFinding {
    section: String,
    risk_level: &'static str,
    description: String,
}

#[tokio::test]
async fn session_context_counts_against_the_budget_and_stays_whole() {
    let template = palisade_prompt::builtins::chat_assistant();
    let session: Vec<PriorFinding> = (1..=30)
        .map(|i| PriorFinding {
            section: format!("3.{i}"),
            risk_level: "medium",
            description: format!("Finding {i} of the earlier analysis."),
        })
        .collect();
    let document: String = (0..2_000)
        .map(|i| format!("line {i} of the document\n"))
        .collect();
    let mut inputs = PromptInputs::new();
    inputs
        .var("assistant_name", "Clause")
        .var("document_title", "Master Services Agreement")
        .context_text("document", &document)
        .history(long_history())
        .user_message("Which findings are about payment?");
    inputs.context_toon("session", &session).unwrap();
    let budget = TokenBudget::new(6_000, 1_000);
    let prompt = template.render_within(&inputs, &budget).unwrap();

    // History goes first, then the document is cut; the session stays.
    let report = prompt.budget_report().unwrap();
    assert_eq!(report.dropped_history_messages, 40);
    assert_eq!(report.truncated.len(), 1);
    assert_eq!(report.truncated[0].name, "document");
    assert!(
        prompt
            .user_turn()
            .contains(&data_block("session", &session))
    );
    let estimated = HeuristicEstimator
        .estimate_request(&prompt.to_chat_request())
        .await;
    assert!(estimated <= budget.available_input_tokens());

    // Session context alone, in place of the document, fits as it is.
    let mut inputs = PromptInputs::new();
    inputs
        .var("assistant_name", "Clause")
        .var("document_title", "Master Services Agreement")
        .user_message("Which findings are about payment?");
    inputs.context_toon("session", &session).unwrap();
    let prompt = template.render_within(&inputs, &budget).unwrap();
    assert!(prompt.budget_report().unwrap().truncated.is_empty());
    assert!(!prompt.user_turn().contains("<document>"));
    assert!(
        prompt
            .user_turn()
            .contains(&data_block("session", &session))
    );
}
