//! Reads one Zeek log file (TSV or JSON lines, plain or gzip) into typed records.
//!
//! The `#separator`/`#set_separator`/`#empty_field`/`#unset_field`/`#fields`/`#path` header
//! decides the columns, never fixed positions; a header may reappear mid-file (concatenated
//! logs) and then applies from there on. Lines starting with `{` are JSON objects. The file is
//! streamed in blocks; each block is split at line boundaries and parsed in parallel, then the
//! results are appended in file order, so the output does not depend on the thread count.
//! A bad line is skipped and counted with its reason; it never stops the file.

use super::build::{self, JsonRow, TsvRow};
use super::conn_line;
use super::fields::FieldError;
use crate::record::{LogKind, SymCache};
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

use super::{FileReport, MAX_EXAMPLES, Position, Problem};
use crate::record::Batch;

/// Bytes read per block; memory per file being read is about twice this.
const BLOCK: usize = 8 << 20;
/// The longest line kept; a longer one is skipped and counted, so memory stays bounded
/// whatever the input (a file of zeros, a log without newlines).
pub const MAX_LINE: usize = 1 << 20;
/// Smallest piece of a block handed to one parser task.
const MIN_PIECE: usize = 256 << 10;

/// The header state of a TSV log.
#[derive(Debug, Clone)]
struct Schema {
    sep: u8,
    set_sep: u8,
    empty: String,
    unset: String,
    /// Column of each wanted field of the file's kind.
    map: Vec<Option<usize>>,
    /// How many columns a line needs to be split into.
    width: usize,
    /// Whether `#fields` was seen (false: Zeek's default columns were assumed).
    from_header: bool,
    /// The last `#fields` lacks a column every record needs, or names a read column twice:
    /// the lines under it are skipped (counted, with one message for the header).
    broken: bool,
}

impl Schema {
    fn new(kind: LogKind) -> Self {
        let mut s = Schema {
            sep: b'\t',
            set_sep: b',',
            empty: "(empty)".into(),
            unset: "-".into(),
            map: Vec::new(),
            width: 0,
            from_header: false,
            broken: false,
        };
        s.set_fields(
            kind,
            &default_columns(kind)
                .iter()
                .map(|c| (*c).to_string())
                .collect::<Vec<_>>(),
        );
        s.from_header = false;
        s
    }

    /// Maps the wanted fields to the header's columns; says why the header is unusable.
    fn set_fields(&mut self, kind: LogKind, fields: &[String]) -> Option<String> {
        let wanted = wanted(kind);
        self.map = wanted
            .iter()
            .map(|w| fields.iter().position(|f| f == w))
            .collect();
        self.width = self.map.iter().flatten().max().map_or(0, |m| m + 1);
        self.from_header = true;
        self.broken = true;
        if let Some(missing) = build::needed(kind)
            .iter()
            .find(|n| !fields.iter().any(|f| f == *n))
        {
            return Some(format!(
                "the '#fields' header has no '{missing}' column, which every {} record needs: \
                 the lines under it are skipped",
                kind.as_str()
            ));
        }
        if let Some(twice) = wanted
            .iter()
            .find(|w| fields.iter().filter(|f| f == *w).count() > 1)
        {
            return Some(format!(
                "the '#fields' header names '{twice}' twice: the lines under it are skipped"
            ));
        }
        self.broken = false;
        None
    }
}

fn wanted(kind: LogKind) -> &'static [&'static str] {
    match kind {
        LogKind::Conn => build::CONN_WANTED,
        LogKind::Dns => build::DNS_WANTED,
        LogKind::Http => build::HTTP_WANTED,
        LogKind::Ssl => build::SSL_WANTED,
        LogKind::Other => build::OTHER_WANTED,
    }
}

fn default_columns(kind: LogKind) -> &'static [&'static str] {
    match kind {
        LogKind::Conn => build::CONN_DEFAULT,
        LogKind::Dns => build::DNS_DEFAULT,
        LogKind::Http => build::HTTP_DEFAULT,
        LogKind::Ssl => build::SSL_DEFAULT,
        LogKind::Other => &[],
    }
}

/// Decodes `\x09`-style header values.
fn header_value(v: &str) -> String {
    super::fields::unescape(v).into_owned()
}

