//! Typed, checked access to the columns of a table read back from a saved analysis, and the
//! Parquet encoding shared by every table.
//!
//! A saved file may be foreign, damaged or made by another version: a missing column or one of
//! another type is an error naming the table and column, never a panic.

use anyhow::{Context as _, bail};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Decimal64Type, Float64Type, Int32Type, UInt16Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal64Array, DictionaryArray, Float64Array, GenericListArray,
    Int32Array, RecordBatch, StringArray, UInt16Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

/// Rows built into columns, or decoded, at a time: the unit of work of one core.
pub const ROWS_PER_SLICE: usize = 256 * 1024;

/// Rows per Parquet row group. Each group keeps its own dictionary of every address it holds,
/// so small groups repeat the busy destinations many times: on the realistic 5 M-line log,
/// groups of 256 k rows held 1.78 M addresses in their dictionaries, groups of 1 M held 1 M,
/// and one group holds the 268 k there are (12 MB less in all). So a group is large, a day's
/// log in one, and is still encoded and decoded on every core, by slices.
pub const ROWS_PER_GROUP: usize = 32 * ROWS_PER_SLICE;

/// A column of a table: its field (name, type, whether it may be null) and its values. Each
/// table declares a column once, its name beside how its values are read from a record.
pub type Column = (Field, ArrayRef);

/// A column named `name` holding `values` (the type is theirs).
pub fn col(name: &str, nullable: bool, values: ArrayRef) -> Column {
    (
        Field::new(name, values.data_type().clone(), nullable),
        values,
    )
}

/// The integer columns of row and window numbers, which count up in small steps or point into
/// another table in rising order: Parquet's delta packing, its default, stores them in a
/// fraction of a byte to a few bytes a row, smaller than plain values after zstd.
const COUNTING: &[&str] = &[
    "row",
    "window",
    "evidence_rows",
    "conn_rows",
    "dns_rows",
    "http_rows",
    "ssl_rows",
];

/// Decimal places of Zeek's times and durations.
const MICROS: f64 = 1e6;

/// True when every value is a whole number of microseconds that comes back bit for bit as
/// `micros / 1e6` (Zeek logs print six decimals, and a correctly rounded division by 1e6 gives
/// the same double as parsing them), so the values can be kept as `DECIMAL(18,6)`.
pub fn exact_micros(mut values: impl Iterator<Item = f64>) -> bool {
    values.all(|v| {
        // 18 digits with 6 decimals: below 10^12 seconds
        v.is_finite() && v.abs() < 1e12 && Seconds::of_micros(micros_of(v)).to_bits() == v.to_bits()
    })
}

/// `v` in whole microseconds (saturating; [`exact_micros`] tells whether it is exact).
#[allow(clippy::cast_possible_truncation)]
fn micros_of(v: f64) -> i64 {
    (v * MICROS).round() as i64
}

/// Seconds as `DECIMAL(18,6)` (an integer of microseconds: half the bytes of a double's
/// random low bits) when `micros` (see [`exact_micros`]), else as doubles.
pub fn seconds(values: impl Iterator<Item = f64>, micros: bool) -> ArrayRef {
    if micros {
        let a = Decimal64Array::from_iter_values(values.map(micros_of));
        match a.with_precision_and_scale(18, 6) {
            Ok(a) => Arc::new(a),
            Err(_) => Arc::new(Float64Array::from(Vec::<f64>::new())),
        }
    } else {
        Arc::new(Float64Array::from_iter_values(values))
    }
}

/// A column of seconds as [`seconds`] writes it.
pub enum Seconds<'a> {
    /// Doubles.
    Float(&'a Float64Array),
    /// Microseconds.
    Micros(&'a Decimal64Array),
}

impl Seconds<'_> {
    /// The value of row `i`.
    pub fn value(&self, i: usize) -> f64 {
        match self {
            Seconds::Float(a) => a.value(i),
            Seconds::Micros(a) => Seconds::of_micros(a.value(i)),
        }
    }

    /// Seconds of `micros`: the one division both [`exact_micros`] and reading use.
    #[allow(clippy::cast_precision_loss)] // below 2^53, checked by exact_micros
    fn of_micros(micros: i64) -> f64 {
        micros as f64 / MICROS
    }
}

