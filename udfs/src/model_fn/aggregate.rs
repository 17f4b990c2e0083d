//! [`FitUdaf`]: the `*_fit` aggregate of any [`FitSpec`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, DocSection, Documentation, Signature, Volatility,
};

use super::params::{Literals, Param, syntax};
use crate::error::plan_error;
use crate::fit::{FitAccumulator, FitPartial, fit_state_fields};
use crate::scoring::check_vector_type;

/// A model family's training aggregate, as SQL sees it. [`FitUdaf`] implements the
/// aggregate from it.
pub trait FitSpec: Send + Sync + 'static {
    /// The partial training state every partition folds its rows into.
    type Partial: FitPartial;
    /// The aggregate's SQL name.
    const NAME: &'static str;
    /// The documentation section of the family.
    const SECTION: DocSection;
    /// The input argument's name (`features`, `vec`, `ids`) and its documentation.
    const INPUT: (&'static str, &'static str);
    /// The literal parameters after the input, in order.
    const PARAMS: &'static [Param];
    /// How many of [`FitSpec::PARAMS`] must be given.
    const REQUIRED: usize = 0;
    /// What the aggregate computes (the documentation's description).
    const DESCRIPTION: &'static str;
    /// A complete SQL example with its output, in a fenced block.
    const EXAMPLE: &'static str;

    /// The type the input is coerced to, or a planning error naming it. Lists of
    /// Float64 by default.
    ///
    /// # Errors
    /// An input type the family cannot train on.
    fn coerce_input(t: &DataType) -> Result<DataType> {
        check_vector_type(Self::NAME, t)?;
        Ok(t.clone())
    }

    /// An empty partial state for the call's parameters.
    ///
    /// # Errors
    /// A parameter that is not a literal of its type or out of its range, as a planning
    /// error naming it.
    fn partial(params: &Literals<'_>) -> Result<Self::Partial>;

    /// A rewrite of the call while planning (to check options early, or to pin session
    /// settings as literal arguments so every executor trains alike).
    fn simplify() -> Option<AggregateFunctionSimplification> {
        None
    }
}

/// The `*_fit` aggregate of any [`FitSpec`].
pub struct FitUdaf<S> {
    signature: Signature,
    doc: Documentation,
    spec: PhantomData<fn() -> S>,
}

impl<S: FitSpec> Default for FitUdaf<S> {
    fn default() -> Self {
        let (input, input_doc) = S::INPUT;
        let mut doc = Documentation::builder(
            S::SECTION,
            S::DESCRIPTION,
            syntax(S::NAME, input, S::PARAMS, S::REQUIRED),
        )
        .with_argument(input, input_doc);
        for p in S::PARAMS {
            doc = doc.with_argument(p.name, p.doc);
        }
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: doc.with_sql_example(S::EXAMPLE).build(),
            spec: PhantomData,
        }
    }
}

impl<S: FitSpec> fmt::Debug for FitUdaf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FitUdaf").field("name", &S::NAME).finish()
    }
}

impl<S> PartialEq for FitUdaf<S> {
    fn eq(&self, _: &Self) -> bool {
        // One type per family, and nothing in it varies.
        true
    }
}

impl<S> Eq for FitUdaf<S> {}

impl<S: FitSpec> Hash for FitUdaf<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        S::NAME.hash(state);
    }
}

impl<S: FitSpec> AggregateUDFImpl for FitUdaf<S> {
    fn name(&self) -> &str {
        S::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (input, _) = S::INPUT;
        let given = arg_types.len().saturating_sub(1);
        if arg_types.is_empty() || given < S::REQUIRED || given > S::PARAMS.len() {
            return Err(plan_error(
                S::NAME,
                format!(
                    "takes {}, got {} arguments",
                    &syntax(S::NAME, input, S::PARAMS, S::REQUIRED)[S::NAME.len()..],
                    arg_types.len()
                ),
            ));
        }
        let mut out = vec![S::coerce_input(&arg_types[0])?];
        for (t, p) in arg_types[1..].iter().zip(S::PARAMS) {
            out.push(p.kind.coerce(S::NAME, p.name, t)?);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(fit_state_fields(&args))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let literals = Literals::read(S::NAME, S::PARAMS, acc_args.exprs);
        FitAccumulator::boxed(S::partial(&literals)?)
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        S::simplify()
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
