//! The submitter: starts what the run needs (Redis unless `REDIS_URL` is
//! set, the fake model), spawns two worker processes, submits the batch to
//! apalis once both are registered, polls every job's state, cancels one
//! job before it starts, and prints the summary.

use std::collections::BTreeMap;
use std::error::Error;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::{BackendExpose, State, Storage, TaskId};
use palisade::redis::redact;
use palisade::redis::testing::RedisServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::{DemoArgs, WorkerArgs};
use crate::job::batch;
use crate::model::FakeModel;
use crate::queue;
use crate::report::{SUMMARY_PREFIX, Summary, WorkerStats};
use crate::settings::{CONCURRENCY, MODEL, MODEL_LATENCY, QUOTA, window_bound};
use crate::windows;

const WORKERS: [&str; 2] = ["worker-a", "worker-b"];
/// Cancel a job once this many are done: the cancel lands mid-batch, early
/// enough that the last jobs have not started.
const CANCEL_AFTER_DONE: usize = 2;
/// How often the submitter polls the job states.
const POLL: Duration = Duration::from_millis(200);
/// A batch that has not finished by then has gone wrong.
const BATCH_DEADLINE: Duration = Duration::from_secs(180);

pub(crate) async fn run(args: DemoArgs) -> Result<Summary, Box<dyn Error>> {
    let (redis_url, _server) = redis_for_the_run()?;
    println!("Redis: {}", redact(&redis_url));
    let model = FakeModel::start().await?;
    println!(
        "model: fake OpenAI-compatible server at {}",
        model.server.base_url()
    );

    // Fresh names per run, so a shared Redis carries nothing between runs.
    let run_id = format!("{}-{}", std::process::id(), unix_millis());
    let namespace = format!("palisade-job-queue:{run_id}");
    let limit_key = format!("example/job-queue/{MODEL}/{run_id}");
    let mut storage = queue::storage(&redis_url, &namespace).await?;

    let mut workers = Vec::new();
    for name in WORKERS {
        let args = WorkerArgs {
            name: name.to_owned(),
            redis_url: redis_url.clone(),
            llm_url: model.server.base_url(),
            namespace: namespace.clone(),
            limit_key: limit_key.clone(),
        };
        workers.push(WorkerProcess::spawn(&args)?);
    }

    // apalis-redis 0.7.4 re-enqueues every registered worker's claimed jobs
    // when a worker starts (`reenqueue_orphaned` with "now" as the cut-off),
    // so a worker that joins while another holds jobs makes them run twice.
    // Submitting once both have registered avoids that.
    wait_for_workers(&storage, WORKERS.len()).await?;
    println!("both workers are registered with apalis");

    let mut jobs: Vec<(u32, TaskId)> = Vec::new();
    for doc in batch(args.documents) {
        let number = doc.number;
        let parts = storage.push(doc).await?;
        jobs.push((number, parts.task_id));
    }
    println!(
        "submitted {} documents to the apalis queue {namespace}\n\
         shared quota: {} requests per {:?} (burst {}) between all workers; \
         each worker runs {CONCURRENCY} jobs at a time, {} ms per model call",
        jobs.len(),
        QUOTA.amount,
        QUOTA.period,
        QUOTA.burst.unwrap_or(QUOTA.amount),
        MODEL_LATENCY.as_millis()
    );

    let (states, cancelled) = follow(&mut storage, &jobs).await?;

    // Closing a worker's standard input tells it the batch is over.
    let mut outputs = BTreeMap::new();
    for worker in workers {
        let (name, output) = worker.finish().await?;
        outputs.insert(name, output);
    }

    let summary = summarise(&jobs, &states, &outputs, &model);
    print_summary(&summary, &states, cancelled);
    println!("{SUMMARY_PREFIX}{}", serde_json::to_string(&summary)?);
    Ok(summary)
}

