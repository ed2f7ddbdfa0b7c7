//! The key table: every binding once, so the key handling, the hotkey bar and the help screen
//! cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A view of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Profile tree, IP info, timeline, evidence.
    Main,
    /// Source ports as client (`e`).
    SrcPortsClient,
    /// Destination IPs as client (`c`).
    DstIpsClient,
    /// Destination ports as server (`b`).
    DstPortsServer,
    /// Destination ports as client (`p`).
    DstPortsClient,
    /// Destination port × IP as client (`n`).
    DstPortIpsClient,
    /// Out-tuples with letters (`h`).
    OutTuples,
    /// In-tuples (`i`).
    InTuples,
    /// World map of the window's destinations (`m`).
    Map,
    /// All evidence of the profile (`z`).
    ProfileEvidence,
    /// The capture-wide overview (`v`).
    Overview,
    /// The key table (`?`).
    Help,
}

impl View {
    /// The name shown in the hotkey bar.
    pub fn name(self) -> &'static str {
        match self {
            View::Main => "main",
            View::SrcPortsClient => "srcPortClient",
            View::DstIpsClient => "dstIPsClient",
            View::DstPortsServer => "dstPortServer",
            View::DstPortsClient => "dstPortsClient",
            View::DstPortIpsClient => "dstPortsClientIPs",
            View::OutTuples => "OutTuples",
            View::InTuples => "InTuples",
            View::Map => "map",
            View::ProfileEvidence => "ProfileEvidences",
            View::Overview => "overview",
            View::Help => "help",
        }
    }
}

/// What a key press (or the drawing of a frame) asks of the UI state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave kalipso.
    Quit,
    /// Back to the main board.
    Back,
    /// Open a view.
    Open(View),
    /// Next pane.
    FocusNext,
    /// Previous pane.
    FocusPrev,
    /// Move the selection.
    Up,
    /// Move the selection.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// First row.
    Home,
    /// Last row.
    End,
    /// Select / expand the row.
    Enter,
    /// Collapse.
    Left,
    /// Expand.
    Right,
    /// Copy the selected IP to the clipboard (OSC 52).
    Copy,
    /// Start a search.
    Search,
    /// Show the next search match.
    NextMatch,
    /// Show the previous search match.
    PrevMatch,
    /// Order the rows of the open table by the next key.
    SortTuples,
    /// Exact or readable numbers in the two-list views.
    ExactNumbers,
    /// Order the tree by the next key (score, alerts, flows, bytes, IP).
    CycleOrder,
    /// What the last frame showed: page height and scroll positions as the panes clamped them.
    Drawn(super::draw::Viewport),
}

impl Action {
    /// Its short name in the hotkey bar.
    fn bar_name(self) -> &'static str {
        match self {
            Action::Open(v) => v.name(),
            Action::Copy => "copy",
            Action::Search => "search",
            Action::CycleOrder => "order",
            Action::Quit => "quit",
            _ => "",
        }
    }
}

/// One line of the key table: the keys as the help shows them, the key codes and what each
/// does, whether it has a place in the hotkey bar, and its description.
pub struct Binding {
    /// The keys, as the help shows them.
    pub label: &'static str,
    /// The key codes that trigger it, each with its action. Empty for input the UI reads
    /// elsewhere (the tree filter's digits, the mouse), listed here so the help names it.
    pub keys: &'static [(KeyCode, Action)],
    /// Shown in the hotkey bar.
    pub in_bar: bool,
    /// What it does.
    pub help: &'static str,
}

impl Binding {
    /// The action of its first key.
    pub fn action(&self) -> Option<Action> {
        self.keys.first().map(|k| k.1)
    }
}

