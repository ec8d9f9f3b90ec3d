//! Reading a stack TOML file, with errors that point where the problem is.
//!
//! serde reports a missing required field (a candidate's `id`) without a
//! place of its own; toml then shows the start of the enclosing table, which
//! for a `[[candidates]]` entry on the first line reads as the generic "line
//! 1, column 1", and never says which candidate it was. For that case the
//! document is read again with its spans, and the error points at the header
//! of the entry that lacks `id` and names it (its number, and its `model`
//! when it has one).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::StackConfigError;
use super::config::StackConfig;

/// Parses a stack TOML document.
pub(super) fn stack_config(text: &str) -> Result<StackConfig, StackConfigError> {
    toml::from_str(text).map_err(|e| StackConfigError::Toml(locate(text, &e)))
}

/// The message of `error`, pointed at the candidate table that lacks its
/// `id` and naming it, when that is what it is about.
fn locate(text: &str, error: &toml::de::Error) -> String {
    if error.message().starts_with("missing field `id`")
        && let Some(missing) = candidate_without_id(text)
    {
        let model = missing
            .model
            .map(|m| format!(" (model {m:?})"))
            .unwrap_or_default();
        let message = format!(
            "missing field `id` in candidate {}{model}",
            missing.index + 1
        );
        return render(text, missing.span, &message);
    }
    error.to_string()
}

/// A `[[candidates]]` entry without `id`.
struct MissingId {
    /// Its position among the candidates (0-based).
    index: usize,
    /// Its header line (or the entry, for an inline array).
    span: Range<usize>,
    /// Its `model`, when it names one.
    model: Option<String>,
}

/// The first `[[candidates]]` entry without `id`.
fn candidate_without_id(text: &str) -> Option<MissingId> {
    let document = DeTable::parse(text).ok()?;
    let (_, candidates) = document
        .get_ref()
        .iter()
        .find(|(key, _)| key.get_ref() == "candidates")?;
    let DeValue::Array(entries) = candidates.get_ref() else {
        return None;
    };
    entries.iter().enumerate().find_map(|(index, entry)| {
        let DeValue::Table(table) = entry.get_ref() else {
            return None;
        };
        let field = |name: &str| {
            table
                .iter()
                .find(|(k, _)| k.get_ref() == name)
                .map(|(_, v)| v)
        };
        if field("id").is_some() {
            return None;
        }
        let model = field("model").and_then(|v| match v.get_ref() {
            DeValue::String(m) => Some(m.to_string()),
            _ => None,
        });
        Some(MissingId {
            index,
            span: header_span(text, index).unwrap_or_else(|| entry.span()),
            model,
        })
    })
}

/// The span of the `index`th `[[candidates]]` header line, when the entries
/// are written as headers (not as an inline array).
fn header_span(text: &str, index: usize) -> Option<Range<usize>> {
    let mut start = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let header = trimmed
            .strip_prefix("[[")
            .and_then(|rest| rest.split("]]").next())
            .is_some_and(|name| name.trim() == "candidates");
        if header {
            if seen == index {
                let indent = line.len() - line.trim_start().len();
                return Some(start + indent..start + indent + trimmed.len());
            }
            seen += 1;
        }
        start += line.len();
    }
    None
}

/// `message` with the line, column and source excerpt of `span`, laid out
/// like toml's own errors.
fn render(text: &str, span: Range<usize>, message: &str) -> String {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_number = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let width = line_number.to_string().len();
    let marks = span
        .end
        .saturating_sub(start)
        .clamp(1, line.len().saturating_sub(start - line_start).max(1));
    format!(
        "TOML parse error at line {line_number}, column {column}\n{pad} |\n{line_number} | {line}\n{pad} | {indent}{carets}\n{message}\n",
        pad = " ".repeat(width),
        indent = " ".repeat(column - 1),
        carets = "^".repeat(marks),
    )
}
