//! `huntsman-proto`: the protobuf messages Huntsman stores and ships, generated from
//! `proto/huntsman.proto`.
//!
//! This crate owns the `.proto` files and the code generated from them; nothing else
//! includes generated code. It does not encode or validate models: that is
//! `huntsman_udfs::model_io`.
//!
//! ```
//! use huntsman_proto::{ModelEnvelope, ModelKind};
//! use prost::Message;
//! let env = ModelEnvelope { magic: "HNTM".into(), kind: ModelKind::Kmeans as i32,
//!     ..Default::default() };
//! let bytes = env.encode_to_vec();
//! assert_eq!(ModelEnvelope::decode(bytes.as_slice()).unwrap(), env);
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[allow(missing_docs)] // generated code: the .proto file carries the documentation
mod generated {
    include!(concat!(env!("OUT_DIR"), "/huntsman.v1.rs"));
}

pub use generated::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

/// The magic string every model envelope starts with.
pub const MODEL_MAGIC: &str = "HNTM";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn envelope_round_trips() {
        let env = ModelEnvelope {
            magic: MODEL_MAGIC.into(),
            format_version: 1,
            kind: ModelKind::IsolationForest as i32,
            params_json: "{\"n_trees\":100}".into(),
            features: Some(FeatureSpec {
                dimensions: 5,
                names: vec![],
                sparse: false,
            }),
            stats: Some(TrainingStats {
                rows: 10,
                ..Default::default()
            }),
            checksum: 7,
            payload: vec![1, 2, 3],
        };
        let decoded =
            ModelEnvelope::decode(env.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(decoded, env);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ModelEnvelope::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }
}
