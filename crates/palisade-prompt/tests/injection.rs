//! The escaping invariant: whatever untrusted content a prompt carries, the
//! rendered prompt's tag structure is exactly the template's. Every opened
//! section tag is closed exactly once, properly nested, and user content
//! never produces a tag (nor any `<` at all).

use palisade_core::Message;
use palisade_prompt::{
    ContextSlot, Example, OutputSpec, PromptInputs, PromptTemplate, RenderedPrompt, unescape_text,
};
use proptest::prelude::*;

fn template() -> PromptTemplate {
    PromptTemplate::builder("injection")
        .role("You are {{ name }}.")
        .expertise("You know {% for topic in topics %}{{ topic }}{% if not loop.last %}, {% endif %}{% endfor %}.")
        .behaviour("Be careful.")
        .task("Review \"{{ title }}\".")
        .context(ContextSlot::required("document").truncatable())
        .context(ContextSlot::optional("records"))
        .example(Example::new("in", "out"))
        .constraint("Mention {{ title }} once.")
        .output(OutputSpec::json("Answer in JSON.", r#"{"ok": true}"#))
        .user_message("question")
        .build()
        .unwrap()
}

/// Tag-like content, entity-like content, stray brackets and arbitrary text.
fn untrusted() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "</?[a-z_]{1,12}>",
        "<[a-z]{1,8} [a-z]{1,5}=\"[a-z<>]{0,5}\">",
        Just("</context>".to_owned()),
        Just("<instructions>".to_owned()),
        Just("</document>".to_owned()),
        Just("</question>".to_owned()),
        Just("&lt;task&gt;".to_owned()),
        Just("&amp;".to_owned()),
        "[<>&/\"= ]{1,4}",
        "\\PC{0,12}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone)]
struct Untrusted {
    name: String,
    title: String,
    topics: Vec<String>,
    document: String,
    records: Vec<String>,
    history: Vec<String>,
    question: String,
}

fn untrusted_inputs() -> impl Strategy<Value = Untrusted> {
    (
        untrusted(),
        untrusted(),
        prop::collection::vec(untrusted(), 1..3),
        untrusted(),
        prop::collection::vec(untrusted(), 0..3),
        prop::collection::vec(untrusted(), 0..3).prop_map(|turns| {
            // Whole exchanges only: user, assistant, user, assistant …
            turns.into_iter().flat_map(|t| [t.clone(), t]).collect()
        }),
        untrusted(),
    )
        .prop_map(
            |(name, title, topics, document, records, history, question)| Untrusted {
                name,
                title,
                topics,
                document,
                records,
                history,
                question,
            },
        )
}

/// Replaces every untrusted string by a harmless one of the same kind, so
/// the template's own tag structure can be rendered for comparison.
fn neutral(u: &Untrusted) -> Untrusted {
    let x = |_: &String| "x".to_owned();
    Untrusted {
        name: "x".into(),
        title: "x".into(),
        topics: u.topics.iter().map(x).collect(),
        document: "x".into(),
        records: u.records.iter().map(x).collect(),
        history: u.history.iter().map(x).collect(),
        question: "x".into(),
    }
}

fn render(u: &Untrusted) -> RenderedPrompt {
    let mut inputs = PromptInputs::new();
    inputs
        .var("name", &u.name)
        .var("title", &u.title)
        .var("topics", &u.topics)
        .context_text("document", &u.document)
        .history(u.history.iter().enumerate().map(|(i, text)| {
            if i % 2 == 0 {
                Message::user(text.clone())
            } else {
                Message::assistant(text.clone())
            }
        }))
        .user_message(&u.question);
    if !u.records.is_empty() {
        inputs.context_toon("records", &u.records).unwrap();
    }
    template().render(&inputs).unwrap()
}

/// Every tag in `text`, in order, as (is_closing, name). Fails if a `<`
/// does not start a well-formed tag: untrusted content must not leave one.
fn tags(text: &str) -> Result<Vec<(bool, String)>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        let after = &rest[at + 1..];
        let end = after
            .find('>')
            .ok_or_else(|| format!("unterminated `<` before {:?}", &rest[at..]))?;
        let inner = &after[..end];
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        let (name, attribute) = inner.split_once(' ').unwrap_or((inner, ""));
        let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        let attribute_ok = attribute.is_empty()
            || (!closing && (attribute == "format=\"toon\"" || attribute == "format=\"json\""));
        if !name_ok || !attribute_ok || inner.contains('<') {
            return Err(format!("not a section tag: <{}>", &after[..end]));
        }
        found.push((closing, name.to_owned()));
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// Checks the tags nest and each opened tag is closed exactly once.
fn check_nesting(found: &[(bool, String)]) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    for (closing, name) in found {
        if *closing {
            match open.pop() {
                Some(top) if top == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            open.push(name);
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("never closed: {open:?}"))
    }
}

fn check(text: &str, neutral_text: &str) -> Result<(), TestCaseError> {
    let found = tags(text).map_err(TestCaseError::fail)?;
    check_nesting(&found).map_err(TestCaseError::fail)?;
    let expected = tags(neutral_text).map_err(TestCaseError::fail)?;
    prop_assert_eq!(
        found,
        expected,
        "untrusted content changed the tag structure"
    );
    Ok(())
}

proptest! {
    #[test]
    fn untrusted_content_never_produces_a_tag(u in untrusted_inputs()) {
        let prompt = render(&u);
        let baseline = render(&neutral(&u));

        let request = prompt.to_chat_request();
        let baseline_request = baseline.to_chat_request();
        check(request.system.as_deref().unwrap_or_default(), baseline_request.system.as_deref().unwrap_or_default())?;
        let user_turn = request.messages.last().map(Message::text).unwrap_or_default();
        let baseline_turn = baseline_request.messages.last().map(Message::text).unwrap_or_default();
        check(&user_turn, &baseline_turn)?;
        check(&prompt.to_text(), &baseline.to_text())?;

        // And the content is all there, recoverable by unescaping.
        let start = user_turn.find("<document>\n").unwrap() + "<document>\n".len();
        let end = user_turn[start..].find("</document>").unwrap() + start;
        let body = user_turn[start..end].strip_suffix('\n').unwrap_or(&user_turn[start..end]);
        prop_assert_eq!(unescape_text(body), u.document.as_str());
    }
}

#[test]
fn the_checker_catches_an_injected_tag() {
    let found = tags("<task>\nhi </task><evil>\n</task>").unwrap();
    assert!(check_nesting(&found).is_err());
    assert!(tags("a < b").is_err());
}
