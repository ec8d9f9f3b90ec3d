//! Counting calls per window of the quota's period, from the times the
//! model received them: the evidence that the shared quota held.

use std::time::Duration;

/// Calls per window: fixed windows of `period` from the first call, and
/// the busiest window of `period` starting at any call (sliding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WindowCounts {
    pub(crate) fixed: Vec<u64>,
    pub(crate) busiest: u64,
}

/// `arrivals` are offsets from any common origin, in any order.
pub(crate) fn count(arrivals: &[Duration], period: Duration) -> WindowCounts {
    let mut sorted = arrivals.to_vec();
    sorted.sort_unstable();
    let Some(&first) = sorted.first() else {
        return WindowCounts {
            fixed: Vec::new(),
            busiest: 0,
        };
    };
    let period_ns = period.as_nanos().max(1);
    let mut fixed: Vec<u64> = Vec::new();
    for at in &sorted {
        let index = ((*at - first).as_nanos() / period_ns) as usize;
        if fixed.len() <= index {
            fixed.resize(index + 1, 0);
        }
        fixed[index] += 1;
    }
    // Two pointers: the calls in [sorted[start], sorted[start] + period).
    let mut busiest = 0;
    let mut end = 0;
    for start in 0..sorted.len() {
        while end < sorted.len() && sorted[end] < sorted[start] + period {
            end += 1;
        }
        busiest = busiest.max((end - start) as u64);
    }
    WindowCounts { fixed, busiest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn no_calls_no_windows() {
        let counts = count(&[], Duration::from_secs(1));
        assert!(counts.fixed.is_empty());
        assert_eq!(counts.busiest, 0);
    }

    #[test]
    fn fixed_windows_start_at_the_first_call() {
        let counts = count(&ms(&[2500, 100, 200, 1150, 1300]), Duration::from_secs(1));
        assert_eq!(counts.fixed, vec![2, 2, 1]);
    }

    #[test]
    fn the_sliding_window_finds_a_burst_across_a_fixed_boundary() {
        // 0.9 s .. 1.2 s holds four calls; no fixed window holds more than two.
        let counts = count(&ms(&[0, 900, 950, 1050, 1200]), Duration::from_secs(1));
        assert_eq!(counts.fixed, vec![3, 2]);
        assert_eq!(counts.busiest, 4);
    }

    #[test]
    fn a_window_is_half_open() {
        let counts = count(&ms(&[0, 500, 1000]), Duration::from_secs(1));
        assert_eq!(counts.busiest, 2);
    }
}