/// A text column kept as a dictionary (each distinct value once, a key per row), built from
/// the rows' values and how each is written: addresses and Zeek's small vocabularies. Readers
/// see plain text; kalipso turns each distinct value back into its type once.
pub fn dictionary_column<K: Hash + Eq + Copy>(
    values: impl Iterator<Item = K>,
    text: impl Fn(K) -> String,
) -> ArrayRef {
    optional_dictionary_column(values.map(Some), text)
}

/// [`dictionary_column`] for values that may be missing (null rows).
pub fn optional_dictionary_column<K: Hash + Eq + Copy>(
    values: impl Iterator<Item = Option<K>>,
    text: impl Fn(K) -> String,
) -> ArrayRef {
    let mut index: FxHashMap<K, i32> = FxHashMap::default();
    let mut words: Vec<String> = Vec::new();
    let keys: Int32Array = values
        .map(|v| {
            v.map(|v| {
                *index.entry(v).or_insert_with(|| {
                    words.push(text(v));
                    (words.len() - 1) as i32
                })
            })
        })
        .collect();
    let words: ArrayRef = Arc::new(StringArray::from(words));
    // the keys index `words` by construction
    match DictionaryArray::<Int32Type>::try_new(keys, words) {
        Ok(d) => Arc::new(d),
        Err(_) => Arc::new(StringArray::from(Vec::<String>::new())),
    }
}

/// Encodes `rows` as one Parquet file. `chunk` turns a slice of at most [`ROWS_PER_SLICE`]
/// rows into columns, a few slices at a time on every core; each column of a slice is then
/// appended to its column of the row group on its own core. The row groups are made of the
/// same slices in the same order on any thread count, so the file is the same.
pub fn parquet<T: Sync>(
    rows: &[T],
    chunk: impl Fn(&[T]) -> Vec<Column> + Sync,
) -> anyhow::Result<Vec<u8>> {
    parquet_in(rows, chunk, ROWS_PER_SLICE, ROWS_PER_GROUP)
}

/// [`parquet`] with other sizes (tests make many small slices and groups).
fn parquet_in<T: Sync>(
    rows: &[T],
    chunk: impl Fn(&[T]) -> Vec<Column> + Sync,
    slice: usize,
    group: usize,
) -> anyhow::Result<Vec<u8>> {
    // the columns of no rows give the schema
    let schema = Arc::new(Schema::new(
        chunk(&[]).into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
    ));
    let mut props = WriterProperties::builder()
        // zstd's lowest level: about a third smaller than snappy at about the same speed
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        // a busy network has hundreds of thousands of addresses: keep them a dictionary
        .set_dictionary_page_size_limit(16 << 20)
        .set_created_by(format!("kalipso {}", env!("CARGO_PKG_VERSION")));
    // Parquet's own dictionaries (a hash per value) only for the columns built as dictionaries;
    // other integers are plain (zstd finds their repetition; delta packing hides it, a quarter
    // larger on a realistic conn table), and doubles, all different, have their bytes split
    // by position so zstd finds the exponents' repetition. Integers are not split so: their
    // columns would be a seventh smaller (the file 5 %), but no DuckDB release reads it yet
    // (v1.5.5 accepts BYTE_STREAM_SPLIT on FLOAT and DOUBLE only; duckdb#24175 adds integers
    // after it).
    for f in schema.fields() {
        // a list's values are its leaf column, `name.list.item`, and are encoded as such
        let (col, data_type) = match f.data_type() {
            DataType::List(item) => (
                ColumnPath::new(vec![f.name().clone(), "list".into(), item.name().clone()]),
                item.data_type(),
            ),
            t => (ColumnPath::from(f.name().as_str()), t),
        };
        match data_type {
            DataType::Dictionary(..) => {}
            DataType::Float64 => {
                props = props
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::BYTE_STREAM_SPLIT);
            }
            t if t.is_integer() && COUNTING.contains(&f.name().as_str()) => {
                props = props.set_column_dictionary_enabled(col, false);
            }
            t if t.is_integer() || matches!(t, DataType::Decimal64(..)) => {
                props = props
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::PLAIN);
            }
            _ => props = props.set_column_dictionary_enabled(col, false),
        }
    }
    let props = props.build();
    // the ArrowWriter only sets the file up (schema, and the Arrow schema kept in the footer
    // so dictionaries read back as dictionaries); row groups are encoded on every core
    let (mut file, groups) = ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(props))?
        .into_serialized_writer()?;
    let wave = 2 * rayon::current_num_threads().max(1);
    for (g, group_rows) in rows.chunks(group).enumerate() {
        let mut writers = groups.create_column_writers(g)?;
        for slices in group_rows.chunks(wave * slice) {
            let built: Vec<Vec<Column>> = slices.par_chunks(slice).map(&chunk).collect();
            for columns in built {
                let mut leaves = Vec::with_capacity(writers.len());
                for (f, array) in &columns {
                    leaves.extend(compute_leaves(f, array)?);
                }
                if leaves.len() != writers.len() {
                    bail!("{} columns for {} writers", leaves.len(), writers.len());
                }
                writers
                    .par_iter_mut()
                    .zip(leaves.par_iter())
                    .try_for_each(|(w, leaf)| w.write(leaf))?;
            }
        }
        let mut group = file.next_row_group()?;
        for w in writers {
            w.close()?.append_to_row_group(&mut group)?;
        }
        group.close()?;
    }
    file.flush()?;
    Ok(file.into_inner()?)
}