/// Waits until `count` workers are registered in the queue
/// (`BackendExpose::list_workers`), for at most 30 s.
async fn wait_for_workers(
    storage: &apalis_redis::RedisStorage<crate::job::Document>,
    count: usize,
) -> Result<(), Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while storage.list_workers().await?.len() < count {
        if Instant::now() > deadline {
            return Err(format!("{count} workers did not register with apalis within 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The Redis at `REDIS_URL`, else a throwaway `redis-server` (stopped when
/// the returned guard drops).
fn redis_for_the_run() -> Result<(String, Option<RedisServer>), Box<dyn Error>> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Ok((url, None)),
        _ => {
            let server = RedisServer::start().map_err(|err| {
                format!(
                    "REDIS_URL is not set and no redis-server could be started ({err}); \
                     install one (apt-get install -y redis-server) or set REDIS_URL"
                )
            })?;
            Ok((server.url(), Some(server)))
        }
    }
}

/// Polls apalis until every job is done or killed, printing the progress
/// whenever it changes and cancelling one queued job mid-batch. Answers the
/// last states and the cancelled document, if one was.
async fn follow(
    storage: &mut apalis_redis::RedisStorage<crate::job::Document>,
    jobs: &[(u32, TaskId)],
) -> Result<(Vec<(u32, State)>, Option<u32>), Box<dyn Error>> {
    let started = Instant::now();
    let mut last = String::new();
    let mut cancelled = None;
    loop {
        let all = queue::states(storage).await?;
        let states: Vec<(u32, State)> = jobs
            .iter()
            .map(|(number, id)| {
                let state = all
                    .get(id)
                    .map_or(State::Pending, |(_, state)| state.clone());
                (*number, state)
            })
            .collect();
        let count = |wanted: State| states.iter().filter(|(_, s)| *s == wanted).count();
        let (done, killed) = (count(State::Done), count(State::Killed));
        let line = format!(
            "done {done}/{} · running {} · pending {} · cancelled {killed} · failed {}",
            jobs.len(),
            count(State::Running),
            count(State::Pending),
            count(State::Failed),
        );
        if line != last {
            println!(
                "[{:>5.1}s] progress: {line}",
                started.elapsed().as_secs_f64()
            );
            last = line;
        }
        if done + killed == jobs.len() {
            return Ok((states, cancelled));
        }
        if cancelled.is_none() && done >= CANCEL_AFTER_DONE {
            // The last document still queued; failing that, the last one a
            // worker has claimed (apalis claims ahead of its concurrency, and
            // the worker reads the job back before it starts it).
            let last_in = |wanted: State| {
                jobs.iter()
                    .zip(&states)
                    .rev()
                    .find(|(_, (_, state))| *state == wanted)
                    .map(|((number, id), _)| (*number, id))
            };
            let target = last_in(State::Pending)
                .map(|job| (job, "is still queued"))
                .or_else(|| last_in(State::Running).map(|job| (job, "is claimed by a worker")));
            if let Some(((number, id), where_it_is)) = target
                && queue::request_cancel(storage, id).await?
            {
                println!(
                    "cancel: doc {number:02} (task {id}) {where_it_is}; asked apalis to cancel it"
                );
                cancelled = Some(number);
            }
        }
        if started.elapsed() > BATCH_DEADLINE {
            return Err(
                format!("the batch did not finish within {BATCH_DEADLINE:?}: {last}").into(),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What the submitter learnt from one worker's standard output.
#[derive(Debug, Default)]
struct WorkerOutput {
    jobs_done: u32,
    stats: Option<WorkerStats>,
}

/// A worker child process whose output is relayed, prefixed with its name.
#[derive(Debug)]
struct WorkerProcess {
    name: String,
    child: Child,
    stdin: ChildStdin,
    relay: JoinHandle<WorkerOutput>,
}

impl WorkerProcess {
    fn spawn(args: &WorkerArgs) -> Result<Self, Box<dyn Error>> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("a worker's standard streams were not piped".into());
        };
        let name = args.name.clone();
        let prefix = name.clone();
        let relay = tokio::spawn(async move {
            let mut output = WorkerOutput::default();
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(stats) = WorkerStats::from_line(&line) {
                    output.stats = Some(stats);
                    continue;
                }
                if line.starts_with("doc ") && line.contains(" done: ") {
                    output.jobs_done += 1;
                }
                println!("  [{prefix}] {line}");
            }
            output
        });
        Ok(Self {
            name,
            child,
            stdin,
            relay,
        })
    }

    /// Closes the worker's standard input and waits for it to exit (it is
    /// killed if it has not within 30 s).
    async fn finish(self) -> Result<(String, WorkerOutput), Box<dyn Error>> {
        let Self {
            name,
            mut child,
            stdin,
            relay,
        } = self;
        drop(stdin);
        let status = match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                child.kill().await?;
                return Err(
                    format!("{name} did not stop within 30 s of the end of the batch").into(),
                );
            }
        };
        let output = relay.await?;
        if !status.success() {
            return Err(format!("{name} exited with {status}").into());
        }
        Ok((name, output))
    }
}

fn summarise(
    jobs: &[(u32, TaskId)],
    states: &[(u32, State)],
    outputs: &BTreeMap<String, WorkerOutput>,
    model: &FakeModel,
) -> Summary {
    let done = states.iter().filter(|(_, s)| *s == State::Done).count() as u32;
    let cancelled: Vec<u32> = states
        .iter()
        .filter(|(_, s)| *s == State::Killed)
        .map(|(number, _)| *number)
        .collect();
    let arrivals = model.arrivals();
    let counts = windows::count(&arrivals, QUOTA.period);
    Summary {
        submitted: jobs.len() as u32,
        done,
        other: jobs.len() as u32 - done - cancelled.len() as u32,
        cancelled,
        jobs_by_worker: outputs
            .iter()
            .map(|(name, output)| (name.clone(), output.jobs_done))
            .collect(),
        admitted_by_worker: outputs
            .iter()
            .map(|(name, output)| {
                (
                    name.clone(),
                    output.stats.as_ref().map_or(0, |s| s.admitted),
                )
            })
            .collect(),
        waited_secs_by_worker: outputs
            .iter()
            .map(|(name, output)| {
                let waited = output.stats.as_ref().map_or(0.0, |s| s.waited_secs);
                (name.clone(), waited)
            })
            .collect(),
        model_calls: arrivals.len() as u64,
        calls_per_window: counts.fixed,
        busiest_window: counts.busiest,
        window_bound: window_bound(),
        period_secs: QUOTA.period.as_secs_f64(),
    }
}

fn print_summary(summary: &Summary, states: &[(u32, State)], cancelled: Option<u32>) {
    println!("\nsummary ({} documents):", summary.submitted);
    for state in [
        State::Done,
        State::Killed,
        State::Failed,
        State::Pending,
        State::Running,
    ] {
        let numbers: Vec<String> = states
            .iter()
            .filter(|(_, s)| *s == state)
            .map(|(number, _)| format!("{number:02}"))
            .collect();
        if !numbers.is_empty() {
            println!("  {state:<7} {:>2}: {}", numbers.len(), numbers.join(" "));
        }
    }
    match cancelled {
        Some(number) if summary.cancelled.contains(&number) => {
            println!("  doc {number:02}: cancelled before it started; apalis reports it Killed");
        }
        Some(number) => println!("  doc {number:02}: cancel requested, but it ran"),
        None => println!("  no job was still queued when the cancel was due"),
    }
    for (name, jobs) in &summary.jobs_by_worker {
        let admitted = summary.admitted_by_worker.get(name).copied().unwrap_or(0);
        let waited = summary
            .waited_secs_by_worker
            .get(name)
            .copied()
            .unwrap_or(0.0);
        println!(
            "  {name}: {jobs} jobs done, {admitted} calls admitted by its limiter, \
             {waited:.1} s waited for the shared quota in all"
        );
    }
    let windows: Vec<String> = summary
        .calls_per_window
        .iter()
        .map(u64::to_string)
        .collect();
    println!(
        "  model calls: {} in all; per {}s window from the first: [{}]",
        summary.model_calls,
        summary.period_secs,
        windows.join(", ")
    );
    let unthrottled =
        (WORKERS.len() * CONCURRENCY) as f64 / MODEL_LATENCY.as_secs_f64() * summary.period_secs;
    println!(
        "  busiest {}s window: {} calls; the shared quota allows {} ({} per period + burst {}); \
         unthrottled the two workers could start ~{unthrottled:.0}",
        summary.period_secs,
        summary.busiest_window,
        summary.window_bound,
        QUOTA.amount,
        QUOTA.burst.unwrap_or(QUOTA.amount),
    );
    println!(
        "  quota held: {}",
        if summary.quota_held() { "yes" } else { "NO" }
    );
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}
