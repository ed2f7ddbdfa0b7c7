//! Inputs that can be read only once: standard input (`-`), FIFOs (`mkfifo`, `/dev/stdin`,
//! process substitution `<(…)`), character devices. Such an input is opened once, when it is
//! found; its first bytes are kept so the format can be sniffed from them, and the one reader
//! that reads it whole gets those bytes followed by the rest of the stream. Nothing is
//! reopened, so `tcpdump -w - | kalipso analyze -` works.
//!
//! Regular files are not handled here: they can be opened as often as needed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many bytes are kept for sniffing (a capture's first packets, a log's headers).
const HEAD: u64 = 64 << 10;

/// An opened stream: its first bytes, and the rest until a reader takes it.
struct Stream {
    path: PathBuf,
    head: Vec<u8>,
    rest: Option<Box<dyn Read + Send>>,
}

/// The streams of this process (few: usually one).
static STREAMS: Mutex<Vec<Stream>> = Mutex::new(Vec::new());

/// Whether `path` names a stream rather than a regular file or directory.
pub(crate) fn is_stream(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    path.as_os_str() == "-"
        || std::fs::metadata(path).is_ok_and(|m| {
            let t = m.file_type();
            t.is_fifo() || t.is_char_device() || t.is_socket()
        })
}

/// Opens a stream and keeps its first bytes (does nothing if it is open already).
pub(crate) fn register(path: &Path) -> std::io::Result<()> {
    let mut streams = STREAMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if streams.iter().any(|s| s.path == path) {
        return Ok(());
    }
    let mut rest: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut head = Vec::new();
    // a pipe hands out what was written so far: read until the head is full or the stream ends
    (&mut rest).take(HEAD).read_to_end(&mut head)?;
    streams.push(Stream {
        path: path.to_path_buf(),
        head,
        rest: Some(rest),
    });
    Ok(())
}

/// The first bytes of a registered stream.
pub(crate) fn head(path: &Path) -> Option<Vec<u8>> {
    let streams = STREAMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    streams
        .iter()
        .find(|s| s.path == path)
        .map(|s| s.head.clone())
}

/// The whole of a registered stream (its first bytes, then the rest), for the one reader that
/// reads it; `None` when `path` is no registered stream, an error when it was read already.
pub(crate) fn take(path: &Path) -> Option<std::io::Result<Box<dyn Read + Send>>> {
    let mut streams = STREAMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let s = streams.iter_mut().find(|s| s.path == path)?;
    Some(match s.rest.take() {
        Some(rest) => {
            let head = std::io::Cursor::new(std::mem::take(&mut s.head));
            Ok(Box::new(head.chain(rest)))
        }
        None => Err(std::io::Error::other("a stream can be read only once")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_fifo_is_read_once_with_its_head_kept() {
        let dir = std::env::temp_dir().join(format!("kalipso-stream-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return;
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().write(true).open(fifo)?;
                f.write_all(b"#separator \\x09\nrest of the stream\n")
            })
        };
        assert!(is_stream(&fifo));
        register(&fifo).unwrap_or_else(|e| panic!("{e}"));
        assert!(head(&fifo).is_some_and(|h| h.starts_with(b"#separator")));
        let mut all = String::new();
        take(&fifo)
            .unwrap_or_else(|| panic!("registered"))
            .unwrap_or_else(|e| panic!("{e}"))
            .read_to_string(&mut all)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all, "#separator \\x09\nrest of the stream\n");
        assert!(take(&fifo).is_some_and(|r| r.is_err()), "only once");
        let _ = writer.join();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
