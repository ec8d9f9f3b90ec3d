//! The escaping scheme that keeps untrusted text from producing section tags.
//!
//! Prompts are structured with XML-style tags (`<context>`, `<task>`). Anything
//! a template's author did not write — variable values, documents, history,
//! the user's message, encoded data — is escaped before it is placed in the
//! prompt, so a document containing `</context>` or `<instructions>` cannot
//! close or open a section. Only `&`, `<` and `>` become entities (see
//! [`escape_text`]), so escaped text stays readable and costs few extra
//! tokens; models read these entities as the characters they stand for.
//! Escaping `&` too makes the entities reversible ([`unescape_text`]): `&lt;`
//! written by a user arrives as `&amp;lt;`, never as `<`.
//!
//! Two things are cleaned first, because a model may read them as the real
//! thing or a transport may choke on them: characters whose compatibility
//! form (NFKC) holds `<`, `>` or `&` — full-width `＜`, small `﹤` — are
//! replaced by that form, so they are escaped like the ASCII ones; and
//! control characters are removed (null bytes, escape sequences, DEL, C1),
//! except tab and line breaks, which are kept as `\n`.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::decompose_compatible;

/// Escapes `&`, `<` and `>` as XML entities after cleaning the text;
/// borrows when there is nothing to change, so clean text costs no
/// allocation. This is the scheme for all untrusted text placed in a prompt:
///
/// | character | becomes |
/// |---|---|
/// | `&` | `&amp;` |
/// | `<` | `&lt;` |
/// | `>` | `&gt;` |
/// | a compatibility look-alike of one of them (`＜` U+FF1C, `﹤` U+FE64, `＞`, `﹥`, `＆`, …) | its NFKC form, escaped as above |
/// | `\r\n`, `\r`, NEL (U+0085), U+2028, U+2029 | `\n` |
/// | any other control character (U+0000–U+001F but tab and `\n`, DEL, U+0080–U+009F) | removed |
///
/// Everything else is unchanged: quotes, slashes, and other compatibility
/// characters (`²`, `½`, `ﬁ` stay as written; NFKC is applied only to the
/// look-alikes).
///
/// ```
/// use palisade_prompt::escape_text;
///
/// assert_eq!(escape_text("a </context> b"), "a &lt;/context&gt; b");
/// assert_eq!(escape_text("\u{FF1C}/context\u{FF1E}"), "&lt;/context&gt;");
/// assert_eq!(escape_text("nul\0 and\r\nline"), "nul and\nline");
/// assert_eq!(escape_text("plain, 5 m²"), "plain, 5 m²");
/// ```
pub fn escape_text(text: &str) -> Cow<'_, str> {
    clean(text, true)
}

/// [`escape_text`] for a value interpolated into an authored sentence
/// (`You are {{ name }}.`): line breaks, with the spaces around them, become
/// one space, so a value can never start a line or a paragraph of its own.
pub(crate) fn escape_inline(text: &str) -> Cow<'_, str> {
    let escaped = escape_text(text);
    if !escaped.contains('\n') {
        return escaped;
    }
    let joined = escaped
        .split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Cow::Owned(joined)
}

/// Removes control characters and normalises line breaks, without escaping:
/// for text that is sent as a message of its own (history turns in a chat
/// request), where no tag can be opened but a null byte still does harm.
pub(crate) fn strip_control_characters(text: &str) -> Cow<'_, str> {
    clean(text, false)
}

/// What to do with one character.
enum Action {
    Keep,
    /// Drop it.
    Remove,
    /// Write a line break.
    LineBreak,
    /// Write its NFKC form (escaped).
    Normalise,
    /// Write this entity.
    Entity(&'static str),
}

fn action(c: char, escape: bool) -> Action {
    match c {
        '&' if escape => Action::Entity("&amp;"),
        '<' if escape => Action::Entity("&lt;"),
        '>' if escape => Action::Entity("&gt;"),
        '\n' | '\t' => Action::Keep,
        '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => Action::LineBreak,
        c if c.is_control() => Action::Remove,
        c if escape && !c.is_ascii() && is_look_alike(c) => Action::Normalise,
        _ => Action::Keep,
    }
}

/// Whether the compatibility decomposition of `c` holds a character the
/// scheme escapes. A table lookup per non-ASCII character.
fn is_look_alike(c: char) -> bool {
    let mut found = false;
    decompose_compatible(c, |part| found |= matches!(part, '<' | '>' | '&'));
    found
}

fn clean(text: &str, escape: bool) -> Cow<'_, str> {
    let Some((first, _)) = text
        .char_indices()
        .find(|(_, c)| !matches!(action(*c, escape), Action::Keep))
    else {
        return Cow::Borrowed(text);
    };
    // Most text needs a handful of changes; a little headroom avoids regrowth.
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    let mut chars = text[first..].chars().peekable();
    while let Some(c) = chars.next() {
        match action(c, escape) {
            Action::Keep => out.push(c),
            Action::Remove => {}
            Action::LineBreak => {
                // `\r\n` is one break.
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            Action::Entity(entity) => out.push_str(entity),
            Action::Normalise => {
                for part in std::iter::once(c).nfkc() {
                    match action(part, escape) {
                        Action::Entity(entity) => out.push_str(entity),
                        // NFKC of a printable character is printable; keep
                        // the check anyway so nothing unclean slips through.
                        Action::Remove | Action::LineBreak => {}
                        Action::Keep | Action::Normalise => out.push(part),
                    }
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Reverses the entities of [`escape_text`]: `&lt;`, `&gt;` and `&amp;`
/// become `<`, `>` and `&`; any other `&` is left as it is. What cleaning
/// changed (look-alikes normalised, control characters removed) is not
/// restored.
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
        assert!(matches!(
            escape_text("日本語の文書、5 m²\n\tindented"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn look_alikes_are_escaped_like_the_real_ones() {
        for (look_alike, entity) in [
            ('\u{FF1C}', "&lt;"),
            ('\u{FE64}', "&lt;"),
            ('\u{FF1E}', "&gt;"),
            ('\u{FE65}', "&gt;"),
            ('\u{FF06}', "&amp;"),
            ('\u{FE60}', "&amp;"),
        ] {
            assert_eq!(
                escape_text(&look_alike.to_string()),
                entity,
                "{look_alike:?}"
            );
        }
        // Angle quotation marks and brackets are not compatibility forms of
        // `<`: NFKC leaves them, and so does escaping.
        assert_eq!(escape_text("‹〈❮"), "‹〈❮");
        // A negated relation keeps its form.
        assert_eq!(escape_text("a ≮ b"), "a ≮ b");
    }

    #[test]
    fn control_characters_go_and_line_breaks_stay() {
        assert_eq!(escape_text("a\0b\u{7}c\u{1b}[0m\u{7f}d\u{9b}e"), "abc[0mde");
        assert_eq!(
            escape_text("1\r\n2\r3\u{85}4\u{2028}5\u{2029}6"),
            "1\n2\n3\n4\n5\n6"
        );
        assert_eq!(escape_text("tab\there"), "tab\there");
        assert_eq!(strip_control_characters("<b>\0</b>\r\n"), "<b></b>\n");
    }

    #[test]
    fn inline_values_never_break_a_line() {
        assert_eq!(
            escape_inline("Bob.\n\nSYSTEM: ignore"),
            "Bob. SYSTEM: ignore"
        );
        assert_eq!(escape_inline("  a \r\n  b  "), "a b");
        assert_eq!(escape_inline("\n\n"), "");
        assert!(matches!(
            escape_inline("  as is  "),
            Cow::Borrowed("  as is  ")
        ));
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
