//! Array header parsing (§6): `key[N<:?><delim?>]{fields}: inline values`.
//!
//! The parser only classifies: a line is not a header, is a malformed header
//! (strict mode errors; non-strict mode reads the line as `key: value` with
//! the whole pre-colon text as a literal key), or is a header.

use std::borrow::Cow;

use crate::error::ErrorKind;
use crate::options::Delimiter;
use crate::quote::parse_quoted;
use crate::unquoted::{Unquoted, find_closing_quote, find_unquoted};

/// A parsed header.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) key: Option<Cow<'a, str>>,
    pub(crate) length: usize,
    pub(crate) delimiter: Delimiter,
    pub(crate) fields: Option<Vec<FieldSpec<'a>>>,
    /// `[N:]` — a keyed table whose entries are `key: cells` rows.
    pub(crate) keyed: bool,
}

/// A field of a header's field list; `children` for a nested group.
#[derive(Debug)]
pub(crate) struct FieldSpec<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) children: Option<Vec<FieldSpec<'a>>>,
}

/// Number of cells a row carries for `fields` (leaves of the field tree).
pub(crate) fn leaf_count(fields: &[FieldSpec<'_>]) -> usize {
    fields
        .iter()
        .map(|f| f.children.as_deref().map_or(1, leaf_count))
        .sum()
}

/// The outcome of looking at a line as a header.
#[derive(Debug)]
pub(crate) enum HeaderParse<'a> {
    NotHeader,
    /// Looks like a header but breaks the grammar; `at` is a byte offset.
    Invalid {
        reason: String,
        at: usize,
    },
    Header {
        header: Header<'a>,
        inline: Option<&'a str>,
        /// A problem only strict mode rejects (duplicate field names).
        strict_error: Option<String>,
    },
}

fn invalid<'a>(reason: impl Into<String>, at: usize) -> HeaderParse<'a> {
    HeaderParse::Invalid {
        reason: reason.into(),
        at,
    }
}

/// Classifies `content` (a line without indentation, or the text after a
/// list item's `- `). `max_depth` bounds nested field groups.
pub(crate) fn parse_header(content: &str, max_depth: usize) -> Result<HeaderParse<'_>, ErrorKind> {
    let b = content.as_bytes();
    // Fast exit: most lines of a document are rows or `key: value` lines.
    let Some(bracket_start) = (if b.first() == Some(&b'"') {
        let Some(close) = find_closing_quote(b, 0) else {
            return Ok(HeaderParse::NotHeader);
        };
        if b.get(close + 1) != Some(&b'[') {
            return Ok(HeaderParse::NotHeader);
        }
        Some(close + 1)
    } else {
        find_unquoted(b, b'[', 0)
    }) else {
        return Ok(HeaderParse::NotHeader);
    };
    match find_unquoted(b, b':', 0) {
        Some(c) if c > bracket_start => {}
        _ => return Ok(HeaderParse::NotHeader),
    }
    let Some(bracket_end) = find_unquoted(b, b']', bracket_start) else {
        return Ok(invalid("unterminated bracket segment", bracket_start));
    };
    let mut brace_end = bracket_end + 1;
    let brace_start = find_unquoted(b, b'{', bracket_end);
    let colon_after_bracket = find_unquoted(b, b':', bracket_end);
    let mut brace_match = None;
    if let Some(bs) = brace_start
        && colon_after_bracket.is_some_and(|c| bs < c)
    {
        let gap = &content[bracket_end + 1..bs];
        if !gap.is_empty() {
            return Ok(invalid(gap_reason(gap, "field list"), bracket_end + 1));
        }
        brace_match = find_matching_brace(b, bs);
        if let Some(m) = brace_match {
            brace_end = m + 1;
        }
    }
    let Some(colon) = find_unquoted(b, b':', bracket_end.max(brace_end)) else {
        return Ok(invalid("missing colon after array header", content.len()));
    };
    let gap_start = (bracket_end + 1).max(brace_end);
    let gap = &content[gap_start..colon];
    if !gap.is_empty() {
        return Ok(invalid(gap_reason(gap, "colon"), gap_start));
    }
    let key = if bracket_start > 0 {
        let raw_key = &content[..bracket_start];
        if raw_key.ends_with([' ', '\t']) {
            return Ok(invalid(
                "unexpected whitespace between key and bracket segment",
                bracket_start - 1,
            ));
        }
        Some(if raw_key.starts_with('"') {
            parse_quoted(raw_key)?
        } else {
            Cow::Borrowed(raw_key)
        })
    } else {
        None
    };
    let after_colon = content[colon + 1..].trim_matches(' ');
    let (length, delimiter, keyed) = match parse_bracket(&content[bracket_start + 1..bracket_end]) {
        Some(parts) => parts,
        None => {
            return Ok(invalid(
                format!(
                    "invalid array length \"{}\"; expected a non-negative integer without leading zeros",
                    &content[bracket_start + 1..bracket_end]
                ),
                bracket_start + 1,
            ));
        }
    };
    let mut fields = None;
    if let (Some(bs), Some(be)) = (brace_start, brace_match)
        && be < colon
    {
        let inner = &content[bs + 1..be];
        if let Some(found) = mismatched_delimiter(inner, delimiter) {
            return Ok(invalid(
                format!(
                    "header delimiter mismatch: bracket declares {delimiter} but the field list uses {found}"
                ),
                bs + 1,
            ));
        }
        match parse_fields(inner, delimiter, max_depth) {
            Ok(f) => fields = Some(f),
            Err(reason) => return Ok(invalid(reason, bs + 1)),
        }
    }
    let strict_error = fields
        .as_deref()
        .and_then(duplicate_field)
        .map(|name| format!("duplicate field name \"{name}\" in field list"));
    if keyed && fields.is_none() {
        return Ok(invalid(
            "keyed header `[N:]` requires a field list",
            bracket_start,
        ));
    }
    if fields.is_some() && !after_colon.is_empty() {
        return Ok(invalid(
            strict_error
                .unwrap_or_else(|| "unexpected content after a field-list header's colon".into()),
            colon + 1,
        ));
    }
    Ok(HeaderParse::Header {
        header: Header {
            key,
            length,
            delimiter,
            fields,
            keyed,
        },
        inline: (!after_colon.is_empty()).then_some(after_colon),
        strict_error,
    })
}

