//! TLS (`rediss://`, `rediss+cluster://`): with the `tls` feature, through
//! rustls, trusting the system's roots or the CA in
//! [`RedisConfig::tls_ca_file`](crate::RedisConfig::tls_ca_file) (a managed
//! Redis with a private CA, or a test's throwaway one). Without the feature,
//! a `rediss://` URL is refused by the configuration check.

use redis::cluster::ClusterClientBuilder;
use redis::{Client, RedisResult};

use crate::config::RedisConfig;

/// The client for one server at `url`.
pub(crate) fn client(url: &str, config: &RedisConfig) -> RedisResult<Client> {
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(config)? {
        return Client::build_with_tls(url, certificates);
    }
    let _ = config;
    Client::open(url)
}

/// `builder` with the TLS settings of `config`.
pub(crate) fn cluster(
    builder: ClusterClientBuilder,
    config: &RedisConfig,
) -> RedisResult<ClusterClientBuilder> {
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(config)? {
        return Ok(builder.certs(certificates));
    }
    let _ = config;
    Ok(builder)
}

/// The CA to trust instead of the system's roots, if one is configured.
#[cfg(feature = "tls")]
fn certificates(config: &RedisConfig) -> RedisResult<Option<redis::TlsCertificates>> {
    install_crypto_provider();
    let Some(path) = &config.tls_ca_file else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|err| {
        redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "cannot read tls_ca_file",
            format!("{}: {err}", path.display()),
        ))
    })?;
    Ok(Some(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    }))
}

/// rustls needs one process-wide crypto provider; with several compiled in
/// (another dependency may bring aws-lc-rs) it cannot pick one itself, so
/// ring is installed unless the application installed one already.
#[cfg(feature = "tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether this build can speak TLS.
pub(crate) const SUPPORTED: bool = cfg!(feature = "tls");
