//! Typed access to one Zeek record, whether it came from a TSV line or a JSON object.
//!
//! A record builder asks for a field by its Zeek name and a type (`port`, `count`, `addr`…); the
//! answer is `Ok(None)` for an absent or unset field and a [`FieldError`] naming the field, the
//! expected type and the value found otherwise. TSV values are unescaped (`\x09` → tab) and
//! `(empty)` is an empty set; JSON values may be numbers or strings where Zeek's writers differ.
//!
//! It does not decide which fields a record needs ([`super::build`] does).

use crate::record::parse_ip;
use compact_str::CompactString;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Why one field of a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Zeek's field name, e.g. `id.orig_p`.
    pub field: &'static str,
    /// What was expected, e.g. `a port`.
    pub expected: &'static str,
    /// What was found (shortened).
    pub got: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field '{}': expected {}, got '{}'",
            self.field, self.expected, self.got
        )
    }
}

impl std::error::Error for FieldError {}

/// The largest time or interval accepted, seconds (about the year 5138).
pub const MAX_SECONDS: f64 = 1e11;

/// Shortens a raw value for an error message, escaping control characters.
pub(crate) fn shown(raw: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One raw value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    /// Absent, or Zeek's unset marker.
    Unset,
    /// TSV text, still escaped.
    Text(&'a str),
    /// A JSON value.
    Json(&'a Value),
}

/// A source of raw values, addressed by the position of the field in the record kind's list of
/// wanted fields (see `input::build`), so TSV rows need no name lookup per line.
pub(crate) trait Row {
    /// The raw value of wanted field `i`.
    fn raw(&self, i: usize) -> Raw<'_>;
    /// Zeek's name of wanted field `i`, for error messages.
    fn name(&self, i: usize) -> &'static str;
    /// The set separator of TSV sets (`,` by default).
    fn set_separator(&self) -> u8 {
        b','
    }
}

/// Undoes Zeek's TSV escaping (`\xNN`, `\\`); returns the input when there is nothing to undo.
pub(crate) fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1] == b'x' {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn json_shown(v: &Value) -> String {
    shown(&v.to_string())
}

/// Typed getters over a [`Row`].
pub(crate) struct Get<'r, R: Row>(pub &'r R);

impl<R: Row> Get<'_, R> {
    /// A string field; `None` when unset.
    pub fn text(&self, i: usize) -> Option<Cow<'_, str>> {
        match self.0.raw(i) {
            Raw::Unset | Raw::Json(Value::Null) => None,
            Raw::Text(t) => Some(unescape(t)),
            Raw::Json(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
            Raw::Json(v) => Some(Cow::Owned(v.to_string())),
        }
    }

    /// A string field as an owned `String`, empty when unset.
    pub fn string(&self, i: usize) -> String {
        self.text(i).map(Cow::into_owned).unwrap_or_default()
    }

    /// A short string field, empty when unset.
    pub fn compact(&self, i: usize) -> CompactString {
        self.text(i)
            .map(|c| CompactString::from(c.as_ref()))
            .unwrap_or_default()
    }

    /// A required address field.
    pub fn addr(&self, i: usize) -> Result<IpAddr, FieldError> {
        let field = self.0.name(i);
        let err = |got: String| FieldError {
            field,
            expected: "an IP address",
            got,
        };
        match self.0.raw(i) {
            Raw::Unset => Err(err("-".into())),
            Raw::Text(t) => parse_ip(t).ok_or_else(|| err(shown(t))),
            Raw::Json(Value::String(s)) => parse_ip(s).ok_or_else(|| err(shown(s))),
            Raw::Json(v) => Err(err(json_shown(v))),
        }
    }

    /// An unsigned count; `None` when unset.
    pub fn count(&self, i: usize) -> Result<Option<u64>, FieldError> {
        let field = self.0.name(i);
        let err = |got: String| FieldError {
            field,
            expected: "a count",
            got,
        };
        match self.0.raw(i) {
            Raw::Unset | Raw::Json(Value::Null) => Ok(None),
            Raw::Text(t) => parse_count(t).map(Some).ok_or_else(|| err(shown(t))),
            Raw::Json(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().and_then(float_count))
                .map(Some)
                .ok_or_else(|| err(n.to_string())),
            Raw::Json(Value::String(s)) => parse_count(s).map(Some).ok_or_else(|| err(shown(s))),
            Raw::Json(v) => Err(err(json_shown(v))),
        }
    }

    /// A port (0–65535); `None` when unset.
    pub fn port(&self, i: usize) -> Result<Option<u16>, FieldError> {
        match self.count(i) {
            Ok(Some(v)) => u16::try_from(v).map(Some).map_err(|_| FieldError {
                field: self.0.name(i),
                expected: "a port",
                got: v.to_string(),
            }),
            Ok(None) => Ok(None),
            Err(e) => Err(FieldError {
                expected: "a port",
                ..e
            }),
        }
    }

    /// A time or interval in seconds; `None` when unset. Values of [`MAX_SECONDS`] or more
    /// (in size) are refused: no capture is dated past the year 5000, and such a time would
    /// stretch the window grid over millennia.
    pub fn seconds(&self, i: usize) -> Result<Option<f64>, FieldError> {
        let field = self.0.name(i);
        let err = |got: String| FieldError {
            field,
            expected: "a number of seconds",
            got,
        };
        let finite = |v: f64| (v.is_finite() && v.abs() < MAX_SECONDS).then_some(v);
        match self.0.raw(i) {
            Raw::Unset | Raw::Json(Value::Null) => Ok(None),
            Raw::Text(t) => t
                .parse::<f64>()
                .ok()
                .and_then(finite)
                .map(Some)
                .ok_or_else(|| err(shown(t))),
            Raw::Json(Value::Number(n)) => n
                .as_f64()
                .and_then(finite)
                .map(Some)
                .ok_or_else(|| err(n.to_string())),
            Raw::Json(Value::String(s)) => s
                .parse::<f64>()
                .ok()
                .or_else(|| iso8601(s))
                .and_then(finite)
                .map(Some)
                .ok_or_else(|| err(shown(s))),
            Raw::Json(v) => Err(err(json_shown(v))),
        }
    }

    /// A boolean (`T`/`F` in TSV); false when unset.
    pub fn flag(&self, i: usize) -> bool {
        match self.0.raw(i) {
            Raw::Text(t) => t == "T" || t == "true",
            Raw::Json(Value::Bool(b)) => *b,
            Raw::Json(Value::String(s)) => s == "T" || s == "true",
            _ => false,
        }
    }

    /// A set or vector of strings; empty when unset or `(empty)`.
    pub fn list(&self, i: usize) -> Vec<String> {
        match self.0.raw(i) {
            Raw::Unset | Raw::Text("") | Raw::Json(Value::Null) => Vec::new(),
            Raw::Text(t) => {
                let sep = self.0.set_separator();
                t.split(sep as char)
                    .map(|part| unescape(part).into_owned())
                    .collect()
            }
            Raw::Json(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Raw::Json(Value::String(s)) => vec![s.clone()],
            Raw::Json(v) => vec![v.to_string()],
        }
    }

    /// A vector of numbers (TTLs); entries that are not finite numbers are left out.
    pub fn numbers(&self, i: usize) -> Vec<f64> {
        let mut v: Vec<f64> = match self.0.raw(i) {
            Raw::Json(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
            _ => self.list(i).iter().filter_map(|s| s.parse().ok()).collect(),
        };
        v.retain(|x| x.is_finite());
        v
    }
}

/// A count written as plain decimal digits (1 to 19 of them, so it cannot overflow); `None`
/// for anything else, which [`parse_count`] then tries harder on.
#[inline]
pub(crate) fn decimal(b: &[u8]) -> Option<u64> {
    count_at(b, 0).and_then(|(n, end)| (end == b.len()).then_some(n))
}

/// A count of 1 to 19 digits from `at` on, and where it ends (the conn.log lane reads a
/// column's number in the pass that finds its end).
#[inline]
pub(crate) fn count_at(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let (n, len) = digits_at(b, at);
    (1..=19).contains(&len).then_some((n, at + len))
}

/// The decimal digits from `at` on: their value (wrapping past 19 digits) and count.
#[inline]
pub(crate) fn digits_at(b: &[u8], at: usize) -> (u64, usize) {
    let mut n = 0u64;
    let mut i = at;
    while let Some(&d) = b.get(i) {
        let x = d.wrapping_sub(b'0');
        if x > 9 {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(x));
        i += 1;
    }
    (n, i - at)
}

/// Parses a Zeek count; tolerates a float with no fraction (`5.0`), as some converters write.
fn parse_count(t: &str) -> Option<u64> {
    if let Some(n) = decimal(t.as_bytes()) {
        return Some(n);
    }
    t.parse::<u64>()
        .ok()
        .or_else(|| t.parse::<f64>().ok().and_then(float_count))
}

fn float_count(v: f64) -> Option<u64> {
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19).then_some(v as u64)
}

/// Zeek's ISO 8601 JSON timestamps (`LogAscii::json_timestamps = JSON::TS_ISO8601`).
fn iso8601(s: &str) -> Option<f64> {
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(dt.timestamp() as f64 + f64::from(dt.timestamp_subsec_nanos()) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One(Raw<'static>);
    impl Row for One {
        fn raw(&self, _: usize) -> Raw<'_> {
            self.0
        }
        fn name(&self, _: usize) -> &'static str {
            "id.orig_p"
        }
    }

    #[test]
    fn unescape_decodes_zeek_hex_escapes() {
        assert_eq!(unescape(r"a\x09b"), "a\tb");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape(r"bad\xZZ"), r"bad\xZZ");
        assert_eq!(unescape(r"end\x"), r"end\x");
    }

    // See: #10
    #[test]
    fn r10_absurd_times_are_refused() {
        for t in ["1e300", "18446744073709551616", "-1e12", "inf", "NaN"] {
            assert!(Get(&One(Raw::Text(t))).seconds(0).is_err(), "{t}");
        }
        assert_eq!(
            Get(&One(Raw::Text("1664459365.5"))).seconds(0).unwrap(),
            Some(1_664_459_365.5)
        );
    }

    #[test]
    fn port_errors_name_field_and_value() {
        let e = Get(&One(Raw::Text("abc"))).port(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field 'id.orig_p': expected a port, got 'abc'"
        );
        let e = Get(&One(Raw::Text("70000"))).port(0).unwrap_err();
        assert_eq!(e.got, "70000");
        assert_eq!(Get(&One(Raw::Text("443"))).port(0).unwrap(), Some(443));
        assert_eq!(Get(&One(Raw::Unset)).port(0).unwrap(), None);
    }

    #[test]
    fn fast_ipv4_agrees_with_the_standard_parser() {
        for s in [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "10.0.2.15",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.",
            "a.b.c.d",
            "",
            "::1",
            "fe80::1",
            "1.2.3.04",
        ] {
            assert_eq!(parse_ip(s), s.parse::<IpAddr>().ok(), "{s}");
        }
    }

    #[test]
    fn counts_accept_integral_floats_only() {
        assert_eq!(parse_count("12"), Some(12));
        assert_eq!(parse_count("12.0"), Some(12));
        assert_eq!(parse_count("12.5"), None);
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("99999999999999999999"), None);
    }

    #[test]
    fn iso_timestamps_are_read() {
        let v = Value::String("1970-01-01T00:00:10.5Z".into());
        let leaked: &'static Value = Box::leak(Box::new(v));
        assert_eq!(Get(&One(Raw::Json(leaked))).seconds(0).unwrap(), Some(10.5));
    }
}
