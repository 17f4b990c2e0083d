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

/// A pool of helper threads to lend: the process-wide one is [`Helpers::borrow`]'s.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Helper threads not lent out at the moment.
    idle: AtomicUsize,
}

impl Budget {
    /// A pool of `helpers` threads.
    pub const fn new(helpers: usize) -> Self {
        Self {
            idle: AtomicUsize::new(helpers),
        }
    }

    /// Borrows up to `wanted` helpers (none when the pool is empty).
    pub fn borrow(&self, wanted: usize) -> Helpers<'_> {
        let mut count = 0;
        if wanted > 0 {
            let _ = self
                .idle
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| {
                    count = idle.min(wanted);
                    Some(idle - count)
                });
        }
        Helpers {
            budget: self,
            count,
        }
    }
}

/// This process's pool: `cores − 1` helpers.
static MACHINE: LazyLock<Budget> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    Budget::new(cores - 1)
});

/// Helper threads lent to one call; given back when dropped.
#[derive(Debug)]
pub(crate) struct Helpers<'a> {
    budget: &'a Budget,
    count: usize,
}

impl Helpers<'static> {
    /// Borrows up to `wanted` helpers from this process's pool.
    pub fn borrow(wanted: usize) -> Self {
        MACHINE.borrow(wanted)
    }
}

impl Helpers<'_> {
    /// Threads the call may use: its own and the borrowed ones.
    pub fn threads(&self) -> usize {
        1 + self.count
    }
}

impl Drop for Helpers<'_> {
    fn drop(&mut self) {
        if self.count > 0 {
            self.budget.idle.fetch_add(self.count, Ordering::AcqRel);
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
        let budget = Budget::new(3);
        let first = budget.borrow(2);
        assert_eq!(first.threads(), 3);
        let second = budget.borrow(usize::MAX);
        assert_eq!(second.threads(), 2, "only one helper was left");
        assert_eq!(budget.borrow(5).threads(), 1, "an empty pool lends nothing");
        drop(first);
        drop(second);
        assert_eq!(
            budget.borrow(usize::MAX).threads(),
            4,
            "all three came back"
        );
        // The process's pool never lends more than the other cores.
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert!(Helpers::borrow(usize::MAX).threads() <= cores);
    }
}
