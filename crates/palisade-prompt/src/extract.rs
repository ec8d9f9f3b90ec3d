//! Reading a model's JSON reply.
//!
//! Models asked for "only JSON" still wrap it: prose before and after,
//! ```` ```json ```` fences, an apology. [`extract_json`] finds the JSON
//! object or array in a reply; [`parse_json`] deserializes it into your type.
//! Both treat the reply as untrusted network input: no panics, bounded work,
//! and errors that quote the offending excerpt.
//!
//!
//! See [`extract_json`] for how the JSON is found.

use serde::de::{DeserializeOwned, IgnoredAny};

/// How many candidate starts are tried before giving up, bounding the work on
/// hostile replies (each candidate is a linear scan).
const MAX_CANDIDATES: usize = 64;

/// Characters of context an excerpt shows on each side of the problem.
const EXCERPT_RADIUS: usize = 40;

/// Why no usable JSON came out of a reply. Every variant carries an excerpt
/// of the reply around the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The reply contains no JSON object or array.
    #[error("no JSON object or array found in the reply (starts with {excerpt:?})")]
    NotFound {
        /// The start of the reply.
        excerpt: String,
    },
    /// A JSON value starts but never ends: the reply was cut off.
    #[error(
        "the reply's JSON is cut off: the value opened at byte {offset} is never closed (ends with {excerpt:?})"
    )]
    Truncated {
        /// Byte offset in the reply where the value opens.
        offset: usize,
        /// The end of the reply.
        excerpt: String,
    },
    /// Brackets balance but the text is not valid JSON (a trailing comma,
    /// single quotes, a comment…).
    #[error(
        "the reply's JSON is invalid at line {line}, column {column}: {message} (near {excerpt:?})"
    )]
    Invalid {
        /// 1-based line within the JSON.
        line: usize,
        /// 1-based column within that line.
        column: usize,
        /// The parser's message.
        message: String,
        /// The JSON around the error.
        excerpt: String,
    },
    /// Valid JSON, but not the shape the target type expects (a missing
    /// field, a wrong type).
    #[error(
        "the reply's JSON does not match the expected type at line {line}, column {column}: {message} (near {excerpt:?})"
    )]
    Shape {
        /// 1-based line within the JSON.
        line: usize,
        /// 1-based column within that line.
        column: usize,
        /// The deserializer's message.
        message: String,
        /// The JSON around the error.
        excerpt: String,
    },
}

/// Finds the JSON object or array in a model reply and returns it as a slice
/// of the reply.
///
/// How the JSON is found:
///
/// 1. fenced code blocks first (```` ```json ```` or a bare ```` ``` ````),
///    in order: the first whose content is a complete, valid JSON value wins;
/// 2. then the whole reply: each `{` or `[` in order starts a candidate,
///    scanned with string and escape awareness (braces inside strings do not
///    count) to its matching closer; the first candidate that is valid JSON
///    wins, so a bracketed aside like `[note]` before the data is skipped;
/// 3. a candidate that is never closed means the reply was cut off (hit
///    `max_tokens`, say): that is [`ExtractError::Truncated`], never a
///    smaller object found inside it.
///
/// ```
/// use palisade_prompt::extract_json;
///
/// let reply = "Sure! Here it is:\n```json\n{\"label\": \"risk {high}\"}\n```\nAnything else?";
/// assert_eq!(extract_json(reply)?, "{\"label\": \"risk {high}\"}");
/// assert_eq!(extract_json("[1, 2] as requested")?, "[1, 2]");
/// assert!(extract_json("{\"findings\": [{\"a\": 1},").is_err()); // cut off
/// # Ok::<(), palisade_prompt::ExtractError>(())
/// ```
pub fn extract_json(reply: &str) -> Result<&str, ExtractError> {
    let mut longest_invalid: Option<(&str, serde_json::Error)> = None;
    for (start, end) in fenced_blocks(reply) {
        let body = &reply[start..end];
        let Some(open) = body.find(|c: char| !c.is_whitespace()) else {
            continue;
        };
        if !matches!(body.as_bytes()[open], b'{' | b'[') {
            continue;
        }
        match scan_value(body, open) {
            Scan::Closed(close) => {
                let candidate = &body[open..close];
                match validate(candidate) {
                    Ok(()) => return Ok(candidate),
                    Err(err) => keep_longest(&mut longest_invalid, candidate, err),
                }
            }
            Scan::Unclosed => {
                return Err(ExtractError::Truncated {
                    offset: start + open,
                    excerpt: tail_excerpt(body),
                });
            }
            Scan::Mismatched => {}
        }
    }

    let mut tried = 0;
    let mut from = 0;
    while let Some(found) = reply[from..].find(['{', '[']) {
        let open = from + found;
        tried += 1;
        if tried > MAX_CANDIDATES {
            break;
        }
        match scan_value(reply, open) {
            Scan::Closed(close) => {
                let candidate = &reply[open..close];
                match validate(candidate) {
                    Ok(()) => return Ok(candidate),
                    Err(err) => keep_longest(&mut longest_invalid, candidate, err),
                }
            }
            Scan::Unclosed => {
                return Err(ExtractError::Truncated {
                    offset: open,
                    excerpt: tail_excerpt(reply),
                });
            }
            Scan::Mismatched => {}
        }
        from = open + 1;
    }

    match longest_invalid {
        Some((candidate, err)) => Err(located(candidate, &err, false)),
        None => Err(ExtractError::NotFound {
            excerpt: head_excerpt(reply),
        }),
    }
}

