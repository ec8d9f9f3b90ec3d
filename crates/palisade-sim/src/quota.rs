//! Per-model quotas with Bedrock's semantics: requests per minute, and tokens
//! per minute charged as a reservation at the start of a call and settled at
//! its end.
//!
//! Bedrock reserves `input + max_tokens × output burndown` tokens of the
//! tokens-per-minute quota when a call starts, and when it ends corrects the
//! charge to `input + actual output × burndown`, returning the unused part. A
//! call is throttled when it would take the last minute over either quota.
//!
//! The minute is a sliding window: a charge counts for exactly `window` after
//! the call started. That is the strict reading of "per minute" (no burst of
//! two minutes' worth at a boundary), which makes the quota-bound figures of
//! the simulation report upper bounds that a client can actually approach.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::limits::{MAX_BURNDOWN, MAX_RPM, MAX_TPM, QUOTA_WINDOW, count_within};

/// A model's quotas, as a Service Quotas page lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Requests per window (minute); `None` for no request quota. Default: none.
    pub rpm: Option<u32>,
    /// Tokens per window (minute), input and burned-down output together;
    /// `None` for no token quota. Default: none.
    pub tpm: Option<u64>,
    /// Input tokens per window (minute), apart from output (Anthropic's API,
    /// Bedrock's `bedrock-mantle` endpoint): the prompt as the model's
    /// prompt cache counts it (`[models.prompt_cache] cache_reads`), charged
    /// when the call starts and corrected when it ends. Default: none.
    pub itpm: Option<u64>,
    /// Output tokens per window (minute): `max_tokens` reserved when the call
    /// starts (when `reserves_max_tokens`), corrected to the real output when
    /// it ends; no burndown. Default: none.
    pub otpm: Option<u64>,
    /// How many quota tokens one output token burns: 5 for Anthropic Claude
    /// 3.7 and later on Bedrock, 1 for most other models. Default: 1.
    pub output_burndown: f64,
    /// The quota window. Default: one minute.
    #[serde(with = "palisade_core::duration")]
    pub window: Duration,
    /// Whether a throttled call carries a retry-after hint (when the quota
    /// will next admit it). Bedrock sends none; default: false.
    pub retry_after_hint: bool,
    /// Whether a call reserves `max_tokens × output_burndown` when it starts
    /// (Bedrock, the default) or is charged its input alone then and its
    /// real output when it ends (a quota counted from usage, the case where
    /// a client's learned output reservations pay off). Default: true.
    pub reserves_max_tokens: bool,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            rpm: None,
            tpm: None,
            itpm: None,
            otpm: None,
            output_burndown: 1.0,
            window: Duration::from_secs(60),
            retry_after_hint: false,
            reserves_max_tokens: true,
        }
    }
}

impl QuotaConfig {
    /// Quota tokens charged for `input` tokens in and `output` tokens out.
    pub fn charge(&self, input: u32, output: u32) -> u64 {
        // `as` saturates a float too large for u64 (and maps NaN to 0).
        let burned = (f64::from(output) * self.output_burndown).ceil() as u64;
        u64::from(input).saturating_add(burned)
    }

    /// Quota tokens a call reserves when it starts: `input + max_tokens ×
    /// burndown`, or `input` alone when the quota does not reserve
    /// `max_tokens`.
    pub fn reservation(&self, input: u32, max_tokens: u32) -> u64 {
        self.charge(
            input,
            if self.reserves_max_tokens {
                max_tokens
            } else {
                0
            },
        )
    }

    /// What a call counts against each token quota when it starts, given the
    /// prompt as the quotas count it.
    pub fn reservation_split(&self, input: u32, max_tokens: u32) -> QuotaCharge {
        QuotaCharge {
            tokens: self.reservation(input, max_tokens),
            input: u64::from(input),
            output: if self.reserves_max_tokens {
                u64::from(max_tokens)
            } else {
                0
            },
        }
    }

    /// What a call counts against each token quota once it has ended.
    pub fn charge_split(&self, input: u32, output: u32) -> QuotaCharge {
        QuotaCharge {
            tokens: self.charge(input, output),
            input: u64::from(input),
            output: u64::from(output),
        }
    }

