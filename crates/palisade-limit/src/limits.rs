//! All of a limiter's limits behind one check: a request is admitted only
//! when every limit admits it, and nothing is consumed when one says no.
//!
//! Everything here runs inside the limiter's single critical section, so
//! "check all, then commit all" is atomic without compare-and-swap loops.

use palisade_core::http::RateLimitSnapshot;

use crate::adaptive::AdaptiveRate;
use crate::calibration::{LimitEstimate, Observed, map_windows};
use crate::clock::{Nanos, duration_to_nanos};
use crate::concurrency::ConcurrencyCap;
use crate::config::LimiterConfig;
use crate::cost::TokenCounts;
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
    /// What the request counts against that limit.
    pub(crate) cost: u64,
    pub(crate) capacity: u64,
}

/// Where an admission sits in each bucket's history, so that undoing or
/// refunding it later gives back no more than is due (see `slack.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stamps {
    requests: u64,
    tokens: [u64; DIMENSIONS],
}

/// What settling changed, in the combined tokens dimension (or, without
/// one, the first token dimension limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Settlement {
    pub(crate) refunded: u64,
    pub(crate) debt: u64,
}

/// How many token dimensions a limiter has.
const DIMENSIONS: usize = 4;

/// The token dimensions, in the order of [`Limits::tokens`].
const KINDS: [LimitKind; DIMENSIONS] = [
    LimitKind::Tokens,
    LimitKind::InputTokens,
    LimitKind::OutputTokens,
    LimitKind::TokensPerDay,
];

/// What `counts` counts against each dimension, in the order of [`KINDS`].
#[inline(always)]
fn amounts(counts: TokenCounts) -> [u64; DIMENSIONS] {
    [counts.tokens, counts.input, counts.output, counts.tokens]
}

/// The limits of one limiter.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    requests: Option<Gcra>,
    /// One bucket per token dimension limited, in the order of [`KINDS`].
    tokens: [Option<Gcra>; DIMENSIONS],
    concurrency: Option<ConcurrencyCap>,
    /// No admissions before this instant (a provider's `retry_after`).
    cooldown_until: Nanos,
    adaptive: Option<AdaptiveRate>,
    /// What the provider's rate-limit headers said of each quota (the daily
    /// one has no header).
    requests_estimate: Option<LimitEstimate>,
    tokens_estimate: [Option<LimitEstimate>; DIMENSIONS],
}

impl Limits {
    pub(crate) fn new(config: &LimiterConfig) -> Self {
        let gcra =
            |q: &crate::config::Quota| Gcra::new(q.amount, duration_to_nanos(q.period), q.burst());
        let estimate =
            |q: &crate::config::Quota| LimitEstimate::new(q.amount, duration_to_nanos(q.period));
        let quotas = token_quotas(config);
        Self {
            requests: config.requests.as_ref().map(gcra),
            tokens: quotas.map(|q| q.as_ref().map(gcra)),
            concurrency: config.max_concurrent.map(ConcurrencyCap::new),
            cooldown_until: 0,
            adaptive: config
                .adaptive
                .enabled
                .then(|| AdaptiveRate::new(&config.adaptive)),
            requests_estimate: config.requests.as_ref().map(estimate),
            tokens_estimate: [
                quotas[0].as_ref().map(estimate),
                quotas[1].as_ref().map(estimate),
                quotas[2].as_ref().map(estimate),
                None,
            ],
        }
    }

    /// Whether `counts` can ever be admitted.
    #[inline]
    pub(crate) fn check_possible(&self, counts: TokenCounts) -> Result<(), Impossible> {
        let amounts = amounts(counts);
        for (i, bucket) in self.tokens.iter().enumerate() {
            if let Some(bucket) = bucket
                && amounts[i] > bucket.max_cost()
            {
                return Err(Impossible {
                    limit: KINDS[i],
                    cost: amounts[i],
                    capacity: bucket.max_cost(),
                });
            }
        }
        Ok(())
    }

    /// Whether a permit of this limiter holds a concurrency slot.
    #[inline]
    pub(crate) fn has_concurrency(&self) -> bool {
        self.concurrency.is_some()
    }