/// What one header line said that the reader must act on.
#[derive(Debug, PartialEq, Eq)]
enum HeaderNote {
    /// `#path`, with its value.
    Path(String),
    /// A `#fields` line that cannot be used, and why.
    BadFields(String),
}

/// Applies one header line to the schema.
fn apply_header(line: &str, kind: LogKind, schema: &mut Schema) -> Option<HeaderNote> {
    let line = line.trim_start();
    // `#separator` is always space-separated from its value; the others use the separator.
    if let Some(v) = line.strip_prefix("#separator") {
        let v = header_value(v.trim());
        if let Some(&b) = v.as_bytes().first() {
            schema.sep = b;
        }
        return None;
    }
    let sep = schema.sep as char;
    let mut parts = line.split(sep);
    let tag = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let first = rest.first().map(|v| header_value(v));
    match tag {
        "#set_separator" => {
            if let Some(&b) = first.as_deref().unwrap_or("").as_bytes().first() {
                schema.set_sep = b;
            }
        }
        "#empty_field" => schema.empty = first.unwrap_or_default(),
        "#unset_field" => schema.unset = first.unwrap_or_default(),
        "#fields" => {
            let fields: Vec<String> = rest
                .iter()
                .map(|s| s.trim_end_matches('\r').to_string())
                .collect();
            return schema.set_fields(kind, &fields).map(HeaderNote::BadFields);
        }
        "#path" => return first.map(HeaderNote::Path),
        _ => {}
    }
    None
}

/// Parses one data line into `out` (used where lines come one at a time). `Ok(false)` means
/// the line was blank.
fn parse_line(line: &str, kind: LogKind, schema: &Schema, out: &mut Batch) -> Result<bool, String> {
    let mut cols: Vec<&str> = Vec::with_capacity(schema.width);
    cols.extend(line.split(schema.sep as char).take(schema.width));
    parse_record(line, &mut cols, kind, schema, out, &mut SymCache::default())
}

/// Parses one data line whose first `schema.width` columns are already split into `cols`.
fn parse_record(
    line: &str,
    cols: &mut [&str],
    kind: LogKind,
    schema: &Schema,
    out: &mut Batch,
    syms: &mut SymCache,
) -> Result<bool, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some(last) = cols.last_mut() {
        *last = last.strip_suffix('\r').unwrap_or(last);
    }
    if line.trim().is_empty() {
        return Ok(false);
    }
    if line.starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| "invalid JSON: not an object".to_string())?;
        let row = JsonRow {
            obj,
            names: wanted(kind),
        };
        push(kind, &row, out, syms).map_err(|e| as_written(e, line).to_string())?;
        return Ok(true);
    }
    if cols.len() < schema.width {
        // a JSON value that is not an object (a JSON log's `[…]` or `"…"` line) says so
        if cols.len() == 1
            && line.starts_with(['[', '"'])
            && serde_json::from_str::<serde_json::Value>(line).is_ok()
        {
            return Err("invalid JSON: not an object".into());
        }
        return Err(format!(
            "expected at least {} columns, got {}",
            schema.width,
            cols.len()
        ));
    }
    let row = TsvRow {
        cols,
        map: &schema.map,
        names: wanted(kind),
        unset: &schema.unset,
        empty: &schema.empty,
        set_sep: schema.set_sep,
    };
    push(kind, &row, out, syms)
        .map(|()| true)
        .map_err(|e| e.to_string())
}

/// Shows a bad JSON field as the line wrote it: a parsed number has lost its spelling
/// (`99999999999999999999999999` would read back as `1e+26`).
fn as_written(mut e: FieldError, line: &str) -> FieldError {
    let raw: Result<std::collections::HashMap<&str, &serde_json::value::RawValue>, _> =
        serde_json::from_str(line);
    if let Some(v) = raw.ok().and_then(|m| m.get(e.field).copied()) {
        e.got = super::fields::shown(v.get());
    }
    e
}

fn push<R: super::fields::Row>(
    kind: LogKind,
    row: &R,
    out: &mut Batch,
    syms: &mut SymCache,
) -> Result<(), FieldError> {
    match kind {
        LogKind::Conn => {
            let c = build::conn(row, syms)?;
            build::local_addresses(row, &c, &mut out.local_hosts);
            out.conns.push(c);
        }
        LogKind::Dns => out.dns.push(build::dns(row)?),
        LogKind::Http => out.http.push(build::http(row)?),
        LogKind::Ssl => out.ssl.push(build::ssl(row)?),
        LogKind::Other => {
            if let Some(a) = build::activity(row)? {
                out.activity.push(a);
            }
            out.other += 1;
        }
    }
    Ok(())
}

