//! The detections of a saved analysis as tables for other tools: `evidence` (one row per piece
//! of evidence, with Slips' type, the parties, level, confidence, the sentence and the uids of
//! the flows behind it) and `alerts` (one row per alert, with the row numbers of its evidence).
//!
//! kalipso itself does not read them back: opening a file re-runs the detections on its
//! records, which gives the same rows (the detections are deterministic).

use super::columns::{self, field, string_list};
use crate::detect::{Alert, Evidence};
use crate::record::ip_text;
use crate::store::Store;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::UInt64Type;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use std::sync::{Arc, LazyLock};

/// The `evidence` table's columns.
pub static EVIDENCE: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        field("row", DataType::UInt64, false),
        field("profile", DataType::Utf8, false),
        field("window", DataType::Int64, false),
        field("ts", DataType::Float64, false),
        field("type", DataType::Utf8, false),
        field("category", DataType::Utf8, false),
        field("attacker", DataType::Utf8, false),
        field("profile_is_attacker", DataType::Boolean, false),
        field("victim", DataType::Utf8, true),
        field("threat_level", DataType::Utf8, false),
        field("confidence", DataType::Float64, false),
        field("description", DataType::Utf8, false),
        field("uids", string_list(), false),
    ]))
});

/// The `alerts` table's columns.
pub static ALERTS: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        field("profile", DataType::Utf8, false),
        field("window", DataType::Int64, false),
        field("ts", DataType::Float64, false),
        field("score", DataType::Float64, false),
        field(
            "evidence_rows",
            DataType::List(Arc::new(Field::new("item", DataType::UInt64, true))),
            false,
        ),
    ]))
});

/// Encodes both tables: (file name, Parquet bytes).
pub fn encode(
    store: &Store,
    evidence: &[Evidence],
    alerts: &[Alert],
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let numbered: Vec<(u64, &Evidence)> = (0u64..).zip(evidence).collect();
    let (e, a) = rayon::join(
        || columns::parquet(&EVIDENCE, &numbered, |rows| evidence_columns(store, rows)),
        || columns::parquet(&ALERTS, alerts, alert_columns),
    );
    Ok(vec![("evidence.parquet", e?), ("alerts.parquet", a?)])
}

fn evidence_columns(store: &Store, rows: &[(u64, &Evidence)]) -> Vec<ArrayRef> {
    let mut uids = ListBuilder::new(StringBuilder::new());
    for (_, e) in rows {
        for u in e.uids(store) {
            uids.values().append_value(&*u);
        }
        uids.append(true);
    }
    let text = |f: &dyn Fn(&Evidence) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(_, e)| f(e)),
        ))
    };
    vec![
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|(n, _)| *n))),
        text(&|e| ip_text(e.profile)),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(_, e)| e.window),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|(_, e)| e.ts),
        )),
        text(&|e| e.kind.name().to_string()),
        text(&|e| e.kind.category().to_string()),
        text(&|e| e.attacker.to_string()),
        Arc::new(
            rows.iter()
                .map(|(_, e)| Some(e.profile_is_attacker))
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|(_, e)| e.victim.as_ref().map(ToString::to_string))
                .collect::<StringArray>(),
        ),
        text(&|e| e.threat_level.as_str().to_string()),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|(_, e)| e.confidence),
        )),
        text(&Evidence::description),
        Arc::new(uids.finish()),
    ]
}

fn alert_columns(alerts: &[Alert]) -> Vec<ArrayRef> {
    vec![
        Arc::new(StringArray::from_iter_values(
            alerts.iter().map(|a| ip_text(a.profile)),
        )),
        Arc::new(Int64Array::from_iter_values(
            alerts.iter().map(|a| a.window),
        )),
        Arc::new(Float64Array::from_iter_values(alerts.iter().map(|a| a.ts))),
        Arc::new(Float64Array::from_iter_values(
            alerts.iter().map(|a| a.score),
        )),
        Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>(
            alerts
                .iter()
                .map(|a| Some(a.evidence.iter().map(|&i| Some(i as u64)))),
        )),
    ]
}
