//! A corpus of realistic model replies, each with the outcome extraction
//! must give: the JSON it finds (as a slice of the reply), or why it finds
//! none. The rules under test (`extract_json`'s docs):
//!
//! - a fenced block that holds complete, valid JSON wins;
//! - otherwise only top-level values count: a value nested in a larger one
//!   is never extracted on its own, so a broken outer object is `Invalid`,
//!   never its `["4"]`;
//! - objects come before arrays (asides in prose are bracketed: `[4]`),
//!   and of the preferred kind the largest that parses wins;
//! - brackets that do not start JSON (`[ below`, `"{"`) are prose: they
//!   never make a complete reply read as cut off;
//! - a value cut off by the end of the reply is `Truncated`.

use palisade_prompt::{ExtractError, extract_json};

/// What extraction must give for one reply.
#[derive(Debug)]
enum Outcome {
    /// This JSON, exactly.
    Json(&'static str),
    /// `Invalid`, with an excerpt containing this text.
    Invalid(&'static str),
    /// `Truncated`.
    Truncated,
    /// `NotFound`.
    NotFound,
}

use Outcome::{Invalid, Json, NotFound, Truncated};

const ANSWER: &str = r#"{"answer": "Yes, within 30 days.", "citations": ["4"], "confidence": 0.9}"#;

fn corpus() -> Vec<(&'static str, String, Outcome)> {
    vec![
        // Fences.
        (
            "fenced json",
            format!("Here you go:\n```json\n{ANSWER}\n```\nAnything else?"),
            Json(ANSWER),
        ),
        ("bare fence", format!("```\n{ANSWER}\n```"), Json(ANSWER)),
        (
            "uppercase info string, indented fence",
            format!("Result:\n  ```JSON\n  {ANSWER}\n  ```"),
            Json(ANSWER),
        ),
        (
            "fence after an unbalanced brace in prose",
            format!("Here is {{what you asked:\n```json\n{ANSWER}\n```"),
            Json(ANSWER),
        ),
        (
            "fenced, cut off",
            "```json\n{\"answer\": \"Yes\", \"citations\": [\"4\"".to_owned(),
            Truncated,
        ),
        // Prose around the JSON.
        (
            "prose before and after",
            format!("Sure! Based on the document: {ANSWER} Hope this helps."),
            Json(ANSWER),
        ),
        ("bare", ANSWER.to_owned(), Json(ANSWER)),
        (
            "bracketed aside before the object",
            format!("According to section [4], invoices are due in 30 days.\n\n{ANSWER}"),
            Json(ANSWER),
        ),
        (
            "citation list aside before the object",
            format!("Sections [3, 4] apply. {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "asides after the object",
            format!("{ANSWER}\n\nSee also [4] and [5]."),
            Json(ANSWER),
        ),
        (
            "markdown link before the object",
            format!("See [section 4](https://example.com/4). {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "prose braces and brackets before the object",
            format!("[note] I used {{curly}} words. {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "stray opening bracket in prose",
            format!("The list [ below is complete: {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "stray opening brace in prose",
            format!("Use {{ to open a group. {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "quoted brace in prose",
            format!("A JSON object starts with \"{{\". Here it is: {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "quoted braces in prose",
            format!("Objects start with \"{{\" and end with \"}}\". {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "stray bracket after the object",
            format!("{ANSWER} (I hope this helps ["),
            Json(ANSWER),
        ),
        (
            "an array reply after bracketed asides",
            "Labels for sections [1] to [3]:\n[{\"id\": \"s1\", \"label\": \"payment\"}]".to_owned(),
            Json("[{\"id\": \"s1\", \"label\": \"payment\"}]"),
        ),
        (
            "an array reply",
            "[1, 2] as requested".to_owned(),
            Json("[1, 2]"),
        ),
        (
            "braces and fences inside strings",
            r#"Answer: {"answer": "Use {curly} and [square] and \"}\" freely; wrap in ```json", "citations": ["3.1}"], "confidence": 0.9} done"#.to_owned(),
            Json(r#"{"answer": "Use {curly} and [square] and \"}\" freely; wrap in ```json", "citations": ["3.1}"], "confidence": 0.9}"#),
        ),
        ("empty object", "Nothing found: {}".to_owned(), Json("{}")),
        // Two objects: the larger (here the answer) wins.
        (
            "two objects, the answer second",
            format!("Draft: {{\"answer\": \"?\"}}\nFinal: {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "two objects, the answer first",
            format!("{ANSWER}\nMetadata: {{\"model\": \"x\"}}"),
            Json(ANSWER),
        ),
        (
            "an invalid draft, then a valid object",
            format!("{{\"answer\": \"Yes\",}}\nCorrected: {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "a prose brace with an unquoted key before the object",
            format!("{{Note: the section says nothing about interest, so this rests on 3.1 alone.}} {ANSWER}"),
            Json(ANSWER),
        ),
        (
            "a prose brace with an unquoted key before an array reply",
            "{Note: labels below} [{\"id\": \"s1\", \"label\": \"payment\"}]".to_owned(),
            Json("[{\"id\": \"s1\", \"label\": \"payment\"}]"),
        ),
        (
            "an answer, then a cut-off note",
            format!("{ANSWER}\n{{\"note\": \"and"),
            Json(ANSWER),
        ),
        // Broken JSON: Invalid with an excerpt, never an inner fragment,
        // nor a smaller object beside it.
        (
            "a small example object, then the broken answer",
            r#"Example: {"a": 1}. Answer: {"answer":"Yes.","citations":["4"],"confidence":0.9,}"#.to_owned(),
            Invalid("0.9,}"),
        ),
        (
            "a small example object, then an answer with python literals",
            r#"Schema: {"ok": true}. {"answer": "Yes, within 30 days.", "citations": ["4"], "confident": True}"#.to_owned(),
            Invalid("True"),
        ),
        (
            "trailing comma in the object",
            r#"{"answer":"Yes.","citations":["4"],"confidence":0.9,}"#.to_owned(),
            Invalid("0.9,}"),
        ),
        (
            "trailing comma in an array",
            r#"{"answer": "Yes.", "citations": ["4", "5",], "confidence": 0.9}"#.to_owned(),
            Invalid("\"5\",]"),
        ),
        (
            "trailing comma, with an aside after it",
            r#"{"answer": "Yes.", "confidence": 0.9,} (see [4])"#.to_owned(),
            Invalid("0.9,}"),
        ),
        (
            "single quotes",
            "Result:\n{'answer': 'Yes.', 'citations': ['4'], 'confidence': 0.9}".to_owned(),
            Invalid("'answer'"),
        ),
        (
            "python literals True and None",
            r#"{"answer": "Yes.", "citations": [], "confident": True, "note": None}"#.to_owned(),
            Invalid("True"),
        ),
        (
            "python None next to an empty list",
            r#"{"findings": [], "summary": None}"#.to_owned(),
            Invalid("None"),
        ),
        (
            "a top-level python list",
            "[True, None]".to_owned(),
            Invalid("True"),
        ),
        (
            "unquoted keys",
            "{answer: \"Yes.\", confidence: 0.9}".to_owned(),
            Invalid("answer"),
        ),
        (
            "a comment",
            "{\"answer\": \"Yes.\" // from section 4\n}".to_owned(),
            Invalid("//"),
        ),
        (
            "NaN",
            r#"{"answer": "Yes.", "confidence": NaN}"#.to_owned(),
            Invalid("NaN"),
        ),
        (
            "mismatched closer",
            r#"{"answer": "Yes.", "citations": ["4"}"#.to_owned(),
            Invalid("[\"4\"}"),
        ),
        // Cut off.
        (
            "cut off in a string",
            r#"{"answer": "The fee is"#.to_owned(),
            Truncated,
        ),
        (
            "cut off with a complete inner object",
            r#"{"findings": [{"category": "risk"}, {"category": "#.to_owned(),
            Truncated,
        ),
        (
            "cut off after a bracketed aside",
            "According to [4]: {\"answer\": \"Yes, within".to_owned(),
            Truncated,
        ),
        (
            "cut off after a stray bracket",
            "The list [ below: {\"answer\": \"Yes\", \"citations\": [".to_owned(),
            Truncated,
        ),
        (
            "a draft object, then the final answer cut off",
            "Draft: {\"answer\": \"?\"}\nFinal: {\"answer\": \"Yes, within 30 days of receipt, as section".to_owned(),
            Truncated,
        ),
        // Nothing.
        ("no JSON", "I cannot help with that.".to_owned(), NotFound),
        (
            "only prose brackets",
            "I [really] cannot {help} with that.".to_owned(),
            NotFound,
        ),
        ("a lone opener at the end", "Here it comes: {".to_owned(), NotFound),
        (
            "a quoted brace and no JSON",
            "A JSON object starts with \"{\".".to_owned(),
            NotFound,
        ),
    ]
}

#[test]
fn every_reply_in_the_corpus_reads_as_expected() {
    let mut failures = Vec::new();
    for (name, reply, expected) in corpus() {
        let got = extract_json(&reply);
        let ok = match (&expected, &got) {
            (Json(json), Ok(found)) => found == json,
            (Invalid(needle), Err(ExtractError::Invalid { excerpt, .. })) => {
                excerpt.contains(needle)
            }
            (Truncated, Err(ExtractError::Truncated { .. })) => true,
            (NotFound, Err(ExtractError::NotFound { .. })) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{name}:\n  reply    {reply:?}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} replies read wrong:\n{}",
        failures.len(),
        corpus().len(),
        failures.join("\n")
    );
}

#[test]
fn two_equal_objects_give_the_first() {
    let reply = format!("{ANSWER}\n{ANSWER}");
    let found = extract_json(&reply).unwrap();
    assert_eq!(found.as_ptr(), reply.as_ptr());
}

#[test]
fn a_cut_off_reply_reports_where_the_value_opened() {
    let reply = "According to [4]: {\"answer\": \"Yes, within";
    let err = extract_json(reply).unwrap_err();
    assert!(
        matches!(err, ExtractError::Truncated { offset: 18, .. }),
        "{err:?}"
    );
}
