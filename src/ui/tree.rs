//! The profile tree: profiles with their windows, expand/collapse, a filter, and a selection
//! over the visible rows only (so 100,000 profiles cost nothing to draw).

use std::collections::BTreeSet;
use std::net::IpAddr;

/// One profile as the tree shows it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The profile's IP.
    pub ip: IpAddr,
    /// Its window numbers, ascending.
    pub windows: Vec<i64>,
    /// Windows with an alert.
    pub alerted: BTreeSet<i64>,
    /// A name the capture gave the IP (DNS answer), if any.
    pub name: Option<String>,
    /// Text the filter matches besides the IP (ports and domains of the profile).
    pub search: String,
}

/// A visible row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A profile (index into the nodes).
    Profile(usize),
    /// A window of a profile.
    Window(usize, i64),
}

/// The tree.
#[derive(Debug, Default)]
pub struct Tree {
    /// All profiles, sorted: alerted first, then by IP.
    pub nodes: Vec<Node>,
    expanded: BTreeSet<usize>,
    /// The filter (substring of the IP, a name, a port or a domain).
    pub filter: String,
    rows: Vec<Row>,
    /// Selected visible row.
    pub selected: usize,
}

impl Tree {
    /// A tree of `nodes` (sorted here), all collapsed.
    pub fn new(mut nodes: Vec<Node>) -> Tree {
        nodes.sort_by(|a, b| {
            a.alerted
                .is_empty()
                .cmp(&b.alerted.is_empty())
                .then(a.ip.cmp(&b.ip))
        });
        let mut t = Tree {
            nodes,
            ..Tree::default()
        };
        t.rebuild();
        t
    }

    fn matches(&self, n: &Node) -> bool {
        let f = self.filter.as_str();
        f.is_empty()
            || n.ip.to_string().contains(f)
            || n.name.as_deref().is_some_and(|s| s.contains(f))
            || n.search.contains(f)
    }

    /// Recomputes the visible rows (after a filter or expansion change), keeping the selected
    /// row where possible.
    pub fn rebuild(&mut self) {
        let keep = self.current();
        self.rows.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if !self.matches(n) {
                continue;
            }
            self.rows.push(Row::Profile(i));
            if self.expanded.contains(&i) || !self.filter.is_empty() && self.nodes.len() <= 50 {
                self.rows
                    .extend(n.windows.iter().map(|&w| Row::Window(i, w)));
            }
        }
        self.selected = keep
            .and_then(|k| self.rows.iter().position(|r| *r == k))
            .unwrap_or(0)
            .min(self.rows.len().saturating_sub(1));
    }

    /// The visible rows.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The selected row.
    pub fn current(&self) -> Option<Row> {
        self.rows.get(self.selected).copied()
    }

    /// The IP of the selected row.
    pub fn current_ip(&self) -> Option<IpAddr> {
        match self.current()? {
            Row::Profile(i) | Row::Window(i, _) => self.nodes.get(i).map(|n| n.ip),
        }
    }

    /// Moves the selection by `delta` rows, clamped.
    pub fn step(&mut self, delta: isize) {
        let last = self.rows.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    /// Jumps to the first or last row.
    pub fn jump(&mut self, end: bool) {
        self.selected = if end {
            self.rows.len().saturating_sub(1)
        } else {
            0
        };
    }

    /// Expands (true) or collapses (false) the selected profile; on a window row, collapsing
    /// goes back to its profile.
    pub fn set_expanded(&mut self, open: bool) {
        match self.current() {
            Some(Row::Profile(i)) => {
                if open {
                    self.expanded.insert(i);
                } else {
                    self.expanded.remove(&i);
                }
            }
            Some(Row::Window(i, _)) if !open => {
                self.expanded.remove(&i);
                self.rebuild();
                if let Some(p) = self.rows.iter().position(|r| *r == Row::Profile(i)) {
                    self.selected = p;
                }
                return;
            }
            _ => return,
        }
        self.rebuild();
    }

    /// Toggles the selected profile.
    pub fn toggle(&mut self) {
        if let Some(Row::Profile(i)) = self.current() {
            let open = !self.expanded.contains(&i);
            self.set_expanded(open);
        }
    }

    /// Sets the filter.
    pub fn set_filter(&mut self, filter: &str) {
        filter.clone_into(&mut self.filter);
        self.rebuild();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ip: &str, windows: &[i64], alerted: &[i64]) -> Node {
        Node {
            ip: ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            windows: windows.to_vec(),
            alerted: alerted.iter().copied().collect(),
            name: None,
            search: String::new(),
        }
    }

    #[test]
    fn alerted_first_expand_collapse_and_filter() {
        let mut t = Tree::new(vec![
            node("10.0.0.9", &[1, 2], &[]),
            node("10.0.0.2", &[1], &[]),
            node("192.168.1.5", &[3], &[3]),
        ]);
        assert_eq!(
            t.rows(),
            [Row::Profile(0), Row::Profile(1), Row::Profile(2)]
        );
        assert_eq!(
            t.nodes[0].ip.to_string(),
            "192.168.1.5",
            "alerted profiles first"
        );
        assert_eq!(t.nodes[1].ip.to_string(), "10.0.0.2", "then by IP");
        t.step(2);
        t.toggle();
        assert_eq!(t.rows().len(), 5, "10.0.0.9 shows its two windows");
        t.step(1);
        assert_eq!(t.current(), Some(Row::Window(2, 1)));
        t.set_expanded(false);
        assert_eq!(t.current(), Some(Row::Profile(2)), "back to the profile");
        assert_eq!(t.rows().len(), 3);
        t.set_filter("10.0.0.2");
        assert_eq!(t.rows(), [Row::Profile(1), Row::Window(1, 1)]);
        t.set_filter("nothing");
        assert!(t.rows().is_empty());
        assert_eq!(t.current(), None);
        t.step(5);
        t.step(-7);
        assert_eq!(t.selected, 0, "moving in an empty tree stays put");
    }
}
