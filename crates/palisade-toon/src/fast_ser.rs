//! The encoder's fast path for the shapes most prompt data has: a sequence
//! of flat structs (a table), or a struct of primitives and such sequences.
//! It writes TOON straight from serde calls, with no tree in between.
//!
//! Anything else — maps, nested structs, non-uniform rows, enums with data —
//! makes it give up, and [`to_string`](crate::to_string) encodes through the
//! general [`Value`](crate::Value) path instead. Serialization is a pure
//! function of `&T`, so running it twice is safe; the two paths produce the
//! same bytes (tested against each other).

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::options::{Delimiter, EncodeOptions};
use crate::quote::{write_key, write_string};

/// The fast path declined the value (or the value's own `Serialize` failed,
/// which the general path will report).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape not handled by the fast path")
    }
}
impl std::error::Error for Unsupported {}
impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

type R<T = ()> = Result<T, Unsupported>;

/// Encodes `value` if its shape is one the fast path handles.
pub(crate) fn try_encode<T: Serialize + ?Sized>(value: &T, opts: &EncodeOptions) -> Option<String> {
    if opts.indent == 0 || opts.max_depth < 2 {
        return None;
    }
    let mut out = Out {
        text: String::with_capacity(1024),
        first_line: true,
        indent: opts.indent,
        delim: opts.delimiter,
    };
    value.serialize(Root { out: &mut out }).ok()?;
    Some(out.text)
}

struct Out {
    text: String,
    first_line: bool,
    indent: usize,
    delim: Delimiter,
}

impl Out {
    fn line(&mut self, depth: usize) {
        if !self.first_line {
            self.text.push('\n');
        }
        self.first_line = false;
        push_spaces(&mut self.text, depth * self.indent);
    }
}

/// Field names of one derived struct are the same `&'static str` in every
/// row, so pointer and length settle it without comparing the text.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Appends `n` spaces, a slice at a time rather than a push per space.
#[inline]
fn push_spaces(text: &mut String, mut n: usize) {
    const SPACES: &str = "                                ";
    while n > 0 {
        let k = n.min(SPACES.len());
        text.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Writes one primitive into a string, declining anything compound.
struct Prim<'b> {
    buf: &'b mut String,
    delim: Delimiter,
}

macro_rules! decline {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $arg),*) -> R<$ret> { Err(Unsupported) })*
    };
}

