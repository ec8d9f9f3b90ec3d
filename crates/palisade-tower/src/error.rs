//! Errors at the boundary between tower and palisade, in both directions.
//!
//! Going into tower nothing is converted: a [`ProviderError`] is a
//! `std::error::Error + Send + Sync`, so tower's `BoxError` holds it as is.
//! Coming back, [`provider_error_from_box`] recovers the kind:
//!
//! | what the `BoxError` holds (itself or anywhere in its `source()` chain) | becomes |
//! |---|---|
//! | a [`ProviderError`] | that error, unchanged (kind, `retry_after`, origin, ids) |
//! | [`tower::timeout::error::Elapsed`] | [`ErrorKind::Timeout`], origin provider (the model was slow; a breaker counts it) |
//! | [`tower::load_shed::error::Overloaded`] | [`ErrorKind::Overloaded`], origin layer (shed locally; the model never saw it) |
//! | anything else | [`ErrorKind::Internal`], the original error kept as the source ([`ServiceFailed`]) |
//!
//! An `Elapsed` or `Overloaded` found below the top keeps the whole original
//! error as its source (a [`ServiceFailed`]), so nothing of the chain is lost.
//!
//! The chain is searched because wrappers such as `tower::buffer` put the
//! inner service's error behind their own (`ServiceError`).

use std::error::Error as StdError;
use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError, ProviderId};
use tower::BoxError;
use tower::load_shed::error::Overloaded;
use tower::timeout::error::Elapsed;

/// The source of an [`ErrorKind::Internal`] made from a tower error that
/// names no palisade kind: the original error, kept so a caller can still
/// downcast it.
#[derive(Debug, thiserror::Error)]
#[error("tower service for `{provider}` failed: {source}")]
pub struct ServiceFailed {
    provider: ProviderId,
    #[source]
    source: BoxError,
}

impl ServiceFailed {
    /// The provider id the tower service was called for.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// The tower service's own error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// The tower service's own error, by value.
    pub fn into_inner(self) -> BoxError {
        self.source
    }
}

/// A provider's [`readiness`](palisade_core::Provider::readiness) said
/// unavailable when a [`ProviderService`](crate::ProviderService) in
/// [`WhenUnavailable::Refuse`](crate::WhenUnavailable::Refuse) mode was
/// polled for readiness. It is the source of the [`ErrorKind::Unavailable`]
/// that `poll_ready` returns; find it with [`NotReady::from_provider_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider `{provider}` is not ready (retry after {:.3}s)", retry_after.as_secs_f64())]
pub struct NotReady {
    provider: ProviderId,
    retry_after: Duration,
}

impl NotReady {
    pub(crate) fn new(provider: ProviderId, retry_after: Duration) -> Self {
        Self {
            provider,
            retry_after,
        }
    }

    /// The provider that was not ready.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// How long until it expected to take calls again.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The [`ProviderError`] `poll_ready` returns: [`ErrorKind::Unavailable`]
    /// with the `retry_after`, origin layer (no call was made, so a breaker
    /// must not count it), this error as the source.
    pub fn into_provider_error(self) -> ProviderError {
        ProviderError::new(ErrorKind::Unavailable, self.to_string())
            .with_retry_after(Some(self.retry_after))
            .with_origin(ErrorOrigin::Layer)
            .with_provider(self.provider.clone())
            .with_source(self)
    }

    /// The `NotReady` behind `error`, when `poll_ready` made it.
    pub fn from_provider_error(error: &ProviderError) -> Option<&NotReady> {
        error.source()?.downcast_ref::<NotReady>()
    }
}

/// Recovers a [`ProviderError`] from a tower service's error, by the table
/// in the [module docs](self). `provider` fills in the error's provider id
/// when it has none.
pub fn provider_error_from_box(error: BoxError, provider: &ProviderId) -> ProviderError {
    let error = match error.downcast::<ProviderError>() {
        Ok(error) => return error.or_provider(provider),
        Err(other) => other,
    };
    let error = match error.downcast::<Elapsed>() {
        Ok(elapsed) => return timed_out(provider).with_source(*elapsed),
        Err(other) => other,
    };
    let error = match error.downcast::<Overloaded>() {
        Ok(overloaded) => return shed(provider).with_source(*overloaded),
        Err(other) => other,
    };
    match known_in_chain(&*error) {
        Some(Known::Provider(found)) => found.or_provider(provider),
        Some(Known::Elapsed) => timed_out(provider).with_source(failed(error, provider)),
        Some(Known::Overloaded) => shed(provider).with_source(failed(error, provider)),
        None => {
            let failed = failed(error, provider);
            ProviderError::new(ErrorKind::Internal, failed.to_string())
                .with_provider(provider.clone())
                .with_source(failed)
        }
    }
}

fn failed(source: BoxError, provider: &ProviderId) -> ServiceFailed {
    ServiceFailed {
        provider: provider.clone(),
        source,
    }
}

/// A palisade kind found below the top of an error's chain.
enum Known {
    Provider(ProviderError),
    Elapsed,
    Overloaded,
}

/// The first error below the top of the chain that names a palisade kind.
fn known_in_chain(error: &(dyn StdError + 'static)) -> Option<Known> {
    let mut next = error.source();
    while let Some(cause) = next {
        if let Some(found) = cause.downcast_ref::<ProviderError>() {
            return Some(Known::Provider(found.clone()));
        }
        if cause.is::<Elapsed>() {
            return Some(Known::Elapsed);
        }
        if cause.is::<Overloaded>() {
            return Some(Known::Overloaded);
        }
        next = cause.source();
    }
    None
}

fn timed_out(provider: &ProviderId) -> ProviderError {
    // Like palisade's own per-attempt timeout: the model was too slow, which
    // is the model's health, so the origin stays `Provider`.
    ProviderError::new(
        ErrorKind::Timeout,
        format!("tower timeout elapsed calling `{provider}`"),
    )
    .with_provider(provider.clone())
}

fn shed(provider: &ProviderId) -> ProviderError {
    // Load shedding refuses before the model is called, so it says nothing
    // about the model's health.
    ProviderError::new(
        ErrorKind::Overloaded,
        format!("tower load shed refused a call to `{provider}`"),
    )
    .with_origin(ErrorOrigin::Layer)
    .with_provider(provider.clone())
}
