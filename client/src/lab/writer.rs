//! Writes one day of events as a zstd-compressed Parquet file, row group by row group.
//!
//! The day's baseline events and its slice of the scenario events are both sorted, so a
//! two-way merge yields rows in time order without copying them. Rows are rendered into one
//! row group of builders at a time and handed to the Parquet writer, which encodes and
//! compresses it, so memory stays bounded by the day's compact events plus one row group.
//! The file is written under a temporary name and renamed when complete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::LabError;
use super::model::{Ctx, Ev};
use super::render::RowGroup;
use super::schema::lake_schema;
use super::topology::Topology;

/// Rows per row group.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The result of writing one file.
#[derive(Clone, Debug)]
pub(crate) struct DayFile {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
}

/// Writer properties of every lake file: zstd level 1, dictionary encoding, chunk
/// statistics, rows declared sorted by `event_created`. Nothing time- or host-dependent is
/// embedded, so equal inputs give byte-identical files.
pub(crate) fn writer_properties() -> WriterProperties {
    // Level 1 is in zstd's valid range; the fallback is never taken.
    let zstd = ZstdLevel::try_new(1).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build()
}

/// Writes the merge of two sorted event lists to `path` (via `path` + `.tmp`).
///
/// # Errors
/// If the file cannot be created, written or renamed.
pub(crate) fn write_day(
    path: &Path,
    topo: &Topology,
    base: (&Ctx, &[Ev]),
    extra: (&Ctx, &[Ev]),
) -> Result<DayFile, LabError> {
    let tmp = path.with_extension("parquet.tmp");
    let io = |source| LabError::Io {
        path: tmp.clone(),
        source,
    };
    let pq = |source| LabError::Parquet {
        path: tmp.clone(),
        source,
    };
    let file = File::create(&tmp).map_err(io)?;
    let sink = BufWriter::with_capacity(1 << 20, file);
    let mut writer = ArrowWriter::try_new(sink, lake_schema(), Some(writer_properties()))
        .map_err(pq)?;
    let (bctx, bevs) = base;
    let (ectx, eevs) = extra;
    let total = bevs.len() + eevs.len();
    let mut rg = RowGroup::new(ROW_GROUP_ROWS.min(total.max(1)));
    let (mut i, mut j) = (0, 0);
    let first_ts = match (bevs.first(), eevs.first()) {
        (Some(a), Some(b)) => Some(a.ts.min(b.ts)),
        (a, b) => a.or(b).map(|e| e.ts),
    };
    let last_ts = match (bevs.last(), eevs.last()) {
        (Some(a), Some(b)) => Some(a.ts.max(b.ts)),
        (a, b) => a.or(b).map(|e| e.ts),
    };
    while i < bevs.len() || j < eevs.len() {
        if j >= eevs.len() || (i < bevs.len() && bevs[i].ts <= eevs[j].ts) {
            rg.push(&bevs[i], bctx, topo);
            i += 1;
        } else {
            rg.push(&eevs[j], ectx, topo);
            j += 1;
        }
        if rg.len() == ROW_GROUP_ROWS {
            let batch = rg.finish().map_err(|e| pq(e.into()))?;
            writer.write(&batch).map_err(pq)?;
        }
    }
    if rg.len() > 0 {
        let batch = rg.finish().map_err(|e| pq(e.into()))?;
        writer.write(&batch).map_err(pq)?;
    }
    let sink = writer.into_inner().map_err(pq)?;
    let file = sink.into_inner().map_err(|e| io(e.into_error()))?;
    let bytes = file.metadata().map_err(io)?.len();
    drop(file);
    std::fs::rename(&tmp, path).map_err(|source| LabError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(DayFile {
        path: path.to_path_buf(),
        rows: total as u64,
        bytes,
        first_ts,
        last_ts,
    })
}