    /// Checks the parameters; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.output_burndown.is_finite()
            && (1.0..=MAX_BURNDOWN).contains(&self.output_burndown))
        {
            return Err((
                "output_burndown",
                format!(
                    "must be a number within 1..={MAX_BURNDOWN}, got {}",
                    self.output_burndown
                ),
            ));
        }
        let (shortest, longest) = QUOTA_WINDOW;
        if self.window < shortest || self.window > longest {
            return Err((
                "window",
                format!(
                    "must be within {}..={}, got {}",
                    palisade_core::duration::format(shortest),
                    palisade_core::duration::format(longest),
                    palisade_core::duration::format(self.window)
                ),
            ));
        }
        let zero = "a quota of 0 admits nothing; omit it for no quota";
        if let Some(rpm) = self.rpm {
            if rpm == 0 {
                return Err(("rpm", zero.into()));
            }
            count_within(rpm, 1, MAX_RPM).map_err(|e| ("rpm", e))?;
        }
        for (field, quota) in [("tpm", self.tpm), ("itpm", self.itpm), ("otpm", self.otpm)] {
            if let Some(amount) = quota {
                if amount == 0 {
                    return Err((field, zero.into()));
                }
                count_within(amount, 1, MAX_TPM).map_err(|e| (field, e))?;
            }
        }
        Ok(())
    }
}

/// Which quota refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaExceeded {
    /// Requests per minute.
    Requests {
        /// When a request would next fit.
        retry_after: Duration,
    },
    /// Tokens per minute.
    Tokens {
        /// When the reservation would next fit.
        retry_after: Duration,
    },
    /// Input tokens per minute.
    InputTokens {
        /// When the reservation would next fit.
        retry_after: Duration,
    },
    /// Output tokens per minute.
    OutputTokens {
        /// When the reservation would next fit.
        retry_after: Duration,
    },
}

impl QuotaExceeded {
    /// When the call would next be admitted, if nothing else arrives first.
    pub fn retry_after(&self) -> Duration {
        match *self {
            QuotaExceeded::Requests { retry_after }
            | QuotaExceeded::Tokens { retry_after }
            | QuotaExceeded::InputTokens { retry_after }
            | QuotaExceeded::OutputTokens { retry_after } => retry_after,
        }
    }
}

/// One token quota as the ledger checks it: its amount, the part of a
/// charge it counts, and the refusal it answers.
type TokenQuota = (
    Option<u64>,
    fn(&QuotaCharge) -> u64,
    fn(Duration) -> QuotaExceeded,
);

/// A reservation handle returned by [`QuotaLedger::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservationId(u64);

impl ReservationId {
    /// The admission's number in its ledger: 0 for the first, then 1, 2, …
    pub(crate) fn index(self) -> u64 {
        self.0
    }
}

/// What a call counts against each token quota: the combined tokens, the
/// input and the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaCharge {
    /// Against `tpm`.
    pub tokens: u64,
    /// Against `itpm`.
    pub input: u64,
    /// Against `otpm`.
    pub output: u64,
}

impl QuotaCharge {
    fn add(self, other: QuotaCharge) -> QuotaCharge {
        QuotaCharge {
            tokens: self.tokens.saturating_add(other.tokens),
            input: self.input.saturating_add(other.input),
            output: self.output.saturating_add(other.output),
        }
    }

    fn sub(self, other: QuotaCharge) -> QuotaCharge {
        QuotaCharge {
            tokens: self.tokens.saturating_sub(other.tokens),
            input: self.input.saturating_sub(other.input),
            output: self.output.saturating_sub(other.output),
        }
    }
}

#[derive(Debug)]
struct Charge {
    at: Instant,
    charge: QuotaCharge,
}

/// The sliding-window ledger of one model's quotas.
#[derive(Debug)]
pub struct QuotaLedger {
    config: QuotaConfig,
    requests: VecDeque<Instant>,
    charges: VecDeque<Charge>,
    /// Id of `charges[0]`; ids grow by one per admitted call.
    first_id: u64,
    in_window: QuotaCharge,
}

impl QuotaLedger {
    /// An empty ledger.
    pub fn new(config: QuotaConfig) -> Self {
        Self {
            config,
            requests: VecDeque::new(),
            charges: VecDeque::new(),
            first_id: 0,
            in_window: QuotaCharge::default(),
        }
    }

    /// The quotas this ledger enforces.
    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    fn expire(&mut self, now: Instant) {
        let window = self.config.window;
        while self.requests.front().is_some_and(|&at| at + window <= now) {
            self.requests.pop_front();
        }
        while let Some(front) = self.charges.front() {
            if front.at + window > now {
                break;
            }
            self.in_window = self.in_window.sub(front.charge);
            self.charges.pop_front();
            self.first_id += 1;
        }
    }

    /// Tokens charged in the current window (after expiring old charges).
    pub fn tokens_in_window(&mut self, now: Instant) -> u64 {
        self.expire(now);
        self.in_window.tokens
    }

    /// What every token quota counts in the current window.
    pub fn in_window(&mut self, now: Instant) -> QuotaCharge {
        self.expire(now);
        self.in_window
    }

