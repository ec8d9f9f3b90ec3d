//! TOON (Token-Oriented Object Notation, spec v4.1) for Rust: an encoder
//! byte-identical to the reference implementation, a strict decoder with
//! line-and-column errors, native serde, and a token report that tells
//! whether TOON actually saves tokens for your data.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct User {
//!     id: u32,
//!     name: String,
//!     role: String,
//! }
//!
//! let users = vec![
//!     User { id: 1, name: "Ada".into(), role: "admin".into() },
//!     User { id: 2, name: "Bob".into(), role: "user".into() },
//! ];
//! let toon = palisade_toon::to_string(&users)?;
//! assert_eq!(toon, "[2]{id,name,role}:\n  1,Ada,admin\n  2,Bob,user");
//!
//! let back: Vec<User> = palisade_toon::from_str(&toon)?;
//! assert_eq!(back, users);
//! # Ok::<(), palisade_toon::Error>(())
//! ```
//!
//! # Features
//!
//! | feature  | default | what it adds |
//! |----------|---------|--------------|
//! | `tokens` | no      | `count_tokens`, `TokenReport` and `encode_for_prompt` with the o200k_base tokenizer (`tiktoken-rs`; the table is built once per process) |
//!
//! # What is in the box
//!
//! - **Serde**: [`to_string`], [`to_writer`], [`from_str`], [`from_slice`]
//!   (and `_with` variants taking options). Encoding writes tables and flat
//!   records straight from serde calls and uses a [`Value`] tree only for
//!   other shapes; decoding deserializes from a flat event tape whose strings
//!   borrow from the input, so `&str` fields are zero-copy. No
//!   `serde_json::Value` is involved. Each thread keeps its last tape
//!   allocation (at most 16 MiB) and line lists (at most 4.5 MiB) for the
//!   next decode.
//! - **Values**: [`Value`] keeps object key order (TOON output depends on
//!   it); [`encode()`] / [`decode()`] work on it, and it converts to and from
//!   `serde_json::Value` ([`encode_json`], [`decode_json`], `From`).
//! - **Layout** (spec §5–§10): objects by indentation, inline primitive arrays
//!   `key[N]: a,b`, tables `key[N]{f1,f2}:`, nested field groups
//!   `{id,customer{name,country}}`, keyed tables `key[N:]{f}:`, `- ` list
//!   items, delimiters comma / tab / pipe marked in the brackets, empty arrays
//!   as `key: []`, `#` comment lines skipped by the decoder.
//!
//! # Conformance
//!
//! All 538 cases of the official fixtures (spec v4.1.1) pass, and the encoder
//! output is byte-identical to `@toon-format/toon` 4.4 for the same input and
//! options. Strict mode (the default) reports every error of the spec's §14
//! checklist as a typed [`ErrorKind`] with a [`Position`]. Non-strict mode
//! recovers as the spec allows: row and item counts are not enforced, blank
//! lines inside arrays are skipped, indentation is `floor(spaces / indent)`,
//! duplicate keys resolve last-write-wins, and a leading tab counts as one
//! indentation level (the documented tab policy).
//!
//! Spec 4.1.1 lists seven non-strict cases as optional leniency, where the
//! reference implementation (4.4) returns an error instead. Palisade takes
//! the lenient reading in non-strict mode, and errors in strict mode:
//!
//! | input (non-strict) | palisade-toon decodes to |
//! |---|---|
//! | `a[2\|]{x,y}: 1\|2` (bracket and field list disagree) | `{"a[2\|]{x,y}": "1\|2"}` |
//! | `u[2:]{x}:` / `  a: 1` / `  boom` | `{"u": {"a": {"x": 1}}}` (the colon-less line is skipped) |
//! | `foo[1][bar]: 10` | `{"foo[1][bar]": 10}` |
//! | `key[]: 1,2` | `{"key[]": "1,2"}` |
//! | `foo[bar][1]: 20` | `{"foo[bar][1]": 20}` |
//! | `foo[2]extra: a,b` | `{"foo[2]extra": "a,b"}` |
//! | `foo [2]: bar,baz` | `{"foo [2]": "bar,baz"}` |
//!
//! That is: a malformed array header is read as a `key: value` line whose key
//! is the whole text before the colon.
//!
//! # Numbers and host types
//!
//! Integers that fit `i64`/`u64` are encoded and decoded exactly; floats are
//! written like ECMAScript's `Number.prototype.toString`, as the reference
//! encoder writes them (shortest round-trip digits, plain decimal for
//! `1e-6 <= |n| < 1e21`, exponent form outside, so `1e-97` stays `1e-97`;
//! `-0` as `0`, NaN and infinities as `null`). Decoding reads every fraction
//! to the nearest `f64` (correctly rounded), so decode → encode → decode is
//! stable for every finite double (a property test over random bit patterns
//! checks it); whole floats below 2^53 are held as integers, so `1.0`
//! deserializes into an integer field.
//!
//! Out-of-range policy (spec §2 asks for one; lossless first): an integer
//! literal is taken exactly when a 64-bit integer holds it, or when the
//! nearest double is written back as the same digits
//! (`100000000000000000000`). Any other integer literal
//! (`123456789012345678901234567890`) is refused with
//! [`ErrorKind::InexactInteger`] at its line and column, in TOON and in JSON
//! ([`from_json_str`]), instead of being rounded silently; quote it to keep
//! its digits as a string. A fraction beyond the double range (`1e400`) stays
//! a string in TOON and is invalid JSON. `i128`/`u128` outside the 64-bit
//! range encode as decimal strings. Enums use serde's external tagging; bytes
//! encode as an array of numbers.
//!
//! Exact float parsing of JSON comes from serde_json's `float_roundtrip`
//! feature, which this crate turns on; Cargo unifies features, so every crate
//! built together with this one reads JSON floats exactly too (slightly
//! slower, never less exact). `arbitrary_precision` is deliberately not used:
//! it would change `serde_json::Value` for every crate of the build.
//!
//! # Hostile input
//!
//! [`DecodeOptions`] bounds nesting depth (default 128), input size (default
//! 64 MiB) and the number of decoded values (default one per 2 input bytes
//! plus 65,536), each with a typed error; the value limit is charged as the
//! document is read, declared lengths (`a[62914560]:`) are never trusted for
//! allocation, duplicate-key detection is hashed for wide objects, and every
//! scan is linear. So input cannot cause a stack overflow, a panic or
//! quadratic time, and a decode's peak memory stays under 64 bytes per input
//! byte plus 256 KiB (`tests/limits.rs` and `tests/hostile.rs` measure it
//! with a counting allocator). [`EncodeOptions::max_depth`] bounds the
//! encoder the same way.
//!
//! [`from_json_str`] (what `palisade toon encode` reads JSON with) refuses a
//! key repeated in one object with [`ErrorKind::DuplicateKey`] and its
//! position, as strict decoding refuses it in TOON, instead of keeping the
//! last value silently.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod api;
mod de;
mod decode;
mod encode;
mod error;
mod fast_ser;
mod header;
mod json;
mod number;
mod options;
mod parse;
mod parse_array;
mod quote;
mod reuse;
mod scan;
mod ser;
mod tabular;
mod tape;
mod tape_de;
mod token;
#[cfg(feature = "tokens")]
mod tokens;
mod unquoted;
mod value;
mod value_serde;