macro_rules! primitive_methods {
    () => {
        fn serialize_bool(self, v: bool) -> R {
            self.prim(|b, _| b.push_str(if v { "true" } else { "false" }))
        }
        fn serialize_i8(self, v: i8) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i16(self, v: i16) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i32(self, v: i32) -> R {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i64(self, v: i64) -> R {
            self.prim(|b, _| b.push_str(itoa::Buffer::new().format(v)))
        }
        fn serialize_u8(self, v: u8) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u16(self, v: u16) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u32(self, v: u32) -> R {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u64(self, v: u64) -> R {
            self.prim(|b, _| b.push_str(itoa::Buffer::new().format(v)))
        }
        fn serialize_f32(self, v: f32) -> R {
            // Same policy as the general path: shortest f32 text, read as f64.
            if !v.is_finite() {
                return self.serialize_unit();
            }
            let f = ryu::Buffer::new()
                .format_finite(v)
                .parse::<f64>()
                .unwrap_or(f64::from(v));
            self.serialize_f64(f)
        }
        fn serialize_f64(self, v: f64) -> R {
            if !v.is_finite() {
                return self.serialize_unit();
            }
            self.prim(|b, _| crate::number::write_f64(b, v))
        }
        fn serialize_char(self, v: char) -> R {
            let mut tmp = [0u8; 4];
            let s: &str = v.encode_utf8(&mut tmp);
            self.serialize_str(s)
        }
        fn serialize_str(self, v: &str) -> R {
            self.prim(|b, d| write_string(b, v, d))
        }
        fn serialize_none(self) -> R {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
            value.serialize(self)
        }
        fn serialize_unit(self) -> R {
            self.prim(|b, _| b.push_str("null"))
        }
        fn serialize_unit_struct(self, _name: &'static str) -> R {
            self.serialize_unit()
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _idx: u32,
            variant: &'static str,
        ) -> R {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> R {
            value.serialize(self)
        }
        decline! {
            serialize_i128(i128) -> ();
            serialize_u128(u128) -> ();
            serialize_bytes(&[u8]) -> ();
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _idx: u32,
            _variant: &'static str,
            _value: &T,
        ) -> R {
            Err(Unsupported)
        }
    };
}

impl Prim<'_> {
    fn prim(self, f: impl FnOnce(&mut String, Delimiter)) -> R {
        f(self.buf, self.delim);
        Ok(())
    }
}

impl ser::Serializer for Prim<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    primitive_methods!();
    decline! {
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// A sequence being collected: inline primitives or table rows.
struct Collector<'o> {
    out: &'o mut Out,
    key: Option<&'static str>,
    depth: usize,
    /// Inline values (`a,b`) or rows text (each row starts with '\n').
    buf: String,
    /// Field names of the table, from the first row.
    fields: Vec<&'static str>,
    count: usize,
    is_table: bool,
    /// The length the sequence declared, if any. A table with one has its
    /// header written once the first row is done, and the rows after it go
    /// straight into the output (no copy of the rows text); `finish` then
    /// declines a sequence whose element count differs.
    declared: Option<usize>,
    /// The header is written and rows go to `out.text`, not `buf`.
    direct: bool,
}

impl<'o> Collector<'o> {
    fn new(out: &'o mut Out, key: Option<&'static str>, depth: usize, len: Option<usize>) -> Self {
        Collector {
            out,
            key,
            depth,
            // Inline values are collected here; a table with a declared length
            // keeps only its first row here (see `first_row_done`).
            buf: String::with_capacity(len.unwrap_or(4).min(16) * 32),
            fields: Vec::new(),
            count: 0,
            is_table: false,
            declared: len,
            direct: false,
        }
    }

    /// Where the rows text goes now.
    fn rows(&mut self) -> &mut String {
        if self.direct {
            &mut self.out.text
        } else {
            &mut self.buf
        }
    }

    /// The first table row is done: with a declared length, write the header
    /// and that row now, and size the output for the rows to come (they are
    /// about as long as the first).
    fn first_row_done(&mut self) {
        let Some(n) = self.declared else { return };
        let saved = self.count;
        self.count = n;
        self.write_header();
        self.count = saved;
        // A declared length is a promise `finish` checks, not a size to
        // trust: the reservation is capped (64 MiB), and doubling does the rest.
        let rows = n.saturating_sub(1).min(1 << 20);
        let o = &mut *self.out;
        o.text
            .reserve(self.buf.len().saturating_mul(rows).min(1 << 26) + 64);
        o.text.push_str(&self.buf);
        self.buf = String::new();
        self.direct = true;
    }

    /// The header line of a non-empty sequence, up to its colon.
    fn write_header(&mut self) {
        self.header();
        let o = &mut *self.out;
        if self.is_table {
            o.text.push('{');
            for (i, f) in self.fields.iter().enumerate() {
                if i > 0 {
                    o.text.push(o.delim.as_char());
                }
                write_key(&mut o.text, f);
            }
            o.text.push_str("}:");
        } else {
            o.text.push_str(": ");
        }
    }

    fn header(&mut self) {
        let o = &mut *self.out;
        o.line(self.depth);
        if let Some(k) = self.key {
            write_key(&mut o.text, k);
        }
        o.text.push('[');
        o.text.push_str(itoa::Buffer::new().format(self.count));
        if o.delim != Delimiter::Comma {
            o.text.push(o.delim.as_char());
        }
        o.text.push(']');
    }

    fn finish(mut self) -> R {
        if self.direct {
            // The header already states the declared length.
            return if Some(self.count) == self.declared {
                Ok(())
            } else {
                Err(Unsupported)
            };
        }
        if self.count == 0 {
            let o = &mut *self.out;
            o.line(self.depth);
            match self.key {
                Some(k) => {
                    write_key(&mut o.text, k);
                    o.text.push_str(": []");
                }
                None => o.text.push_str("[]"),
            }
            return Ok(());
        }
        self.write_header();
        self.out.text.push_str(&self.buf);
        Ok(())
    }
}

impl ser::SerializeSeq for Collector<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        value.serialize(Element { c: &mut *self })?;
        self.count += 1;
        Ok(())
    }
    fn end(self) -> R {
        self.finish()
    }
}

