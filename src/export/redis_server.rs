//! `--redis redis://HOST:PORT/N`: the store written into a running Redis, in Slips v1.0.0's
//! layout, so Slips' own tools (and anything that reads Slips' database) see kalipso's
//! analysis. The analysis goes to database N and `IPsInfo` to N+1, as Slips keeps them; the keys
//! and values are exactly those of `--dump-redis` ([`crate::store::redis`]), except that Redis
//! holds no empty hash or set, so a key whose value is empty is not written.
//!
//! The server is reached and checked before the analysis starts: a wrong address or a database
//! that already holds keys fails in a moment, not after minutes of work. A non-empty database
//! is refused unless `--redis-flush` is given. Writes are pipelined: keys are rendered on every
//! core a batch at a time while the previous batch is on the wire.

use crate::redis_node::Node;
use crate::store::Store;
use crate::store::keys::Key;
use crate::store::redis::Value;
use rayon::prelude::*;
use std::time::Instant;

/// Keys rendered and sent per pipeline.
const BATCH_KEYS: usize = 2048;

/// The most fields, members or scores one command carries (a hash of a busy window has
/// thousands of flows; a few commands of this size keep each request small for the server).
const ARGS_PER_COMMAND: usize = 1024;

/// A Redis server or cluster, reached and checked, that the store will be written into.
pub struct RedisTarget {
    node: Node,
    /// Empty the store's databases before writing.
    flush: bool,
}

/// What a write sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Keys written.
    pub keys: usize,
    /// Hash fields, set members and sorted-set members written.
    pub fields: usize,
}

impl RedisTarget {
    /// Connects to `url` (one server, or any node of a Redis Cluster) and checks that the
    /// databases the store goes to are empty (or, with `flush`, that they may be emptied; with
    /// `shared`, a `--shard` worker's, that other workers may have written there); every
    /// failure is one line that names the URL.
    pub fn connect(url: &str, flush: bool, shared: bool) -> anyhow::Result<RedisTarget> {
        let mut node = Node::reach(url, "--redis: ")?;
        for n in node.databases() {
            let keys = node.keys_in(n)?;
            if keys > 0 && !flush && !shared {
                let what = if node.is_cluster() {
                    "the Redis Cluster of".to_string()
                } else {
                    format!("Redis database {n} at")
                };
                let which = if node.is_cluster() {
                    "an empty cluster".to_string()
                } else {
                    format!(
                        "empty databases only ({} for the analysis, {} for IPsInfo)",
                        node.db_of(0),
                        node.db_of(1)
                    )
                };
                anyhow::bail!(
                    "{what} '{}' holds {keys} key(s): kalipso writes into {which}; pass \
                     --redis-flush to empty {} first",
                    node.shown(),
                    if node.is_cluster() { "it" } else { "them" }
                );
            }
        }
        Ok(RedisTarget { node, flush })
    }

    /// The server's URL, as messages show it.
    pub fn url(&self) -> &str {
        self.node.shown()
    }

    /// Writes every key of the store, in key order; returns what was sent.
    pub fn write(mut self, store: &Store) -> anyhow::Result<Written> {
        if self.flush {
            for n in self.node.databases() {
                self.node.flush(n)?;
            }
        }
        let names = store.named_keys();
        let started = Instant::now();
        let mut written = Written::default();
        let (db, cluster) = (self.node.db(), self.node.is_cluster());
        let url = self.node.shown().to_string();
        // one thread renders and encodes the next batch (on every core) while this one sends
        // the last
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Packed>(1);
            let render = scope.spawn(move || {
                for batch in names.chunks(BATCH_KEYS) {
                    if tx.send(pack(store, db, cluster, batch)).is_err() {
                        return; // the sender stopped on an error
                    }
                }
            });
            for batch in rx {
                if batch.commands == 0 {
                    continue;
                }
                // every reply is read (a count, or `OK` for SELECT); the first error stops
                let sent = if cluster {
                    // the cluster client sends each command to the master of its key's slot
                    // and follows MOVED/ASK
                    self.node.each::<redis::Value>(batch.cmds).map(drop)
                } else {
                    self.node.send_packed(&batch.bytes, batch.commands)
                };
                sent.map_err(|e| anyhow::anyhow!("writing to Redis at '{url}' failed: {e}"))?;
                written.keys += batch.written.keys;
                written.fields += batch.written.fields;
            }
            render
                .join()
                .map_err(|_| anyhow::anyhow!("rendering the Redis keys failed"))?;
            Ok(())
        })?;
        if std::env::var_os("KALIPSO_TIMINGS").is_some() {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "timing: redis {secs:.3}s ({} keys, {} fields, {:.0} fields/s)",
                written.keys,
                written.fields,
                written.fields as f64 / secs.max(1e-9)
            );
        }
        Ok(written)
    }
}

