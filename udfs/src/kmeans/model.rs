//! The fitted k-means model: centroids plus training statistics, scoring whole
//! batches by nearest centroid and distance to it.

use super::KMeansError;
use super::kernel::NearestCentroid;
use crate::matrix::{ByteReader, ByteWriter, DecodeError, FeatureMatrix, invalid};

/// Share of the training rows the large clusters hold at least (CBLOF's alpha).
pub const CBLOF_ALPHA: f64 = 0.9;
/// Size ratio between a large cluster and the next that ends the large ones (CBLOF's
/// beta).
pub const CBLOF_BETA: f64 = 5.0;

/// Version byte of the [`KMeansModel::to_bytes`] payload.
const MODEL_VERSION: u8 = 1;

/// A fitted k-means model. Immutable; scores whole batches.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    centroids: FeatureMatrix,
    cluster_sizes: Vec<u64>,
    inertia: f64,
    n_iter: usize,
    n_rows: u64,
    search: NearestCentroid,
}

impl KMeansModel {
    /// A model with the given centroids (`k × n_cols`) and no training statistics
    /// (zero sizes, inertia and iterations): for tests, benches and imported models.
    ///
    /// # Errors
    ///
    /// [`KMeansError::NoCentroids`] when `centroids` has no rows.
    pub fn new(centroids: FeatureMatrix) -> Result<Self, KMeansError> {
        let k = centroids.n_rows();
        Self::from_parts(centroids, vec![0; k], 0.0, 0, 0)
    }

    pub(super) fn from_parts(
        centroids: FeatureMatrix,
        cluster_sizes: Vec<u64>,
        inertia: f64,
        n_iter: usize,
        n_rows: u64,
    ) -> Result<Self, KMeansError> {
        if centroids.is_empty() || centroids.n_cols() == 0 {
            return Err(KMeansError::NoCentroids);
        }
        let search = NearestCentroid::new(centroids.as_slice(), centroids.n_cols());
        Ok(Self {
            centroids,
            cluster_sizes,
            inertia,
            n_iter,
            n_rows,
            search,
        })
    }

    /// The centroids, `n_clusters × n_cols`.
    pub fn centroids(&self) -> &FeatureMatrix {
        &self.centroids
    }

    /// Number of clusters. Fewer than the requested `k` only when the training data
    /// had fewer than `k` distinct rows.
    pub fn n_clusters(&self) -> usize {
        self.centroids.n_rows()
    }

    /// Number of features per row.
    pub fn n_cols(&self) -> usize {
        self.centroids.n_cols()
    }

    /// Training rows assigned to each cluster (estimated when the training summary
    /// was compressed). The smallest cluster is the usual anomaly cluster.
    pub fn cluster_sizes(&self) -> &[u64] {
        &self.cluster_sizes
    }

    /// Sum of squared distances of the training rows to their centroids.
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Lloyd iterations of the winning initialisation.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Number of training rows.
    pub fn n_rows(&self) -> u64 {
        self.n_rows
    }

    fn check_cols(&self, x: &FeatureMatrix) -> Result<(), KMeansError> {
        if x.n_cols() != self.n_cols() && !x.is_empty() {
            return Err(KMeansError::DimensionMismatch {
                expected: self.n_cols(),
                got: x.n_cols(),
            });
        }
        Ok(())
    }

