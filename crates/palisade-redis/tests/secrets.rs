//! A Redis password never shows: not in `Debug` of the configuration, the
//! connection or the stores, not in errors (bad URL, refused credentials,
//! unreachable server), not in tracing events.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_breaker::BreakerStore;
use palisade_core::ProviderId;
use palisade_limit::{LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::testing::RedisServer;
use palisade_redis::{
    FailurePolicy, RedisBreakerStore, RedisConfig, RedisConnection, RedisLimitStore,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const PASSWORD: &str = "pw-7d1c0ffee-never-shown";

/// Records every field of every event and span, as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.0.lock().unwrap();
        span.record(&mut Fields(&mut text));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.0.lock().unwrap();
        text.push('\n');
        event.record(&mut Fields(&mut text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_minute(100)),
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(4),
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

#[track_caller]
fn assert_hidden(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "the password shows in {what}: {text}"
    );
}

#[test]
fn config_debug_and_url_errors_hide_the_password() {
    for url in [
        format!("redis://app:{PASSWORD}@10.0.0.5:6379/0"),
        format!("redis+cluster://app:{PASSWORD}@10.0.0.5:7000,10.0.0.6:7000"),
        format!("redis://:{PASSWORD}@a:1,redis://:{PASSWORD}@b:2"),
    ] {
        let config = RedisConfig::with_url(url);
        config.validate().unwrap();
        assert_hidden("Debug of RedisConfig", &format!("{config:?}"));
        assert!(format!("{config:?}").contains("***"), "{config:?}");
    }
    for bad in [
        format!("http://app:{PASSWORD}@10.0.0.5:6379"),
        format!("redis+cluster://app:{PASSWORD}@"),
        format!("redis://a:1,ftp://:{PASSWORD}@b"),
    ] {
        let err = RedisConfig::with_url(bad).validate().unwrap_err();
        assert_hidden("a URL error", &err.to_string());
        assert_hidden("Debug of a URL error", &format!("{err:?}"));
    }
}

#[tokio::test]
async fn credentials_work_and_never_show_in_errors_debug_or_events() {
    let Some(mut server) =
        RedisServer::start_or_skip_with("password secrecy", &["--requirepass", PASSWORD])
    else {
        return;
    };
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}", server.port());
    let config = |url: String| RedisConfig {
        command_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(50),
        ..RedisConfig::with_url(url).on_unavailable(FailurePolicy::FailClosed)
    };

    // The right password reaches the server.
    let good = RedisConnection::connect(config(url(PASSWORD)))
        .await
        .unwrap();
    let store = RedisLimitStore::new(good.clone());
    let breakers = RedisBreakerStore::new(good.clone());
    assert!(matches!(
        store
            .try_reserve("secret", &limits(), TokenCounts::ZERO)
            .await
            .unwrap(),
        Reservation::Admitted(_)
    ));
    let mut texts = vec![
        format!("{good:?}"),
        format!("{store:?}"),
        format!("{breakers:?}"),
        format!("{:?}", good.config()),
        good.server().to_owned(),
        serde_json::to_string(&good.stats()).unwrap(),
    ];

    // A wrong password: refused, and the error says so without either one.
    let wrong = RedisConnection::connect(config(url(&format!("{PASSWORD}-wrong"))))
        .await
        .unwrap();
    let err = RedisLimitStore::new(wrong.clone())
        .try_reserve("secret", &limits(), TokenCounts::ZERO)
        .await
        .unwrap_err();
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        source = cause.source();
    }
    texts.push(format!("{wrong:?}"));

    // Unreachable: the store's and the breaker store's errors.
    server.stop();
    tokio::time::sleep(Duration::from_millis(60)).await;
    for _ in 0..3 {
        if let Err(err) = store
            .try_reserve("secret", &limits(), TokenCounts::ZERO)
            .await
        {
            texts.push(err.to_string());
            texts.push(format!("{err:?}"));
        }
        if let Err(err) = breakers.load(&ProviderId::new("secret")).await {
            texts.push(err.to_string());
            texts.push(format!("{err:?}"));
        }
    }
    texts.push(format!("{:?}", good.ping().await));

    for text in &texts {
        assert_hidden("a Debug, error or stats text", text);
    }
    let events = recorder.0.lock().unwrap().clone();
    assert!(
        events.contains("unreachable"),
        "the outage was logged: {events}"
    );
    assert_hidden("tracing events", &events);
}
