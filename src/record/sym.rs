//! Interned short strings for record fields with few distinct values (Zeek's `service` and
//! `history`): a [`Sym`] is 4 bytes instead of a 24-byte string in every connection.
//!
//! The table is process-wide and append-only; a string is stored once and never freed (the
//! number of distinct services and histories is small). Parsers keep a [`SymCache`] per task so
//! the shared table is locked only for values the task has not seen yet.

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

/// An interned string; `Sym::default()` is the empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Sym(u32);

#[derive(Default)]
struct Table {
    ids: FxHashMap<&'static str, u32>,
    strings: Vec<&'static str>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table::default();
        t.ids.insert("", 0);
        t.strings.push("");
        RwLock::new(t)
    })
}

impl Sym {
    /// Interns `s`.
    pub fn new(s: &str) -> Sym {
        if s.is_empty() {
            return Sym(0);
        }
        if let Some(&id) = table()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .ids
            .get(s)
        {
            return Sym(id);
        }
        let mut t = table().write().unwrap_or_else(PoisonError::into_inner);
        if let Some(&id) = t.ids.get(s) {
            return Sym(id);
        }
        let stored: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let id = t.strings.len() as u32;
        t.strings.push(stored);
        t.ids.insert(stored, id);
        Sym(id)
    }

    /// The string.
    pub fn as_str(self) -> &'static str {
        table()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .strings
            .get(self.0 as usize)
            .copied()
            .unwrap_or("")
    }

    /// Whether this is the empty string.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The symbol's index in [`Sym::all`].
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Every string interned so far, by index: one lock for a whole pass, instead of one per
    /// [`Sym::as_str`].
    pub fn all() -> Vec<&'static str> {
        table()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .strings
            .clone()
    }
}

impl std::fmt::Display for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A per-task cache in front of the shared table: a small direct-mapped memo of strings of up
/// to 16 bytes (Zeek's histories and services are a few), then a map.
///
/// Two look-ups a conn.log line in a map keyed by strings (hashing the bytes, then comparing
/// them) were 1.8 % of the CPU at 5 M lines; a short string packed into one integer is found
/// with one multiplication and one comparison.
#[derive(Debug)]
pub struct SymCache {
    /// Slot `hash(key) % SLOTS`: the packed string, its length + 1 (0: empty), its symbol.
    short: Vec<(u128, u8, Sym)>,
    map: FxHashMap<CompactString, Sym>,
}

/// Slots of [`SymCache::short`]: a task's distinct histories and services are a few dozen.
const SLOTS: usize = 256;

impl Default for SymCache {
    fn default() -> Self {
        SymCache {
            short: vec![(0, 0, Sym(0)); SLOTS],
            map: FxHashMap::default(),
        }
    }
}

/// A string of up to 16 bytes as one integer and its length + 1, which together tell it from
/// any other: its first and last 8 (or 4) bytes, which overlap when it is shorter than 16 (or
/// 8), or its first, middle and last byte. (Loads of a fixed size: copying a string of any
/// length into a buffer and reading the buffer back stalled on the copy.)
fn packed(b: &[u8]) -> Option<(u128, u8)> {
    let n = b.len();
    if n > 16 {
        return None;
    }
    let tag = u8::try_from(n + 1).ok()?;
    let (lo, hi) = if n >= 8 {
        (
            u64::from_le_bytes(*b.first_chunk::<8>()?),
            u64::from_le_bytes(*b.last_chunk::<8>()?),
        )
    } else if n >= 4 {
        (
            u64::from(u32::from_le_bytes(*b.first_chunk::<4>()?)),
            u64::from(u32::from_le_bytes(*b.last_chunk::<4>()?)),
        )
    } else {
        let byte = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        (
            byte(0) | byte(n / 2) << 8 | byte(n.saturating_sub(1)) << 16,
            0,
        )
    };
    Some((u128::from(lo) | u128::from(hi) << 64, tag))
}

impl SymCache {
    /// Interns `s`, locking the shared table only on the first sight of `s` in this task.
    pub fn get(&mut self, s: &str) -> Sym {
        let Some((key, tag)) = packed(s.as_bytes()) else {
            return self.get_long(s);
        };
        let mixed = (key as u64) ^ ((key >> 64) as u64).rotate_left(32) ^ u64::from(tag);
        let at = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SLOTS;
        if let Some(&(k, t, sym)) = self.short.get(at)
            && k == key
            && t == tag
        {
            return sym;
        }
        let sym = self.get_long(s);
        if let Some(slot) = self.short.get_mut(at) {
            *slot = (key, tag, sym);
        }
        sym
    }

    /// Interns `s` through the map.
    fn get_long(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = Sym::new(s);
        self.map.insert(CompactString::from(s), sym);
        sym
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_gives_every_string_its_own_symbol() {
        // more short strings than slots (so slots are shared and overwritten), strings that
        // differ only in length or in their last byte, and long ones
        let mut strings: Vec<String> = (0..2000).map(|i| format!("h{i:x}")).collect();
        strings.extend(["", "\0", "S", "S\0", "ShADadFf", "ShADadFfR"].map(String::from));
        strings.extend((0..40).map(|n| "x".repeat(n)));
        // every length up to 20, differing at every place
        strings.extend((0..2000u64).map(|i| {
            let long = format!(
                "{:020}",
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10u64.pow(19)
            );
            long[..(i % 21) as usize].to_string()
        }));
        let mut cache = SymCache::default();
        for round in 0..3 {
            for s in strings.iter().rev().skip(round) {
                assert_eq!(cache.get(s), Sym::new(s), "{s:?}");
                assert_eq!(cache.get(s).as_str(), s.as_str());
            }
        }
    }

    #[test]
    fn equal_strings_share_a_symbol_across_threads() {
        let a = Sym::new("ShADadFf");
        let b = std::thread::spawn(|| SymCache::default().get("ShADadFf"))
            .join()
            .unwrap_or_default();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "ShADadFf");
        assert!(Sym::new("").is_empty());
        assert_ne!(Sym::new("dns"), Sym::new("http"));
    }
}
