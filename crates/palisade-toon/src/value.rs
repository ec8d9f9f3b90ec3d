//! [`Value`]: the JSON data model with object key order preserved, which the
//! encoder needs (tabular detection looks at every element before writing)
//! and the decoder builds. Converts to and from [`serde_json::Value`].
//!
//! Objects are a vector of entries rather than a hash map: key order is part
//! of TOON's output, objects are small, and a vector is the cheapest thing to
//! build and walk.

use std::fmt;

use crate::error::ErrorKind;
use crate::number::MAX_SAFE_INTEGER;

/// A JSON number as TOON carries it: exact `u64`/`i64` integers, or a finite
/// float. Integral floats below 2^53 are stored as integers and `-0` as `0`.
/// Equality is by mathematical value (§2), so `1e19` read as an integer equals
/// the float it was written from.
#[derive(Clone, Copy)]
pub struct Number(pub(crate) N);

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        const TWO_64: f64 = 18_446_744_073_709_551_616.0;
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        let int_eq_float = |n: &N, f: f64| -> bool {
            if f.fract() != 0.0 {
                return false;
            }
            match *n {
                N::PosInt(u) => (0.0..TWO_64).contains(&f) && f as u64 == u,
                N::NegInt(i) => (-TWO_63..0.0).contains(&f) && f as i64 == i,
                N::Float(_) => false,
            }
        };
        match (&self.0, &other.0) {
            (N::PosInt(a), N::PosInt(b)) => a == b,
            (N::NegInt(a), N::NegInt(b)) => a == b,
            (N::Float(a), N::Float(b)) => a == b,
            (n, N::Float(f)) | (N::Float(f), n) => int_eq_float(n, *f),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum N {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

impl Number {
    /// A float as a number, or `None` for NaN and infinities (which encode as `null`).
    #[must_use]
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        if f.fract() == 0.0 && f.abs() < MAX_SAFE_INTEGER {
            return Some(Number::from(f as i64));
        }
        Some(Number(N::Float(f)))
    }

    /// The value as `f64` (possibly rounded).
    #[must_use]
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        }
    }

    /// The value as `i64`, if it is an integer in range.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(_) => None,
        }
    }

    /// The value as `u64`, if it is a non-negative integer in range.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            N::NegInt(_) | N::Float(_) => None,
        }
    }

    /// Is this number held as a float (not an exact integer)?
    #[must_use]
    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }

    /// Appends the canonical TOON text of the number.
    pub(crate) fn write(&self, out: &mut String) {
        match self.0 {
            N::PosInt(u) => out.push_str(itoa::Buffer::new().format(u)),
            N::NegInt(i) => out.push_str(itoa::Buffer::new().format(i)),
            N::Float(f) => crate::number::write_f64(out, f),
        }
    }

    /// Reads a token that [`classify_numeric`](crate::number::classify_numeric)
    /// accepted. Integers are exact or refused ([`Number::exact_integer`]);
    /// fractions are the nearest `f64`. `Ok(None)` when a fraction overflows
    /// to infinity, in which case the token stays a string.
    pub(crate) fn parse_token(token: &str, integer: bool) -> Result<Option<Number>, ErrorKind> {
        if integer {
            // Up to 18 digits cannot overflow: a plain digit loop, no checks.
            let (negative, digits) = match token.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, token),
            };
            if digits.len() <= 18 {
                let v = digits
                    .bytes()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
                return Ok(Some(Number::from(if negative { -v } else { v })));
            }
            return Number::exact_integer(token)
                .map(Some)
                .ok_or_else(|| inexact_integer(token));
        }
        Ok(token.parse::<f64>().ok().and_then(Number::from_f64))
    }

    /// An integer literal (`-?[0-9]+`) as an exact number: the 64-bit integer
    /// when one holds it, else the nearest double when TOON writes that
    /// double back as the same digits (`100000000000000000000` is 1e20
    /// exactly). `None` for any other literal, which no number here holds
    /// exactly (`123456789012345678901234567890`).
    pub(crate) fn exact_integer(literal: &str) -> Option<Number> {
        if literal.starts_with('-') {
            if let Ok(i) = literal.parse::<i64>() {
                return Some(Number::from(i));
            }
        } else if let Ok(u) = literal.parse::<u64>() {
            return Some(Number(N::PosInt(u)));
        }
        let f: f64 = literal.parse().ok().filter(|f: &f64| f.is_finite())?;
        let mut written = String::with_capacity(literal.len());
        crate::number::write_f64(&mut written, f);
        let digits = literal.strip_prefix('-').unwrap_or(literal);
        let written_digits = written.strip_prefix('-').unwrap_or(&written);
        (written_digits == digits).then_some(Number(N::Float(f)))
    }
}

