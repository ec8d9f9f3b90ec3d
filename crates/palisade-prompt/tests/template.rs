//! Building and rendering templates: strict interpolation, load-time syntax
//! errors, declared inputs, and the errors for inputs that do not match.

use palisade_core::Message;
use palisade_prompt::{
    ContextSlot, OutputSpec, PromptError, PromptInputs, PromptTemplate, TemplateError,
};

#[test]
fn syntax_error_fails_at_build_with_line_and_column() {
    let err = PromptTemplate::builder("broken")
        .task("Line one.\nAnalyse {{ section_title }.")
        .build()
        .unwrap_err();
    let PromptError::Template(TemplateError::Syntax {
        part, line, column, ..
    }) = &err
    else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!(part, "broken.task");
    assert_eq!(*line, 2);
    assert_eq!(*column, 26, "points at the lone closing brace");
    let message = err.to_string();
    assert!(
        message.contains("broken.task") && message.contains("line 2"),
        "{message}"
    );

    let err = PromptTemplate::builder("broken")
        .constraint("ok")
        .constraint("{% for x in xs %}no end")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("broken.constraints[1]"), "{err}");
}

#[test]
fn missing_variable_names_it() {
    let template = PromptTemplate::builder("t")
        .role("You are {{ persona }}.")
        .task("Analyse {{ section_title }}.")
        .build()
        .unwrap();
    assert_eq!(template.required_variables(), ["persona", "section_title"]);
    let mut inputs = PromptInputs::new();
    inputs.var("persona", "an analyst");
    let err = template.render(&inputs).unwrap_err();
    assert_eq!(
        err,
        PromptError::Template(TemplateError::MissingVariable {
            part: "t.task".into(),
            name: "section_title".into(),
            line: 1,
        })
    );
    assert!(err.to_string().contains("`section_title`"));
}

#[test]
fn strict_mode_rejects_missing_attributes_and_untested_conditions() {
    let template = PromptTemplate::builder("t")
        .task("{{ doc.title }}{% if flag %}x{% endif %}")
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs
        .var("doc", &serde_json::json!({"name": "n"}))
        .var("flag", &true);
    let err = template.render(&inputs).unwrap_err();
    assert!(
        matches!(
            err,
            PromptError::Template(TemplateError::Render { line: 1, .. })
        ),
        "{err:?}"
    );

    let template = PromptTemplate::builder("t")
        .task("{% if flag is defined %}x{% endif %}y")
        .build()
        .unwrap();
    assert_eq!(
        template.render(&PromptInputs::new()).unwrap().user_turn(),
        "<task>\ny\n</task>"
    );
}

#[test]
fn safe_opts_a_trusted_value_out_of_escaping() {
    let template = PromptTemplate::builder("t")
        .task("{{ a }} {{ b | safe }}")
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs.var("a", "<i>").var("b", "<i>");
    assert_eq!(
        template.render(&inputs).unwrap().user_turn(),
        "<task>\n&lt;i&gt; <i>\n</task>"
    );
}

#[test]
fn context_must_match_the_declared_slots() {
    let template = PromptTemplate::builder("t")
        .context(ContextSlot::required("document"))
        .context(ContextSlot::optional("notes"))
        .build()
        .unwrap();
    let err = template.render(&PromptInputs::new()).unwrap_err();
    assert_eq!(
        err,
        PromptError::MissingContext {
            template: "t".into(),
            name: "document".into()
        }
    );

    let mut inputs = PromptInputs::new();
    inputs
        .context_text("document", "d")
        .context_text("notse", "typo");
    let err = template.render(&inputs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "template `t` has no context `notse` (declared: document, notes)"
    );

    // Optional slots left out are not rendered; later values replace earlier ones.
    let mut inputs = PromptInputs::new();
    inputs
        .context_text("document", "first")
        .context_text("document", "second");
    assert_eq!(
        template.render(&inputs).unwrap().user_turn(),
        "<context>\n<document>\nsecond\n</document>\n</context>"
    );
}

