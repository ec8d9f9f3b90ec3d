//! Decoding TOON text into a [`Value`]: the parser's events assembled into a
//! tree by [`ValueBuilder`].

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::Result;
use crate::options::DecodeOptions;
use crate::parse::{Scalar, Sink, parse};
use crate::value::{Map, Value};

/// Decodes TOON text into a [`Value`].
///
/// ```
/// use palisade_toon::{decode, DecodeOptions};
/// let v = decode("users[2]{id,name}:\n  1,Ada\n  2,Bob", &DecodeOptions::default())?;
/// assert_eq!(v.get("users").and_then(|u| u.as_array()).map(Vec::len), Some(2));
/// # Ok::<(), palisade_toon::Error>(())
/// ```
///
/// # Errors
///
/// Any strict-mode violation (§14), malformed quoted strings, an input larger
/// than `max_input_bytes`, or nesting deeper than `max_depth`; each with the
/// line and column where it was found.
pub fn decode(input: &str, options: &DecodeOptions) -> Result<Value> {
    let mut builder = ValueBuilder::default();
    parse(input, options, &mut builder)?;
    Ok(builder.finish())
}

/// Above this many keys an object under construction keeps a hash index, so
/// duplicate detection stays linear for hostile wide objects.
const INDEX_THRESHOLD: usize = 16;

enum Pending {
    None,
    New(String),
    Replace(usize),
}

enum Frame {
    Object {
        entries: Vec<(String, Value)>,
        pending: Pending,
        index: Option<HashMap<String, usize>>,
    },
    Array(Vec<Value>),
}

/// Builds a [`Value`] tree from parser events.
#[derive(Default)]
pub(crate) struct ValueBuilder {
    stack: Vec<Frame>,
    root: Option<Value>,
}

impl ValueBuilder {
    pub(crate) fn finish(self) -> Value {
        self.root.unwrap_or(Value::Object(Map::new()))
    }

    fn put(&mut self, value: Value) {
        match self.stack.last_mut() {
            Some(Frame::Array(items)) => items.push(value),
            Some(Frame::Object {
                entries,
                pending,
                index,
            }) => match std::mem::replace(pending, Pending::None) {
                Pending::New(key) => {
                    if let Some(ix) = index {
                        ix.insert(key.clone(), entries.len());
                    } else if entries.len() == INDEX_THRESHOLD {
                        let mut ix: HashMap<String, usize> = entries
                            .iter()
                            .enumerate()
                            .map(|(i, (k, _))| (k.clone(), i))
                            .collect();
                        ix.insert(key.clone(), entries.len());
                        *index = Some(ix);
                    }
                    entries.push((key, value));
                }
                Pending::Replace(i) => {
                    if let Some(slot) = entries.get_mut(i) {
                        slot.1 = value;
                    }
                }
                Pending::None => {}
            },
            None => self.root = Some(value),
        }
    }
}

impl<'a> Sink<'a> for ValueBuilder {
    fn start_object(&mut self, len_hint: usize) {
        self.stack.push(Frame::Object {
            entries: Vec::with_capacity(len_hint),
            pending: Pending::None,
            index: None,
        });
    }

    fn end_object(&mut self) {
        if let Some(Frame::Object { entries, .. }) = self.stack.pop() {
            self.put(Value::Object(Map::from_unique(entries)));
        }
    }

    fn start_array(&mut self, len_hint: usize) {
        self.stack.push(Frame::Array(Vec::with_capacity(len_hint)));
    }

    fn end_array(&mut self, _len: usize) {
        if let Some(Frame::Array(items)) = self.stack.pop() {
            self.put(Value::Array(items));
        }
    }

    fn key(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(Frame::Object {
            entries,
            pending,
            index,
        }) = self.stack.last_mut()
        {
            let existing = match index {
                Some(ix) => ix.get(key.as_ref()).copied(),
                None => entries.iter().position(|(k, _)| *k == key),
            };
            if let Some(i) = existing {
                *pending = Pending::Replace(i);
                return false;
            }
            *pending = Pending::New(key.into_owned());
        }
        true
    }

    fn key_unique(&mut self, key: Cow<'a, str>) {
        if let Some(Frame::Object { pending, .. }) = self.stack.last_mut() {
            *pending = Pending::New(key.into_owned());
        }
    }

    fn scalar(&mut self, value: Scalar<'a>) {
        let v = match value {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Number(n) => Value::Number(n),
            Scalar::Str(s) => Value::String(s.into_owned()),
        };
        self.put(v);
    }
}
