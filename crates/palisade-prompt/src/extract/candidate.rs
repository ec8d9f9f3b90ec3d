//! Candidates: the top-level JSON values a reply may hold, and how each
//! reads.
//!
//! A `{` or `[` starts a candidate only when what follows it can start
//! JSON (a key, a value, the closer): `[4]` and `{"a": 1}` can, `[note]`,
//! `[ below` and `{curly}` cannot, so prose brackets never start one. A
//! candidate is scanned to its matching closer with string and escape
//! awareness; everything inside it belongs to it, so a value nested in a
//! broken outer object is never read on its own.

use serde::de::IgnoredAny;

use super::excerpt::byte_offset;

/// How many candidates that run to the end of the reply without closing
/// are tried before giving up: each such scan reads the rest of the reply,
/// so this bounds the work on hostile replies. Closed candidates never
/// overlap, so together they are one pass.
const MAX_UNCLOSED: usize = 64;

/// Whether a candidate is an object or an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Object,
    Array,
}

/// How a candidate reads.
#[derive(Debug)]
pub(super) enum Reading {
    /// Complete, valid JSON.
    Valid,
    /// Closed (or closed by the wrong bracket) but not JSON.
    Invalid(serde_json::Error),
    /// Valid JSON up to the end of the text, which comes before the value
    /// closes: the reply was cut off.
    CutOff,
}

/// A top-level candidate of a reply.
#[derive(Debug)]
pub(super) struct Candidate<'a> {
    /// Byte offset of the opening bracket.
    pub(super) open: usize,
    /// The candidate's text: from its opener to its closer (or to the end
    /// of the text when cut off).
    pub(super) text: &'a str,
    pub(super) kind: Kind,
    pub(super) reading: Reading,
}

impl Candidate<'_> {
    /// How many bytes of the candidate read as JSON: all of a valid or
    /// cut-off one, up to the error of an invalid one. Candidates compete on
    /// this, so a broken answer (an error at its last comma) beats a short
    /// example beside it, while prose that merely looks like an object
    /// (`{Note: …}`, an error at its first word) beats nothing.
    pub(super) fn json_len(&self) -> usize {
        match &self.reading {
            Reading::Valid | Reading::CutOff => self.text.len(),
            Reading::Invalid(err) => byte_offset(self.text, err.line(), err.column()),
        }
    }

    /// Among candidates that read as far, a valid one beats a cut-off one,
    /// which beats an invalid one.
    fn soundness(&self) -> u8 {
        match self.reading {
            Reading::Valid => 2,
            Reading::CutOff => 1,
            Reading::Invalid(_) => 0,
        }
    }
}

/// The candidate of `kind` that reads furthest as JSON
/// ([`Candidate::json_len`]), valid before cut off before invalid among
/// equals, then the first.
pub(super) fn best_of<'c, 'a>(
    candidates: &'c [Candidate<'a>],
    kind: Kind,
) -> Option<&'c Candidate<'a>> {
    candidates
        .iter()
        .filter(|c| c.kind == kind)
        // `min_by_key` on the negated rank keeps the first among equals.
        .min_by_key(|c| std::cmp::Reverse((c.json_len(), c.soundness())))
}

/// The top-level candidates of `text`, in order.
pub(super) fn top_level_candidates(text: &str) -> Vec<Candidate<'_>> {
    let mut found = Vec::new();
    let mut unclosed = 0;
    let mut from = 0;
    while let Some(at) = text[from..].find(['{', '[']) {
        let open = from + at;
        from = open + 1;
        if !starts_json(text, open) {
            continue;
        }
        let kind = if text.as_bytes()[open] == b'{' {
            Kind::Object
        } else {
            Kind::Array
        };
        match scan_value(text, open) {
            Scan::Closed(end) => {
                let candidate = &text[open..end];
                let reading = match validate(candidate) {
                    Ok(()) => Reading::Valid,
                    Err(err) => Reading::Invalid(err),
                };
                found.push(Candidate {
                    open,
                    text: candidate,
                    kind,
                    reading,
                });
                from = end;
            }
            Scan::Unclosed => {
                let rest = &text[open..];
                if is_cut_off(rest) {
                    // It runs to the end: nothing after it is top-level.
                    found.push(Candidate {
                        open,
                        text: rest,
                        kind,
                        reading: Reading::CutOff,
                    });
                    break;
                }
                // A stray opener that happens to look like JSON (`"{"` in
                // prose): what follows it may still be the data.
                unclosed += 1;
                if unclosed >= MAX_UNCLOSED {
                    break;
                }
            }
        }
    }
    found
}

/// Reads the single candidate that starts at `open`, for a fenced block
/// whose content starts there: its end and reading, or `None` when it is
/// not JSON at all.
pub(super) fn read_at(text: &str, open: usize) -> Option<(usize, Reading)> {
    if !starts_json(text, open) {
        return None;
    }
    match scan_value(text, open) {
        Scan::Closed(end) => Some((
            end,
            match validate(&text[open..end]) {
                Ok(()) => Reading::Valid,
                Err(err) => Reading::Invalid(err),
            },
        )),
        Scan::Unclosed if is_cut_off(&text[open..]) => Some((text.len(), Reading::CutOff)),
        Scan::Unclosed => None,
    }
}

