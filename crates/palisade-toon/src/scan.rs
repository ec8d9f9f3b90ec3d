//! The line scanner: splits input into lines, drops comment lines (§5.1),
//! records blank lines (§12), measures indentation and enforces the strict
//! indentation rules (§12, §14).

use crate::error::{Error, ErrorKind, Result};

/// A non-blank, non-comment line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// 1-based line number in the input.
    pub(crate) number: u32,
    /// Nesting depth computed from the indentation.
    pub(crate) depth: u32,
    /// Bytes of indentation before `content`.
    pub(crate) indent: u32,
    /// The line after its indentation, trailing spaces removed.
    pub(crate) content: &'a str,
    /// The whole line (without the line break), for column computation.
    pub(crate) raw: &'a str,
}

impl Line<'_> {
    /// The 1-based column of byte offset `at` within `content`.
    pub(crate) fn column_of(&self, at: usize) -> usize {
        let start = self.indent as usize;
        let end = (start + at).min(self.raw.len());
        self.raw.get(..end).map_or(end, |s| s.chars().count()) + 1
    }

    /// An error positioned at byte offset `at` of the content.
    pub(crate) fn error_at(&self, kind: ErrorKind, at: usize) -> Error {
        Error::at(kind, self.number as usize, self.column_of(at))
    }

    /// An error positioned at the start of the content.
    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        self.error_at(kind, 0)
    }
}

/// The scanned document: its content lines and the line numbers of blank lines.
#[derive(Debug)]
pub(crate) struct Scanned<'a> {
    pub(crate) lines: Vec<Line<'a>>,
    pub(crate) blank_lines: Vec<u32>,
}

impl Scanned<'_> {
    /// Is there a blank line strictly between lines `start` and `end`?
    pub(crate) fn first_blank_between(&self, start: u32, end: u32) -> Option<u32> {
        let i = self.blank_lines.partition_point(|&n| n <= start);
        self.blank_lines.get(i).copied().filter(|&n| n < end)
    }
}

/// Scans `input` into lines. In strict mode, a tab in the indentation or an
/// indentation that is not a multiple of `indent` is an error; in non-strict
/// mode a tab counts as one level (the documented tab policy) and depth is
/// `floor(spaces / indent)`.
pub(crate) fn scan(input: &str, indent: usize, strict: bool) -> Result<Scanned<'_>> {
    let indent_size = indent.max(1);
    let mut lines = crate::reuse::lines();
    lines.reserve(input.len() / 24 + 1);
    let mut blank_lines = Vec::new();
    // Line breaks found with a SIMD search; the last piece is the text after
    // the final break (empty when the input ends with one).
    let breaks = memchr::memchr_iter(b'\n', input.as_bytes()).chain(std::iter::once(input.len()));
    let mut line_start = 0;
    for (idx, end) in breaks.enumerate() {
        let raw_line = input.get(line_start..end).unwrap_or("");
        line_start = end + 1;
        let number = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let mut raw = raw_line;
        if idx == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        raw = raw.strip_suffix('\r').unwrap_or(raw);
        let bytes = raw.as_bytes();
        let lead = bytes
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let first_tab = bytes[..lead].iter().position(|&b| b == b'\t');
        // Strict mode stops the indentation at the first tab so the tab is
        // reported; non-strict mode takes the whole run of spaces and tabs.
        let indent_len = match (strict, first_tab) {
            (true, Some(t)) => t,
            _ => lead,
        };
        let content = raw[indent_len..].trim_end_matches(' ');
        if first_tab.is_none() && content.as_bytes().first() == Some(&b'#') {
            continue; // comment line (§5.1)
        }
        let tabs = if strict {
            0
        } else {
            bytes[..lead].iter().filter(|&&b| b == b'\t').count()
        };
        let depth = (indent_len - tabs) / indent_size + tabs;
        if content.is_empty() {
            blank_lines.push(number);
            continue;
        }
        if strict {
            if first_tab.is_some() {
                return Err(Error::at(
                    ErrorKind::TabIndentation,
                    number as usize,
                    indent_len + 1,
                ));
            }
            if indent_len % indent_size != 0 {
                return Err(Error::at(
                    ErrorKind::IndentNotMultiple {
                        found: indent_len,
                        indent: indent_size,
                    },
                    number as usize,
                    indent_len + 1,
                ));
            }
        }
        lines.push(Line {
            number,
            depth: u32::try_from(depth).unwrap_or(u32::MAX),
            indent: u32::try_from(indent_len).unwrap_or(u32::MAX),
            content,
            raw,
        });
    }
    Ok(Scanned { lines, blank_lines })
}
