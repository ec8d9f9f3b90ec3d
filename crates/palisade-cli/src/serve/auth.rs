//! The keys clients and operators present: read once from the environment,
//! compared in constant time, never printed (a [`Key`]'s `Debug` is
//! redacted, and no message quotes a presented key).

use std::fmt;

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// A key that must stay secret.
#[derive(Clone)]
pub(super) struct Key(String);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// A key variable named on the command line that holds no key.
#[derive(Debug, thiserror::Error)]
#[error("{flag} names the environment variable `{variable}`, which is not set or empty")]
pub(super) struct MissingKey {
    flag: &'static str,
    variable: String,
}

/// Why a request's key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum Refusal {
    /// No `Authorization: Bearer` or `x-api-key` header.
    #[error("no API key: send it as `Authorization: Bearer KEY` or `x-api-key: KEY`")]
    Missing,
    /// A key that is not the configured one.
    #[error("the API key is not the one this server was started with")]
    Wrong,
    /// The route needs the admin key and the server has none.
    #[error("POST /reset is disabled: start the server with --admin-key-env VAR")]
    NoAdminKey,
}

/// The client key (every `/v1` route and `/stats`) and the admin key
/// (`POST /reset`), each optional.
#[derive(Debug, Clone, Default)]
pub(super) struct Keys {
    client: Option<Key>,
    admin: Option<Key>,
}

impl Keys {
    /// Reads the variables `--api-key-env` and `--admin-key-env` name; a
    /// named variable that is unset is an error (the server would otherwise
    /// run open by accident).
    pub(super) fn from_env(client: Option<&str>, admin: Option<&str>) -> Result<Self, MissingKey> {
        let read = |flag: &'static str, variable: Option<&str>| match variable {
            None => Ok(None),
            Some(variable) => match std::env::var(variable) {
                Ok(key) if !key.is_empty() => Ok(Some(Key(key))),
                _ => Err(MissingKey {
                    flag,
                    variable: variable.to_owned(),
                }),
            },
        };
        Ok(Self {
            client: read("--api-key-env", client)?,
            admin: read("--admin-key-env", admin)?,
        })
    }

    /// Whether the request may use the model and stats routes.
    pub(super) fn check_client(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match &self.client {
            None => Ok(()),
            Some(key) => check(key, headers),
        }
    }

    /// Whether the request may reset the stack.
    pub(super) fn check_admin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match &self.admin {
            None => Err(Refusal::NoAdminKey),
            Some(key) => check(key, headers),
        }
    }
}

fn check(key: &Key, headers: &HeaderMap) -> Result<(), Refusal> {
    let presented = presented(headers).ok_or(Refusal::Missing)?;
    if key.matches(presented) {
        Ok(())
    } else {
        Err(Refusal::Wrong)
    }
}

/// The key the request carries, as the OpenAI SDKs send it (`Authorization:
/// Bearer`) or as the Anthropic ones do (`x-api-key`, or Bearer as well).
fn presented(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    bearer.or(x_api_key).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn either_header_carries_the_key() {
        let keys = Keys {
            client: Some(Key("sk-right".into())),
            admin: None,
        };
        assert_eq!(
            keys.check_client(&headers(&[("authorization", "Bearer sk-right")])),
            Ok(())
        );
        assert_eq!(
            keys.check_client(&headers(&[("x-api-key", "sk-right")])),
            Ok(())
        );
        assert_eq!(
            keys.check_client(&headers(&[("x-api-key", "sk-wrong")])),
            Err(Refusal::Wrong)
        );
        assert_eq!(keys.check_client(&headers(&[])), Err(Refusal::Missing));
        assert_eq!(keys.check_admin(&headers(&[])), Err(Refusal::NoAdminKey));
    }

    #[test]
    fn debug_never_shows_a_key() {
        let keys = Keys {
            client: Some(Key("sk-secret-value".into())),
            admin: Some(Key("admin-secret-value".into())),
        };
        let shown = format!("{keys:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
