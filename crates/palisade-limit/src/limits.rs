//! All of a limiter's limits behind one check: a request is admitted only
//! when every limit admits it, and nothing is consumed when one says no.
//!
//! Everything here runs inside the limiter's single critical section, so
//! "check all, then commit all" is atomic without compare-and-swap loops.

use palisade_core::http::RateLimitSnapshot;

use crate::adaptive::AdaptiveRate;
use crate::calibration::{LimitEstimate, Observed, map_snapshot};
use crate::clock::{Nanos, duration_to_nanos};
use crate::concurrency::ConcurrencyCap;
use crate::config::LimiterConfig;
use crate::gcra::Gcra;
use crate::kind::LimitKind;

/// Why a request does not fit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocked {
    /// The binding limit (the one that frees last).
    pub(crate) limit: LimitKind,
    /// The earliest instant the time-based limits could admit it; 0 when only
    /// the concurrency cap is binding (a release, not time, frees it).
    pub(crate) not_before: Nanos,
}

/// A cost that can never fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Impossible {
    pub(crate) limit: LimitKind,
    pub(crate) capacity: u64,
}

/// Where an admission sits in each bucket's history, so that undoing or
/// refunding it later gives back no more than is due (see `slack.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stamps {
    requests: u64,
    tokens: u64,
}

/// What settling changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Settlement {
    pub(crate) refunded: u64,
    pub(crate) debt: u64,
}

/// The limits of one limiter.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    requests: Option<Gcra>,
    tokens: Option<Gcra>,
    concurrency: Option<ConcurrencyCap>,
    /// No admissions before this instant (a provider's `retry_after`).
    cooldown_until: Nanos,
    adaptive: Option<AdaptiveRate>,
    /// What the provider's rate-limit headers said of each quota.
    requests_estimate: Option<LimitEstimate>,
    tokens_estimate: Option<LimitEstimate>,
}

impl Limits {
    pub(crate) fn new(config: &LimiterConfig) -> Self {
        let gcra =
            |q: &crate::config::Quota| Gcra::new(q.amount, duration_to_nanos(q.period), q.burst());
        let estimate =
            |q: &crate::config::Quota| LimitEstimate::new(q.amount, duration_to_nanos(q.period));
        Self {
            requests: config.requests.as_ref().map(gcra),
            tokens: config.tokens.as_ref().map(gcra),
            concurrency: config.max_concurrent.map(ConcurrencyCap::new),
            cooldown_until: 0,
            adaptive: config
                .adaptive
                .enabled
                .then(|| AdaptiveRate::new(&config.adaptive)),
            requests_estimate: config.requests.as_ref().map(estimate),
            tokens_estimate: config.tokens.as_ref().map(estimate),
        }
    }

