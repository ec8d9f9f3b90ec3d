//! `RedisLink`: the client underneath a [`RedisConnection`](crate::RedisConnection),
//! one server or a cluster behind one type, so the scripts and stores never
//! ask which.

use std::fmt;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::config::RedisConfig;
use crate::topology::Topology;

/// A cheap-to-clone handle on Redis for commands of your own (it implements
/// [`redis::aio::ConnectionLike`], so [`redis::AsyncCommands`] work on it).
/// Commands sent through it bypass the store's timeout and health tracking.
///
/// - One server: a [`ConnectionManager`] (one multiplexed connection that
///   reconnects by itself).
/// - A cluster: the `redis` crate's [`ClusterConnection`], which routes each
///   command to the node that owns its keys' slot, follows `MOVED` and `ASK`
///   redirections and refreshes its slot map when the topology changes (a
///   replica promoted after its master failed).
#[derive(Clone)]
pub struct RedisLink(Kind);

#[derive(Clone)]
enum Kind {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Kind::Single(_) => "single",
            Kind::Cluster(_) => "cluster",
        };
        f.debug_tuple("RedisLink").field(&kind).finish()
    }
}

impl RedisLink {
    /// Sets up the client for `topology`; nothing connects until the first
    /// command.
    pub(crate) fn open(topology: &Topology, config: &RedisConfig) -> RedisResult<Self> {
        match topology {
            Topology::Single(url) => {
                let client = crate::tls::client(url, config)?;
                // Few, quick reconnection attempts: the store's own retry
                // interval paces the retries during an outage, and a long
                // backoff inside the manager would only make calls wait on a
                // reconnection that the command timeout abandons anyway.
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.command_timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(std::time::Duration::from_millis(10))
                    .set_max_delay(config.retry_interval);
                let manager = ConnectionManager::new_lazy_with_config(client, manager_config)?;
                Ok(Self(Kind::Single(manager)))
            }
            Topology::Cluster(nodes) => {
                let builder = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    // Redirections and a slot-map refresh after a failover
                    // take a few attempts; the store's command timeout still
                    // bounds the whole call.
                    .retries(6)
                    .min_retry_wait(10)
                    .max_retry_wait(millis(config.retry_interval));
                let client = crate::tls::cluster(builder, config)?.build()?;
                let cluster_config = ClusterConfig::new()
                    .set_connection_timeout(config.connect_timeout)
                    .set_response_timeout(config.command_timeout);
                let connection = client.get_pending_async_connection_with_config(cluster_config);
                Ok(Self(Kind::Cluster(connection)))
            }
        }
    }

    /// Whether this is a cluster client.
    pub fn is_cluster(&self) -> bool {
        matches!(self.0, Kind::Cluster(_))
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl ConnectionLike for RedisLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Kind::Single(c) => c.req_packed_command(cmd),
            Kind::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Kind::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Kind::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Kind::Single(c) => c.get_db(),
            Kind::Cluster(c) => c.get_db(),
        }
    }
}
