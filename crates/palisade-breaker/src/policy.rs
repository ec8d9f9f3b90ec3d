//! Which call outcomes say something about a provider's health.

use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How one call ended, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered.
    Success,
    /// The provider failed in a way that counts against its health.
    Failure {
        /// The error's kind (reported in snapshots as the last error kind).
        kind: ErrorKind,
        /// The provider's Retry-After, when it sent one: an opening breaker
        /// stays open at least this long.
        retry_after: Option<Duration>,
    },
    /// The call says nothing about the provider's health (a bad request, a
    /// cancellation): it is neither a success nor a failure, and it does not
    /// enter the sliding window or break a run of consecutive failures.
    Ignored,
}

/// Decides which [`ErrorKind`]s count as failures; every other kind is
/// [`Outcome::Ignored`].
///
/// The default is [`ErrorKind::counts_as_failure`]: `Throttled`,
/// `Overloaded`, `Unavailable`, `Timeout`, `Network` and `Internal` count;
/// `InvalidRequest`, `ContextWindowExceeded`, `ContentFiltered`, `Auth`,
/// `QuotaExhausted`, `NotFound` and `Cancelled` don't, because a caller's bad
/// request must not open the circuit for everyone else.
///
/// Serialized as the list of counting kinds:
///
/// ```
/// # use palisade_breaker::OutcomePolicy;
/// # use palisade_core::ErrorKind;
/// let policy: OutcomePolicy = serde_json::from_str(r#"["throttled", "timeout"]"#).unwrap();
/// assert!(policy.counts(ErrorKind::Timeout));
/// assert!(!policy.counts(ErrorKind::Internal));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OutcomePolicy {
    /// Bit `i` set: `ErrorKind::ALL[i]` counts.
    counted: u32,
}

impl OutcomePolicy {
    /// The documented default, from [`ErrorKind::counts_as_failure`].
    pub fn new() -> Self {
        ErrorKind::ALL
            .into_iter()
            .filter(|k| k.counts_as_failure())
            .fold(Self::none(), Self::count)
    }

    /// A policy under which no error counts (only manual isolation opens).
    pub const fn none() -> Self {
        Self { counted: 0 }
    }

    /// Also counts `kind` as a failure.
    pub fn count(mut self, kind: ErrorKind) -> Self {
        self.counted |= bit(kind);
        self
    }

    /// Stops counting `kind` (it becomes [`Outcome::Ignored`]).
    pub fn ignore(mut self, kind: ErrorKind) -> Self {
        self.counted &= !bit(kind);
        self
    }

    /// Whether errors of `kind` count as failures.
    pub fn counts(&self, kind: ErrorKind) -> bool {
        self.counted & bit(kind) != 0
    }

    /// Classifies a call's result.
    pub fn classify<T>(&self, result: &Result<T, ProviderError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(e) => self.classify_error(e),
        }
    }

    /// Classifies an error. Errors a local layer raised without calling the
    /// provider ([`ErrorOrigin::Layer`]: a limiter's refusal, an inner
    /// breaker's rejection) are always [`Outcome::Ignored`], whatever their kind:
    /// they say nothing about the provider's health.
    pub fn classify_error(&self, error: &ProviderError) -> Outcome {
        if error.origin() == ErrorOrigin::Provider && self.counts(error.kind()) {
            Outcome::Failure {
                kind: error.kind(),
                retry_after: error.retry_after(),
            }
        } else {
            Outcome::Ignored
        }
    }

    /// The counting kinds, in [`ErrorKind::ALL`] order.
    pub fn counted_kinds(&self) -> Vec<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .filter(|k| self.counts(*k))
            .collect()
    }
}

fn bit(kind: ErrorKind) -> u32 {
    // ALL lists every kind this crate was built against; a kind added to the
    // non-exhaustive enum later maps to no bit and is therefore ignored until
    // listed, the safe side for a breaker.
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |i| 1 << i)
}

impl Default for OutcomePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for OutcomePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.counted_kinds()).finish()
    }
}

impl Serialize for OutcomePolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.counted_kinds().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OutcomePolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let kinds = Vec::<ErrorKind>::deserialize(d)?;
        Ok(kinds.into_iter().fold(Self::none(), Self::count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_core_table() {
        let p = OutcomePolicy::default();
        for kind in ErrorKind::ALL {
            assert_eq!(p.counts(kind), kind.counts_as_failure(), "{kind}");
        }
        for kind in [
            ErrorKind::InvalidRequest,
            ErrorKind::ContextWindowExceeded,
            ErrorKind::ContentFiltered,
            ErrorKind::Auth,
        ] {
            assert!(!p.counts(kind), "{kind} must not count");
        }
    }

    #[test]
    fn serde_round_trip() {
        let p = OutcomePolicy::default().ignore(ErrorKind::Timeout);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"["throttled","overloaded","unavailable","network","internal"]"#
        );
        assert_eq!(serde_json::from_str::<OutcomePolicy>(&json).unwrap(), p);
    }
}