/// What one parser task returns.
#[derive(Default)]
struct Piece {
    batch: Batch,
    syms: SymCache,
    data_lines: u64,
    lines: u64,
    /// (line index within the piece, reason); only the first few are kept.
    errors: Vec<(u64, String)>,
    skipped: u64,
}

fn parse_piece(
    bytes: &[u8],
    kind: LogKind,
    schema: &Schema,
    last_is_partial: bool,
    buffer: Batch,
) -> Piece {
    let mut p = Piece {
        batch: buffer,
        ..Piece::default()
    };
    if kind == LogKind::Conn {
        // A conn.log line is rarely shorter than 100 bytes: reserve once instead of regrowing.
        p.batch.conns.reserve(bytes.len() / 100 + 1);
    }
    // Zeek escapes non-UTF-8 bytes, so a piece is valid UTF-8 and is checked once, with SIMD
    // (std's check was 1.5 % of the CPU at 5 M lines); the lossy copy is for garbage.
    let lossy;
    let text: &str = if let Ok(t) = simdutf8::basic::from_utf8(bytes) {
        t
    } else {
        lossy = String::from_utf8_lossy(bytes).into_owned();
        &lossy
    };
    let b = text.as_bytes();
    let width = schema.width;
    let sep = schema.sep;
    // plain conn.log lines take the fast lane; the others, and any line it declines, the
    // general reader
    let fast_lane = if kind == LogKind::Conn && !schema.broken {
        conn_line::Plan::new(&schema.map, width, sep, &schema.unset, &schema.empty)
    } else {
        None
    };
    let mut cols: Vec<&str> = Vec::with_capacity(width);
    let mut start = 0;
    // the next backslash of the piece: a line before it has no escape to look for, which one
    // search over the piece tells instead of a search in each of its text columns
    let mut next_escape = memchr::memchr(b'\\', b).unwrap_or(b.len());
    while start < b.len() {
        let (end, partial) = match memchr::memchr(b'\n', &b[start..]) {
            Some(e) => (start + e, false),
            None => (b.len(), last_is_partial),
        };
        let line = &text[start..end];
        if next_escape < start {
            next_escape = memchr::memchr(b'\\', &b[start..]).map_or(b.len(), |i| start + i);
        }
        let escaped = next_escape < end;
        start = end + 1;
        if let Some(parsed) = fast_lane
            .as_ref()
            .and_then(|l| conn_line::parse(line, escaped, l, &mut p.syms))
        {
            p.fast_conn(parsed);
            continue;
        }
        cols.clear();
        let mut col_start = 0;
        for pos in memchr::memchr_iter(sep, line.as_bytes()) {
            if cols.len() == width {
                break;
            }
            cols.push(&line[col_start..pos]);
            col_start = pos + 1;
        }
        if cols.len() < width {
            cols.push(&line[col_start..]);
        }
        // a CRLF line end's CR is stripped in `parse_record`, once per line
        p.line(line, &mut cols, kind, schema, partial);
    }
    p
}

impl Piece {
    /// Keeps a connection the fast lane read.
    fn fast_conn(&mut self, (c, local): conn_line::Parsed) {
        build::mark_local(local, &c, &mut self.batch.local_hosts);
        self.batch.conns.push(c);
        self.data_lines += 1;
        self.lines += 1;
    }

    fn line(
        &mut self,
        line: &str,
        cols: &mut [&str],
        kind: LogKind,
        schema: &Schema,
        partial: bool,
    ) {
        if schema.broken && !line.trim().is_empty() {
            // counted; the header's one message says why
            self.data_lines += 1;
            self.skipped += 1;
            self.lines += 1;
            return;
        }
        match parse_record(line, cols, kind, schema, &mut self.batch, &mut self.syms) {
            Ok(true) => self.data_lines += 1,
            Ok(false) => {}
            Err(reason) => {
                self.data_lines += 1;
                self.skipped += 1;
                if self.errors.len() < MAX_EXAMPLES {
                    let reason = if partial {
                        format!("truncated last line ({reason})")
                    } else {
                        reason
                    };
                    self.errors.push((self.lines, reason));
                }
            }
        }
        self.lines += 1;
    }
}

