//! Compares the k-means and isolation forest models with scikit-learn on fixed data
//! sets, and checks that training on partitions merged in any order matches training
//! in one pass.
//!
//! The fixtures and the reference values come from `tests/fixtures/make_reference.py`;
//! rerun it (`python3 udfs/tests/fixtures/make_reference.py`) to regenerate them.

use huntsman_udfs::iforest::{
    IsolationForestModel, IsolationForestParams, IsolationForestPartial,
    IsolationForestValidParams,
};
use huntsman_udfs::kmeans::{
    KMeansModel, KMeansParams, KMeansPartial, KMeansValidParams,
};
use huntsman_udfs::matrix::{FeatureMatrix, SeededRng};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Reads a fixture CSV with a header line: all columns as f64.
fn read_csv(name: &str) -> Vec<Vec<f64>> {
    let path = format!("{FIXTURES}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            line.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .unwrap_or_else(|e| panic!("{path} line {}: {e}", i + 2))
                })
                .collect()
        })
        .collect()
}

/// Reads `key` from `reference.txt` (`key=value` lines).
fn reference(key: &str) -> f64 {
    let path = format!("{FIXTURES}/reference.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{path}: no numeric value for {key}"))
}

/// The one float tolerance helper: `|a - b| <= rel * |b|`.
fn assert_rel_close(a: f64, b: f64, rel: f64, what: &str) {
    assert!(
        (a - b).abs() <= rel * b.abs(),
        "{what}: {a} vs {b} differ by more than {:.2} %",
        rel * 100.0
    );
}

/// ROC AUC of `scores` for the 0/1 `labels` (Mann-Whitney, ties counted half).
fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&r| labels[r]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Splits the rows into `parts` chunks after a seeded shuffle.
fn chunks(rows: &[Vec<f64>], parts: usize, seed: u64) -> Vec<FeatureMatrix> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SeededRng::new(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.gen_range(i + 1));
    }
    let mut out: Vec<Vec<&[f64]>> = vec![Vec::new(); parts];
    for (i, &r) in order.iter().enumerate() {
        out[i * parts / rows.len()].push(&rows[r]);
    }
    out.iter()
        .map(|c| FeatureMatrix::from_rows(c).expect("fixture rows are finite"))
        .collect()
}

fn kmeans_partitioned(
    params: &KMeansValidParams,
    parts: &[FeatureMatrix],
    seed: u64,
) -> KMeansModel {
    let mut states: Vec<KMeansPartial> = parts
        .iter()
        .map(|p| {
            let mut s = KMeansPartial::new(params);
            s.update(p).expect("update");
            // States cross the network as bytes.
            KMeansPartial::from_bytes(&s.to_bytes()).expect("decode")
        })
        .collect();
    let mut rng = SeededRng::new(seed);
    // Merge pairs at random until one state is left: a random merge tree.
    while states.len() > 1 {
        let a = states.swap_remove(rng.gen_range(states.len()));
        let mut b = states.swap_remove(rng.gen_range(states.len()));
        b.merge(&a).expect("merge");
        states.push(b);
    }
    states[0].finish().expect("finish")
}

fn kmeans_rows() -> (Vec<Vec<f64>>, FeatureMatrix) {
    let rows = read_csv("kmeans_blobs.csv");
    let x = FeatureMatrix::from_rows(&rows).expect("fixture rows are finite");
    (rows, x)
}

fn true_inertia(model: &KMeansModel, x: &FeatureMatrix) -> f64 {
    model
        .distance(x)
        .expect("distance")
        .iter()
        .map(|d| d * d)
        .sum()
}

#[test]
fn kmeans_inertia_matches_scikit_learn() {
    let (_, x) = kmeans_rows();
    for k in [4, 8] {
        let expected = reference(&format!("kmeans_k{k}_inertia"));
        let params = KMeansParams::default()
            .k(k)
            .n_init(10)
            .check()
            .expect("params");
        let model = params.fit(&x).expect("fit");
        let ours = model.inertia();
        eprintln!("k={k}: inertia {ours}, scikit-learn {expected}");
        assert_rel_close(ours, true_inertia(&model, &x), 1e-9, "reported inertia");
        // Lower inertia is a better clustering, so only worse-than-reference fails the
        // 1 % bound; far below would mean a miscomputed inertia.
        assert!(
            ours <= expected * 1.01 && ours >= expected * 0.97,
            "k={k}: inertia {ours} vs scikit-learn {expected}"
        );
    }
}

