//! Reading a model's JSON reply.
//!
//! Models asked for "only JSON" still wrap it: prose before and after,
//! ```` ```json ```` fences, an apology. [`extract_json`] finds the JSON
//! object or array in a reply; [`parse_json`] deserializes it into your type.
//! Both treat the reply as untrusted network input: no panics, bounded work,
//! and errors that quote the offending excerpt.
//!
//! See [`extract_json`] for how the JSON is found.

mod candidate;
mod excerpt;
mod fence;

use serde::de::DeserializeOwned;

use candidate::{Kind, Reading, best_of, read_at, top_level_candidates};
use excerpt::{head_excerpt, located, tail_excerpt};
use fence::fenced_blocks;

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
/// 1. fenced code blocks first (```` ```json ```` or a bare ```` ``` ````,
///    at the start of a line), in order: the first whose content is a
///    complete, valid JSON value wins; one whose content is cut off is
///    [`ExtractError::Truncated`];
/// 2. then the whole reply, where only **top-level** values count: a `{` or
///    `[` starts a value when what follows can start JSON (a key, a value,
///    the closer), and the value runs to its matching closer, with string
///    and escape awareness (braces inside strings do not count). Everything
///    inside a value belongs to it: the `["4"]` of a broken object is never
///    read on its own. Brackets that cannot start JSON (`[note]`,
///    `[ below`, `{curly}`) are prose and are skipped;
/// 3. of the top-level values, the one that reads **furthest as JSON**
///    wins: a valid or cut-off value reads to its end, a broken one up to
///    its error. So a short aside or example never beats the data, a
///    broken answer (a trailing comma at its end) is not passed over for a
///    small valid object beside it, and prose that only looks like an
///    object (`{Note: …}`, broken at its first word) beats nothing. Among
///    equals a valid value comes first, then the first in the reply;
/// 4. objects come before arrays, because asides in prose are bracketed
///    (`According to section [4], …`): an array wins only when there is no
///    object, or the best object is broken and the array reads further;
/// 5. the winner decides: valid, it is returned; cut off by the end of the
///    reply (it hit `max_tokens`), [`ExtractError::Truncated`]; broken,
///    [`ExtractError::Invalid`] with an excerpt around the error (a
///    trailing comma, single quotes, Python's `True`/`None`).
///
/// A `"{"` quoted in prose, or a stray `[`, opens nothing that closes; it is
/// skipped unless what follows it is valid JSON up to the end of the reply
/// (a real cut-off value), so it never makes a complete reply read as cut
/// off.
///
/// ```
/// use palisade_prompt::{extract_json, ExtractError};
///
/// let reply = "Sure! Here it is:\n```json\n{\"label\": \"risk {high}\"}\n```\nAnything else?";
/// assert_eq!(extract_json(reply)?, "{\"label\": \"risk {high}\"}");
/// assert_eq!(extract_json("[1, 2] as requested")?, "[1, 2]");
/// // An aside that happens to be JSON does not beat the object.
/// assert_eq!(extract_json("Per section [4]: {\"due\": 30}")?, "{\"due\": 30}");
/// // A broken object is invalid, not its inner `["4"]`.
/// let broken = extract_json("{\"citations\": [\"4\"], \"confidence\": 0.9,}");
/// assert!(matches!(broken, Err(ExtractError::Invalid { .. })));
/// // Cut off.
/// let cut = extract_json("{\"findings\": [{\"a\": 1},");
/// assert!(matches!(cut, Err(ExtractError::Truncated { offset: 0, .. })));
/// # Ok::<(), ExtractError>(())
/// ```
pub fn extract_json(reply: &str) -> Result<&str, ExtractError> {
    for (start, end) in fenced_blocks(reply) {
        let body = &reply[start..end];
        let Some(open) = body.find(|c: char| !c.is_whitespace()) else {
            continue;
        };
        if !matches!(body.as_bytes()[open], b'{' | b'[') {
            continue;
        }
        match read_at(body, open) {
            Some((close, Reading::Valid)) => return Ok(&body[open..close]),
            Some((_, Reading::CutOff)) => {
                return Err(ExtractError::Truncated {
                    offset: start + open,
                    excerpt: tail_excerpt(body),
                });
            }
            // Broken or not JSON: the whole-reply pass below sees it again
            // and reports it if nothing better is found.
            Some((_, Reading::Invalid(_))) | None => {}
        }
    }

    let candidates = top_level_candidates(reply);
    let object = best_of(&candidates, Kind::Object);
    let array = best_of(&candidates, Kind::Array);
    let winner = match (object, array) {
        // An object that is not JSON (`{Note: …}`) gives way to an array
        // that reads further.
        (Some(object), Some(array))
            if matches!(object.reading, Reading::Invalid(_))
                && !matches!(array.reading, Reading::Invalid(_))
                && array.json_len() > object.json_len() =>
        {
            Some(array)
        }
        (Some(object), _) => Some(object),
        (None, array) => array,
    };
    if let Some(winner) = winner {
        return match &winner.reading {
            Reading::Valid => Ok(winner.text),
            Reading::CutOff => Err(ExtractError::Truncated {
                offset: winner.open,
                excerpt: tail_excerpt(reply),
            }),
            Reading::Invalid(err) => Err(located(winner.text, err, false)),
        };
    }
    Err(ExtractError::NotFound {
        excerpt: head_excerpt(reply),
    })
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
