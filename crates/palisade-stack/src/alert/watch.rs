//! The stack's alert state: prices answers, counts failures, and tells
//! every sink once per crossing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use palisade_core::{
    Attempt, AttemptOutcome, ChatResponse, ChatStream, ProviderError, StreamEvent,
};

use super::failures::FailureWindow;
use super::monthly::MonthlySpend;
use super::{Alert, AlertConfig, UtcClock};
use crate::budget::BudgetExceeded;
use crate::cost::PriceTable;
use crate::fallback::FallbackError;

/// A callback an [`Alert`] is delivered to.
pub type AlertSink = Arc<dyn Fn(&Alert) + Send + Sync>;

/// What a stack with `[alerts]` watches; shared by its clones.
pub(crate) struct Alerts {
    stack: String,
    prices: PriceTable,
    clock: UtcClock,
    sinks: Vec<AlertSink>,
    spend: Option<Mutex<MonthlySpend>>,
    failures: Option<Mutex<FailureWindow>>,
    /// One window per candidate id seen failing (bounded by the stack's
    /// candidates: ids come from its attempts trail).
    candidates: Option<Mutex<HashMap<String, FailureWindow>>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("stack", &self.stack)
            .field("sinks", &self.sinks.len())
            .field("spend", &self.spend)
            .field("failures", &self.failures)
            .field("candidates", &self.candidates)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    pub(crate) fn new(
        stack: &str,
        config: &AlertConfig,
        prices: PriceTable,
        clock: UtcClock,
        sinks: Vec<AlertSink>,
    ) -> Self {
        Self {
            stack: stack.to_owned(),
            prices,
            clock,
            sinks,
            spend: config
                .monthly_spend_usd
                .map(|usd| Mutex::new(MonthlySpend::new(usd))),
            failures: config.failures.map(|t| Mutex::new(FailureWindow::new(t))),
            candidates: config
                .failures
                .filter(|t| t.per_candidate)
                .map(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Watches the outcome of one whole call.
    pub(crate) fn observe(&self, result: &Result<ChatResponse, ProviderError>) {
        match result {
            Ok(response) => {
                if let Some(cost) = self.prices.cost_of(response) {
                    self.charge(cost);
                }
                self.candidates_failed(&response.attempts);
            }
            Err(error) => {
                self.failed(error);
                self.candidates_failed(FallbackError::attempts_of(error));
            }
        }
    }

    /// Watches a stream: charged from its usage event (priced as the
    /// budget prices streams: the stack's id, else the table's dearest,
    /// since events do not name the serving model), failed at its first
    /// error.
    pub(crate) fn observe_stream(
        self: &Arc<Self>,
        stack_id: &str,
        result: Result<ChatStream, ProviderError>,
    ) -> Result<ChatStream, ProviderError> {
        let stream = match result {
            Ok(stream) => stream,
            Err(error) => {
                self.failed(&error);
                self.candidates_failed(FallbackError::attempts_of(&error));
                return Err(error);
            }
        };
        // The trail up to the candidate that opened the stream.
        self.candidates_failed(stream.attempts());
        let price = self
            .prices
            .get(stack_id)
            .or_else(|| self.prices.most_expensive())
            .copied();
        let alerts = Arc::clone(self);
        let mut failed = false;
        Ok(stream.map_events(|events| {
            events.inspect(move |item| match item {
                Ok(StreamEvent::Usage(usage)) => {
                    if let Some(price) = price {
                        alerts.charge(price.cost(usage));
                    }
                }
                Err(error) if !failed => {
                    failed = true;
                    alerts.failed(error);
                }
                _ => {}
            })
        }))
    }

    fn charge(&self, cost: f64) {
        let Some(spend) = &self.spend else { return };
        let month = self.clock.month();
        let crossed = spend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .charge(month, cost);
        if let Some((spent_usd, threshold_usd)) = crossed {
            self.emit(&Alert::MonthlySpend {
                stack: self.stack.clone(),
                month,
                threshold_usd,
                spent_usd,
            });
        }
    }

    fn failed(&self, error: &ProviderError) {
        // A refusal by the budget is a decision, not a failure; the budget
        // logs its own.
        if BudgetExceeded::find(error).is_some() {
            return;
        }
        let Some(failures) = &self.failures else {
            return;
        };
        let (crossed, threshold) = {
            let mut w = failures.lock().unwrap_or_else(|e| e.into_inner());
            (w.record(), w.threshold())
        };
        if let Some(observed) = crossed {
            self.emit(&Alert::Failures {
                stack: self.stack.clone(),
                threshold: threshold.count,
                observed,
                window: threshold.window,
            });
        }
    }

    /// Counts each failed attempt in `trail` against its candidate's window.
    fn candidates_failed(&self, trail: &[Attempt]) {
        let Some(candidates) = &self.candidates else {
            return;
        };
        let Some(threshold) = self
            .failures
            .as_ref()
            .map(|f| f.lock().unwrap_or_else(|e| e.into_inner()).threshold())
        else {
            return;
        };
        for attempt in trail {
            if !matches!(attempt.outcome, AttemptOutcome::Failed { .. }) {
                continue;
            }
            let candidate = attempt.provider.as_str();
            let crossed = candidates
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(candidate.to_owned())
                .or_insert_with(|| FailureWindow::new(threshold))
                .record();
            if let Some(observed) = crossed {
                self.emit(&Alert::CandidateFailures {
                    stack: self.stack.clone(),
                    candidate: candidate.to_owned(),
                    threshold: threshold.count,
                    observed,
                    window: threshold.window,
                });
            }
        }
    }

    /// Outside every lock, so a sink may call back into the stack.
    fn emit(&self, alert: &Alert) {
        match alert {
            Alert::MonthlySpend {
                month,
                threshold_usd,
                spent_usd,
                ..
            } => tracing::warn!(
                target: "palisade_stack::alert",
                stack = self.stack.as_str(),
                alert = "monthly_spend",
                month = %month,
                threshold_usd,
                spent_usd,
                "{alert}"
            ),
            Alert::Failures {
                threshold,
                observed,
                window,
                ..
            } => tracing::warn!(
                target: "palisade_stack::alert",
                stack = self.stack.as_str(),
                alert = "failures",
                threshold,
                observed,
                window_s = window.as_secs_f64(),
                "{alert}"
            ),
            Alert::CandidateFailures {
                candidate,
                threshold,
                observed,
                window,
                ..
            } => tracing::warn!(
                target: "palisade_stack::alert",
                stack = self.stack.as_str(),
                alert = "candidate_failures",
                candidate = candidate.as_str(),
                threshold,
                observed,
                window_s = window.as_secs_f64(),
                "{alert}"
            ),
        }
        for sink in &self.sinks {
            sink(alert);
        }
    }
}