#[test]
fn kmeans_on_partitions_matches_one_pass() {
    let (rows, x) = kmeans_rows();
    for k in [4, 8] {
        let params = KMeansParams::default()
            .k(k)
            .n_init(10)
            .check()
            .expect("params");
        let single = params.fit(&x).expect("fit");
        for (parts, seed) in [(1, 1), (8, 2), (8, 3), (3, 4)] {
            let model = kmeans_partitioned(&params, &chunks(&rows, parts, seed), seed);
            assert_rel_close(
                model.inertia(),
                single.inertia(),
                0.01,
                &format!("k={k}, {parts} partitions, seed {seed}"),
            );
        }
    }
}

fn iforest_rows() -> (Vec<Vec<f64>>, FeatureMatrix, Vec<bool>) {
    let data = read_csv("iforest_labelled.csv");
    let labels = data.iter().map(|r| r[6] == 1.0).collect();
    let rows: Vec<Vec<f64>> = data.iter().map(|r| r[..6].to_vec()).collect();
    let x = FeatureMatrix::from_rows(&rows).expect("fixture rows are finite");
    (rows, x, labels)
}

fn iforest_params() -> IsolationForestValidParams {
    IsolationForestParams::default()
        .n_trees(100)
        .sample_size(256)
        .seed(42)
        .check()
        .expect("params")
}

fn iforest_partitioned(
    params: &IsolationForestValidParams,
    parts: &[FeatureMatrix],
    seed: u64,
) -> IsolationForestModel {
    let mut states: Vec<IsolationForestPartial> = parts
        .iter()
        .map(|p| {
            let mut s = IsolationForestPartial::new(params);
            s.update(p).expect("update");
            IsolationForestPartial::from_bytes(&s.to_bytes()).expect("decode")
        })
        .collect();
    let mut rng = SeededRng::new(seed);
    while states.len() > 1 {
        let a = states.swap_remove(rng.gen_range(states.len()));
        let mut b = states.swap_remove(rng.gen_range(states.len()));
        b.merge(&a).expect("merge");
        states.push(b);
    }
    states[0].finish().expect("finish")
}

#[test]
fn iforest_auc_matches_scikit_learn() {
    let (_, x, labels) = iforest_rows();
    let expected = reference("iforest_auc");
    let model = iforest_params().fit(&x).expect("fit");
    let scores = model.score(&x).expect("score");
    let auc = roc_auc(&scores, &labels);
    eprintln!("AUC {auc}, scikit-learn {expected}");
    assert!(
        (auc - expected).abs() <= 0.02,
        "AUC {auc} vs scikit-learn {expected}"
    );
    // The contamination threshold flags about 5 % of the training rows.
    let threshold = model.threshold().expect("contamination is set by default");
    let flagged = scores.iter().filter(|&&s| s > threshold).count();
    assert!((45..=58).contains(&flagged), "{flagged} rows flagged");
}

#[test]
fn iforest_on_partitions_matches_one_pass() {
    let (rows, x, labels) = iforest_rows();
    let params = iforest_params();
    let single = iforest_params().fit(&x).expect("fit");
    let single_auc = roc_auc(&single.score(&x).expect("score"), &labels);
    for (parts, seed) in [(1, 1), (8, 2), (8, 3), (5, 4)] {
        let model = iforest_partitioned(&params, &chunks(&rows, parts, seed), seed);
        let auc = roc_auc(&model.score(&x).expect("score"), &labels);
        assert!(
            (auc - single_auc).abs() <= 0.01,
            "{parts} partitions, seed {seed}: AUC {auc} vs {single_auc}"
        );
    }
}

#[test]
fn roc_auc_helper_is_correct() {
    assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), 1.0);
    assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), 0.0);
    assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), 0.5);
}
