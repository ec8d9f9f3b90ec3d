//! The command line: `demo` (the default) runs everything; `worker` is what
//! the demo spawns, twice.

use std::fmt;

/// What a worker process is told by the submitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkerArgs {
    pub(crate) name: String,
    pub(crate) redis_url: String,
    pub(crate) llm_url: String,
    pub(crate) namespace: String,
    pub(crate) limit_key: String,
}

impl WorkerArgs {
    /// The arguments that [`parse`] reads back.
    pub(crate) fn to_args(&self) -> Vec<String> {
        let pairs = [
            ("--name", &self.name),
            ("--redis-url", &self.redis_url),
            ("--llm-url", &self.llm_url),
            ("--namespace", &self.namespace),
            ("--limit-key", &self.limit_key),
        ];
        let mut args = vec!["worker".to_owned()];
        for (flag, value) in pairs {
            args.push(flag.to_owned());
            args.push(value.clone());
        }
        args
    }
}

/// The demo's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DemoArgs {
    /// Documents to submit (default 20).
    pub(crate) documents: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Demo(DemoArgs),
    Worker(WorkerArgs),
}

/// A command line this program does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\nusage: palisade-example-job-queue [demo] [--documents N]\n       \
             palisade-example-job-queue worker --name N --redis-url U --llm-url U --namespace S --limit-key K",
            self.0
        )
    }
}

impl std::error::Error for UsageError {}

pub(crate) fn parse(args: &[String]) -> Result<Command, UsageError> {
    match args.first().map(String::as_str) {
        Some("worker") => parse_worker(&args[1..]).map(Command::Worker),
        Some("demo") => parse_demo(&args[1..]).map(Command::Demo),
        _ => parse_demo(args).map(Command::Demo),
    }
}

fn pairs(args: &[String]) -> Result<Vec<(&str, &str)>, UsageError> {
    args.chunks(2)
        .map(|pair| match pair {
            [flag, value] if flag.starts_with("--") => Ok((flag.as_str(), value.as_str())),
            [flag] => Err(UsageError(format!("{flag} needs a value"))),
            other => Err(UsageError(format!("unexpected argument {:?}", other[0]))),
        })
        .collect()
}

fn parse_demo(args: &[String]) -> Result<DemoArgs, UsageError> {
    let mut demo = DemoArgs { documents: 20 };
    for (flag, value) in pairs(args)? {
        match flag {
            "--documents" => {
                demo.documents = value
                    .parse()
                    .ok()
                    .filter(|n| (2..=500).contains(n))
                    .ok_or_else(|| {
                        UsageError(format!("--documents {value}: a number from 2 to 500"))
                    })?;
            }
            other => return Err(UsageError(format!("unknown option {other}"))),
        }
    }
    Ok(demo)
}

fn parse_worker(args: &[String]) -> Result<WorkerArgs, UsageError> {
    let (mut name, mut redis_url, mut llm_url, mut namespace, mut limit_key) =
        (None, None, None, None, None);
    for (flag, value) in pairs(args)? {
        let slot = match flag {
            "--name" => &mut name,
            "--redis-url" => &mut redis_url,
            "--llm-url" => &mut llm_url,
            "--namespace" => &mut namespace,
            "--limit-key" => &mut limit_key,
            other => return Err(UsageError(format!("unknown worker option {other}"))),
        };
        *slot = Some(value.to_owned());
    }
    let need = |value: Option<String>, flag: &str| {
        value.ok_or_else(|| UsageError(format!("worker: {flag} is required")))
    };
    Ok(WorkerArgs {
        name: need(name, "--name")?,
        redis_url: need(redis_url, "--redis-url")?,
        llm_url: need(llm_url, "--llm-url")?,
        namespace: need(namespace, "--namespace")?,
        limit_key: need(limit_key, "--limit-key")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_arguments_run_the_demo_with_twenty_documents() {
        assert_eq!(parse(&[]), Ok(Command::Demo(DemoArgs { documents: 20 })));
        assert_eq!(
            parse(&strings(&["demo", "--documents", "8"])),
            Ok(Command::Demo(DemoArgs { documents: 8 }))
        );
    }

    #[test]
    fn worker_arguments_round_trip() {
        let worker = WorkerArgs {
            name: "worker-a".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            llm_url: "http://127.0.0.1:9/v1".into(),
            namespace: "ns".into(),
            limit_key: "key".into(),
        };
        assert_eq!(parse(&worker.to_args()), Ok(Command::Worker(worker)));
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let err = parse(&strings(&["--documents", "many"])).unwrap_err();
        assert!(err.to_string().contains("--documents many"), "{err}");
        let err = parse(&strings(&["worker", "--name", "a"])).unwrap_err();
        assert!(err.to_string().contains("--redis-url is required"), "{err}");
        let err = parse(&strings(&["--documents"])).unwrap_err();
        assert!(err.to_string().contains("needs a value"), "{err}");
    }
}
