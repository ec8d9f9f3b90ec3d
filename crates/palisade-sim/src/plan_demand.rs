//! What a load asks of each model's quotas: the figures of a quota-increase
//! request (steady and peak requests and tokens per minute, average request
//! sizes, tokens per day), read from the quota log of a run in which no
//! model had a quota.
//!
//! Every figure counts what the model's quota counts: calls it admitted
//! (answered, failed or dropped alike), and for tokens the charge each call
//! settled at (`prompt + output × burndown`, cache reads as the model's
//! `prompt_cache.cache_reads` says). A charge counts at the instant its call
//! was admitted, as the quota's sliding window counts it. Steady is the
//! total over the run's duration; peak is the largest total within any
//! sliding minute.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::quota::{QuotaConfig, QuotaLedger};
use crate::quota_log::QuotaEvent;
use crate::report::round;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// A rate: its mean over the run and its largest value in any window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Rate {
    /// The run's total divided by its duration.
    pub steady: f64,
    /// The largest total within any sliding window (a minute, or a day for
    /// tokens per day).
    pub peak: f64,
}

/// One model's demand.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModelDemand {
    /// Calls it admitted.
    pub requests: u64,
    /// Requests per minute.
    pub rpm: Rate,
    /// Quota tokens per minute: `prompt + output × burndown`, as settled.
    pub tpm: Rate,
    /// Prompt tokens (input and cache) per minute.
    pub input_tpm: Rate,
    /// Prompt tokens per minute as the model's input quota counts them
    /// (cache reads left out where its `prompt_cache.cache_reads` says so).
    pub counted_input_tpm: Rate,
    /// Output tokens per minute (before burndown).
    pub output_tpm: Rate,
    /// Quota tokens per day. For a run shorter than a day both figures are
    /// its total scaled to a day; for a longer one, `peak` is the largest
    /// total within any sliding day.
    pub tpd: Rate,
    /// Mean prompt tokens per call.
    pub avg_input_tokens: f64,
    /// Mean output tokens per call.
    pub avg_output_tokens: f64,
    /// The token quota at which the model would have refused no call: the
    /// most quota tokens its window held at once, reservations of calls
    /// still running (`max_tokens × burndown`) included.
    pub peak_tpm_reserved: u64,
    /// The largest single reservation: a token quota below it refuses that
    /// call whatever else happens.
    pub largest_reservation: u64,
}

/// One admitted call, as the log tells it.
#[derive(Debug, Clone, Copy)]
struct Call {
    at: Duration,
    charge: u64,
    prompt: u64,
    counted_prompt: u64,
    output: u64,
}

impl ModelDemand {
    /// The demand in `events` (one model's log) over a run of `duration`,
    /// for a quota counted as `quota` counts (its window and burndown).
    pub(crate) fn of(events: &[QuotaEvent], quota: &QuotaConfig, duration: Duration) -> Self {
        let mut calls: Vec<Call> = Vec::new();
        let mut largest_reservation = 0;
        for event in events {
            match *event {
                QuotaEvent::Admit { at, reserve } => {
                    largest_reservation = largest_reservation.max(reserve);
                    // Until it settles, a call is charged its reservation.
                    calls.push(Call {
                        at,
                        charge: reserve,
                        prompt: 0,
                        counted_prompt: 0,
                        output: 0,
                    });
                }
                QuotaEvent::Settle {
                    admission,
                    charge,
                    prompt,
                    counted_prompt,
                    output,
                    ..
                } => {
                    if let Some(call) = usize::try_from(admission)
                        .ok()
                        .and_then(|i| calls.get_mut(i))
                    {
                        call.charge = charge;
                        call.prompt = u64::from(prompt);
                        call.counted_prompt = u64::from(counted_prompt);
                        call.output = u64::from(output);
                    }
                }
            }
        }
        let minutes = (duration.as_secs_f64() / 60.0).max(f64::MIN_POSITIVE);
        let rate = |value: &dyn Fn(&Call) -> u64| {
            let total: u64 = calls.iter().map(value).sum();
            Rate {
                steady: round(total as f64 / minutes, 2),
                peak: peak_within(&calls, MINUTE, value) as f64,
            }
        };
        let tpm = rate(&|c| c.charge);
        let total_charge: u64 = calls.iter().map(|c| c.charge).sum();
        let per_day = round(total_charge as f64 / minutes * 1_440.0, 0);
        let tpd = Rate {
            steady: per_day,
            peak: if duration >= DAY {
                peak_within(&calls, DAY, &|c| c.charge) as f64
            } else {
                per_day
            },
        };
        let n = calls.len() as f64;
        let mean = |value: &dyn Fn(&Call) -> u64| {
            if calls.is_empty() {
                0.0
            } else {
                round(calls.iter().map(value).sum::<u64>() as f64 / n, 1)
            }
        };
        Self {
            requests: calls.len() as u64,
            rpm: rate(&|_| 1),
            tpm,
            input_tpm: rate(&|c| c.prompt),
            counted_input_tpm: rate(&|c| c.counted_prompt),
            output_tpm: rate(&|c| c.output),
            tpd,
            avg_input_tokens: mean(&|c| c.prompt),
            avg_output_tokens: mean(&|c| c.output),
            peak_tpm_reserved: peak_reserved(events, quota.window),
            largest_reservation,
        }
    }

