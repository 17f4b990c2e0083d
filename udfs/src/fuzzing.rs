//! The entry point of the model fuzz target (`fuzz/`) and of the regression inputs that
//! `cargo test` replays: arbitrary bytes read as every kind of model file and every kind
//! of partial state, as the functions read them. Whatever the bytes, it returns.

use crate::autoencoder::{AutoencoderModel, AutoencoderPartial};
use crate::features::{CategoryIndexModel, IdfModel, ScalerModel};
use crate::iforest::{IsolationForestModel, IsolationForestPartial};
use crate::kmeans::{KMeansModel, KMeansPartial};
use crate::matrix::FeatureMatrix;
use crate::model_io::decode;
use crate::sequence::{SequenceModel, SequencePartial};
use huntsman_proto::ModelKind;

/// Widest model that is also used once after it decodes (a row of zeros is built for it).
const SCORED_COLS: usize = 4096;

/// Reads `bytes` as each model kind and each partial state; a k-means model or isolation
/// forest that decodes also scores one row, as `kmeans_assign` and `iforest_score` would.
/// Returns how many readers took the bytes.
pub fn decode_models(bytes: &[u8]) -> usize {
    let row = |cols: usize| {
        (cols <= SCORED_COLS)
            .then(|| FeatureMatrix::from_rows(&[vec![0.0; cols]]).ok())
            .flatten()
    };
    let mut took = 0;
    if let Ok(m) = KMeansModel::from_bytes(bytes) {
        took += 1;
        if let Some(x) = row(m.n_cols()) {
            let _ = m.assign_with_distance(&x);
        }
    }
    if let Ok(m) = IsolationForestModel::from_bytes(bytes) {
        took += 1;
        if let Some(x) = row(m.n_cols()) {
            let _ = m.score(&x);
        }
    }
    took += usize::from(AutoencoderModel::from_bytes(bytes).is_ok());
    took += usize::from(SequenceModel::from_bytes(bytes).is_ok());
    took += usize::from(KMeansPartial::from_bytes(bytes).is_ok());
    took += usize::from(IsolationForestPartial::from_bytes(bytes).is_ok());
    took += usize::from(AutoencoderPartial::from_bytes(bytes).is_ok());
    took += usize::from(SequencePartial::from_bytes(bytes).is_ok());
    let envelope = |kind, version| decode(bytes, kind, version).ok();
    if let Some(env) = envelope(ModelKind::Idf, crate::features::idf::IDF_FORMAT_VERSION)
    {
        took += usize::from(IdfModel::decode(&env).is_ok());
    }
    if let Some(env) = envelope(
        ModelKind::Scaler,
        crate::features::scaler::SCALER_FORMAT_VERSION,
    ) {
        took += usize::from(ScalerModel::decode(&env).is_ok());
    }
    let index_version = crate::features::index::CATEGORY_INDEX_FORMAT_VERSION;
    if let Some(env) = envelope(ModelKind::CategoryIndex, index_version) {
        took += usize::from(CategoryIndexModel::decode(&env).is_ok());
    }
    took
}
