//! `[[keyed_limit]]` in a stack file: per-user and per-task limits in front
//! of the fallback, so a request counts once whatever attempts and
//! candidates it takes (paused tokio time).

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
use palisade_stack::{StackBuilder, StackConfig};

const CONFIG: &str = r#"
[[candidates]]
id = "primary"
[[candidates]]
id = "secondary"

[[keyed_limit]]
tag = "user"
idle_ttl = "2h"
[keyed_limit.limit.requests]
amount = 2
period = "1h"

[[keyed_limit]]
tag = "task"
idle_ttl = "2h"
[keyed_limit.limit.requests]
amount = 100
[keyed_limit.overrides.analysis.requests]
amount = 1
period = "1h"
"#;

fn request(user: &str, task: &str) -> ChatRequest {
    ChatRequest::user("hi")
        .with_tag(format!("user={user}"))
        .with_tag(format!("task={task}"))
}

#[tokio::test(start_paused = true)]
async fn each_user_and_task_gets_its_own_limit_counted_once_per_request() {
    // The primary fails every call: each request fails over to the
    // secondary, yet counts once against its user's two an hour (a third
    // would wait half an hour, past the limiter's 30 s `max_wait`).
    let primary = ScriptedProvider::new("primary").then_errors(
        10,
        &ProviderError::new(ErrorKind::Unavailable, "primary down"),
    );
    let secondary = (0..10).fold(ScriptedProvider::new("secondary"), |p, _| p.then_text("ok"));
    let stack = StackBuilder::from_toml(CONFIG)
        .unwrap()
        .provider("primary", primary)
        .provider("secondary", secondary)
        .build()
        .unwrap();
    for _ in 0..2 {
        stack.complete(request("alice", "chat")).await.unwrap();
    }
    let refused = stack.complete(request("alice", "chat")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Throttled, "{refused}");
    assert!(refused.to_string().contains("user:alice"), "{refused}");
    // Another user has their own two; the analysis task only one.
    stack.complete(request("bob", "analysis")).await.unwrap();
    let refused = stack
        .complete(request("bob", "analysis"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("task:analysis"), "{refused}");
}

#[test]
fn a_keyed_limit_that_cannot_work_is_refused_naming_its_table() {
    let config =
        StackConfig::from_toml("[[candidates]]\nid = \"a\"\n[[keyed_limit]]\ntag = \"\"\n")
            .unwrap();
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("keyed_limit[0]"), "{err}");
    let err = StackConfig::from_toml("[[keyed_limit]]\ntag = \"user\"\nmax_key = 3\n").unwrap_err();
    assert!(err.to_string().contains("max_key"), "{err}");
    let round = StackConfig::from_toml(CONFIG).unwrap();
    assert_eq!(
        StackConfig::from_toml(&round.to_toml().unwrap()).unwrap(),
        round
    );
}

#[test]
fn the_documented_keyed_limits_parse_and_validate() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"));
    let Ok(doc) = doc else {
        return; // a packaged crate has no docs/
    };
    let start = doc.find("```toml\n[[keyed_limit]]").expect("the example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let config =
        StackConfig::from_toml(&format!("[[candidates]]\nid = \"a\"\n{}", &doc[start..end]))
            .unwrap();
    config.validate().unwrap();
    assert_eq!(config.keyed_limits.len(), 2);
    assert_eq!(config.keyed_limits[1].overrides.len(), 2);
}