/// Whether the (trimmed) line is a `#` header line.
fn is_header(line: &[u8]) -> bool {
    line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#')
}

fn is_gzip(path: &Path) -> bool {
    if super::stream::is_stream(path) {
        return false; // never opened twice
    }
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

/// Opens a file or takes a stream ([`super::stream`]) to read it whole, transparently
/// decompressing gzip (by magic bytes, not by name). What it reads counts as input progress
/// (sniffing, through [`open_head`], does not).
pub(crate) fn open_log(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let f: Box<dyn Read + Send> = match super::stream::take(path) {
        Some(stream) => stream?,
        None => Box::new(std::fs::File::open(path)?),
    };
    gunzip(Box::new(crate::progress::Counted(f)))
}

/// The start of a file or stream, for sniffing its format: a stream's kept first bytes (so
/// sniffing does not consume it), else the file itself.
pub(crate) fn open_head(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    match super::stream::head(path) {
        Some(head) => gunzip(Box::new(std::io::Cursor::new(head))),
        None => gunzip(Box::new(std::fs::File::open(path)?)),
    }
}

/// `f`, decompressed when it starts with gzip's magic bytes.
pub(crate) fn gunzip(mut f: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let chained = head.chain(f);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(chained)))
    } else {
        Ok(Box::new(chained))
    }
}

/// Reads `path` as a Zeek log of `kind`, appending its records to a new batch.
pub(crate) fn read_file(path: &Path, kind: LogKind) -> (Batch, FileReport) {
    let mut f = FileReader {
        kind,
        schema: Schema::new(kind),
        line_no: 0,
        batch: Batch::default(),
        report: FileReport::new(path, kind),
        pool: Vec::new(),
        rejected: false,
    };
    let mut reader = match open_log(path) {
        Ok(r) => r,
        Err(e) => {
            f.report.fail(Problem::Open(e.to_string()));
            return (f.batch, f.report);
        }
    };
    if kind == LogKind::Conn && !is_gzip(path) {
        // Reserve the file's records up front (size / 100 bytes a line is an upper bound for
        // Zeek conn.log), so appending blocks never copies the vector again. Pages that stay
        // unused are never touched, so this costs address space, not memory.
        let size = std::fs::metadata(path).map_or(0, |m| m.len()) as usize;
        f.batch.conns.reserve(size / 100);
    }
    // A reader thread fills (and decompresses) the next block while this one is parsed; blocks
    // go back to it for reuse. A line cut by a block boundary is carried over and completed.
    let mut carry: Vec<u8> = Vec::new();
    let mut checked_first = false;
    // inside a line longer than MAX_LINE, whose bytes are dropped until its end
    let mut long_line = false;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, std::io::Error>>(1);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        scope.spawn(move || read_blocks(reader.as_mut(), &tx, &back_rx));
        // `None` until the first block says whether lines end in CR alone (old Mac style)
        let mut cr_lines: Option<bool> = None;
        for msg in rx {
            let mut chunk = match msg {
                Ok(c) => c,
                Err(e) => {
                    f.report.fail(Problem::ReadAfterLine {
                        line: f.line_no,
                        reason: e.to_string(),
                    });
                    break;
                }
            };
            let cr = *cr_lines.get_or_insert_with(|| {
                memchr::memchr(b'\n', &chunk).is_none() && memchr::memchr(b'\r', &chunk).is_some()
            });
            if cr {
                for b in &mut chunk {
                    if *b == b'\r' {
                        *b = b'\n';
                    }
                }
            }
            let Some(last) = memchr::memrchr(b'\n', &chunk) else {
                // no line ends here: a very long line, kept only up to MAX_LINE
                if !long_line {
                    carry.extend_from_slice(&chunk);
                    long_line = carry.len() > MAX_LINE;
                    if long_line {
                        carry = Vec::new();
                    }
                }
                let _ = back_tx.send(chunk);
                continue;
            };
            let mut start = 0;
            if long_line {
                // the rest of the long line ends here
                f.skip_long_line();
                start = memchr::memchr(b'\n', &chunk).unwrap_or(last) + 1;
            } else if !carry.is_empty() {
                let first = memchr::memchr(b'\n', &chunk).unwrap_or(last);
                carry.extend_from_slice(&chunk[..=first]);
                let line = std::mem::take(&mut carry);
                f.feed(&line, false, &mut checked_first);
                start = first + 1;
            }
            if start <= last {
                f.feed(&chunk[start..=last], false, &mut checked_first);
            }
            carry.extend_from_slice(&chunk[last + 1..]);
            long_line = carry.len() > MAX_LINE;
            if long_line {
                carry = Vec::new();
            }
            let _ = back_tx.send(chunk);
            if f.rejected {
                break; // dropping the channel stops the reader
            }
        }
    });
    if long_line && !f.rejected {
        f.skip_long_line();
    }
    if !carry.is_empty() && !f.rejected {
        // the last line has no newline: keep it if it parses, else it is a truncated line
        f.feed(&carry, true, &mut checked_first);
    }
    if f.rejected {
        return (Batch::default(), f.report);
    }
    f.report.assumed_columns =
        kind != LogKind::Other && !f.schema.from_header && f.report.records > 0 && !f.report.json;
    (f.batch, f.report)
}

