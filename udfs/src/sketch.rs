//! The bottom-k sketch every sampling model uses for its partition-invariant training
//! pool (isolation forest, autoencoder, sequence model).
//!
//! Each distinct row gets a key from a seeded hash of its contents; the pool keeps the
//! `cap` distinct rows with the smallest (key, row) and the exact multiplicity of each.
//! Because a row's key depends only on the row and the seed, the rows kept after merging
//! pools are the bottom-k of the union whatever the partitioning and merge order, and a
//! kept row's multiplicity is exact: it was kept by every pool that saw it.

use std::collections::BTreeMap;

/// A pool of distinct rows, keyed by (hash, row), with multiplicities.
pub type Pool<T> = BTreeMap<(u64, Box<[T]>), u64>;

/// What [`insert`] did to the pool.
#[derive(Debug, PartialEq, Eq)]
pub struct Inserted<T> {
    /// The row was not in the pool before and is in it now.
    pub new: bool,
    /// The row pushed out to stay within the cap, if any.
    pub evicted: Option<Box<[T]>>,
}

/// Adds `count` occurrences of `row` (with hash `key`) to `pool`, keeping at most `cap`
/// distinct rows. A row that would be evicted at once is rejected before anything is
/// allocated, which is the common case once the pool is full.
pub fn insert<T: Ord + Clone>(
    pool: &mut Pool<T>,
    key: u64,
    row: &[T],
    count: u64,
    cap: usize,
) -> Inserted<T> {
    if pool.len() >= cap
        && let Some(((max_key, max_row), _)) = pool.last_key_value()
        && (key, row) > (*max_key, &**max_row)
    {
        return Inserted {
            new: false,
            evicted: None,
        };
    }
    let entry = pool.entry((key, row.into())).or_insert(0);
    let new = *entry == 0;
    *entry = entry.saturating_add(count);
    let evicted = if pool.len() > cap {
        pool.pop_last().map(|((_, row), _)| row)
    } else {
        None
    };
    Inserted { new, evicted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_smallest_keys_with_exact_counts_in_any_order() {
        let rows: Vec<(u64, [i64; 1])> =
            (0..20).map(|i| ((i * 7919) % 101, [i as i64])).collect();
        let mut forward = Pool::new();
        for (k, r) in &rows {
            insert(&mut forward, *k, r, 1, 5);
            insert(&mut forward, *k, r, 2, 5);
        }
        let mut backward = Pool::new();
        for (k, r) in rows.iter().rev() {
            insert(&mut backward, *k, r, 3, 5);
        }
        assert_eq!(forward, backward);
        let mut keys: Vec<u64> = rows.iter().map(|(k, _)| *k).collect();
        keys.sort();
        let kept: Vec<u64> = forward.keys().map(|(k, _)| *k).collect();
        assert_eq!(kept, keys[..5]);
        assert!(forward.values().all(|&c| c == 3));
    }

    #[test]
    fn reports_new_rows_and_evictions() {
        let mut pool = Pool::new();
        assert_eq!(
            insert(&mut pool, 5, &[1u64], 1, 1),
            Inserted {
                new: true,
                evicted: None
            }
        );
        assert_eq!(
            insert(&mut pool, 5, &[1u64], 1, 1),
            Inserted {
                new: false,
                evicted: None
            }
        );
        let smaller = insert(&mut pool, 2, &[9u64], 1, 1);
        assert!(smaller.new);
        assert_eq!(smaller.evicted.as_deref(), Some(&[1u64][..]));
        let rejected = insert(&mut pool, 7, &[3u64], 1, 1);
        assert_eq!(
            rejected,
            Inserted {
                new: false,
                evicted: None
            }
        );
        assert_eq!(pool.len(), 1);
    }
}
