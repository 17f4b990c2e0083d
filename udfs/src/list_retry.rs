//! Listings that survive a response cut mid-read.
//!
//! object_store retries a request that fails to send or answers with a retryable status,
//! but it reads a listing's body after its retry loop: a connection that breaks while a
//! page of a listing is read ends the listing with an error, and the query that planned
//! on it fails. [`ListRetry`] wraps a store and starts a broken listing again from the
//! last key it returned (`list_with_offset`: S3 lists keys in order, so nothing is
//! skipped or repeated), or repeats a broken delimited listing, a few times with a
//! backoff. A listing request that failed to send is not retried again (object_store
//! has used its retry budget on it). Every other call goes straight to the wrapped store.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result,
};

/// First wait before a listing is started again; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A store whose listings are started again when they break (see the module docs).
#[derive(Debug)]
pub struct ListRetry {
    inner: Arc<dyn ObjectStore>,
    retries: usize,
}

impl ListRetry {
    /// Wraps `inner`; a listing is started again at most `retries` times.
    pub fn new(inner: Arc<dyn ObjectStore>, retries: usize) -> Self {
        Self { inner, retries }
    }
}

impl fmt::Display for ListRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

/// The S3 client's words for a listing whose response broke while it was read: the body
/// failed, or it ended early and the XML does not parse. A request that failed to send
/// has already been through object_store's retries (`Error performing list request`):
/// retrying it again would multiply the retry budget of a store that is down.
const BROKEN_BODY: [&str; 2] = [
    "Error getting list response body",
    "Got invalid list response",
];

/// Whether a failed listing is worth starting again: its response broke mid-read.
fn transient(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::Generic { .. })
        && BROKEN_BODY
            .iter()
            .any(|words| e.to_string().contains(words))
}

fn backoff(attempt: usize) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << attempt.min(6))
}

/// A listing in progress: where it is and how many restarts are left.
struct Listing {
    inner: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    /// The last key returned (the offset to start again after).
    last: Option<Path>,
    stream: BoxStream<'static, Result<ObjectMeta>>,
    attempt: usize,
    retries: usize,
}

impl Listing {
    fn restart(&mut self) {
        self.stream = match &self.last {
            Some(offset) => self.inner.list_with_offset(self.prefix.as_ref(), offset),
            None => self.inner.list(self.prefix.as_ref()),
        };
    }
}

fn resumable(
    inner: Arc<dyn ObjectStore>,
    prefix: Option<&Path>,
    offset: Option<&Path>,
    retries: usize,
) -> BoxStream<'static, Result<ObjectMeta>> {
    let mut listing = Listing {
        stream: futures::stream::empty().boxed(),
        inner,
        prefix: prefix.cloned(),
        last: offset.cloned(),
        attempt: 0,
        retries,
    };
    listing.restart();
    futures::stream::unfold(Some(listing), |state| async move {
        let mut listing = state?;
        loop {
            match listing.stream.next().await {
                None => return None,
                Some(Ok(meta)) => {
                    listing.last = Some(meta.location.clone());
                    return Some((Ok(meta), Some(listing)));
                }
                Some(Err(e)) if transient(&e) && listing.attempt < listing.retries => {
                    tracing::warn!(
                        "listing {} broke after {}; starting again from there: {e}",
                        listing.prefix.as_ref().map_or("/", Path::as_ref),
                        listing.last.as_ref().map_or("its start", Path::as_ref),
                    );
                    tokio::time::sleep(backoff(listing.attempt)).await;
                    listing.attempt += 1;
                    listing.restart();
                }
                Some(Err(e)) => return Some((Err(e), None)),
            }
        }
    })
    .boxed()
}

#[async_trait]
impl ObjectStore for ListRetry {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        resumable(self.inner.clone(), prefix, None, self.retries)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        resumable(self.inner.clone(), prefix, Some(offset), self.retries)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut attempt = 0;
        loop {
            match self.inner.list_with_delimiter(prefix).await {
                Err(e) if transient(&e) && attempt < self.retries => {
                    tracing::warn!(
                        "listing {} broke; listing it again: {e}",
                        prefix.map_or("/", Path::as_ref)
                    );
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    use super::*;

    /// A store whose listings break after `after` keys, `breaks` times in all, with the
    /// error a cut body gives (object_store's `Generic`).
    #[derive(Debug)]
    struct Breaking {
        inner: InMemory,
        after: usize,
        breaks: AtomicUsize,
        listings: AtomicUsize,
    }

    impl fmt::Display for Breaking {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Breaking")
        }
    }

    fn cut() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: "Error getting list response body: error decoding response body: \
                     connection reset"
                .into(),
        }
    }

