//! Document-section analysis: findings in one section of a longer document.

use serde::{Deserialize, Serialize};

use super::{ANALYST_BEHAVIOUR, JSON_ONLY, built_in};
use crate::confidence::{Confidence, retain_confident};
use crate::parts::{ContextSlot, Example, OutputSpec};
use crate::template::PromptTemplate;

/// The JSON shape the model is asked for; [`SectionAnalysis`] reads it.
const SCHEMA: &str = r#"{
  "section_summary": "string, at most two sentences",
  "findings": [
    {
      "category": "obligation | risk | deadline | amount | inconsistency | missing_information",
      "description": "string, one sentence",
      "evidence": "string, exact quote from the section",
      "confidence": 0.0
    }
  ]
}"#;

const EXAMPLE_INPUT: &str = "Section \"Payment\": The customer shall pay each invoice within 30 days. Late payments accrue interest.";

const EXAMPLE_OUTPUT: &str = r#"{"section_summary": "Sets the payment term and a late-payment consequence.", "findings": [{"category": "deadline", "description": "Invoices are due within 30 days.", "evidence": "The customer shall pay each invoice within 30 days.", "confidence": 0.95}, {"category": "missing_information", "description": "The interest rate on late payments is not stated.", "evidence": "Late payments accrue interest.", "confidence": 0.85}]}"#;

/// The document-section analysis template (`document-analysis`).
///
/// - **Variables**: `document_title`, `document_type` (e.g. "contract"),
///   `section_title`.
/// - **Context**: `section`, the section's text (required, truncatable);
///   `outline`, the document's outline as data, e.g. via
///   [`context_toon`](crate::PromptInputs::context_toon) (optional).
/// - **User message**: none.
/// - **Output**: one JSON object, read into [`SectionAnalysis`]:
///
/// ```json
/// {
///   "section_summary": "string, at most two sentences",
///   "findings": [
///     {
///       "category": "obligation | risk | deadline | amount | inconsistency | missing_information",
///       "description": "string, one sentence",
///       "evidence": "string, exact quote from the section",
///       "confidence": 0.0
///     }
///   ]
/// }
/// ```
pub fn document_analysis() -> PromptTemplate {
    built_in(
        PromptTemplate::builder("document-analysis")
            .role("You are an expert document analyst reviewing one section of a longer document.")
            .expertise(
                "You know how {{ document_type }} documents are structured and what makes a passage significant: \
                 obligations, risks, deadlines, amounts, inconsistencies and missing information.",
            )
            .behaviour(ANALYST_BEHAVIOUR)
            .task(
                "Analyse the section \"{{ section_title }}\" of the {{ document_type }} \"{{ document_title }}\". \
                 Summarise it, then report each significant finding with its category, a one-sentence description, \
                 the exact quote that supports it and your confidence.",
            )
            .context(ContextSlot::required("section").truncatable())
            .context(ContextSlot::optional("outline"))
            .example(Example::new(EXAMPLE_INPUT, EXAMPLE_OUTPUT))
            .constraint("Report only findings supported by a quote from the section, quoted exactly.")
            .constraint(
                "Use only the categories obligation, risk, deadline, amount, inconsistency and missing_information.",
            )
            .constraint("Use the outline, when given, only to place the section in the document, never as evidence.")
            .constraint("When the section has no significant findings, return an empty findings list.")
            .output(OutputSpec::json(JSON_ONLY, SCHEMA)),
    )
}

/// The reply of [`document_analysis`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionAnalysis {
    /// At most two sentences.
    pub section_summary: String,
    /// The findings, in the model's order.
    pub findings: Vec<Finding>,
}

impl SectionAnalysis {
    /// Drops findings below `min` confidence; returns how many were dropped.
    pub fn retain_confident(&mut self, min: f64) -> usize {
        retain_confident(&mut self.findings, min)
    }
}

/// One finding of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of finding.
    pub category: FindingCategory,
    /// One sentence.
    pub description: String,
    /// The exact quote from the section.
    pub evidence: String,
    /// The model's confidence, 0 ..= 1.
    pub confidence: f64,
}

impl Confidence for Finding {
    fn confidence(&self) -> Option<f64> {
        Some(self.confidence)
    }
}

/// The categories a finding may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingCategory {
    /// Something a party must do.
    Obligation,
    /// Something that may go wrong.
    Risk,
    /// A date or period.
    Deadline,
    /// A sum of money or quantity.
    Amount,
    /// Text that contradicts itself or the rest of the document.
    Inconsistency,
    /// Something the section should state but does not.
    MissingInformation,
}
