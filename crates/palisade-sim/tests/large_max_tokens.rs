//! The built-in `large-max-tokens` scenario (issue 16): `max_tokens` 8,192,
//! replies of ~300 tokens, a tokens-per-minute quota that counts real
//! usage. Learned output reservations must admit at least 3× the rate of
//! reserving `max_tokens`, with no throttle reaching a caller and the
//! model's quota never refusing a call.

use palisade_sim::{Scenario, compare_learned_output, render_learned_table};

#[test]
fn learned_reservations_admit_three_times_the_rate_with_no_throttles() {
    let scenario = Scenario::named("large-max-tokens").unwrap();
    let c = compare_learned_output(&scenario).unwrap();
    println!("{}", render_learned_table(&c));
    for r in [&c.reserve_max_tokens, &c.learned] {
        assert_eq!(r.lost, 0);
        assert_eq!(r.throttles_surfaced, 0, "{r:?}");
        assert_eq!(r.throttles_seen_by_provider, 0, "{r:?}");
    }
    assert!(
        c.admitted_ratio() >= 3.0,
        "learned answered {} vs reserve-max_tokens {}",
        c.learned.completed,
        c.reserve_max_tokens.completed
    );
}