/// Extracts the JSON from a reply ([`extract_json`]) and deserializes it.
///
/// ```
/// use palisade_prompt::{parse_json, ExtractError};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Label { label: String, confidence: f64 }
///
/// let label: Label = parse_json("The answer: {\"label\": \"risk\", \"confidence\": 0.9}.")?;
/// assert_eq!(label.label, "risk");
///
/// let err = parse_json::<Label>("{\"label\": \"risk\"}").unwrap_err();
/// assert!(matches!(err, ExtractError::Shape { .. }));
/// assert!(err.to_string().contains("confidence"));
/// # Ok::<(), ExtractError>(())
/// ```
pub fn parse_json<T: DeserializeOwned>(reply: &str) -> Result<T, ExtractError> {
    let json = extract_json(reply)?;
    serde_json::from_str(json).map_err(|err| located(json, &err, true))
}

/// Where a scan from an opening bracket ended.
enum Scan {
    /// Balanced; the value ends before this byte offset.
    Closed(usize),
    /// The text ended inside the value.
    Unclosed,
    /// A closer did not match its opener, so this is not JSON.
    Mismatched,
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
                if stack.pop() != Some(byte) {
                    return Scan::Mismatched;
                }
                if stack.is_empty() {
                    return Scan::Closed(offset + 1);
                }
            }
            _ => {}
        }
    }
    Scan::Unclosed
}

/// Byte ranges of the contents of ```` ``` ```` fenced blocks, in order. An
/// unclosed fence runs to the end of the reply.
///
/// Fences count only at the start of a line (after optional indentation).
/// JSON strings cannot hold a raw newline, so a fence quoted inside a JSON
/// string (`"use ```json blocks"`) is never mistaken for one.
fn fenced_blocks(reply: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(fence) = next_fence(reply, from) {
        // The info string (`json`, `JSON`, nothing) runs to the end of the line.
        let Some(newline) = reply[fence..].find('\n') else {
            break;
        };
        let start = fence + newline + 1;
        match next_fence(reply, start) {
            Some(close) => {
                blocks.push((start, close));
                from = close + 3;
            }
            None => {
                blocks.push((start, reply.len()));
                break;
            }
        }
    }
    blocks
}

/// The next ```` ``` ```` at or after `from` that starts a line.
fn next_fence(reply: &str, mut from: usize) -> Option<usize> {
    while let Some(found) = reply[from..].find("```") {
        let at = from + found;
        let line_start = reply[..at].rfind('\n').map_or(0, |nl| nl + 1);
        if reply[line_start..at]
            .bytes()
            .all(|b| b == b' ' || b == b'\t')
        {
            return Some(at);
        }
        from = at + 3;
    }
    None
}

fn validate(candidate: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(candidate).map(|_| ())
}

/// Keeps the longest invalid candidate: the likeliest to be the intended
/// JSON, so its error is the one worth reporting.
fn keep_longest<'a>(
    slot: &mut Option<(&'a str, serde_json::Error)>,
    candidate: &'a str,
    err: serde_json::Error,
) {
    if slot
        .as_ref()
        .is_none_or(|(kept, _)| candidate.len() > kept.len())
    {
        *slot = Some((candidate, err));
    }
}