    /// The index of the nearest centroid of each row (ties to the lowest index).
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimensionMismatch`] when `x` has the wrong number of columns.
    pub fn assign(&self, x: &FeatureMatrix) -> Result<Vec<u32>, KMeansError> {
        self.check_cols(x)?;
        let mut labels = vec![0; x.n_rows()];
        self.search.nearest(x.as_slice(), &mut labels);
        Ok(labels)
    }

    /// The Euclidean distance of each row to its nearest centroid.
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimensionMismatch`] when `x` has the wrong number of columns.
    pub fn distance(&self, x: &FeatureMatrix) -> Result<Vec<f64>, KMeansError> {
        Ok(self.assign_with_distance(x)?.1)
    }

    /// Both the nearest centroid and the Euclidean distance to it, for each row.
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimensionMismatch`] when `x` has the wrong number of columns.
    pub fn assign_with_distance(
        &self,
        x: &FeatureMatrix,
    ) -> Result<(Vec<u32>, Vec<f64>), KMeansError> {
        self.check_cols(x)?;
        let mut labels = vec![0; x.n_rows()];
        let mut dist = vec![0.0; x.n_rows()];
        self.search
            .nearest_with_sq_dist(x.as_slice(), &mut labels, &mut dist);
        dist.iter_mut().for_each(|d| *d = d.max(0.0).sqrt());
        Ok((labels, dist))
    }

    /// Which clusters are large in the sense of CBLOF (He, Xu and Deng, 2003): with the
    /// clusters sorted by training size, largest first, the large ones are the first b,
    /// for the smallest b at which the first b hold at least [`CBLOF_ALPHA`] of the
    /// training rows or the b-th is at least [`CBLOF_BETA`] times the next one. A model
    /// without training sizes has only large clusters.
    pub fn large_clusters(&self) -> Vec<bool> {
        let k = self.n_clusters();
        let total: u64 = self.cluster_sizes.iter().sum();
        if total == 0 || self.cluster_sizes.len() != k {
            return vec![true; k];
        }
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            self.cluster_sizes[b]
                .cmp(&self.cluster_sizes[a])
                .then(a.cmp(&b))
        });
        let mut large = vec![false; k];
        let mut covered = 0u64;
        for (i, &c) in order.iter().enumerate() {
            large[c] = true;
            covered += self.cluster_sizes[c];
            let next = order.get(i + 1).map(|&n| self.cluster_sizes[n]);
            let enough = covered as f64 >= CBLOF_ALPHA * total as f64;
            let gap = next
                .is_some_and(|n| self.cluster_sizes[c] as f64 >= CBLOF_BETA * n as f64);
            if enough || gap {
                break;
            }
        }
        large
    }

    /// The unweighted cluster-based outlier score of each row (uCBLOF, Amer and
    /// Goldstein, 2012): the distance to its nearest centroid when that cluster is large
    /// ([`Self::large_clusters`]), else the distance to the nearest large centroid. A
    /// row that forms a small cluster of its own is as far as it is from the bulk of the
    /// data, not at distance zero from itself.
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimensionMismatch`] when `x` has the wrong number of columns.
    pub fn outlier_distance(&self, x: &FeatureMatrix) -> Result<Vec<f64>, KMeansError> {
        let (labels, mut dist) = self.assign_with_distance(x)?;
        let large = self.large_clusters();
        let n = self.n_cols();
        for (i, (&label, d)) in labels.iter().zip(dist.iter_mut()).enumerate() {
            if large[label as usize] {
                continue;
            }
            let row = &x.as_slice()[i * n..(i + 1) * n];
            *d = large
                .iter()
                .enumerate()
                .filter(|(_, l)| **l)
                .map(|(c, _)| {
                    let centroid = &self.centroids.as_slice()[c * n..(c + 1) * n];
                    row.iter()
                        .zip(centroid)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(f64::INFINITY, f64::min);
        }
        Ok(dist)
    }

    /// Encodes the model as a little-endian payload with a version byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (k, d) = (self.n_clusters(), self.n_cols());
        let mut w = ByteWriter::with_capacity(1 + 8 * (k * d + k + 6));
        w.u8(MODEL_VERSION);
        w.u64(k as u64);
        w.u64(d as u64);
        for &v in self.centroids.as_slice() {
            w.f64(v);
        }
        for &s in &self.cluster_sizes {
            w.u64(s);
        }
        w.f64(self.inertia);
        w.u64(self.n_iter as u64);
        w.u64(self.n_rows);
        w.into_inner()
    }

    /// Decodes a payload written by [`KMeansModel::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`KMeansError::Decode`] for truncated, corrupted or inconsistent input; never
    /// panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KMeansError> {
        let mut r = ByteReader::new(bytes);
        r.version(MODEL_VERSION)?;
        let k = r.usize("cluster count")?;
        let d = r.usize("column count")?;
        if k == 0 || d == 0 {
            return Err(invalid(format!("shape {k} x {d}")).into());
        }
        let values = k
            .checked_mul(d)
            .ok_or_else(|| invalid(format!("shape {k} x {d}")))?;
        if values.saturating_add(k).saturating_mul(8) > r.remaining() {
            return Err(DecodeError::Truncated {
                offset: bytes.len() - r.remaining(),
                needed: values.saturating_add(k).saturating_mul(8),
            }
            .into());
        }
        let mut data = Vec::with_capacity(values);
        for _ in 0..values {
            data.push(r.finite("centroid value")?);
        }
        let mut sizes = Vec::with_capacity(k);
        for _ in 0..k {
            sizes.push(r.u64()?);
        }
        let inertia = r.finite("inertia")?;
        if inertia < 0.0 {
            return Err(invalid(format!("inertia ({inertia})")).into());
        }
        let n_iter = r.usize("iteration count")?;
        let n_rows = r.u64()?;
        let total = sizes.iter().try_fold(0u64, |a, &s| a.checked_add(s));
        if total.is_none_or(|t| t != n_rows) {
            return Err(invalid(format!(
                "cluster sizes (sum differs from {n_rows} rows)"
            ))
            .into());
        }
        r.finish()?;
        let centroids = FeatureMatrix::new(k, d, data)?;
        Self::from_parts(centroids, sizes, inertia, n_iter, n_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::KMeansParams;
    use crate::matrix::SeededRng;

    fn model() -> KMeansModel {
        let c = FeatureMatrix::from_rows(&[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
            .expect("valid test input");
        KMeansModel::from_parts(c, vec![2, 1, 1], 4.0, 3, 4).expect("valid test input")
    }

    #[test]
    fn assign_and_distance_use_the_nearest_centroid() {
        let m = model();
        let x = FeatureMatrix::from_rows(&[[1.0, 0.0], [9.0, 1.0], [0.0, 13.0]])
            .expect("valid test input");
        let (labels, dist) = m.assign_with_distance(&x).expect("valid test input");
        assert_eq!(labels, vec![0, 1, 2]);
        assert!((dist[0] - 1.0).abs() < 1e-12);
        assert!((dist[1] - 2f64.sqrt()).abs() < 1e-12);
        assert!((dist[2] - 3.0).abs() < 1e-12);
        assert_eq!(m.distance(&x).expect("valid test input"), dist);
    }

    #[test]
    fn small_clusters_score_by_their_distance_to_the_large_ones() {
        // Sizes 90, 8, 2 of 100: the first holds 90 % (alpha), so only it is large.
        let c = FeatureMatrix::from_rows(&[[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
            .expect("valid test input");
        let m = KMeansModel::from_parts(c.clone(), vec![90, 8, 2], 1.0, 3, 100)
            .expect("valid test input");
        assert_eq!(m.large_clusters(), vec![true, false, false]);
        let x = FeatureMatrix::from_rows(&[[1.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
            .expect("valid test input");
        let scores = m.outlier_distance(&x).expect("valid test input");
        // in the large cluster: its own distance; in small ones: to the large centroid,
        // not the zero distance to their own centroid.
        assert_eq!(scores, vec![1.0, 10.0, 20.0]);

        // Sizes 50, 40, 5, 5: 90 % is reached with the second cluster.
        let c4 = FeatureMatrix::from_rows(&[[0.0], [1.0], [2.0], [3.0]]).expect("valid");
        let m = KMeansModel::from_parts(c4.clone(), vec![50, 40, 5, 5], 1.0, 3, 100)
            .expect("valid");
        assert_eq!(m.large_clusters(), vec![true, true, false, false]);
        // Sizes 50, 30, 6, 6, 6, 6: the first two hold 77 % (< 90 %), but 30 >= 5 x 6
        // ends the large ones at the second; and 60, 10, 1 ends at the first (60 >= 50).
        let c6 = FeatureMatrix::from_rows(&[[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
            .expect("valid");
        let m = KMeansModel::from_parts(c6, vec![50, 30, 6, 6, 6, 6], 1.0, 3, 104)
            .expect("valid");
        assert_eq!(
            m.large_clusters(),
            vec![true, true, false, false, false, false]
        );
        let m = KMeansModel::from_parts(c, vec![60, 10, 1], 1.0, 3, 71).expect("valid");
        assert_eq!(m.large_clusters(), vec![true, false, false]);
        // Without training sizes every cluster is large: plain distances.
        let m = KMeansModel::new(c4).expect("valid");
        assert_eq!(m.large_clusters(), vec![true; 4]);
        let x = FeatureMatrix::from_rows(&[[2.2]]).expect("valid");
        assert_eq!(
            m.outlier_distance(&x).expect("valid"),
            m.distance(&x).expect("valid")
        );
    }

    #[test]
    fn wrong_column_count_is_an_error() {
        let x = FeatureMatrix::from_rows(&[[1.0, 0.0, 3.0]]).expect("valid test input");
        let err = model().assign(&x).expect_err("must be rejected");
        assert_eq!(err.to_string(), "matrix has 3 columns, the model expects 2");
        // An empty batch of any width scores to nothing.
        assert!(
            model()
                .assign(&FeatureMatrix::empty(0))
                .expect("valid test input")
                .is_empty()
        );
    }

    #[test]
    fn model_bytes_round_trip() {
        let m = model();
        let back = KMeansModel::from_bytes(&m.to_bytes()).expect("valid test input");
        assert_eq!(back, m);
        let fitted = KMeansParams::default()
            .k(2)
            .check()
            .expect("valid test input")
            .fit(
                &FeatureMatrix::from_rows(&[[0.0], [1.0], [5.0]])
                    .expect("valid test input"),
            )
            .expect("valid test input");
        assert_eq!(
            KMeansModel::from_bytes(&fitted.to_bytes()).expect("valid test input"),
            fitted
        );
    }

    #[test]
    fn corrupted_model_bytes_are_errors_not_panics() {
        let bytes = model().to_bytes();
        let mut rng = SeededRng::new(11);
        for case in 0..2000 {
            let mut b = bytes.clone();
            match case % 3 {
                0 => b.truncate(rng.gen_range(b.len())),
                1 => {
                    let i = rng.gen_range(b.len());
                    b[i] ^= 1 << rng.gen_range(8);
                }
                _ => {
                    for _ in 0..4 {
                        let i = rng.gen_range(b.len());
                        b[i] = rng.next_u64() as u8;
                    }
                }
            }
            if let Ok(m) = KMeansModel::from_bytes(&b) {
                // Whatever decodes must be usable.
                let x = FeatureMatrix::new(1, m.n_cols(), vec![0.5; m.n_cols()])
                    .expect("valid test input");
                assert_eq!(m.assign(&x).expect("valid test input").len(), 1);
            }
        }
        assert!(KMeansModel::from_bytes(&[]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            KMeansModel::from_bytes(&long),
            Err(KMeansError::Decode(DecodeError::TrailingBytes { count: 1 }))
        ));
    }
}