/// One element of a collected sequence.
struct Element<'c, 'o> {
    c: &'c mut Collector<'o>,
}

impl Element<'_, '_> {
    fn prim(self, f: impl FnOnce(&mut String, Delimiter)) -> R {
        if self.c.is_table {
            return Err(Unsupported);
        }
        if self.c.count > 0 {
            self.c.buf.push(self.c.out.delim.as_char());
        }
        f(&mut self.c.buf, self.c.out.delim);
        Ok(())
    }
}

impl<'c, 'o> ser::Serializer for Element<'c, 'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Row<'c, 'o>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    primitive_methods!();

    fn serialize_struct(self, _name: &'static str, len: usize) -> R<Row<'c, 'o>> {
        let first = self.c.count == 0;
        if len == 0 || (!first && !self.c.is_table) || (!first && len != self.c.fields.len()) {
            return Err(Unsupported);
        }
        self.c.is_table = true;
        let depth = self.c.depth + 1;
        let indent = self.c.out.indent;
        let rows = self.c.rows();
        rows.push('\n');
        push_spaces(rows, depth * indent);
        Ok(Row {
            c: self.c,
            first,
            index: 0,
        })
    }

    decline! {
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// One table row: fields must match the first row's, values must be primitive.
struct Row<'c, 'o> {
    c: &'c mut Collector<'o>,
    first: bool,
    index: usize,
}

impl ser::SerializeStruct for Row<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        if self.first {
            if self.c.fields.contains(&key) {
                return Err(Unsupported);
            }
            self.c.fields.push(key);
        } else if !self
            .c
            .fields
            .get(self.index)
            .is_some_and(|f| same_name(f, key))
        {
            return Err(Unsupported);
        }
        let delim = self.c.out.delim;
        let index = self.index;
        self.index += 1;
        let buf = self.c.rows();
        if index > 0 {
            buf.push(delim.as_char());
        }
        value.serialize(Prim { buf, delim })
    }
    fn skip_field(&mut self, _key: &'static str) -> R {
        Err(Unsupported)
    }
    fn end(self) -> R {
        if self.index != self.c.fields.len() || self.index == 0 {
            return Err(Unsupported);
        }
        if self.first {
            // `count` is bumped after this returns; the header is written
            // with the declared length.
            self.c.first_row_done();
        }
        Ok(())
    }
}

/// The document root: a sequence, or a struct of primitives and sequences.
struct Root<'o> {
    out: &'o mut Out,
}

impl<'o> ser::Serializer for Root<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Collector<'o>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = RootStruct<'o>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_seq(self, len: Option<usize>) -> R<Collector<'o>> {
        Ok(Collector::new(self.out, None, 0, len))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> R<RootStruct<'o>> {
        Ok(RootStruct { out: self.out })
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _idx: u32,
        _variant: &'static str,
        _value: &T,
    ) -> R {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit_variant(self, _name: &'static str, _idx: u32, _variant: &'static str) -> R {
        Err(Unsupported)
    }
    decline! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_i128(i128) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_u128(u128) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// Fields of the root struct: `key: value` lines, or sequences.
struct RootStruct<'o> {
    out: &'o mut Out,
}

impl ser::SerializeStruct for RootStruct<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        value.serialize(Field {
            out: &mut *self.out,
            key,
        })
    }
    fn end(self) -> R {
        Ok(())
    }
}

/// A root field's value.
struct Field<'f> {
    out: &'f mut Out,
    key: &'static str,
}

impl Field<'_> {
    fn prim(self, f: impl FnOnce(&mut String, Delimiter)) -> R {
        self.out.line(0);
        write_key(&mut self.out.text, self.key);
        self.out.text.push_str(": ");
        let d = self.out.delim;
        f(&mut self.out.text, d);
        Ok(())
    }
}

impl<'f> ser::Serializer for Field<'f> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Collector<'f>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    primitive_methods!();

    fn serialize_seq(self, len: Option<usize>) -> R<Collector<'f>> {
        Ok(Collector::new(self.out, Some(self.key), 0, len))
    }

    decline! {
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}
