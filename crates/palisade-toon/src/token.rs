//! Reading the tokens of one line: splitting rows and inline arrays into
//! cells on the active delimiter (outside quotes), telling table rows from
//! `key: value` lines (§9.3), and typing primitive tokens (§4).
//!
//! These run once per cell of every table, so they work on bytes, eight at a
//! time for short rows and with SIMD searches for long ones.

use std::borrow::Cow;

use crate::error::ErrorKind;
use crate::number::classify_numeric;
use crate::options::Delimiter;
use crate::quote::{find_unquoted, parse_quoted};
use crate::value::Number;

/// A primitive read from the input.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
}

/// Is a line at row depth a data row rather than a `key: value` line (§9.3)?
pub(crate) fn is_data_row(content: &str, delimiter: Delimiter) -> bool {
    let b = content.as_bytes();
    let Some(colon) = find_unquoted(b, b':', 0) else {
        return true;
    };
    find_unquoted(b, delimiter.as_byte(), 0).is_some_and(|d| d < colon)
}

/// Splits a row or inline value list on `delim` outside quotes, trimming
/// spaces around each cell. Empty input gives no cells.
pub(crate) fn split_cells<'a>(input: &'a str, delim: u8, out: &mut Vec<&'a str>) {
    out.clear();
    if input.is_empty() {
        return;
    }
    let b = input.as_bytes();
    let mut start = 0;
    let mut in_quotes = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_quotes {
            if c == b'\\' && i + 1 < b.len() {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_quotes = false;
            }
        } else if c == delim {
            out.push(trim_spaces(&input[start..i]));
            start = i + 1;
        } else if c == b'"' {
            in_quotes = true;
        }
        i += 1;
    }
    out.push(trim_spaces(&input[start..]));
}

/// Splits a candidate table row into `out` and reports whether it is a data
/// row rather than a `key: value` line (§9.3: no unquoted colon, or the first
/// unquoted delimiter comes before it) — one pass instead of three.
///
/// `clean` gets bit `i` (for the first 128 cells) when cell `i` is exactly
/// one quoted string without escapes, so its text can be taken as is.
pub(crate) fn split_row<'a>(
    content: &'a str,
    delim: u8,
    out: &mut Vec<&'a str>,
    clean: &mut u128,
) -> bool {
    out.clear();
    *clean = 0;
    let b = content.as_bytes();
    let mut row = RowSplit {
        content,
        out,
        clean,
        start: 0,
        quoted_end: None,
        colon: None,
        first_delim: None,
    };
    let mut i = 0;
    if b.len() < 128 {
        // Short rows: eight bytes at a time (SWAR), which beats the setup
        // cost of a SIMD search on a few dozen bytes.
        let (pd, pq, pc) = (splat(delim), splat(b'"'), splat(b':'));
        while i < b.len() {
            let j = match b.get(i..i + 8) {
                Some(chunk) => {
                    let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
                    let m = zero_bytes(w ^ pd) | zero_bytes(w ^ pq) | zero_bytes(w ^ pc);
                    if m == 0 {
                        i += 8;
                        continue;
                    }
                    i + (m.trailing_zeros() / 8) as usize
                }
                None => match b[i..]
                    .iter()
                    .position(|&c| c == delim || c == b'"' || c == b':')
                {
                    Some(off) => i + off,
                    None => break,
                },
            };
            i = row.special(j, delim);
        }
    } else {
        // Long rows: jump between the only bytes that matter (SIMD search).
        while let Some(off) = memchr::memchr3(delim, b'"', b':', &b[i..]) {
            i = row.special(i + off, delim);
            if i >= b.len() {
                break;
            }
        }
    }
    row.push_cell(b.len());
    match row.colon {
        None => true,
        Some(c) => row.first_delim.is_some_and(|d| d < c),
    }
}

/// State of one [`split_row`] pass.
struct RowSplit<'a, 'o> {
    content: &'a str,
    out: &'o mut Vec<&'a str>,
    clean: &'o mut u128,
    /// Start of the current cell.
    start: usize,
    /// End of a clean quoted run that opened the current cell.
    quoted_end: Option<usize>,
    colon: Option<usize>,
    first_delim: Option<usize>,
}

