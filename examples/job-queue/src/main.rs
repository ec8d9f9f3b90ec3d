//! Palisade inside the workers of a job queue: document-analysis jobs are
//! submitted to [apalis](https://docs.rs/apalis) on Redis, two worker
//! processes run them, and each worker calls the model through a palisade
//! stack whose limiter counts in Redis (`palisade::redis::RedisLimitStore`),
//! so the two share one quota. The submitter polls the jobs' states,
//! cancels one before it starts, and prints the progress and a summary.
//!
//! ```sh
//! cargo run -p palisade-example-job-queue
//! ```
//!
//! It uses the Redis at `REDIS_URL`, or starts a throwaway `redis-server`
//! from `PATH`; the model is palisade-testkit's fake OpenAI-compatible
//! server, reached by the real `OpenAiProvider`, so nothing needs a network
//! or credentials. `docs/redis.md` ("Job queue") explains the run.

mod args;
mod demo;
mod job;
mod model;
mod queue;
mod report;
mod settings;
mod windows;
mod worker;

use std::process::ExitCode;

use args::Command;

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Worker(args) => match worker::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("worker: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Demo(args) => match demo::run(args).await {
            Ok(summary) => {
                let all_accounted =
                    summary.done as usize + summary.cancelled.len() == summary.submitted as usize;
                if summary.quota_held() && all_accounted {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("the run did not end as it should (see the summary)");
                    ExitCode::FAILURE
                }
            }
            Err(err) => {
                eprintln!("job queue demo: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
