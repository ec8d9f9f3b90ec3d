//! Reading JSON out of model replies: fenced, bare, wrapped in prose, with
//! braces inside strings, and cut off.

use palisade_prompt::builtins::{ChatAnswer, FindingCategory, SectionAnalysis, SectionLabels};
use palisade_prompt::{
    ExtractError, SEED_MIN_CONFIDENCE, extract_json, parse_json, retain_confident_json,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ANALYSIS: &str = r#"{"section_summary": "Payment terms.", "findings": [
  {"category": "deadline", "description": "Due in 30 days.", "evidence": "within 30 days", "confidence": 0.9},
  {"category": "risk", "description": "Fee {EUR 40} is \"fixed\".", "evidence": "a fee of <EUR 40>", "confidence": 0.55}
]}"#;

#[test]
fn fenced() {
    let reply = format!("```json\n{ANALYSIS}\n```");
    assert_eq!(extract_json(&reply).unwrap(), ANALYSIS);
    let bare_fence = format!("```\n{ANALYSIS}\n```");
    assert_eq!(extract_json(&bare_fence).unwrap(), ANALYSIS);
}

#[test]
fn unfenced() {
    assert_eq!(extract_json(ANALYSIS).unwrap(), ANALYSIS);
    assert_eq!(
        extract_json("  [1, {\"a\": []}]\n").unwrap(),
        "[1, {\"a\": []}]"
    );
}

#[test]
fn prose_wrapped() {
    let reply = format!(
        "Sure — I reviewed the section (see {{below}}).\n\n```json\n{ANALYSIS}\n```\n\nLet me know if you need more [details]."
    );
    let analysis: SectionAnalysis = parse_json(&reply).unwrap();
    assert_eq!(analysis.findings.len(), 2);
    assert_eq!(analysis.findings[0].category, FindingCategory::Deadline);

    let reply = format!("Here is my analysis: {ANALYSIS} Hope this helps!");
    let analysis: SectionAnalysis = parse_json(&reply).unwrap();
    assert_eq!(analysis.section_summary, "Payment terms.");
}

#[test]
fn nested_braces_inside_strings() {
    let reply = r#"Answer: {"answer": "Use {curly} and [square] and \"}\" freely", "citations": ["3.1}"], "confidence": 0.9} done"#;
    let answer: ChatAnswer = parse_json(reply).unwrap();
    assert_eq!(answer.answer, "Use {curly} and [square] and \"}\" freely");
    assert_eq!(answer.citations, ["3.1}"]);
}

#[test]
fn truncated_json_is_an_error_with_the_tail() {
    let cut = &ANALYSIS[..ANALYSIS.len() - 40];
    let reply = format!("```json\n{cut}");
    let err = parse_json::<SectionAnalysis>(&reply).unwrap_err();
    let ExtractError::Truncated { offset, excerpt } = &err else {
        panic!("expected Truncated, got {err:?}");
    };
    assert_eq!(*offset, "```json\n".len());
    assert!(excerpt.ends_with(&cut[cut.len() - 20..]), "{excerpt}");
    assert!(err.to_string().contains("cut off"));

    // Cut off without a fence, even though an inner object is complete.
    let err = extract_json(r#"{"findings": [{"a": 1}, {"b": "#).unwrap_err();
    assert!(
        matches!(err, ExtractError::Truncated { offset: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn wrong_shape_shows_the_offending_excerpt() {
    // The reply's own field is wrong (one bad label inside the list would
    // only be dropped, see tests/findings.rs).
    let reply = r#"{"answer": "Yes.", "citations": [], "confidence": "high"}"#;
    let err = parse_json::<ChatAnswer>(reply).unwrap_err();
    let ExtractError::Shape {
        excerpt,
        message,
        line,
        ..
    } = &err
    else {
        panic!("expected Shape, got {err:?}");
    };
    assert_eq!(*line, 1);
    assert!(message.contains("invalid type"), "{message}");
    assert!(excerpt.contains("\"high\""), "{excerpt}");

    let reply = r#"{"sections": {"id": "s1"}}"#;
    let err = parse_json::<SectionLabels>(reply).unwrap_err();
    assert!(matches!(err, ExtractError::Shape { .. }), "{err:?}");
}

#[test]
fn invalid_json_shows_the_offending_excerpt() {
    let reply = "Result:\n{\n  \"answer\": 'single quotes',\n  \"confidence\": 0.9\n}";
    let err = extract_json(reply).unwrap_err();
    let ExtractError::Invalid {
        line,
        column,
        excerpt,
        ..
    } = &err
    else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!((*line, *column), (2, 13));
    assert!(excerpt.contains("'single quotes'"), "{excerpt}");
}

#[test]
fn no_json_at_all() {
    let err = extract_json("I'm sorry, I can't analyse that section.").unwrap_err();
    assert!(matches!(err, ExtractError::NotFound { .. }));
    assert!(err.to_string().contains("I'm sorry"));
}

#[test]
fn confidence_filter_on_a_parsed_reply() {
    let mut analysis: SectionAnalysis = parse_json(ANALYSIS).unwrap();
    assert_eq!(analysis.retain_confident(SEED_MIN_CONFIDENCE), 1);
    assert_eq!(analysis.findings[0].description, "Due in 30 days.");

    let mut value: Value = parse_json(ANALYSIS).unwrap();
    let outcome =
        retain_confident_json(&mut value, "/findings", "/confidence", SEED_MIN_CONFIDENCE).unwrap();
    assert_eq!((outcome.kept, outcome.below_threshold), (1, 1));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[{}\\[\\]\"\\\\a-z ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z{}]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any object or array, wrapped in bracket-free prose (fenced or not),
    /// comes back exactly.
    #[test]
    fn any_wrapped_value_is_found(
        value in json_value().prop_filter("object or array", |v| v.is_object() || v.is_array()),
        before in "[a-zA-Z .,:!?\n]{0,30}",
        after in "[a-zA-Z .,:!?\n]{0,30}",
        fenced in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let json = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
        let reply = if fenced { format!("{before}\n```json\n{json}\n```\n{after}") } else { format!("{before}{json}{after}") };
        prop_assert_eq!(extract_json(&reply).unwrap(), json.as_str());
        prop_assert_eq!(parse_json::<Value>(&reply).unwrap(), value);
    }

    /// Arbitrary replies never panic.
    #[test]
    fn arbitrary_replies_never_panic(reply in "\\PC{0,200}") {
        let _ = parse_json::<Value>(&reply);
    }

    /// Replies dense with brackets, quotes and fences never panic, and what
    /// comes out is always valid JSON, a slice of the reply.
    #[test]
    fn bracket_heavy_replies_never_panic(reply in "([\\[\\]{}\"'`:,\\\\ a-zA-Z0-9\n]|```|True|None){0,120}") {
        if let Ok(json) = extract_json(&reply) {
            prop_assert!(serde_json::from_str::<Value>(json).is_ok(), "{json}");
            prop_assert!(reply.contains(json));
        }
        let _ = parse_json::<SectionAnalysis>(&reply);
    }
}

#[test]
fn top_level_array_and_the_json_macro() {
    let reply = "Labels:\n[{\"id\": \"s1\"}]";
    assert_eq!(parse_json::<Value>(reply).unwrap(), json!([{"id": "s1"}]));
}
