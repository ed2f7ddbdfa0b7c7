//! The expiry candidates of a shard's live connections, filed by the second they fall due in.
//!
//! A sweep takes every candidate due by its time and sorts the connections that expire by
//! their start, so the candidates never need to be in order among themselves. A binary heap
//! kept them in order anyway: each sweep's pops sifted 64-byte entries down a heap of every
//! live connection, most of a capture's sweeping. Filed by second, adding a candidate is a
//! push onto its second's list, and a sweep takes the first lists whole.

use std::collections::BTreeMap;

/// Items, each due at a time in seconds.
#[derive(Debug)]
pub(crate) struct Deadlines<T> {
    /// The items due in each whole second (of `f64::floor` of their time).
    by_second: BTreeMap<i64, Vec<(f64, T)>>,
    /// Emptied lists, kept so each second does not allocate one afresh.
    spare: Vec<Vec<(f64, T)>>,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            by_second: BTreeMap::new(),
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
        self.by_second
            .entry(second(at))
            .or_insert_with(|| self.spare.pop().unwrap_or_default())
            .push((at, item));
    }

    /// Whether an item is due at or before `limit`.
    pub fn any_due(&self, limit: f64) -> bool {
        self.by_second
            .first_key_value()
            .is_some_and(|(&s, items)| match s.cmp(&second(limit)) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => items.iter().any(|(at, _)| *at <= limit),
                std::cmp::Ordering::Greater => false,
            })
    }

    /// Moves the items due at or before `limit` into `due`, in no particular order.
    pub fn take_due(&mut self, limit: f64, due: &mut Vec<(f64, T)>) {
        let last = second(limit);
        while let Some(mut entry) = self.by_second.first_entry() {
            let s = *entry.key();
            if s > last {
                break;
            }
            if s < last {
                // every item of an earlier second is due: it is before `last`, so before `limit`
                let mut items = entry.remove();
                due.append(&mut items);
                self.spare.push(items);
                continue;
            }
            // the second `limit` falls in: its items up to `limit` are due, the rest wait
            let items = entry.get_mut();
            let mut i = 0;
            while let Some((at, _)) = items.get(i) {
                if *at <= limit {
                    due.push(items.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            if items.is_empty() {
                let items = entry.remove();
                self.spare.push(items);
            }
            break;
        }
    }

    /// Drops every item.
    pub fn clear(&mut self) {
        self.by_second.clear();
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
            steps in proptest::collection::vec(0.0f64..3.0, 1..40),
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
                prop_assert_eq!(
                    d.any_due(now),
                    times.iter().zip(&taken).any(|(&t, took)| took.is_none() && t <= now)
                );
                d.take_due(now, &mut due);
                for (at, i) in due.drain(..) {
                    prop_assert!(taken[i].is_none(), "item {} taken twice", i);
                    prop_assert_eq!(at.to_bits(), times[i].to_bits());
                    prop_assert!(at <= now, "{} is not due at {}", at, now);
                    taken[i] = Some(sweep);
                }
                // what is left is not due
                prop_assert!(!d.any_due(now));
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
        assert!(d.any_due(10.65));
        d.take_due(11.0, &mut due);
        due.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(due, [(10.6, 'd'), (10.7, 'b')]);
        assert!(!d.any_due(11.99));
        assert!(d.any_due(12.0));
    }
}
