//! The Redis that `--redis` writes into and `kalipso open redis://` reads from: one server, or
//! a Redis Cluster reached through any one of its nodes.
//!
//! The node in the URL is asked `INFO cluster` first. A cluster is then driven by the `redis`
//! crate's cluster client, which learns the slot map, sends each key's command to the master
//! that holds its slot and follows `MOVED`/`ASK` redirections while slots migrate.
//!
//! A cluster has database 0 only, so there the analysis and `IPsInfo` (database N+1 on one
//! server, as Slips keeps it) share database 0; no key of the analysis is named `IPsInfo`, so
//! nothing collides. Every key of Slips' layout is written and read with single-key commands
//! (`HSET`, `SADD`, `ZADD`, `HGETALL`, `ZRANGE`), so no two keys need to share a node and the
//! key names stay exactly Slips' own, without hash tags.

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Client, Cmd, Connection, FromRedisValue};
use std::time::Duration;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one reply may take (a pipeline of thousands of big hashes takes a while).
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// A reached Redis: one server or a cluster.
pub struct Node {
    link: Link,
    /// The URL as messages show it (escaped).
    shown: String,
    /// The URL's database (0 on a cluster).
    db: i64,
}

enum Link {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

impl Node {
    /// Connects to `url`; `flag` starts the message when the URL is not a Redis URL (the
    /// option that gave it, or nothing). Every failure is one line that names the URL.
    pub fn reach(url: &str, flag: &str) -> anyhow::Result<Node> {
        let shown = crate::text::clean(url).to_string();
        let client = Client::open(url).map_err(|e| {
            anyhow::anyhow!("{flag}'{shown}' is not a Redis URL (redis://HOST:PORT/DB): {e}")
        })?;
        let info = client.get_connection_info();
        let db = info.redis_settings().db();
        // the first connection stays in database 0, which a cluster node also has, so that a
        // cluster given another database is named as such; SELECT follows on one server
        let settings = info.redis_settings().clone().set_db(0);
        let probe = Client::open(info.clone().set_redis_settings(settings))
            .map_err(|e| anyhow::anyhow!("{flag}'{shown}': {e}"))?;
        let mut first = probe
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis at '{shown}': {e}"))?;
        first
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .and_then(|()| first.set_write_timeout(Some(REPLY_TIMEOUT)))
            .map_err(|e| anyhow::anyhow!("Redis at '{shown}': cannot set timeouts: {e}"))?;
        let cluster_info: String = redis::cmd("INFO")
            .arg("cluster")
            .query(&mut first)
            .map_err(|e| anyhow::anyhow!("Redis at '{shown}': {e}"))?;
        if !cluster_info
            .lines()
            .any(|l| l.trim() == "cluster_enabled:1")
        {
            redis::cmd("SELECT")
                .arg(db)
                .query::<()>(&mut first)
                .map_err(|e| anyhow::anyhow!("Redis at '{shown}', database {db}: {e}"))?;
            return Ok(Node {
                link: Link::Single(first),
                shown,
                db,
            });
        }
        if db != 0 {
            anyhow::bail!(
                "Redis at '{shown}' is a Redis Cluster node, and a cluster has database 0 only: \
                 use redis://HOST:PORT/0"
            );
        }
        // a node whose cluster does not serve every slot would fail key by key later
        let state: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut first)
            .map_err(|e| anyhow::anyhow!("Redis at '{shown}': {e}"))?;
        if !state.lines().any(|l| l.trim() == "cluster_state:ok") {
            anyhow::bail!(
                "Redis at '{shown}' is a node of a Redis Cluster that is not ready \
                 (cluster_state is not ok: some hash slots have no master)"
            );
        }
        let cluster = ClusterClient::builder(vec![url])
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(REPLY_TIMEOUT)
            .build()
            .and_then(|c| c.get_connection())
            .map_err(|e| anyhow::anyhow!("cannot join the Redis Cluster of '{shown}': {e}"))?;
        Ok(Node {
            link: Link::Cluster(Box::new(cluster)),
            shown,
            db: 0,
        })
    }

