//! Reading the tokens of one line: splitting rows and inline arrays into
//! cells on the active delimiter (outside quotes), telling table rows from
//! `key: value` lines (§9.3), and typing primitive tokens (§4).
//!
//! These run once per cell of every table; the scanning itself is the
//! [quote-aware scanner's](crate::unquoted).

use std::borrow::Cow;

use crate::error::ErrorKind;
use crate::number::classify_numeric;
use crate::options::Delimiter;
use crate::quote::parse_quoted;
use crate::unquoted::{Stop, Unquoted};
use crate::value::Number;

/// A primitive read from the input.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
}

/// Is a line at row depth a data row rather than a `key: value` line (§9.3):
/// no unquoted colon, or an unquoted delimiter before the first one?
pub(crate) fn is_data_row(content: &str, delimiter: Delimiter) -> bool {
    Unquoted::new(content.as_bytes(), 0, [b':', delimiter.as_byte()])
        .next_byte()
        .is_none_or(|(_, byte)| byte != b':')
}

/// Splits a row or inline value list on `delim` outside quotes, trimming
/// spaces around each cell. Empty input gives no cells.
pub(crate) fn split_cells<'a>(input: &'a str, delim: u8, out: &mut Vec<&'a str>) {
    out.clear();
    if input.is_empty() {
        return;
    }
    let mut start = 0;
    let mut scan = Unquoted::new(input.as_bytes(), 0, [delim]);
    while let Some((at, _)) = scan.next_byte() {
        out.push(trim_spaces(&input[start..at]));
        start = at + 1;
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
    let (mut start, mut quoted_end) = (0, None);
    let (mut colon, mut first_delim) = (None, None);
    for stop in Unquoted::new(b, 0, [delim, b':']) {
        match stop {
            Stop::Quoted { open, end, clean } => {
                // A clean run that opens the cell may be the whole cell;
                // `push_cell` checks that nothing but spaces follows it.
                if clean && out.len() < 128 && b[start..open].iter().all(|&c| c == b' ') {
                    quoted_end = Some(end);
                }
            }
            Stop::Byte(at, b':') => {
                colon.get_or_insert(at);
            }
            Stop::Byte(at, _) => {
                first_delim.get_or_insert(at);
                push_cell(content, start, at, quoted_end.take(), out, clean);
                start = at + 1;
            }
        }
    }
    push_cell(content, start, b.len(), quoted_end, out, clean);
    match colon {
        None => true,
        Some(c) => first_delim.is_some_and(|d| d < c),
    }
}

/// Pushes the cell `content[start..end]`, trimmed, marking it clean when it
/// ends exactly where a clean quoted run that opened it ended.
#[inline(always)]
fn push_cell<'a>(
    content: &'a str,
    start: usize,
    end: usize,
    quoted_end: Option<usize>,
    out: &mut Vec<&'a str>,
    clean: &mut u128,
) {
    let cell = trim_spaces(&content[start..end]);
    if let Some(q) = quoted_end {
        let cell_end = (cell.as_ptr() as usize - content.as_ptr() as usize) + cell.len();
        if cell_end == q {
            *clean |= 1u128 << out.len();
        }
    }
    out.push(cell);
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
/// (or a fraction overflows to infinity) and stays a string; an integer no
/// number holds exactly is an error. Short integers — most numbers in real
/// data — are validated and read in one pass.
#[inline]
fn parse_number(t: &str) -> Result<Option<Number>, ErrorKind> {
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
        _ => return Ok(None),
    }
    if i == b.len() && i - start <= 18 {
        return Ok(Some(Number::from(if negative { -v } else { v })));
    }
    match classify_numeric(b) {
        Some(integer) => Number::parse_token(t, integer),
        None => Ok(None),
    }
}

/// An unsigned decimal integer of at most 19 digits without a leading zero
/// (which always fits `u64`), the form most integer cells take; `None` for
/// every other token, which [`parse_trimmed`] then types in full. Where this
/// answers, `parse_trimmed` gives the same number.
#[inline(always)]
pub(crate) fn plain_uint(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.is_empty() || b.len() > 19 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in b {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        v = v * 10 + u64::from(digit);
    }
    Some(v)
}

/// Reads one primitive token (§4).
#[inline]
pub(crate) fn parse_primitive(token: &str) -> Result<Scalar<'_>, ErrorKind> {
    parse_trimmed(trim_spaces(token))
}

/// Reads one primitive token that has no spaces around it (a split cell).
#[inline(always)]
pub(crate) fn parse_trimmed(t: &str) -> Result<Scalar<'_>, ErrorKind> {
    let Some(&first) = t.as_bytes().first() else {
        // The empty slice of the input itself, not a `""` literal: a sink
        // that records spans of the input can then keep it as one.
        return Ok(Scalar::Str(Cow::Borrowed(t)));
    };
    match first {
        b'"' => return parse_quoted(t).map(Scalar::Str),
        b't' if t == "true" => return Ok(Scalar::Bool(true)),
        b'f' if t == "false" => return Ok(Scalar::Bool(false)),
        b'n' if t == "null" => return Ok(Scalar::Null),
        b'-' | b'0'..=b'9' => {
            if let Some(n) = parse_number(t)? {
                return Ok(Scalar::Number(n));
            }
        }
        _ => {}
    }
    Ok(Scalar::Str(Cow::Borrowed(t)))
}

/// Can an unquoted, trimmed token only be a string — it starts with none of
/// the bytes a number, `true`, `false`, `null` or a quoted string start with?
#[inline(always)]
pub(crate) fn is_plain_string(t: &str) -> bool {
    !matches!(
        t.as_bytes().first(),
        None | Some(b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9')
    )
}
