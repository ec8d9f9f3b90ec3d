//! Failed calls in a sliding window against the alert's count.

use std::collections::VecDeque;
use tokio::time::Instant;

use super::FailureThreshold;

/// The most recent failures (at most `count` of them: the window holds at
/// least `count` exactly when the oldest of the last `count` is inside it),
/// and whether the alert is armed.
#[derive(Debug)]
pub(super) struct FailureWindow {
    threshold: FailureThreshold,
    recent: VecDeque<Instant>,
    armed: bool,
}

impl FailureWindow {
    pub(super) fn new(threshold: FailureThreshold) -> Self {
        Self {
            threshold,
            recent: VecDeque::new(),
            armed: true,
        }
    }

    pub(super) fn threshold(&self) -> FailureThreshold {
        self.threshold
    }

    /// Records a failure now; the failures in the window when this is the
    /// one that reaches the count.
    pub(super) fn record(&mut self) -> Option<u32> {
        let now = Instant::now();
        let count = usize::try_from(self.threshold.count.max(1)).unwrap_or(usize::MAX);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.threshold.window)
        {
            self.recent.pop_front();
        }
        // Below the count just before this failure: a new crossing may fire.
        if self.recent.len() < count {
            self.armed = true;
        }
        self.recent.push_back(now);
        while self.recent.len() > count {
            self.recent.pop_front();
        }
        if self.armed && self.recent.len() >= count {
            self.armed = false;
            return Some(u32::try_from(self.recent.len()).unwrap_or(u32::MAX));
        }
        None
    }
}
