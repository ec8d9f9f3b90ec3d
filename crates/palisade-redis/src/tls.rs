//! TLS (`rediss://`): off unless the `tls` feature is on, and then with the
//! system's roots or the CA named by
//! [`RedisConfig::tls_ca_file`](crate::RedisConfig::tls_ca_file).

use redis::cluster::ClusterClientBuilder;
use redis::{Client, RedisResult};

use crate::config::RedisConfig;

/// The client for one server at `url`.
pub(crate) fn client(url: &str, config: &RedisConfig) -> RedisResult<Client> {
    let _ = config;
    Client::open(url)
}

/// `builder` with the TLS settings of `config`.
pub(crate) fn cluster(
    builder: ClusterClientBuilder,
    config: &RedisConfig,
) -> RedisResult<ClusterClientBuilder> {
    let _ = config;
    Ok(builder)
}
