//! Data parallelism inside one function call, sharing the machine with the engine's own
//! partitions.
//!
//! DataFusion already runs one task per partition, so a kernel that starts threads of its
//! own must not multiply them: every call borrows *helper* threads from one process-wide
//! budget of `cores − 1`. When every partition is busy the budget is empty and each call
//! runs on its own thread alone; when partitions finish early (a skewed last stage, a
//! single large batch) the calls still running pick up the idle cores. The results never
//! depend on how many helpers a call got: work is cut into items whose results are
//! independent and returned in item order.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Helper threads not lent out at the moment.
static IDLE_HELPERS: LazyLock<AtomicUsize> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    AtomicUsize::new(cores - 1)
});

/// Helper threads lent to one call; given back when dropped.
#[derive(Debug)]
pub(crate) struct Helpers {
    count: usize,
}

impl Helpers {
    /// Borrows up to `wanted` helpers (none when the budget is empty).
    pub fn borrow(wanted: usize) -> Self {
        let mut count = 0;
        if wanted > 0 {
            let _ =
                IDLE_HELPERS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| {
                    count = idle.min(wanted);
                    Some(idle - count)
                });
        }
        Self { count }
    }

    /// Threads the call may use: its own and the borrowed ones.
    pub fn threads(&self) -> usize {
        1 + self.count
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        if self.count > 0 {
            IDLE_HELPERS.fetch_add(self.count, Ordering::AcqRel);
        }
    }
}

/// `work(0..items)` on up to `threads` threads (the calling one among them), items taken
/// in turn from a shared counter; the results in item order.
///
/// # Errors
/// An item panicked (its panic message goes to standard error as usual).
pub(crate) fn map<T, F>(items: usize, threads: usize, work: F) -> Result<Vec<T>, String>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    let threads = threads.clamp(1, items.max(1));
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        loop {
            let item = next.fetch_add(1, Ordering::Relaxed);
            if item >= items {
                return Ok(done);
            }
            match std::panic::catch_unwind(AssertUnwindSafe(|| work(item))) {
                Ok(result) => done.push((item, result)),
                Err(_) => {
                    // The others stop at their next item.
                    next.store(items, Ordering::Relaxed);
                    return Err(format!("work item {item} of {items} panicked"));
                }
            }
        }
    };
    let mut done = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
        let mut done = run()?;
        for handle in handles {
            let more = handle
                .join()
                .map_err(|_| "a worker thread panicked".to_string())?;
            done.extend(more?);
        }
        Ok::<_, String>(done)
    })?;
    done.sort_unstable_by_key(|(item, _)| *item);
    Ok(done.into_iter().map(|(_, result)| result).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_whatever_the_thread_count() {
        for threads in [1, 2, 5, 40] {
            let out = map(23, threads, |i| i * i).expect("no panic");
            assert_eq!(out, (0..23).map(|i| i * i).collect::<Vec<_>>(), "{threads}");
        }
        assert!(map(0, 4, |i| i).expect("no items").is_empty());
    }

    #[test]
    fn a_panicking_item_is_an_error_not_a_crash() {
        let out = map(8, 3, |i| {
            assert_ne!(i, 5, "item five fails");
            i
        });
        assert!(out.is_err());
    }

    #[test]
    fn helpers_never_exceed_the_budget_and_come_back_when_dropped() {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let first = Helpers::borrow(usize::MAX);
        assert!(first.threads() <= cores);
        let second = Helpers::borrow(usize::MAX);
        // Other tests may hold helpers meanwhile, so only the bound is certain.
        assert!(first.threads() + second.threads() - 1 <= cores);
        drop(first);
        drop(second);
        assert_eq!(Helpers::borrow(0).threads(), 1);
    }
}
