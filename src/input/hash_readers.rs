//! Reading many Redis hashes over several connections at once, in key order.
//!
//! One connection waits for each pipelined batch's reply before it sends the next, and turns
//! every reply into records on the same thread: reading back a million flows took 7–8 s, most
//! of it spent in the client between round trips. Here several readers, each with its own
//! connection (a cluster client when the URL names a cluster node), take batches of keys in
//! turn, and each turns the hashes it read into values (`map`, e.g. parsing the flows' JSON)
//! where it read them. The caller's `each` then takes the values in key order, on the calling
//! thread, so what it builds is the same whatever the number of readers.

use crate::redis_node::Node;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Keys fetched per round trip.
pub(super) const BATCH: usize = 256;

/// How many batches a reader may run ahead of the one `each` waits for: bounds the values held
/// when one batch is slow (a big hash on a far node).
const AHEAD: usize = 16;

/// How many connections read at once: one per thread of the rayon pool the reading runs in
/// (`--threads`; one per core by default), at least two (a reader waits for the network half
/// of the time), at most eight.
fn readers() -> usize {
    rayon::current_num_threads().clamp(2, 8)
}

/// `HGETALL` of every key of `keys` from the Redis `url` names, over several connections. Each
/// hash (its fields sorted) becomes a `T` by `map`, given the reader's own state from `init`;
/// `each` gets them in key order. The first failure (a connection, a reply) is returned, and
/// the readers stop.
pub(super) fn each_hash<S, T: Send>(
    url: &str,
    keys: &[String],
    init: impl Fn() -> S,
    map: impl Fn(&mut S, &str, Vec<(String, String)>) -> T + Sync,
    mut each: impl FnMut(&str, T),
) -> anyhow::Result<()>
where
    S: Send,
{
    let batches: Vec<&[String]> = keys.chunks(BATCH).collect();
    let readers = (0..readers().min(batches.len()))
        .map(|_| Ok((Node::reach(url, "")?, init())))
        .collect::<anyhow::Result<Vec<(Node, S)>>>()?;
    in_order(
        readers,
        &batches,
        |(node, state), batch| {
            let hashes = read_batch(node, batch)?;
            Ok(batch
                .iter()
                .zip(hashes)
                .map(|(key, fields)| map(state, key, fields))
                .collect::<Vec<T>>())
        },
        |batch, values| {
            for (key, value) in batch.iter().zip(values) {
                each(key, value);
            }
        },
    )
}

/// Runs `job` on every item of `items` on one thread per worker (each job gets its worker's
/// own state), and hands the results to `each` in item order on the calling thread. A worker
/// runs at most [`AHEAD`] items ahead of the one `each` waits for. The first failure stops the
/// workers and is returned; `each` sees nothing from that item on.
fn in_order<W: Send, I: Sync, T: Send>(
    workers: Vec<W>,
    items: &[I],
    job: impl Fn(&mut W, &I) -> anyhow::Result<T> + Sync,
    mut each: impl FnMut(&I, T),
) -> anyhow::Result<()> {
    let next = AtomicUsize::new(0);
    let consumed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut failure = None;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, anyhow::Result<T>)>();
        for mut worker in workers {
            let tx = tx.clone();
            let (next, consumed, stop, job) = (&next, &consumed, &stop, &job);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else {
                        return;
                    };
                    while i >= consumed.load(Ordering::Acquire) + AHEAD {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if tx.send((i, job(&mut worker, item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // results that came before their turn
        let mut early: BTreeMap<usize, T> = BTreeMap::new();
        let mut turn = 0;
        for (i, result) in rx {
            match result {
                Ok(value) => {
                    early.insert(i, value);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            if failure.is_some() {
                continue;
            }
            while let Some(value) = early.remove(&turn) {
                each(&items[turn], value);
                turn += 1;
                consumed.store(turn, Ordering::Release);
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// One pipelined round trip: the hashes of `keys`, each with its fields sorted.
fn read_batch(node: &mut Node, keys: &[String]) -> anyhow::Result<Vec<Vec<(String, String)>>> {
    let cmds = keys.iter().map(|k| redis::cmd("HGETALL").arg(k).clone());
    let values: Vec<std::collections::HashMap<String, String>> = node
        .each(cmds.collect())
        .map_err(|e| anyhow::anyhow!("Redis at '{}': {e}", node.shown()))?;
    Ok(values
        .into_iter()
        .map(|v| {
            let mut fields: Vec<(String, String)> = v.into_iter().collect();
            fields.sort_unstable();
            fields
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_readers_follow_the_pool_they_run_in_from_two_to_eight() {
        let within = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("pool")
                .install(readers)
        };
        assert_eq!(within(1), 2, "one reader would wait for every reply");
        assert_eq!(within(5), 5);
        assert_eq!(within(16), 8);
    }

    /// A job that takes a pseudo-random few hundred microseconds, so results arrive out of order.
    fn slow_double(random: &mut Rng, item: u64) -> u64 {
        std::thread::sleep(std::time::Duration::from_micros(random.below(400)));
        item * 2
    }

    #[test]
    fn results_come_in_item_order_whatever_order_the_workers_finish_in() {
        let items: Vec<u64> = (0..400).collect();
        for workers in [1, 3, 8] {
            let randoms: Vec<Rng> = (1..=workers).map(Rng::new).collect();
            let mut seen = Vec::new();
            let job = |random: &mut Rng, item: &u64| Ok(slow_double(random, *item));
            in_order(randoms, &items, job, |item, v| seen.push((*item, v)))
                .unwrap_or_else(|e| panic!("{e}"));
            let expected: Vec<(u64, u64)> = items.iter().map(|&i| (i, i * 2)).collect();
            assert_eq!(seen, expected, "{workers} workers");
        }
    }

    #[test]
    fn the_first_failure_is_returned_and_nothing_from_it_on_is_handed_over() {
        let items: Vec<u64> = (0..400).collect();
        let mut seen = Vec::new();
        let job = |random: &mut Rng, item: &u64| {
            if *item == 150 {
                anyhow::bail!("item 150 failed");
            }
            Ok(slow_double(random, *item))
        };
        let randoms = vec![Rng::new(7), Rng::new(11), Rng::new(13)];
        let result = in_order(randoms, &items, job, |item, _| seen.push(*item));
        assert_eq!(
            result.map_err(|e| e.to_string()),
            Err("item 150 failed".into())
        );
        // items before the failed one, in order, and none from it on (those before it that were
        // still running when it failed may be left out: the read fails as a whole)
        assert!(seen.len() <= 150, "{seen:?}");
        assert_eq!(seen, (0..seen.len() as u64).collect::<Vec<u64>>());
    }
}
