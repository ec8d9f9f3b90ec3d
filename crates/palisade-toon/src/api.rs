//! The serde entry points: `to_string`, `to_writer`, `from_str`, `from_slice`,
//! and the `serde_json::Value` bridges.

use serde::{Deserialize, Serialize};

use crate::decode::decode;
use crate::encode::encode;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{DecodeOptions, EncodeOptions};
use crate::ser::to_value;
use crate::tape::TapeSink;
use crate::tape_de::TapeDeserializer;
use crate::value::Value;

/// Serializes `value` as TOON with default options.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct User { id: u32, name: &'static str }
/// let users = vec![User { id: 1, name: "Ada" }, User { id: 2, name: "Bob" }];
/// assert_eq!(palisade_toon::to_string(&users)?, "[2]{id,name}:\n  1,Ada\n  2,Bob");
/// # Ok::<(), palisade_toon::Error>(())
/// ```
///
/// # Errors
///
/// A map key that cannot be a string, nesting deeper than the depth limit, or
/// a custom error from the value's `Serialize` impl.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    to_string_with(value, &EncodeOptions::default())
}

/// Serializes `value` as TOON with `options`.
///
/// # Errors
///
/// As [`to_string`].
pub fn to_string_with<T: Serialize + ?Sized>(value: &T, options: &EncodeOptions) -> Result<String> {
    // Tables and flat records are written straight from serde; every other
    // shape (and any error) goes through the `Value` tree.
    if let Some(text) = crate::fast_ser::try_encode(value, options) {
        return Ok(text);
    }
    encode(&to_value(value)?, options)
}

/// Serializes `value` as TOON into `writer` (no trailing newline).
///
/// # Errors
///
/// As [`to_string`], plus I/O errors of the writer.
pub fn to_writer<W: std::io::Write, T: Serialize + ?Sized>(writer: W, value: &T) -> Result<()> {
    to_writer_with(writer, value, &EncodeOptions::default())
}

/// Serializes `value` as TOON with `options` into `writer`.
///
/// # Errors
///
/// As [`to_writer`].
pub fn to_writer_with<W: std::io::Write, T: Serialize + ?Sized>(
    mut writer: W,
    value: &T,
    options: &EncodeOptions,
) -> Result<()> {
    let text = to_string_with(value, options)?;
    writer.write_all(text.as_bytes())?;
    Ok(())
}

/// Deserializes a `T` from TOON text with default (strict) options.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct User { id: u32, name: String }
/// let users: Vec<User> = palisade_toon::from_str("[2]{id,name}:\n  1,Ada\n  2,Bob")?;
/// assert_eq!(users[1], User { id: 2, name: "Bob".into() });
/// # Ok::<(), palisade_toon::Error>(())
/// ```
///
/// # Errors
///
/// Decoding errors (with line and column) or a type mismatch between the
/// document and `T`.
pub fn from_str<'de, T: Deserialize<'de>>(input: &'de str) -> Result<T> {
    from_str_with(input, &DecodeOptions::default())
}

/// Deserializes a `T` from TOON text with `options`.
///
/// # Errors
///
/// As [`from_str`].
pub fn from_str_with<'de, T: Deserialize<'de>>(
    input: &'de str,
    options: &DecodeOptions,
) -> Result<T> {
    let mut sink = TapeSink::new(input);
    crate::parse::parse(input, options, &mut sink)?;
    if sink.saw_duplicate {
        // Non-strict input with a repeated key: resolve last-write-wins in a
        // `Value` first (strings are then owned, not borrowed).
        return T::deserialize(decode(input, options)?);
    }
    let mut de = TapeDeserializer::new(sink);
    let result = T::deserialize(&mut de).map_err(|e| e.or_at(de.position()));
    de.finish();
    result
}

/// Deserializes a `T` from UTF-8 TOON bytes.
///
/// # Errors
///
/// As [`from_str`], plus [`ErrorKind::InvalidUtf8`].
pub fn from_slice<'de, T: Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    from_slice_with(input, &DecodeOptions::default())
}

/// Deserializes a `T` from UTF-8 TOON bytes with `options`.
///
/// # Errors
///
/// As [`from_slice`].
pub fn from_slice_with<'de, T: Deserialize<'de>>(
    input: &'de [u8],
    options: &DecodeOptions,
) -> Result<T> {
    let text = std::str::from_utf8(input).map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
    from_str_with(text, options)
}

/// Encodes a `serde_json::Value` as TOON (key order as the `serde_json` map
/// iterates it: insertion order with its `preserve_order` feature, sorted without).
///
/// # Errors
///
/// Nesting deeper than the depth limit.
pub fn encode_json(value: &serde_json::Value, options: &EncodeOptions) -> Result<String> {
    encode(&Value::from(value), options)
}

/// Decodes TOON text into a `serde_json::Value`.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_json(input: &str, options: &DecodeOptions) -> Result<serde_json::Value> {
    decode(input, options).map(serde_json::Value::from)
}
