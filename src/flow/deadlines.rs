//! The expiry candidates of a shard's live connections, filed by the second they fall due in.
//!
//! A sweep takes every candidate due by its time and sorts the connections that expire by
//! their start, so the candidates never need to be in order among themselves. A binary heap
//! kept them in order anyway: each sweep's pops sifted 64-byte entries down a heap of every
//! live connection, most of a capture's sweeping. Filed by second, adding a candidate is a
//! push onto its second's list, and a sweep takes the first lists whole.

use crate::prefetch::prefetch;
use rustc_hash::FxHashMap;

/// How many items of the next second a sweep starts loading for the next sweep.
const PREFETCH_ITEMS: usize = 8;

/// Items, each due at a time in seconds.
#[derive(Debug)]
pub(crate) struct Deadlines<T> {
    /// The items due in each whole second (of `f64::floor` of their time). A hash map, not an
    /// ordered one: the search of an ordered map for every connection cost as much as the
    /// heap did; a sweep finds its seconds by counting from `first`.
    by_second: FxHashMap<i64, Vec<(f64, T)>>,
    /// No item is filed under an earlier second.
    first: i64,
    /// Emptied lists, kept so each second does not allocate one afresh.
    spare: Vec<Vec<(f64, T)>>,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            by_second: FxHashMap::default(),
            first: i64::MAX,
            spare: Vec::new(),
        }
    }
}

/// The second `at` falls in (a time no connection has, NaN, files under 0).
fn second(at: f64) -> i64 {
    at.floor() as i64
}

impl<T> Deadlines<T> {
    /// Files `item`, due at `at`.
    pub fn push(&mut self, at: f64, item: T) {
        let s = second(at);
        self.first = self.first.min(s);
        let spare = &mut self.spare;
        self.by_second
            .entry(s)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((at, item));
    }

    /// Moves the items due at or before `limit` into `due`, in no particular order.
    pub fn take_due(&mut self, limit: f64, due: &mut Vec<(f64, T)>) {
        let last = second(limit);
        if self.by_second.is_empty() || self.first > last {
            return;
        }
        // every item of a second before `last` is due. Sweeps come a second or so apart, so
        // those seconds are counted one by one; after a jump in time (a capture's clock
        // reset, a gap of days) the filed seconds are fewer than the ones passed, and are
        // looked at instead.
        let passed = u64::try_from(i128::from(last) - i128::from(self.first)).unwrap_or(u64::MAX);
        if passed <= self.by_second.len() as u64 {
            for s in self.first..last {
                self.take_second(s, due);
            }
        } else {
            let earlier: Vec<i64> = self
                .by_second
                .keys()
                .copied()
                .filter(|&s| s < last)
                .collect();
            for s in earlier {
                self.take_second(s, due);
            }
        }
        self.first = last;
        // the second `limit` falls in: its items up to `limit` are due, the rest wait
        if let Some(items) = self.by_second.get_mut(&last) {
            let mut i = 0;
            while let Some((at, _)) = items.get(i) {
                if *at <= limit {
                    due.push(items.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            if items.is_empty() {
                self.take_second(last, due);
            }
        }
        // the next sweep, a second or so later, scans the next second: its items were filed up
        // to minutes of capture ago, so reading them missed the cache
        let next = self
            .by_second
            .get(&(last + 1))
            .map_or(&[][..], Vec::as_slice);
        for item in next.iter().take(PREFETCH_ITEMS) {
            prefetch(item);
        }
    }

    /// Moves every item of second `s` into `due`.
    fn take_second(&mut self, s: i64, due: &mut Vec<(f64, T)>) {
        if let Some(mut items) = self.by_second.remove(&s) {
            due.append(&mut items);
            self.spare.push(items);
        }
    }

    /// Drops every item.
    pub fn clear(&mut self) {
        self.by_second.clear();
        self.first = i64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Taking what is due at a series of sweep times gives each item once, at the first
        /// sweep at or after its time: what a heap popped in time order gives.
        #[test]
        fn each_item_is_taken_at_the_first_sweep_it_is_due_at(
            times in proptest::collection::vec(-5.0f64..50.0, 0..200),
            steps in proptest::collection::vec(
                prop_oneof![8 => 0.0f64..3.0, 1 => 3.0f64..1e6],
                1..40,
            ),
        ) {
            let mut d = Deadlines::default();
            let mut taken: Vec<Option<usize>> = vec![None; times.len()];
            for (i, &at) in times.iter().enumerate() {
                d.push(at, i);
            }
            let mut now = -6.0;
            let mut due = Vec::new();
            for (sweep, step) in steps.iter().enumerate() {
                now += step;
                d.take_due(now, &mut due);
                for (at, i) in due.drain(..) {
                    prop_assert!(taken[i].is_none(), "item {} taken twice", i);
                    prop_assert_eq!(at.to_bits(), times[i].to_bits());
                    prop_assert!(at <= now, "{} is not due at {}", at, now);
                    taken[i] = Some(sweep);
                }
                // what is left is not due
                let mut again = Vec::new();
                d.take_due(now, &mut again);
                prop_assert!(again.is_empty());
            }
            for (i, &at) in times.iter().enumerate() {
                prop_assert_eq!(taken[i].is_some(), at <= now, "item {} at {}", i, at);
            }
        }
    }

    #[test]
    fn items_filed_after_a_sweep_wait_for_the_next() {
        let mut d = Deadlines::default();
        let mut due = Vec::new();
        d.push(10.2, 'a');
        d.push(10.7, 'b');
        d.push(12.0, 'c');
        d.take_due(10.5, &mut due);
        assert_eq!(due, [(10.2, 'a')]);
        due.clear();
        d.push(10.6, 'd'); // re-filed into the second a sweep has partly taken
        d.push(3.0, 'e'); // filed late, before every second swept so far
        d.take_due(11.0, &mut due);
        due.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(due, [(3.0, 'e'), (10.6, 'd'), (10.7, 'b')]);
        due.clear();
        d.take_due(11.99, &mut due);
        assert!(due.is_empty());
        d.take_due(1e12, &mut due); // a jump of thousands of years
        assert_eq!(due, [(12.0, 'c')]);
    }
}
