//! How `poll_ready` turns a provider's [`Readiness`] into tower's readiness.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use palisade_core::{ProviderError, ProviderId, Readiness};
use tokio::time::{Instant, Sleep};

use crate::error::NotReady;

/// The shortest wait before readiness is asked again, so a provider that
/// reports "unavailable for 0 s" (a half-open breaker whose probe slots are
/// busy, say) cannot make `poll_ready` spin.
const MIN_RECHECK: Duration = Duration::from_millis(1);

/// What [`ProviderService::poll_ready`](crate::ProviderService) does while
/// the provider's [`readiness`](palisade_core::Provider::readiness) is
/// [`Readiness::Unavailable`].
///
/// tower's convention is that a service which cannot take a request *now*
/// returns `Poll::Pending` (back-pressure), while an error from `poll_ready`
/// means the service has failed and should be dropped (`Buffer` closes its
/// worker on one, `Balance` removes the endpoint). An open breaker is the
/// former, so [`Wait`](WhenUnavailable::Wait) is the default: put
/// `tower::load_shed::LoadShedLayer` outside it to fail fast instead, with
/// an `Overloaded` that [`ServiceProvider`](crate::ServiceProvider) maps back
/// to [`ErrorKind::Overloaded`](palisade_core::ErrorKind::Overloaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnavailable {
    /// Return `Poll::Pending` and wake the task when `retry_after` has
    /// passed (tokio time), then ask again.
    #[default]
    Wait,
    /// Return `Poll::Ready(Err(_))` at once: an
    /// [`ErrorKind::Unavailable`](palisade_core::ErrorKind::Unavailable) with
    /// the provider's `retry_after`, origin layer, whose source is a
    /// [`NotReady`]. For callers that drive `poll_ready` themselves and want
    /// the typed error; not for `Buffer` or `Balance`, which treat a
    /// `poll_ready` error as the end of the service.
    Refuse,
}

/// The timer `poll_ready` waits on in [`WhenUnavailable::Wait`] mode.
pub(crate) struct ReadinessGate {
    mode: WhenUnavailable,
    recheck: Option<Pin<Box<Sleep>>>,
}

impl ReadinessGate {
    pub(crate) fn new(mode: WhenUnavailable) -> Self {
        Self {
            mode,
            recheck: None,
        }
    }

    pub(crate) fn mode(&self) -> WhenUnavailable {
        self.mode
    }

    /// Polls `readiness` until it says ready, or refuses, by the mode.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        provider: &ProviderId,
        mut readiness: impl FnMut() -> Readiness,
    ) -> Poll<Result<(), ProviderError>> {
        loop {
            let retry_after = match readiness() {
                Readiness::Ready => {
                    self.recheck = None;
                    return Poll::Ready(Ok(()));
                }
                Readiness::Unavailable { retry_after } => retry_after,
            };
            let refuse = || NotReady::new(provider.clone(), retry_after).into_provider_error();
            if self.mode == WhenUnavailable::Refuse {
                return Poll::Ready(Err(refuse()));
            }
            // Without a runtime there is no timer to wait on; refusing is the
            // only answer that does not hang or panic.
            if tokio::runtime::Handle::try_current().is_err() {
                return Poll::Ready(Err(refuse()));
            }
            let deadline = Instant::now() + retry_after.max(MIN_RECHECK);
            let sleep = match &mut self.recheck {
                Some(sleep) => {
                    // A later report may move recovery; follow it either way.
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    sleep
                }
                None => self
                    .recheck
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The time has come (or had already): ask the provider again.
                Poll::Ready(()) => self.recheck = None,
            }
        }
    }
}

impl Clone for ReadinessGate {
    /// A clone waits on its own timer: tower clones a service per request,
    /// and each clone is polled by its own task.
    fn clone(&self) -> Self {
        Self::new(self.mode)
    }
}

impl fmt::Debug for ReadinessGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessGate")
            .field("mode", &self.mode)
            .field("waiting", &self.recheck.is_some())
            .finish()
    }
}
