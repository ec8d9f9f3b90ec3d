//! The outage is announced: one warning event when Redis becomes unreachable
//! (not one per call), one info event when it answers again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_limit::{LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::testing::RedisServer;
use palisade_redis::{FailurePolicy, RedisConfig, RedisConnection, RedisLimitStore};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Records the level and message of every event (no dependency on a
/// subscriber crate for this one assertion).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Recorder {
    fn count(&self, level: Level, needle: &str) -> usize {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, m)| *l == level && m.contains(needle))
            .count()
    }
}

#[tokio::test]
async fn one_warning_per_outage_and_one_info_per_recovery() {
    let Some(mut server) = RedisServer::start_or_skip("one_warning_per_outage") else {
        return;
    };
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let config = RedisConfig {
        command_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(100),
        ..RedisConfig::with_url(server.url()).on_unavailable(FailurePolicy::FailOpen)
    };
    let store = RedisLimitStore::new(RedisConnection::connect(config).await.unwrap());
    let limits = StoreLimits {
        requests: Some(Quota::per_minute(1_000)),
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: None,
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    };
    assert!(matches!(
        store
            .try_reserve("events", &limits, TokenCounts::ZERO)
            .await,
        Ok(Reservation::Admitted(_))
    ));
    server.stop();
    for _ in 0..10 {
        store
            .try_reserve("events", &limits, TokenCounts::ZERO)
            .await
            .unwrap();
    }
    assert_eq!(recorder.count(Level::WARN, "unreachable"), 1);

    server.restart().unwrap();
    for _ in 0..100 {
        store
            .try_reserve("events", &limits, TokenCounts::ZERO)
            .await
            .unwrap();
        if store.stats().available {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recorder.count(Level::INFO, "reachable again"), 1);
    assert_eq!(recorder.count(Level::WARN, "unreachable"), 1);
}
