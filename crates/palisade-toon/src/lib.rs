//! TOON (Token-Oriented Object Notation, spec v4) for Rust: an encoder and
//! decoder byte-compatible with the reference implementation, native serde
//! support, and a token report that tells whether TOON actually saves tokens.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod api;
mod de;
mod decode;
mod encode;
mod error;
mod fast_ser;
mod header;
mod number;
mod options;
mod parse;
mod quote;
mod scan;
mod ser;
mod tabular;
mod tape;
#[cfg(feature = "tokens")]
mod tokens;
mod value;
mod value_serde;

pub use decode::decode;
pub use encode::{encode, encode_into};
pub use error::{Error, ErrorKind, Position, Result};
pub use options::{
    DEFAULT_INDENT, DEFAULT_MAX_DEPTH, DEFAULT_MAX_INPUT_BYTES, DecodeOptions, Delimiter,
    EncodeOptions,
};
pub use value::{Map, Number, Value};
pub use api::{
    decode_json, encode_json, from_slice, from_slice_with, from_str, from_str_with, to_string,
    to_string_with, to_writer, to_writer_with,
};
pub use ser::{ValueSerializer, to_value};
#[cfg(feature = "tokens")]
pub use tokens::{
    FormatCost, PromptEncoding, PromptFormat, TokenReport, count_tokens, encode_for_prompt,
};
