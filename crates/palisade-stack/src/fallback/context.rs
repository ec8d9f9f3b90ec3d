//! What a fallback tells the layers beneath it about the call in progress.
//!
//! The DESIGN's rule "a Throttled or Unavailable error can move on at once
//! when a healthy candidate exists" needs the per-candidate retry layer to
//! know whether one exists. The fallback says so through a tokio task-local
//! around each candidate call, so the retry layer stays usable alone (outside
//! a fallback the answer is always "no").

use std::future::Future;

tokio::task_local! {
    static ALTERNATIVE_READY: bool;
}

/// Whether the enclosing fallback had another candidate ready when it made
/// the current call; `false` outside a fallback.
pub(crate) fn alternative_ready() -> bool {
    ALTERNATIVE_READY.try_with(|ready| *ready).unwrap_or(false)
}

/// Runs `call` with [`alternative_ready`] answering `ready`.
pub(crate) async fn with_alternative<F: Future>(ready: bool, call: F) -> F::Output {
    ALTERNATIVE_READY.scope(ready, call).await
}