/// The reader thread: sends blocks of up to `BLOCK` bytes until the end of the file, an error,
/// or the receiver hanging up.
fn read_blocks(
    reader: &mut (dyn Read + Send),
    tx: &std::sync::mpsc::SyncSender<Result<Vec<u8>, std::io::Error>>,
    back: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = back.try_recv().unwrap_or_default();
        // a block that comes back is overwritten by the read: only a new one (or the short
        // last one) is zeroed up to BLOCK, not every block again (8 MB of stores each)
        buf.resize(BLOCK, 0);
        let mut filled = 0;
        while filled < BLOCK {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // what was decoded before the error (a cut .gz) is still read
                    buf.truncate(filled);
                    if filled > 0 && tx.send(Ok(buf)).is_err() {
                        return;
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        buf.truncate(filled);
        if filled == 0 || tx.send(Ok(buf)).is_err() {
            return;
        }
    }
}

/// Decides from the start of a file whether it is a Zeek log at all.
fn reject_reason(block: &[u8], kind: LogKind) -> Option<String> {
    let mut saw_header = false;
    for raw in block.split(|b| *b == b'\n') {
        if is_header(raw) {
            saw_header = true;
            continue;
        }
        let text = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw));
        if text.trim().is_empty() {
            continue;
        }
        if saw_header || text.starts_with('{') {
            return None;
        }
        // No header at all: accept it only if the line reads with Zeek's default columns.
        if kind == LogKind::Other {
            return Some(
                "not a Zeek log: no '#fields' header and the first line is not JSON".into(),
            );
        }
        let schema = Schema::new(kind);
        let mut b = Batch::default();
        return match parse_line(&text, kind, &schema, &mut b) {
            Ok(_) => None,
            Err(e) => Some(format!(
                "not a Zeek log: no '#fields' header and the first line does not read as {} ({e})",
                kind.as_str()
            )),
        };
    }
    None
}

/// Parses one line-aligned block; returns the new line count.
/// The state of one file being read.
struct FileReader {
    kind: LogKind,
    schema: Schema,
    /// Lines fully processed so far.
    line_no: u64,
    batch: Batch,
    report: FileReport,
    /// Piece buffers kept between blocks: reusing them avoids faulting fresh pages in for
    /// every block (the kernel's page zeroing was a third of the run time).
    pool: Vec<Batch>,
    /// The file turned out not to be a Zeek log.
    rejected: bool,
}

impl FileReader {
    /// Counts a line longer than [`MAX_LINE`] as skipped (its bytes were never kept).
    fn skip_long_line(&mut self) {
        self.line_no += 1;
        self.report.data_lines += 1;
        self.report.skipped += 1;
        self.report.note_skip(
            Position::Line(self.line_no),
            &format!("line longer than {} MiB, skipped", MAX_LINE >> 20),
        );
    }

    /// Takes one line-aligned block; the first one decides whether the file is a log at all.
    fn feed(&mut self, block: &[u8], partial_tail: bool, checked_first: &mut bool) {
        if !*checked_first {
            // a byte-order mark (written by some editors and Windows tools) is not content
            let block = block.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(block);
            if let Some(reason) = reject_reason(block, self.kind) {
                self.report.fail(Problem::NotALog(reason));
                self.rejected = true;
                return;
            }
            *checked_first = true;
            self.process_block(block, partial_tail);
            return;
        }
        self.process_block(block, partial_tail);
    }

