//! `Topology`: whether [`RedisConfig::url`](crate::RedisConfig::url) names
//! one Redis or a Redis Cluster, and the URLs to reach it.
//!
//! | `url` | topology |
//! |---|---|
//! | `redis://host:6379/0`, `rediss://…`, `unix:///run/redis.sock` | one server (a standalone Redis, or a primary behind a failover endpoint) |
//! | `redis+cluster://[user:password@]host1:6379,host2:6379` | a cluster, from these seed nodes |
//! | `rediss+cluster://…` | the same over TLS |
//! | `redis://host1:6379,redis://host2:6379` (commas or spaces) | a cluster, from a list of seed node URLs |
//!
//! A cluster client discovers every node from any one seed, follows `MOVED`
//! and `ASK` redirections and picks up topology changes (a failover) by
//! itself; more seeds only help when some are down at startup.
//!
//! Credentials never leave this module in text meant for people:
//! [`redact`] replaces every password with `***`, and errors and `Debug`
//! output go through it.

use std::fmt;

use redis::IntoConnectionInfo;

use crate::error::ConfigError;

/// Where Redis is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server, by URL.
    Single(String),
    /// A cluster, by the URLs of its seed nodes.
    Cluster(Vec<String>),
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Single(url) => f.debug_tuple("Single").field(&redact(url)).finish(),
            Topology::Cluster(nodes) => f
                .debug_tuple("Cluster")
                .field(&nodes.iter().map(|n| redact(n)).collect::<Vec<_>>())
                .finish(),
        }
    }
}

const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

impl Topology {
    /// Parses `url` (see the module docs), checking every URL it holds.
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(url_error("is empty".into()));
        }
        for (cluster, node) in CLUSTER_SCHEMES {
            if let Some(rest) = strip_prefix_ignore_case(url, cluster) {
                return Self::cluster_from_hosts(url, node, rest);
            }
        }
        let parts: Vec<&str> = url
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        for part in &parts {
            check(part)?;
        }
        match parts.as_slice() {
            [one] => Ok(Topology::Single((*one).to_owned())),
            many => Ok(Topology::Cluster(
                many.iter().map(|p| (*p).to_owned()).collect(),
            )),
        }
    }

    /// `redis+cluster://[userinfo@]h1:p1,h2:p2[/]` → one `redis://` URL per
    /// host, each with the credentials.
    fn cluster_from_hosts(url: &str, scheme: &str, rest: &str) -> Result<Self, ConfigError> {
        let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|host| match userinfo {
                Some(userinfo) => format!("{scheme}{userinfo}@{host}"),
                None => format!("{scheme}{host}"),
            })
            .collect();
        if nodes.is_empty() {
            return Err(url_error(format!(
                "`{}` names no cluster node (expected `redis+cluster://host:port,host:port`)",
                redact(url)
            )));
        }
        for node in &nodes {
            check(node)?;
        }
        Ok(Topology::Cluster(nodes))
    }

    /// `host:port` of the server, or `cluster host:port,…` of the seeds:
    /// never the credentials.
    pub(crate) fn describe(&self) -> String {
        let addr = |url: &str| {
            url.into_connection_info()
                .map_or_else(|_| redact(url), |info| info.addr().to_string())
        };
        match self {
            Topology::Single(url) => addr(url),
            Topology::Cluster(nodes) => {
                let seeds: Vec<String> = nodes.iter().map(|n| addr(n)).collect();
                format!("cluster {}", seeds.join(","))
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn url_error(problem: String) -> ConfigError {
    ConfigError {
        field: "url",
        problem,
    }
}

/// Checks one node URL with the client's own parser.
fn check(url: &str) -> Result<(), ConfigError> {
    if !cfg!(feature = "tls")
        && url
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
    {
        return Err(url_error(format!(
            "`{}` asks for TLS, which needs palisade-redis's `tls` feature",
            redact(url)
        )));
    }
    url.into_connection_info().map(drop).map_err(|err| {
        // The client's message may quote the URL: say only what kind of
        // problem it found, and show the URL redacted.
        url_error(format!(
            "`{}` is not a Redis URL ({:?})",
            redact(url),
            err.kind()
        ))
    })
}

/// `text` with the password of every URL in it replaced by `***`
/// (`redis://user:***@host`, `redis://:***@host`); the username stays, so a
/// reader can still tell which account is configured. Works on lists of URLs
/// and on `redis+cluster://` URLs alike.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The userinfo ends at an `@` that comes before any path, space or
        // next URL of a list.
        let limit = [
            tail.find('/'),
            tail.find(char::is_whitespace),
            tail.find("://"),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(tail.len());
        rest = match tail[..limit].find('@') {
            Some(end) => {
                let userinfo = &tail[..end];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                &tail[end..]
            }
            None => tail,
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_urls_are_one_server() {
        assert_eq!(
            Topology::parse(" redis://10.0.0.5:6379/0 ").unwrap(),
            Topology::Single("redis://10.0.0.5:6379/0".into())
        );
        let t = Topology::parse("redis://:pw@cache:6380").unwrap();
        assert_eq!(t.describe(), "cache:6380");
    }

    #[test]
    fn cluster_urls_and_lists_are_seed_nodes() {
        let t = Topology::parse("redis+cluster://app:pw@h1:7000,h2:7001/").unwrap();
        assert_eq!(
            t,
            Topology::Cluster(vec![
                "redis://app:pw@h1:7000".into(),
                "redis://app:pw@h2:7001".into()
            ])
        );
        assert_eq!(t.describe(), "cluster h1:7000,h2:7001");
        let list = Topology::parse("redis://h1:7000, redis://h2:7001").unwrap();
        assert_eq!(
            list,
            Topology::Cluster(vec!["redis://h1:7000".into(), "redis://h2:7001".into()])
        );
        let tls = Topology::parse("REDISS+CLUSTER://h1:7000");
        if cfg!(feature = "tls") {
            assert!(matches!(tls, Ok(Topology::Cluster(nodes)) if nodes == ["rediss://h1:7000"]));
        } else {
            let err = tls.unwrap_err().to_string();
            assert!(err.contains("`tls` feature"), "{err}");
        }
    }

    #[test]
    fn bad_urls_are_named_without_their_password() {
        let err = Topology::parse("redis+cluster://u:hunter2@").unwrap_err();
        assert_eq!(err.field, "url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = Topology::parse("redis://h1:7000,http://u:hunter2@h2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("http://u:***@h2"), "{err}");
        assert!(Topology::parse("  ").is_err());
    }

    #[test]
    fn redaction_masks_every_password() {
        assert_eq!(redact("redis://u:pw@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("redis://:pw@h"), "redis://:***@h");
        assert_eq!(redact("redis://user@h"), "redis://user@h");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        assert_eq!(
            redact("redis+cluster://u:p,w@h1:1,h2:2"),
            "redis+cluster://u:***@h1:1,h2:2"
        );
        assert_eq!(
            redact("redis://a:x@h1,redis://b:y@h2 redis://h3"),
            "redis://a:***@h1,redis://b:***@h2 redis://h3"
        );
        let debug = format!("{:?}", Topology::parse("redis://u:secret@h:1").unwrap());
        assert!(!debug.contains("secret"), "{debug}");
    }
}
