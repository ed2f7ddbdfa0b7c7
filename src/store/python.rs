//! Python's spellings, as Slips (a Python program) leaves them in Redis: `json.dumps` with its
//! defaults (`", "` and `": "` separators, `ensure_ascii` escaping, floats in `repr` form),
//! `repr(float)`, `str(datetime)`, and the timeline's `%Y/%m/%d %H:%M:%S.%f`. Times are shown
//! in UTC (Slips uses the local zone of its machine).
//!
//! The one JSON path: every value Slips would hold is a derived [`serde::Serialize`] struct
//! written by `serde_json` through [`PyFormatter`], with [`to_json`].
//!
//! It does not know Slips' keys: [`super::render`] does.

use serde::Serialize;
use std::fmt::Write as _;
use std::io;

/// `serde_json`'s formatter with Python's `json.dumps` defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct PyFormatter;

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        // every flow and timeline entry has two or three: written in place, not a String each
        if !common_float(value) {
            return w.write_all(py_float(value).as_bytes());
        }
        write!(w, "{value}")?;
        if needs_point(value) {
            w.write_all(b".0")?;
        }
        Ok(())
    }

    /// `ensure_ascii`: what `serde_json` leaves as it is (everything but `"`, `\` and C0
    /// controls, which it escapes as Python does) is escaped here when it is not printable
    /// ASCII, as `\uXXXX` in UTF-16 units.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // nearly every fragment (addresses, uids, names) is printable ASCII: one pass over its
        // bytes, which the compiler vectorises, instead of decoding characters
        if fragment.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// `value` as `json.dumps` would write it.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    // writing into a Vec cannot fail, and the values are plain data (string map keys only)
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    // `serde_json` writes valid UTF-8, and the formatter only ASCII around it
    String::from_utf8(out).unwrap_or_default()
}

/// True when Rust's shortest `{}` of `v` is Python's `repr` but for a missing `.0`: finite,
/// and zero or from 1e-4 to below 1e16 (outside, Python writes an exponent).
fn common_float(v: f64) -> bool {
    let a = v.abs();
    v.is_finite() && (a == 0.0 || (1e-4..1e16).contains(&a))
}

/// True when Python adds `.0` to Rust's `{}` of a [`common_float`]: Rust writes a point only
/// when there is a fraction, Python always.
fn needs_point(v: f64) -> bool {
    v.fract() == 0.0
}

/// Appends a [`common_float`] as Python's `repr`.
fn push_common_float(out: &mut String, v: f64) {
    // writing into a String cannot fail
    let _ = write!(out, "{v}");
    if needs_point(v) {
        out.push_str(".0");
    }
}

/// Appends a float as [`to_json`] writes one: [`py_float`], and `null` when it is not finite
/// (`serde_json` writes those so without asking the formatter).
pub fn push_json_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
    } else if common_float(v) {
        push_common_float(out, v);
    } else {
        out.push_str(&py_float(v));
    }
}

/// Appends the JSON string of `s` as [`to_json`] writes it: as it is between quotes when it is
/// printable ASCII without a quote or backslash (addresses, names), else through `serde_json`.
pub fn push_py_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&to_json(s));
    }
}

/// Python's `repr(float)` (`serde_json` writes non-finite numbers as `null` and never asks).
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust: "1e-5" / "1.5e20"; Python: "1e-05" / "1.5e+20"
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let mut s = String::with_capacity(24);
    push_common_float(&mut s, v);
    s
}

/// Python's `round(x, 3)`, close enough for display (half cases may differ in the last digit).
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// (seconds, microseconds) of a unix time, rounded to the microsecond as Python does.
fn split_micros(ts: f64) -> (i64, u32) {
    let us = (ts * 1e6).round() as i64;
    (us.div_euclid(1_000_000), us.rem_euclid(1_000_000) as u32)
}

fn civil(ts: f64) -> (chrono::NaiveDateTime, u32) {
    let (secs, micros) = split_micros(ts);
    let dt = chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(chrono::NaiveDateTime::default, |d| d.naive_utc());
    (dt, micros)
}

/// Python's `str(datetime)`: `1970-01-01 00:15:28.943457` (no fraction when it is zero).
pub fn py_datetime(ts: f64) -> String {
    let mut s = String::with_capacity(26);
    push_civil_text(&mut s, ts, '-', false);
    s
}

/// Appends [`py_datetime`] of `ts`.
pub fn push_py_datetime(out: &mut String, ts: f64) {
    push_civil_text(out, ts, '-', false);
}

/// The timeline's `%Y/%m/%d %H:%M:%S.%f`.
pub fn slips_timestamp(ts: f64) -> String {
    let mut s = String::with_capacity(26);
    push_civil_text(&mut s, ts, '/', true);
    s
}

/// Appends [`slips_timestamp`] of `ts`.
pub fn push_slips_timestamp(out: &mut String, ts: f64) {
    push_civil_text(out, ts, '/', true);
}

