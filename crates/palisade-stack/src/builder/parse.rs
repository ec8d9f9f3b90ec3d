//! Reading a stack TOML file, with errors that point where the problem is.
//!
//! serde reports a missing required field (a candidate's `id`) without a
//! place, so toml falls back to the start of the document: "line 1, column
//! 1". For that case the document is read again with its spans, and the
//! error points at the table that lacks the field instead.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::StackConfigError;
use super::config::StackConfig;

/// Parses a stack TOML document.
pub(super) fn stack_config(text: &str) -> Result<StackConfig, StackConfigError> {
    toml::from_str(text).map_err(|e| StackConfigError::Toml(locate(text, &e)))
}

/// The message of `error`, pointed at the candidate table that lacks its
/// `id` when that is what it is about.
fn locate(text: &str, error: &toml::de::Error) -> String {
    let unplaced = error.span().is_none_or(|s| s.start == 0);
    if unplaced
        && error.message().starts_with("missing field `id`")
        && let Some((index, span)) = candidate_without_id(text)
    {
        return render(
            text,
            span,
            &format!("missing field `id` in candidate {}", index + 1),
        );
    }
    error.to_string()
}

/// The position and span of the first `[[candidates]]` entry without `id`.
fn candidate_without_id(text: &str) -> Option<(usize, Range<usize>)> {
    let document = DeTable::parse(text).ok()?;
    let (_, candidates) = document
        .get_ref()
        .iter()
        .find(|(key, _)| key.get_ref() == "candidates")?;
    let DeValue::Array(entries) = candidates.get_ref() else {
        return None;
    };
    entries
        .iter()
        .enumerate()
        .find_map(|(i, entry)| match entry.get_ref() {
            DeValue::Table(table) if !table.iter().any(|(k, _)| k.get_ref() == "id") => {
                Some((i, header_span(text, i).unwrap_or_else(|| entry.span())))
            }
            _ => None,
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