/// Every binding, in the order of the help screen; the hotkey bar shows those marked
/// `in_bar`, views first.
pub const KEYS: &[Binding] = &[
    Binding {
        label: "v",
        keys: &[(KeyCode::Char('v'), Action::Open(View::Overview))],
        in_bar: true,
        help: "overview: ranked suspects, beacons, long connections, TI hits, top talkers, ports, input (Enter opens a row's window)",
    },
    Binding {
        label: "e",
        keys: &[(KeyCode::Char('e'), Action::Open(View::SrcPortsClient))],
        in_bar: true,
        help: "source ports as client (established / not established)",
    },
    Binding {
        label: "c",
        keys: &[(KeyCode::Char('c'), Action::Open(View::DstIpsClient))],
        in_bar: true,
        help: "destination IPs as client",
    },
    Binding {
        label: "b",
        keys: &[(KeyCode::Char('b'), Action::Open(View::DstPortsServer))],
        in_bar: true,
        help: "destination ports as server",
    },
    Binding {
        label: "p",
        keys: &[(KeyCode::Char('p'), Action::Open(View::DstPortsClient))],
        in_bar: true,
        help: "destination ports as client",
    },
    Binding {
        label: "n",
        keys: &[(KeyCode::Char('n'), Action::Open(View::DstPortIpsClient))],
        in_bar: true,
        help: "destination port × IP as client",
    },
    Binding {
        label: "h",
        keys: &[(KeyCode::Char('h'), Action::Open(View::OutTuples))],
        in_bar: true,
        help: "out-tuples: behavioural letters, DNS names, SNI, ASN, country",
    },
    Binding {
        label: "i",
        keys: &[(KeyCode::Char('i'), Action::Open(View::InTuples))],
        in_bar: true,
        help: "in-tuples",
    },
    Binding {
        label: "m",
        keys: &[(KeyCode::Char('m'), Action::Open(View::Map))],
        in_bar: true,
        help: "world map of the window's destinations",
    },
    Binding {
        label: "z",
        keys: &[(KeyCode::Char('z'), Action::Open(View::ProfileEvidence))],
        in_bar: true,
        help: "all evidence of the profile",
    },
    Binding {
        label: "w",
        keys: &[(KeyCode::Char('w'), Action::Copy)],
        in_bar: true,
        help: "copy the selected IP (OSC 52: works over SSH)",
    },
    Binding {
        label: "/",
        keys: &[(KeyCode::Char('/'), Action::Search)],
        in_bar: true,
        help: "search: an IP, a prefix (198.51.100) or CIDR, a port, a domain, a URI or an evidence kind (filters the tree)",
    },
    Binding {
        label: "] [",
        keys: &[
            (KeyCode::Char(']'), Action::NextMatch),
            (KeyCode::Char('['), Action::PrevMatch),
        ],
        in_bar: false,
        help: "next / previous search match: opens its window, the timeline's cursor on the flow",
    },
    Binding {
        label: "s",
        keys: &[(KeyCode::Char('s'), Action::SortTuples)],
        in_bar: false,
        help: "tables: order the rows (h / i: first seen, flows, beacon score; e c b p n: by each column)",
    },
    Binding {
        label: "x",
        keys: &[(KeyCode::Char('x'), Action::ExactNumbers)],
        in_bar: false,
        help: "e c b p n: exact numbers instead of readable ones (1.2 MB, 1,234)",
    },
    Binding {
        label: "o",
        keys: &[(KeyCode::Char('o'), Action::CycleOrder)],
        in_bar: false,
        help: "order the profiles by score (alerted first), alerts, flows, bytes or IP",
    },
    Binding {
        label: "?",
        keys: &[(KeyCode::Char('?'), Action::Open(View::Help))],
        in_bar: true,
        help: "this help",
    },
    Binding {
        label: "Tab",
        keys: &[
            (KeyCode::Tab, Action::FocusNext),
            (KeyCode::BackTab, Action::FocusPrev),
        ],
        in_bar: false,
        help: "next pane (Shift-Tab: previous)",
    },
    Binding {
        label: "Esc",
        keys: &[(KeyCode::Esc, Action::Back)],
        in_bar: false,
        help: "back to the main board (there: the whole timeline again, then clears a filter)",
    },
    Binding {
        label: "q",
        keys: &[(KeyCode::Char('q'), Action::Quit)],
        in_bar: true,
        help: "quit kalipso (also Ctrl-C)",
    },
    Binding {
        label: "↑ ↓ j k",
        keys: &[
            (KeyCode::Up, Action::Up),
            (KeyCode::Char('k'), Action::Up),
            (KeyCode::Down, Action::Down),
            (KeyCode::Char('j'), Action::Down),
            (KeyCode::PageUp, Action::PageUp),
            (KeyCode::PageDown, Action::PageDown),
            (KeyCode::Char(' '), Action::PageDown),
            (KeyCode::Home, Action::Home),
            (KeyCode::Char('g'), Action::Home),
            (KeyCode::End, Action::End),
            (KeyCode::Char('G'), Action::End),
        ],
        in_bar: false,
        help: "move; PgUp PgDn / Space page; g G / Home End first and last",
    },
    Binding {
        label: "Enter",
        keys: &[(KeyCode::Enter, Action::Enter)],
        in_bar: false,
        help: "tree: expand a profile / open a window; timeline: show the row's IP; tables and evidence: the timeline narrowed to the row's flows",
    },
    Binding {
        label: "← →",
        keys: &[
            (KeyCode::Left, Action::Left),
            (KeyCode::Right, Action::Right),
        ],
        in_bar: false,
        help: "tree: collapse / expand; timeline: scroll sideways",
    },
    // read by the tree itself (App::key) and by the mouse handler (App::event)
    Binding {
        label: "0-9 . :",
        keys: &[],
        in_bar: false,
        help: "typed in the tree: filter profiles by IP (Backspace edits)",
    },
    Binding {
        label: "mouse",
        keys: &[],
        in_bar: false,
        help: "click a tree row to open it; wheel scrolls",
    },
];

