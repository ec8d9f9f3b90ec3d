//! The escaping scheme that keeps untrusted text from producing section tags.
//!
//! Prompts are structured with XML-style tags (`<context>`, `<task>`). Anything
//! a template's author did not write — variable values, documents, history,
//! the user's message, encoded data — is escaped before it is placed in the
//! prompt, so a document containing `</context>` or `<instructions>` cannot
//! close or open a section. Only `&`, `<` and `>` change (see [`escape_text`]),
//! so escaped text stays readable and costs few extra tokens; models read these
//! entities as the characters they stand for. Escaping `&` too makes the scheme
//! reversible ([`unescape_text`]): `&lt;` written by a user arrives as
//! `&amp;lt;`, never as `<`.

use std::borrow::Cow;
use std::fmt;

use crate::error::PromptError;

/// Escapes `&`, `<` and `>` as XML entities; borrows when there is nothing to
/// escape, so clean text costs no allocation. This is the scheme for all
/// untrusted text placed in a prompt:
///
/// | character | becomes |
/// |---|---|
/// | `&` | `&amp;` |
/// | `<` | `&lt;` |
/// | `>` | `&gt;` |
///
/// Quotes, slashes and non-ASCII text are unchanged.
///
/// ```
/// use palisade_prompt::escape_text;
///
/// assert_eq!(escape_text("a </context> b"), "a &lt;/context&gt; b");
/// assert_eq!(escape_text("plain"), "plain");
/// ```
pub fn escape_text(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(['&', '<', '>']) else {
        return Cow::Borrowed(text);
    };
    // Most text needs a handful of entities; a little headroom avoids regrowth.
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for ch in text[first..].chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// Reverses [`escape_text`]: `&lt;`, `&gt;` and `&amp;` become `<`, `>` and
/// `&`; any other `&` is left as it is.
///
/// ```
/// use palisade_prompt::{escape_text, unescape_text};
///
/// let original = "x &lt; y </task>";
/// assert_eq!(unescape_text(&escape_text(original)), original);
/// ```
pub fn unescape_text(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (replacement, consumed) = if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else if tail.starts_with("&amp;") {
            ('&', 5)
        } else {
            ('&', 1)
        };
        out.push(replacement);
        rest = &tail[consumed..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_the_three_characters() {
        assert_eq!(
            escape_text(r#"<a href="x">&'/é</a>"#),
            r#"&lt;a href="x"&gt;&amp;'/é&lt;/a&gt;"#
        );
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(escape_text("no tags here"), Cow::Borrowed(_)));
    }

    #[test]
    fn unescape_round_trips_and_keeps_stray_ampersands() {
        for s in [
            "&lt;&gt;&amp;",
            "a & b",
            "&amp;lt;",
            "</context>",
            "&",
            "&l",
            "",
        ] {
            assert_eq!(unescape_text(&escape_text(s)), s);
        }
        assert_eq!(unescape_text("a &quot; b"), "a &quot; b");
    }

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
