//! A record of every quota admission and settlement one simulated model
//! made, in the order it made them, so the planner can replay the same calls
//! against other quotas with the same [`QuotaLedger`](crate::QuotaLedger).
//!
//! Replaying is exact for a run in which the model refused nothing: until a
//! replayed quota refuses a call, the simulation under that quota would have
//! made the same calls at the same instants with the same draws.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One ledger operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaEvent {
    /// A call was admitted, reserving `reserve` quota tokens.
    Admit {
        /// Since the start of the run.
        at: Duration,
        reserve: u64,
    },
    /// Admission number `admission` was settled at `charge` quota tokens.
    Settle {
        at: Duration,
        admission: u64,
        charge: u64,
        /// Prompt tokens (input and cache) and output tokens of the call.
        prompt: u32,
        /// The prompt tokens the model's input quota counts at settlement
        /// (cache reads left out where its prompt cache says so).
        counted_prompt: u32,
        output: u32,
    },
}

/// A shared, append-only list of [`QuotaEvent`]s.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuotaLog {
    events: Arc<Mutex<Vec<QuotaEvent>>>,
}

impl QuotaLog {
    fn push(&self, event: QuotaEvent) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }

    pub(crate) fn admit(&self, at: Duration, reserve: u64) {
        self.push(QuotaEvent::Admit { at, reserve });
    }

    pub(crate) fn settle(
        &self,
        at: Duration,
        admission: u64,
        charge: u64,
        prompt: u32,
        counted_prompt: u32,
        output: u32,
    ) {
        self.push(QuotaEvent::Settle {
            at,
            admission,
            charge,
            prompt,
            counted_prompt,
            output,
        });
    }

    /// The events so far, in order.
    pub(crate) fn events(&self) -> Vec<QuotaEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