    /// Parses one line-aligned block.
    fn process_block(&mut self, block: &[u8], partial_tail: bool) {
        // Split the block into data segments separated by header lines (rare: the file start,
        // or concatenated logs). Header lines are handled in order, data segments in parallel.
        let mut seg_start = 0;
        let n = block.len();
        while let Some(start) = next_header(block, seg_start) {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(n, |i| start + i);
            let line = &block[start..end];
            self.parse_segment(&block[seg_start..start], false);
            // a CRLF line end: the CR is not part of the header's value
            let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
            match apply_header(&text, self.kind, &mut self.schema) {
                Some(HeaderNote::Path(path)) => self.report.zeek_path = Some(path),
                Some(HeaderNote::BadFields(why)) => {
                    self.report
                        .note_skip(Position::Line(self.line_no + 1), &why);
                }
                None => {}
            }
            self.line_no += 1;
            seg_start = end + 1;
        }
        if seg_start < n {
            self.parse_segment(&block[seg_start..n], partial_tail);
        }
    }

    fn parse_segment(&mut self, seg: &[u8], partial_tail: bool) {
        if seg.is_empty() {
            return;
        }
        // Cut the segment into pieces at newlines, about 4 per thread.
        let want = (rayon::current_num_threads() * 4).max(1);
        let size = (seg.len() / want).max(MIN_PIECE);
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        while start < seg.len() {
            let tentative = (start + size).min(seg.len());
            let end = if tentative >= seg.len() {
                seg.len()
            } else {
                memchr::memchr(b'\n', &seg[tentative..]).map_or(seg.len(), |i| tentative + i + 1)
            };
            pieces.push(&seg[start..end]);
            start = end;
        }
        while self.pool.len() < pieces.len() {
            self.pool.push(Batch::default());
        }
        let buffers: Vec<Batch> = self.pool.drain(..pieces.len()).collect();
        // A piece that ends in '\n' has that newline as its last byte; strip it so the line
        // iterator does not see an extra empty line.
        let last = pieces.len() - 1;
        let (kind, schema) = (self.kind, &self.schema);
        let results: Vec<Piece> = pieces
            .par_iter()
            .zip(buffers)
            .enumerate()
            .map(|(i, (p, buffer))| {
                let body = p.strip_suffix(b"\n").unwrap_or(p);
                parse_piece(body, kind, schema, partial_tail && i == last, buffer)
            })
            .collect();
        for mut piece in results {
            for (idx, reason) in &piece.errors {
                self.report
                    .note_skip(Position::Line(self.line_no + idx + 1), reason);
            }
            self.report.skipped += piece.skipped;
            self.report.data_lines += piece.data_lines;
            self.report.records += piece.data_lines - piece.skipped;
            self.batch.move_from(&mut piece.batch);
            self.pool.push(piece.batch);
            self.line_no += piece.lines;
        }
        self.report.json |= seg.first() == Some(&b'{');
    }
}

