//! Durations in config files: `"250ms"`, `"5s"`, `"2m"`, `"1h"`, `"1d"`, or a
//! bare number of seconds (`1.5`).
//!
//! Used through `#[serde(with = "crate::duration")]` (and [`option`] for
//! optional fields) so every config struct reads and writes the same format.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m`, `h` or `d`, or a bare
/// number of seconds.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration (expected e.g. \"250ms\", \"5s\", \"2m\")")
    })?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in duration `{text}` (use ms, s, m, h or d)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("duration `{text}`: {e}"))
}

/// Formats a duration the way [`parse`] reads it back, in the largest exact unit.
pub(crate) fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}s", d.as_secs_f64());
    }
    if ms == 0 {
        "0s".to_owned()
    } else if ms.is_multiple_of(86_400_000) {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
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
        Raw::Seconds(s) => {
            Duration::try_from_secs_f64(s).map_err(|e| E::custom(format!("{s} seconds: {e}")))
        }
    }
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_raw(Raw::deserialize(d)?)
}

/// The same format for `Option<Duration>` fields.
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&format(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<Raw>::deserialize(d)?.map(from_raw).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_round_trips() {
        for (text, d) in [
            ("250ms", Duration::from_millis(250)),
            ("5s", Duration::from_secs(5)),
            ("1.5", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
        ] {
            assert_eq!(parse(text), Ok(d), "{text}");
            assert_eq!(parse(&format(d)), Ok(d), "{text} round trip");
        }
        assert!(parse("5 parsecs").is_err());
        assert!(parse("fast").is_err());
    }
}
