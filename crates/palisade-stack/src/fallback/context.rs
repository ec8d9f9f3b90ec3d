//! What a fallback tells the layers beneath it about the call in progress.
//!
//! The DESIGN's rule "a Throttled or Unavailable error can move on at once
//! when a healthy candidate exists" needs the per-candidate retry layer to
//! know whether one exists. The fallback says so through a tokio task-local
//! around each candidate call, so the retry layer stays usable alone (outside
//! a fallback the answer is always "no"). The check itself runs only when the
//! retry layer asks, i.e. after a failure, so a successful call pays nothing
//! for it.

use std::sync::Arc;

use super::Candidate;

/// The candidates a request would move on to if the current call failed.
#[derive(Clone)]
pub(crate) struct Alternatives {
    pub(crate) candidates: Arc<[Candidate]>,
    /// Indices into `candidates` of the ones after the current call.
    pub(crate) rest: Rest,
    /// Estimated tokens of the request (0: don't check context windows).
    pub(crate) needed: u32,
}

/// A set of candidate indices: a bit mask for the usual small lists.
#[derive(Clone)]
pub(crate) enum Rest {
    Mask(u64),
    List(Vec<usize>),
}

impl Alternatives {
    fn any_ready(&self) -> bool {
        let ready = |i: usize| {
            self.candidates.get(i).is_some_and(|c| {
                let fits = self.needed == 0 || c.context_window().is_none_or(|w| self.needed <= w);
                fits && c.readiness().is_ready()
            })
        };
        match &self.rest {
            Rest::Mask(mask) => (0..64).filter(|i| mask & (1 << i) != 0).any(ready),
            Rest::List(list) => list.iter().copied().any(ready),
        }
    }
}

tokio::task_local! {
    static ALTERNATIVES: Alternatives;
}

/// Whether the enclosing fallback has another candidate ready now; `false`
/// outside a fallback.
pub(crate) fn alternative_ready() -> bool {
    ALTERNATIVES
        .try_with(Alternatives::any_ready)
        .unwrap_or(false)
}

/// Runs `f` (one poll of a candidate call) with [`alternative_ready`]
/// answering from `alternatives`.
pub(crate) fn scope_sync<R>(alternatives: Alternatives, f: impl FnOnce() -> R) -> R {
    ALTERNATIVES.sync_scope(alternatives, f)
}
