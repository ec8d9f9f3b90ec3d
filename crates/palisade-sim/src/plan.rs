//! The quota planner: what quotas a load needs, and what happens at the
//! quotas it has.
//!
//! 1. **Demand.** The palisade stack runs the load with no quota on any
//!    model, each model logging its admissions and settlements. The log
//!    gives each model's demand ([`ModelDemand`]): steady and peak requests
//!    and tokens per minute, and the quotas that would refuse nothing — the
//!    most calls in any quota window and the most tokens the window held at
//!    once, reservations included (at those quotas a client that sends as
//!    this run did is never refused).
//! 2. **Current quotas.** The naive client and the palisade stack run the
//!    load at the scenario's own quotas (beside the demand run, on threads).
//! 3. **Search.** Candidate quotas lie on one scale for every model at once:
//!    `steady + k × (peak − steady)`, rounded up (a token quota never below
//!    the largest single reservation). Each candidate is a real simulation
//!    of the palisade stack; it meets the target when the models refused no
//!    call for quota, no more requests failed than with no quota at all
//!    (a request the stack gives up on for want of quota is a throttle too),
//!    and the p99 queueing of all requests is within the bound. The search
//!    tries `k = 1`, then 2, 4 and 8 while the target is missed — the
//!    stack's limiter paces calls evenly under the quota (a burst of one
//!    request), so a bursty load needs more than the sliding-window peak to
//!    queue little — then halves the interval below the smallest passing
//!    `k`; candidates that round to quotas already tried are not run again.
//!    It makes at most [`MAX_SEARCH_RUNS`] runs.
//! 4. **Check.** The naive client runs at the recommended quotas, to show
//!    what a client without a limiter would see at them.
//!
//! Each model is planned in the quotas it has (requests, tokens, input
//! tokens, output tokens per minute); a model with no quota at all gets
//! requests and tokens per minute. A model the load never reached keeps its
//! current quotas. The recommended
//! quotas are those of a run that met the target, and runs are
//! deterministic: the same scenario with them ([`QuotaPlan::apply`])
//! simulates to the same outcome.

use std::time::Duration;

use thiserror::Error;

use crate::arrival::{Arrival, LoadSummary};
use crate::capacity::capacity;
use crate::driver::NoProgress;
use crate::limits::{MAX_RPM, MAX_TPM};
use crate::model::SimulatedModelConfig;
use crate::plan_demand::ModelDemand;
use crate::plan_report::{
    ModelOutcome, ModelOutcomes, ModelPlan, PLAN_VERSION, PlanOutcome, PlanRuns, PlanSource,
    PlanTargetReport, QuotaPlan, Quotas, SystemOutcome,
};
use crate::quota_log::{QuotaEvent, QuotaLog};
use crate::report::{SimulationReport, SystemReport, round};
use crate::scenario::Scenario;
use crate::simulation::{Load, NAIVE, PALISADE, SimulationError, run_one, simulate_load};
use crate::trace::BoundTrace;

/// The most palisade runs the search makes (the plan adds four: the demand
/// run, both systems at the current quotas, and the naive check).
pub const MAX_SEARCH_RUNS: u32 = 10;

/// The scales tried upward before the interval below is halved.
const UPWARD: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

/// What the recommended quotas must achieve (besides no call refused for
/// quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanTarget {
    /// The most the palisade stack's p99 queueing (time outside the models,
    /// all requests) may be. Default: 30 s.
    pub max_queue_p99: Duration,
}

impl Default for PlanTarget {
    fn default() -> Self {
        Self {
            max_queue_p99: Duration::from_secs(30),
        }
    }
}

/// A plan could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The scenario cannot be planned for.
    #[error("cannot plan for scenario {scenario:?}: {message}")]
    Unplannable {
        /// The scenario's name.
        scenario: String,
        /// Why.
        message: String,
    },
    /// A simulation run failed.
    #[error(transparent)]
    Simulation(#[from] SimulationError),
}

