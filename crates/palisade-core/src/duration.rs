//! Durations in configuration files, written one way across every crate:
//! `"250ms"`, `"5s"`, `"2m"`, `"1h"`, `"1d"`, or a bare number of seconds
//! (`1.5`), so one TOML file describing a whole stack reads like prose and a
//! value that works in one section works in every other.
//!
//! Use it on config fields with `#[serde(with = "palisade_core::duration")]`,
//! and [`option`] for `Option<Duration>` fields.
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     #[serde(with = "palisade_core::duration")]
//!     open_for: Duration,
//! }
//!
//! let c: Config = serde_json::from_str(r#"{ "open_for": "90s" }"#).unwrap();
//! assert_eq!(c.open_for, Duration::from_secs(90));
//! assert_eq!(palisade_core::duration::parse("1.5"), Ok(Duration::from_millis(1500)));
//! assert!(palisade_core::duration::parse("5 parsecs").is_err());
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// A duration that could not be read, with the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationParseError(String);

/// Parses `"<number><unit>"` with unit `ns`, `us`, `ms`, `s`, `m` (or `min`),
/// `h` or `d`, or a bare number of seconds. Surrounding white space is ignored.
pub fn parse(text: &str) -> Result<Duration, DurationParseError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        DurationParseError(format!(
            "`{text}` is not a duration: expected a number and a unit, e.g. \"250ms\", \"5s\", \"2m\""
        ))
    })?;
    let seconds_per_unit = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => {
            return Err(DurationParseError(format!(
                "`{text}` has the unknown unit `{other}`: use ns, us, ms, s, m, h or d"
            )));
        }
    };
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|e| DurationParseError(format!("`{text}` is out of range for a duration: {e}")))
}

/// Writes a duration the way [`parse()`] reads it back, in the largest unit that
/// is exact (`"2m"`, `"1500ms"`, `"7ns"`).
pub fn format(d: Duration) -> String {
    Formatted(d).to_string()
}

struct Formatted(Duration);

impl fmt::Display for Formatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            return write!(f, "{}ns", d.as_nanos());
        }
        let ms = d.as_millis();
        const UNITS: [(u128, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ];
        if ms == 0 {
            return f.write_str("0s");
        }
        for (size, unit) in UNITS {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Seconds(f64),
}

fn from_raw<E: de::Error>(raw: Raw) -> Result<Duration, E> {
    match raw {
        Raw::Text(t) => parse(&t).map_err(E::custom),
        Raw::Seconds(s) => Duration::try_from_secs_f64(s)
            .map_err(|e| E::custom(format!("{s} seconds is not a duration: {e}"))),
    }
}

/// Serializes a duration as [`format()`] writes it.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Formatted(*d))
}

/// Deserializes a duration from a string [`parse()`] accepts or a number of seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_raw(Raw::deserialize(d)?)
}

/// The same notation for `Option<Duration>` fields (`None` is an absent or null field).
pub mod option {
    use super::*;

    /// Serializes `Some` as [`format()`] writes it, `None` as none.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&format(*d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<Raw>::deserialize(d)?.map(from_raw).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_round_trips() {
        for (text, d) in [
            ("7ns", Duration::from_nanos(7)),
            ("3us", Duration::from_micros(3)),
            ("250ms", Duration::from_millis(250)),
            ("1500ms", Duration::from_millis(1500)),
            ("5s", Duration::from_secs(5)),
            ("1.5", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("10min", Duration::from_secs(600)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("0s", Duration::ZERO),
        ] {
            assert_eq!(parse(text), Ok(d), "{text}");
            assert_eq!(parse(&format(d)), Ok(d), "{text} round trip");
        }
        assert_eq!(format(Duration::from_secs(60)), "1m");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::from_nanos(7)), "7ns");
    }

    #[test]
    fn bad_text_says_what_was_expected() {
        let err = parse("fast").unwrap_err().to_string();
        assert!(err.contains("`fast`") && err.contains("e.g."), "{err}");
        let err = parse("5 parsecs").unwrap_err().to_string();
        assert!(err.contains("unknown unit `parsecs`"), "{err}");
        assert!(parse("1e400s").is_err());
    }

    #[test]
    fn serde_accepts_strings_and_numbers() {
        #[derive(Deserialize, serde::Serialize, Debug, PartialEq)]
        struct C {
            #[serde(with = "crate::duration")]
            a: Duration,
            #[serde(default, with = "crate::duration::option")]
            b: Option<Duration>,
        }
        let c: C = serde_json::from_str(r#"{"a": 2.5, "b": "1h"}"#).unwrap();
        assert_eq!(c.a, Duration::from_millis(2500));
        assert_eq!(c.b, Some(Duration::from_secs(3600)));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"a":"2500ms","b":"1h"}"#
        );
        let c: C = serde_json::from_str(r#"{"a": "5s"}"#).unwrap();
        assert_eq!(c.b, None);
        assert!(serde_json::from_str::<C>(r#"{"a": -1}"#).is_err());
    }
}
