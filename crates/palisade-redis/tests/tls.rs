//! Redis over TLS (`rediss://`, feature `tls`) against a local redis-server
//! that speaks only TLS, with a throwaway CA made by `openssl` in the test.
//! (The whole conformance suite also runs over TLS: `conformance[redis-tls]`.)
#![cfg(feature = "tls")]

use std::time::Duration;

use palisade_limit::{LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::testing::RedisServer;
use palisade_redis::{FailurePolicy, RedisConfig, RedisConnection, RedisLimitStore};

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_minute(100)),
        tokens: Some(Quota::per_minute(10_000)),
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(4),
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

fn config(url: String) -> RedisConfig {
    RedisConfig {
        command_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        ..RedisConfig::with_url(url).on_unavailable(FailurePolicy::FailClosed)
    }
}

#[tokio::test]
async fn rediss_with_the_ca_admits_and_without_it_is_refused() {
    let Some((server, ca)) = RedisServer::start_tls_or_skip("redis tls") else {
        return;
    };
    assert!(server.url().starts_with("rediss://127.0.0.1:"));

    // Trusting the CA: admissions go through the TLS connection.
    let trusted = RedisConnection::connect(RedisConfig {
        tls_ca_file: Some(ca.ca_certificate()),
        ..config(server.url())
    })
    .await
    .unwrap();
    trusted.ping().await.unwrap();
    let store = RedisLimitStore::new(trusted);
    let answer = store
        .try_reserve("tls", &limits(), TokenCounts::combined(100))
        .await
        .unwrap();
    assert!(matches!(answer, Reservation::Admitted(_)), "{answer:?}");

    // The system's roots do not know the throwaway CA: the handshake fails
    // and the store says Redis is unavailable (fail_closed).
    let untrusted = RedisConnection::connect(config(server.url()))
        .await
        .unwrap();
    let err = RedisLimitStore::new(untrusted)
        .try_reserve("tls", &limits(), TokenCounts::combined(100))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");

    // Plain text to a TLS-only port gets nowhere either.
    let plain = server.url().replacen("rediss://", "redis://", 1);
    let plain = RedisConnection::connect(config(plain)).await.unwrap();
    assert!(plain.ping().await.is_err());
}

#[test]
fn a_ca_file_that_does_not_exist_is_named() {
    let err = RedisConfig {
        tls_ca_file: Some("/nonexistent/ca.pem".into()),
        ..RedisConfig::with_url("rediss://cache.example:6380")
    }
    .validate()
    .unwrap_err();
    assert_eq!(err.field, "tls_ca_file");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
