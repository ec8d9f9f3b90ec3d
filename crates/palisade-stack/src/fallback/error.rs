use std::fmt::Write as _;
use std::time::Duration;

use palisade_core::{Attempt, AttemptOutcome, ErrorKind, ProviderError, ProviderId};

/// Why a [`Fallback`](super::Fallback) returned no answer, with the trail of
/// attempts. Carried as the source of the [`ProviderError`] the fallback
/// returns; find it with [`FallbackError::find`].
///
/// The returned error's message tells the whole story when more than one
/// attempt was made: how many candidates were tried, failed or skipped, and
/// each attempt in order, not only the last candidate's error:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use palisade_core::testing::ScriptedProvider;
/// use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
/// use palisade_stack::{Candidate, Fallback, FallbackError};
///
/// let down = |id| ScriptedProvider::new(id)
///     .then_error(ProviderError::new(ErrorKind::Internal, "500"));
/// let fallback = Fallback::new([Candidate::new(down("a")), Candidate::new(down("b"))]);
/// let err = fallback.complete(ChatRequest::user("hi")).await.unwrap_err();
/// assert!(err.message().starts_with("none of 2 candidates answered (2 failed)"), "{err}");
/// let failure = FallbackError::find(&err).unwrap();
/// assert_eq!(failure.candidates_tried(), 2);
/// assert_eq!(failure.attempts().len(), 2);
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError {
    /// Every candidate was unavailable (breaker open, cooling down, throttled
    /// with a Retry-After) and none recovered before the deadline or the wait
    /// limit. The error's kind is `Unavailable`.
    #[error(
        "all {} candidates of `{fallback}` are unavailable; the earliest recovers in {:.3}s",
        distinct(attempts),
        retry_after.as_secs_f64()
    )]
    AllCandidatesUnavailable {
        /// The fallback.
        fallback: ProviderId,
        /// Time until the earliest candidate is expected back.
        retry_after: Duration,
        /// Every candidate tried or skipped, in order.
        attempts: Vec<Attempt>,
    },
    /// No candidate could start the request soon enough to finish it before
    /// its deadline (its expected wait plus its learned call latency is
    /// more than the time left), so it was refused at once instead of
    /// waiting its deadline out (`fallback.overload.shed`). The error's kind
    /// is `Overloaded`, raised locally (origin `Layer`), with `retry_after` the soonest any
    /// candidate could start it.
    #[error(
        "no candidate of `{fallback}` can serve the request before its deadline ({:.3}s left); \
         the soonest could start it in {:.3}s{}",
        time_left.as_secs_f64(),
        retry_after.as_secs_f64(),
        soonest.as_ref().map(|s| format!(" (`{s}`)")).unwrap_or_default()
    )]
    DeadlineUnreachable {
        /// The fallback.
        fallback: ProviderId,
        /// Time left until the deadline when the request was refused.
        time_left: Duration,
        /// Time until the soonest candidate could start the request.
        retry_after: Duration,
        /// That candidate, when one could serve it at all.
        soonest: Option<ProviderId>,
        /// Every candidate tried or skipped before, in order.
        attempts: Vec<Attempt>,
    },
    /// The request fits no candidate's context window. Kind `ContextWindowExceeded`.
    #[error(
        "the request needs about {needed} tokens, more than any of the {} candidates of `{fallback}` holds",
        distinct(attempts)
    )]
    NoCandidateFits {
        /// The fallback.
        fallback: ProviderId,
        /// Estimated input tokens plus `max_tokens`.
        needed: u32,
        /// The skips, one per candidate.
        attempts: Vec<Attempt>,
    },
    /// A candidate failed with an error that ends the request (not eligible
    /// for fallback), or every candidate failed. The error's kind, provider
    /// and Retry-After are those of `error`; its message is `error`'s when
    /// it was the only attempt, else the whole trail (see
    /// [`FallbackError::summary`]).
    #[error("{}", failed_message(error, attempts))]
    Failed {
        /// The last candidate's error.
        #[source]
        error: ProviderError,
        /// Every candidate tried or skipped, in order.
        attempts: Vec<Attempt>,
    },
}

impl FallbackError {
    /// The fallback error behind `error`, if a fallback produced it.
    pub fn find(error: &ProviderError) -> Option<&FallbackError> {
        std::error::Error::source(error)?.downcast_ref()
    }

