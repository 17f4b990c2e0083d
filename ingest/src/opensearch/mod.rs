//! `huntsman ingest opensearch`: pulls winlogbeat documents out of OpenSearch into the
//! lake, as a full dump the first time and incrementally after that.
//!
//! The pull follows the OpenSearch 2.x REST API (point in time needs 2.4; written against
//! 2.11+): a point in time (PIT) is opened on the index pattern, pages of hits sorted by
//! the checkpoint field, `_index` and `_id` are read with `search_after`, and the PIT is
//! deleted at the end. Each hit's `_source` is a winlogbeat 7/8 document, mapped by the
//! same parser as `ingest files`; a document that does not map is a rejection located by
//! its `_index` and `_id`, and the pull goes on.
//!
//! Resumption never relies on the `_index`/`_id` tiebreaker, which only pages within one
//! PIT (resuming after it would skip documents indexed later at the same time whose ids
//! sort lower): what is kept is the high-water mark (the checkpoint field's last value)
//! and the documents seen at exactly that mark. A new PIT (the old one expired, or the
//! next run) asks for `field >= mark` and skips those documents. Events are written in
//! transactions of `commit_every` documents: parts go to temporary files, then a journal
//! names them and the new checkpoint, then the parts are renamed and the checkpoint
//! written (see [`checkpoint`]). A crash at any point leaves the lake and the checkpoint
//! consistent.

pub mod checkpoint;
mod cli;
mod http;
mod options;
mod page;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};

pub use checkpoint::{Checkpoint, SourceKey};
pub use cli::{IngestOpenSearchArgs, parse_duration, parse_since, run_opensearch};
pub use http::{Auth, RetryPolicy, Secret};
use options::MAX_PIT_LOSSES;
pub use options::{
    CrashPoint, DEFAULT_COMMIT_EVERY, DEFAULT_PAGE_SIZE, OpenSearchError,
    OpenSearchOptions, OpenSearchReport,
};

use super::parse::Parsed;
use super::record::{FieldIndex, into_row};
use super::report::{Counter, FileReport, IngestReport, Location, RejectKind, Rejection};
use super::sink::LakeWriter;
use super::{DEFAULT_BATCH_SIZE, new_run_id};
use checkpoint::Store;
use http::{Attempts, Http, Reply};
use page::{Page, parse_page};

/// Pulls the documents of `opts.index` newer than the lake's checkpoint into `out`.
///
/// # Errors
/// When the options are invalid, the server keeps failing or refuses, or the lake or the
/// checkpoint cannot be written. Transactions committed before the error stay (with
/// their checkpoint); the one in progress leaves nothing.
pub async fn ingest_opensearch(
    opts: &OpenSearchOptions,
    out: &Path,
) -> Result<OpenSearchReport, OpenSearchError> {
    opts.validate()?;
    let start = Instant::now();
    let http = Http::new(opts)?;
    let (store, recovered) = Store::open(out, opts.source_key())?;
    if let Some(r) = &recovered {
        tracing::warn!("{r}");
    }
    let cp = store.load()?;
    let run_id = new_run_id();
    store.begin_run(&run_id)?;
    let source = format!("{}/{}", opts.url.trim_end_matches('/'), opts.index);
    let mut pull = Pull {
        opts,
        http: &http,
        idx: FieldIndex::get(),
        out,
        run_id: run_id.clone(),
        store: &store,
        mark: cp.mark.clone(),
        seen: cp.seen(),
        documents: cp.documents,
        report: FileReport::new(PathBuf::from(&source)),
        counter: Counter::default(),
        lake: None,
        next_part: 0,
        txn_docs: 0,
        pit: None,
        pit_filters: Vec::new(),
        search_after: None,
        prefetch: None,
        parts: Vec::new(),
        stats: OpenSearchReport::default(),
    };
    let result = pull.run().await;
    if let Some((_, next)) = pull.prefetch.take() {
        next.abort();
    }
    if let Some(pit) = pull.pit.take() {
        pull.close_pit(pit).await;
    }
    let crashed = matches!(result, Err(OpenSearchError::Crash(_)));
    if !crashed {
        // A clean end or a clean failure: the transaction in progress (if any) was
        // dropped with its temporary files.
        pull.lake = None;
        store.end_run()?;
    }
    result?;
    let Pull {
        report,
        counter,
        parts,
        mut stats,
        mark,
        ..
    } = pull;
    let mut report = report;
    report.counts = counter.into_counts();
    stats.ingest = IngestReport {
        run_id,
        out: out.to_path_buf(),
        files: vec![report],
        parts,
        elapsed: start.elapsed(),
    };
    stats.checkpoint = store.checkpoint_path().to_path_buf();
    stats.mark = mark.as_ref().and_then(mark_time);
    stats.recovered = recovered;
    Ok(stats)
}

