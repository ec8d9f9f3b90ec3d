//! How urgent a request is, and the names it is written with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// How urgent a request is. Limiters serve higher priorities first; batch
/// executors and budgets may read it too. Ordered `Low < Normal < High < Critical`.
///
/// Written in lower case (`"normal"`). Read case-insensitively, with the
/// names the systems Palisade replaces use for the middle level accepted as
/// aliases of `normal`: `medium` and `default` (so `"MEDIUM"` reads as
/// [`Priority::Normal`]). Any other name is refused with [`UnknownPriority`].
///
/// ```
/// # use palisade_core::Priority;
/// assert_eq!("MEDIUM".parse::<Priority>()?, Priority::Normal);
/// assert_eq!("default".parse::<Priority>()?, Priority::Normal);
/// assert_eq!("High".parse::<Priority>()?, Priority::High);
/// let err = "urgent".parse::<Priority>().unwrap_err();
/// assert_eq!(err.value(), "urgent");
/// # Ok::<(), palisade_core::UnknownPriority>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Background work that may wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// User-facing work.
    High,
    /// Must go first (health checks, interactive escalations).
    Critical,
}

impl Priority {
    /// All priorities from highest to lowest (the order a limiter serves them).
    pub const HIGHEST_FIRST: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// Index into [`Priority::HIGHEST_FIRST`] (0 = Critical).
    pub const fn rank(self) -> usize {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// The name it is written with (`"normal"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name that is none of `low`, `normal` (`medium`, `default`),
/// `high` or `critical`, in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown priority `{value}`: expected `low`, `normal` (or `medium`, `default`), `high` or `critical`"
)]
pub struct UnknownPriority {
    value: String,
}

impl UnknownPriority {
    /// The name as written.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NAMES: [(&str, Priority); 6] = [
            ("low", Priority::Low),
            ("normal", Priority::Normal),
            ("medium", Priority::Normal),
            ("default", Priority::Normal),
            ("high", Priority::High),
            ("critical", Priority::Critical),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, priority)| priority)
            .ok_or_else(|| UnknownPriority {
                // Bounded, so a hostile name cannot make the error huge.
                value: s.chars().take(64).collect(),
            })
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Priority;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a priority name: low, normal (medium, default), high or critical")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Priority, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_in_any_case() {
        for (text, want) in [
            ("low", Priority::Low),
            ("LOW", Priority::Low),
            ("normal", Priority::Normal),
            ("Normal", Priority::Normal),
            ("MEDIUM", Priority::Normal),
            ("medium", Priority::Normal),
            ("default", Priority::Normal),
            ("DEFAULT", Priority::Normal),
            ("high", Priority::High),
            ("Critical", Priority::Critical),
        ] {
            assert_eq!(text.parse::<Priority>(), Ok(want), "{text}");
            let json = format!("\"{text}\"");
            assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), want);
        }
    }

    #[test]
    fn written_in_lower_case_and_read_back() {
        for p in Priority::HIGHEST_FIRST {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), p);
        }
    }

    #[test]
    fn unknown_names_are_refused_naming_the_value() {
        for text in ["urgent", "", "med", "normal ", "lowest"] {
            let err = text.parse::<Priority>().unwrap_err();
            assert_eq!(err.value(), text);
            assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
        }
        let err = serde_json::from_str::<Priority>("\"urgent\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown priority `urgent`"),
            "{err}"
        );
        assert!(serde_json::from_str::<Priority>("3").is_err());
    }

    #[test]
    fn a_long_name_is_cut_in_the_error() {
        let long = "x".repeat(10_000);
        let err = long.parse::<Priority>().unwrap_err();
        assert_eq!(err.value().len(), 64);
    }
}
