//! Reading JSON text for encoding (what `palisade toon encode` runs), stricter
//! than `serde_json::from_str::<Value>` in the two ways TOON output depends on:
//!
//! - **Numbers stay exact.** Floats are parsed to the nearest double
//!   (serde_json's `float_roundtrip`), so `1e-97` encodes as `1e-97`. An
//!   integer literal is taken when a 64-bit integer holds it, or when the
//!   nearest double is written back as the same digits (`100000000000000000000`);
//!   any other (`123456789012345678901234567890`) is refused with
//!   [`ErrorKind::InexactInteger`] instead of being rounded silently.
//! - **Duplicate keys are refused** with [`ErrorKind::DuplicateKey`], as
//!   strict TOON decoding refuses them, instead of last-write-wins.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, ErrorKind, Result};
use crate::unquoted::find_closing_quote;
use crate::value::{Map, Number, Value, inexact_integer};

/// Reads JSON text into a [`Value`], keeping every number exact and refusing
/// duplicate keys (the module notes say why).
///
/// ```
/// let v = palisade_toon::from_json_str(r#"{"x": 1e-97, "n": 100000000000000000000}"#)?;
/// let toon = palisade_toon::encode(&v, &Default::default())?;
/// assert_eq!(toon, "x: 1e-97\nn: 100000000000000000000");
///
/// let err = palisade_toon::from_json_str("[1,\n 123456789012345678901234567890]").unwrap_err();
/// assert_eq!((err.line(), err.column()), (Some(2), Some(2)));
/// # Ok::<(), palisade_toon::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidJson`] for text that is not JSON,
/// [`ErrorKind::DuplicateKey`] and [`ErrorKind::InexactInteger`] as above;
/// each with the line and column (in characters) where it was found.
pub fn from_json_str(text: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| json_error(&e))?;
    if let Some((at, lexeme)) = first_inexact_integer(text) {
        let (line, column) = position_of(text, at);
        return Err(Error::at(inexact_integer(lexeme), line, column));
    }
    Ok(value)
}

/// A serde_json error as ours: duplicate keys keep their kind, anything else
/// is invalid JSON; serde_json's own " at line L column C" suffix is dropped
/// because the position is carried separately.
fn json_error(e: &serde_json::Error) -> Error {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    let kind = match message.strip_prefix(DUPLICATE_PREFIX) {
        Some(key) => ErrorKind::DuplicateKey(key.to_owned()),
        None => ErrorKind::InvalidJson(message.to_owned()),
    };
    Error::at(kind, e.line(), e.column())
}

/// The custom message the visitor raises for a repeated key, followed by the
/// key itself; [`json_error`] turns it back into [`ErrorKind::DuplicateKey`].
const DUPLICATE_PREFIX: &str = "duplicate key in one object: ";

/// 1-based line and column (in characters) of byte offset `at`.
fn position_of(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = memchr::memchr_iter(b'\n', before.as_bytes()).count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The first integer literal (outside strings) that no 64-bit integer holds
/// and whose nearest double is written with other digits, with its offset.
/// Only literals of 20 or more characters can be such, so shorter ones are
/// skipped without a look.
fn first_inexact_integer(text: &str) -> Option<(usize, &str)> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = find_closing_quote(b, i).map_or(b.len(), |close| close + 1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let integer = !matches!(b.get(i), Some(b'.' | b'e' | b'E'));
                while matches!(
                    b.get(i),
                    Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                ) {
                    i += 1;
                }
                let lexeme = &text[start..i];
                if integer && lexeme.len() >= 20 && Number::exact_integer(lexeme).is_none() {
                    return Some((start, lexeme));
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// [`Value`]'s own visitor, but refusing a repeated key.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::from(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        let mut index: Option<std::collections::HashSet<String>> = None;
        while let Some(key) = access.next_key::<String>()? {
            // Checked before the value is read, so the error's position is
            // the repeated key's. Small objects search their entries; wide
            // ones keep an index so a hostile object with many keys stays
            // linear.
            let seen = match &mut index {
                Some(ix) => !ix.insert(key.clone()),
                None => map.get(&key).is_some(),
            };
            if seen {
                return Err(de::Error::custom(format_args!("{DUPLICATE_PREFIX}{key}")));
            }
            let value = access.next_value_seed(StrictValue)?;
            if index.is_none() && map.len() >= 16 {
                index = Some(map.keys().cloned().chain([key.clone()]).collect());
            }
            map.push_unique(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> (ErrorKind, Option<(usize, usize)>) {
        match from_json_str(text) {
            Ok(v) => panic!("{text} was accepted as {v:?}"),
            Err(e) => (e.kind().clone(), e.line().zip(e.column())),
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_the_key() {
        // Issue 21: `{"k":1,"k":2}` used to encode as `k: 2`.
        let (kind, at) = refused("{\"a\": 1,\n \"b\": {\"k\": 1, \"k\": 2}}");
        assert_eq!(kind, ErrorKind::DuplicateKey("k".into()));
        // Just past the second `"k"` (columns 16-18), before its value.
        assert_eq!(at, Some((2, 18)));
    }

    #[test]
    fn a_repeated_key_is_found_in_a_wide_object() {
        // Past 16 keys the check uses a hash index; the repeat is the 41st key.
        let mut text: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        text = format!("{{{text}\"k7\":0}}");
        let (kind, at) = refused(&text);
        assert_eq!(kind, ErrorKind::DuplicateKey("k7".into()));
        assert_eq!(at.map(|(line, _)| line), Some(1));
        // The same keys without the repeat are read in order.
        let ok = from_json_str(&text.replace("\"k7\":0", "\"k40\":0"));
        assert_eq!(ok.ok().and_then(|v| v.as_object().map(Map::len)), Some(41));
    }

    #[test]
    fn numbers_are_read_exactly() {
        for (json, toon) in [
            ("1e-97", "1e-97"),
            ("1.5e-300", "1.5e-300"),
            ("3.15e-235", "3.15e-235"),
            ("1.0000000000000000e-97", "1e-97"),
            ("1.5000000000000001e-300", "1.5e-300"),
            ("3.1499999999999997e-235", "3.15e-235"),
            ("100000000000000000000", "100000000000000000000"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
        ] {
            let v = from_json_str(json).ok();
            let text = v.and_then(|v| crate::encode(&v, &Default::default()).ok());
            assert_eq!(text.as_deref(), Some(toon), "{json}");
        }
        let (kind, at) = refused("[1,\n 123456789012345678901234567890]");
        assert!(matches!(kind, ErrorKind::InexactInteger { .. }), "{kind:?}");
        assert_eq!(at, Some((2, 2)));
    }
}
