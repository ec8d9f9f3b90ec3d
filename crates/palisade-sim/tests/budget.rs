//! The built-in `budget` scenario (issue 16): a $5 budget across ~1,000
//! requests whose answers would cost about twice that. The budget reserves
//! each call's worst case before it starts, so what the answers cost never
//! exceeds the limit, however the calls overlap.

use palisade_sim::{BudgetOutcome, NoProgress, Scenario, simulate};

#[test]
fn a_budget_across_a_thousand_requests_is_never_exceeded() {
    let scenario = Scenario::named("budget").unwrap();
    let report = simulate(&scenario, &NoProgress).unwrap();
    let p = &report.palisade;
    let budget = BudgetOutcome::of(&scenario, p).unwrap();
    print!("{}", budget.render());
    assert_eq!(p.lost, 0);
    assert!(
        report.scenario.requests >= 950,
        "{}",
        report.scenario.requests
    );
    assert!(!budget.exceeded(), "{budget:?}");
    assert!(budget.spent_usd <= budget.limit_usd);
    // It was the budget that stopped the run (the naive client, with no
    // budget, spends about twice the limit) and it stopped close to it.
    assert!(
        report.naive.cost_usd > budget.limit_usd,
        "{}",
        report.naive.cost_usd
    );
    assert!(budget.refused > 0, "{budget:?}");
    assert_eq!(budget.answered + budget.refused, report.scenario.requests);
    assert!(budget.spent_pct >= 99.0, "{budget:?}");
}

/// Many seeds, shorter runs with tighter budgets: spending never passes
/// the limit, whatever the overlap of calls in flight when it runs out.
#[test]
fn no_seed_takes_a_budget_over_its_limit() {
    for seed in 0..8u64 {
        let mut scenario = Scenario::named("budget").unwrap();
        scenario.seed = seed;
        scenario.duration = std::time::Duration::from_secs(120);
        let limit = 0.25 + seed as f64 * 0.1;
        if let Some(b) = scenario.palisade.budget.as_mut() {
            b.limit_usd = Some(limit);
        }
        let report = simulate(&scenario, &NoProgress).unwrap();
        let budget = BudgetOutcome::of(&scenario, &report.palisade).unwrap();
        assert!(
            budget.spent_usd <= limit,
            "seed {seed}: spent {} of {limit}",
            budget.spent_usd
        );
        assert!(budget.refused > 0, "seed {seed}: {budget:?}");
    }
}
