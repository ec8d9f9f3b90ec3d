//! Encoder and decoder options, and the limits that guard the decoder against
//! hostile input.

use std::fmt;

/// The character that separates inline array values and tabular cells.
///
/// The encoder uses one delimiter for the whole document; the decoder reads the
/// delimiter each array header declares (`[N]` comma, `[N|]` pipe, `[N<TAB>]` tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delimiter {
    /// `,` — the default; headers carry no marker.
    #[default]
    Comma,
    /// `\t` — often the cheapest in tokens; headers carry a tab marker.
    Tab,
    /// `|` — headers carry a `|` marker.
    Pipe,
}

impl Delimiter {
    /// All delimiters, in the order reports list them.
    pub const ALL: [Delimiter; 3] = [Delimiter::Comma, Delimiter::Tab, Delimiter::Pipe];

    /// The delimiter as a byte.
    #[must_use]
    pub const fn as_byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
            Delimiter::Pipe => b'|',
        }
    }

    /// The delimiter as a `char`.
    #[must_use]
    pub const fn as_char(self) -> char {
        self.as_byte() as char
    }

    /// A short lowercase name (`comma`, `tab`, `pipe`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Delimiter::Comma => "comma",
            Delimiter::Tab => "tab",
            Delimiter::Pipe => "pipe",
        }
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Default number of spaces per indentation level.
pub const DEFAULT_INDENT: usize = 2;
/// Default maximum nesting depth for encoding and decoding.
pub const DEFAULT_MAX_DEPTH: usize = 128;
/// Default maximum decoder input size (64 MiB).
pub const DEFAULT_MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// The default value limit allows one decoded value per this many input bytes…
pub const DEFAULT_BYTES_PER_VALUE: usize = 2;
/// …plus this many, so that small documents are never limited.
pub const DEFAULT_VALUE_ALLOWANCE: usize = 65_536;

/// Options for [`encode`](crate::encode) and [`to_string_with`](crate::to_string_with).
///
/// ```
/// use palisade_toon::{Delimiter, EncodeOptions};
/// let opts = EncodeOptions::new().delimiter(Delimiter::Tab).indent(4);
/// assert_eq!(opts.indent, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Spaces per indentation level (at least 1; default 2).
    pub indent: usize,
    /// Document delimiter (default comma).
    pub delimiter: Delimiter,
    /// Deepest nesting the encoder follows before it returns
    /// [`ErrorKind::DepthLimitExceeded`](crate::ErrorKind::DepthLimitExceeded)
    /// instead of risking the stack (default 128).
    pub max_depth: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            indent: DEFAULT_INDENT,
            delimiter: Delimiter::Comma,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl EncodeOptions {
    /// The defaults: indent 2, comma, depth 128.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the document delimiter.
    #[must_use]
    pub fn delimiter(mut self, delimiter: Delimiter) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the spaces per indentation level.
    #[must_use]
    pub fn indent(mut self, indent: usize) -> Self {
        self.indent = indent;
        self
    }

    /// Sets the maximum nesting depth.
    #[must_use]
    pub fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
}

/// Options for [`decode`](crate::decode) and [`from_str_with`](crate::from_str_with).
///
/// ```
/// use palisade_toon::DecodeOptions;
/// let opts = DecodeOptions::new().strict(false).max_depth(32);
/// assert!(!opts.strict);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Spaces per indentation level (at least 1; default 2).
    pub indent: usize,
    /// Strict mode (default `true`): enforce every check of the spec's §14.
    pub strict: bool,
    /// Deepest nesting accepted (default 128); deeper input is
    /// [`ErrorKind::DepthLimitExceeded`](crate::ErrorKind::DepthLimitExceeded).
    pub max_depth: usize,
    /// Largest input accepted, in bytes (default 64 MiB); larger input is
    /// [`ErrorKind::InputTooLarge`](crate::ErrorKind::InputTooLarge).
    pub max_input_bytes: usize,
    /// Most values (scalars, arrays, objects) one decode may produce; more is
    /// [`ErrorKind::TooManyValues`](crate::ErrorKind::TooManyValues), found
    /// as the document is read (and before a strict inline array or table
    /// allocates). `None` (the default) allows one value per
    /// [`DEFAULT_BYTES_PER_VALUE`] input bytes plus
    /// [`DEFAULT_VALUE_ALLOWANCE`], which bounds decoded memory by a multiple
    /// of the input size (see the crate docs, "Hostile input").
    pub max_values: Option<usize>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            indent: DEFAULT_INDENT,
            strict: true,
            max_depth: DEFAULT_MAX_DEPTH,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_values: None,
        }
    }
}

impl DecodeOptions {
    /// The defaults: indent 2, strict, depth 128, 64 MiB.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets strict mode.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Sets the spaces per indentation level.
    #[must_use]
    pub fn indent(mut self, indent: usize) -> Self {
        self.indent = indent;
        self
    }

    /// Sets the maximum nesting depth.
    #[must_use]
    pub fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the maximum input size in bytes.
    #[must_use]
    pub fn max_input_bytes(mut self, max_input_bytes: usize) -> Self {
        self.max_input_bytes = max_input_bytes;
        self
    }

    /// Sets the most values one decode may produce (`None`: the default,
    /// proportional to the input size).
    #[must_use]
    pub fn max_values(mut self, max_values: Option<usize>) -> Self {
        self.max_values = max_values;
        self
    }

    /// The value limit in force for an input of `input_len` bytes.
    #[must_use]
    pub fn value_limit(&self, input_len: usize) -> usize {
        self.max_values.unwrap_or(
            (input_len / DEFAULT_BYTES_PER_VALUE).saturating_add(DEFAULT_VALUE_ALLOWANCE),
        )
    }
}