    /// Admits a call that reserves `tokens` (against the combined quota
    /// only), or says which quota refused it.
    pub fn admit(&mut self, now: Instant, tokens: u64) -> Result<ReservationId, QuotaExceeded> {
        self.admit_split(
            now,
            QuotaCharge {
                tokens,
                ..QuotaCharge::default()
            },
        )
    }

    /// Admits a call that reserves `charge`, or says which quota refused it;
    /// a refusal charges nothing.
    pub fn admit_split(
        &mut self,
        now: Instant,
        charge: QuotaCharge,
    ) -> Result<ReservationId, QuotaExceeded> {
        self.expire(now);
        let window = self.config.window;
        if let Some(rpm) = self.config.rpm
            && self.requests.len() >= rpm as usize
        {
            // The oldest request in the window leaves it first.
            let retry_after = self.requests.front().map_or(Duration::ZERO, |&at| {
                (at + window).saturating_duration_since(now)
            });
            return Err(QuotaExceeded::Requests { retry_after });
        }
        let quotas: [TokenQuota; 3] = [
            (
                self.config.tpm,
                |c| c.tokens,
                |retry_after| QuotaExceeded::Tokens { retry_after },
            ),
            (
                self.config.itpm,
                |c| c.input,
                |retry_after| QuotaExceeded::InputTokens { retry_after },
            ),
            (
                self.config.otpm,
                |c| c.output,
                |retry_after| QuotaExceeded::OutputTokens { retry_after },
            ),
        ];
        for (quota, part, exceeded) in quotas {
            if let Some(quota) = quota
                && part(&self.in_window).saturating_add(part(&charge)) > quota
            {
                return Err(exceeded(self.wait_for(now, part(&charge), quota, part)));
            }
        }
        if self.config.rpm.is_some() {
            self.requests.push_back(now);
        }
        let id = self.first_id + self.charges.len() as u64;
        self.charges.push_back(Charge { at: now, charge });
        self.in_window = self.in_window.add(charge);
        Ok(ReservationId(id))
    }

    /// How long until enough charges leave the window for `tokens` more of
    /// the quota `part` counts to fit under `quota`.
    fn wait_for(
        &self,
        now: Instant,
        tokens: u64,
        quota: u64,
        part: fn(&QuotaCharge) -> u64,
    ) -> Duration {
        let mut in_window = part(&self.in_window);
        for charge in &self.charges {
            if in_window.saturating_add(tokens) <= quota {
                break;
            }
            in_window = in_window.saturating_sub(part(&charge.charge));
            if in_window.saturating_add(tokens) <= quota {
                return (charge.at + self.config.window).saturating_duration_since(now);
            }
        }
        Duration::ZERO
    }

    /// Corrects a reservation to what the call really cost. A charge that has
    /// already left the window no longer counts, so settling it changes nothing.
    pub fn settle(&mut self, now: Instant, id: ReservationId, actual_tokens: u64) {
        self.expire(now);
        let Some(index) = id.0.checked_sub(self.first_id) else {
            return;
        };
        if let Some(charge) = self.charges.get_mut(index as usize) {
            let actual = QuotaCharge {
                tokens: actual_tokens,
                ..charge.charge
            };
            self.in_window = self.in_window.sub(charge.charge).add(actual);
            charge.charge = actual;
        }
    }

