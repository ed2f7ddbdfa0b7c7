//! The detections of a saved analysis as tables for other tools: `evidence` (one row per piece
//! of evidence, with Slips' type, the parties, level, confidence, the sentence and the rows of
//! the records behind it) and `alerts` (one row per alert, with the row numbers of its evidence).
//!
//! kalipso itself does not read them back: opening a file re-runs the detections on its
//! records, which gives the same rows (the detections are deterministic).

use super::columns::{self, Column, col};
use crate::detect::{Alert, Evidence, FlowRef};
use crate::record::ip_text;
use arrow_array::types::{UInt32Type, UInt64Type};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, UInt64Array,
};
use std::sync::Arc;

/// Encodes both tables: (file name, Parquet bytes).
pub fn encode(
    evidence: &crate::detect::pieces::Pieces<Evidence>,
    alerts: &[Alert],
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let numbered: Vec<(u64, &Evidence)> = (0u64..).zip(evidence).collect();
    let (e, a) = rayon::join(
        || columns::parquet(&numbered, evidence_columns),
        || columns::parquet(alerts, alert_columns),
    );
    Ok(vec![("evidence.parquet", e?), ("alerts.parquet", a?)])
}

/// The `evidence` table's columns.
///
/// The records behind a piece of evidence are named by their row in the record tables
/// (`conn_rows` into `conn.parquet`, and so on), not by their uids: a uid is random, so
/// repeating it here cost 13 bytes a record (15 MB on the realistic 5 M-line log), while a row
/// number takes about 4 and joins on the record's row (`file_row_number` in `DuckDB`).
fn evidence_columns(rows: &[(u64, &Evidence)]) -> Vec<Column> {
    // one list column per record table: the rows of the evidence's records in that table
    let record_rows = FlowRef::TABLES.iter().enumerate().map(|(t, name)| {
        let lists = rows.iter().map(|(_, e)| {
            Some(e.flows.iter().filter_map(move |f| {
                let (table, row) = f.table_row();
                (table == t).then_some(Some(row))
            }))
        });
        col(
            &format!("{name}_rows"),
            false,
            Arc::new(ListArray::from_iter_primitive::<UInt32Type, _, _>(lists)),
        )
    });
    let text = |f: &dyn Fn(&Evidence) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(_, e)| f(e)),
        ))
    };
    vec![
        col(
            "row",
            false,
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|(n, _)| *n))),
        ),
        col("profile", false, text(&|e| ip_text(e.profile))),
        col(
            "window",
            false,
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(_, e)| e.window),
            )),
        ),
        col(
            "ts",
            false,
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(_, e)| e.ts),
            )),
        ),
        col("type", false, text(&|e| e.kind.name().to_string())),
        col("category", false, text(&|e| e.kind.category().to_string())),
        col("attacker", false, text(&|e| e.attacker().to_string())),
        col(
            "profile_is_attacker",
            false,
            Arc::new(
                rows.iter()
                    .map(|(_, e)| Some(e.profile_is_attacker()))
                    .collect::<BooleanArray>(),
            ),
        ),
        col(
            "victim",
            true,
            // few distinct victims (a profile's own address, a few servers): a dictionary
            columns::optional_dictionary_column(rows.iter().map(|(_, e)| e.victim()), |v| {
                v.to_string()
            }),
        ),
        col(
            "threat_level",
            false,
            text(&|e| e.threat_level.as_str().to_string()),
        ),
        col(
            "confidence",
            false,
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(_, e)| e.confidence),
            )),
        ),
        col("description", false, text(&Evidence::description)),
    ]
    .into_iter()
    .chain(record_rows)
    .collect()
}

/// The `alerts` table's columns: `evidence_rows` are the `row`s of its evidence.
fn alert_columns(alerts: &[Alert]) -> Vec<Column> {
    vec![
        col(
            "profile",
            false,
            Arc::new(StringArray::from_iter_values(
                alerts.iter().map(|a| ip_text(a.profile)),
            )),
        ),
        col(
            "window",
            false,
            Arc::new(Int64Array::from_iter_values(
                alerts.iter().map(|a| a.window),
            )),
        ),
        col(
            "ts",
            false,
            Arc::new(Float64Array::from_iter_values(alerts.iter().map(|a| a.ts))),
        ),
        col(
            "score",
            false,
            Arc::new(Float64Array::from_iter_values(
                alerts.iter().map(|a| a.score),
            )),
        ),
        col(
            "evidence_rows",
            false,
            Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>(
                alerts
                    .iter()
                    .map(|a| Some(a.evidence.iter().map(|&i| Some(i as u64)))),
            )),
        ),
    ]
}
