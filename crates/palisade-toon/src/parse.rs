//! The structural decoder, root and objects: scanned lines to a stream of
//! [`Sink`] events — root form (§5), objects by indentation (§8), keys and
//! array headers — with the strict-mode checks of §14. The array forms live
//! in [`parse_array`](crate::parse_array).
//!
//! It is recursive descent over lines; recursion depth is bounded by
//! `max_depth`, so hostile nesting ends in a typed error, not a stack overflow.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};
use crate::header::{FieldSpec, Header, HeaderParse, parse_header};
use crate::options::DecodeOptions;
use crate::scan::{Line, Scanned, scan};
pub(crate) use crate::token::{Scalar, parse_primitive};
use crate::unquoted::{find_closing_quote, find_unquoted};

/// Receives the decoded structure as events.
pub(crate) trait Sink<'a> {
    fn start_object(&mut self, len_hint: usize);
    fn end_object(&mut self);
    /// An array opens; `len_hint` is a length the parser vouches for (exact
    /// for inline arrays, whose cells are on one line; 0 otherwise), so a
    /// sink may allocate it without trusting a declared `[N]`.
    fn start_array(&mut self, len_hint: usize);
    /// The array closes with `len` elements.
    fn end_array(&mut self, len: usize);
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
    /// A row of the flat table `table` with its raw cells (width already
    /// checked). The sink resolves quoted cells and keeps unquoted ones for
    /// later typing; a bad quoted cell is reported as `(index, error)`.
    /// Returns `Ok(false)` when the sink wants the cells as scalar events.
    /// Bit `i` of `clean` marks cell `i` as one quoted string without escapes.
    fn flat_row(
        &mut self,
        _table: u32,
        _cells: &[&'a str],
        _clean: u128,
    ) -> Result<bool, (usize, ErrorKind)> {
        Ok(false)
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
    let max_values = opts.value_limit(input.len());
    let mut p = Parser {
        lines: &scanned.lines,
        scanned: &scanned,
        pos: 0,
        strict: opts.strict,
        max_depth: opts.max_depth,
        max_values,
        values_left: max_values,
        sink,
        cells: Vec::new(),
    };
    let result = p.document();
    crate::reuse::recycle_lines(scanned.lines);
    result
}

pub(crate) struct Parser<'a, 's, S> {
    pub(crate) lines: &'s [Line<'a>],
    pub(crate) scanned: &'s Scanned<'a>,
    pub(crate) pos: usize,
    pub(crate) strict: bool,
    pub(crate) max_depth: usize,
    /// The value limit for this input, and what is left of it: every value
    /// (scalar, array, object) is charged before the sink sees it, and bulk
    /// forms (inline arrays, table rows) before they allocate.
    pub(crate) max_values: usize,
    pub(crate) values_left: usize,
    pub(crate) sink: &'s mut S,
    /// Scratch buffer for the cells of one row, reused across rows.
    pub(crate) cells: Vec<&'a str>,
}

/// Byte offset of `sub` within `line.content` (both slices of the input).
pub(crate) fn offset_in(line: &Line<'_>, sub: &str) -> usize {
    (sub.as_ptr() as usize).saturating_sub(line.content.as_ptr() as usize)
}

pub(crate) fn is_list_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

pub(crate) fn has_unquoted_colon(content: &str) -> bool {
    find_unquoted(content.as_bytes(), b':', 0).is_some()
}

/// Does `content` start a root/list-item array header (`[N]...:`)?
pub(crate) fn looks_like_keyless_header(content: &str) -> bool {
    content.trim_start_matches(' ').starts_with('[') && has_unquoted_colon(content)
}

impl<'a, S: Sink<'a>> Parser<'a, '_, S> {
    pub(crate) fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    pub(crate) fn advance(&mut self) {
        if let Some(line) = self.lines.get(self.pos) {
            self.sink.at_line(line);
        }
        self.pos += 1;
    }

    pub(crate) fn last_consumed(&self) -> Option<Line<'a>> {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .copied()
    }

    pub(crate) fn enter(&self, nest: usize, line: &Line<'a>) -> Result<usize> {
        if nest >= self.max_depth {
            return Err(line.error(ErrorKind::DepthLimitExceeded {
                max: self.max_depth,
            }));
        }
        Ok(nest + 1)
    }

    /// Charges `n` values against the limit, or fails at `line` when the
    /// limit would be passed.
    #[inline]
    pub(crate) fn charge(&mut self, n: usize, line: &Line<'a>) -> Result<()> {
        match self.values_left.checked_sub(n) {
            Some(left) => {
                self.values_left = left;
                Ok(())
            }
            None => Err(line.error(ErrorKind::TooManyValues {
                max: self.max_values,
            })),
        }
    }

    pub(crate) fn over_indented(line: &Line<'a>, expected: usize) -> Error {
        line.error(ErrorKind::OverIndented {
            expected,
            found: line.depth as usize,
        })
    }

    /// Classifies `content` (a slice of `line.content`) as a header. Malformed
    /// headers are errors in strict mode and plain `key: value` lines otherwise.
    pub(crate) fn resolve_header(
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

    pub(crate) fn scalar(&mut self, line: &Line<'a>, token: &'a str) -> Result<()> {
        self.charge(1, line)?;
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
            self.sink.end_array(0);
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
        self.charge(1, &first)?;
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

    pub(crate) fn key(&mut self, line: &Line<'a>, key: Cow<'a, str>) -> Result<()> {
        let shown = if self.strict { Some(key.clone()) } else { None };
        if !self.sink.key(key) && self.strict {
            let k = shown.map(Cow::into_owned).unwrap_or_default();
            return Err(line.error(ErrorKind::DuplicateKey(k)));
        }
        Ok(())
    }

    /// Splits `key: rest` at the key's colon; `content` is a slice of the line.
    pub(crate) fn split_key(
        &self,
        line: &Line<'a>,
        content: &'a str,
    ) -> Result<(Cow<'a, str>, &'a str)> {
        let b = content.as_bytes();
        if b.first() == Some(&b'"') {
            let close = find_closing_quote(b, 0).ok_or_else(|| {
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
    pub(crate) fn key_value(
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
                    self.charge(1, line)?;
                    self.sink.start_object(0);
                    self.object_fields(base + 1, nest)?;
                    self.sink.end_object();
                }
                _ => {
                    self.charge(1, line)?;
                    self.sink.start_object(0);
                    self.sink.end_object();
                }
            }
            return Ok(());
        }
        if rest == "[]" {
            self.charge(1, line)?;
            self.sink.start_array(0);
            self.sink.end_array(0);
            return Ok(());
        }
        self.scalar(line, rest)
    }

    /// The fields of a nested object whose lines are at depth >= `base`.
    pub(crate) fn object_fields(&mut self, base: usize, nest: usize) -> Result<()> {
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
    pub(crate) fn content_depth(&self, base: usize) -> Result<usize> {
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
}
