//! The cap on requests in flight.
//!
//! Providers limit concurrency in practice even where they don't publish it
//! (long streams hold server slots), and a cap keeps a burst of admitted
//! requests from opening more connections than the client can serve.

/// Counts requests between admission and settle / drop.
#[derive(Debug, Clone)]
pub(crate) struct ConcurrencyCap {
    max: u32,
    in_flight: u32,
}

impl ConcurrencyCap {
    /// A cap of `max` requests in flight (at least one).
    pub(crate) fn new(max: u32) -> Self {
        Self {
            max: max.max(1),
            in_flight: 0,
        }
    }

    /// Whether one more request fits.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight < self.max
    }

    /// Takes a slot; callers checked [`has_room`](ConcurrencyCap::has_room).
    #[inline]
    pub(crate) fn take(&mut self) {
        self.in_flight += 1;
    }

    /// Gives a slot back.
    #[inline]
    pub(crate) fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Requests in flight now.
    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The cap.
    pub(crate) fn max(&self) -> u32 {
        self.max
    }
}
