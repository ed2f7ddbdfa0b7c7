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
            View::Help => "help",
        }
    }
}

/// What a key press asks for.
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
}

/// One binding: the key as shown, what it does, and its description.
pub struct Binding {
    /// The key, as the help shows it.
    pub key: &'static str,
    /// The action.
    pub action: Action,
    /// What it does.
    pub help: &'static str,
}

/// Every binding, in the order of the help screen and the hotkey bar.
pub const KEYS: &[Binding] = &[
    Binding {
        key: "e",
        action: Action::Open(View::SrcPortsClient),
        help: "source ports as client (established / not established)",
    },
    Binding {
        key: "c",
        action: Action::Open(View::DstIpsClient),
        help: "destination IPs as client",
    },
    Binding {
        key: "b",
        action: Action::Open(View::DstPortsServer),
        help: "destination ports as server",
    },
    Binding {
        key: "p",
        action: Action::Open(View::DstPortsClient),
        help: "destination ports as client",
    },
    Binding {
        key: "n",
        action: Action::Open(View::DstPortIpsClient),
        help: "destination port × IP as client",
    },
    Binding {
        key: "h",
        action: Action::Open(View::OutTuples),
        help: "out-tuples: behavioural letters, DNS names, SNI, ASN, country",
    },
    Binding {
        key: "i",
        action: Action::Open(View::InTuples),
        help: "in-tuples",
    },
    Binding {
        key: "m",
        action: Action::Open(View::Map),
        help: "world map of the window's destinations",
    },
    Binding {
        key: "z",
        action: Action::Open(View::ProfileEvidence),
        help: "all evidence of the profile",
    },
    Binding {
        key: "w",
        action: Action::Copy,
        help: "copy the selected IP (OSC 52: works over SSH)",
    },
    Binding {
        key: "/",
        action: Action::Search,
        help: "search an IP, port or domain (filters the tree)",
    },
    Binding {
        key: "?",
        action: Action::Open(View::Help),
        help: "this help",
    },
    Binding {
        key: "Tab",
        action: Action::FocusNext,
        help: "next pane (Shift-Tab: previous)",
    },
    Binding {
        key: "Esc",
        action: Action::Back,
        help: "back to the main board (clears a filter there)",
    },
    Binding {
        key: "q",
        action: Action::Quit,
        help: "quit kalipso (also Ctrl-C)",
    },
];

/// The action of a key press (outside a text prompt). Digits, `.` and `:` typed in the tree
/// filter it; that is handled before this map.
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    let named = match key.code {
        KeyCode::Esc => Some(Action::Back),
        KeyCode::Tab => Some(Action::FocusNext),
        KeyCode::BackTab => Some(Action::FocusPrev),
        KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::PageDown),
        KeyCode::Home | KeyCode::Char('g') => Some(Action::Home),
        KeyCode::End | KeyCode::Char('G') => Some(Action::End),
        KeyCode::Enter => Some(Action::Enter),
        KeyCode::Left => Some(Action::Left),
        KeyCode::Right => Some(Action::Right),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let KeyCode::Char(c) = key.code else {
        return None;
    };
    let mut buf = [0u8; 4];
    let s: &str = c.to_ascii_lowercase().encode_utf8(&mut buf);
    KEYS.iter().find(|b| b.key == s).map(|b| b.action)
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
        assert_eq!(press(KeyCode::Char('x')), None);
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit),
            "Ctrl-C quits, plain c opens a view"
        );
    }

    #[test]
    fn bindings_are_unique() {
        for (i, a) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|b| b.key != a.key),
                "{} bound twice",
                a.key
            );
        }
    }
}
