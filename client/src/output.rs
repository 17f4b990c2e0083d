//! Writing query results: an aligned table for people, CSV, JSON lines or Parquet for
//! tools. Files are written under a temporary name and renamed when complete, so a
//! reader never sees half a result.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Output format of `huntsman sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns; long strings truncated with `…`.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Json,
    /// Parquet (needs `--out`).
    Parquet,
}

/// Widest cell the table format prints before truncating.
pub const MAX_CELL_WIDTH: usize = 60;

/// Writes `batches` in `format` to `out` (a file) or to standard output.
///
/// # Errors
/// Parquet without `--out`, or an IO error naming the output file.
pub fn write_results(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: Format,
    out: Option<&Path>,
) -> Result<()> {
    match out {
        None => {
            if format == Format::Parquet {
                bail!("--format parquet needs --out <file>");
            }
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            write_to(&mut w, batches, schema, format)?;
            w.flush()?;
            Ok(())
        }
        Some(path) => {
            let tmp = temp_path(path);
            let result = (|| -> Result<()> {
                let file = File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let file = if format == Format::Parquet {
                    write_parquet(file, batches, schema)?
                } else {
                    let mut w = BufWriter::new(file);
                    write_to(&mut w, batches, schema, format)?;
                    w.into_inner().map_err(|e| e.into_error())?
                };
                file.sync_all()?;
                Ok(())
            })();
            match result {
                Ok(()) => std::fs::rename(&tmp, path).with_context(|| {
                    format!("moving {} into place as {}", tmp.display(), path.display())
                }),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e.context(format!("writing {}", path.display())))
                }
            }
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = format!(".{}.tmp-{}", name.unwrap_or_default(), std::process::id());
    path.with_file_name(name)
}

fn write_to(
    w: &mut dyn Write,
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: Format,
) -> Result<()> {
    match format {
        Format::Table => write_table(w, batches, schema),
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(w);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                writer.write(b)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(w);
            for b in batches {
                writer.write(b)?;
            }
            writer.finish()?;
            Ok(())
        }
        Format::Parquet => bail!("--format parquet needs --out <file>"),
    }
}

/// Rows per Parquet row group of written results and intermediate tables.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Writes zstd-compressed Parquet and returns the file for syncing.
fn write_parquet(
    file: File,
    batches: &[RecordBatch],
    schema: &SchemaRef,
) -> Result<File> {
    // Row groups of 64 Ki rows: a scan of the file (a hunt's intermediate table read
    // back) splits across partitions by row group, so later phases run in parallel.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    for b in batches {
        writer.write(b)?;
    }
    Ok(writer.into_inner()?)
}

fn truncate(cell: String) -> String {
    if cell.chars().count() <= MAX_CELL_WIDTH {
        return cell.replace(['\n', '\r', '\t'], " ");
    }
    let mut short: String = cell.chars().take(MAX_CELL_WIDTH - 1).collect();
    short = short.replace(['\n', '\r', '\t'], " ");
    short.push('…');
    short
}

/// Renders batches as an aligned table with a header, truncating wide cells.
fn write_table(
    w: &mut dyn Write,
    batches: &[RecordBatch],
    schema: &SchemaRef,
) -> Result<()> {
    let headers: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| truncate(f.name().clone()))
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| truncate(f.value(row).to_string()))
                    .collect(),
            );
        }
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, width)| format!("{c}{}", " ".repeat(width - c.chars().count())))
            .collect();
        writeln!(w, "{}", padded.join("  ").trim_end())
    };
    line(w, &headers)?;
    let rule: Vec<String> = widths.iter().map(|n| "-".repeat(*n)).collect();
    line(w, &rule)?;
    for row in &rows {
        line(w, row)?;
    }
    writeln!(
        w,
        "({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// The schema shared by `batches`, or `fallback` when there are none.
pub fn schema_of(batches: &[RecordBatch], fallback: SchemaRef) -> SchemaRef {
    batches.first().map(|b| b.schema()).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 22])),
                Arc::new(StringArray::from(vec![Some("x".repeat(100)), None])),
            ],
        )
        .expect("batch")
    }

    fn render(format: Format) -> String {
        let b = batch();
        let mut out = Vec::new();
        write_to(&mut out, std::slice::from_ref(&b), &b.schema(), format).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn table_aligns_and_truncates() {
        let text = render(Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("n   s"), "{text}");
        assert!(lines[2].contains('…'), "{text}");
        assert!(lines[2].chars().count() <= MAX_CELL_WIDTH + 4, "{text}");
        assert!(lines[3].starts_with("22  NULL"), "{text}");
        assert_eq!(lines[4], "(2 rows)");
    }

    #[test]
    fn csv_and_json_have_every_row() {
        let csv = render(Format::Csv);
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.starts_with("n,s\n"), "{csv}");
        let json = render(Format::Json);
        assert_eq!(json.lines().count(), 2, "{json}");
        assert!(
            json.lines().next().expect("line").starts_with("{\"n\":1"),
            "{json}"
        );
    }

    #[test]
    fn file_output_is_atomic_and_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.parquet");
        let b = batch();
        write_results(
            std::slice::from_ref(&b),
            &b.schema(),
            Format::Parquet,
            Some(&path),
        )
        .expect("write");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        let file = File::open(&path).expect("open");
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("parquet")
                .build()
                .expect("reader");
        let rows: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
        assert_eq!(rows, 2);
    }

    #[test]
    fn parquet_to_stdout_is_refused() {
        let b = batch();
        let err =
            write_results(std::slice::from_ref(&b), &b.schema(), Format::Parquet, None)
                .expect_err("refused");
        assert!(err.to_string().contains("--out"), "{err}");
    }
}