/// The bindings of the hotkey bar, in its order: help and quit, the views, then the other actions.
pub fn bar() -> impl Iterator<Item = (&'static str, Action, &'static str)> {
    let entries = || {
        KEYS.iter()
            .filter(|b| b.in_bar)
            .filter_map(|b| b.action().map(|a| (b.label, a, a.bar_name())))
    };
    // help and quit first: a narrow terminal cuts the end of the bar, never them
    let first = |a: Action| matches!(a, Action::Open(View::Help) | Action::Quit);
    entries()
        .filter(move |e| first(e.1))
        .chain(entries().filter(move |e| !first(e.1) && matches!(e.1, Action::Open(_))))
        .chain(entries().filter(move |e| !first(e.1) && !matches!(e.1, Action::Open(_))))
}

/// The action of a key press (outside a text prompt). Digits, `.` and `:` typed in the tree
/// filter it; that is handled before this map. Letters work in either case, unless the upper
/// case has a binding of its own (`G`).
pub fn action(key: KeyEvent) -> Option<Action> {
    // the one binding with a modifier; the terminal sends it as a plain `c` otherwise
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    let find = |code: KeyCode| {
        KEYS.iter()
            .flat_map(|b| b.keys)
            .find(|(k, _)| *k == code)
            .map(|(_, a)| *a)
    };
    find(key.code).or_else(|| match key.code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => find(KeyCode::Char(c.to_ascii_lowercase())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode) -> Option<Action> {
        action(KeyEvent::new(c, KeyModifiers::NONE))
    }

    #[test]
    fn every_letter_of_the_table_opens_its_view() {
        assert_eq!(
            press(KeyCode::Char('e')),
            Some(Action::Open(View::SrcPortsClient))
        );
        assert_eq!(
            press(KeyCode::Char('c')),
            Some(Action::Open(View::DstIpsClient))
        );
        assert_eq!(
            press(KeyCode::Char('b')),
            Some(Action::Open(View::DstPortsServer))
        );
        assert_eq!(
            press(KeyCode::Char('p')),
            Some(Action::Open(View::DstPortsClient))
        );
        assert_eq!(
            press(KeyCode::Char('n')),
            Some(Action::Open(View::DstPortIpsClient))
        );
        assert_eq!(
            press(KeyCode::Char('H')),
            Some(Action::Open(View::OutTuples)),
            "upper case works too"
        );
        assert_eq!(
            press(KeyCode::Char('i')),
            Some(Action::Open(View::InTuples))
        );
        assert_eq!(press(KeyCode::Char('m')), Some(Action::Open(View::Map)));
        assert_eq!(
            press(KeyCode::Char('z')),
            Some(Action::Open(View::ProfileEvidence))
        );
        assert_eq!(press(KeyCode::Char('?')), Some(Action::Open(View::Help)));
        assert_eq!(press(KeyCode::Char('w')), Some(Action::Copy));
        assert_eq!(press(KeyCode::Char('/')), Some(Action::Search));
        assert_eq!(press(KeyCode::Char('q')), Some(Action::Quit));
        assert_eq!(press(KeyCode::Esc), Some(Action::Back));
        assert_eq!(press(KeyCode::Char('x')), Some(Action::ExactNumbers));
        assert_eq!(press(KeyCode::Char('y')), None);
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit),
            "Ctrl-C quits, plain c opens a view"
        );
    }

    #[test]
    fn bindings_are_unique() {
        let codes: Vec<KeyCode> = KEYS.iter().flat_map(|b| b.keys).map(|k| k.0).collect();
        for (i, a) in codes.iter().enumerate() {
            assert!(!codes[i + 1..].contains(a), "{a:?} bound twice");
        }
    }

    #[test]
    fn navigation_comes_from_the_table() {
        assert_eq!(press(KeyCode::Char('G')), Some(Action::End));
        assert_eq!(press(KeyCode::Char('g')), Some(Action::Home));
        assert_eq!(press(KeyCode::Char(' ')), Some(Action::PageDown));
        assert_eq!(press(KeyCode::BackTab), Some(Action::FocusPrev));
        let bar: Vec<&str> = bar().map(|b| b.0).collect();
        assert_eq!(
            bar,
            [
                "?", "q", "v", "e", "c", "b", "p", "n", "h", "i", "m", "z", "w", "/"
            ]
        );
    }
}
