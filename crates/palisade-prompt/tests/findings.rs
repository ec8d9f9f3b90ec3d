//! Confidence and findings in the typed built-in outputs (issue 21, item
//! 10): a confidence outside 0–1 is never kept, and one bad finding is
//! dropped with a reason instead of failing the whole reply.

use palisade_prompt::builtins::{
    ChatAnswer, FindingCategory, FollowUpAnswer, RiskLevel, SectionAnalysis, SectionLabels,
};
use palisade_prompt::{
    Confidence, ExtractError, SEED_MIN_CONFIDENCE, parse_json, retain_confident,
    retain_confident_json,
};
use serde_json::json;

struct Stated(f64);
impl Confidence for Stated {
    fn confidence(&self) -> Option<f64> {
        Some(self.0)
    }
}

#[test]
fn a_confidence_outside_zero_to_one_is_never_kept() {
    let mut items = vec![
        Stated(0.9),
        Stated(85.0),
        Stated(1.7),
        Stated(-0.2),
        Stated(f64::INFINITY),
        Stated(1.0),
    ];
    assert_eq!(retain_confident(&mut items, SEED_MIN_CONFIDENCE), 4);
    let kept: Vec<f64> = items.iter().map(|s| s.0).collect();
    assert_eq!(kept, [0.9, 1.0]);

    let mut value = json!({"findings": [
        {"confidence": 0.9}, {"confidence": 85}, {"confidence": 1.7}, {"confidence": -1}, {}
    ]});
    let outcome =
        retain_confident_json(&mut value, "/findings", "/confidence", SEED_MIN_CONFIDENCE).unwrap();
    assert_eq!(outcome.kept, 1);
    assert_eq!(value["findings"].as_array().unwrap().len(), 1);
}

const FINDINGS_REPLY: &str = r#"{"section_summary": "Payment terms.", "findings": [
  {"category": "deadline", "description": "Due in 30 days.", "evidence": "within 30 days", "confidence": 0.9, "risk_level": "medium", "suggestion": "Track the due date.", "framework_references": ["PAY-1"]},
  {"category": "risk", "description": "No confidence given.", "evidence": "a fee", "risk_level": "high"},
  {"category": "risk", "description": "Confidence as a word.", "evidence": "a fee", "confidence": "high"},
  {"category": "Risk", "description": "Capitalised category.", "evidence": "a fee", "confidence": 0.95},
  {"category": "amount", "description": "A percentage.", "evidence": "EUR 40", "confidence": 85},
  {"category": "amount", "description": "Fee of EUR 40.", "evidence": "EUR 40", "confidence": 0.85}
]}"#;

#[test]
fn one_bad_finding_is_dropped_not_fatal() {
    let analysis: SectionAnalysis = parse_json(FINDINGS_REPLY).unwrap();
    let kept: Vec<&str> = analysis
        .findings
        .iter()
        .map(|f| f.description.as_str())
        .collect();
    assert_eq!(kept, ["Due in 30 days.", "Fee of EUR 40."]);
    assert_eq!(analysis.findings[1].category, FindingCategory::Amount);

    // The seed's fields are read; left out, they default.
    let first = &analysis.findings[0];
    assert_eq!(first.risk_level, Some(RiskLevel::Medium));
    assert_eq!(first.suggestion.as_deref(), Some("Track the due date."));
    assert_eq!(first.framework_references, ["PAY-1"]);
    let last = &analysis.findings[1];
    assert_eq!((last.risk_level, last.suggestion.as_deref()), (None, None));
    assert!(last.framework_references.is_empty());

    // Each dropped finding says which and why, and keeps what was written.
    let dropped: Vec<(usize, &str)> = analysis
        .dropped_findings
        .iter()
        .map(|d| (d.index, d.reason.as_str()))
        .collect();
    assert_eq!(dropped.len(), 4, "{dropped:?}");
    let expect = [
        (1, "missing field `confidence`"),
        (2, "invalid type: string \"high\""),
        (3, "unknown variant `Risk`"),
        (4, "confidence 85 is outside 0..=1"),
    ];
    for ((index, reason), (want_index, want_reason)) in dropped.iter().zip(expect) {
        assert_eq!(*index, want_index);
        assert!(reason.contains(want_reason), "{index}: {reason}");
    }
    assert_eq!(analysis.dropped_findings[2].value["category"], "Risk");

    // Dropped findings are not serialized: the analysis re-reads the same.
    let again: SectionAnalysis = parse_json(&serde_json::to_string(&analysis).unwrap()).unwrap();
    assert_eq!(again.findings, analysis.findings);
    assert!(again.dropped_findings.is_empty());
}

#[test]
fn risk_levels_order_by_severity() {
    assert!(RiskLevel::Low < RiskLevel::Medium);
    assert!(RiskLevel::High < RiskLevel::Critical);
    assert!(Some(RiskLevel::Critical) >= Some(RiskLevel::High));
    assert!(None < Some(RiskLevel::Low));
}

#[test]
fn a_bad_label_is_dropped_not_fatal() {
    let reply = r#"{"sections": [{"id": "s1", "label": "payment", "confidence": 0.9}, {"id": "s2", "label": "fees", "confidence": "high"}, {"id": "s3", "label": "other", "confidence": 0.8}]}"#;
    let labels: SectionLabels = parse_json(reply).unwrap();
    let ids: Vec<&str> = labels.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s3"]);
    assert_eq!(labels.dropped_sections.len(), 1);
    assert_eq!(labels.dropped_sections[0].index, 1);
}