fn gap_reason(gap: &str, before: &str) -> String {
    let trimmed = gap.trim_matches([' ', '\t']);
    if trimmed.is_empty() {
        format!("unexpected whitespace between bracket segment and {before}")
    } else {
        format!("unexpected content \"{trimmed}\" between bracket segment and {before}")
    }
}

/// `N`, `N|`, `N<TAB>`, `N:`, `N:|`, `N:<TAB>` → (length, delimiter, keyed).
fn parse_bracket(seg: &str) -> Option<(usize, Delimiter, bool)> {
    let mut s = seg;
    let mut delimiter = Delimiter::Comma;
    if let Some(rest) = s.strip_suffix('\t') {
        delimiter = Delimiter::Tab;
        s = rest;
    } else if let Some(rest) = s.strip_suffix('|') {
        delimiter = Delimiter::Pipe;
        s = rest;
    }
    let keyed = match s.strip_suffix(':') {
        Some(rest) => {
            s = rest;
            true
        }
        None => false,
    };
    let digits = s.as_bytes();
    let canonical = match digits {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    Some((s.parse().ok()?, delimiter, keyed))
}

/// Index of the `}` matching the `{` at `open`, skipping quoted text.
fn find_matching_brace(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut scan = Unquoted::new(b, open, [b'{', b'}']);
    while let Some((at, byte)) = scan.next_byte() {
        if byte == b'{' {
            depth += 1;
        } else {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(at);
            }
        }
    }
    None
}

/// A delimiter other than the declared one, unquoted in the field list.
fn mismatched_delimiter(inner: &str, declared: Delimiter) -> Option<Delimiter> {
    Delimiter::ALL
        .into_iter()
        .filter(|d| *d != declared)
        .find(|d| find_unquoted(inner.as_bytes(), d.as_byte(), 0).is_some())
}

/// Parses a field list into field specs, descending into nested groups.
fn parse_fields(
    inner: &str,
    delimiter: Delimiter,
    depth_left: usize,
) -> Result<Vec<FieldSpec<'_>>, String> {
    if depth_left == 0 {
        return Err("nested field groups are deeper than the depth limit".into());
    }
    let mut out = Vec::new();
    for entry in split_entries(inner, delimiter.as_byte()) {
        let entry = entry.trim_matches(' ');
        if entry.is_empty() {
            return Err("empty field name in field list".into());
        }
        let eb = entry.as_bytes();
        let Some(open) = find_unquoted(eb, b'{', 0) else {
            out.push(FieldSpec {
                name: field_name(entry)?,
                children: None,
            });
            continue;
        };
        let name_part = &entry[..open];
        if name_part.is_empty() {
            return Err("missing field name before nested field group".into());
        }
        if name_part.ends_with(' ') {
            return Err("unexpected whitespace before nested field group".into());
        }
        let close = find_matching_brace(eb, open).ok_or("unmatched brace in field list")?;
        if close != eb.len() - 1 {
            return Err("unexpected content after nested field group".into());
        }
        let children = parse_fields(&entry[open + 1..close], delimiter, depth_left - 1)?;
        out.push(FieldSpec {
            name: field_name(name_part)?,
            children: Some(children),
        });
    }
    Ok(out)
}

fn field_name(token: &str) -> Result<Cow<'_, str>, String> {
    if token.starts_with('"') {
        parse_quoted(token).map_err(|e| e.to_string())
    } else {
        Ok(Cow::Borrowed(token))
    }
}

/// Splits a field list on `delim` at brace depth 0, outside quotes.
fn split_entries(s: &str, delim: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0i64;
    let mut scan = Unquoted::new(s.as_bytes(), 0, [b'{', b'}', delim]);
    while let Some((at, byte)) = scan.next_byte() {
        match byte {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            _ if depth == 0 => {
                parts.push(&s[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn duplicate_field<'f>(fields: &'f [FieldSpec<'_>]) -> Option<&'f str> {
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        if !seen.insert(f.name.as_ref()) {
            return Some(f.name.as_ref());
        }
        if let Some(d) = f.children.as_deref().and_then(duplicate_field) {
            return Some(d);
        }
    }
    None
}