    /// Whether a permit has anything to give back on settle or drop.
    #[inline]
    pub(crate) fn tracks_tokens(&self) -> bool {
        self.tokens.iter().any(Option::is_some)
    }

    /// Admits one request of `counts` if every limit has room, consuming
    /// from all of them; otherwise consumes nothing. `counts` must be
    /// possible.
    #[inline(always)]
    pub(crate) fn try_admit(&mut self, now: Nanos, counts: TokenCounts) -> Result<Stamps, Blocked> {
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
        let amounts = amounts(counts);
        let mut tats = [0; DIMENSIONS];
        let mut fits = true;
        for (i, bucket) in self.tokens.iter().enumerate() {
            if let Some(g) = bucket {
                match g.check(now, amounts[i]) {
                    Ok(tat) => tats[i] = tat,
                    Err(_) => fits = false,
                }
            }
        }
        let room = self
            .concurrency
            .as_ref()
            .is_none_or(ConcurrencyCap::has_room);
        let (Some(requests_tat), true, true, true) =
            (requests_tat, fits, room, now >= self.cooldown_until)
        else {
            return Err(self.blocked(now, counts));
        };
        let mut stamps = Stamps::default();
        if let Some(g) = &mut self.requests {
            stamps.requests = g.commit(now, requests_tat);
        }
        for (i, bucket) in self.tokens.iter_mut().enumerate() {
            if let Some(g) = bucket {
                stamps.tokens[i] = g.commit(now, tats[i]);
            }
        }
        if let Some(cap) = &mut self.concurrency {
            cap.take();
        }
        Ok(stamps)
    }

