//! What an evaluation measures per hunt (the confusion counts, flag metrics, ranks of
//! the true entities, precision at k, average precision) and the table that shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// The confusion counts and rates of one hunt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Run evaluated.
    pub run_id: String,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives (missed or never scored).
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
    /// (TP + TN) / all.
    pub accuracy: f64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// FP / (FP + TN).
    pub fpr: f64,
    /// FN / (FN + TP).
    pub fnr: f64,
    /// FP / (FP + TP): the original's "FPR".
    pub fdr: f64,
    /// Hard-negative entities that were flagged.
    pub hard_negatives_flagged: u64,
    /// Hard-negative entities in the ground truth for this hunt.
    pub hard_negatives: u64,
    /// Entities the run scored (and ranked).
    pub entities: u64,
    /// Where every true entity ranked by the hunt's score.
    pub ranks: Vec<TrueRank>,
    /// The lowest rank of a true entity (`None` without any, or when one was never
    /// scored: see `unscored`).
    pub worst_rank: Option<u64>,
    /// True entities the run never scored.
    pub unscored: u64,
    /// Precision among the k best-ranked entities, k = the number of true entities.
    pub precision_at_k: Option<f64>,
    /// Precision among the 10 best-ranked entities.
    pub precision_at_10: Option<f64>,
    /// Average precision over the ranking (a true entity never scored adds 0).
    pub average_precision: Option<f64>,
}

/// Where one true entity ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrueRank {
    /// Its key at the hunt's unit (`processguid|ip|port`, `user|week`, ...).
    pub entity: String,
    /// 1-based rank by score among the run's entities, ties counted against it; `None`
    /// when the run never scored it.
    pub rank: Option<u64>,
    /// Its score (the highest of its rows).
    pub score: Option<f64>,
    /// Whether the run flagged it.
    pub flagged: bool,
}

pub(super) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Metrics {
    /// Rates from counts.
    pub fn from_counts(run_id: &str, tp: u64, fp: u64, fn_: u64, tn: u64) -> Self {
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            run_id: run_id.to_string(),
            tp,
            fp,
            fn_,
            tn,
            accuracy: ratio(tp + tn, tp + fp + fn_ + tn),
            precision,
            recall,
            f1,
            fpr: ratio(fp, fp + tn),
            fnr: ratio(fn_, fn_ + tp),
            fdr: ratio(fp, fp + tp),
            hard_negatives_flagged: 0,
            hard_negatives: 0,
            entities: 0,
            ranks: Vec::new(),
            worst_rank: None,
            unscored: 0,
            precision_at_k: None,
            precision_at_10: None,
            average_precision: None,
        }
    }

    /// Fills the ranking metrics from every ranked entity (score, flagged, true),
    /// best first, and the true entities the run never scored.
    pub(super) fn rank(
        &mut self,
        ranked: &[(String, f64, bool, bool)],
        unscored: Vec<String>,
    ) {
        self.entities = ranked.len() as u64;
        let positives = ranked.iter().filter(|r| r.3).count() + unscored.len();
        let mut found = 0usize;
        let mut precision_sum = 0.0;
        for (i, (key, score, flagged, positive)) in ranked.iter().enumerate() {
            if !positive {
                continue;
            }
            found += 1;
            precision_sum += found as f64 / (i + 1) as f64;
            self.ranks.push(TrueRank {
                entity: key.clone(),
                rank: Some(i as u64 + 1),
                score: Some(*score),
                flagged: *flagged,
            });
        }
        self.unscored = unscored.len() as u64;
        self.ranks
            .extend(unscored.into_iter().map(|entity| TrueRank {
                entity,
                rank: None,
                score: None,
                flagged: false,
            }));
        if positives == 0 {
            return;
        }
        let precision_at =
            |k: usize| ranked.iter().take(k).filter(|r| r.3).count() as f64 / k as f64;
        self.precision_at_k = Some(precision_at(positives));
        self.precision_at_10 = Some(precision_at(10));
        self.average_precision = Some(precision_sum / positives as f64);
        self.worst_rank = if self.unscored == 0 {
            self.ranks.iter().filter_map(|r| r.rank).max()
        } else {
            None
        };
    }
}

/// The means over the hunts that had true entities to find: what one number per metric
/// says about a set of hunts on one data set.
pub(super) fn mean(results: &BTreeMap<String, Metrics>) -> serde_json::Value {
    let with_truth: Vec<&Metrics> =
        results.values().filter(|m| m.tp + m.fn_ > 0).collect();
    let avg = |f: &dyn Fn(&Metrics) -> Option<f64>| {
        let values: Vec<f64> = with_truth.iter().filter_map(|m| f(m)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    serde_json::json!({
        "hunts": with_truth.len(),
        "precision": avg(&|m| Some(m.precision)),
        "recall": avg(&|m| Some(m.recall)),
        "f1": avg(&|m| Some(m.f1)),
        "fdr": avg(&|m| Some(m.fdr)),
        "precision_at_k": avg(&|m| m.precision_at_k),
        "precision_at_10": avg(&|m| m.precision_at_10),
        "average_precision": avg(&|m| m.average_precision),
    })
}

/// A number with three decimals, or `-` where it is undefined.
pub(super) fn opt3(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// The worst rank of a true entity: a number, `unscored` when one was never scored,
/// `-` without true entities.
pub(super) fn worst(m: &Metrics) -> String {
    match (m.worst_rank, m.unscored) {
        (_, n) if n > 0 => format!("{n} unscored"),
        (Some(r), _) => format!("{r} of {}", m.entities),
        (None, _) => "-".to_string(),
    }
}

pub(super) fn table(results: &BTreeMap<String, Metrics>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>5} {:>5} {:>5} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}  {:<16} hard-neg flagged",
        "hunt",
        "tp",
        "fp",
        "fn",
        "tn",
        "prec",
        "recall",
        "f1",
        "fpr",
        "fdr",
        "p@k",
        "p@10",
        "AP",
        "acc",
        "worst true rank",
    );
    for (hunt, m) in results {
        let _ = writeln!(
            out,
            "{hunt:<22} {:>5} {:>5} {:>5} {:>7} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6} {:>6} {:>6} {:>6.3}  {:<16} {}/{}",
            m.tp,
            m.fp,
            m.fn_,
            m.tn,
            m.precision,
            m.recall,
            m.f1,
            m.fpr,
            m.fdr,
            opt3(m.precision_at_k),
            opt3(m.precision_at_10),
            opt3(m.average_precision),
            m.accuracy,
            worst(m),
            m.hard_negatives_flagged,
            m.hard_negatives
        );
    }
    let mean = mean(results);
    let get = |k: &str| mean[k].as_f64();
    let _ = writeln!(
        out,
        "mean over {} hunt(s) with true entities: precision {}, recall {}, F1 {}, FDR {}, p@k {}, p@10 {}, AP {}",
        mean["hunts"],
        opt3(get("precision")),
        opt3(get("recall")),
        opt3(get("f1")),
        opt3(get("fdr")),
        opt3(get("precision_at_k")),
        opt3(get("precision_at_10")),
        opt3(get("average_precision")),
    );
    out
}
