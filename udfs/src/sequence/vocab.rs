//! How event ids become tokens, identically in training and scoring.
//!
//! Tokens `0`, `1` and `2` are reserved: padding (never a target, masked out of the
//! loss), the start token fed before the first event (so the first event is predicted
//! too, and a one-event sequence has a score), and "unknown". The remaining
//! `vocab_size - 3` tokens go to the event ids seen most often in the training data
//! (counted over every event of every row, ties to the smaller id), numbered in
//! ascending id order from token 3. Any other id, in training or in scoring, is the
//! unknown token: an id the model never saw as frequent is scored as "unknown", which
//! the model has learned to be rare. The id list is stored in the model.

use std::cmp::Reverse;

/// Padding token: fills batches past a sequence's end.
pub const PAD: u32 = 0;
/// Start token: the input before the first event.
pub const BOS: u32 = 1;
/// Unknown token: every id outside the vocabulary.
pub const UNK: u32 = 2;
/// Tokens reserved before the first event id's.
pub const RESERVED_TOKENS: usize = 3;

/// The event ids that have their own token, in ascending order; id `ids[i]` is token
/// `3 + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    ids: Vec<i64>,
}

impl Vocabulary {
    /// The vocabulary of at most `vocab_size - 3` ids: the most frequent ids of
    /// `counts` (pairs of id and count, any order), ties broken by the smaller id.
    pub fn from_counts(
        counts: impl IntoIterator<Item = (i64, u64)>,
        vocab_size: usize,
    ) -> Self {
        let slots = vocab_size.saturating_sub(RESERVED_TOKENS);
        let mut all: Vec<(i64, u64)> =
            counts.into_iter().filter(|&(_, c)| c > 0).collect();
        all.sort_unstable_by_key(|&(id, c)| (Reverse(c), id));
        all.truncate(slots);
        let mut ids: Vec<i64> = all.into_iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids.dedup();
        Self { ids }
    }

    /// A vocabulary from its ids, which must be strictly ascending.
    ///
    /// # Errors
    ///
    /// A message when the ids are not strictly ascending or do not fit `vocab_size`.
    pub fn from_ids(ids: Vec<i64>, vocab_size: usize) -> Result<Self, String> {
        if ids.len() > vocab_size.saturating_sub(RESERVED_TOKENS) {
            return Err(format!(
                "vocabulary has {} ids, more than vocab_size - 3 ({})",
                ids.len(),
                vocab_size.saturating_sub(RESERVED_TOKENS)
            ));
        }
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err("vocabulary ids are not strictly ascending".into());
        }
        Ok(Self { ids })
    }

    /// The ids with their own token, ascending.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The token of event id `id`: its own, or [`UNK`].
    pub fn token(&self, id: i64) -> u32 {
        match self.ids.binary_search(&id) {
            Ok(i) => (i + RESERVED_TOKENS) as u32,
            Err(_) => UNK,
        }
    }

    /// The tokens of the first `max_len` ids of a sequence.
    pub fn tokenize(&self, ids: &[i64], max_len: usize) -> Vec<u32> {
        ids.iter().take(max_len).map(|&id| self.token(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_frequent_ids_get_tokens_in_id_order() {
        let v = Vocabulary::from_counts([(22, 5), (1, 9), (3, 9), (7, 1), (11, 5)], 6);
        // Three slots: 1 and 3 (9 each), then 11 beats 22 on the tie.
        assert_eq!(v.ids(), &[1, 3, 11]);
        assert_eq!(v.token(1), 3);
        assert_eq!(v.token(3), 4);
        assert_eq!(v.token(11), 5);
        assert_eq!(v.token(22), UNK);
        assert_eq!(v.token(-5), UNK);
        assert_eq!(v.tokenize(&[1, 22, 3, 11], 3), vec![3, UNK, 4]);
    }

    #[test]
    fn from_ids_checks_order_and_size() {
        assert!(Vocabulary::from_ids(vec![1, 3], 5).is_ok());
        assert!(Vocabulary::from_ids(vec![3, 1], 6).is_err());
        assert!(Vocabulary::from_ids(vec![1, 1], 6).is_err());
        assert!(Vocabulary::from_ids(vec![1, 2, 3], 5).is_err());
    }
}
