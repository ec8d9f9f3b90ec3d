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
}
