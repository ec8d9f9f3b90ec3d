//! The one error type of the crate: a typed [`ErrorKind`] plus, for decoding,
//! the line and column where the problem was found.

use std::fmt;

/// A 1-based line and column (in characters) in the TOON input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in Unicode scalar values.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What went wrong. Every variant's message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is larger than [`DecodeOptions::max_input_bytes`](crate::DecodeOptions::max_input_bytes).
    #[error("input is {len} bytes, more than the limit of {max} bytes")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// Nesting is deeper than the configured `max_depth`.
    #[error("nesting is deeper than the limit of {max} levels")]
    DepthLimitExceeded {
        /// The configured limit.
        max: usize,
    },
    /// `indent` was set to 0.
    #[error("indent must be at least 1 space")]
    InvalidIndent,
    /// A tab in the leading whitespace of a line (strict mode).
    #[error("tabs are not allowed in indentation; indent with spaces")]
    TabIndentation,
    /// Leading spaces are not a multiple of the indent size (strict mode).
    #[error("indentation must be a multiple of {indent} spaces, found {found}")]
    IndentNotMultiple {
        /// Spaces found.
        found: usize,
        /// Configured indent size.
        indent: usize,
    },
    /// A line is indented deeper than its scope allows.
    #[error("line is over-indented: expected depth {expected}, found {found}")]
    OverIndented {
        /// Depth the scope expects.
        expected: usize,
        /// Depth of the line.
        found: usize,
    },
    /// Nested content skips a level (strict mode).
    #[error("indentation jumps a level: expected depth {expected}, found {found}")]
    DepthJump {
        /// Depth expected (parent + 1).
        expected: usize,
        /// Depth found.
        found: usize,
    },
    /// A blank line between the first and last row or item of an array (strict mode).
    #[error("blank line inside {context}; rows and items must be contiguous in strict mode")]
    BlankLineInArray {
        /// The kind of block (`tabular array`, `list array`, `keyed tabular object`).
        context: &'static str,
    },
    /// A declared `[N]` does not match what follows (strict mode), or a row has
    /// the wrong number of cells.
    #[error("expected {expected} {what}, but found {found}")]
    CountMismatch {
        /// What was counted (`inline values`, `tabular rows`, `list items`, `row cells`, `keyed entries`, ...).
        what: &'static str,
        /// Declared count.
        expected: usize,
        /// Actual count.
        found: usize,
    },
    /// More rows or list items follow than the header declared (strict mode).
    #[error("expected {expected} {what}, but found more")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// Declared count.
        expected: usize,
    },
    /// A key without the `:` that must follow it.
    #[error("missing colon after key; expected `key: value`, `key:` or an array header")]
    MissingColon,
    /// A quoted string without its closing quote.
    #[error("unterminated string: missing closing quote")]
    UnterminatedString,
    /// An escape other than `\\ \" \n \r \t \uXXXX`.
    #[error(
        "invalid escape sequence `{0}`; only \\\\, \\\", \\n, \\r, \\t and \\uXXXX are allowed"
    )]
    InvalidEscape(String),
    /// Text after the closing quote of a quoted token.
    #[error("unexpected characters after closing quote")]
    TrailingCharacters,
    /// An array header that does not follow the §6 grammar (in strict mode, or
    /// wherever no key-value reading is possible).
    #[error("invalid array header: {0}")]
    InvalidHeader(String),
    /// A header without a key where only keyed headers are allowed.
    #[error("{0}")]
    MisplacedKeylessHeader(&'static str),
    /// The same key twice in one object (strict mode).
    #[error("duplicate key \"{0}\" in the same object")]
    DuplicateKey(String),
    /// A keyed tabular scope holds a line that is not `key: cells`.
    #[error("expected an entry row `key: cells` inside the keyed tabular object")]
    ExpectedEntryRow,
    /// Two or more depth-0 lines that are neither headers nor key-value lines.
    #[error("top-level document must start with a key-value or array-header line")]
    ExpectedKeyValue,
    /// Content after a root array or root primitive.
    #[error("unexpected content after the end of the document root")]
    TrailingContent,
    /// An integer that neither a 64-bit integer nor a double holds exactly
    /// (read from JSON or TOON): refused rather than rounded.
    #[error(
        "integer {text} cannot be held exactly: it is beyond 64 bits and the nearest double is {nearest}; quote it to keep its digits as a string"
    )]
    InexactInteger {
        /// The integer as written (shortened when very long).
        text: String,
        /// The nearest double, as TOON would write it.
        nearest: String,
    },
    /// The document decodes to more values than
    /// [`DecodeOptions::max_values`](crate::DecodeOptions::max_values) allows.
    #[error(
        "the document holds more than {max} values; raise DecodeOptions::max_values if it is trusted"
    )]
    TooManyValues {
        /// The limit in force for this input.
        max: usize,
    },
    /// JSON text that serde_json cannot read (its message).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A serde type error or a custom message from a `Serialize`/`Deserialize` impl.
    #[error("{0}")]
    Message(String),
    /// A map key that cannot become a TOON key (only strings, numbers, bools and chars can).
    #[error("map key must be a string, number, bool or char")]
    KeyMustBeString,
    /// Reading input or writing output failed.
    #[error("I/O error: {0}")]
    Io(String),
    /// Input bytes are not UTF-8.
    #[error("input is not valid UTF-8")]
    InvalidUtf8,
}

/// The error of every fallible function of the crate.
///
/// Decoding errors carry the [`Position`] where they were detected; `Display`
/// prints `line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Box<ErrorKind>,
    position: Option<Position>,
}

impl Error {
    /// An error without a position.
    #[must_use]
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
            position: None,
        }
    }

    /// An error at `line:column`.
    #[must_use]
    pub fn at(kind: ErrorKind, line: usize, column: usize) -> Self {
        Error {
            kind: Box::new(kind),
            position: Some(Position { line, column }),
        }
    }

    /// Sets the position unless the error already has one.
    pub(crate) fn or_at(mut self, position: Option<Position>) -> Self {
        if self.position.is_none() {
            self.position = position;
        }
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Where it went wrong, for decoding errors.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// 1-based line, if known.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// 1-based column, if known.
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{p}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e.to_string()))
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