/// Appends `YYYY<sep>MM<sep>DD HH:MM:SS`, then `.ffffff` when asked or when it is not zero.
fn push_civil_text(s: &mut String, ts: f64, sep: char, always_micros: bool) {
    let (dt, us) = civil(ts);
    if !push_civil(s, &dt, sep) {
        // writing into a String cannot fail
        let _ = write!(s, "{}", dt.format(&format!("%Y{sep}%m{sep}%d %H:%M:%S")));
    }
    if always_micros || us != 0 {
        push_micros(s, us);
    }
}

/// Appends an integer.
pub fn push_int(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends `YYYY<sep>MM<sep>DD HH:MM:SS`, as `strftime` writes it, for a four-digit year
/// (millions of flows and timeline entries are dated; the general formatter parses its format
/// string each time). False, with nothing written, for any other year.
fn push_civil(s: &mut String, dt: &chrono::NaiveDateTime, sep: char) -> bool {
    use chrono::{Datelike as _, Timelike as _};
    let Ok(year) = u32::try_from(dt.year()) else {
        return false;
    };
    if !(1000..=9999).contains(&year) {
        return false;
    }
    push_digits(s, year / 100);
    push_digits(s, year % 100);
    s.push(sep);
    push_digits(s, dt.month());
    s.push(sep);
    push_digits(s, dt.day());
    s.push(' ');
    push_digits(s, dt.hour());
    s.push(':');
    push_digits(s, dt.minute());
    s.push(':');
    push_digits(s, dt.second());
    true
}

/// Appends `.ffffff`.
fn push_micros(s: &mut String, us: u32) {
    s.push('.');
    push_digits(s, us / 10_000);
    push_digits(s, us / 100 % 100);
    push_digits(s, us % 100);
}

/// Appends `n` (below 100) as two digits.
fn push_digits(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// Python's `str(list_of_str)`: `['text/html', 'image/png']`.
pub fn py_list_repr(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn every_way_of_writing_a_float_is_py_float() {
        // the formatter's buffer on the stack, and the appending one, against the String one
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut values = vec![
            0.0,
            -0.0,
            1e-4,
            9.999e-5,
            1e16,
            9.999_999_999_999_998e15,
            0.1,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 100_000_000_000) as f64 / 1e6);
        }
        for v in values {
            let json = if v.is_finite() {
                py_float(v)
            } else {
                "null".to_string()
            };
            assert_eq!(to_json(&v), json, "{v:e}");
            let mut pushed = String::from("x");
            push_json_float(&mut pushed, v);
            assert_eq!(pushed, format!("x{json}"), "{v:e}");
        }
    }

    #[test]
    fn floats_print_like_python_repr() {
        assert_eq!(py_float(3600.0), "3600.0");
        assert_eq!(py_float(928.943_457), "928.943457");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e20), "1.5e+20");
        assert_eq!(py_float(-0.5), "-0.5");
        assert_eq!(py_float(0.0), "0.0");
    }

    #[test]
    fn dates_print_like_python() {
        assert_eq!(py_datetime(928.943_457), "1970-01-01 00:15:28.943457");
        assert_eq!(py_datetime(60.0), "1970-01-01 00:01:00");
        assert_eq!(slips_timestamp(928.943_457), "1970/01/01 00:15:28.943457");
        assert_eq!(
            slips_timestamp(1_664_459_365.0),
            "2022/09/29 13:49:25.000000"
        );
    }

    #[test]
    fn dates_match_the_general_formatter() {
        // every year of the fast path's range edges, leap days, the microsecond rounding
        let mut x: u64 = 1;
        let mut times = vec![0.0, 59.999_999_5, 951_782_400.0, 253_402_300_799.999, -1.5];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.push((x % 400_000_000_000) as f64 / 1000.0 - 30_000_000_000.0);
        }
        for ts in times {
            let (dt, us) = civil(ts);
            let base = dt.format("%Y-%m-%d %H:%M:%S").to_string();
            let expected = if us == 0 {
                base
            } else {
                format!("{base}.{us:06}")
            };
            assert_eq!(py_datetime(ts), expected, "{ts}");
            let expected = format!("{}.{us:06}", dt.format("%Y/%m/%d %H:%M:%S"));
            assert_eq!(slips_timestamp(ts), expected, "{ts}");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        assert_eq!(to_json("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(to_json("é"), r#""\u00e9""#);
        assert_eq!(to_json("😀"), r#""\ud83d\ude00""#);
        assert_eq!(to_json("\u{1b}[2J\u{7f}"), r#""\u001b[2J\u007f""#);
        let mut m = BTreeMap::new();
        m.insert("a", serde_json::json!("x"));
        m.insert("b", serde_json::json!([2, 0.5]));
        assert_eq!(to_json(&m), r#"{"a": "x", "b": [2, 0.5]}"#);
        assert_eq!(to_json(&3600.0), "3600.0");
    }

    #[test]
    fn mime_lists_print_like_python_str() {
        assert_eq!(py_list_repr(&["text/plain".into()]), "['text/plain']");
    }
}
