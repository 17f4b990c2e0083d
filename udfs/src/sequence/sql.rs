//! SQL surface of the sequence model: `seq_fit` (aggregate, returns a model) and
//! `seq_score` (scalar, mean next-event cross-entropy of each sequence).
//!
//! Training is distributed: every partition keeps its distinct sequences with their
//! counts in a [`SequencePartial`] (its Binary encoding is the aggregate's state),
//! partials merge in any order, and the final step trains the network on the merged
//! set. `huntsman.use_gpu` reaches the aggregate as a literal third argument that
//! planning adds from the session (aggregates see no session settings when they run,
//! and the literal travels with the plan to every executor). The SQL plumbing is
//! [`crate::model_fn`]'s.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AggregateFunctionSimplification;
use datafusion::logical_expr::{AggregateUDF, DocSection, Expr, ScalarUDF};
use huntsman_proto::{FeatureSpec, ModelEnvelope, ModelKind, TrainingStats};

use super::{
    SequenceError, SequenceModel, SequenceParams, SequencePartial, SequenceValidParams,
};
use crate::error::plan_error;
use crate::fit::FitPartial;
use crate::model_fn::{FitSpec, FitUdaf, Literals, Param, ScoreSpec, ScoreUdf};
use crate::model_io::{ModelMeta, encode};
use crate::neural::{Accelerator, session_use_gpu};
use crate::scoring::ModelCache;

const SEQ_FIT: &str = "seq_fit";
/// Newest sequence-model payload format this build writes and reads.
pub const SEQUENCE_FORMAT_VERSION: u32 = 1;

/// Documentation section of the sequence-model functions.
pub const SEQUENCE_SECTION: DocSection = DocSection {
    include: true,
    label: "Sequence model",
    description: Some(
        "LSTM next-event model of event-id sequences: train with an aggregate, score \
         each sequence's mean next-event cross-entropy.",
    ),
};

static CACHE: ModelCache<SequenceModel> = ModelCache::new();

/// The type `ids` arguments are coerced to.
fn ids_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

/// Checks that `t` is a list of integers (or null) and returns the coerced type.
fn coerce_ids(function: &str, t: &DataType) -> Result<DataType> {
    let inner = match t {
        DataType::Null => return Ok(ids_type()),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type()
        }
        other => {
            return Err(plan_error(
                function,
                format!("ids must be a list of integer event ids, got {other}"),
            ));
        }
    };
    if inner.is_integer() || inner == &DataType::Null {
        Ok(ids_type())
    } else {
        Err(plan_error(
            function,
            format!("ids must be a list of integer event ids, got a list of {inner}"),
        ))
    }
}

/// The rows of an `ids` column: each row's non-null ids in order, empty for a null
/// row. Null ids inside a list are skipped.
fn read_sequences(array: &ArrayRef) -> Result<Vec<Vec<i64>>, SequenceError> {
    let array = if array.data_type() == &ids_type() {
        Arc::clone(array)
    } else {
        cast(array, &ids_type()).map_err(|e| {
            SequenceError::Input(format!("ids must be a list of integers: {e}"))
        })?
    };
    let Some(list) = array.as_list_opt::<i32>() else {
        return Err(SequenceError::Input(
            "ids must be a list of integers".into(),
        ));
    };
    let Some(values) = list.values().as_primitive_opt::<Int64Type>() else {
        return Err(SequenceError::Input(
            "ids must be a list of integers".into(),
        ));
    };
    let offsets = list.value_offsets();
    let mut out = Vec::with_capacity(list.len());
    for row in 0..list.len() {
        if list.is_null(row) {
            out.push(Vec::new());
            continue;
        }
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        out.push(
            (start..end)
                .filter(|&i| values.is_valid(i))
                .map(|i| values.value(i))
                .collect(),
        );
    }
    Ok(out)
}

/// The accelerator for a `use_gpu` value, checked against this build.
fn accelerator(function: &str, use_gpu: bool) -> Result<Accelerator> {
    let accelerator = Accelerator::from_use_gpu(use_gpu);
    accelerator
        .check_available()
        .map_err(|e| plan_error(function, e))?;
    Ok(accelerator)
}

/// Parses the options string of `seq_fit` (None: all defaults).
fn params_from_options(options: Option<&str>) -> Result<SequenceValidParams> {
    let params = match options {
        None => SequenceParams::default(),
        Some(json) => {
            SequenceParams::from_json(json).map_err(|e| plan_error(SEQ_FIT, e))?
        }
    };
    params.check().map_err(|e| plan_error(SEQ_FIT, e))
}

fn options_from_scalar(value: &ScalarValue) -> Result<Option<String>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Ok(v.clone())
        }
        ScalarValue::Null => Ok(None),
        other => Err(plan_error(
            SEQ_FIT,
            format!(
                "config_json must be a JSON string, got {}",
                other.data_type()
            ),
        )),
    }
}