    impl Breaking {
        /// Counts a listing; whether this one breaks (while breaks are left).
        fn breaks_now(&self) -> bool {
            self.listings.fetch_add(1, Ordering::SeqCst);
            self.breaks
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }

        fn maybe_break(
            &self,
            stream: BoxStream<'static, Result<ObjectMeta>>,
        ) -> BoxStream<'static, Result<ObjectMeta>> {
            let take = self.after;
            if self.breaks_now() {
                stream
                    .take(take)
                    .chain(futures::stream::once(async { Err(cut()) }))
                    .boxed()
            } else {
                stream
            }
        }
    }

    #[async_trait]
    impl ObjectStore for Breaking {
        async fn put_opts(
            &self,
            l: &Path,
            p: PutPayload,
            o: PutOptions,
        ) -> Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
            self.inner.get_opts(l, o).await
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            // InMemory lists in key order, as S3 does.
            self.maybe_break(self.inner.list(prefix))
        }
        fn list_with_offset(
            &self,
            prefix: Option<&Path>,
            offset: &Path,
        ) -> BoxStream<'static, Result<ObjectMeta>> {
            self.maybe_break(self.inner.list_with_offset(prefix, offset))
        }
        async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
            if self.breaks_now() {
                return Err(cut());
            }
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
            self.inner.copy_opts(f, t, o).await
        }
    }

    async fn store(keys: usize, after: usize, breaks: usize) -> Arc<Breaking> {
        let inner = InMemory::new();
        for i in 0..keys {
            let key = Path::from(format!(
                "events/day=2024-01-{:02}/part-{i:04}.parquet",
                i % 28 + 1
            ));
            inner
                .put(&key, PutPayload::from(vec![0u8; 4]))
                .await
                .expect("put");
        }
        Arc::new(Breaking {
            inner,
            after,
            breaks: AtomicUsize::new(breaks),
            listings: AtomicUsize::new(0),
        })
    }

    async fn keys(store: Arc<dyn ObjectStore>) -> Result<Vec<String>> {
        store
            .list(Some(&Path::from("events")))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
    }

    #[tokio::test]
    async fn a_listing_cut_mid_read_resumes_after_its_last_key() {
        let expected = keys(store(100, usize::MAX, 0).await).await.expect("lists");
        assert_eq!(expected.len(), 100);
        let breaking = store(100, 30, 2).await;
        let wrapped: Arc<dyn ObjectStore> = Arc::new(ListRetry::new(breaking.clone(), 3));
        // Every key once, in order, although the listing broke twice.
        assert_eq!(keys(wrapped).await.expect("resumed"), expected);
        assert_eq!(breaking.listings.load(Ordering::SeqCst), 3);
        // Without the wrapper the same cut ends the listing with an error.
        let bare = store(100, 30, 1).await;
        assert!(keys(bare).await.is_err());
    }

    #[tokio::test]
    async fn a_listing_that_keeps_breaking_fails_with_the_stores_error() {
        let breaking = store(100, 10, usize::MAX).await;
        let wrapped: Arc<dyn ObjectStore> = Arc::new(ListRetry::new(breaking.clone(), 2));
        let err = keys(wrapped).await.expect_err("gives up");
        assert!(err.to_string().contains("connection reset"), "{err}");
        assert_eq!(breaking.listings.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn only_broken_bodies_are_retried_not_requests_that_used_up_their_retries() {
        assert!(transient(&cut()));
        let sent = object_store::Error::Generic {
            store: "S3",
            source: "Error performing list request: Error performing GET http://s3/lake \
                     after 3 retries: connection refused"
                .into(),
        };
        assert!(!transient(&sent));
        let missing = object_store::Error::NotFound {
            path: "events".into(),
            source: "Got invalid list response".into(),
        };
        assert!(!transient(&missing));
    }

    #[tokio::test]
    async fn a_delimited_listing_is_repeated_when_it_breaks() {
        let breaking = store(10, 0, 1).await;
        let wrapped = ListRetry::new(breaking.clone(), 3);
        let listed = wrapped
            .list_with_delimiter(Some(&Path::from("events")))
            .await
            .expect("repeated");
        assert_eq!(listed.common_prefixes.len(), 10);
        assert_eq!(breaking.listings.load(Ordering::SeqCst), 2);
        // A missing prefix is not a broken listing: no retry, an empty answer.
        let empty = wrapped
            .list_with_delimiter(Some(&Path::from("nothing")))
            .await;
        assert!(empty.expect("lists").objects.is_empty());
    }
}
