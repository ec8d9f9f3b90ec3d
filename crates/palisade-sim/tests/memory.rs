//! Memory is flat in a simulation's duration (issue 21, item 2): the load
//! is drawn as it is sent and nothing is kept per finished request, so four
//! times the simulated hours do not take four times the memory.
//!
//! This binary counts every allocation (its own global allocator), so it
//! holds this one test only: another running beside it would add its own
//! allocations to the peak.

use std::time::Duration;

use palisade_sim::{NoProgress, Scenario, simulate};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Peak heap bytes while simulating the default scenario (at half its load,
/// so the run is not dominated by the outage backlog) for `hours`.
fn peak_for(hours: u64) -> (usize, u64) {
    let mut scenario = Scenario::builtin();
    scenario.clients = 100;
    scenario.duration = Duration::from_secs(hours * 3_600);
    ALLOCATOR.reset_peak_usage();
    let before = ALLOCATOR.current_usage();
    let report = simulate(&scenario, &NoProgress).unwrap();
    let peak = ALLOCATOR.peak_usage().saturating_sub(before);
    assert_eq!(report.palisade.lost + report.naive.lost, 0);
    (peak, report.scenario.requests)
}

#[test]
fn four_times_the_duration_does_not_take_four_times_the_memory() {
    let (short, short_requests) = peak_for(1);
    let (long, long_requests) = peak_for(4);
    println!(
        "peak heap: {short} bytes for {short_requests} requests, {long} bytes for {long_requests}"
    );
    assert!(long_requests > 3 * short_requests);
    // Flat up to the timeline's fixed number of intervals and allocator
    // noise: well under the 4× a per-request record would cost.
    assert!(
        long < short + short / 2,
        "peak {short} bytes for {short_requests} requests, {long} bytes for {long_requests}"
    );
}