impl RowSplit<'_, '_> {
    /// Handles the delimiter, quote or colon at `j`; returns where to go on.
    #[inline(always)]
    fn special(&mut self, j: usize, delim: u8) -> usize {
        let b = self.content.as_bytes();
        match b[j] {
            b'"' => {
                let (end, no_escape) = crate::quote::skip_quoted(b, j);
                let opens_cell = b[self.start..j].iter().all(|&c| c == b' ');
                if no_escape && opens_cell && self.out.len() < 128 {
                    self.quoted_end = Some(end);
                }
                // A quoted cell usually ends right at the delimiter: take it
                // without another search.
                if b.get(end) == Some(&delim) {
                    self.delimiter(end);
                    return end + 1;
                }
                end
            }
            b':' => {
                self.colon.get_or_insert(j);
                j + 1
            }
            _ => {
                self.delimiter(j);
                j + 1
            }
        }
    }

    #[inline(always)]
    fn delimiter(&mut self, at: usize) {
        self.first_delim.get_or_insert(at);
        self.push_cell(at);
        self.start = at + 1;
    }

    #[inline(always)]
    fn push_cell(&mut self, end: usize) {
        let cell = trim_spaces(&self.content[self.start..end]);
        if let Some(q) = self.quoted_end.take() {
            let cell_end = (cell.as_ptr() as usize - self.content.as_ptr() as usize) + cell.len();
            if cell_end == q {
                *self.clean |= 1u128 << self.out.len();
            }
        }
        self.out.push(cell);
    }
}

/// `b` in every byte of a word.
#[inline]
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// A word with the high bit set in (at least) the lowest byte of `w` that is
/// zero; bits above the first zero byte may be spurious, so callers only use
/// the lowest set bit.
#[inline]
const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

/// Trims ASCII spaces (only spaces: §11.2) from both ends.
#[inline]
pub(crate) fn trim_spaces(s: &str) -> &str {
    let b = s.as_bytes();
    if b.first() != Some(&b' ') && b.last() != Some(&b' ') {
        return s;
    }
    s.trim_matches(' ')
}

/// A numeric token (§4 grammar) as a number, or `None` when it is not one
/// (or overflows to infinity) and stays a string. Short integers — most
/// numbers in real data — are validated and read in one pass.
#[inline]
fn parse_number(t: &str) -> Option<Number> {
    let b = t.as_bytes();
    let negative = b.first() == Some(&b'-');
    let start = usize::from(negative);
    let mut i = start;
    let mut v: i64 = 0;
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while let Some(&d) = b.get(i) {
                if !d.is_ascii_digit() {
                    break;
                }
                if i - start < 18 {
                    v = v * 10 + i64::from(d - b'0');
                }
                i += 1;
            }
        }
        _ => return None,
    }
    if i == b.len() && i - start <= 18 {
        return Some(Number::from(if negative { -v } else { v }));
    }
    let integer = classify_numeric(b)?;
    Number::parse_token(t, integer)
}

/// Reads one primitive token (§4).
pub(crate) fn parse_primitive(token: &str) -> Result<Scalar<'_>, ErrorKind> {
    let t = trim_spaces(token);
    let Some(&first) = t.as_bytes().first() else {
        return Ok(Scalar::Str(Cow::Borrowed("")));
    };
    match first {
        b'"' => return parse_quoted(t).map(Scalar::Str),
        b't' if t == "true" => return Ok(Scalar::Bool(true)),
        b'f' if t == "false" => return Ok(Scalar::Bool(false)),
        b'n' if t == "null" => return Ok(Scalar::Null),
        b'-' | b'0'..=b'9' => {
            if let Some(n) = parse_number(t) {
                return Ok(Scalar::Number(n));
            }
        }
        _ => {}
    }
    Ok(Scalar::Str(Cow::Borrowed(t)))
}
