//! Runs an agent workload ([`AgentWorkload`]) through the palisade stack
//! against the scenario's simulated models, in virtual time, and reports
//! tokens, cost and quota use ([`AgentReport`]).
//!
//! Each conversation is a task: it sends its whole context, waits for the
//! answer, runs the tool (a drawn delay), appends the call and its result,
//! and sends again, so a conversation's turns never overlap and a slow or
//! queued answer delays the rest of it, as in a real agent loop. A call
//! that fails (after the stack's retries and fallback) or misses its
//! deadline ends the conversation.
//!
//! The conversations — start times, tool results, tool times — are drawn
//! from the scenario's seed before the run, so the run with cache points and
//! the run without see the same work; everything else is deterministic as in
//! [`simulate`](crate::simulate): one thread, paused time, seeded draws.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use palisade_core::{HeuristicEstimator, Provider, SharedProvider, TokenEstimator, Usage};
use tokio::time::Instant;

use crate::agent::{AgentWorkload, Conversation, ConversationPlan};
use crate::agent_report::{AgentModelReport, AgentReport, CacheComparison};
use crate::distribution::Distribution;
use crate::limits::duration_from_secs;
use crate::palisade_stack::Prompts;
use crate::percentiles::{PRECISE, Percentiles};
use crate::provider::SimulatedProvider;
use crate::report::round;
use crate::rng::rng_for;
use crate::scenario::Scenario;
use crate::simulation::SimulationError;

/// The system's name in errors.
const AGENT: &str = "agent";
/// How often each model's quota use is sampled (simulated time).
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Framing tokens of one tool turn beyond its output and result (ids, the
/// tool name, block and message overheads): a generous bound, for sizing
/// the limiter's burst only.
const TURN_FRAMING_BOUND: u32 = 64;

/// Runs the scenario's `[agent]` workload as written (with or without cache
/// points, as its `cache_points` says) through the palisade stack.
pub fn simulate_agent(scenario: &Scenario) -> Result<AgentReport, SimulationError> {
    let workload = agent_of(scenario)?;
    run_agent(scenario, workload)
}

/// Runs the scenario's `[agent]` workload twice, with cache points and
/// without (whatever its `cache_points` says), on the same conversations.
/// The two runs share nothing and run side by side.
pub fn compare_cache_points(scenario: &Scenario) -> Result<CacheComparison, SimulationError> {
    let workload = agent_of(scenario)?;
    let with = AgentWorkload {
        cache_points: true,
        ..workload.clone()
    };
    let without = AgentWorkload {
        cache_points: false,
        ..workload.clone()
    };
    std::thread::scope(|scope| {
        let cached = scope.spawn(|| run_agent(scenario, &with));
        let uncached = run_agent(scenario, &without);
        let cached = cached
            .join()
            .map_err(|_| SimulationError::new(AGENT, "the simulation thread panicked"))?;
        Ok(CacheComparison {
            with_cache_points: cached?,
            without_cache_points: uncached?,
        })
    })
}

fn agent_of(scenario: &Scenario) -> Result<&AgentWorkload, SimulationError> {
    scenario
        .validate()
        .map_err(|e| SimulationError::new("scenario", e.to_string()))?;
    scenario.agent.as_ref().ok_or_else(|| {
        SimulationError::new(
            "scenario",
            "has no [agent] table: an agent simulation needs an agent workload",
        )
    })
}

/// The conversations of the run: Poisson starts over the scenario's
/// duration, each with its own draws.
fn plans(scenario: &Scenario, workload: &AgentWorkload) -> Vec<ConversationPlan> {
    let mut starts = rng_for(scenario.seed, "agent:starts");
    let gap = Distribution::Exponential {
        mean: 60.0 / workload.conversations_per_minute,
    };
    let horizon = scenario.duration.as_secs_f64();
    let mut plans = Vec::new();
    let mut t = gap.sample(&mut starts);
    while t < horizon {
        let index = plans.len() as u64;
        let mut rng = rng_for(scenario.seed, &format!("agent:conversation:{index}"));
        plans.push(workload.plan(index, duration_from_secs(t), &mut rng));
        t += gap.sample(&mut starts);
    }
    plans
}

/// What a run adds up as conversations go.
#[derive(Debug)]
struct AgentTally {
    calls: u64,
    calls_completed: u64,
    failed_by_kind: BTreeMap<String, u64>,
    completed: u64,
    failed: u64,
    /// Answers from another model than the one that answered the same
    /// conversation's previous turn.
    model_switches: u64,
    /// Per model: usage of its answers and the answers counted.
    usage: Vec<(Usage64, u64)>,
    /// Per turn: prompt tokens summed, answers counted.
    by_turn: Vec<(u64, u64)>,
    call_latency: Percentiles,
    conversation: Percentiles,
}

/// [`Usage`] summed over many calls.
#[derive(Debug, Clone, Copy, Default)]
struct Usage64 {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
    cache_write_1h: u64,
}

impl Usage64 {
    fn add(&mut self, u: &Usage) {
        self.input += u64::from(u.input_tokens);
        self.output += u64::from(u.output_tokens);
        self.cache_read += u64::from(u.cache_read_tokens);
        self.cache_write += u64::from(u.cache_write_tokens);
        self.cache_write_1h += u64::from(u.cache_write_1h_tokens);
    }
}

#[derive(Debug, Clone)]
struct SharedAgentTally(Arc<Mutex<AgentTally>>);

impl SharedAgentTally {
    fn lock(&self) -> MutexGuard<'_, AgentTally> {
        // Every update completes under the lock: a panic elsewhere leaves
        // the tally consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Each model's quota samples.
#[derive(Debug, Clone, Copy, Default)]
struct QuotaUse {
    peak: u64,
    sum_in_duration: u128,
    samples_in_duration: u64,
}

fn run_agent(
    scenario: &Scenario,
    workload: &AgentWorkload,
) -> Result<AgentReport, SimulationError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| {
            SimulationError::new(AGENT, format!("cannot start the simulation runtime: {e}"))
        })?;
    runtime
        .block_on(drive(scenario, workload))
        .map_err(|e| SimulationError::new(AGENT, e))
}

