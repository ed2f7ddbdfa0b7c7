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

use crate::store::Store;
use crate::store::keys::Key;
use crate::store::redis::Value;
use anyhow::Context as _;
use rayon::prelude::*;
use redis::{Client, Connection};
use std::time::{Duration, Instant};

/// Keys rendered and sent per pipeline.
const BATCH_KEYS: usize = 2048;

/// The most fields, members or scores one command carries (a hash of a busy window has
/// thousands of flows; a few commands of this size keep each request small for the server).
const ARGS_PER_COMMAND: usize = 1024;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis server, reached and checked, that the store will be written into.
pub struct RedisTarget {
    url: String,
    connection: Connection,
    /// Database of the analysis; `IPsInfo` goes to the next one.
    db: i64,
    /// Empty both databases before writing.
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
    /// Connects to `url` and checks that its database N and N+1 are empty (or, with `flush`,
    /// that they may be emptied; with `shared`, a `--shard` worker's, that other workers may
    /// have written there); every failure is one line that names the URL.
    pub fn connect(url: &str, flush: bool, shared: bool) -> anyhow::Result<RedisTarget> {
        let shown = crate::text::clean(url);
        let client = Client::open(url).map_err(|e| {
            anyhow::anyhow!("--redis: '{shown}' is not a Redis URL (redis://HOST:PORT/DB): {e}")
        })?;
        let db = client.get_connection_info().redis_settings().db();
        let connection = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis at '{shown}': {e}"))?;
        connection
            .set_read_timeout(Some(Duration::from_secs(120)))
            .and_then(|()| connection.set_write_timeout(Some(Duration::from_secs(120))))
            .with_context(|| format!("cannot set timeouts on the connection to '{shown}'"))?;
        let mut connection = connection;
        crate::redis_node::refuse_cluster(&mut connection, &shown)?;
        let mut target = RedisTarget {
            url: shown.to_string(),
            connection,
            db,
            flush,
        };
        for n in [db, db + 1] {
            let keys: u64 = target.in_db(n, redis::cmd("DBSIZE"))?;
            if keys > 0 && !flush && !shared {
                anyhow::bail!(
                    "Redis database {n} at '{}' holds {keys} key(s): kalipso writes into empty \
                     databases only ({db} for the analysis, {} for IPsInfo); pass --redis-flush \
                     to empty them first",
                    target.url,
                    db + 1
                );
            }
        }
        Ok(target)
    }

    /// The server's URL, as messages show it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one command in database `n`.
    fn in_db<T: redis::FromRedisValue>(&mut self, n: i64, cmd: redis::Cmd) -> anyhow::Result<T> {
        let mut pipe = redis::pipe();
        pipe.cmd("SELECT").arg(n).ignore().add_command(cmd);
        let (value,): (T,) = pipe
            .query(&mut self.connection)
            .map_err(|e| anyhow::anyhow!("Redis at '{}', database {n}: {e}", self.url))?;
        Ok(value)
    }

    /// Writes every key of the store, in key order; returns what was sent.
    pub fn write(mut self, store: &Store) -> anyhow::Result<Written> {
        if self.flush {
            for n in [self.db, self.db + 1] {
                let () = self.in_db(n, redis::cmd("FLUSHDB"))?;
            }
        }
        let names = store.named_keys();
        let started = Instant::now();
        let mut written = Written::default();
        let (db, url) = (self.db, self.url.clone());
        // one thread renders and encodes the next batch (on every core) while this one sends
        // the last
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Packed>(1);
            let render = scope.spawn(move || {
                for batch in names.chunks(BATCH_KEYS) {
                    if tx.send(pack(store, db, batch)).is_err() {
                        return; // the sender stopped on an error
                    }
                }
            });
            for batch in rx {
                if batch.commands == 0 {
                    continue;
                }
                // every reply is read (a count, or `OK` for SELECT); the first error stops
                redis::ConnectionLike::req_packed_commands(
                    &mut self.connection,
                    &batch.bytes,
                    0,
                    batch.commands,
                )
                .map_err(|e| anyhow::anyhow!("writing to Redis at '{url}' failed: {e}"))?;
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

/// One batch of keys as Redis commands in the protocol's own encoding (RESP), ready for the
/// socket, and how many commands and what they write.
struct Packed {
    bytes: Vec<u8>,
    commands: usize,
    written: Written,
}

/// Encodes the commands that write `keys` (each value rendered on every core, then put end to
/// end), each run of keys preceded by a `SELECT` of its database.
fn pack(store: &Store, db: i64, keys: &[(Key, String)]) -> Packed {
    let parts: Vec<Packed> = keys
        .par_iter()
        .map(|(key, name)| {
            let mut part = Packed {
                bytes: Vec::new(),
                commands: 0,
                written: Written::default(),
            };
            if let Some(value) = store.get(key) {
                pack_value(&mut part, name, &value);
            }
            part
        })
        .collect();
    let mut out = Packed {
        bytes: Vec::with_capacity(parts.iter().map(|p| p.bytes.len() + 32).sum()),
        commands: 0,
        written: Written::default(),
    };
    let mut selected = None;
    for ((key, _), part) in keys.iter().zip(parts) {
        if part.commands == 0 {
            continue; // an empty value: Redis holds no empty key
        }
        let n = db + i64::from(key.db());
        if selected != Some(n) {
            command(&mut out.bytes, &[b"SELECT", n.to_string().as_bytes()]);
            out.commands += 1;
            selected = Some(n);
        }
        out.bytes.extend_from_slice(&part.bytes);
        out.commands += part.commands;
        out.written.keys += part.written.keys;
        out.written.fields += part.written.fields;
    }
    out
}

/// Appends the commands that write one key.
fn pack_value(part: &mut Packed, name: &str, value: &Value) {
    let name = name.as_bytes();
    let count = match value {
        Value::Hash(fields) => {
            for chunk in fields.chunks(ARGS_PER_COMMAND) {
                let mut args: Vec<&[u8]> = vec![b"HSET", name];
                for (f, v) in chunk {
                    args.push(f.as_bytes());
                    args.push(v.as_bytes());
                }
                command(&mut part.bytes, &args);
                part.commands += 1;
            }
            fields.len()
        }
        Value::Set(members) => {
            for chunk in members.chunks(ARGS_PER_COMMAND) {
                let mut args: Vec<&[u8]> = vec![b"SADD", name];
                args.extend(chunk.iter().map(String::as_bytes));
                command(&mut part.bytes, &args);
                part.commands += 1;
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
                command(&mut part.bytes, &args);
                part.commands += 1;
            }
            members.len()
        }
    };
    part.written.fields += count;
    part.written.keys += usize::from(count > 0);
}

/// Appends one command in RESP: `*<n>` then each argument as `$<len>` and its bytes.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