/// Plans the quotas of `scenario`'s own load: the demand with no quota, both
/// systems at the current quotas, and the smallest quotas found on the
/// search's scale that meet `target` (the module docs say how).
///
/// ```
/// use palisade_sim::{PlanTarget, Scenario, plan};
///
/// let scenario = Scenario::from_toml_str(
///     r#"
///     duration = "3m"
///     clients = 20
///     arrivals = { kind = "poisson", per_client_per_minute = 1.0 }
///     [[models]]
///     id = "sim/a"
///     quota = { rpm = 10, tpm = 100000, output_burndown = 5.0 }
///     "#,
///     "example",
/// )
/// .unwrap();
/// let plan = plan(&scenario, &PlanTarget::default()).unwrap();
/// assert!(plan.target_met);
/// let a = &plan.models[0];
/// // 20 clients at 1/min ask about twice the 10 RPM the model has.
/// assert!(a.demand.rpm.steady > 15.0);
/// assert!(a.recommended.rpm.unwrap() > 10);
/// assert!(plan.at_current.naive.throttles > 0);
/// assert_eq!(plan.at_recommended.palisade.throttles, 0);
/// ```
pub fn plan(scenario: &Scenario, target: &PlanTarget) -> Result<QuotaPlan, PlanError> {
    plan_load(scenario, Load::Scenario, "scenario", target)
}

/// Plans the quotas of a recorded trace ([`Trace::bind`](crate::Trace::bind)),
/// each request at its own model, as [`plan`] plans a scenario's load.
pub fn plan_trace(trace: &BoundTrace, target: &PlanTarget) -> Result<QuotaPlan, PlanError> {
    plan_load(
        &trace.scenario,
        Load::Trace(&trace.requests),
        "trace",
        target,
    )
}

/// One candidate's outcome.
struct Tried {
    quotas: Vec<Quotas>,
    report: SystemReport,
    met: bool,
}

/// The search's state: what it runs against, and what it has tried.
struct Search<'a> {
    scenario: &'a Scenario,
    load: Load<'a>,
    summary: &'a LoadSummary,
    bounds: &'a [Bounds],
    max_queue_p99_ms: f64,
    /// Requests that failed with no quota at all (outages, server errors):
    /// a candidate may fail no more.
    failed_with_no_quota: u64,
    tried: Vec<Tried>,
    runs: u32,
}

impl Search<'_> {
    /// The outcome at scale `k` (its index in `tried`): from the run of the
    /// same quotas if there was one, else from a new run; `None` when that
    /// would take a run past [`MAX_SEARCH_RUNS`].
    fn at(&mut self, k: f64) -> Result<Option<usize>, SimulationError> {
        let quotas: Vec<Quotas> = self.bounds.iter().map(|b| b.at(k)).collect();
        if let Some(i) = self.tried.iter().position(|t| t.quotas == quotas) {
            return Ok(Some(i));
        }
        if self.runs >= MAX_SEARCH_RUNS {
            return Ok(None);
        }
        self.runs += 1;
        let candidate = with_quotas(self.scenario, &quotas);
        let outcome = run_one(
            &candidate,
            self.load,
            self.summary,
            PALISADE,
            &NoProgress,
            None,
        )?;
        let report = SystemReport::new(&candidate, &capacity(&candidate, self.summary), outcome);
        let met = report.throttles_seen_by_provider == 0
            && report.lost == 0
            && report.failed <= self.failed_with_no_quota
            && report.queue_ms.p99 <= self.max_queue_p99_ms;
        self.tried.push(Tried {
            quotas,
            report,
            met,
        });
        Ok(Some(self.tried.len() - 1))
    }

    /// Searches the scale; returns the chosen scale and its outcome's index
    /// (the smallest passing one, or the highest tried when none passed).
    fn run(&mut self) -> Result<Option<(f64, usize)>, SimulationError> {
        let mut below = 0.0;
        let mut highest = None;
        let mut passing = None;
        for k in UPWARD {
            let Some(i) = self.at(k)? else { break };
            highest = Some((k, i));
            if self.tried[i].met {
                passing = Some((k, i));
                break;
            }
            below = k;
        }
        let Some((mut above, mut best)) = passing else {
            return Ok(highest);
        };
        // Halving stops when the runs are spent; candidates that round to
        // quotas already tried cost nothing, so the halvings are bounded too.
        for _ in 0..MAX_HALVINGS {
            let mid = (below + above) / 2.0;
            let Some(i) = self.at(mid)? else { break };
            if self.tried[i].met {
                above = mid;
                best = i;
            } else {
                below = mid;
            }
        }
        Ok(Some((above, best)))
    }
}

/// The most halvings of the scale, runs or not (2^-16 of the interval).
const MAX_HALVINGS: u32 = 16;

