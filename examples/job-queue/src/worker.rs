//! One worker process: an apalis worker on the Redis queue whose job
//! handler calls the model through a palisade stack. The stack's limiter
//! counts in Redis (`RedisLimitStore`), under the same key in every worker
//! process, so all workers together stay within one quota.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{
    Data, Error, Monitor, Storage, TaskId, WorkerBuilder, WorkerBuilderExt, WorkerFactoryFn,
};
use apalis_redis::RedisStorage;
use palisade::limit::{Limiter, RateLimit};
use palisade::openai::OpenAiProvider;
use palisade::redis::{RedisConfig, RedisConnection, RedisLimitStore};
use palisade::stack::{CandidateConfig, FallbackStack, StackBuilder, StackConfig};
use palisade::{ChatRequest, Provider};
use tokio::io::AsyncReadExt;

use crate::args::WorkerArgs;
use crate::job::{Analysis, Document};
use crate::queue;
use crate::report::WorkerStats;
use crate::settings::{API_KEY, CONCURRENCY, LEASE_TTL, MODEL, limiter_config};

/// What every job of this worker shares.
#[derive(Debug)]
struct Shared {
    name: String,
    stack: FallbackStack,
    storage: RedisStorage<Document>,
}

/// Runs the worker until its standard input closes (the submitter's signal
/// that the batch is over), then prints its limiter's figures.
pub(crate) async fn run(args: WorkerArgs) -> Result<(), Box<dyn StdError>> {
    // The shared quota: one Redis client per process, the same key everywhere.
    let connection = RedisConnection::connect(RedisConfig::with_url(&args.redis_url)).await?;
    let store = Arc::new(RedisLimitStore::new(connection));
    store.preload().await?;
    let limiter = Limiter::with_store(limiter_config(), store.clone(), &args.limit_key, LEASE_TTL)?;

    // The model, through the real OpenAI-compatible client.
    let openai = OpenAiProvider::builder(MODEL)
        .base_url(&args.llm_url)
        .api_key(API_KEY)
        .build()?;
    let stack = StackBuilder::new(StackConfig {
        name: format!("job-queue-{}", args.name),
        candidates: vec![CandidateConfig::new(MODEL)],
        ..StackConfig::default()
    })
    .provider(MODEL, RateLimit::new(openai, limiter.clone()))
    .build()?;

    let storage = queue::storage(&args.redis_url, &args.namespace).await?;
    let shared = Arc::new(Shared {
        name: args.name.clone(),
        stack,
        storage: storage.clone(),
    });
    let worker = WorkerBuilder::new(&args.name)
        .concurrency(CONCURRENCY)
        .data(shared)
        .backend(storage)
        .build_fn(analyse);
    println!(
        "ready: {CONCURRENCY} jobs at a time, limiter key {}",
        args.limit_key
    );

    Monitor::new()
        .register(worker)
        .shutdown_timeout(Duration::from_secs(10))
        .run_with_signal(stdin_closed())
        .await?;

    let limits = limiter.stats();
    let stats = WorkerStats {
        admitted: limits.admitted,
        waited_secs: limits.waited_total_secs,
        redis_calls: store.stats().calls,
    };
    println!("{}", stats.to_line());
    Ok(())
}

/// One job: read the stored job back (a cancel may have landed after the
/// worker fetched it), then analyse the document through the stack.
async fn analyse(
    doc: Document,
    task_id: TaskId,
    shared: Data<Arc<Shared>>,
) -> Result<Analysis, Error> {
    let mut storage = shared.storage.clone();
    let stored = storage.fetch_by_id(&task_id).await.map_err(failed)?;
    if stored.is_some_and(|job| job.args.cancel_requested) {
        println!("doc {:02} cancelled before it started: aborted", doc.number);
        return Err(Error::Abort(Arc::new("cancelled by the submitter".into())));
    }
    let request = ChatRequest::user(doc.text)
        .with_system("You analyse documents: obligations, risks, dates.")
        .with_max_tokens(256)
        .with_timeout(Duration::from_secs(30));
    let answer = shared.stack.complete(request).await.map_err(failed)?;
    let summary = answer.text_content();
    println!("doc {:02} done: {} — {summary}", doc.number, doc.title);
    Ok(Analysis {
        number: doc.number,
        worker: shared.name.clone(),
        summary,
    })
}

/// A failure apalis may retry (the job's `max_attempts`).
fn failed(err: impl StdError + Send + Sync + 'static) -> Error {
    Error::Failed(Arc::new(Box::new(err)))
}

/// Resolves when standard input reaches its end.
async fn stdin_closed() -> std::io::Result<()> {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await? > 0 {}
    Ok(())
}