/// One batch of keys as Redis commands, ready to send: in the protocol's own encoding (RESP)
/// for one server, or as commands the cluster client routes; and what they write.
#[derive(Default)]
struct Packed {
    bytes: Vec<u8>,
    cmds: Vec<redis::Cmd>,
    commands: usize,
    written: Written,
}

/// Encodes the commands that write `keys` (each value rendered on every core, then put end to
/// end). For one server each run of keys is preceded by a `SELECT` of its database; a cluster
/// has database 0 only and gets the commands themselves.
fn pack(store: &Store, db: i64, cluster: bool, keys: &[(Key, String)]) -> Packed {
    let parts: Vec<Packed> = keys
        .par_iter()
        .map(|(key, name)| {
            let mut part = Packed::default();
            if let Some(value) = store.get(key) {
                part.written = commands_of(name, &value, |args| {
                    if cluster {
                        let mut cmd = redis::Cmd::new();
                        for a in args {
                            cmd.arg(*a);
                        }
                        part.cmds.push(cmd);
                    } else {
                        encode(&mut part.bytes, args);
                    }
                    part.commands += 1;
                });
            }
            part
        })
        .collect();
    let mut out = Packed {
        bytes: Vec::with_capacity(parts.iter().map(|p| p.bytes.len() + 32).sum()),
        ..Packed::default()
    };
    let mut selected = None;
    for ((key, _), part) in keys.iter().zip(parts) {
        if part.commands == 0 {
            continue; // an empty value: Redis holds no empty key
        }
        let n = db + i64::from(key.db());
        if !cluster && selected != Some(n) {
            encode(&mut out.bytes, &[b"SELECT", n.to_string().as_bytes()]);
            out.commands += 1;
            selected = Some(n);
        }
        out.bytes.extend_from_slice(&part.bytes);
        out.cmds.extend(part.cmds);
        out.commands += part.commands;
        out.written.keys += part.written.keys;
        out.written.fields += part.written.fields;
    }
    out
}

/// Hands `emit` the arguments of each command that writes one key; returns what they write.
fn commands_of(name: &str, value: &Value, mut emit: impl FnMut(&[&[u8]])) -> Written {
    let name = name.as_bytes();
    let count = match value {
        Value::Hash(fields) => {
            for chunk in fields.chunks(ARGS_PER_COMMAND) {
                let mut args: Vec<&[u8]> = vec![b"HSET", name];
                for (f, v) in chunk {
                    args.push(f.as_bytes());
                    args.push(v.as_bytes());
                }
                emit(&args);
            }
            fields.len()
        }
        Value::Set(members) => {
            for chunk in members.chunks(ARGS_PER_COMMAND) {
                let mut args: Vec<&[u8]> = vec![b"SADD", name];
                args.extend(chunk.iter().map(String::as_bytes));
                emit(&args);
            }
            members.len()
        }
        Value::ZSet(members) => {
            for chunk in members.chunks(ARGS_PER_COMMAND) {
                // the shortest text that reads back as the same double
                let scores: Vec<String> = chunk.iter().map(|(_, s)| format!("{s:?}")).collect();
                let mut args: Vec<&[u8]> = vec![b"ZADD", name];
                for ((m, _), score) in chunk.iter().zip(&scores) {
                    args.push(score.as_bytes());
                    args.push(m.as_bytes());
                }
                emit(&args);
            }
            members.len()
        }
    };
    Written {
        keys: usize::from(count > 0),
        fields: count,
    }
}

/// Appends one command in RESP: `*<n>` then each argument as `$<len>` and its bytes.
fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    // the lengths are written in place (11 M of them for a realistic 1 M-line log), not each
    // into a String of its own
    out.push(b'*');
    push_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        push_decimal(out, a.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_written_in_resp() {
        let mut out = Vec::new();
        let long = [b'x'; 1234];
        encode(&mut out, &[b"HSET", b"k", b"", &long]);
        let mut want = b"*4\r\n$4\r\nHSET\r\n$1\r\nk\r\n$0\r\n\r\n$1234\r\n".to_vec();
        want.extend_from_slice(&long);
        want.extend_from_slice(b"\r\n");
        assert_eq!(out, want);
        for n in [0, 7, 10, 99, 100, 65_535, usize::MAX] {
            let mut d = Vec::new();
            push_decimal(&mut d, n);
            assert_eq!(d, n.to_string().into_bytes());
        }
    }
}