fn plan_load(
    scenario: &Scenario,
    load: Load<'_>,
    kind: &'static str,
    target: &PlanTarget,
) -> Result<QuotaPlan, PlanError> {
    let unplannable = |message: &str| PlanError::Unplannable {
        scenario: scenario.name.clone(),
        message: message.to_owned(),
    };
    scenario
        .validate()
        .map_err(|e| unplannable(&e.to_string()))?;
    if scenario.agent.is_some() {
        return Err(unplannable(
            "it has an [agent] workload; the planner plans independent requests \
             (a scenario's own load or a trace)",
        ));
    }
    if matches!(load, Load::Trace(_)) && scenario.palisade.stack.is_some() {
        return Err(unplannable(
            "a trace runs one derived palisade stack per model; `[palisade.stack]` \
             applies to a scenario's own load only",
        ));
    }
    let summary = LoadSummary::of(arrivals(scenario, load));

    // The demand run, beside both systems at the current quotas.
    let mut unlimited = scenario.clone();
    for model in &mut unlimited.models {
        Quotas {
            rpm: None,
            tpm: None,
            itpm: None,
            otpm: None,
        }
        .set(&mut model.quota);
    }
    let logs: Vec<QuotaLog> = scenario
        .models
        .iter()
        .map(|_| QuotaLog::default())
        .collect();
    let (demand_run, current) = std::thread::scope(|scope| {
        let current = scope.spawn(|| simulate_load(scenario, load, &NoProgress));
        let demand = run_one(
            &unlimited,
            load,
            &summary,
            PALISADE,
            &NoProgress,
            Some(&logs),
        );
        let current = current
            .join()
            .map_err(|_| SimulationError::new("plan", "the simulation thread panicked"));
        (demand, current)
    });
    let current: SimulationReport = current??;
    let no_quota = SystemReport::new(&unlimited, &capacity(&unlimited, &summary), demand_run?);
    if no_quota.lost > 0 {
        return Err(
            SimulationError::new(PALISADE, "the demand run lost requests; this is a bug").into(),
        );
    }

    let bounds: Vec<Bounds> = scenario
        .models
        .iter()
        .zip(&logs)
        .map(|(model, log)| {
            let floors = (summary.largest_prompt, scenario.requests.max_tokens);
            Bounds::of(&log.events(), model, scenario.duration, floors)
        })
        .collect();
    let mut search = Search {
        scenario,
        load,
        summary: &summary,
        bounds: &bounds,
        max_queue_p99_ms: target.max_queue_p99.as_secs_f64() * 1e3,
        failed_with_no_quota: no_quota.failed,
        tried: Vec::new(),
        runs: 0,
    };
    let Some((scale, best)) = search.run()? else {
        return Err(SimulationError::new("plan", "the search made no run").into());
    };
    let search_runs = search.runs;
    let Tried {
        quotas: recommended,
        report: palisade,
        met,
    } = search.tried.swap_remove(best);

    // What a client without a limiter sees at the recommended quotas.
    let checked = with_quotas(scenario, &recommended);
    let naive = run_one(&checked, load, &summary, NAIVE, &NoProgress, None)?;
    let naive = SystemReport::new(&checked, &capacity(&checked, &summary), naive);

    let duration_s = scenario.duration.as_secs_f64();
    let outcomes = |naive: &SystemReport, palisade: &SystemReport, id: &str| ModelOutcomes {
        naive: ModelOutcome::of(naive.models.get(id)),
        palisade: ModelOutcome::of(palisade.models.get(id)),
    };
    let models = scenario
        .models
        .iter()
        .zip(bounds)
        .zip(&recommended)
        .map(|((model, bounds), recommended)| ModelPlan {
            id: model.id.clone(),
            output_burndown: model.quota.output_burndown,
            current: bounds.current,
            recommended: *recommended,
            demand: bounds.demand,
            at_current: outcomes(&current.naive, &current.palisade, &model.id),
            at_recommended: outcomes(&naive, &palisade, &model.id),
        })
        .collect();
    let runs = PlanRuns {
        total: 1 + 2 + search_runs + 1,
        demand: 1,
        at_current: 2,
        search: search_runs,
        search_limit: MAX_SEARCH_RUNS,
        naive_check: 1,
        scale: round(scale, 4),
    };
    Ok(QuotaPlan {
        version: PLAN_VERSION,
        source: PlanSource {
            kind,
            name: scenario.name.clone(),
            seed: scenario.seed,
            duration_s: round(duration_s, 3),
            requests: summary.requests,
        },
        target: PlanTargetReport {
            max_throttles: 0,
            max_failed: no_quota.failed,
            max_queue_p99_s: round(target.max_queue_p99.as_secs_f64(), 3),
        },
        target_met: met,
        runs,
        models,
        at_no_quota: SystemOutcome::of(&no_quota, duration_s),
        at_current: PlanOutcome {
            naive: SystemOutcome::of(&current.naive, duration_s),
            palisade: SystemOutcome::of(&current.palisade, duration_s),
        },
        at_recommended: PlanOutcome {
            naive: SystemOutcome::of(&naive, duration_s),
            palisade: SystemOutcome::of(&palisade, duration_s),
        },
        current_report: current.clone(),
    })
}