#[test]
fn names_are_validated_at_build() {
    let err = PromptTemplate::builder("t")
        .context(ContextSlot::required("My Doc"))
        .build()
        .unwrap_err();
    assert!(matches!(err, PromptError::InvalidTagName { ref name } if name == "My Doc"));
    let err = PromptTemplate::builder("t")
        .user_message("q>")
        .build()
        .unwrap_err();
    assert!(matches!(err, PromptError::InvalidTagName { .. }));
    let err = PromptTemplate::builder("t")
        .context(ContextSlot::required("doc"))
        .context(ContextSlot::optional("doc"))
        .build()
        .unwrap_err();
    assert!(matches!(err, PromptError::DuplicateContext { .. }));
}

#[test]
fn user_message_and_history_rules() {
    let with_question = PromptTemplate::builder("q")
        .task("Answer.")
        .user_message("question")
        .build()
        .unwrap();
    let without = PromptTemplate::builder("n").task("Go.").build().unwrap();

    let err = with_question.render(&PromptInputs::new()).unwrap_err();
    assert!(matches!(err, PromptError::MissingUserMessage { .. }));
    assert!(err.to_string().contains("<question>"));

    let mut inputs = PromptInputs::new();
    inputs.user_message("hi");
    assert!(matches!(
        without.render(&inputs).unwrap_err(),
        PromptError::UnexpectedUserMessage { .. }
    ));

    inputs.history([Message::assistant("hello")]);
    let err = with_question.render(&inputs).unwrap_err();
    assert!(
        matches!(err, PromptError::InvalidHistory { index: 0, .. }),
        "{err:?}"
    );
    inputs.history([Message::user("a"), Message::user("b")]);
    assert!(matches!(
        with_question.render(&inputs).unwrap_err(),
        PromptError::InvalidHistory { index: 1, .. }
    ));
    inputs.history([Message::user("a")]);
    assert!(matches!(
        with_question.render(&inputs).unwrap_err(),
        PromptError::InvalidHistory { index: 0, .. }
    ));

    inputs.history([Message::user("a"), Message::assistant("b")]);
    let request = with_question.render(&inputs).unwrap().into_chat_request();
    assert_eq!(request.messages.len(), 3);
    palisade_core::validate(&request).unwrap();
}

#[test]
fn parts_are_trimmed_and_joined_byte_stably() {
    let template = PromptTemplate::builder("t")
        .role("\n  You are terse.  \n")
        .behaviour("Never guess.")
        .task("\nDo it.\n")
        .constraint("One.")
        .constraint("Two.")
        .output(OutputSpec::text("Plain text."))
        .build()
        .unwrap();
    let prompt = template.render(&PromptInputs::new()).unwrap();
    assert_eq!(prompt.system(), Some("You are terse.\n\nNever guess."));
    assert_eq!(
        prompt.user_turn(),
        "<task>\nDo it.\n</task>\n\n<constraints>\n- One.\n- Two.\n</constraints>\n\n<output_format>\nPlain text.\n</output_format>"
    );
    assert_eq!(
        prompt.to_text(),
        format!("You are terse.\n\nNever guess.\n\n{}", prompt.user_turn())
    );
}

#[test]
fn templates_and_inputs_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PromptTemplate>();
    assert_send_sync::<PromptInputs>();
    assert_send_sync::<palisade_prompt::RenderedPrompt>();
    assert_send_sync::<palisade_prompt::TokenBudget>();
}

/// A value whose serialization always fails.
struct Unserializable;
impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refusing to serialize"))
    }
}

#[test]
fn a_value_that_fails_to_serialize_fails_the_render_that_reads_it() {
    let template = PromptTemplate::builder("t")
        .task("{{ broken }}")
        .build()
        .unwrap();
    let mut inputs = PromptInputs::new();
    inputs.var("broken", &Unserializable);
    let err = template.render(&inputs).unwrap_err();
    assert!(
        matches!(err, PromptError::Template(TemplateError::Render { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("refusing to serialize"), "{err}");
}