/// A pull in progress.
struct Pull<'a> {
    opts: &'a OpenSearchOptions,
    http: &'a Http,
    idx: &'static FieldIndex,
    out: &'a Path,
    run_id: String,
    store: &'a Store,
    /// High-water mark of what was read (committed or in the open transaction).
    mark: Option<Value>,
    /// `(_index, _id)` read at exactly the mark.
    seen: HashSet<(String, String)>,
    documents: u64,
    report: FileReport,
    counter: Counter,
    /// The open transaction's writer.
    lake: Option<LakeWriter>,
    next_part: u64,
    txn_docs: u64,
    pit: Option<String>,
    /// The query's filters, fixed for the life of a PIT.
    pit_filters: Vec<Value>,
    search_after: Option<Vec<Value>>,
    /// The next page's request, sent while the current page is written: its body and
    /// its reply.
    prefetch: Option<(Vec<u8>, tokio::task::JoinHandle<Reply>)>,
    parts: Vec<PathBuf>,
    stats: OpenSearchReport,
}

/// What one `_search` gave.
enum Fetched {
    /// This many hits were read.
    Hits(usize),
    /// The PIT is gone.
    PitGone,
}

impl Pull<'_> {
    async fn run(&mut self) -> Result<(), OpenSearchError> {
        let mut pit_losses = 0;
        let mut first_loss = Instant::now();
        loop {
            if self.pit.is_none() {
                self.open_pit().await?;
            }
            match self.fetch().await? {
                Fetched::PitGone => {
                    if pit_losses == 0 {
                        first_loss = Instant::now();
                    }
                    pit_losses += 1;
                    tracing::warn!(
                        "the point in time expired or was lost; reopening from the \
                         high-water mark"
                    );
                    self.pit = None;
                    if pit_losses > MAX_PIT_LOSSES {
                        return Err(OpenSearchError::GaveUp {
                            what: self.http.describe(&Method::POST, "/_search"),
                            index: self.opts.index.clone(),
                            attempts: pit_losses,
                            secs: first_loss.elapsed().as_secs_f64(),
                            last: format!(
                                "the point in time vanished {pit_losses} times in a row \
                                 (is keep_alive {} too short?)",
                                self.opts.keep_alive
                            ),
                        });
                    }
                }
                Fetched::Hits(0) => break,
                Fetched::Hits(_) => {
                    pit_losses = 0;
                    if self.txn_docs >= self.opts.commit_every {
                        self.commit()?;
                    }
                }
            }
        }
        if self.txn_docs > 0 {
            self.commit()?;
        }
        Ok(())
    }

    fn base_filters(&self) -> Vec<Value> {
        let f = &self.opts.checkpoint_field;
        let mut filters = vec![json!({"exists": {"field": f}})];
        if let Some(since) = self.opts.since {
            filters.push(json!({"range": {f: {"gte": since, "format": "epoch_millis"}}}));
        }
        if let Some(mark) = &self.mark {
            filters.push(json!({"range": {f: {"gte": mark, "format": "epoch_millis"}}}));
        }
        if let Some(q) = &self.opts.query {
            filters.push(q.clone());
        }
        filters
    }

    async fn open_pit(&mut self) -> Result<(), OpenSearchError> {
        let opts = self.opts;
        let path = format!(
            "/{}/_search/point_in_time?keep_alive={}",
            opts.index, opts.keep_alive
        );
        let what = self.http.describe(&Method::POST, &path);
        let mut attempts = Attempts::new(&opts.retry, what.clone());
        let result = loop {
            self.stats.requests += 1;
            match self.http.send(Method::POST, &path, Vec::new()).await {
                Reply::Ok(body) => {
                    let v: Result<Value, _> = serde_json::from_slice(&body);
                    match v {
                        Ok(v) => {
                            let failed = v
                                .pointer("/_shards/failed")
                                .and_then(Value::as_u64)
                                .unwrap_or(0);
                            let id = v.get("pit_id").and_then(Value::as_str);
                            match id {
                                Some(id) if failed == 0 => break Ok(id.to_owned()),
                                Some(id) => {
                                    // A PIT missing shards would miss their documents.
                                    let id = id.to_owned();
                                    self.close_pit(id).await;
                                    attempts
                                        .failed(
                                            format!(
                                                "the point in time misses {failed} shards"
                                            ),
                                            None,
                                            &opts.index,
                                        )
                                        .await?;
                                }
                                None => {
                                    attempts
                                        .failed(
                                            "no pit_id in the response".into(),
                                            None,
                                            &opts.index,
                                        )
                                        .await?
                                }
                            }
                        }
                        Err(e) => {
                            attempts
                                .failed(
                                    format!("unreadable response: {e}"),
                                    None,
                                    &opts.index,
                                )
                                .await?
                        }
                    }
                }
                Reply::PitMissing => {
                    attempts
                        .failed("search context missing".into(), None, &opts.index)
                        .await?
                }
                Reply::Retry(r, after) => attempts.failed(r, after, &opts.index).await?,
                Reply::Fatal(status, reason) => {
                    break Err(OpenSearchError::Refused {
                        what,
                        index: opts.index.clone(),
                        status,
                        reason,
                    });
                }
            }
        };
        self.stats.retries += attempts.retries;
        let id = result?;
        self.stats.pits_opened += 1;
        self.pit = Some(id);
        self.search_after = None;
        self.pit_filters = self.base_filters();
        Ok(())
    }

    /// Deletes a PIT; best effort (it expires by itself anyway).
    async fn close_pit(&mut self, id: String) {
        let body = json!({"pit_id": [id]}).to_string().into_bytes();
        self.stats.requests += 1;
        match self
            .http
            .send(Method::DELETE, "/_search/point_in_time", body)
            .await
        {
            Reply::Ok(_) | Reply::PitMissing => {}
            Reply::Retry(r, _) | Reply::Fatal(_, r) => {
                tracing::warn!("could not delete the point in time (it will expire): {r}")
            }
        }
    }

    fn search_body(&self) -> Vec<u8> {
        self.body_with(self.pit.as_deref(), self.search_after.as_deref())
    }

    fn body_with(&self, pit: Option<&str>, after: Option<&[Value]>) -> Vec<u8> {
        let f = &self.opts.checkpoint_field;
        let mut body = json!({
            "size": self.opts.page_size,
            "pit": {"id": pit, "keep_alive": self.opts.keep_alive},
            "sort": [
                {f: {"order": "asc", "numeric_type": "date", "unmapped_type": "date"}},
                {"_index": "asc"},
                {"_id": "asc"},
            ],
            "query": {"bool": {"filter": self.pit_filters}},
            "track_total_hits": false,
        });
        if let Some(after) = after {
            body["search_after"] = Value::Array(after.to_vec());
        }
        body.to_string().into_bytes()
    }

    async fn fetch(&mut self) -> Result<Fetched, OpenSearchError> {
        let opts = self.opts;
        let body = self.search_body();
        let what = self.http.describe(&Method::POST, "/_search");
        let mut attempts = Attempts::new(&opts.retry, what.clone());
        let mut prefetched = match self.prefetch.take() {
            Some((b, reply)) if b == body => Some(reply),
            Some((_, reply)) => {
                reply.abort();
                None
            }
            None => None,
        };
        let result = loop {
            self.stats.requests += 1;
            let reply = match prefetched.take() {
                Some(reply) => reply.await.unwrap_or_else(|e| {
                    Reply::Retry(format!("the request task failed: {e}"), None)
                }),
                None => self.http.send(Method::POST, "/_search", body.clone()).await,
            };
            match reply {
                Reply::Ok(bytes) => {
                    let reason = match parse_page(&bytes, self.idx) {
                        Err(e) => format!("unreadable response (truncated?): {e}"),
                        Ok(page) if page.shards.context_missing => {
                            break Ok(Fetched::PitGone);
                        }
                        Ok(page) if page.shards.failed > 0 => format!(
                            "{} of {} shards failed: {}",
                            page.shards.failed,
                            page.shards.total,
                            page.shards
                                .first_failure
                                .as_deref()
                                .unwrap_or("no reason given")
                        ),
                        Ok(page) if page.timed_out => "the search timed out".into(),
                        Ok(page) => {
                            self.prefetch_after(&page);
                            break self.consume(page).map(Fetched::Hits);
                        }
                    };
                    attempts.failed(reason, None, &opts.index).await?;
                }
                Reply::PitMissing => break Ok(Fetched::PitGone),
                Reply::Retry(r, after) => attempts.failed(r, after, &opts.index).await?,
                Reply::Fatal(status, reason) => {
                    break Err(OpenSearchError::Refused {
                        what,
                        index: opts.index.clone(),
                        status,
                        reason,
                    });
                }
            }
        };
        self.stats.retries += attempts.retries;
        result
    }

    /// Sends the request for the page after `page` (unless it is empty, the end), so that
    /// the server works while this page is mapped and written.
    fn prefetch_after(&mut self, page: &Page<'_>) {
        let Some(last) = page.hits.last() else {
            return;
        };
        let pit = page.pit_id.as_deref().or(self.pit.as_deref());
        let body = self.body_with(pit, Some(&last.sort));
        let http = self.http.clone();
        let sent = body.clone();
        let reply =
            tokio::spawn(async move { http.send(Method::POST, "/_search", sent).await });
        self.prefetch = Some((body, reply));
    }

    /// Maps and writes a page's hits; returns how many hits it had.
    fn consume(&mut self, page: Page<'_>) -> Result<usize, OpenSearchError> {
        let n = page.hits.len();
        if let Some(p) = page.pit_id {
            self.pit = Some(p);
        }
        let mut last_sort = None;
        for hit in page.hits {
            let key = hit.sort.first().cloned().unwrap_or(Value::Null);
            if !key.is_number() {
                return Err(OpenSearchError::Config(format!(
                    "document {}/{} sorts by {key} on {}: the checkpoint field must be a \
                     date field",
                    hit.index, hit.id, self.opts.checkpoint_field
                )));
            }
            let ident = (hit.index, hit.id);
            let at_mark = self.mark.as_ref() == Some(&key);
            if at_mark && self.seen.contains(&ident) {
                self.stats.skipped_seen += 1;
                last_sort = Some(hit.sort);
                continue;
            }
            let row = match hit.source {
                None => Err(Rejection::new(
                    RejectKind::MissingSource,
                    "the hit has no _source (is _source disabled in the mapping?)",
                )),
                Some(Parsed::Object(d)) => into_row(*d, self.idx),
                Some(Parsed::NotObject(what)) => Err(Rejection::new(
                    RejectKind::NotObject,
                    format!("_source is {what}"),
                )),
            };
            match row {
                Ok(row) => {
                    if self.lake.is_none() {
                        let w =
                            LakeWriter::new(self.out, &self.run_id, DEFAULT_BATCH_SIZE)?
                                .first_part(self.next_part);
                        self.lake = Some(w);
                    }
                    if let Some(lake) = self.lake.as_mut() {
                        lake.push(&row, self.idx)?;
                    }
                    self.report.events += 1;
                    *self.report.layouts.entry(row.layout).or_default() += 1;
                    self.counter.add(&row.channel, row.event_id);
                }
                Err(why) => {
                    let loc = Location::Document {
                        index: ident.0.clone(),
                        id: ident.1.clone(),
                    };
                    self.report.reject(loc, why);
                }
            }
            if !at_mark {
                self.mark = Some(key);
                self.seen.clear();
            }
            self.seen.insert(ident);
            self.documents += 1;
            self.txn_docs += 1;
            last_sort = Some(hit.sort);
        }
        if let Some(s) = last_sort {
            self.search_after = Some(s);
        }
        Ok(n)
    }

    /// Commits the open transaction: parts finished, journal, renames, checkpoint.
    fn commit(&mut self) -> Result<(), OpenSearchError> {
        let pending = match self.lake.take() {
            Some(lake) => {
                self.next_part = lake.next_part();
                lake.finish()?
            }
            None => Vec::new(),
        };
        let mut at_mark: Vec<(String, String)> = self.seen.iter().cloned().collect();
        at_mark.sort();
        let cp = Checkpoint {
            version: 1,
            source: Some(self.opts.source_key()),
            mark_time: self.mark.as_ref().and_then(mark_time),
            mark: self.mark.clone(),
            at_mark,
            documents: self.documents,
        };
        let crash = self.opts.crash;
        if crash == Some(CrashPoint::BeforeJournal) {
            return Err(OpenSearchError::Crash(CrashPoint::BeforeJournal));
        }
        if let Err(e) = self.store.write_journal(&pending, &cp) {
            // No journal names them: they would never be renamed.
            for (tmp, _) in &pending {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
        }
        match crash {
            Some(CrashPoint::AfterJournal) => {
                return Err(OpenSearchError::Crash(CrashPoint::AfterJournal));
            }
            Some(CrashPoint::AfterRename) => {
                self.store.rename_parts_only()?;
                return Err(OpenSearchError::Crash(CrashPoint::AfterRename));
            }
            _ => {}
        }
        let parts = self.store.apply_journal()?;
        self.parts.extend(parts);
        self.stats.transactions += 1;
        self.txn_docs = 0;
        Ok(())
    }
}