/// A conversation's slot in the count of those still running; dropped when
/// its task ends, however it ends.
struct Running(Arc<AtomicU64>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn drive(scenario: &Scenario, workload: &AgentWorkload) -> Result<AgentReport, String> {
    let plans = plans(scenario, workload);
    let epoch = Instant::now();
    let mut models = Vec::with_capacity(scenario.models.len());
    for config in &scenario.models {
        models.push(
            SimulatedProvider::starting_at(config.clone(), scenario.seed, epoch)
                .map_err(|e| e.to_string())?,
        );
    }
    let shared: Vec<SharedProvider> = models
        .iter()
        .map(|m| Arc::new(m.clone()) as SharedProvider)
        .collect();
    let all: Vec<usize> = (0..models.len()).collect();
    let prompts = planned_prompts(workload, &plans).await;
    let system = crate::palisade_stack::build(scenario, &shared, &all, prompts)?;
    let model_ids: Arc<[String]> = scenario.models.iter().map(|m| m.id.clone()).collect();

    let tally = SharedAgentTally(Arc::new(Mutex::new(AgentTally {
        calls: 0,
        calls_completed: 0,
        failed_by_kind: BTreeMap::new(),
        completed: 0,
        failed: 0,
        model_switches: 0,
        usage: vec![(Usage64::default(), 0); models.len()],
        by_turn: vec![(0, 0); workload.tool_calls as usize + 1],
        call_latency: Percentiles::new(PRECISE),
        conversation: Percentiles::new(PRECISE),
    })));
    let running = Arc::new(AtomicU64::new(plans.len() as u64));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_quotas(
        models.clone(),
        epoch,
        scenario.duration,
        done.clone(),
    ));

    let mut last_start = Duration::ZERO;
    let conversations = plans.len() as u64;
    for plan in plans {
        tokio::time::sleep_until(epoch + plan.start).await;
        last_start = plan.start;
        let slot = Running(running.clone());
        let task = ConversationTask {
            plan,
            workload: workload.clone(),
            system: system.clone(),
            tally: tally.clone(),
            model_ids: model_ids.clone(),
        };
        drop(tokio::spawn(async move {
            let _slot = slot;
            task.run().await;
        }));
    }

    // A conversation ends by then: each call by its deadline, each tool
    // within its longest draw.
    let turns = workload.tool_calls + 1;
    let longest_tool = Duration::from_secs(3_600);
    let give_up = epoch
        + last_start
        + workload.call_deadline.saturating_mul(turns)
        + longest_tool.saturating_mul(workload.tool_calls)
        + Duration::from_secs(60);
    while running.load(Ordering::SeqCst) > 0 && Instant::now() < give_up {
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    done.store(true, Ordering::SeqCst);
    let quota_use = sampler
        .await
        .map_err(|e| format!("the quota sampler failed: {e}"))?;
    let lost = running.load(Ordering::SeqCst);
    drop(system);

    let t = tally.lock();
    Ok(report(
        scenario,
        workload,
        &t,
        conversations,
        lost,
        &models,
        &quota_use,
    ))
}

/// The prompts of the run, for sizing the limiter: an upper bound on the
/// largest (the first request, plus every planned turn at its longest) and
/// the mean of those bounds over every planned call.
async fn planned_prompts(workload: &AgentWorkload, plans: &[ConversationPlan]) -> Prompts {
    let opening = Conversation::start(workload, u64::MAX).request();
    let first = HeuristicEstimator.estimate_request(&opening).await;
    let per_turn = workload.max_tokens.saturating_add(TURN_FRAMING_BOUND);
    let (mut largest, mut total, mut calls) = (first, 0.0, 0u64);
    for plan in plans {
        let mut prompt = first;
        total += f64::from(prompt);
        calls += 1;
        for tool in &plan.tools {
            prompt = prompt
                .saturating_add(tool.result_tokens)
                .saturating_add(per_turn);
            total += f64::from(prompt);
            calls += 1;
        }
        largest = largest.max(prompt);
    }
    let mean = if calls == 0 {
        f64::from(first)
    } else {
        total / calls as f64
    };
    Prompts { largest, mean }
}

/// Samples every model's quota use each [`SAMPLE_EVERY`] until `done`.
async fn sample_quotas(
    models: Vec<SimulatedProvider>,
    epoch: Instant,
    duration: Duration,
    done: Arc<AtomicBool>,
) -> Vec<QuotaUse> {
    let mut uses = vec![QuotaUse::default(); models.len()];
    while !done.load(Ordering::SeqCst) {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let in_duration = Instant::now().saturating_duration_since(epoch) <= duration;
        for (model, quota_use) in models.iter().zip(&mut uses) {
            let tokens = model.quota_tokens_in_window();
            quota_use.peak = quota_use.peak.max(tokens);
            if in_duration {
                quota_use.sum_in_duration += u128::from(tokens);
                quota_use.samples_in_duration += 1;
            }
        }
    }
    uses
}

struct ConversationTask {
    plan: ConversationPlan,
    workload: AgentWorkload,
    system: SharedProvider,
    tally: SharedAgentTally,
    model_ids: Arc<[String]>,
}

impl ConversationTask {
    async fn run(self) {
        let started = Instant::now();
        let mut conversation = Conversation::start(&self.workload, self.plan.index);
        let turns = self.plan.tools.len() + 1;
        let mut previous: Option<usize> = None;
        for turn in 0..turns {
            let deadline = Instant::now() + self.workload.call_deadline;
            let request = conversation.request().with_deadline(deadline);
            let sent = Instant::now();
            self.tally.lock().calls += 1;
            let outcome = tokio::time::timeout_at(deadline, self.system.complete(request)).await;
            let answer = match outcome {
                Ok(Ok(answer)) => answer,
                Ok(Err(err)) => return self.failed(err.kind().as_str()),
                Err(_) => return self.failed("timeout"),
            };
            let usage = answer.usage.unwrap_or_default();
            let model = self
                .model_ids
                .iter()
                .position(|id| id == answer.served_by.as_str())
                .unwrap_or(0);
            {
                let mut t = self.tally.lock();
                t.calls_completed += 1;
                if previous.is_some_and(|p| p != model) {
                    t.model_switches += 1;
                }
                t.call_latency.record(sent.elapsed());
                if let Some((sum, n)) = t.usage.get_mut(model) {
                    sum.add(&usage);
                    *n += 1;
                }
                if let Some((sum, n)) = t.by_turn.get_mut(turn) {
                    *sum += usage.total_input();
                    *n += 1;
                }
            }
            previous = Some(model);
            if let Some(tool) = self.plan.tools.get(turn) {
                tokio::time::sleep(tool.time).await;
                conversation.push_tool_turn(usage.output_tokens, tool.result_tokens);
            }
        }
        let mut t = self.tally.lock();
        t.completed += 1;
        t.conversation.record(started.elapsed());
    }

    fn failed(&self, kind: &str) {
        let mut t = self.tally.lock();
        t.failed += 1;
        *t.failed_by_kind.entry(kind.to_owned()).or_default() += 1;
    }
}

fn report(
    scenario: &Scenario,
    workload: &AgentWorkload,
    t: &AgentTally,
    conversations: u64,
    lost: u64,
    models: &[SimulatedProvider],
    quota_use: &[QuotaUse],
) -> AgentReport {
    let pct = |part: f64, whole: f64| {
        if whole > 0.0 {
            round(part * 100.0 / whole, 2)
        } else {
            0.0
        }
    };
    let mut total = Usage64::default();
    let mut cost = 0.0;
    let mut model_reports = BTreeMap::new();
    for (i, (config, model)) in scenario.models.iter().zip(models).enumerate() {
        let (usage, completed) = t.usage.get(i).copied().unwrap_or_default();
        total.input += usage.input;
        total.output += usage.output;
        total.cache_read += usage.cache_read;
        total.cache_write += usage.cache_write;
        total.cache_write_1h += usage.cache_write_1h;
        let model_cost = config.price.cost_of_totals(
            usage.input,
            usage.output,
            usage.cache_read,
            usage.cache_write,
        );
        cost += model_cost;
        let stats = model.stats();
        let quota = quota_use.get(i).copied().unwrap_or_default();
        let mean = if quota.samples_in_duration > 0 {
            quota.sum_in_duration as f64 / quota.samples_in_duration as f64
        } else {
            0.0
        };
        let tpm = config.quota.tpm;
        model_reports.insert(
            config.id.clone(),
            AgentModelReport {
                calls: stats.calls,
                completed,
                throttled: stats.throttled(),
                input_tokens: usage.input,
                cache_read_tokens: usage.cache_read,
                cache_write_tokens: usage.cache_write,
                output_tokens: usage.output,
                cost_usd: round(model_cost, 4),
                cache_reads: config.prompt_cache.cache_reads,
                tpm_limit: tpm,
                peak_tpm_used: quota.peak,
                mean_tpm_used: round(mean, 0),
                peak_tpm_pct: tpm.map(|l| pct(quota.peak as f64, l as f64)),
                mean_tpm_pct: tpm.map(|l| pct(mean, l as f64)),
            },
        );
    }
    let prompt = total.input + total.cache_read + total.cache_write;
    AgentReport {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        duration_s: round(scenario.duration.as_secs_f64(), 3),
        cache_points: workload.cache_points,
        conversations,
        conversations_completed: t.completed,
        conversations_failed: t.failed,
        conversations_lost: lost,
        calls: t.calls,
        calls_completed: t.calls_completed,
        calls_failed_by_kind: t.failed_by_kind.clone(),
        model_switches: t.model_switches,
        prompt_tokens: prompt,
        input_tokens: total.input,
        cache_read_tokens: total.cache_read,
        cache_write_tokens: total.cache_write,
        cache_write_1h_tokens: total.cache_write_1h,
        output_tokens: total.output,
        cache_read_pct: pct(total.cache_read as f64, prompt as f64),
        cost_usd: round(cost, 4),
        cost_per_conversation_usd: if t.completed > 0 {
            round(cost / t.completed as f64, 5)
        } else {
            0.0
        },
        prompt_tokens_by_turn: t
            .by_turn
            .iter()
            .map(|&(sum, n)| {
                if n > 0 {
                    round(sum as f64 / n as f64, 1)
                } else {
                    0.0
                }
            })
            .collect(),
        call_latency_ms: t.call_latency.summary(),
        conversation_ms: t.conversation.summary(),
        models: model_reports,
    }
}