    /// Why `counts` cannot be admitted at `now`: the binding limit, the one
    /// that frees last. Called only when [`try_admit`](Limits::try_admit)
    /// found one that does not admit.
    #[cold]
    #[inline(never)]
    fn blocked(&self, now: Nanos, counts: TokenCounts) -> Blocked {
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
        let amounts = amounts(counts);
        for (i, bucket) in self.tokens.iter().enumerate() {
            if let Some(Err(at)) = bucket.as_ref().map(|g| g.check(now, amounts[i])) {
                block(KINDS[i], at);
            }
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

    /// Settles a reservation of `reserved` that really cost `actual`: per
    /// dimension, refunds the difference (as far as it is still due) or
    /// charges it as debt.
    #[inline(always)]
    pub(crate) fn settle(
        &mut self,
        now: Nanos,
        reserved: TokenCounts,
        actual: TokenCounts,
        stamps: Stamps,
    ) -> Settlement {
        let (reserved, actual) = (amounts(reserved), amounts(actual));
        let mut first: Option<Settlement> = None;
        for (i, bucket) in self.tokens.iter_mut().enumerate() {
            let Some(bucket) = bucket else { continue };
            let s = if actual[i] < reserved[i] {
                let refunded = bucket.refund(now, reserved[i] - actual[i], stamps.tokens[i]);
                Settlement { refunded, debt: 0 }
            } else {
                let debt = actual[i] - reserved[i];
                if debt > 0 {
                    bucket.charge(now, debt);
                }
                Settlement { refunded: 0, debt }
            };
            first.get_or_insert(s);
        }
        first.unwrap_or_default()
    }

    /// Charges `extra` more to each dimension now, without a check: a call
    /// (a stream) that runs past its reservation pays as it goes.
    pub(crate) fn charge_extra(&mut self, now: Nanos, extra: TokenCounts) {
        let amounts = amounts(extra);
        for (i, bucket) in self.tokens.iter_mut().enumerate() {
            if let Some(g) = bucket
                && amounts[i] > 0
            {
                g.charge(now, amounts[i]);
            }
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
    pub(crate) fn undo(&mut self, now: Nanos, counts: TokenCounts, stamps: Stamps) {
        if let Some(g) = &mut self.requests {
            g.refund(now, 1, stamps.requests);
        }
        let amounts = amounts(counts);
        for (i, bucket) in self.tokens.iter_mut().enumerate() {
            if let Some(g) = bucket {
                g.refund(now, amounts[i], stamps.tokens[i]);
            }
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
        if let (Some(g), Some(t)) = (&mut self.tokens[0], tokens) {
            g.clamp_available(now, t, None);
        }
    }

    /// Calibrates from a provider's rate-limit headers (see
    /// `calibration.rs`): the provider's limit, when below the configured
    /// one, becomes the bucket's rate and size; its remaining capacity caps
    /// what the bucket holds, until its reset at most. Returns whether a
    /// bucket's rate changed (waiters may need a new deadline).
    pub(crate) fn calibrate(&mut self, now: Nanos, snapshot: &RateLimitSnapshot) -> bool {
        let mapped = map_windows(snapshot);
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
        apply(
            &mut self.requests,
            &mut self.requests_estimate,
            mapped.requests,
        );
        let seen = [mapped.tokens, mapped.input_tokens, mapped.output_tokens];
        for (i, seen) in seen.into_iter().enumerate() {
            apply(&mut self.tokens[i], &mut self.tokens_estimate[i], seen);
        }
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
        self.tokens[0]
            .as_ref()
            .map_or(amount, |g| calibrated(amount, g.calibration()))
    }

    pub(crate) fn set_rate_fraction(&mut self, now: Nanos, fraction: f64) {
        if let Some(g) = &mut self.requests {
            g.set_rate_fraction(now, fraction);
        }
        for g in self.tokens.iter_mut().flatten() {
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
        for g in self.tokens.iter_mut().flatten() {
            g.expire(now);
        }
    }

    /// Units left in the bucket of `kind` (a token dimension), if limited.
    pub(crate) fn available(&self, now: Nanos, kind: LimitKind) -> Option<i64> {
        let i = KINDS.iter().position(|k| *k == kind)?;
        self.tokens[i].as_ref().map(|g| g.available(now))
    }

    pub(crate) fn tokens_available(&self, now: Nanos) -> Option<i64> {
        self.available(now, LimitKind::Tokens)
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

/// The config's token quotas, in the order of [`KINDS`].
fn token_quotas(config: &LimiterConfig) -> [Option<crate::config::Quota>; DIMENSIONS] {
    [
        config.tokens,
        config.input_tokens,
        config.output_tokens,
        config.tokens_per_day,
    ]
}

/// `amount` scaled by a calibration fraction, rounded as the bucket is.
fn calibrated(amount: u64, fraction: f64) -> u64 {
    ((amount as f64 * fraction + 1e-6).floor() as u64).clamp(1, amount)
}

/// Side-effect-free look-ahead, for [`Limiter::expected_wait`](crate::Limiter::expected_wait).
impl Limits {
    /// When `counts` could be admitted if the queue ahead of it (`ahead`
    /// requests costing `ahead_counts` together) went first: the instant the
    /// time-based limits admit it and the limit that binds then, and the
    /// rounds of calls a concurrency cap makes it wait for. `counts` must be
    /// possible.
    pub(crate) fn expected_at(
        &self,
        now: Nanos,
        counts: TokenCounts,
        ahead: u64,
        ahead_counts: TokenCounts,
    ) -> (Nanos, Option<LimitKind>, u32) {
        let mut at = now;
        let mut binding = None;
        let mut bind = |limit: LimitKind, when: Nanos| {
            if when > at {
                at = when;
                binding = Some(limit);
            }
        };
        bind(LimitKind::Cooldown, self.cooldown_until);
        if let Some(g) = &self.requests {
            bind(LimitKind::Requests, g.fits_at(now, ahead, 1));
        }
        let (amounts, ahead_amounts) = (amounts(counts), amounts(ahead_counts));
        for (i, bucket) in self.tokens.iter().enumerate() {
            if let Some(g) = bucket {
                bind(KINDS[i], g.fits_at(now, ahead_amounts[i], amounts[i]));
            }
        }
        let rounds = self.concurrency.as_ref().map_or(0, |cap| {
            let max = u64::from(cap.max());
            let needed = u64::from(cap.in_flight()) + ahead + 1;
            u32::try_from(needed.saturating_sub(max).div_ceil(max)).unwrap_or(u32::MAX)
        });
        (at, binding, rounds)
    }
}
