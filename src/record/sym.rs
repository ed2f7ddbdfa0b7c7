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

/// A per-task cache in front of the shared table.
#[derive(Debug, Default)]
pub struct SymCache(FxHashMap<CompactString, Sym>);

impl SymCache {
    /// Interns `s`, locking the shared table only on the first sight of `s` in this task.
    pub fn get(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.0.get(s) {
            return sym;
        }
        let sym = Sym::new(s);
        self.0.insert(CompactString::from(s), sym);
        sym
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
