//! The structural decoder: scanned lines to a stream of [`Sink`] events
//! (objects by indentation §8, arrays §9, list items §10, keyed tables, root
//! form §5), with every strict-mode check of §14.
//!
//! It is recursive descent over lines; recursion depth is bounded by
//! `max_depth`, so hostile nesting ends in a typed error, not a stack overflow.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};
use crate::header::{FieldSpec, Header, HeaderParse, leaf_count, parse_header};
use crate::number::classify_numeric;
use crate::options::{DecodeOptions, Delimiter};
use crate::quote::{find_unquoted, parse_quoted};
use crate::scan::{Line, Scanned, scan};
use crate::value::Number;

/// A primitive read from the input.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
}

/// Receives the decoded structure as events.
pub(crate) trait Sink<'a> {
    fn start_object(&mut self, len_hint: usize);
    fn end_object(&mut self);
    fn start_array(&mut self, len_hint: usize);
    fn end_array(&mut self);
    /// A key of the current object; returns `false` when the object already
    /// has it (the sink then resolves last-write-wins).
    fn key(&mut self, key: Cow<'a, str>) -> bool;
    /// A key the caller knows is new in the current object.
    fn key_unique(&mut self, key: Cow<'a, str>);
    fn scalar(&mut self, value: Scalar<'a>);
    /// The parser moved on to `line`; the events that follow come from it
    /// (used to place errors found after parsing).
    fn at_line(&mut self, _line: &Line<'a>) {}
    /// A hint that about `events` more events follow (a table's rows).
    fn reserve(&mut self, _events: usize) {}
    /// Registers the field names of a flat table (no nested groups, no
    /// duplicates) and returns an id for [`Sink::flat_row`], or `None` when the
    /// sink wants rows as ordinary objects.
    fn flat_table(&mut self, _fields: &[FieldSpec<'a>], _delim: u8) -> Option<u32> {
        None
    }
    /// A row of the flat table `table` with its raw cell tokens, already
    /// checked (width, quoted cells). Returns `false` when the sink wants the
    /// cells as scalar events instead.
    fn flat_row(&mut self, _table: u32, _cells: &[&'a str]) -> bool {
        false
    }
}

/// Decodes `input` into `sink`.
pub(crate) fn parse<'a, S: Sink<'a>>(
    input: &'a str,
    opts: &DecodeOptions,
    sink: &mut S,
) -> Result<()> {
    if input.len() > opts.max_input_bytes {
        return Err(Error::new(ErrorKind::InputTooLarge {
            len: input.len(),
            max: opts.max_input_bytes,
        }));
    }
    if opts.indent == 0 {
        return Err(Error::new(ErrorKind::InvalidIndent));
    }
    let scanned = scan(input, opts.indent, opts.strict)?;
    let mut p = Parser {
        lines: &scanned.lines,
        scanned: &scanned,
        pos: 0,
        strict: opts.strict,
        max_depth: opts.max_depth,
        sink,
        cells: Vec::new(),
    };
    p.document()
}

struct Parser<'a, 's, S> {
    lines: &'s [Line<'a>],
    scanned: &'s Scanned<'a>,
    pos: usize,
    strict: bool,
    max_depth: usize,
    sink: &'s mut S,
    /// Scratch buffer for the cells of one row, reused across rows.
    cells: Vec<&'a str>,
}

/// Byte offset of `sub` within `line.content` (both slices of the input).
fn offset_in(line: &Line<'_>, sub: &str) -> usize {
    (sub.as_ptr() as usize).saturating_sub(line.content.as_ptr() as usize)
}

fn is_list_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

fn has_unquoted_colon(content: &str) -> bool {
    find_unquoted(content.as_bytes(), b':', 0).is_some()
}

/// Does `content` start a root/list-item array header (`[N]...:`)?
fn looks_like_keyless_header(content: &str) -> bool {
    content.trim_start_matches(' ').starts_with('[') && has_unquoted_colon(content)
}

/// Is a line at row depth a data row rather than a `key: value` line (§9.3)?
fn is_data_row(content: &str, delimiter: Delimiter) -> bool {
    let b = content.as_bytes();
    let Some(colon) = find_unquoted(b, b':', 0) else {
        return true;
    };
    find_unquoted(b, delimiter.as_byte(), 0).is_some_and(|d| d < colon)
}

/// Splits a row or inline value list on `delim` outside quotes, trimming
/// spaces around each cell. Empty input gives no cells.
fn split_cells<'a>(input: &'a str, delim: u8, out: &mut Vec<&'a str>) {
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
pub(crate) fn split_row<'a>(content: &'a str, delim: u8, out: &mut Vec<&'a str>) -> bool {
    out.clear();
    let b = content.as_bytes();
    let mut colon = None;
    let mut first_delim = None;
    let mut start = 0;
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
            match b[j] {
                b'"' => {
                    i = crate::quote::skip_quoted(b, j);
                    continue;
                }
                b':' => {
                    colon.get_or_insert(j);
                }
                _ => {
                    first_delim.get_or_insert(j);
                    out.push(trim_spaces(&content[start..j]));
                    start = j + 1;
                }
            }
            i = j + 1;
        }
        out.push(trim_spaces(&content[start..]));
        return match colon {
            None => true,
            Some(c) => first_delim.is_some_and(|d| d < c),
        };
    }
    // Long rows: jump between the only bytes that matter (SIMD search).
    while let Some(off) = memchr::memchr3(delim, b'"', b':', &b[i..]) {
        let j = i + off;
        match b[j] {
            b'"' => i = crate::quote::skip_quoted(b, j),
            b':' => {
                colon.get_or_insert(j);
                i = j + 1;
            }
            _ => {
                first_delim.get_or_insert(j);
                out.push(trim_spaces(&content[start..j]));
                start = j + 1;
                i = j + 1;
            }
        }
        if i >= b.len() {
            break;
        }
    }
    out.push(trim_spaces(&content[start..]));
    match colon {
        None => true,
        Some(c) => first_delim.is_some_and(|d| d < c),
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

impl<'a, S: Sink<'a>> Parser<'a, '_, S> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    fn advance(&mut self) {
        if let Some(line) = self.lines.get(self.pos) {
            self.sink.at_line(line);
        }
        self.pos += 1;
    }

    fn last_consumed(&self) -> Option<Line<'a>> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .copied()
    }

    fn enter(&self, nest: usize, line: &Line<'a>) -> Result<usize> {
        if nest >= self.max_depth {
            return Err(line.error(ErrorKind::DepthLimitExceeded {
                max: self.max_depth,
            }));
        }
        Ok(nest + 1)
    }

    fn over_indented(line: &Line<'a>, expected: usize) -> Error {
        line.error(ErrorKind::OverIndented {
            expected,
            found: line.depth as usize,
        })
    }

    /// Classifies `content` (a slice of `line.content`) as a header. Malformed
    /// headers are errors in strict mode and plain `key: value` lines otherwise.
    fn resolve_header(
        &self,
        line: &Line<'a>,
        content: &'a str,
    ) -> Result<Option<(Header<'a>, Option<&'a str>)>> {
        let base = offset_in(line, content);
        match parse_header(content, self.max_depth) {
            Err(kind) => Err(line.error_at(kind, base)),
            Ok(HeaderParse::NotHeader) => Ok(None),
            Ok(HeaderParse::Invalid { reason, at }) => {
                if self.strict {
                    Err(line.error_at(ErrorKind::InvalidHeader(reason), base + at))
                } else {
                    Ok(None)
                }
            }
            Ok(HeaderParse::Header {
                header,
                inline,
                strict_error,
            }) => match strict_error {
                Some(reason) if self.strict => {
                    Err(line.error_at(ErrorKind::InvalidHeader(reason), base))
                }
                _ => Ok(Some((header, inline))),
            },
        }
    }

    fn scalar(&mut self, line: &Line<'a>, token: &'a str) -> Result<()> {
        let v = parse_primitive(token).map_err(|k| line.error_at(k, offset_in(line, token)))?;
        self.sink.scalar(v);
        Ok(())
    }

    fn document(&mut self) -> Result<()> {
        let Some(first) = self.peek() else {
            self.sink.start_object(0);
            self.sink.end_object();
            return Ok(());
        };
        if first.depth != 0 {
            return Err(Self::over_indented(&first, 0));
        }
        if first.content.trim_matches(' ') == "[]" {
            self.advance();
            self.sink.start_array(0);
            self.sink.end_array();
            return self.expect_end();
        }
        if looks_like_keyless_header(first.content)
            && let Some((header, inline)) = self.resolve_header(&first, first.content)?
        {
            self.advance();
            self.array_from_header(&header, inline, 0, &first, 0)?;
            return self.expect_end();
        }
        self.advance();
        let following = self.peek();
        let first_is_kv = has_unquoted_colon(first.content);
        if following.is_none() && !first_is_kv {
            return self.scalar(&first, first.content);
        }
        if !first_is_kv && following.is_some_and(|l| l.depth == 0) {
            return Err(first.error(ErrorKind::ExpectedKeyValue));
        }
        self.sink.start_object(0);
        self.key_value(&first, first.content, 0, 0)?;
        while let Some(line) = self.peek() {
            if line.depth != 0 {
                return Err(Self::over_indented(&line, 0));
            }
            self.advance();
            self.key_value(&line, line.content, 0, 0)?;
        }
        self.sink.end_object();
        Ok(())
    }

    fn expect_end(&self) -> Result<()> {
        match self.peek() {
            Some(line) => Err(line.error(ErrorKind::TrailingContent)),
            None => Ok(()),
        }
    }

    fn key(&mut self, line: &Line<'a>, key: Cow<'a, str>) -> Result<()> {
        let shown = if self.strict { Some(key.clone()) } else { None };
        if !self.sink.key(key) && self.strict {
            let k = shown.map(Cow::into_owned).unwrap_or_default();
            return Err(line.error(ErrorKind::DuplicateKey(k)));
        }
        Ok(())
    }

    /// Splits `key: rest` at the key's colon; `content` is a slice of the line.
    fn split_key(&self, line: &Line<'a>, content: &'a str) -> Result<(Cow<'a, str>, &'a str)> {
        let b = content.as_bytes();
        if b.first() == Some(&b'"') {
            let close = crate::quote::find_closing_quote(b, 0).ok_or_else(|| {
                line.error_at(ErrorKind::UnterminatedString, offset_in(line, content))
            })?;
            let key = crate::quote::unescape(&content[1..close])
                .map_err(|k| line.error_at(k, offset_in(line, content)))?;
            let after = content[close + 1..].trim_start_matches(' ');
            let Some(rest) = after.strip_prefix(':') else {
                return Err(line.error_at(ErrorKind::MissingColon, offset_in(line, after)));
            };
            return Ok((key, rest.trim_matches(' ')));
        }
        let Some(colon) = find_unquoted(b, b':', 0) else {
            return Err(line.error_at(
                ErrorKind::MissingColon,
                offset_in(line, content) + content.len(),
            ));
        };
        Ok((
            Cow::Borrowed(content[..colon].trim_matches(' ')),
            content[colon + 1..].trim_matches(' '),
        ))
    }

    /// One `key: value`, `key:` or `key[N]...:` line of an object at `base`.
    fn key_value(
        &mut self,
        line: &Line<'a>,
        content: &'a str,
        base: usize,
        nest: usize,
    ) -> Result<()> {
        if let Some((header, inline)) = self.resolve_header(line, content)? {
            let Some(key) = header.key.clone() else {
                return Err(line.error(ErrorKind::MisplacedKeylessHeader(if header.keyed {
                    "a keyless keyed header is only valid at the document root"
                } else {
                    "a keyless array header is only valid at the document root or as a list item"
                })));
            };
            self.key(line, key)?;
            return self.array_from_header(&header, inline, base, line, nest);
        }
        let (key, rest) = self.split_key(line, content)?;
        self.key(line, key)?;
        if rest.is_empty() {
            let nest = self.enter(nest, line)?;
            match self.peek() {
                Some(next) if next.depth as usize > base => {
                    if self.strict && next.depth as usize > base + 1 {
                        return Err(next.error(ErrorKind::DepthJump {
                            expected: base + 1,
                            found: next.depth as usize,
                        }));
                    }
                    self.sink.start_object(0);
                    self.object_fields(base + 1, nest)?;
                    self.sink.end_object();
                }
                _ => {
                    self.sink.start_object(0);
                    self.sink.end_object();
                }
            }
            return Ok(());
        }
        if rest == "[]" {
            self.sink.start_array(0);
            self.sink.end_array();
            return Ok(());
        }
        self.scalar(line, rest)
    }

    /// The fields of a nested object whose lines are at depth >= `base`.
    fn object_fields(&mut self, base: usize, nest: usize) -> Result<()> {
        let mut expected = None;
        while let Some(line) = self.peek() {
            let depth = line.depth as usize;
            if depth < base {
                break;
            }
            let want = *expected.get_or_insert(depth);
            if depth != want {
                return Err(Self::over_indented(&line, want));
            }
            self.advance();
            self.key_value(&line, line.content, want, nest)?;
        }
        Ok(())
    }

    /// Depth of the rows or items under a header at `base` (§12: strict mode
    /// forbids skipping a level; non-strict accepts the deeper indentation).
    fn content_depth(&self, base: usize) -> Result<usize> {
        match self.peek() {
            Some(first) if first.depth as usize > base + 1 => {
                if self.strict {
                    return Err(first.error(ErrorKind::DepthJump {
                        expected: base + 1,
                        found: first.depth as usize,
                    }));
                }
                Ok(first.depth as usize)
            }
            _ => Ok(base + 1),
        }
    }

    fn array_from_header(
        &mut self,
        header: &Header<'a>,
        inline: Option<&'a str>,
        base: usize,
        line: &Line<'a>,
        nest: usize,
    ) -> Result<()> {
        let nest = self.enter(nest, line)?;
        if header.keyed {
            return self.keyed_object(header, base, line, nest);
        }
        if let Some(values) = inline {
            return self.inline_array(header, values, line);
        }
        // Never trust a declared length for allocation: hostile input can
        // declare billions. The line count bounds what can follow.
        let hint = header.length.min(self.lines.len() - self.pos);
        self.sink.start_array(hint);
        match &header.fields {
            Some(fields) if !fields.is_empty() => {
                self.tabular_array(header, fields, base, line, nest)?;
            }
            _ => self.list_array(header, base, line, nest)?,
        }
        self.sink.end_array();
        Ok(())
    }

    fn inline_array(
        &mut self,
        header: &Header<'a>,
        values: &'a str,
        line: &Line<'a>,
    ) -> Result<()> {
        let mut cells = std::mem::take(&mut self.cells);
        split_cells(values, header.delimiter.as_byte(), &mut cells);
        if self.strict && cells.len() != header.length {
            self.cells = cells;
            return Err(line.error_at(
                ErrorKind::CountMismatch {
                    what: "inline array values",
                    expected: header.length,
                    found: self.cells.len(),
                },
                offset_in(line, values),
            ));
        }
        self.sink.start_array(cells.len());
        let mut result = Ok(());
        for &cell in &cells {
            if let Err(e) = self.scalar(line, cell) {
                result = Err(e);
                break;
            }
        }
        self.cells = cells;
        result?;
        self.sink.end_array();
        Ok(())
    }

    /// Emits one row object from its cells, walking nested field groups
    /// depth-first. `checked` asks the sink to resolve duplicate field names.
    fn row_object(
        &mut self,
        fields: &[FieldSpec<'a>],
        line: &Line<'a>,
        cell: &mut usize,
        checked: bool,
    ) -> Result<()> {
        self.sink.start_object(fields.len());
        for f in fields {
            if checked {
                self.sink.key(f.name.clone());
            } else {
                self.sink.key_unique(f.name.clone());
            }
            match &f.children {
                Some(children) => self.row_object(children, line, cell, checked)?,
                None => {
                    let token = self.cells.get(*cell).copied().unwrap_or("");
                    *cell += 1;
                    let v = parse_primitive(token)
                        .map_err(|k| line.error_at(k, offset_in(line, token)))?;
                    self.sink.scalar(v);
                }
            }
        }
        self.sink.end_object();
        Ok(())
    }

    /// A row of a flat table. Quoted cells are checked here, where the error
    /// can name its line and column; the sink reads the cells later.
    fn flat_row(&mut self, table: u32, line: &Line<'a>) -> Result<()> {
        for &token in &self.cells {
            if token.starts_with('"') {
                crate::quote::parse_quoted(token)
                    .map_err(|k| line.error_at(k, offset_in(line, token)))?;
            }
        }
        if self.sink.flat_row(table, &self.cells) {
            return Ok(());
        }
        for i in 0..self.cells.len() {
            let token = self.cells[i];
            let v = parse_primitive(token).map_err(|k| line.error_at(k, offset_in(line, token)))?;
            self.sink.scalar(v);
        }
        Ok(())
    }

    fn check_width(&self, line: &Line<'a>, expected: usize) -> Result<()> {
        if self.cells.len() != expected {
            return Err(line.error(ErrorKind::CountMismatch {
                what: "row cells",
                expected,
                found: self.cells.len(),
            }));
        }
        Ok(())
    }

    fn check_no_blank(
        &self,
        start: Option<u32>,
        end: Option<u32>,
        context: &'static str,
    ) -> Result<()> {
        if let (Some(s), Some(e)) = (start, end)
            && let Some(n) = self.scanned.first_blank_between(s, e)
        {
            return Err(Error::at(
                ErrorKind::BlankLineInArray { context },
                n as usize,
                1,
            ));
        }
        Ok(())
    }

    fn tabular_array(
        &mut self,
        header: &Header<'a>,
        fields: &[FieldSpec<'a>],
        base: usize,
        header_line: &Line<'a>,
        nest: usize,
    ) -> Result<()> {
        let row_depth = self.content_depth(base)?;
        let width = leaf_count(fields);
        let delim = header.delimiter.as_byte();
        let checked = !self.strict;
        // Row objects sit one level below the array.
        self.enter(nest, header_line)?;
        let rows_hint = header.length.min(self.lines.len() - self.pos);
        let flat = if checked || fields.iter().any(|f| f.children.is_some()) {
            None
        } else {
            self.sink.flat_table(fields, delim)
        };
        self.sink
            .reserve(rows_hint.saturating_mul(if flat.is_some() {
                1 + width
            } else {
                2 + 2 * width
            }));
        let (mut count, mut start, mut end, mut last) = (0usize, None, None, *header_line);
        while !self.strict || count < header.length {
            let Some(line) = self.peek() else { break };
            let depth = line.depth as usize;
            if depth <= base {
                break;
            }
            if depth != row_depth {
                return Err(Self::over_indented(&line, row_depth));
            }
            let mut cells = std::mem::take(&mut self.cells);
            let is_row = split_row(line.content, delim, &mut cells);
            self.cells = cells;
            if !is_row {
                break;
            }
            start.get_or_insert(line.number);
            end = Some(line.number);
            last = line;
            self.advance();
            self.check_width(&line, width)?;
            match flat {
                Some(table) => self.flat_row(table, &line)?,
                None => {
                    let mut cell = 0;
                    self.row_object(fields, &line, &mut cell, checked)?;
                }
            }
            count += 1;
        }
        if self.strict {
            if count != header.length {
                return Err(last.error(ErrorKind::CountMismatch {
                    what: "tabular rows",
                    expected: header.length,
                    found: count,
                }));
            }
            self.check_no_blank(start, end, "tabular array")?;
            if let Some(next) = self.peek()
                && next.depth as usize == row_depth
                && !next.content.starts_with("- ")
                && is_data_row(next.content, header.delimiter)
            {
                return Err(next.error(ErrorKind::TooMany {
                    what: "tabular rows",
                    expected: header.length,
                }));
            }
        }
        Ok(())
    }

    fn keyed_object(
        &mut self,
        header: &Header<'a>,
        base: usize,
        header_line: &Line<'a>,
        nest: usize,
    ) -> Result<()> {
        let fields = header.fields.as_deref().unwrap_or(&[]);
        let entry_depth = self.content_depth(base)?;
        let width = leaf_count(fields);
        // Entry objects sit one level below the keyed object.
        self.enter(nest, header_line)?;
        let (mut count, mut start, mut end, mut last) = (0usize, None, None, *header_line);
        self.sink
            .start_object(header.length.min(self.lines.len() - self.pos));
        while let Some(line) = self.peek() {
            let depth = line.depth as usize;
            if depth <= base {
                break;
            }
            if depth != entry_depth {
                return Err(Self::over_indented(&line, entry_depth));
            }
            if !has_unquoted_colon(line.content) {
                if self.strict {
                    return Err(line.error(ErrorKind::ExpectedEntryRow));
                }
                // Spec 4.1.1 leniency: a colon-less line in a keyed scope is skipped.
                self.advance();
                continue;
            }
            self.advance();
            start.get_or_insert(line.number);
            end = Some(line.number);
            last = line;
            let (key, cells_text) = self.split_key(&line, line.content)?;
            self.key(&line, key)?;
            let mut cells = std::mem::take(&mut self.cells);
            split_cells(cells_text, header.delimiter.as_byte(), &mut cells);
            self.cells = cells;
            self.check_width(&line, width)?;
            let mut cell = 0;
            self.row_object(fields, &line, &mut cell, !self.strict)?;
            count += 1;
        }
        if self.strict {
            if count != header.length {
                return Err(last.error(ErrorKind::CountMismatch {
                    what: "keyed entries",
                    expected: header.length,
                    found: count,
                }));
            }
            self.check_no_blank(start, end, "keyed tabular object")?;
        }
        self.sink.end_object();
        Ok(())
    }

    fn list_array(
        &mut self,
        header: &Header<'a>,
        base: usize,
        header_line: &Line<'a>,
        nest: usize,
    ) -> Result<()> {
        let item_depth = self.content_depth(base)?;
        let (mut count, mut start, mut end, mut last) = (0usize, None, None, *header_line);
        while !self.strict || count < header.length {
            let Some(line) = self.peek() else { break };
            let depth = line.depth as usize;
            if depth <= base {
                break;
            }
            if depth != item_depth {
                return Err(Self::over_indented(&line, item_depth));
            }
            if !is_list_item(line.content) {
                break;
            }
            start.get_or_insert(line.number);
            self.list_item(item_depth, nest)?;
            if let Some(consumed) = self.last_consumed() {
                end = Some(consumed.number);
                last = consumed;
            }
            count += 1;
        }
        if self.strict {
            if count != header.length {
                return Err(last.error(ErrorKind::CountMismatch {
                    what: "list items",
                    expected: header.length,
                    found: count,
                }));
            }
            self.check_no_blank(start, end, "list array")?;
            if let Some(next) = self.peek()
                && next.depth as usize == item_depth
                && next.content.starts_with("- ")
            {
                return Err(next.error(ErrorKind::TooMany {
                    what: "list items",
                    expected: header.length,
                }));
            }
        }
        Ok(())
    }

    /// One `- ...` item at `base` (its line's depth).
    fn list_item(&mut self, base: usize, nest: usize) -> Result<()> {
        let Some(line) = self.peek() else {
            return Ok(());
        };
        self.advance();
        let after = match line.content.strip_prefix("- ") {
            Some(rest) => rest.trim_start_matches(' '),
            None => "",
        };
        if after.is_empty() {
            // `-` alone (or `- ` with only spaces): an empty object.
            self.sink.start_object(0);
            self.sink.end_object();
            return Ok(());
        }
        if after == "[]" {
            self.sink.start_array(0);
            self.sink.end_array();
            return Ok(());
        }
        if looks_like_keyless_header(after)
            && let Some((header, inline)) = self.resolve_header(&line, after)?
        {
            if header.keyed || header.fields.is_some() {
                return Err(
                    line.error(ErrorKind::MisplacedKeylessHeader(if header.keyed {
                        "a keyless keyed header is only valid at the document root"
                    } else {
                        "a keyless header with a field list is only valid at the document root"
                    })),
                );
            }
            return self.array_from_header(&header, inline, base, &line, nest);
        }
        if let Some((header, inline)) = self.resolve_header(&line, after)?
            && let (Some(key), Some(_)) = (header.key.clone(), header.fields.as_ref())
        {
            let nest = self.enter(nest, &line)?;
            self.sink.start_object(0);
            self.key(&line, key)?;
            self.array_from_header(&header, inline, base + 1, &line, nest)?;
            self.sibling_fields(base + 1, nest)?;
            self.sink.end_object();
            return Ok(());
        }
        if has_unquoted_colon(after) {
            let nest = self.enter(nest, &line)?;
            self.sink.start_object(0);
            self.key_value(&line, after, base + 1, nest)?;
            self.sibling_fields(base + 1, nest)?;
            self.sink.end_object();
            return Ok(());
        }
        self.scalar(&line, after)
    }

    /// Fields of a list-item object after its first (hyphen-line) field.
    fn sibling_fields(&mut self, depth: usize, nest: usize) -> Result<()> {
        while let Some(line) = self.peek() {
            let d = line.depth as usize;
            if d < depth {
                break;
            }
            if d != depth {
                return Err(Self::over_indented(&line, depth));
            }
            self.advance();
            self.key_value(&line, line.content, depth, nest)?;
        }
        Ok(())
    }
}
