//! Admission: whether a call may go through now, as a [`Permit`] or the
//! [`BreakerOpen`] refusal.

use tokio::time::Instant;

use super::{CircuitBreaker, Guarded};
use crate::error::BreakerOpen;
use crate::events::TransitionReason;
use crate::permit::Permit;
use crate::state::BreakerState;
use crate::store::ISOLATED_RETRY_AFTER;

impl CircuitBreaker {
    /// Admits a call, or refuses it with the time until the circuit lets a
    /// probe through. Local state only: never waits, never calls the store.
    ///
    /// In the closed state this is one atomic load (plus a clock read when
    /// the slow-call condition or `count_dropped_calls_after` is on).
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, BreakerOpen> {
        let word = self.word();
        if word.state() == BreakerState::Closed {
            return Ok(Permit::new(
                self.clone(),
                word.generation(),
                false,
                self.admission_time(),
            ));
        }
        self.acquire_slow()
    }

    #[cold]
    fn acquire_slow(&self) -> Result<Permit, BreakerOpen> {
        let now = Instant::now();
        let mut change = None;
        let result = {
            let mut g = self.lock();
            let word = self.word();
            match word.state() {
                BreakerState::Closed => Ok(Permit::new(
                    self.clone(),
                    word.generation(),
                    false,
                    self.admission_time(),
                )),
                BreakerState::Isolated => {
                    Err(self.refusal(BreakerState::Isolated, ISOLATED_RETRY_AFTER))
                }
                BreakerState::Open => match g.open_until {
                    Some(until) if until > now => {
                        Err(self.refusal(BreakerState::Open, until - now))
                    }
                    _ => {
                        g.probes_in_flight = 0;
                        g.probe_successes = 0;
                        change = Some(self.set_state(
                            BreakerState::Open,
                            BreakerState::HalfOpen,
                            TransitionReason::OpenElapsed,
                            None,
                        ));
                        self.admit_probe(&mut g, now)
                    }
                },
                BreakerState::HalfOpen => self.admit_probe(&mut g, now),
            }
        };
        self.emit(change);
        result
    }

    fn admit_probe(&self, g: &mut Guarded, now: Instant) -> Result<Permit, BreakerOpen> {
        let half_open = &self.inner.config.half_open;
        if g.probes_in_flight < half_open.max_probes {
            g.probes_in_flight += 1;
            let admitted = self.needs_admission_time().then_some(now);
            Ok(Permit::new(
                self.clone(),
                self.word().generation(),
                true,
                admitted,
            ))
        } else {
            Err(self.refusal(BreakerState::HalfOpen, half_open.busy_retry_after))
        }
    }
}
