//! The apalis Redis storage both sides open, and the job states read back
//! from it: submission, status and cancellation all go through apalis.

use std::collections::HashMap;
use std::time::Duration;

use apalis::prelude::{BackendExpose, State, Storage, TaskId};
use apalis_redis::{Config, RedisError, RedisStorage};

use crate::job::Document;
use crate::settings::CONCURRENCY;

/// The queue under `namespace` (one per run, so a shared Redis does not mix
/// runs). A worker takes at most [`CONCURRENCY`] jobs at a time from the
/// queue, so the two workers split the batch instead of one taking ten.
pub(crate) async fn storage(
    redis_url: &str,
    namespace: &str,
) -> Result<RedisStorage<Document>, RedisError> {
    let connection = apalis_redis::connect(redis_url).await?;
    let config = Config::default()
        .set_namespace(namespace)
        .set_buffer_size(CONCURRENCY)
        .set_poll_interval(Duration::from_millis(50));
    Ok(RedisStorage::new_with_config(connection, config))
}

/// Every job's state as apalis reports it (`BackendExpose::list_jobs`, page
/// by page). A job moving between two lists while they are read can show
/// in both; the later list wins, and the lists are read in the order a job
/// moves through them.
pub(crate) async fn states(
    storage: &RedisStorage<Document>,
) -> Result<HashMap<TaskId, (u32, State)>, RedisError> {
    let mut states = HashMap::new();
    for state in [
        State::Pending,
        State::Running,
        State::Failed,
        State::Done,
        State::Killed,
    ] {
        // A page is ten jobs (its range is inclusive, so pages overlap by
        // one); the running jobs come whole on every page, so one is read.
        for page in 1.. {
            let jobs = storage.list_jobs(&state, page).await?;
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                states.insert(job.parts.task_id.clone(), (job.args.number, state.clone()));
            }
            if state == State::Running {
                break;
            }
        }
    }
    Ok(states)
}

/// Asks apalis to cancel `task_id`: the stored job is rewritten with
/// `cancel_requested` (apalis's `Storage::update`), and the worker that
/// picks it up aborts it. `false` when the job is not in the queue.
pub(crate) async fn request_cancel(
    storage: &mut RedisStorage<Document>,
    task_id: &TaskId,
) -> Result<bool, RedisError> {
    let Some(mut job) = storage.fetch_by_id(task_id).await? else {
        return Ok(false);
    };
    job.args.cancel_requested = true;
    storage.update(job).await?;
    Ok(true)
}