    /// The attempts trail.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            FallbackError::AllCandidatesUnavailable { attempts, .. }
            | FallbackError::DeadlineUnreachable { attempts, .. }
            | FallbackError::NoCandidateFits { attempts, .. }
            | FallbackError::Failed { attempts, .. } => attempts,
        }
    }

    /// The attempts trail of a fallback's error (empty for other errors).
    pub fn attempts_of(error: &ProviderError) -> &[Attempt] {
        Self::find(error).map_or(&[], FallbackError::attempts)
    }

    /// How many distinct candidates were called (failed or answered), as
    /// opposed to skipped without a call.
    pub fn candidates_tried(&self) -> usize {
        let called = |a: &&Attempt| !matches!(a.outcome, AttemptOutcome::Skipped(_));
        distinct_of(self.attempts().iter().filter(called))
    }

    /// The last candidate's error, for [`FallbackError::Failed`].
    pub fn last_error(&self) -> Option<&ProviderError> {
        match self {
            FallbackError::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The trail in one line: how many candidates did not answer, how many
    /// of them failed and were skipped, then each attempt in order, e.g.
    /// ``none of 3 candidates answered (2 failed, 1 skipped; 3 attempts): `a`
    /// failed: throttled: slow down; `b` skipped: unavailable for 5.0 s; `c`
    /// failed: unavailable: down``.
    pub fn summary(&self) -> String {
        summary(self.attempts())
    }

    /// `retry_after` of [`FallbackError::AllCandidatesUnavailable`] and
    /// [`FallbackError::DeadlineUnreachable`], the last error's otherwise.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FallbackError::AllCandidatesUnavailable { retry_after, .. }
            | FallbackError::DeadlineUnreachable { retry_after, .. } => Some(*retry_after),
            FallbackError::Failed { error, .. } => error.retry_after(),
            FallbackError::NoCandidateFits { .. } => None,
        }
    }

    pub(crate) fn into_provider_error(self) -> ProviderError {
        let message = self.to_string();
        let error = match &self {
            FallbackError::AllCandidatesUnavailable {
                fallback,
                retry_after,
                ..
            } => ProviderError::new(ErrorKind::Unavailable, message)
                .with_origin(palisade_core::ErrorOrigin::Layer)
                .with_retry_after(Some(*retry_after))
                .with_provider(fallback.clone()),
            FallbackError::DeadlineUnreachable {
                fallback,
                retry_after,
                ..
            } => ProviderError::new(ErrorKind::Overloaded, message)
                .with_origin(palisade_core::ErrorOrigin::Layer)
                .with_retry_after(Some(*retry_after))
                .with_provider(fallback.clone()),
            FallbackError::NoCandidateFits { fallback, .. } => {
                ProviderError::new(ErrorKind::ContextWindowExceeded, message)
                    .with_provider(fallback.clone())
            }
            FallbackError::Failed { error, attempts } => {
                let mut outer = ProviderError::new(error.kind(), failed_message(error, attempts))
                    .with_origin(error.origin())
                    .with_retry_after(error.retry_after());
                if let Some(p) = error.provider() {
                    outer = outer.with_provider(p.clone());
                }
                if let Some(r) = error.request_id() {
                    outer = outer.with_request_id(r);
                }
                if let Some(s) = error.status() {
                    outer = outer.with_status(s);
                }
                outer
            }
        };
        error.with_source(self)
    }
}

/// The message of [`FallbackError::Failed`]: the error's own when it was the
/// only attempt, else the whole trail.
fn failed_message(error: &ProviderError, attempts: &[Attempt]) -> String {
    if attempts.len() <= 1 {
        error.message().to_owned()
    } else {
        summary(attempts)
    }
}

/// How many distinct candidates appear in `attempts`.
fn distinct(attempts: &[Attempt]) -> usize {
    distinct_of(attempts.iter())
}

fn distinct_of<'a>(attempts: impl Iterator<Item = &'a Attempt>) -> usize {
    let mut seen: Vec<&ProviderId> = Vec::new();
    for a in attempts {
        if !seen.contains(&&a.provider) {
            seen.push(&a.provider);
        }
    }
    seen.len()
}

/// See [`FallbackError::summary`].
fn summary(attempts: &[Attempt]) -> String {
    let candidates = distinct(attempts);
    // A candidate counts as failed once it failed any attempt; as skipped
    // when every one of its entries is a skip.
    let mut failed: Vec<&ProviderId> = Vec::new();
    for a in attempts {
        if matches!(a.outcome, AttemptOutcome::Failed { .. }) && !failed.contains(&&a.provider) {
            failed.push(&a.provider);
        }
    }
    let called = distinct_of(
        attempts
            .iter()
            .filter(|a| !matches!(a.outcome, AttemptOutcome::Skipped(_))),
    );
    let skipped = candidates - called;
    let noun = if candidates == 1 {
        "candidate"
    } else {
        "candidates"
    };
    let mut out = format!(
        "none of {candidates} {noun} answered ({} failed",
        failed.len()
    );
    if skipped > 0 {
        let _ = write!(out, ", {skipped} skipped");
    }
    if attempts.len() != candidates {
        let _ = write!(out, "; {} attempts", attempts.len());
    }
    out.push_str("): ");
    for (i, a) in attempts.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "`{}` {}", a.provider, a.outcome);
    }
    out
}