/// Decodes a Parquet file: slices of [`ROWS_PER_SLICE`] rows of its row groups on every core,
/// a few at a time (a slice's reader skips the pages before it unread), each turned into rows
/// by `rows` and appended in file order to one vector reserved up front (so the records are
/// not held twice).
pub fn read<T: Send>(
    table: &'static str,
    bytes: &Bytes,
    rows: impl Fn(&Columns<'_>) -> anyhow::Result<Vec<T>> + Sync,
) -> anyhow::Result<Vec<T>> {
    read_in(table, bytes, rows, ROWS_PER_SLICE)
}

/// [`read`] by slices of `slice` rows.
fn read_in<T: Send>(
    table: &'static str,
    bytes: &Bytes,
    rows: impl Fn(&Columns<'_>) -> anyhow::Result<Vec<T>> + Sync,
    slice: usize,
) -> anyhow::Result<Vec<T>> {
    // the footer is parsed once; every slice's reader starts from it
    let footer = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new())
        .with_context(|| format!("table {table}"))?;
    let metadata = Arc::clone(footer.metadata());
    let total = metadata.file_metadata().num_rows();
    let decode = |(g, skip, take): (usize, usize, usize)| -> anyhow::Result<Vec<T>> {
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), footer.clone())
                .with_row_groups(vec![g])
                .with_row_selection(RowSelection::from(vec![
                    RowSelector::skip(skip),
                    RowSelector::select(take),
                ]))
                .with_batch_size(slice)
                .build()?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch?;
            out.extend(rows(&Columns {
                table,
                batch: &batch,
            })?);
        }
        Ok(out)
    };
    // lazily: a damaged file may claim any number of rows, and the first slice that is not
    // there ends the reading with an error
    let mut slices = metadata
        .row_groups()
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            let n = usize::try_from(group.num_rows()).unwrap_or(0);
            (0..n)
                .step_by(slice)
                .map(move |skip| (g, skip, slice.min(n - skip)))
        });
    let mut all = Vec::new();
    // the count comes from the file: a damaged one may claim anything, so ask, don't insist
    let _ = all.try_reserve_exact(usize::try_from(total).unwrap_or(0));
    let wave = 2 * rayon::current_num_threads().max(1);
    loop {
        let next: Vec<(usize, usize, usize)> = slices.by_ref().take(wave).collect();
        if next.is_empty() {
            break;
        }
        let parts: Vec<anyhow::Result<Vec<T>>> = next.into_par_iter().map(decode).collect();
        for p in parts {
            all.extend(p.with_context(|| format!("table {table}"))?);
        }
    }
    Ok(all)
}

/// The columns of one decoded batch, looked up by name and type.
pub struct Columns<'a> {
    table: &'static str,
    batch: &'a RecordBatch,
}