/// `seq_fit(ids [, config_json [, use_gpu]])`: trains the next-event model.
#[derive(Debug)]
pub struct SeqFit;

impl FitSpec for SeqFit {
    type Partial = SequencePartial;
    const NAME: &'static str = SEQ_FIT;
    const SECTION: DocSection = SEQUENCE_SECTION;
    const INPUT: (&'static str, &'static str) = (
        "ids",
        "List of integers: one process's event ids in time order.",
    );
    const PARAMS: &'static [Param] = &[
        Param::json(
            "config_json",
            "Literal JSON object of options, every one optional: vocab_size (30), \
             embedding_dim (64), hidden_dim (256), num_layers (2), epochs (10), \
             batch_size (64), max_seq_len (128), learning_rate (0.001, Adam), seed \
             (42), max_sequences (100000, the cap on distinct sequences kept and on \
             sequences drawn per epoch). Unknown keys are errors.",
        ),
        Param::boolean(
            "use_gpu",
            "Boolean literal, normally left out: planning fills in the session \
             setting huntsman.use_gpu, so that every executor trains where the \
             session asked.",
        ),
    ];
    const DESCRIPTION: &'static str = "Trains an LSTM next-event model (embedding, stacked LSTM layers, linear, \
     softmax) on sequences of event ids in time order and returns it as a \
     Binary value for `seq_score`. Each sequence is cut to its first \
     `max_seq_len` ids; the `vocab_size - 3` most frequent ids get their own \
     token, every other id is the unknown token. The model learns, with \
     teacher forcing, to predict each event from the ones before it. Partitions \
     keep distinct sequences with their counts (a seeded hash picks \
     `max_sequences` of them beyond that), so the model does not depend on how \
     rows were split; each epoch draws sequences in proportion to their \
     counts. Deterministic for a seed on the CPU. Trains on the GPU when \
     `huntsman.use_gpu` is true (builds with the `cuda` feature). Null or empty \
     lists are skipped, and so are null ids inside a list; returns null for no \
     sequences.";
    const EXAMPLE: &'static str = "```sql\n> SELECT seq_score([1, 3, 3], m) < seq_score([3, 1, 22], m) AS \
     usual_scores_lower\n  FROM (SELECT seq_fit(ids, '{\"embedding_dim\": 8, \
     \"hidden_dim\": 16, \"num_layers\": 1, \"epochs\": 40, \"learning_rate\": \
     0.05}') AS m\n        FROM (VALUES ([1, 3, 3]), ([1, 3, 3]), ([1, 3, 3]), \
     ([1, 7, 11])) AS t(ids));\n\
     +--------------------+\n\
     | usual_scores_lower |\n\
     +--------------------+\n\
     | true               |\n\
     +--------------------+\n```";

    fn coerce_input(t: &DataType) -> Result<DataType> {
        coerce_ids(SEQ_FIT, t)
    }

    fn partial(params: &Literals<'_>) -> Result<SequencePartial> {
        let options = params.text("config_json")?;
        let valid = params_from_options(options.as_deref())?;
        let use_gpu = params.boolean("use_gpu")?.unwrap_or(false);
        let accelerator = accelerator(SEQ_FIT, use_gpu)?;
        Ok(SequencePartial::new(&valid).with_accelerator(accelerator))
    }

    fn simplify() -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|mut aggregate, info| {
            let args = &mut aggregate.params.args;
            match args.get(1) {
                Some(Expr::Literal(value, _)) => {
                    params_from_options(options_from_scalar(value)?.as_deref())?;
                }
                Some(_) => {
                    return Err(plan_error(SEQ_FIT, "config_json must be a literal"));
                }
                None => args.push(Expr::Literal(ScalarValue::Utf8(None), None)),
            }
            if args.len() == 2 {
                let use_gpu = session_use_gpu(info.config_options());
                accelerator(SEQ_FIT, use_gpu)?;
                args.push(Expr::Literal(ScalarValue::Boolean(Some(use_gpu)), None));
            }
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }
}

impl FitPartial for SequencePartial {
    type Error = SequenceError;
    const FUNCTION: &'static str = SEQ_FIT;

    fn update(&mut self, args: &[ArrayRef]) -> Result<(), SequenceError> {
        let Some(ids) = args.first() else {
            return Ok(());
        };
        let rows = read_sequences(ids)?;
        let mut distinct: HashMap<&[i64], u64> = HashMap::new();
        let max_len = self.params().max_seq_len();
        for row in &rows {
            let row = &row[..row.len().min(max_len)];
            if !row.is_empty() {
                *distinct.entry(row).or_insert(0) += 1;
            }
        }
        for (row, count) in distinct {
            self.add_count(row, count);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) -> Result<(), SequenceError> {
        SequencePartial::merge(self, &other)
    }

    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }

    fn from_state(bytes: &[u8]) -> Result<Self, SequenceError> {
        Self::from_bytes(bytes)
    }

    fn n_rows(&self) -> u64 {
        SequencePartial::n_rows(self)
    }

    fn size_bytes(&self) -> usize {
        SequencePartial::size_bytes(self)
    }

    fn finish(&mut self) -> Result<Vec<u8>, SequenceError> {
        let fit = SequencePartial::finish(self)?;
        Ok(encode_model(&fit.model))
    }
}

/// The model's envelope: kind `Sequence`, the parameters as JSON, the vocabulary's ids
/// as feature names.
pub fn encode_model(model: &SequenceModel) -> Vec<u8> {
    let params = model.params();
    let meta = ModelMeta {
        params_json: params.to_json(),
        features: FeatureSpec {
            dimensions: params.vocab_size() as u32,
            names: model
                .vocabulary()
                .ids()
                .iter()
                .map(|id| id.to_string())
                .collect(),
            sparse: false,
        },
        stats: TrainingStats {
            rows: model.n_rows(),
            partitions: 0,
            loss: model.training_loss(),
            iterations: params.epochs() as u32,
            trained_at_unix_ms: 0,
        },
    };
    encode(
        ModelKind::Sequence,
        SEQUENCE_FORMAT_VERSION,
        meta,
        model.to_bytes(),
    )
}

/// `seq_score(ids, model)`: the mean next-event cross-entropy of each sequence.
#[derive(Debug)]
pub struct SeqScore;

impl ScoreSpec for SeqScore {
    type Model = SequenceModel;
    type Output = ();
    type Error = SequenceError;
    const KIND: ModelKind = ModelKind::Sequence;
    const VERSION: u32 = SEQUENCE_FORMAT_VERSION;
    const FIT: &'static str = SEQ_FIT;
    const SECTION: DocSection = SEQUENCE_SECTION;
    const INPUT: (&'static str, &'static str) =
        ("ids", "List of integers: event ids in time order.");
    const ACCELERATED: bool = true;

    fn cache() -> &'static ModelCache<SequenceModel> {
        &CACHE
    }

    fn coerce_input(function: &str, t: &DataType) -> Result<DataType> {
        coerce_ids(function, t)
    }

    fn decode(envelope: &ModelEnvelope) -> Result<SequenceModel, SequenceError> {
        SequenceModel::from_bytes(&envelope.payload)
    }

    fn name((): ()) -> &'static str {
        "seq_score"
    }

    fn return_type((): ()) -> DataType {
        DataType::Float64
    }

    fn doc((): ()) -> (&'static str, &'static str) {
        (
            "The mean next-event cross-entropy (nats per event, Float64) of each \
             sequence of event ids under a model from `seq_fit`: with a start token \
             before the first event, the mean over its first `max_seq_len` events of \
             `-ln p(event | events before it)`. Higher is more unusual. A one-event \
             sequence scores how unusual it is to start with that event. Ids outside \
             the model's vocabulary score as the unknown token; null ids inside a list \
             are skipped. Null for a null or empty list, or a null model. Identical \
             sequences are scored once per batch and cached per process.",
            "```sql\n> SELECT seq_score([], m) IS NULL AS empty_is_null, seq_score([1], m) \
             > 0 AS positive\n  FROM (SELECT seq_fit(ids, '{\"hidden_dim\": 8, \
             \"embedding_dim\": 4, \"epochs\": 2}') AS m\n        FROM (VALUES ([1, 3, \
             22])) AS t(ids));\n\
             +---------------+----------+\n\
             | empty_is_null | positive |\n\
             +---------------+----------+\n\
             | true          | true     |\n\
             +---------------+----------+\n```",
        )
    }

    fn score(
        (): (),
        model: &SequenceModel,
        ids: &ArrayRef,
        accelerator: Accelerator,
    ) -> Result<ArrayRef, SequenceError> {
        let sequences = read_sequences(ids)?;
        Ok(Arc::new(Float64Array::from(
            model.score(&sequences, accelerator)?,
        )))
    }
}

/// The `seq_fit` aggregate.
pub fn seq_fit_udaf() -> Arc<AggregateUDF> {
    static UDAF: OnceLock<Arc<AggregateUDF>> = OnceLock::new();
    UDAF.get_or_init(|| Arc::new(AggregateUDF::from(FitUdaf::<SeqFit>::default())))
        .clone()
}

/// The `seq_score` scalar function.
pub fn seq_score_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(ScoreUdf::<SeqScore>::new(()))))
        .clone()
}