/// The start of the first header line at or after `from` (a line start): a line whose first
/// non-blank byte is `#`. Every header has a `#`, and data lines rarely do, so one search for
/// `#` over the block replaces a look at the start of every line.
fn next_header(block: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = block.get(at..).and_then(|rest| memchr::memchr(b'#', rest)) {
        let hash = at + i;
        let line_start = memchr::memrchr(b'\n', &block[from..hash]).map_or(from, |j| from + j + 1);
        if is_header(&block[line_start..=hash]) {
            return Some(line_start);
        }
        at = hash + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn conn_schema() -> Schema {
        let mut s = Schema::new(LogKind::Conn);
        s.set_fields(
            LogKind::Conn,
            &build::CONN_DEFAULT
                .iter()
                .map(|c| (*c).to_string())
                .collect::<Vec<_>>(),
        );
        s
    }

    #[test]
    fn an_escaped_line_among_plain_ones_is_unescaped_wherever_it_is_in_its_piece() {
        // the one backslash search per piece decides which lines are searched for escapes:
        // an escape in the first line, the middle one or the last must reach the general reader
        let line = |uid: &str| {
            format!(
                "1704099600.284173\t{uid}\t10.0.0.1\t5000\t10.0.0.2\t80\ttcp\t-\t0.5\t1\t2\tSF\t\
                 T\tT\t0\tShADadFf\t3\t100\t4\t200\t-"
            )
        };
        let schema = conn_schema();
        for escaped_at in 0..3 {
            let lines: Vec<String> = (0..3)
                .map(|i| line(if i == escaped_at { "C\\x41b" } else { "CAbc" }))
                .collect();
            let piece = parse_piece(
                lines.join("\n").as_bytes(),
                LogKind::Conn,
                &schema,
                false,
                Batch::default(),
            );
            let uids: Vec<String> = piece
                .batch
                .conns
                .iter()
                .map(|c| c.uid.to_string())
                .collect();
            let mut want = vec!["CAbc".to_string(); 3];
            want[escaped_at] = "CAb".into();
            assert_eq!(uids, want, "escape in line {escaped_at}");
        }
    }

    // See: #10
    #[test]
    fn r10_json_values_that_are_not_objects_say_so() {
        let schema = conn_schema();
        for line in ["[1, 2, 3]", "\"just a string\""] {
            let mut out = Batch::default();
            let err = parse_line(line, LogKind::Conn, &schema, &mut out).unwrap_err();
            assert_eq!(err, "invalid JSON: not an object", "{line}");
        }
    }

    #[test]
    fn r10_a_bad_json_number_is_shown_as_written() {
        let line = r#"{"ts":1,"uid":"C","id.orig_h":"1.2.3.4","id.orig_p":1,"id.resp_h":"1.2.3.5","id.resp_p":99999999999999999999999999,"proto":"tcp"}"#;
        let mut out = Batch::default();
        let err = parse_line(line, LogKind::Conn, &conn_schema(), &mut out).unwrap_err();
        assert_eq!(
            err,
            "field 'id.resp_p': expected a port, got '99999999999999999999999999'"
        );
    }

    proptest! {
        // Random lines made of Zeek-ish tokens (so that many get far into the parser) never
        // panic, and either give one record or one reason.
        #[test]
        fn random_lines_never_panic(tokens in proptest::collection::vec(
            prop_oneof![
                Just("-".to_string()), Just("(empty)".to_string()), Just("tcp".to_string()),
                Just("1.2.3.4".to_string()), Just("::1".to_string()), Just("SF".to_string()),
                "[0-9]{1,12}", "[0-9]{1,10}\\.[0-9]{1,6}", "\\PC{0,8}", Just("{".to_string()),
            ], 0..30)) {
            let line = tokens.join("\t");
            let mut out = Batch::default();
            match parse_line(&line, LogKind::Conn, &conn_schema(), &mut out) {
                Ok(true) => prop_assert_eq!(out.conns.len(), 1),
                Ok(false) => prop_assert!(line.trim().is_empty()),
                Err(reason) => prop_assert!(!reason.is_empty() && out.conns.is_empty()),
            }
        }

        #[test]
        fn random_json_lines_never_panic(s in "\\{\\PC{0,80}") {
            let mut out = Batch::default();
            let _ = parse_line(&s, LogKind::Dns, &Schema::new(LogKind::Dns), &mut out);
        }
    }

    #[test]
    fn headers_set_columns_and_markers() {
        let mut s = Schema::new(LogKind::Conn);
        assert_eq!(
            apply_header("#separator \\x09", LogKind::Conn, &mut s),
            None
        );
        apply_header("#unset_field\tNONE", LogKind::Conn, &mut s);
        apply_header(
            "#fields\textra\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p",
            LogKind::Conn,
            &mut s,
        );
        assert_eq!(
            apply_header("#path\tconn", LogKind::Conn, &mut s),
            Some(HeaderNote::Path("conn".into()))
        );
        assert_eq!(s.unset, "NONE");
        assert_eq!(
            s.map[0],
            Some(1),
            "ts is the second column after a leading extra one"
        );
        let mut out = Batch::default();
        let ok = parse_line(
            "node1\t10.5\tCx\t10.0.0.1\t5\t10.0.0.2\t80",
            LogKind::Conn,
            &s,
            &mut out,
        );
        assert_eq!(ok, Ok(true));
        assert_eq!(out.conns[0].resp_p, 80);
        assert!((out.conns[0].ts - 10.5).abs() < 1e-9);
    }
}
