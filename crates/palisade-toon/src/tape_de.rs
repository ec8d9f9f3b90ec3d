//! The serde `Deserializer` over a recorded [`tape`](crate::tape): events are
//! taken out as they are read, table rows become maps whose keys come from
//! the header and whose cells are typed only when the target asks, and a
//! type error is placed at the line (and cell) it came from.

use std::borrow::Cow;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use crate::error::{Error, Result};
use crate::parse::Scalar;
use crate::tape::{Event, FlatTable, Span, TapeSink};
use crate::value::N;

/// Deserializes from a recorded tape, taking events out as it goes.
pub(crate) struct TapeDeserializer<'a> {
    input: &'a str,
    tape: Vec<Event>,
    owned: Vec<String>,
    tables: Vec<FlatTable<'a>>,
    lines: Vec<crate::reuse::LineMark<'a>>,
    pos: usize,
}

/// The input text a span stands for.
#[inline]
fn resolve(input: &str, span: Span) -> &str {
    let start = span.start as usize;
    input.get(start..start + span.len as usize).unwrap_or("")
}

impl<'a> TapeDeserializer<'a> {
    pub(crate) fn new(sink: TapeSink<'a>) -> Self {
        TapeDeserializer {
            input: sink.input,
            tape: sink.tape,
            owned: sink.owned,
            tables: sink.tables,
            lines: sink.lines,
            pos: 0,
        }
    }

    /// Hands the tape's allocation back for the next decode on this thread.
    pub(crate) fn finish(self) {
        crate::tape::recycle_tape(self.tape);
        crate::reuse::recycle_marks(self.lines);
    }

    fn take_owned(&mut self, index: u32) -> String {
        self.owned
            .get_mut(index as usize)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Where the last event read came from: its line, and the column of the
    /// cell for table cells (else of the line's first character).
    pub(crate) fn position(&self) -> Option<crate::error::Position> {
        let index = self.pos.saturating_sub(1);
        let at = self
            .lines
            .partition_point(|&(start, _, _)| start as usize <= index);
        let &(_, number, raw) = self.lines.get(at.checked_sub(1)?)?;
        let raw_start = (raw.as_ptr() as usize).checked_sub(self.input.as_ptr() as usize)?;
        let offset = match self.tape.get(index) {
            Some(Event::Cell(span) | Event::Str(span)) => (span.start as usize)
                .checked_sub(raw_start)
                .filter(|&o| o <= raw.len()),
            _ => None,
        }
        .unwrap_or(raw.len() - raw.trim_start_matches(' ').len());
        let column = raw.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        Some(crate::error::Position {
            line: number as usize,
            column,
        })
    }

    fn next(&mut self) -> Event {
        let e = self.tape.get(self.pos).copied().unwrap_or_default();
        self.pos += 1;
        e
    }

    fn peek(&self) -> Option<&Event> {
        self.tape.get(self.pos)
    }

    /// Skips one complete value.
    fn skip(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.next() {
                Event::Row(table) => {
                    self.pos += self.tables.get(table as usize).map_or(0, |t| t.names.len());
                }
                Event::StartObject | Event::StartArray(_) => depth += 1,
                Event::EndObject | Event::EndArray => depth = depth.saturating_sub(1),
                Event::Key(_) | Event::OwnedKey(_) => continue,
                _ => {}
            }
            if depth == 0 || self.pos >= self.tape.len() {
                return;
            }
        }
    }
}

fn visit_str<'de, V: Visitor<'de>>(s: Cow<'de, str>, visitor: V) -> Result<V::Value> {
    match s {
        Cow::Borrowed(b) => visitor.visit_borrowed_str(b),
        Cow::Owned(o) => visitor.visit_string(o),
    }
}

