//! The one error type of input: which file, where in it (a line or a packet), and what went
//! wrong. A whole file that could not be read carries no position; a skipped line or packet
//! does. Messages follow the house style: `path:line: what` for a log line,
//! `path: packet N: what` for a packet, `path: what` for a file.
//!
//! It carries text from the input as it came (a bad field's value): pass it through
//! [`crate::text::clean`] before it reaches a terminal.

use std::fmt;

/// Where in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Position {
    /// A line of a log (1-based).
    Line(u64),
    /// A packet of a capture (1-based).
    Packet(u64),
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum Problem {
    /// The file or directory could not be opened.
    #[error("cannot open: {0}")]
    Open(String),
    /// The first bytes could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// A directory could not be listed.
    #[error("cannot read directory: {0}")]
    ReadDir(String),
    /// Reading stopped part way through a log.
    #[error("read error after line {line}: {reason}")]
    ReadAfterLine {
        /// The last line read.
        line: u64,
        /// The I/O error.
        reason: String,
    },
    /// Reading stopped part way through a capture (a cut .gz, a failing disk).
    #[error("read error after packet {packets}: {reason}")]
    ReadAfterPacket {
        /// The packets read before.
        packets: u64,
        /// The I/O error.
        reason: String,
    },
    /// A capture that ends in the middle of a block.
    #[error("the data ends at byte {byte}, inside the block after packet {packets}{}", detail(reason.as_deref()))]
    Truncated {
        /// The whole packets read before the cut.
        packets: u64,
        /// Where the data ends.
        byte: u64,
        /// What is known of the cut block, or the read error that ended the data.
        reason: Option<String>,
    },
    /// A capture whose framing is broken: the rest of the file cannot be found.
    #[error("corrupt at byte {byte}, after packet {packet}: {reason}; the rest is not read")]
    Corrupt {
        /// The last good packet.
        packet: u64,
        /// Where the bad block starts.
        byte: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A FIFO, socket or device met in a directory scan.
    #[error("not a regular file (a FIFO, socket or device): a directory scan does not open it")]
    NotAFile,
    /// A capture that ends inside its file header.
    #[error("the capture ends inside its file header ({0} bytes)")]
    CutHeader(usize),
    /// Not a capture at all.
    #[error("not a pcap or pcapng capture: {0}")]
    NotACapture(String),
    /// A file that is not a log of the kind its name says (the reason names what it is).
    #[error("{0}")]
    NotALog(String),
    /// A line or packet that could not be read as a record.
    #[error("{0}")]
    Record(String),
}

fn detail(reason: Option<&str>) -> String {
    reason.map(|r| format!(" ({r})")).unwrap_or_default()
}

/// An input problem: the file, where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub struct InputError {
    /// The file, as found.
    pub path: String,
    /// Where in it, for a skipped line or packet.
    pub at: Option<Position>,
    /// What went wrong.
    pub problem: Problem,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            None => write!(f, "{}: {}", self.path, self.problem),
            Some(Position::Line(n)) => write!(f, "{}:{n}: {}", self.path, self.problem),
            Some(Position::Packet(n)) => write!(f, "{}: packet {n}: {}", self.path, self.problem),
        }
    }
}

/// Serializes a list of errors as their messages (the `--json` report's `examples`).
pub(crate) fn messages<S: serde::Serializer>(v: &[InputError], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(ToString::to_string))
}

/// Serializes a file's error as its problem alone (the report names the file beside it).
#[allow(clippy::ref_option)] // serde's `serialize_with` hands the field by reference
pub(crate) fn problem<S: serde::Serializer>(
    v: &Option<InputError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(e) => s.collect_str(&e.problem),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_position() {
        let e = |at| InputError {
            path: "conn.log".into(),
            at,
            problem: Problem::Record("field 'id.orig_p': expected a port, got 'abc'".into()),
        };
        assert_eq!(
            e(Some(Position::Line(12))).to_string(),
            "conn.log:12: field 'id.orig_p': expected a port, got 'abc'"
        );
        assert!(
            e(Some(Position::Packet(3)))
                .to_string()
                .starts_with("conn.log: packet 3: ")
        );
        let open = InputError {
            path: "x.pcap".into(),
            at: None,
            problem: Problem::Open("No such file or directory (os error 2)".into()),
        };
        assert_eq!(
            open.to_string(),
            "x.pcap: cannot open: No such file or directory (os error 2)"
        );
    }
}