impl Columns<'_> {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn column(&self, name: &str) -> anyhow::Result<&ArrayRef> {
        self.batch
            .column_by_name(name)
            .with_context(|| format!("table {} has no column '{name}'", self.table))
    }

    fn wrong(&self, name: &str, want: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "table {}: column '{name}' is not of type {want}",
            self.table
        )
    }

    /// A text column.
    pub fn str(&self, name: &str) -> anyhow::Result<&StringArray> {
        self.column(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| self.wrong(name, "string"))
    }

    /// A [`dictionary_column`]: each distinct value turned into a `T` once by `parse`, then
    /// one `T` per row.
    pub fn dictionary_values<T: Clone>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let col = self.column(name)?;
        let Some(d) = col.as_dictionary_opt::<Int32Type>() else {
            // another writer may have kept it as plain text
            let text = self.str(name)?;
            return (0..text.len()).map(|i| parse(text.value(i))).collect();
        };
        let words = d
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| self.wrong(name, "dictionary of strings"))?;
        // a row group's dictionary is the whole group's, many times the words of one batch:
        // each is parsed when a row first uses it
        let mut parsed: Vec<Option<T>> = vec![None; words.len()];
        d.keys()
            .iter()
            .enumerate()
            .map(|(row, k)| {
                let at = k
                    .and_then(|k| usize::try_from(k).ok())
                    .filter(|&k| k < words.len())
                    .with_context(|| {
                        format!("table {}: column '{name}' row {row}: no value", self.table)
                    })?;
                if let Some(v) = &parsed[at] {
                    return Ok(v.clone());
                }
                let v = parse(words.value(at))
                    .with_context(|| format!("table {}: column '{name}' row {row}", self.table))?;
                parsed[at] = Some(v.clone());
                Ok(v)
            })
            .collect()
    }

    /// A float column.
    pub fn f64(&self, name: &str) -> anyhow::Result<&Float64Array> {
        self.column(name)?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| self.wrong(name, "float64"))
    }

    /// A column of seconds: doubles, or `DECIMAL(18,6)`.
    pub fn seconds(&self, name: &str) -> anyhow::Result<Seconds<'_>> {
        let c = self.column(name)?;
        if let Some(a) = c.as_primitive_opt::<Float64Type>() {
            return Ok(Seconds::Float(a));
        }
        match c.as_primitive_opt::<Decimal64Type>() {
            Some(a) if a.scale() == 6 => Ok(Seconds::Micros(a)),
            _ => Err(self.wrong(name, "float64 or decimal(18,6)")),
        }
    }

    /// A port column: 64-bit integers (layout 2) or 16-bit ones (layout 1), one `u16` a row.
    pub fn ports(&self, name: &str) -> anyhow::Result<Vec<u16>> {
        let col = self.column(name)?;
        if let Some(a) = col.as_primitive_opt::<UInt16Type>() {
            return Ok(a.values().to_vec());
        }
        let a = col
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| self.wrong(name, "uint64 or uint16"))?;
        a.values()
            .iter()
            .enumerate()
            .map(|(row, &p)| {
                u16::try_from(p).map_err(|_| {
                    anyhow::anyhow!(
                        "table {}: column '{name}' row {row}: {p} is not a port",
                        self.table
                    )
                })
            })
            .collect()
    }

    /// A 16-bit column.
    pub fn u16(&self, name: &str) -> anyhow::Result<&UInt16Array> {
        self.column(name)?
            .as_primitive_opt::<UInt16Type>()
            .ok_or_else(|| self.wrong(name, "uint16"))
    }

    /// A counter column.
    pub fn u64(&self, name: &str) -> anyhow::Result<&UInt64Array> {
        self.column(name)?
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| self.wrong(name, "uint64"))
    }

    /// A boolean column.
    pub fn bool(&self, name: &str) -> anyhow::Result<&BooleanArray> {
        self.column(name)?
            .as_boolean_opt()
            .ok_or_else(|| self.wrong(name, "boolean"))
    }

    /// A list-of-strings column (read a row with [`strings_at`]).
    pub fn strings(&self, name: &str) -> anyhow::Result<&GenericListArray<i32>> {
        self.list(name, &DataType::Utf8, "list of strings")
    }

    /// A list-of-floats column (read a row with [`floats_at`]).
    pub fn floats(&self, name: &str) -> anyhow::Result<&GenericListArray<i32>> {
        self.list(name, &DataType::Float64, "list of floats")
    }

    fn list(
        &self,
        name: &str,
        item: &DataType,
        want: &str,
    ) -> anyhow::Result<&GenericListArray<i32>> {
        self.column(name)?
            .as_list_opt::<i32>()
            .filter(|l| l.value_type() == *item)
            .ok_or_else(|| self.wrong(name, want))
    }

    /// An address in a text column; a bad one names the table, column and row.
    pub fn ip(&self, col: &StringArray, name: &str, row: usize) -> anyhow::Result<IpAddr> {
        let text = col.value(row);
        text.parse().map_err(|_| {
            anyhow::anyhow!(
                "table {}: column '{name}' row {row}: '{}' is not an IP address",
                self.table,
                crate::text::clean(text)
            )
        })
    }

    /// An address in a nullable text column.
    pub fn ip_opt(
        &self,
        col: &StringArray,
        name: &str,
        row: usize,
    ) -> anyhow::Result<Option<IpAddr>> {
        if col.is_null(row) {
            return Ok(None);
        }
        self.ip(col, name, row).map(Some)
    }

    /// Fails unless the table holds `want` rows in all (checked by the caller against the
    /// header's count).
    pub fn expect_rows(table: &str, got: usize, want: u64) -> anyhow::Result<()> {
        if got as u64 != want {
            bail!("table {table} holds {got} rows, the header says {want}: the file is damaged");
        }
        Ok(())
    }
}