    /// The URL as messages show it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The URL's database: the analysis' (`IPsInfo` is in the next one on a single server).
    pub fn db(&self) -> i64 {
        self.db
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// Where the keys of store database `offset` (0 for the analysis, 1 for `IPsInfo`) live:
    /// the URL's database plus `offset` on one server, database 0 on a cluster.
    pub fn db_of(&self, offset: i64) -> i64 {
        match self.link {
            Link::Single(_) => self.db + offset,
            Link::Cluster(_) => 0,
        }
    }

    /// The databases the store occupies, each once.
    pub fn databases(&self) -> Vec<i64> {
        let mut dbs = vec![self.db_of(0), self.db_of(1)];
        dbs.dedup();
        dbs
    }

    /// The number of keys in database `n` (on a cluster: on all its masters).
    pub fn keys_in(&mut self, n: i64) -> anyhow::Result<u64> {
        self.in_db(n, redis::cmd("DBSIZE"))
    }

    /// Empties database `n` (on a cluster: on all its masters).
    pub fn flush(&mut self, n: i64) -> anyhow::Result<()> {
        self.in_db(n, redis::cmd("FLUSHDB"))
    }

    /// Runs one command in database `n`; a cluster's crate sends `DBSIZE` and `FLUSHDB` to
    /// every master and sums or checks the replies.
    fn in_db<T: FromRedisValue>(&mut self, n: i64, cmd: Cmd) -> anyhow::Result<T> {
        let shown = &self.shown;
        match &mut self.link {
            Link::Single(con) => {
                let mut pipe = redis::pipe();
                pipe.cmd("SELECT").arg(n).ignore().add_command(cmd);
                let (value,): (T,) = pipe
                    .query(con)
                    .map_err(|e| anyhow::anyhow!("Redis at '{shown}', database {n}: {e}"))?;
                Ok(value)
            }
            Link::Cluster(con) => cmd
                .query(&mut **con)
                .map_err(|e| anyhow::anyhow!("Redis Cluster of '{shown}': {e}")),
        }
    }

    /// Sends commands already encoded in RESP (`count` of them, `SELECT`s included) to a
    /// single server and reads every reply; the first error stops.
    pub fn send_packed(&mut self, bytes: &[u8], count: usize) -> redis::RedisResult<()> {
        match &mut self.link {
            Link::Single(con) => {
                redis::ConnectionLike::req_packed_commands(con, bytes, 0, count).map(drop)
            }
            Link::Cluster(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "packed commands are for a single server",
            ))),
        }
    }

    /// Sends single-key commands and returns their replies in order: one pipeline on a single
    /// server (already in the right database), one per master on a cluster.
    pub fn each<T: FromRedisValue>(&mut self, cmds: Vec<Cmd>) -> redis::RedisResult<Vec<T>> {
        match &mut self.link {
            Link::Single(con) => {
                let mut pipe = redis::pipe();
                for c in cmds {
                    pipe.add_command(c);
                }
                pipe.query(con)
            }
            Link::Cluster(con) => {
                let mut pipe = redis::cluster::ClusterPipeline::with_capacity(cmds.len());
                for c in cmds {
                    pipe.add_command(c);
                }
                pipe.query(con)
            }
        }
    }

    /// Runs one single-key command.
    pub fn one<T: FromRedisValue>(&mut self, cmd: &Cmd) -> redis::RedisResult<T> {
        match &mut self.link {
            Link::Single(con) => cmd.query(con),
            Link::Cluster(con) => cmd.query(&mut **con),
        }
    }

    /// Every key matching `pattern`, sorted (SCAN, so a big database is not blocked; on a
    /// cluster, SCAN on every master).
    pub fn scan(&mut self, pattern: &str) -> redis::RedisResult<Vec<String>> {
        let mut out = Vec::new();
        match &mut self.link {
            Link::Single(con) => scan_one(&mut out, pattern, |c| c.query(con))?,
            Link::Cluster(con) => {
                for (host, port) in masters(con)? {
                    let to = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port,
                    });
                    scan_one(&mut out, pattern, |c| {
                        con.route_command(c, to.clone())
                            .and_then(|v| redis::from_redis_value(v).map_err(Into::into))
                    })?;
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Appends to `out` every key one server's SCAN gives, `query` running each SCAN.
fn scan_one(
    out: &mut Vec<String>,
    pattern: &str,
    mut query: impl FnMut(&Cmd) -> redis::RedisResult<(u64, Vec<String>)>,
) -> redis::RedisResult<()> {
    let mut cursor: u64 = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000);
        let (next, keys) = query(&cmd)?;
        out.extend(keys);
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// The address of every master of a cluster, from `CLUSTER NODES` (a line per node:
/// `id host:port@bus[,hostname] flags …`), failed masters left out.
fn masters(con: &mut ClusterConnection) -> redis::RedisResult<Vec<(String, u16)>> {
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(con)?;
    Ok(masters_of(&nodes))
}

fn masters_of(nodes: &str) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = nodes
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_id, addr, flags) = (parts.next()?, parts.next()?, parts.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some((host.to_string(), port.parse().ok()?))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::masters_of;

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002,host-b master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected 10923-16383
e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
9a1b ::1:30005@40005 master,fail - 0 0 5 disconnected
";
        assert_eq!(
            masters_of(nodes),
            vec![
                ("127.0.0.1".to_string(), 30001),
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30003)
            ]
        );
    }
}