#[test]
fn a_bad_updated_finding_is_dropped_not_fatal() {
    let reply = r#"{"answer": "Yes.", "updated_findings": [{"category": "Deadline", "description": "x", "evidence": "y", "confidence": 0.9}], "confidence": 0.8}"#;
    let answer: FollowUpAnswer = parse_json(reply).unwrap();
    assert!(answer.updated_findings.is_empty());
    assert!(
        answer.dropped_findings[0]
            .reason
            .contains("unknown variant `Deadline`")
    );
    // The answer's own confidence is not a list item: out of range, the
    // reply does not parse.
    let reply = r#"{"answer": "Yes.", "updated_findings": [], "confidence": 1.7}"#;
    assert!(matches!(
        parse_json::<FollowUpAnswer>(reply),
        Err(ExtractError::Shape { .. })
    ));
}

#[test]
fn an_answer_confidence_outside_zero_to_one_is_a_shape_error() {
    let err = parse_json::<ChatAnswer>(r#"{"answer": "Yes.", "citations": [], "confidence": 85}"#)
        .unwrap_err();
    let ExtractError::Shape {
        message, excerpt, ..
    } = &err
    else {
        panic!("expected Shape, got {err:?}");
    };
    assert!(
        message.contains("85") && message.contains("0..=1"),
        "{message}"
    );
    assert!(excerpt.contains("85"), "{excerpt}");
}

/// The seed service's fields, as models write them: ratings capitalised,
/// the framework ids under the short name, one rating that is no rating.
const SEED_FIELDS_REPLY: &str = r#"{"section_summary": "Access control.", "findings": [
  {"category": "obligation", "description": "Access is reviewed yearly.", "evidence": "reviewed every year", "confidence": 0.9, "risk_level": "High", "suggestion": "Review access quarterly.", "framework_refs": ["ISO27001:A.5.15", "ISO27001:A.5.18"]},
  {"category": "risk", "description": "No owner is named.", "evidence": "the team", "confidence": 0.8, "risk_level": "severe", "suggestion": "Name an owner.", "framework_refs": ["ISO27001:A.5.2"]},
  {"category": "missing_information", "description": "No logging policy.", "evidence": "logs", "confidence": 0.85, "risk_level": "CRITICAL", "framework_references": ["ISO27001:A.8.15"]},
  {"category": "amount", "description": "Ten admins.", "evidence": "ten administrators", "confidence": 0.7, "risk_level": null, "suggestion": null}
]}"#;

/// A finding's description and seed fields, for comparing in one go.
type SeedFields<'a> = (&'a str, Option<RiskLevel>, Option<&'a str>, Vec<&'a str>);

#[test]
fn the_seed_fields_parse() {
    let analysis: SectionAnalysis = parse_json(SEED_FIELDS_REPLY).unwrap();
    let read: Vec<SeedFields<'_>> = analysis
        .findings
        .iter()
        .map(|f| {
            (
                f.description.as_str(),
                f.risk_level,
                f.suggestion.as_deref(),
                f.framework_references.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                "Access is reviewed yearly.",
                Some(RiskLevel::High),
                Some("Review access quarterly."),
                vec!["ISO27001:A.5.15", "ISO27001:A.5.18"],
            ),
            (
                "No logging policy.",
                Some(RiskLevel::Critical),
                None,
                vec!["ISO27001:A.8.15"],
            ),
            ("Ten admins.", None, None, vec![]),
        ]
    );
    // Written back, the fields take the schema's spelling and read again.
    let written = serde_json::to_value(&analysis).unwrap();
    assert_eq!(written["findings"][0]["risk_level"], "high");
    assert_eq!(
        written["findings"][0]["framework_references"][1],
        "ISO27001:A.5.18"
    );
    let again: SectionAnalysis = serde_json::from_value(written).unwrap();
    assert_eq!(again.findings, analysis.findings);
}

#[test]
fn a_bad_risk_level_drops_just_that_finding_with_a_reason() {
    let analysis: SectionAnalysis = parse_json(SEED_FIELDS_REPLY).unwrap();
    assert_eq!(analysis.findings.len(), 3);
    assert_eq!(analysis.dropped_findings.len(), 1);
    let dropped = &analysis.dropped_findings[0];
    assert_eq!(dropped.index, 1);
    assert!(
        dropped.reason.contains("unknown variant `severe`")
            && dropped
                .reason
                .contains("`low`, `medium`, `high`, `critical`"),
        "{}",
        dropped.reason
    );
    assert_eq!(dropped.value["risk_level"], "severe");
    assert_eq!(dropped.value["description"], "No owner is named.");

    // Not a string at all: dropped the same way.
    let reply = r#"{"section_summary": "s", "findings": [{"category": "risk", "description": "d", "evidence": "e", "confidence": 0.9, "risk_level": 3}]}"#;
    let analysis: SectionAnalysis = parse_json(reply).unwrap();
    assert!(analysis.findings.is_empty());
    assert!(
        analysis.dropped_findings[0].reason.contains("risk level"),
        "{}",
        analysis.dropped_findings[0].reason
    );
}

#[test]
fn updated_findings_read_the_seed_fields_too() {
    let reply = r#"{"answer": "Yes.", "updated_findings": [{"category": "risk", "description": "d", "evidence": "e", "confidence": 0.9, "risk_level": "Medium", "framework_refs": ["SOC2:CC6.1"]}], "confidence": 0.8}"#;
    let answer: FollowUpAnswer = parse_json(reply).unwrap();
    let finding = &answer.updated_findings[0];
    assert_eq!(finding.risk_level, Some(RiskLevel::Medium));
    assert_eq!(finding.framework_references, ["SOC2:CC6.1"]);
}