/// Whether the `{` or `[` at `open` is followed by something that can
/// start JSON, or a near miss a model writes for it (single quotes, an
/// unquoted key, Python's `True`/`None`), so that a broken value still reads
/// as broken JSON rather than as prose.
fn starts_json(text: &str, open: usize) -> bool {
    // A bracket quoted in prose (`"{"`, `'['`, `` `{` ``) is talk about
    // JSON, not JSON.
    let before = text[..open].chars().next_back();
    if before.is_some_and(|quote| matches!(quote, '"' | '\'' | '`'))
        && text[open + 1..].chars().next() == before
    {
        return false;
    }
    let rest = text[open + 1..].trim_start();
    let Some(first) = rest.chars().next() else {
        return false;
    };
    if text.as_bytes()[open] == b'{' {
        match first {
            '"' | '\'' | '}' => true,
            c if c.is_ascii_alphabetic() || c == '_' => {
                // An unquoted key: `{answer: …}`.
                let after =
                    rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
                after.trim_start().starts_with(':')
            }
            _ => false,
        }
    } else {
        match first {
            '"' | '\'' | '{' | '[' | ']' | '-' => true,
            c if c.is_ascii_digit() => true,
            _ => starts_with_literal(rest),
        }
    }
}

/// Whether `text` starts with a JSON literal or a look-alike a model writes
/// for one, as a whole word.
fn starts_with_literal(text: &str) -> bool {
    const LITERALS: [&str; 8] = [
        "true", "false", "null", "True", "False", "None", "NaN", "Infinity",
    ];
    LITERALS.iter().any(|literal| {
        text.strip_prefix(literal).is_some_and(|after| {
            !after
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

/// Where a scan from an opening bracket ended.
enum Scan {
    /// The value ends before this byte offset: at its matching closer, or at
    /// the first closer that does not match (which makes it invalid).
    Closed(usize),
    /// The text ended inside the value.
    Unclosed,
}

/// Scans from the `{` or `[` at `open` to its matching closer, skipping
/// brackets inside strings. The nesting stack is bounded by the text length.
fn scan_value(text: &str, open: usize) -> Scan {
    let bytes = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b'}' | b']' => {
                // A wrong closer ends the value too: it is then invalid.
                let matches_opener = stack.pop() == Some(byte);
                if !matches_opener || stack.is_empty() {
                    return Scan::Closed(offset + 1);
                }
            }
            _ => {}
        }
    }
    Scan::Unclosed
}

fn validate(candidate: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(candidate).map(|_| ())
}

/// Whether `rest`, which opens a value that never closes, is valid JSON up
/// to its end: the mark of a reply cut off by `max_tokens`, as opposed to a
/// stray bracket in prose. A number cut short (`1.`, `2e`) fails on its last
/// character rather than at the end, and counts too. Nesting past
/// serde_json's recursion limit counts as cut off: no prose nests 128
/// brackets deep.
fn is_cut_off(rest: &str) -> bool {
    let Err(err) = serde_json::from_str::<IgnoredAny>(rest) else {
        return false;
    };
    if err.is_eof() {
        return true;
    }
    let at = byte_offset(rest, err.line(), err.column());
    let last_char_len = rest[at..].chars().next().map_or(0, char::len_utf8);
    // serde_json has no error code accessor; this message is its constant
    // text for the one error.
    at + last_char_len >= rest.len() || err.to_string().starts_with("recursion limit exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_starts_json() {
        for (text, expected) in [
            ("[4]", true),
            ("[-1]", true),
            ("[]", true),
            ("[ \"a\"]", true),
            ("[True]", true),
            ("[None, 1]", true),
            ("[Nonesuch]", false),
            ("[note]", false),
            ("[ below", false),
            ("{\"a\": 1}", true),
            ("{'a': 1}", true),
            ("{}", true),
            ("{answer: 1}", true),
            ("{ answer : 1}", true),
            ("{curly}", false),
            ("{ to open", false),
            ("{", false),
            ("[", false),
        ] {
            assert_eq!(starts_json(text, 0), expected, "{text}");
        }
        for quoted in ["\"{\"", "'['", "`{`"] {
            assert!(!starts_json(quoted, 1), "{quoted}");
        }
    }

    #[test]
    fn scans_skip_brackets_inside_strings() {
        let text = r#"{"a": "}{][", "b": "quote \" and \\"} trailing"#;
        let Scan::Closed(end) = scan_value(text, 0) else {
            panic!("unclosed");
        };
        assert_eq!(&text[..end], r#"{"a": "}{][", "b": "quote \" and \\"}"#);
    }

    #[test]
    fn a_wrong_closer_ends_the_candidate() {
        let text = r#"{"a": [1}, "b": 2}"#;
        let Scan::Closed(end) = scan_value(text, 0) else {
            panic!("unclosed");
        };
        assert_eq!(&text[..end], r#"{"a": [1}"#);
    }

    #[test]
    fn cut_off_means_valid_up_to_the_end() {
        assert!(is_cut_off(r#"{"a": [1, 2"#));
        assert!(is_cut_off(r#"{"a": "some tex"#));
        assert!(is_cut_off(r#"{"a": tr"#));
        assert!(is_cut_off(r#"{"a": 1."#));
        assert!(is_cut_off(r#"{"a": 1e+"#));
        assert!(is_cut_off(r#"{"a": -"#));
        assert!(is_cut_off(&"[".repeat(1_000)));
        assert!(!is_cut_off(r#"{". Here it is: {"a": 1"#));
        assert!(!is_cut_off("{'a': 1"));
    }
}
