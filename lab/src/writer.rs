//! Writes one day of events as a zstd-compressed Parquet file, row group by row group.
//!
//! The day's baseline events, its slice of the scenario events and its profile events are
//! each sorted, so a merge yields rows in time order without copying them. Rows are rendered into one
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
use super::topology::Topology;
use huntsman_core::schema::lake_schema;

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

/// Writes the merge of sorted event lists to `path` (via `path` + `.tmp`); equal times keep
/// the order of the lists (baseline, scenarios, profiles).
///
/// # Errors
/// If the file cannot be created, written or renamed.
pub(crate) fn write_day(
    path: &Path,
    topo: &Topology,
    sources: &[(&Ctx, &[Ev])],
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
    let total: usize = sources.iter().map(|s| s.1.len()).sum();
    let mut rg = RowGroup::new(ROW_GROUP_ROWS.min(total.max(1)));
    let first_ts = sources
        .iter()
        .filter_map(|s| s.1.first())
        .map(|e| e.ts)
        .min();
    let last_ts = sources
        .iter()
        .filter_map(|s| s.1.last())
        .map(|e| e.ts)
        .max();
    let mut next = vec![0usize; sources.len()];
    loop {
        let mut best: Option<(usize, i64)> = None;
        for (k, (_, evs)) in sources.iter().enumerate() {
            if let Some(e) = evs.get(next[k])
                && best.is_none_or(|(_, ts)| e.ts < ts)
            {
                best = Some((k, e.ts));
            }
        }
        let Some((k, _)) = best else { break };
        let (ctx, evs) = sources[k];
        rg.push(&evs[next[k]], ctx, topo);
        next[k] += 1;
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
