//! The encoder: [`Value`] to TOON text, byte-identical to the reference
//! encoder (`@toon-format/toon` 4.4) for the same input and options.
//!
//! Layout decisions follow the spec: primitives inline, primitive arrays
//! inline, uniform object arrays as tables, objects of uniform objects as keyed
//! tables, everything else as `- ` list items (§8–§10). The output has no
//! trailing newline and no trailing spaces.

use crate::error::{Error, ErrorKind, Result};
use crate::options::{Delimiter, EncodeOptions};
use crate::quote::{write_key, write_quoted, write_string};
use crate::tabular::{Field, keyed_fields, lookup, tabular_fields};
use crate::value::{Map, Value};

/// Encodes `value` as TOON with `options`.
///
/// ```
/// use palisade_toon::{encode, EncodeOptions, Value};
/// let v: Value = serde_json::json!({"tags": ["a", "b"]}).into();
/// assert_eq!(encode(&v, &EncodeOptions::default())?, "tags[2]: a,b");
/// # Ok::<(), palisade_toon::Error>(())
/// ```
pub fn encode(value: &Value, options: &EncodeOptions) -> Result<String> {
    let mut out = String::with_capacity(256);
    encode_into(&mut out, value, options)?;
    Ok(out)
}

/// Encodes `value`, appending to `out`.
pub fn encode_into(out: &mut String, value: &Value, options: &EncodeOptions) -> Result<()> {
    if options.indent == 0 {
        return Err(Error::new(ErrorKind::InvalidIndent));
    }
    let mut enc = Encoder {
        out,
        first_line: true,
        indent: options.indent,
        delim: options.delimiter,
        max_depth: options.max_depth,
    };
    enc.root(value)
}

struct Encoder<'o> {
    out: &'o mut String,
    first_line: bool,
    indent: usize,
    delim: Delimiter,
    max_depth: usize,
}

const SPACES: &str = "                                                                ";

