//! How much harm ignoring a finding could do, as the seed service rates it.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// How much harm ignoring a finding could do, in increasing order, so
/// `finding.risk_level >= Some(RiskLevel::High)` selects the serious ones.
///
/// Written in lowercase (`"high"`), read in any case: models capitalise
/// ratings (`"High"`, `"CRITICAL"`) far more often than they misspell
/// them, and the meaning is the same. Surrounding whitespace is ignored;
/// any other value does not read, so the finding carrying it is dropped
/// with the reason (see [`DroppedItem`](super::DroppedItem)).
///
/// ```
/// use palisade_prompt::builtins::RiskLevel;
///
/// let level: RiskLevel = serde_json::from_str(r#""Critical""#)?;
/// assert_eq!(level, RiskLevel::Critical);
/// assert_eq!(serde_json::to_string(&level)?, r#""critical""#);
/// let err = serde_json::from_str::<RiskLevel>(r#""severe""#).unwrap_err();
/// assert!(err.to_string().contains("unknown variant `severe`"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Worth knowing.
    Low,
    /// Worth acting on.
    Medium,
    /// Act before relying on the document.
    High,
    /// Blocks relying on the document at all.
    Critical,
}

/// The spellings the output schema asks for, in order of severity.
const NAMES: &[&str] = &["low", "medium", "high", "critical"];

impl RiskLevel {
    /// The level's name as the schema writes it: `low`, `medium`, `high`
    /// or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    /// Reads a level's name in any case, ignoring surrounding whitespace.
    fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ]
        .into_iter()
        .find(|level| level.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RiskLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RiskLevelName;

        impl Visitor<'_> for RiskLevelName {
            type Value = RiskLevel;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a risk level: low, medium, high or critical")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<RiskLevel, E> {
                RiskLevel::from_name(name).ok_or_else(|| E::unknown_variant(name, NAMES))
            }
        }

        deserializer.deserialize_str(RiskLevelName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_in_any_case_and_write_in_lowercase() {
        for (written, level) in [
            ("low", RiskLevel::Low),
            ("Medium", RiskLevel::Medium),
            ("HIGH", RiskLevel::High),
            (" critical\n", RiskLevel::Critical),
        ] {
            let read: RiskLevel = serde_json::from_value(serde_json::json!(written)).unwrap();
            assert_eq!(read, level, "{written:?}");
            assert_eq!(
                serde_json::to_value(read).unwrap(),
                serde_json::json!(level.as_str())
            );
        }
    }

    #[test]
    fn other_values_do_not_read() {
        for bad in [
            serde_json::json!("severe"),
            serde_json::json!("hi gh"),
            serde_json::json!(""),
            serde_json::json!(3),
            serde_json::json!(["high"]),
        ] {
            let err = serde_json::from_value::<RiskLevel>(bad.clone()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("low") && message.contains("critical"),
                "{bad}: {message}"
            );
        }
    }
}