impl<'de> Deserializer<'de> for &mut TapeDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next() {
            Event::Null => visitor.visit_unit(),
            Event::Bool(b) => visitor.visit_bool(b),
            Event::PosInt(u) => visitor.visit_u64(u),
            Event::NegInt(i) => visitor.visit_i64(i),
            Event::Float(f) => visitor.visit_f64(f),
            Event::Str(s) | Event::Key(s) => visitor.visit_borrowed_str(resolve(self.input, s)),
            Event::OwnedStr(i) | Event::OwnedKey(i) => visitor.visit_string(self.take_owned(i)),
            Event::StartArray(len) => {
                let len = len as usize;
                let value = visitor.visit_seq(Seq {
                    de: &mut *self,
                    len,
                })?;
                match self.next() {
                    Event::EndArray => Ok(value),
                    _ => Err(de::Error::invalid_length(
                        len + 1,
                        &"fewer elements in array",
                    )),
                }
            }
            Event::StartObject => {
                let value = visitor.visit_map(Obj { de: &mut *self })?;
                match self.next() {
                    Event::EndObject => Ok(value),
                    _ => Err(de::Error::custom("expected the end of the object")),
                }
            }
            Event::Row(table) => {
                let start = self.pos;
                let names = self
                    .tables
                    .get(table as usize)
                    .map_or(&[][..], |t| &t.names[..]);
                let cells = self.tape.get(start..start + names.len()).unwrap_or(&[]);
                let cursor = std::cell::Cell::new(start);
                let result = visitor.visit_map(RowAccess {
                    input: self.input,
                    owned: &self.owned,
                    names,
                    cells,
                    index: 0,
                    cursor: &cursor,
                });
                // On failure, point just past the cell that failed.
                self.pos = if result.is_ok() {
                    start + names.len()
                } else {
                    cursor.get() + 1
                };
                result
            }
            Event::Cell(span) => RawCell(resolve(self.input, span)).deserialize_any(visitor),
            Event::EndObject | Event::EndArray => {
                Err(de::Error::custom("unexpected end of container"))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if matches!(self.peek(), Some(Event::Null)) {
            self.pos += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek() {
            Some(Event::Str(_) | Event::OwnedStr(_)) => visitor.visit_enum(Variant {
                de: self,
                tagged: false,
            }),
            Some(Event::StartObject) => {
                self.pos += 1;
                let value = visitor.visit_enum(Variant {
                    de: &mut *self,
                    tagged: true,
                })?;
                match self.next() {
                    Event::EndObject => Ok(value),
                    _ => Err(de::Error::custom(
                        "expected an object with exactly one entry for an enum",
                    )),
                }
            }
            _ => Err(de::Error::custom(
                "expected a string or an object with one entry for an enum",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip();
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq<'d, 'de> {
    de: &'d mut TapeDeserializer<'de>,
    len: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if matches!(self.de.peek(), Some(Event::EndArray) | None) {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

struct Obj<'d, 'de> {
    de: &'d mut TapeDeserializer<'de>,
}

impl<'de> MapAccess<'de> for Obj<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.de.peek() {
            Some(Event::Key(_) | Event::OwnedKey(_)) => seed.deserialize(&mut *self.de).map(Some),
            _ => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// The fields of one flat-table row: keys from the table, values parsed from
/// the row's cells as the target asks for them.
struct RowAccess<'r, 'de> {
    names: &'r [Cow<'de, str>],
    input: &'de str,
    owned: &'r [String],
    cells: &'r [Event],
    index: usize,
    /// Tape index of the cell being read, for error positions.
    cursor: &'r std::cell::Cell<usize>,
}

impl<'de> MapAccess<'de> for RowAccess<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(name) = self.names.get(self.index) else {
            return Ok(None);
        };
        seed.deserialize(KeyDeserializer(name.clone())).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let cell = self.cells.get(self.index);
        self.cursor
            .set(self.cursor.get() + usize::from(self.index > 0));
        self.index += 1;
        match cell {
            Some(Event::Str(s)) => {
                seed.deserialize(TextCell(Cow::Borrowed(resolve(self.input, *s))))
            }
            Some(Event::OwnedStr(i)) => {
                let text = self.owned.get(*i as usize).cloned().unwrap_or_default();
                seed.deserialize(TextCell(Cow::Owned(text)))
            }
            Some(Event::Cell(t)) => seed.deserialize(RawCell(resolve(self.input, *t))),
            _ => seed.deserialize(RawCell("")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.names.len().saturating_sub(self.index))
    }
}

/// An unquoted cell of a flat-table row, typed on demand (§4).
struct RawCell<'de>(&'de str);

impl<'de> Deserializer<'de> for RawCell<'de> {
    type Error = Error;
    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Cells were trimmed when the row was split.
        match crate::token::parse_trimmed(self.0).map_err(Error::new)? {
            Scalar::Null => visitor.visit_unit(),
            Scalar::Bool(b) => visitor.visit_bool(b),
            Scalar::Number(n) => match n.0 {
                N::PosInt(u) => visitor.visit_u64(u),
                N::NegInt(i) => visitor.visit_i64(i),
                N::Float(f) => visitor.visit_f64(f),
            },
            Scalar::Str(s) => visit_str(s, visitor),
        }
    }
    // A string field skips typing when the cell can only be a string.
    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if crate::token::is_plain_string(self.0) {
            return visitor.visit_borrowed_str(self.0);
        }
        self.deserialize_any(visitor)
    }
    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    // Integer and bool fields read the common spellings directly; anything
    // else (signs, exponents, other types) is typed as usual.
    #[inline]
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match crate::token::plain_uint(self.0) {
            Some(v) => visitor.visit_u64(v),
            None => self.deserialize_any(visitor),
        }
    }
    #[inline]
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    #[inline]
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    #[inline]
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    #[inline]
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => self.deserialize_any(visitor),
        }
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.0 == "null" {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match crate::token::parse_trimmed(self.0).map_err(Error::new)? {
            Scalar::Str(s) => visitor.visit_enum(CellVariant(s)),
            _ => Err(de::Error::custom("expected a string naming a unit variant")),
        }
    }
    serde::forward_to_deserialize_any! {
        i8 i16 i128 u128 f32 f64 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// A quoted cell of a flat-table row: always a string (§4).
struct TextCell<'de>(Cow<'de, str>);

impl<'de> Deserializer<'de> for TextCell<'de> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visit_str(self.0, visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(CellVariant(self.0))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// A unit variant named by a cell.
struct CellVariant<'de>(Cow<'de, str>);

impl<'de> EnumAccess<'de> for CellVariant<'de> {
    type Error = Error;
    type Variant = UnitOnly;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, UnitOnly)> {
        Ok((seed.deserialize(KeyDeserializer(self.0))?, UnitOnly))
    }
}

struct UnitOnly;

impl<'de> VariantAccess<'de> for UnitOnly {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(de::Error::custom(
            "a table cell can only name a unit variant",
        ))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(de::Error::custom(
            "a table cell can only name a unit variant",
        ))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(de::Error::custom(
            "a table cell can only name a unit variant",
        ))
    }
}

/// A row key, borrowed from the header when it was written unquoted.
struct KeyDeserializer<'de>(Cow<'de, str>);

impl<'de> Deserializer<'de> for KeyDeserializer<'de> {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visit_str(self.0, visitor)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Variant<'d, 'de> {
    de: &'d mut TapeDeserializer<'de>,
    /// `{ Variant: value }` rather than a bare `Variant` string.
    tagged: bool,
}

impl<'de> EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        if self.tagged {
            match self.de.next() {
                Event::Null => Ok(()),
                _ => Err(de::Error::custom("expected null for a unit variant")),
            }
        } else {
            Ok(())
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        if !self.tagged {
            return Err(de::Error::custom(
                "expected an object for a newtype variant",
            ));
        }
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        if !self.tagged {
            return Err(de::Error::custom("expected an object for a tuple variant"));
        }
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if !self.tagged {
            return Err(de::Error::custom("expected an object for a struct variant"));
        }
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}