/// The strings of row `row` of a list column.
pub fn strings_at(list: &GenericListArray<i32>, row: usize) -> Vec<String> {
    if list.is_null(row) {
        return Vec::new();
    }
    let values = list.value(row);
    match values.as_string_opt::<i32>() {
        Some(s) => (0..s.len()).map(|i| s.value(i).to_string()).collect(),
        None => Vec::new(),
    }
}

/// The floats of row `row` of a list column.
pub fn floats_at(list: &GenericListArray<i32>, row: usize) -> Vec<f64> {
    if list.is_null(row) {
        return Vec::new();
    }
    let values = list.value(row);
    match values.as_primitive_opt::<Float64Type>() {
        Some(f) => f.values().to_vec(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_kept_as_micros_only_when_they_come_back_bit_for_bit() {
        // Zeek's six decimals, parsed as Zeek logs are
        let zeek: Vec<f64> = [
            "1704099602.141507",
            "0.000001",
            "58.352",
            "0",
            "3599.999999",
        ]
        .iter()
        .map(|t| t.parse().expect("number"))
        .collect();
        assert!(exact_micros(zeek.iter().copied()));
        let a = seconds(zeek.iter().copied(), true);
        let a = a.as_primitive::<Decimal64Type>();
        for (i, v) in zeek.iter().enumerate() {
            assert_eq!(Seconds::Micros(a).value(i).to_bits(), v.to_bits(), "{v}");
        }
        // a capture's differences of packet times, minus zero, and too large or not finite
        for odd in [0.1 + 0.2, 1e-7, -0.0, 2e12, f64::NAN, f64::INFINITY] {
            assert!(!exact_micros(zeek.iter().copied().chain([odd])), "{odd}");
        }
    }

    #[test]
    fn rows_come_back_in_order_across_slices_and_groups() {
        // an address, a counter and a list per row; 1,000 rows in groups of 300 written by
        // slices of 7 (each group's last slice is short), then read by slices of other sizes
        let rows: Vec<(IpAddr, u64, Vec<u32>)> = (0u32..1000)
            .map(|i| {
                let ip = IpAddr::from([10, 0, (i % 13) as u8, (i % 7) as u8]);
                (
                    ip,
                    u64::from(i) * 7919 % 1000,
                    (0..i % 4).map(|k| i + k).collect(),
                )
            })
            .collect();
        let chunk = |rows: &[(IpAddr, u64, Vec<u32>)]| -> Vec<Column> {
            vec![
                col(
                    "ip",
                    false,
                    dictionary_column(rows.iter().map(|r| r.0), |ip| ip.to_string()),
                ),
                col(
                    "n",
                    false,
                    Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1))),
                ),
                col(
                    "list",
                    false,
                    Arc::new(arrow_array::ListArray::from_iter_primitive::<
                        arrow_array::types::UInt32Type,
                        _,
                        _,
                    >(
                        rows.iter().map(|r| Some(r.2.iter().map(|v| Some(*v))))
                    )),
                ),
            ]
        };
        let bytes = Bytes::from(parquet_in(&rows, chunk, 7, 300).expect("encode"));
        let groups = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
            .expect("file")
            .metadata()
            .num_row_groups();
        assert_eq!(groups, 4);
        for slice in [1, 7, 300, 1000] {
            let back = read_in(
                "t",
                &bytes,
                |t| {
                    let ips = t.dictionary_values("ip", |s| Ok(s.parse::<IpAddr>()?))?;
                    let n = t.u64("n")?;
                    let list = t.column("list")?.as_list::<i32>();
                    Ok((0..t.len())
                        .map(|i| {
                            let l = list.value(i);
                            let l = l.as_primitive::<arrow_array::types::UInt32Type>();
                            (ips[i], n.value(i), l.values().to_vec())
                        })
                        .collect())
                },
                slice,
            )
            .expect("decode");
            assert_eq!(back, rows, "slices of {slice}");
        }
    }
}