/// Turns a serde_json error on `json` into an error with an excerpt.
fn located(json: &str, err: &serde_json::Error, shape: bool) -> ExtractError {
    let (line, column) = (err.line(), err.column());
    let offset = byte_offset(json, line, column);
    let excerpt = excerpt_around(json, offset);
    // serde_json appends " at line L column C"; the variant carries those.
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head)
        .to_owned();
    if shape && !err.is_syntax() && !err.is_eof() {
        ExtractError::Shape {
            line,
            column,
            message,
            excerpt,
        }
    } else {
        ExtractError::Invalid {
            line,
            column,
            message,
            excerpt,
        }
    }
}

/// The byte offset of serde_json's 1-based (line, column) in `text`, clamped
/// to a char boundary.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(at, _)| at + 1)
    };
    floor_char_boundary(text, line_start.saturating_add(column.saturating_sub(1)))
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Up to [`EXCERPT_RADIUS`] characters on each side of `offset`, with `…`
/// where the text goes on.
fn excerpt_around(text: &str, offset: usize) -> String {
    let before: Vec<(usize, char)> = text[..offset]
        .char_indices()
        .rev()
        .take(EXCERPT_RADIUS)
        .collect();
    let start = before.last().map_or(offset, |(at, _)| *at);
    let end = text[offset..]
        .char_indices()
        .nth(EXCERPT_RADIUS)
        .map_or(text.len(), |(at, _)| offset + at);
    let mut excerpt = String::new();
    if start > 0 {
        excerpt.push('…');
    }
    excerpt.push_str(&text[start..end]);
    if end < text.len() {
        excerpt.push('…');
    }
    excerpt
}

fn head_excerpt(text: &str) -> String {
    excerpt_around(text, 0)
}

fn tail_excerpt(text: &str) -> String {
    excerpt_around(text, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_inside_strings_do_not_count() {
        let reply = r#"Result: {"a": "}{][", "b": "quote \" and \\"} trailing"#;
        assert_eq!(
            extract_json(reply).unwrap(),
            r#"{"a": "}{][", "b": "quote \" and \\"}"#
        );
    }

    #[test]
    fn skips_invalid_bracketed_prose() {
        let reply = r#"[note] I used {curly} words. {"ok": true}"#;
        assert_eq!(extract_json(reply).unwrap(), r#"{"ok": true}"#);
    }

    #[test]
    fn fence_wins_over_unbalanced_prose() {
        let reply = "Here is {what you asked:\n```json\n{\"x\": 1}\n```";
        assert_eq!(extract_json(reply).unwrap(), "{\"x\": 1}");
    }

    #[test]
    fn fences_inside_json_strings_are_not_fences() {
        let reply = r#"{"answer": "wrap it in ```json\n{\"a\": 1}\n``` please"}"#;
        assert_eq!(extract_json(reply).unwrap(), reply);
        let reply = "Result:\n  ```json\n  [1]\n  ```";
        assert_eq!(extract_json(reply).unwrap(), "[1]");
    }

    #[test]
    fn truncated_inside_a_fence() {
        let err = extract_json("```json\n{\"x\": [1, 2\n```").unwrap_err();
        assert!(
            matches!(err, ExtractError::Truncated { offset: 8, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn invalid_json_reports_the_spot() {
        let err = extract_json("{\"a\": 1,}").unwrap_err();
        let ExtractError::Invalid {
            line,
            column,
            excerpt,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!((line, column), (1, 9));
        assert_eq!(excerpt, "{\"a\": 1,}");
    }

    #[test]
    fn excerpts_are_bounded_and_char_safe() {
        let long = "é".repeat(100);
        let excerpt = excerpt_around(&long, 100);
        assert_eq!(
            excerpt.chars().filter(|c| *c == 'é').count(),
            2 * EXCERPT_RADIUS
        );
        assert!(excerpt.starts_with('…') && excerpt.ends_with('…'));
        assert_eq!(byte_offset("ab\ncd", 2, 2), 4);
        assert_eq!(byte_offset("ab", 9, 9), 2);
    }

    #[test]
    fn hostile_input_is_bounded() {
        let reply = "]".repeat(10) + &"[}".repeat(100_000);
        assert!(matches!(
            extract_json(&reply),
            Err(ExtractError::NotFound { .. })
        ));
        let reply = "[".repeat(100_000);
        assert!(matches!(
            extract_json(&reply),
            Err(ExtractError::Truncated { offset: 0, .. })
        ));
    }

    #[test]
    fn nothing_found() {
        let err = extract_json("I cannot help with that.").unwrap_err();
        assert_eq!(
            err,
            ExtractError::NotFound {
                excerpt: "I cannot help with that.".into()
            }
        );
    }
}
