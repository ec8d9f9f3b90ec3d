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

/// A slice of the input, as offsets: half the size of a `&str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// One parser event, 16 bytes: numbers are flattened, borrowed strings are
/// [`Span`]s of the input and owned ones an index into a side table. The tape
/// is written and read once per value, so its width is most of the decoder's
/// memory traffic.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) enum Event {
    #[default]
    Null,
    Bool(bool),
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    Str(Span),
    OwnedStr(u32),
    Key(Span),
    OwnedKey(u32),
    StartObject,
    EndObject,
    StartArray(u32),
    EndArray,
    /// A row of flat table `table`: an object whose keys are that table's
    /// field names and whose values are the `Cell` events that follow.
    Row(u32),
    /// A raw table cell, typed (§4) only when the target asks for it.
    Cell(Span),
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
pub(crate) struct TapeSink<'a> {
    /// The document; spans are offsets into it.
    pub(crate) input: &'a str,
    pub(crate) tape: Vec<Event>,
    /// Strings that are not slices of the input (unescaped text).
    pub(crate) owned: Vec<String>,
    /// Flat tables referenced by `Event::Row`.
    pub(crate) tables: Vec<FlatTable<'a>>,
    /// Where each input line's events start: (event index, line number, line
    /// text), for placing type errors found while deserializing.
    pub(crate) lines: Vec<crate::reuse::LineMark<'a>>,
    frames: Vec<Option<KeySet<'a>>>,
    /// Tape indices of the `StartArray` events of the arrays still open.
    open_arrays: Vec<usize>,
    /// Reused key sets, so objects do not allocate one each.
    pool: Vec<KeySet<'a>>,
    /// A duplicate key was seen (only possible in non-strict mode); the
    /// caller then decodes through `Value`, which resolves last-write-wins.
    pub(crate) saw_duplicate: bool,
}

/// Largest tape (in events) kept for reuse by the next decode on a thread.
const CACHED_TAPE_LIMIT: usize = 1 << 20;

thread_local! {
    /// A tape's allocation, reused across decodes on this thread: building a
    /// large tape in fresh memory costs page faults that can exceed the
    /// decoding itself. Events hold no borrows, so the buffer outlives any
    /// one input.
    static TAPE_CACHE: std::cell::RefCell<Vec<Event>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty tape, reusing this thread's cached allocation when there is one.
fn cached_tape() -> Vec<Event> {
    TAPE_CACHE
        .try_with(|c| {
            c.try_borrow_mut()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// Returns a tape's allocation to this thread's cache.
pub(crate) fn recycle_tape(mut tape: Vec<Event>) {
    if tape.capacity() > CACHED_TAPE_LIMIT {
        return;
    }
    tape.clear();
    let _ = TAPE_CACHE.try_with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut()
            && slot.capacity() < tape.capacity()
        {
            *slot = tape;
        }
    });
}

impl<'a> TapeSink<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        TapeSink {
            input,
            tape: cached_tape(),
            owned: Vec::new(),
            tables: Vec::new(),
            lines: crate::reuse::marks(),
            frames: Vec::new(),
            open_arrays: Vec::new(),
            pool: Vec::new(),
            saw_duplicate: false,
        }
    }

    /// The span of `s` when it is a slice of the input (offsets fit `u32`).
    #[inline]
    fn span(&self, s: &str) -> Option<Span> {
        let start = (s.as_ptr() as usize).checked_sub(self.input.as_ptr() as usize)?;
        if start + s.len() > self.input.len() {
            return None;
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(s.len()).ok()?,
        })
    }

    fn own(&mut self, s: String) -> u32 {
        self.owned.push(s);
        u32::try_from(self.owned.len() - 1).unwrap_or(u32::MAX)
    }

    /// A string event: a span when borrowed from the input, else owned.
    #[inline]
    fn text(&mut self, s: Cow<'a, str>, key: bool) -> Event {
        let span = match &s {
            Cow::Borrowed(b) => self.span(b),
            Cow::Owned(_) => None,
        };
        match (span, key) {
            (Some(sp), false) => Event::Str(sp),
            (Some(sp), true) => Event::Key(sp),
            (None, false) => Event::OwnedStr(self.own(s.into_owned())),
            (None, true) => Event::OwnedKey(self.own(s.into_owned())),
        }
    }
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
    fn start_array(&mut self, _len_hint: usize) {
        self.open_arrays.push(self.tape.len());
        self.tape.push(Event::StartArray(0));
    }
    fn end_array(&mut self, len: usize) {
        // The real length, so the target's `Vec` is allocated once and
        // exactly (serde reads it as the size hint).
        if let Some(at) = self.open_arrays.pop()
            && let Some(slot) = self.tape.get_mut(at)
        {
            *slot = Event::StartArray(u32::try_from(len).unwrap_or(u32::MAX));
        }
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
        let event = self.text(key, true);
        self.tape.push(event);
        fresh
    }
    fn key_unique(&mut self, key: Cow<'a, str>) {
        let event = self.text(key, true);
        self.tape.push(event);
    }
    fn reserve(&mut self, events: usize) {
        self.tape.reserve(events);
    }
    fn at_line(&mut self, line: &crate::scan::Line<'a>) {
        let index = u32::try_from(self.tape.len()).unwrap_or(u32::MAX);
        self.lines.push((index, line.number, line.raw));
    }
    fn flat_table(&mut self, fields: &[crate::header::FieldSpec<'a>], _delim: u8) -> Option<u32> {
        // Cells are spans of the input, so the input must fit `u32` offsets.
        u32::try_from(self.input.len()).ok()?;
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
        // `flat_table` refused inputs whose offsets do not fit `u32`, and
        // every cell is a slice of the input, so these casts are exact.
        let base = self.input.as_ptr() as usize;
        let offset = |t: &str| (t.as_ptr() as usize).wrapping_sub(base) as u32;
        for (i, &token) in cells.iter().enumerate() {
            // Unquoted cells are typed only if the target asks; quoted ones
            // are resolved now, while their errors can still name the line.
            if token.as_bytes().first() != Some(&b'"') {
                let (start, len) = (offset(token), token.len() as u32);
                self.tape.push(Event::Cell(Span { start, len }));
            } else if i < 128 && clean & (1u128 << i) != 0 {
                let (start, len) = (offset(token) + 1, token.len() as u32 - 2);
                self.tape.push(Event::Str(Span { start, len }));
            } else {
                let text = parse_quoted(token).map_err(|k| (i, k))?;
                let event = self.text(text, false);
                self.tape.push(event);
            }
        }
        Ok(true)
    }
    fn scalar(&mut self, value: Scalar<'a>) {
        let event = match value {
            Scalar::Null => Event::Null,
            Scalar::Bool(b) => Event::Bool(b),
            Scalar::Number(n) => match n.0 {
                N::PosInt(u) => Event::PosInt(u),
                N::NegInt(i) => Event::NegInt(i),
                N::Float(f) => Event::Float(f),
            },
            Scalar::Str(s) => self.text(s, false),
        };
        self.tape.push(event);
    }
}
