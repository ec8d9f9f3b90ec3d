//! The built-in `split-quota` scenario (issue 16): an Anthropic-style model
//! with separate input- and output-tokens-per-minute limits, and prompts
//! that share a cached 6,000-token prefix the input limit does not count.
//! The palisade stack, with the model's quota profile and learned
//! reservations (output, and the counted share of the prompt), must see no
//! throttle and reach at least 95% of the quota-bound goodput; holding each
//! whole prompt against the input limit while a call runs must do far worse,
//! which is what the learned input share is for.

use palisade_sim::{NoProgress, Scenario, compare_learned_output, render_learned_table, simulate};

#[test]
fn split_quotas_with_a_cached_prefix_reach_the_quota_bound_with_no_throttles() {
    let scenario = Scenario::named("split-quota").unwrap();
    let report = simulate(&scenario, &NoProgress).unwrap();
    let palisade = &report.palisade;
    assert_eq!(palisade.lost, 0);
    assert_eq!(palisade.throttles_seen_by_provider, 0, "{palisade:?}");
    assert_eq!(palisade.throttles_surfaced, 0, "{palisade:?}");
    let bound = report.scenario.quota_bound_tokens_per_min.unwrap();
    let share = palisade.goodput_tokens_per_min / bound;
    assert!(
        share >= 0.95,
        "palisade reached {:.1}% of the bound",
        share * 100.0
    );

    let c = compare_learned_output(&scenario).unwrap();
    println!("{}", render_learned_table(&c));
    assert!(
        c.admitted_ratio() >= 2.0,
        "learned answered {} vs whole prompts {}",
        c.learned.completed,
        c.reserve_max_tokens.completed
    );
}