impl Encoder<'_> {
    fn line(&mut self, depth: usize) {
        if !self.first_line {
            self.out.push('\n');
        }
        self.first_line = false;
        let mut n = depth * self.indent;
        while n > 0 {
            let chunk = n.min(SPACES.len());
            self.out.push_str(&SPACES[..chunk]);
            n -= chunk;
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            return Err(Error::new(ErrorKind::DepthLimitExceeded {
                max: self.max_depth,
            }));
        }
        Ok(())
    }

    fn depth_left(&self, depth: usize) -> usize {
        self.max_depth.saturating_sub(depth)
    }

    fn primitive(&mut self, v: &Value) {
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => n.write(self.out),
            Value::String(s) => write_string(self.out, s, self.delim),
            // Callers only pass primitives.
            Value::Array(_) | Value::Object(_) => {}
        }
    }

    fn root(&mut self, value: &Value) -> Result<()> {
        match value {
            Value::Array(items) => self.array(None, items, 0),
            Value::Object(map) => {
                if let Some(fields) = keyed_fields(map, self.depth_left(0)) {
                    self.keyed_object(None, map, &fields, 0);
                    return Ok(());
                }
                self.object_fields(map.entries(), 0)
            }
            Value::String(s) if s.starts_with('\u{feff}') => {
                // A leading BOM would be stripped by decoders; quoting keeps it.
                self.line(0);
                write_quoted(self.out, s);
                Ok(())
            }
            primitive => {
                self.line(0);
                self.primitive(primitive);
                Ok(())
            }
        }
    }

    fn object_fields(&mut self, entries: &[(String, Value)], depth: usize) -> Result<()> {
        self.check_depth(depth)?;
        for (key, value) in entries {
            self.key_value(key, value, depth)?;
        }
        Ok(())
    }

    fn key_value(&mut self, key: &str, value: &Value, depth: usize) -> Result<()> {
        match value {
            Value::Array(items) => self.array(Some(key), items, depth),
            Value::Object(map) => {
                if let Some(fields) = keyed_fields(map, self.depth_left(depth)) {
                    self.keyed_object(Some(key), map, &fields, depth);
                    return Ok(());
                }
                self.line(depth);
                write_key(self.out, key);
                self.out.push(':');
                self.object_fields(map.entries(), depth + 1)
            }
            primitive => {
                self.line(depth);
                write_key(self.out, key);
                self.out.push_str(": ");
                self.primitive(primitive);
                Ok(())
            }
        }
    }

    /// `key[N<:?><delim?>]{fields}:` — the header of every array and keyed table.
    fn header(&mut self, key: Option<&str>, len: usize, keyed: bool, fields: Option<&[Field<'_>]>) {
        if let Some(k) = key {
            write_key(self.out, k);
        }
        self.out.push('[');
        self.out.push_str(itoa::Buffer::new().format(len));
        if keyed {
            self.out.push(':');
        }
        if self.delim != Delimiter::Comma {
            self.out.push(self.delim.as_char());
        }
        self.out.push(']');
        if let Some(fields) = fields {
            self.out.push('{');
            self.field_list(fields);
            self.out.push('}');
        }
        self.out.push(':');
    }

    fn field_list(&mut self, fields: &[Field<'_>]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(self.delim.as_char());
            }
            write_key(self.out, f.name);
            if let Some(children) = &f.children {
                self.out.push('{');
                self.field_list(children);
                self.out.push('}');
            }
        }
    }

    fn array(&mut self, key: Option<&str>, items: &[Value], depth: usize) -> Result<()> {
        self.check_depth(depth)?;
        if items.is_empty() {
            self.line(depth);
            match key {
                Some(k) => {
                    write_key(self.out, k);
                    self.out.push_str(": []");
                }
                None => self.out.push_str("[]"),
            }
            return Ok(());
        }
        if items.iter().all(Value::is_primitive) {
            self.line(depth);
            self.inline_array(key, items);
            return Ok(());
        }
        if let Some(rows) = object_rows(items)
            && let Some(fields) = tabular_fields(&rows, self.depth_left(depth))
        {
            self.line(depth);
            self.header(key, items.len(), false, Some(&fields));
            self.rows(&rows, &fields, depth + 1);
            return Ok(());
        }
        self.line(depth);
        self.header(key, items.len(), false, None);
        for item in items {
            self.list_item(item, depth + 1)?;
        }
        Ok(())
    }

    /// `key[N]: v1,v2` (or `[0]:` for an empty inner array).
    fn inline_array(&mut self, key: Option<&str>, items: &[Value]) {
        self.header(key, items.len(), false, None);
        for (i, item) in items.iter().enumerate() {
            self.out
                .push(if i == 0 { ' ' } else { self.delim.as_char() });
            self.primitive(item);
        }
    }

    fn rows(&mut self, rows: &[&Map], fields: &[Field<'_>], depth: usize) {
        for row in rows {
            self.line(depth);
            let mut first = true;
            self.row_cells(row, fields, &mut first);
        }
    }

    fn row_cells(&mut self, row: &Map, fields: &[Field<'_>], first: &mut bool) {
        for (idx, field) in fields.iter().enumerate() {
            let value = lookup(row, field.name, idx).unwrap_or(&Value::Null);
            match (&field.children, value) {
                (Some(children), Value::Object(sub)) => self.row_cells(sub, children, first),
                _ => {
                    if !*first {
                        self.out.push(self.delim.as_char());
                    }
                    *first = false;
                    self.primitive(value);
                }
            }
        }
    }

    fn keyed_object(&mut self, key: Option<&str>, map: &Map, fields: &[Field<'_>], depth: usize) {
        self.line(depth);
        self.header(key, map.len(), true, Some(fields));
        self.keyed_entries(map, fields, depth + 1);
    }

    fn keyed_entries(&mut self, map: &Map, fields: &[Field<'_>], depth: usize) {
        for (entry_key, entry) in map.iter() {
            self.line(depth);
            write_key(self.out, entry_key);
            self.out.push_str(": ");
            if let Value::Object(row) = entry {
                let mut first = true;
                self.row_cells(row, fields, &mut first);
            }
        }
    }

    fn list_item(&mut self, item: &Value, depth: usize) -> Result<()> {
        self.check_depth(depth)?;
        match item {
            Value::Array(inner) => {
                self.line(depth);
                self.out.push_str("- ");
                if inner.iter().all(Value::is_primitive) {
                    self.inline_array(None, inner);
                    return Ok(());
                }
                // Tables have nowhere to put a field list on a bare hyphen
                // line, so nested non-primitive arrays are always list form.
                self.header(None, inner.len(), false, None);
                for v in inner {
                    self.list_item(v, depth + 1)?;
                }
                Ok(())
            }
            Value::Object(map) => self.object_list_item(map, depth),
            primitive => {
                self.line(depth);
                self.out.push_str("- ");
                self.primitive(primitive);
                Ok(())
            }
        }
    }

    /// An object as a list item: the first field on the hyphen line, the rest
    /// one level deeper (§10). Tables as first field keep their rows two levels
    /// deeper than the hyphen.
    fn object_list_item(&mut self, map: &Map, depth: usize) -> Result<()> {
        let Some(((first_key, first_value), rest)) = map.entries().split_first() else {
            self.line(depth);
            self.out.push('-');
            return Ok(());
        };
        match first_value {
            Value::Array(items) if !items.is_empty() && !items.iter().all(Value::is_primitive) => {
                let table = object_rows(items).and_then(|rows| {
                    tabular_fields(&rows, self.depth_left(depth)).map(|f| (rows, f))
                });
                self.line(depth);
                self.out.push_str("- ");
                if let Some((rows, fields)) = table {
                    self.header(Some(first_key), items.len(), false, Some(&fields));
                    self.rows(&rows, &fields, depth + 2);
                } else {
                    self.header(Some(first_key), items.len(), false, None);
                    for item in items {
                        self.list_item(item, depth + 2)?;
                    }
                }
            }
            Value::Array(items) => {
                self.line(depth);
                self.out.push_str("- ");
                if items.is_empty() {
                    write_key(self.out, first_key);
                    self.out.push_str(": []");
                } else {
                    self.inline_array(Some(first_key), items);
                }
            }
            Value::Object(inner) => {
                if let Some(fields) = keyed_fields(inner, self.depth_left(depth)) {
                    self.line(depth);
                    self.out.push_str("- ");
                    self.header(Some(first_key), inner.len(), true, Some(&fields));
                    self.keyed_entries(inner, &fields, depth + 2);
                } else {
                    self.line(depth);
                    self.out.push_str("- ");
                    write_key(self.out, first_key);
                    self.out.push(':');
                    self.object_fields(inner.entries(), depth + 2)?;
                }
            }
            primitive => {
                self.line(depth);
                self.out.push_str("- ");
                write_key(self.out, first_key);
                self.out.push_str(": ");
                self.primitive(primitive);
            }
        }
        self.object_fields(rest, depth + 1)
    }
}

/// The elements as objects, if every element is one.
fn object_rows(items: &[Value]) -> Option<Vec<&Map>> {
    items
        .iter()
        .map(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect()
}
