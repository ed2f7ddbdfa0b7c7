//! A timeline entry as Slips stored it (`profile_<ip>_timewindow<N>_timeline`, spec §4), shown
//! the way Kalipso shows it (§4.2): what the landing screen of a Redis database previews before
//! the flows are read and analysed. Every network string is escaped.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON object's fields in the order they were written (Kalipso shows them in that order),
/// each value still as its JSON text.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Fields)
    }
}

/// The lines of one stored entry: the row, then one line per `info` field. An entry that is not
/// a JSON object is one line saying so.
pub fn lines(entry: &str) -> Vec<String> {
    let Ok(Ordered(fields)) = serde_json::from_str::<Ordered>(entry) else {
        return vec![format!("(not a timeline entry: {})", clean(entry))];
    };
    let value = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null);
    let preposition = fields.iter().find(|(k, _)| k == "preposition");
    // the remote address is the one the preposition names; the other one is not shown
    let remote = if preposition.is_some_and(|(_, v)| v.get() == "\"from\"") {
        "saddr"
    } else {
        "daddr"
    };
    let mut row = Vec::new();
    let mut info = None;
    for (key, raw) in &fields {
        let key = key.as_str();
        if key.contains("info") && !key.contains("warning") {
            info = Some(raw);
            continue;
        }
        let text = shown(&value(raw));
        let part = if key.contains("warning")
            || key.contains("timestamp")
            || key.contains("dport/proto")
            || key.contains("dport_name")
        {
            text
        } else if key == remote {
            format!("[{text}]")
        } else if ["sent", "recv", "tot", "size", "type", "duration"]
            .iter()
            .any(|k| key.contains(k))
        {
            format!("{}:{text}", capitalised(key))
        } else if key.contains("dns_resolution") {
            text
        } else {
            continue;
        };
        if !part.is_empty() {
            row.push(part);
        }
    }
    let mut out = vec![row.join(" ")];
    if let Some(Ok(Ordered(info))) = info.map(|raw| serde_json::from_str::<Ordered>(raw.get())) {
        for (key, raw) in &info {
            out.push(format!("{:>20}:{}", capitalised(key), shown(&value(raw))));
        }
    }
    out
}

/// A value as Kalipso prints it: strings bare, arrays comma-joined, numbers as written.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => clean(s),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => clean(&other.to_string()),
    }
}

fn capitalised(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

fn clean(s: &str) -> String {
    crate::text::clean(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dns_entry_reads_as_kalipso_shows_it() {
        let entry = r#"{"timestamp": "2022/11/29 15:40:38.000001", "dport_name": "DNS", "preposition": "to", "dns_resolution": "????", "daddr": "8.8.8.8", "dport/proto": "53/UDP", "state": "Established", "warning": "", "info": {"query": "example.com", "answers": ["93.184.216.34", "1.2.3.4"]}, "sent": 37, "recv": 77, "tot": 114, "duration": 0.007, "critical warning": ""}"#;
        assert_eq!(
            lines(entry),
            vec![
                "2022/11/29 15:40:38.000001 DNS ???? [8.8.8.8] 53/UDP Sent:37 Recv:77 Tot:114 \
                 Duration:0.007",
                "               Query:example.com",
                "             Answers:93.184.216.34,1.2.3.4",
            ]
        );
    }

    #[test]
    fn an_incoming_entry_names_its_source_and_network_text_is_escaped() {
        let entry = r#"{"timestamp": "t", "preposition": "from", "saddr": "10.0.0.9", "daddr": "10.0.0.1", "dport/proto": "22/TCP", "warning": "No data exchange!", "info": {"query": "evil\u001b[2Jname"}}"#;
        let out = lines(entry);
        assert_eq!(out[0], "t [10.0.0.9] 22/TCP No data exchange!");
        assert!(!out[1].contains('\u{1b}'), "{}", out[1]);
        assert_eq!(lines("not json").len(), 1);
    }
}