pub use api::{
    decode_json, encode_json, from_slice, from_slice_with, from_str, from_str_with, to_string,
    to_string_with, to_writer, to_writer_with,
};
pub use decode::decode;
pub use encode::{encode, encode_into};
pub use error::{Error, ErrorKind, Position, Result};
pub use json::from_json_str;
pub use options::{
    DEFAULT_BYTES_PER_VALUE, DEFAULT_INDENT, DEFAULT_MAX_DEPTH, DEFAULT_MAX_INPUT_BYTES,
    DEFAULT_VALUE_ALLOWANCE, DecodeOptions, Delimiter, EncodeOptions,
};
pub use ser::{ValueSerializer, to_value};
#[cfg(feature = "tokens")]
pub use tokens::{
    FormatCost, PromptEncoding, PromptFormat, TokenReport, count_tokens, encode_for_prompt,
};
pub use value::{Map, Number, Value};

/// The guide, `docs/toon.md`, compiled with the doc tests so that its Rust
/// snippet builds and runs. Only under `cfg(doctest)`: the file lives outside
/// the crate; and with `tokens`, which the snippet's `encode_for_prompt` needs.
#[cfg(all(doctest, feature = "tokens"))]
#[doc = include_str!("../../../docs/toon.md")]
mod user_guide {}
