//! The decoder's fast path to typed values, part one: the parser's events
//! recorded on a flat tape with strings borrowed from the input (the serde
//! side is [`tape_de`](crate::tape_de)). Keys never allocate, and string
//! values reach the target as borrowed `&str` (zero-copy for `&'de str`
//! fields, one copy for `String` fields).

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::ErrorKind;
use crate::parse::{Scalar, Sink};
use crate::quote::parse_quoted;
use crate::value::N;

/// One parser event. Kept to 24 bytes (numbers flattened, strings as a
/// borrowed slice or a boxed owned copy): the tape is written and read once
/// per value, so its width is most of the decoder's memory traffic.
#[derive(Debug, Default)]
pub(crate) enum Event<'a> {
    #[default]
    Null,
    Bool(bool),
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    Str(&'a str),
    OwnedStr(Box<str>),
    Key(&'a str),
    OwnedKey(Box<str>),
    StartObject,
    EndObject,
    StartArray(usize),
    EndArray,
    /// A row of flat table `table`: an object whose keys are that table's
    /// field names and whose values are the `Cell` events that follow.
    Row(u32),
    /// A raw table cell, typed (§4) only when the target asks for it.
    Cell(&'a str),
}

/// A flat table's field names.
pub(crate) struct FlatTable<'a> {
    pub(crate) names: Vec<Cow<'a, str>>,
}

/// Keys of the object being recorded, for duplicate detection.
#[derive(Default)]
struct KeySet<'a> {
    keys: Vec<Cow<'a, str>>,
    index: Option<HashSet<Cow<'a, str>>>,
}

/// Above this many keys an object keeps a hash index, so duplicate detection
/// stays linear on hostile wide objects.
const INDEX_THRESHOLD: usize = 16;

impl<'a> KeySet<'a> {
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(ix) = &mut self.index {
            return ix.insert(key);
        }
        if self.keys.contains(&key) {
            return false;
        }
        self.keys.push(key);
        if self.keys.len() > INDEX_THRESHOLD {
            self.index = Some(self.keys.drain(..).collect());
        }
        true
    }
}

/// Records events; a frame per open object tracks its keys.
#[derive(Default)]
pub(crate) struct TapeSink<'a> {
    pub(crate) tape: Vec<Event<'a>>,
    /// Flat tables referenced by `Event::Row`.
    pub(crate) tables: Vec<FlatTable<'a>>,
    /// Where each input line's events start: (event index, line number, line
    /// text), for placing type errors found while deserializing.
    pub(crate) lines: Vec<(u32, u32, &'a str)>,
    frames: Vec<Option<KeySet<'a>>>,
    /// Reused key sets, so objects do not allocate one each.
    pool: Vec<KeySet<'a>>,
    /// A duplicate key was seen (only possible in non-strict mode); the
    /// caller then decodes through `Value`, which resolves last-write-wins.
    pub(crate) saw_duplicate: bool,
}

impl<'a> Sink<'a> for TapeSink<'a> {
    fn start_object(&mut self, _len_hint: usize) {
        self.tape.push(Event::StartObject);
        self.frames.push(None);
    }
    fn end_object(&mut self) {
        self.tape.push(Event::EndObject);
        if let Some(Some(mut set)) = self.frames.pop() {
            set.keys.clear();
            set.index = None;
            self.pool.push(set);
        }
    }
    fn start_array(&mut self, len_hint: usize) {
        self.tape.push(Event::StartArray(len_hint));
    }
    fn end_array(&mut self) {
        self.tape.push(Event::EndArray);
    }
    fn key(&mut self, key: Cow<'a, str>) -> bool {
        let fresh = match self.frames.last_mut() {
            Some(slot) => {
                let pool = &mut self.pool;
                slot.get_or_insert_with(|| pool.pop().unwrap_or_default())
                    .insert(key.clone())
            }
            None => true,
        };
        if !fresh {
            self.saw_duplicate = true;
        }
        self.tape.push(key_event(key));
        fresh
    }
    fn key_unique(&mut self, key: Cow<'a, str>) {
        self.tape.push(key_event(key));
    }
    fn reserve(&mut self, events: usize) {
        self.tape.reserve(events);
    }
    fn at_line(&mut self, line: &crate::scan::Line<'a>) {
        let index = u32::try_from(self.tape.len()).unwrap_or(u32::MAX);
        self.lines.push((index, line.number, line.raw));
    }
    fn flat_table(&mut self, fields: &[crate::header::FieldSpec<'a>], _delim: u8) -> Option<u32> {
        let id = u32::try_from(self.tables.len()).ok()?;
        self.tables.push(FlatTable {
            names: fields.iter().map(|f| f.name.clone()).collect(),
        });
        Some(id)
    }
    fn flat_row(
        &mut self,
        table: u32,
        cells: &[&'a str],
        clean: u128,
    ) -> Result<bool, (usize, ErrorKind)> {
        self.tape.push(Event::Row(table));
        for (i, &token) in cells.iter().enumerate() {
            // Quoted cells are resolved now (their errors need the line);
            // the rest are typed only if the target asks.
            let event = if i < 128 && clean & (1u128 << i) != 0 {
                Event::Str(&token[1..token.len() - 1])
            } else if token.as_bytes().first() == Some(&b'"') {
                match parse_quoted(token).map_err(|k| (i, k))? {
                    Cow::Borrowed(s) => Event::Str(s),
                    Cow::Owned(s) => Event::OwnedStr(s.into_boxed_str()),
                }
            } else {
                Event::Cell(token)
            };
            self.tape.push(event);
        }
        Ok(true)
    }
    fn scalar(&mut self, value: Scalar<'a>) {
        self.tape.push(match value {
            Scalar::Null => Event::Null,
            Scalar::Bool(b) => Event::Bool(b),
            Scalar::Number(n) => match n.0 {
                N::PosInt(u) => Event::PosInt(u),
                N::NegInt(i) => Event::NegInt(i),
                N::Float(f) => Event::Float(f),
            },
            Scalar::Str(Cow::Borrowed(s)) => Event::Str(s),
            Scalar::Str(Cow::Owned(s)) => Event::OwnedStr(s.into_boxed_str()),
        });
    }
}

fn key_event(key: Cow<'_, str>) -> Event<'_> {
    match key {
        Cow::Borrowed(k) => Event::Key(k),
        Cow::Owned(k) => Event::OwnedKey(k.into_boxed_str()),
    }
}