    /// Corrects a reservation to what the call really counted against every
    /// token quota (see [`settle`](QuotaLedger::settle)).
    pub fn settle_split(&mut self, now: Instant, id: ReservationId, actual: QuotaCharge) {
        self.expire(now);
        let Some(index) = id.0.checked_sub(self.first_id) else {
            return;
        };
        if let Some(charge) = self.charges.get_mut(index as usize) {
            self.in_window = self.in_window.sub(charge.charge).add(actual);
            charge.charge = actual;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(rpm: Option<u32>, tpm: Option<u64>, burndown: f64) -> QuotaConfig {
        QuotaConfig {
            rpm,
            tpm,
            output_burndown: burndown,
            ..QuotaConfig::default()
        }
    }

    #[test]
    fn a_quota_counted_from_usage_reserves_the_input_alone() {
        let bedrock = quota(None, Some(100_000), 5.0);
        assert_eq!(bedrock.reservation(100, 8_192), 100 + 5 * 8_192);
        let usage = QuotaConfig {
            reserves_max_tokens: false,
            ..bedrock
        };
        assert_eq!(usage.reservation(100, 8_192), 100);
        // Settlement charges the real output either way.
        assert_eq!(usage.charge(100, 300), bedrock.charge(100, 300));
    }

    #[tokio::test(start_paused = true)]
    async fn the_request_after_rpm_in_a_minute_is_throttled_until_the_first_leaves() {
        let mut ledger = QuotaLedger::new(quota(Some(3), None, 1.0));
        let t0 = Instant::now();
        for i in 0..3 {
            let at = t0 + Duration::from_secs(i * 10);
            assert!(ledger.admit(at, 1).is_ok(), "request {i}");
        }
        let at = t0 + Duration::from_secs(30);
        assert_eq!(
            ledger.admit(at, 1),
            Err(QuotaExceeded::Requests {
                retry_after: Duration::from_secs(30)
            })
        );
        // Exactly a minute after the first, its slot is free again.
        assert!(ledger.admit(t0 + Duration::from_secs(60), 1).is_ok());
        assert!(ledger.admit(t0 + Duration::from_secs(61), 1).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn tpm_reserves_max_tokens_times_burndown_and_refunds_the_unused_part() {
        let q = quota(None, Some(10_000), 5.0);
        // 1,000 in + 1,000 max out × 5 = 6,000 reserved.
        let reserve = q.charge(1_000, 1_000);
        assert_eq!(reserve, 6_000);
        let mut ledger = QuotaLedger::new(q.clone());
        let t0 = Instant::now();
        let first = ledger.admit(t0, reserve).unwrap();
        // A second identical reservation does not fit while the first is open.
        let refused = ledger
            .admit(t0 + Duration::from_secs(1), reserve)
            .unwrap_err();
        assert_eq!(
            refused,
            QuotaExceeded::Tokens {
                retry_after: Duration::from_secs(59)
            }
        );
        // The first call produced 200 tokens: it costs 1,000 + 200 × 5 = 2,000.
        ledger.settle(t0 + Duration::from_secs(5), first, q.charge(1_000, 200));
        assert_eq!(ledger.tokens_in_window(t0 + Duration::from_secs(5)), 2_000);
        assert!(ledger.admit(t0 + Duration::from_secs(5), reserve).is_ok());
        // Settled charges still leave the window a minute after their start.
        assert_eq!(ledger.tokens_in_window(t0 + Duration::from_secs(60)), 6_000);
        assert_eq!(ledger.tokens_in_window(t0 + Duration::from_secs(65)), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn settling_after_the_window_changes_nothing() {
        let mut ledger = QuotaLedger::new(quota(None, Some(100), 1.0));
        let t0 = Instant::now();
        let id = ledger.admit(t0, 50).unwrap();
        let later = t0 + Duration::from_secs(90);
        let _ = ledger.admit(later, 10).unwrap();
        ledger.settle(later, id, 0);
        assert_eq!(ledger.tokens_in_window(later), 10);
    }

    #[test]
    fn validation_names_the_field() {
        let err = quota(None, None, 0.5).validate().unwrap_err();
        assert_eq!(err.0, "output_burndown");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    const RPM: u32 = 7;
    const TPM: u64 = 12_000;

    proptest! {
        /// Whatever the admissions and settlements, the calls started in the
        /// last minute are never more than the request quota, and their
        /// charges (settled, or still reserved) never more than the token quota.
        #[test]
        fn never_more_than_the_quota_in_any_window(
            calls in prop::collection::vec(
                (0u64..5_000, 1u64..4_000, 0.0f64..=1.0, 0u64..30_000),
                1..200,
            )
        ) {
            let config = QuotaConfig { rpm: Some(RPM), tpm: Some(TPM), ..QuotaConfig::default() };
            let mut ledger = QuotaLedger::new(config);
            let mut now = Instant::now();
            // Every admitted call: start and current charge.
            let mut admitted: Vec<(Instant, u64)> = Vec::new();
            // Calls in flight: reservation, index in `admitted`, end, final charge.
            let mut open: Vec<(ReservationId, usize, Instant, u64)> = Vec::new();
            for (gap_ms, reserve, used, duration_ms) in calls {
                now += Duration::from_millis(gap_ms);
                open.sort_by_key(|c| c.2);
                open.retain(|&(id, index, end, charge)| {
                    if end > now {
                        return true;
                    }
                    ledger.settle(end, id, charge);
                    admitted[index].1 = charge;
                    false
                });
                if let Ok(id) = ledger.admit(now, reserve) {
                    admitted.push((now, reserve));
                    let charge = (reserve as f64 * used) as u64;
                    let end = now + Duration::from_millis(duration_ms);
                    open.push((id, admitted.len() - 1, end, charge));
                }
                let window: Vec<u64> = admitted
                    .iter()
                    .filter(|(at, _)| *at + Duration::from_secs(60) > now)
                    .map(|&(_, charge)| charge)
                    .collect();
                prop_assert!(window.len() <= RPM as usize);
                prop_assert!(window.iter().sum::<u64>() <= TPM);
            }
        }
    }
}