/// The error for an integer literal that [`Number::exact_integer`] refused;
/// a very long literal is shown by its ends.
pub(crate) fn inexact_integer(literal: &str) -> ErrorKind {
    let text = if literal.len() <= 60 {
        literal.to_owned()
    } else {
        format!(
            "{}…{} ({} characters)",
            &literal[..24],
            &literal[literal.len() - 12..],
            literal.len()
        )
    };
    ErrorKind::InexactInteger {
        text,
        nearest: crate::number::nearest_double_text(literal),
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Self {
        Number(N::PosInt(u))
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        if i >= 0 {
            Number(N::PosInt(i as u64))
        } else {
            Number(N::NegInt(i))
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

/// Any TOON/JSON value, with object key order preserved.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, in key order.
    Object(Map),
}

impl Value {
    /// Is this `null`?
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The array, if this is an array.
    #[must_use]
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is an object.
    #[must_use]
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a number.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// Field `key` of an object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    /// Is this a string, number, bool or null?
    #[must_use]
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(i.into())
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::Number(u.into())
    }
}
impl From<f64> for Value {
    /// NaN and infinities become `null` (§3).
    fn from(f: f64) -> Self {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

/// An object: entries in insertion order, keys unique.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    /// An empty object.
    #[must_use]
    pub fn new() -> Self {
        Map::default()
    }

    /// An empty object with room for `n` entries.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Map {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Has no entries?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`. An existing key keeps its position and gets the
    /// new value (last write wins, as JSON parsers and the spec's non-strict
    /// mode do); the old value is returned.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(&mut slot.1, value));
        }
        self.entries.push((key, value));
        None
    }

    /// Wraps entries whose keys the caller guarantees to be unique.
    pub(crate) fn from_unique(entries: Vec<(String, Value)>) -> Map {
        Map { entries }
    }

    /// Appends without looking for an existing key; callers guarantee uniqueness.
    pub(crate) fn push_unique(&mut self, key: String, value: Value) {
        self.entries.push((key, value));
    }

    /// Entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, Value)> for Map {
    /// Later duplicates replace earlier ones, in the earlier position.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Map::from_entries(iter.into_iter().collect())
    }
}

impl Map {
    /// Builds a map from entries that may repeat keys: last write wins, in the
    /// first position. Linear for small maps, hashed for large ones, so a
    /// hostile object with many keys costs O(n).
    pub(crate) fn from_entries(entries: Vec<(String, Value)>) -> Map {
        const LINEAR_LIMIT: usize = 16;
        if entries.len() <= LINEAR_LIMIT {
            let mut m = Map::with_capacity(entries.len());
            for (k, v) in entries {
                m.insert(k, v);
            }
            return m;
        }
        let mut index: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(entries.len());
        let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match index.get(&k) {
                Some(&i) => out[i].1 = v,
                None => {
                    index.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
        Map { entries: out }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => from_json_number(&n),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, v) in o {
                    // serde_json maps have unique keys already.
                    m.push_unique(k, Value::from(v));
                }
                Value::Object(m)
            }
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => from_json_number(n),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, v) in o {
                    m.push_unique(k.clone(), Value::from(v));
                }
                Value::Object(m)
            }
        }
    }
}

fn from_json_number(n: &serde_json::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::from(u)
    } else if let Some(i) = n.as_i64() {
        Value::from(i)
    } else {
        Value::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl From<Value> for serde_json::Value {
    /// Key order survives only when serde_json's `preserve_order` feature is on.
    fn from(v: Value) -> Self {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => match n.0 {
                N::PosInt(u) => serde_json::Value::from(u),
                N::NegInt(i) => serde_json::Value::from(i),
                N::Float(f) => serde_json::Number::from_f64(f)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
            },
            Value::String(s) => serde_json::Value::String(s),
            Value::Array(a) => serde_json::Value::Array(a.into_iter().map(Into::into).collect()),
            Value::Object(m) => {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory bound in docs/toon.md ("Hostile input") counts 32 bytes a
    /// decoded `Value` and 56 an object entry; a larger `Value` would
    /// silently raise every decode's peak.
    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
        assert_eq!(std::mem::size_of::<(String, Value)>(), 56);
    }
}