/// The arrivals of `load`, in time order.
fn arrivals<'a>(scenario: &Scenario, load: Load<'a>) -> Box<dyn Iterator<Item = Arrival> + 'a> {
    match load {
        Load::Scenario => Box::new(scenario.offered_load()),
        Load::Trace(requests) => Box::new(requests.iter().copied()),
    }
}

/// `scenario` with each model's quotas replaced.
fn with_quotas(scenario: &Scenario, quotas: &[Quotas]) -> Scenario {
    let mut s = scenario.clone();
    for (model, q) in s.models.iter_mut().zip(quotas) {
        q.set(&mut model.quota);
    }
    s
}

/// One model's search interval: its demand, and its quotas at scale 0
/// (steady) and 1 (the peak that refuses nothing), per quota window.
struct Bounds {
    demand: ModelDemand,
    current: Quotas,
    rpm: Interval,
    tpm: Interval,
    itpm: Interval,
    otpm: Interval,
}

/// One quota's interval on the scale, and the least it may be.
struct Interval {
    steady: f64,
    peak: f64,
    floor: f64,
    max: f64,
}

impl Interval {
    fn at(&self, k: f64) -> f64 {
        (self.steady + k * (self.peak - self.steady).max(0.0))
            .ceil()
            .max(self.floor)
            .clamp(1.0, self.max)
    }
}

impl Bounds {
    /// `floors`: the largest prompt and the largest `max_tokens` of the load
    /// (an input or output quota below them refuses that call).
    fn of(
        events: &[QuotaEvent],
        model: &SimulatedModelConfig,
        duration: Duration,
        (largest_prompt, largest_max_tokens): (u32, u32),
    ) -> Self {
        let demand = ModelDemand::of(events, &model.quota, duration);
        let per_window = model.quota.window.as_secs_f64() / 60.0;
        let window = |rate: &crate::plan_demand::Rate, floor: f64, max: f64| Interval {
            steady: rate.steady * per_window,
            // Per minute; the search's upward steps cover what a longer
            // window or a reservation adds.
            peak: rate.peak * per_window.max(1.0),
            floor,
            max,
        };
        Self {
            rpm: Interval {
                steady: demand.rpm.steady * per_window,
                peak: ModelDemand::peak_requests_per(events, model.quota.window) as f64,
                floor: 1.0,
                max: f64::from(MAX_RPM),
            },
            tpm: Interval {
                steady: demand.tpm.steady * per_window,
                peak: demand.peak_tpm_reserved as f64,
                floor: demand.largest_reservation.max(1) as f64,
                max: MAX_TPM as f64,
            },
            itpm: window(
                &demand.counted_input_tpm,
                f64::from(largest_prompt),
                MAX_TPM as f64,
            ),
            otpm: window(
                &demand.output_tpm,
                f64::from(largest_max_tokens),
                MAX_TPM as f64,
            ),
            current: Quotas::of(&model.quota),
            demand,
        }
    }

    /// The quotas at scale `k`, for each quota the model has; a model with
    /// none gets requests and tokens per minute (Bedrock's pair).
    fn at(&self, k: f64) -> Quotas {
        let c = self.current;
        if self.demand.requests == 0 {
            return c;
        }
        let none = c.rpm.is_none() && c.tpm.is_none() && c.itpm.is_none() && c.otpm.is_none();
        Quotas {
            rpm: (none || c.rpm.is_some()).then(|| self.rpm.at(k) as u32),
            tpm: (none || c.tpm.is_some()).then(|| self.tpm.at(k) as u64),
            itpm: c.itpm.map(|_| self.itpm.at(k) as u64),
            otpm: c.otpm.map(|_| self.otpm.at(k) as u64),
        }
    }
}
