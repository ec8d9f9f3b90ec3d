//! The four built-in templates of the seed system, each with its typed
//! output.
//!
//! | template | function | variables | context | user message | output |
//! |---|---|---|---|---|---|
//! | document-section analysis | [`document_analysis`] | `document_title`, `document_type`, `section_title` | `section` (text, truncatable), `outline` (data, optional), `framework_checklist` (data, optional) | — | [`SectionAnalysis`] |
//! | chat assistant | [`chat_assistant`] | `assistant_name`, `document_title` | `session` (data, optional), `document` (text, optional, truncatable) | `question` | [`ChatAnswer`] |
//! | section identification | [`section_identification`] | `document_type`, `labels` (list) | `candidates` (data) | — | [`SectionLabels`] |
//! | follow-up analysis | [`follow_up_analysis`] | `document_title`, `section_title` | `previous_findings` (data), `section` (text, truncatable) | `follow_up_question` | [`FollowUpAnswer`] |
//!
//! Every template asks for strict JSON; read replies with
//! [`parse_json`](crate::parse_json) into the output type, and keep the
//! findings the seed keeps with [`retain_confident`](crate::retain_confident)
//! at [`SEED_MIN_CONFIDENCE`](crate::SEED_MIN_CONFIDENCE). The output types
//! read their lists item by item: one bad finding or label is set aside as a
//! [`DroppedItem`] with the reason, not fatal to the reply. Variables that
//! land in a system prompt are fenced in tags of their own name. The
//! rendered text of each is pinned by a golden file in `tests/golden/`.

mod chat_assistant;
mod document_analysis;
mod dropped;
mod follow_up;
mod risk_level;
mod section_identification;

pub use chat_assistant::{ChatAnswer, chat_assistant};
pub use document_analysis::{Finding, FindingCategory, SectionAnalysis, document_analysis};
pub use dropped::DroppedItem;
pub use follow_up::{FollowUpAnswer, follow_up_analysis};
pub use risk_level::RiskLevel;
pub use section_identification::{SectionLabel, SectionLabels, section_identification};

use crate::template::{PromptTemplate, PromptTemplateBuilder};

/// Builds a built-in template.
///
/// The sources are constants of this crate and every built-in is built and
/// rendered by the golden tests, so a failure here is a bug in this crate,
/// never something a caller or a model reply can cause.
#[allow(clippy::expect_used)]
fn built_in(builder: PromptTemplateBuilder) -> PromptTemplate {
    builder
        .build()
        .expect("built-in template sources are constant and covered by golden tests")
}

/// The behaviour paragraph the analysis templates share.
const ANALYST_BEHAVIOUR: &str = "Base every finding on the text of the section and quote the evidence exactly. \
When the section does not support a finding, leave it out rather than guess. \
State your confidence honestly, as a number between 0 and 1.";

/// The output instructions every built-in shares.
const JSON_ONLY: &str = "Respond with exactly one JSON object in this shape and nothing else: no prose before or after it.";
