//! The profile tree: profiles with their windows, expand/collapse, a filter, and a selection
//! over the visible rows only (so 100,000 profiles cost nothing to draw).

use super::cursor;
use crate::detect::rank::triage_tier;
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
    /// Alerts raised.
    pub alerts: usize,
    /// Of them, alerts raised by probing home hosts from outside (see
    /// [`crate::detect::rank::triage_order`]).
    pub probe_alerts: usize,
    /// Threat score (see [`crate::detect::rank`]).
    pub score: f64,
    /// Connections as client.
    pub flows: usize,
    /// Payload bytes of its connections as client.
    pub bytes: u64,
    /// A name the capture gave the IP (its DHCP host name, else a DNS answer), if any.
    pub name: Option<String>,
    /// Text the filter matches besides the IP (ports and domains of the profile).
    pub search: String,
}

/// How the tree orders its profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Alerted (for more than probing from outside) first, then by threat score, then by flows
    /// (the triage order).
    #[default]
    Score,
    /// Most alerts first.
    Alerts,
    /// Most connections first.
    Flows,
    /// Most bytes first.
    Bytes,
    /// By IP.
    Ip,
}

impl Order {
    /// The next order of the cycle.
    #[must_use]
    pub fn next(self) -> Order {
        match self {
            Order::Score => Order::Alerts,
            Order::Alerts => Order::Flows,
            Order::Flows => Order::Bytes,
            Order::Bytes => Order::Ip,
            Order::Ip => Order::Score,
        }
    }

    /// Its name in the tree's title.
    pub fn name(self) -> &'static str {
        match self {
            Order::Score => "score",
            Order::Alerts => "alerts",
            Order::Flows => "flows",
            Order::Bytes => "bytes",
            Order::Ip => "IP",
        }
    }

    fn cmp(self, a: &Node, b: &Node) -> std::cmp::Ordering {
        let by_ip = a.ip.cmp(&b.ip);
        match self {
            Order::Score => triage_tier(a.alerts, a.probe_alerts)
                .cmp(&triage_tier(b.alerts, b.probe_alerts))
                .then(b.score.total_cmp(&a.score))
                .then(b.flows.cmp(&a.flows))
                .then(by_ip),
            Order::Alerts => b
                .alerts
                .cmp(&a.alerts)
                .then(b.score.total_cmp(&a.score))
                .then(by_ip),
            Order::Flows => b.flows.cmp(&a.flows).then(by_ip),
            Order::Bytes => b.bytes.cmp(&a.bytes).then(by_ip),
            Order::Ip => by_ip,
        }
    }
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
    /// All profiles, sorted by `order`.
    pub nodes: Vec<Node>,
    /// The order of the nodes.
    pub order: Order,
    expanded: BTreeSet<usize>,
    /// The filter (substring of the IP, a name, a port or a domain).
    pub filter: String,
    rows: Vec<Row>,
    /// Selected visible row.
    pub selected: usize,
    /// Columns of the widest profile label without its name (`▸ ip ⚑N`), so the pane can
    /// widen for IPv6 profiles instead of cutting them.
    pub widest: usize,
}

impl Tree {
    /// A tree of `nodes` in the triage order, all collapsed.
    pub fn new(mut nodes: Vec<Node>) -> Tree {
        nodes.sort_by(|a, b| Order::Score.cmp(a, b));
        let widest = nodes
            .iter()
            .map(|n| {
                let flag = if n.alerts > 0 {
                    2 + n.alerts.to_string().len()
                } else {
                    0
                };
                2 + n.ip.to_string().len() + flag
            })
            .max()
            .unwrap_or(0);
        let mut t = Tree {
            nodes,
            widest,
            ..Tree::default()
        };
        t.rebuild();
        t
    }

    /// Profiles with an alert.
    pub fn alerted(&self) -> usize {
        self.nodes.iter().filter(|n| n.alerts > 0).count()
    }

    /// Re-sorts the profiles by `order`, keeping the expanded profiles and the selected row.
    pub fn set_order(&mut self, order: Order) {
        let keep = self.current().and_then(|r| match r {
            Row::Profile(i) => self.nodes.get(i).map(|n| (n.ip, None)),
            Row::Window(i, w) => self.nodes.get(i).map(|n| (n.ip, Some(w))),
        });
        let open: BTreeSet<IpAddr> = self
            .expanded
            .iter()
            .filter_map(|&i| self.nodes.get(i).map(|n| n.ip))
            .collect();
        self.order = order;
        self.nodes.sort_by(|a, b| order.cmp(a, b));
        self.expanded = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| open.contains(&n.ip))
            .map(|(i, _)| i)
            .collect();
        self.rebuild();
        if let Some((ip, w)) = keep {
            if let Some(i) = self.nodes.iter().position(|n| n.ip == ip) {
                let row = w.map_or(Row::Profile(i), |w| Row::Window(i, w));
                if let Some(at) = self.rows.iter().position(|r| *r == row) {
                    self.selected = at;
                }
            }
        }
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
        self.selected = cursor::step(self.selected, delta, self.rows.len());
    }

    /// Jumps to the first or last row.
    pub fn jump(&mut self, end: bool) {
        self.selected = cursor::jump(end, self.rows.len());
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
            alerts: alerted.len(),
            probe_alerts: 0,
            score: 0.0,
            flows: 0,
            bytes: 0,
            name: None,
            search: String::new(),
        }
    }

    fn scored(ip: &str, alerts: usize, score: f64, flows: usize, bytes: u64) -> Node {
        Node {
            alerts,
            score,
            flows,
            bytes,
            ..node(ip, &[1], &[])
        }
    }

    fn ips(t: &Tree) -> Vec<String> {
        t.nodes.iter().map(|n| n.ip.to_string()).collect()
    }

    #[test]
    fn the_order_cycles_from_triage_through_alerts_flows_bytes_and_ip() {
        let mut t = Tree::new(vec![
            scored("10.0.0.1", 0, 50.0, 10, 900),
            scored("10.0.0.2", 2, 8.0, 5, 100),
            scored("10.0.0.3", 9, 7.0, 1, 50),
            scored("10.0.0.4", 0, 0.0, 99, 10),
        ]);
        assert_eq!(t.order, Order::Score);
        assert_eq!(ips(&t), ["10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.4"]);
        t.step(2);
        t.toggle();
        t.set_order(t.order.next());
        assert_eq!(ips(&t), ["10.0.0.3", "10.0.0.2", "10.0.0.1", "10.0.0.4"]);
        assert_eq!(
            t.current_ip().map(|i| i.to_string()).as_deref(),
            Some("10.0.0.1"),
            "the selection follows its profile"
        );
        assert!(
            t.rows().contains(&Row::Window(2, 1)),
            "and it stays expanded"
        );
        t.set_order(t.order.next());
        assert_eq!(ips(&t)[0], "10.0.0.4");
        t.set_order(t.order.next());
        assert_eq!(ips(&t)[0], "10.0.0.1");
        t.set_order(t.order.next());
        assert_eq!(ips(&t), ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
        assert_eq!(t.order.next(), Order::Score);
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
        assert_eq!(
            t.nodes[1].ip.to_string(),
            "10.0.0.2",
            "then by IP when scores and flows tie"
        );
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