    /// The most calls admitted within one quota window of `window` (what a
    /// request quota must allow for no call to be refused).
    pub(crate) fn peak_requests_per(events: &[QuotaEvent], window: Duration) -> u64 {
        let calls: Vec<Call> = events
            .iter()
            .filter_map(|e| match *e {
                QuotaEvent::Admit { at, .. } => Some(Call {
                    at,
                    charge: 0,
                    prompt: 0,
                    counted_prompt: 0,
                    output: 0,
                }),
                QuotaEvent::Settle { .. } => None,
            })
            .collect();
        peak_within(&calls, window, &|_| 1)
    }
}

/// The largest sum of `value` over the calls admitted within any span of
/// `window` (a call at `t` counts during `[t, t + window)`).
fn peak_within(calls: &[Call], window: Duration, value: &dyn Fn(&Call) -> u64) -> u64 {
    let mut first = 0;
    let mut sum: u64 = 0;
    let mut peak = 0;
    for call in calls {
        sum += value(call);
        while let Some(old) = calls.get(first)
            && old.at + window <= call.at
        {
            sum -= value(old);
            first += 1;
        }
        peak = peak.max(sum);
    }
    peak
}

/// Replays the log on a ledger without limits and returns the most tokens
/// its window held right after an admission: the smallest token quota that
/// would have admitted every call (reservations and settlements alike).
fn peak_reserved(events: &[QuotaEvent], window: Duration) -> u64 {
    let config = QuotaConfig {
        rpm: None,
        tpm: None,
        window,
        ..QuotaConfig::default()
    };
    let mut ledger = QuotaLedger::new(config);
    let start = Instant::now();
    let mut ids = Vec::new();
    let mut peak = 0;
    for event in events {
        match *event {
            QuotaEvent::Admit { at, reserve } => {
                let now = start + at;
                if let Ok(id) = ledger.admit(now, reserve) {
                    ids.push(id);
                }
                peak = peak.max(ledger.tokens_in_window(now));
            }
            QuotaEvent::Settle {
                at,
                admission,
                charge,
                ..
            } => {
                if let Some(&id) = usize::try_from(admission).ok().and_then(|i| ids.get(i)) {
                    ledger.settle(start + at, id, charge);
                }
            }
        }
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(s: u64, reserve: u64) -> QuotaEvent {
        QuotaEvent::Admit {
            at: Duration::from_secs(s),
            reserve,
        }
    }

    fn settle(s: u64, admission: u64, charge: u64) -> QuotaEvent {
        QuotaEvent::Settle {
            at: Duration::from_secs(s),
            admission,
            charge,
            prompt: 10,
            counted_prompt: 8,
            output: 2,
        }
    }

    #[test]
    fn peaks_are_the_busiest_sliding_minute_and_reservations_count_until_settled() {
        // Three calls in the first 30 s, one at 90 s; each reserves 100 and
        // settles at 20 a second later, except the second, still running
        // when the third is admitted.
        let events = [
            admit(0, 100),
            settle(1, 0, 20),
            admit(10, 100),
            admit(20, 100),
            settle(21, 2, 20),
            settle(25, 1, 20),
            admit(90, 100),
            settle(91, 3, 20),
        ];
        let d = ModelDemand::of(&events, &QuotaConfig::default(), Duration::from_secs(120));
        assert_eq!(d.requests, 4);
        assert_eq!(d.rpm.steady, 2.0);
        assert_eq!(d.rpm.peak, 3.0);
        assert_eq!(d.tpm.steady, 40.0);
        assert_eq!(d.tpm.peak, 60.0);
        assert_eq!(d.input_tpm.peak, 30.0);
        assert_eq!(d.counted_input_tpm.peak, 24.0);
        assert_eq!(d.output_tpm.steady, 4.0);
        assert_eq!(d.avg_input_tokens, 10.0);
        // At 20 s: 20 (settled) + 100 (running) + 100 (just admitted).
        assert_eq!(d.peak_tpm_reserved, 220);
        assert_eq!(d.largest_reservation, 100);
        assert_eq!(d.tpd.steady, 40.0 * 1_440.0);
        assert_eq!(
            ModelDemand::peak_requests_per(&events, Duration::from_secs(60)),
            3
        );
        assert_eq!(
            ModelDemand::peak_requests_per(&events, Duration::from_secs(100)),
            4
        );
    }

    #[test]
    fn no_calls_is_no_demand() {
        let d = ModelDemand::of(&[], &QuotaConfig::default(), Duration::from_secs(60));
        assert_eq!(d, ModelDemand::default());
    }
}