/// An epoch-milliseconds mark as RFC 3339 UTC.
fn mark_time(mark: &Value) -> Option<String> {
    let ms = mark.as_i64()?;
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (y, m, d) = super::time::civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    ))
}

/// Reads one `_search` response as a pull does: the envelope, each hit's sort key and
/// mark time, each `_source` mapped to a row. Returns the rows mapped. The fuzz target's
/// entry (see `crate::fuzzing`).
#[doc(hidden)]
pub fn read_response(body: &[u8]) -> usize {
    let idx = FieldIndex::get();
    let Ok(page) = parse_page(body, idx) else {
        return 0;
    };
    let mut rows = 0;
    for hit in page.hits {
        let _ = hit.sort.first().and_then(mark_time);
        if let Some(Parsed::Object(d)) = hit.source
            && into_row(*d, idx).is_ok()
        {
            rows += 1;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_read_as_utc() {
        assert_eq!(
            mark_time(&json!(1_704_164_645_500_i64)).as_deref(),
            Some("2024-01-02T03:04:05.500Z")
        );
        assert_eq!(mark_time(&json!("x")), None);
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let opts = OpenSearchOptions::new("https://bob:s3cret@h:9200", "winlogbeat-*");
        let err = opts.validate().expect_err("refused").to_string();
        assert!(!err.contains("s3cret"), "{err}");
        for (url, index) in [("h:9200", "w"), ("http://h", ""), ("http://h", "a/b")] {
            assert!(OpenSearchOptions::new(url, index).validate().is_err());
        }
        assert!(
            OpenSearchOptions::new("http://h:9200/", "winlogbeat-*,x")
                .validate()
                .is_ok()
        );
    }
}
