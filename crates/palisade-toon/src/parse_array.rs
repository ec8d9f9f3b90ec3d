//! The array half of the structural decoder: what follows an array header
//! (§9): inline values, table rows (§9.3, with nested field groups), keyed
//! tables, and `- ` list items (§9.4, §10), each with its strict-mode count,
//! width and blank-line checks (§14).

use crate::error::{Error, ErrorKind, Result};
use crate::header::{FieldSpec, Header, leaf_count};
use crate::parse::{
    Parser, Sink, has_unquoted_colon, is_list_item, looks_like_keyless_header, offset_in,
};
use crate::scan::Line;
use crate::token::{is_data_row, parse_primitive, split_cells, split_row, trim_spaces};
use crate::unquoted::Unquoted;

impl<'a, S: Sink<'a>> Parser<'a, '_, S> {
    pub(crate) fn array_from_header(
        &mut self,
        header: &Header<'a>,
        inline: Option<&'a str>,
        base: usize,
        line: &Line<'a>,
        nest: usize,
    ) -> Result<()> {
        let nest = self.enter(nest, line)?;
        // The array (or keyed object) itself.
        self.charge(1, line)?;
        if header.keyed {
            return self.keyed_object(header, base, line, nest);
        }
        if let Some(values) = inline {
            return self.inline_array(header, values, line);
        }
        // Never trust a declared length for allocation: hostile input can
        // declare billions, and nested arrays each reserving "what could
        // follow" add up to far more than the input. Sinks grow as rows come.
        self.sink.start_array(0);
        let len = match &header.fields {
            Some(fields) if !fields.is_empty() => {
                self.tabular_array(header, fields, base, line, nest)?
            }
            _ => self.list_array(header, base, line, nest)?,
        };
        self.sink.end_array(len);
        Ok(())
    }

    /// `key[N]: v1,v2,…` — cells read straight off the line, one pass, no
    /// list of cells in between (a hostile line can hold millions).
    fn inline_array(
        &mut self,
        header: &Header<'a>,
        values: &'a str,
        line: &Line<'a>,
    ) -> Result<()> {
        let declared = header.length;
        if self.strict {
            // Strict input has exactly the declared count: charge it before
            // anything is allocated, so a hostile `[N]` fails here.
            self.charge(declared, line)?;
        }
        // A line of `n` bytes holds at most `n + 1` cells, and no more than
        // the value limit has left can be decoded.
        let mut hint = declared.min(values.len() + 1);
        if !self.strict {
            hint = hint.min(self.values_left);
        }
        // The cells, the array's own two events and its parent's closing one.
        self.sink.reserve(hint + 4);
        self.sink.start_array(hint);
        let b = values.as_bytes();
        let mut scan = Unquoted::new(b, 0, [header.delimiter.as_byte()]);
        let (mut start, mut count) = (0, 0usize);
        loop {
            let stop = scan.next_byte();
            let end = stop.map_or(b.len(), |(at, _)| at);
            count += 1;
            if !self.strict || count <= declared {
                if !self.strict {
                    self.charge(1, line)?;
                }
                let cell = trim_spaces(&values[start..end]);
                let v =
                    parse_primitive(cell).map_err(|k| line.error_at(k, offset_in(line, cell)))?;
                self.sink.scalar(v);
            }
            match stop {
                Some((at, _)) => start = at + 1,
                None => break,
            }
        }
        if self.strict && count != declared {
            return Err(line.error_at(
                ErrorKind::CountMismatch {
                    what: "inline array values",
                    expected: declared,
                    found: count,
                },
                offset_in(line, values),
            ));
        }
        self.sink.end_array(count);
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
        self.charge(1, line)?;
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
                    self.charge(1, line)?;
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
    fn flat_row(&mut self, table: u32, line: &Line<'a>, clean: u128) -> Result<()> {
        self.charge(1 + self.cells.len(), line)?;
        match self.sink.flat_row(table, &self.cells, clean) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err((i, kind)) => {
                let token = self.cells.get(i).copied().unwrap_or("");
                return Err(line.error_at(kind, offset_in(line, token)));
            }
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
    ) -> Result<usize> {
        let row_depth = self.content_depth(base)?;
        let width = leaf_count(fields);
        let delim = header.delimiter.as_byte();
        let checked = !self.strict;
        // Row objects sit one level below the array.
        self.enter(nest, header_line)?;
        if self.strict {
            // Strict input has exactly the declared rows: refuse a table the
            // value limit cannot hold before any row is read.
            let values = header.length.saturating_mul(1 + width);
            if values > self.values_left {
                return Err(header_line.error(ErrorKind::TooManyValues {
                    max: self.max_values,
                }));
            }
        }
        // Room on the tape for the rows that can follow, within what the value
        // limit has left (one reservation, not one per nested table).
        let rows_hint = header.length.min(self.lines.len() - self.pos);
        let flat = if checked || fields.iter().any(|f| f.children.is_some()) {
            None
        } else {
            self.sink.flat_table(fields, delim)
        };
        self.sink.reserve(
            rows_hint
                .saturating_mul(if flat.is_some() {
                    1 + width
                } else {
                    2 + 2 * width
                })
                .min(self.values_left.saturating_mul(2)),
        );
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
            let mut clean = 0u128;
            let is_row = split_row(line.content, delim, &mut cells, &mut clean);
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
                Some(table) => self.flat_row(table, &line, clean)?,
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
        Ok(count)
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
        self.sink.start_object(0);
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
    ) -> Result<usize> {
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
        Ok(count)
    }

    /// One `- ...` item at `base` (its line's depth).
    pub(crate) fn list_item(&mut self, base: usize, nest: usize) -> Result<()> {
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
            self.charge(1, &line)?;
            self.sink.start_object(0);
            self.sink.end_object();
            return Ok(());
        }
        if after == "[]" {
            self.charge(1, &line)?;
            self.sink.start_array(0);
            self.sink.end_array(0);
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
            self.charge(1, &line)?;
            self.sink.start_object(0);
            self.key(&line, key)?;
            self.array_from_header(&header, inline, base + 1, &line, nest)?;
            self.sibling_fields(base + 1, nest)?;
            self.sink.end_object();
            return Ok(());
        }
        if has_unquoted_colon(after) {
            let nest = self.enter(nest, &line)?;
            self.charge(1, &line)?;
            self.sink.start_object(0);
            self.key_value(&line, after, base + 1, nest)?;
            self.sibling_fields(base + 1, nest)?;
            self.sink.end_object();
            return Ok(());
        }
        self.scalar(&line, after)
    }

    /// Fields of a list-item object after its first (hyphen-line) field.
    pub(crate) fn sibling_fields(&mut self, depth: usize, nest: usize) -> Result<()> {
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
