//! Sections: how tagged blocks are named and laid out.
//!
//! A section is `<name>`, a newline, its body, a newline, `</name>`; present
//! sections are separated by one blank line. Names are checked ([`TagName`])
//! and bodies are escaped by the caller, so the tags this module writes are
//! the only tags in a rendered prompt.

use std::fmt;

use crate::error::PromptError;

/// The name of a section tag: an ASCII lowercase letter, then lowercase
/// letters, digits, `_` or `-`, at most 64 bytes.
///
/// The narrow alphabet is what makes the tag structure checkable: a name can
/// never contain `>`, a quote or whitespace, so `<name>` is always one tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagName(String);

impl TagName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates a tag name.
    pub fn new(name: &str) -> Result<Self, PromptError> {
        let mut bytes = name.bytes();
        let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if starts_with_letter && rest_ok && name.len() <= Self::MAX_LEN {
            Ok(Self(name.to_owned()))
        } else {
            Err(PromptError::InvalidTagName {
                name: name.to_owned(),
            })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends `<tag attrs>\n{body}\n</tag>` (or `<tag>\n</tag>` for an empty
/// body) to `out`. `body` must already be
/// escaped (or be trusted template text); attribute values are fixed strings
/// chosen by this crate, never user input.
pub(crate) fn push_section(
    out: &mut String,
    tag: &str,
    attribute: Option<(&str, &str)>,
    body: &str,
) {
    out.push('<');
    out.push_str(tag);
    if let Some((key, value)) = attribute {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        out.push_str(value);
        out.push('"');
    }
    out.push_str(">\n");
    // Always a newline of our own before the closing tag (unless empty), so
    // the body is exactly what sits between `>\n` and `\n</`, even when it
    // ends with a newline itself.
    out.push_str(body);
    if !body.is_empty() {
        out.push('\n');
    }
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Adds the blank line between two sections, unless `out` is still empty.
pub(crate) fn separate_sections(out: &mut String) {
    if !out.is_empty() {
        out.push_str("\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_are_narrow() {
        for ok in ["context", "a", "section_2", "follow-up"] {
            assert!(TagName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Context",
            "2x",
            "a b",
            "a>b",
            "a\"",
            "é",
            &"a".repeat(65),
        ] {
            assert!(TagName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sections_end_with_one_newline_before_the_closing_tag() {
        let mut out = String::new();
        push_section(&mut out, "task", None, "do it");
        assert_eq!(out, "<task>\ndo it\n</task>");
        let mut out = String::new();
        push_section(&mut out, "data", Some(("format", "toon")), "x\n");
        assert_eq!(out, "<data format=\"toon\">\nx\n\n</data>");
        let mut out = String::new();
        push_section(&mut out, "empty", None, "");
        assert_eq!(out, "<empty>\n</empty>");
    }
}