    /// Whether `tokens` can ever be admitted.
    #[inline]
    pub(crate) fn check_possible(&self, tokens: u64) -> Result<(), Impossible> {
        match &self.tokens {
            Some(bucket) if tokens > bucket.max_cost() => Err(Impossible {
                limit: LimitKind::Tokens,
                capacity: bucket.max_cost(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether a permit of this limiter holds a concurrency slot.
    #[inline]
    pub(crate) fn has_concurrency(&self) -> bool {
        self.concurrency.is_some()
    }

    /// Whether a permit has anything to give back on settle or drop.
    #[inline]
    pub(crate) fn tracks_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Admits one request of `tokens` if every limit has room, consuming from
    /// all of them; otherwise consumes nothing. `tokens` must be possible.
    #[inline(always)]
    pub(crate) fn try_admit(&mut self, now: Nanos, tokens: u64) -> Result<Stamps, Blocked> {
        if let Some(adaptive) = &mut self.adaptive
            && let Some(fraction) = adaptive.tick(now)
        {
            self.set_rate_fraction(now, fraction);
        }
        self.expire(now);
        // Every check first, with no bookkeeping of which limit binds: the
        // common answer is yes. A no asks `blocked` (the same pure checks
        // again, out of line) which limit binds and until when.
        let requests_tat = match &self.requests {
            Some(g) => g.check(now, 1).ok(),
            None => Some(0),
        };
        let tokens_tat = match &self.tokens {
            Some(g) => g.check(now, tokens).ok(),
            None => Some(0),
        };
        let room = self
            .concurrency
            .as_ref()
            .is_none_or(ConcurrencyCap::has_room);
        let (Some(requests_tat), Some(tokens_tat), true, true) =
            (requests_tat, tokens_tat, room, now >= self.cooldown_until)
        else {
            return Err(self.blocked(now, tokens));
        };
        let mut stamps = Stamps::default();
        if let Some(g) = &mut self.requests {
            stamps.requests = g.commit(now, requests_tat);
        }
        if let Some(g) = &mut self.tokens {
            stamps.tokens = g.commit(now, tokens_tat);
        }
        if let Some(cap) = &mut self.concurrency {
            cap.take();
        }
        Ok(stamps)
    }

    /// Why `tokens` cannot be admitted at `now`: the binding limit, the one
    /// that frees last. Called only when [`try_admit`](Limits::try_admit)
    /// found one that does not admit.
    #[cold]
    #[inline(never)]
    fn blocked(&self, now: Nanos, tokens: u64) -> Blocked {
        let mut blocked: Option<Blocked> = None;
        let mut block = |limit: LimitKind, not_before: Nanos| {
            if blocked.is_none_or(|b| not_before > b.not_before) {
                blocked = Some(Blocked { limit, not_before });
            }
        };
        if now < self.cooldown_until {
            block(LimitKind::Cooldown, self.cooldown_until);
        }
        if let Some(Err(at)) = self.requests.as_ref().map(|g| g.check(now, 1)) {
            block(LimitKind::Requests, at);
        }
        if let Some(Err(at)) = self.tokens.as_ref().map(|g| g.check(now, tokens)) {
            block(LimitKind::Tokens, at);
        }
        if let Some(cap) = &self.concurrency
            && !cap.has_room()
        {
            // A release frees it; the time-based limits may still bind later.
            let not_before = blocked.map_or(0, |b| b.not_before);
            blocked = Some(Blocked {
                limit: LimitKind::Concurrency,
                not_before,
            });
        }
        // `try_admit` saw a limit refuse; the same checks refuse again.
        blocked.unwrap_or(Blocked {
            limit: LimitKind::Queue,
            not_before: 0,
        })
    }

    /// Settles a reservation of `reserved` tokens that really cost `actual`:
    /// refunds the difference (as far as it is still due) or charges it as
    /// debt.
    #[inline(always)]
    pub(crate) fn settle(
        &mut self,
        now: Nanos,
        reserved: u64,
        actual: u64,
        stamps: Stamps,
    ) -> Settlement {
        let Some(bucket) = &mut self.tokens else {
            return Settlement::default();
        };
        if actual < reserved {
            let refunded = bucket.refund(now, reserved - actual, stamps.tokens);
            Settlement { refunded, debt: 0 }
        } else {
            let debt = actual - reserved;
            if debt > 0 {
                bucket.charge(now, debt);
            }
            Settlement { refunded: 0, debt }
        }
    }

    /// Gives a concurrency slot back.
    #[inline]
    pub(crate) fn release_slot(&mut self) {
        if let Some(cap) = &mut self.concurrency {
            cap.release();
        }
    }

    /// Undoes an admission that never ran (a granted waiter that went away,
    /// a rolled-back multi-limiter acquire): the request, its tokens and its
    /// slot all come back.
    pub(crate) fn undo(&mut self, now: Nanos, tokens: u64, stamps: Stamps) {
        if let Some(g) = &mut self.requests {
            g.refund(now, 1, stamps.requests);
        }
        if let Some(g) = &mut self.tokens {
            g.refund(now, tokens, stamps.tokens);
        }
        self.release_slot();
    }

    /// A provider throttled a call (adaptive mode): lower the rate and pause
    /// for `retry_after`. Returns the new rate fraction if it changed.
    pub(crate) fn on_throttle(
        &mut self,
        now: Nanos,
        retry_after: Option<std::time::Duration>,
    ) -> Option<f64> {
        let adaptive = self.adaptive.as_mut()?;
        if let Some(pause) = retry_after {
            let until = now.saturating_add(adaptive.cooldown(pause));
            self.cooldown_until = self.cooldown_until.max(until);
        }
        let fraction = adaptive.on_throttle(now)?;
        self.set_rate_fraction(now, fraction);
        Some(fraction)
    }

    /// The provider reported how much capacity is left: never believe we
    /// have more than that.
    pub(crate) fn observe_remaining(
        &mut self,
        now: Nanos,
        requests: Option<u64>,
        tokens: Option<u64>,
    ) {
        if let (Some(g), Some(r)) = (&mut self.requests, requests) {
            g.clamp_available(now, r, None);
        }
        if let (Some(g), Some(t)) = (&mut self.tokens, tokens) {
            g.clamp_available(now, t, None);
        }
    }

    /// Calibrates from a provider's rate-limit headers (see
    /// `calibration.rs`): the provider's limit, when below the configured
    /// one, becomes the bucket's rate and size; its remaining capacity caps
    /// what the bucket holds, until its reset at most. Returns whether a
    /// bucket's rate changed (waiters may need a new deadline).
    pub(crate) fn calibrate(&mut self, now: Nanos, snapshot: &RateLimitSnapshot) -> bool {
        let (requests, tokens) = map_snapshot(snapshot);
        let mut changed = false;
        let mut apply =
            |g: &mut Option<Gcra>, e: &mut Option<LimitEstimate>, seen: Option<Observed>| {
                let (Some(g), Some(e), Some(seen)) = (g.as_mut(), e.as_mut(), seen) else {
                    return;
                };
                let fraction = e.observe(&seen);
                if fraction != g.calibration() {
                    g.set_calibration(now, fraction);
                    changed = true;
                }
                if let Some(remaining) = seen.remaining {
                    g.clamp_available(now, remaining, seen.reset);
                }
            };
        apply(&mut self.requests, &mut self.requests_estimate, requests);
        apply(&mut self.tokens, &mut self.tokens_estimate, tokens);
        changed
    }

    /// The requests per configured period calibration allows, if limited.
    pub(crate) fn calibrated_requests(&self, amount: u64) -> u64 {
        self.requests
            .as_ref()
            .map_or(amount, |g| calibrated(amount, g.calibration()))
    }

    /// The tokens per configured period calibration allows, if limited.
    pub(crate) fn calibrated_tokens(&self, amount: u64) -> u64 {
        self.tokens
            .as_ref()
            .map_or(amount, |g| calibrated(amount, g.calibration()))
    }

    pub(crate) fn set_rate_fraction(&mut self, now: Nanos, fraction: f64) {
        if let Some(g) = &mut self.requests {
            g.set_rate_fraction(now, fraction);
        }
        if let Some(g) = &mut self.tokens {
            g.set_rate_fraction(now, fraction);
        }
    }

    pub(crate) fn cooldown_until(&self) -> Nanos {
        self.cooldown_until
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.concurrency
            .as_ref()
            .map_or(0, ConcurrencyCap::in_flight)
    }

    pub(crate) fn max_concurrent(&self) -> Option<u32> {
        self.concurrency.as_ref().map(ConcurrencyCap::max)
    }

    /// Prepares the state for reading at `now` (a report's drain given back
    /// once its reset has come).
    #[inline]
    pub(crate) fn expire(&mut self, now: Nanos) {
        if let Some(g) = &mut self.requests {
            g.expire(now);
        }
        if let Some(g) = &mut self.tokens {
            g.expire(now);
        }
    }

    pub(crate) fn tokens_available(&self, now: Nanos) -> Option<i64> {
        self.tokens.as_ref().map(|g| g.available(now))
    }

    pub(crate) fn requests_available(&self, now: Nanos) -> Option<i64> {
        self.requests.as_ref().map(|g| g.available(now))
    }

    pub(crate) fn rate_fraction(&self) -> f64 {
        self.adaptive.as_ref().map_or(1.0, AdaptiveRate::fraction)
    }

    pub(crate) fn throttles(&self) -> u64 {
        self.adaptive.as_ref().map_or(0, AdaptiveRate::throttles)
    }
}

/// `amount` scaled by a calibration fraction, rounded as the bucket is.
fn calibrated(amount: u64, fraction: f64) -> u64 {
    ((amount as f64 * fraction + 1e-6).floor() as u64).clamp(1, amount)
}
