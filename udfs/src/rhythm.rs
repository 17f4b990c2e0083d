//! How likely a rhythm is by chance: the significance of a regular series of gaps.
//!
//! A beacon's gaps cluster around their median; traffic without a schedule does not. Under
//! the null hypothesis that connections arrive without memory (a Poisson process, gaps
//! exponential), a gap lies within `r` times the median of the median with probability
//! `p0(r) = 2^-(1-r) - 2^-(1+r)` (for `r >= 1`, `1 - 2^-(1+r)`): the median of an
//! exponential is where its survival is one half. A median absolute deviation of
//! `r x median` says that half the gaps lie that close, so the chance of a series at least
//! as concentrated is a binomial tail. With an odd number of gaps the median is one of
//! them (its own deviation is 0), so the tail counts the others: `(n-1)/2` of `n-1`; with
//! an even number, `n/2` of `n`. Against simulated exponential gaps this is within a
//! quarter of the true tail from 4 gaps up (slightly smaller: the sample median moves with
//! the sample), close enough for a test that is corrected for the number of entities.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

use crate::error::exec_error;
use crate::timing::TIMING_SECTION;

const RHYTHM_P_VALUE: &str = "rhythm_p_value";

/// The chance that `gaps` gaps of memoryless traffic are at least as concentrated around
/// their median as a median absolute deviation of `dispersion` times the median says
/// (see the module documentation). 1 for fewer than two gaps or a dispersion that is not a
/// number; 0 for a perfect metronome (dispersion 0) of two gaps or more.
pub fn rhythm_p_value(gaps: f64, dispersion: f64) -> f64 {
    if gaps.is_nan() || gaps < 2.0 || dispersion.is_nan() {
        return 1.0;
    }
    let n = gaps.floor();
    let (trials, needed) = if n % 2.0 == 1.0 {
        (n - 1.0, (n - 1.0) / 2.0)
    } else {
        (n, n / 2.0)
    };
    let r = dispersion.max(0.0);
    let near = if r >= 1.0 {
        1.0 - (-(1.0 + r)).exp2()
    } else {
        (-(1.0 - r)).exp2() - (-(1.0 + r)).exp2()
    };
    binomial_tail(trials, needed, near)
}

/// P(X >= k) for X ~ Binomial(n, p). The terms fall away from the mode on either side,
/// so the sum starts at k and runs away from the mode (upwards for the upper tail when k
/// is above the mode, downwards for the lower tail, 1 - P(X <= k-1), otherwise), each
/// term from the one before, until the terms no longer matter: a few dozen terms for a
/// clear rhythm, even of millions of gaps. Only the first term needs ln Γ.
fn binomial_tail(n: f64, k: f64, p: f64) -> f64 {
    if k <= 0.0 || (p >= 1.0 && k <= n) {
        return 1.0;
    }
    if p <= 0.0 || k > n {
        return 0.0;
    }
    let upper = k > ((n + 1.0) * p).floor();
    let start = if upper { k } else { k - 1.0 };
    let ln_first =
        libm::lgamma(n + 1.0) - libm::lgamma(start + 1.0) - libm::lgamma(n - start + 1.0)
            + start * p.ln()
            + (n - start) * (-p).ln_1p();
    let odds = p / (1.0 - p);
    let (mut j, mut term, mut sum) = (start, 1.0_f64, 0.0_f64);
    loop {
        sum += term;
        let next = if upper { j + 1.0 } else { j - 1.0 };
        if !(0.0..=n).contains(&next) {
            break;
        }
        // t(j+1) / t(j) = (n-j) / (j+1) * p/q, and t(j-1) / t(j) its inverse at j-1.
        term *= if upper {
            (n - j) / (j + 1.0) * odds
        } else {
            j / (n - j + 1.0) / odds
        };
        j = next;
        if term < sum * 1e-17 {
            break;
        }
    }
    let tail = (ln_first.exp() * sum).min(1.0);
    if upper { tail } else { (1.0 - tail).max(0.0) }
}

/// `rhythm_p_value(gaps, dispersion)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RhythmPValue {
    signature: Signature,
}

impl Default for RhythmPValue {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(
                2,
                vec![DataType::Float64],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for RhythmPValue {
    fn name(&self) -> &str {
        RHYTHM_P_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [gaps, dispersion] = args.args.as_slice() else {
            return Err(exec_error(RHYTHM_P_VALUE, "expects two arguments"));
        };
        // Scalars (a constant being folded) are computed as one row and given back as one.
        let scalars = matches!(
            (gaps, dispersion),
            (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))
        );
        let rows = if scalars { 1 } else { args.number_rows };
        let column = |value: &ColumnarValue| -> Result<Float64Array> {
            let array = cast(&value.to_array(rows)?, &DataType::Float64)?;
            Ok(array.as_primitive::<Float64Type>().clone())
        };
        let (gaps, dispersion) = (column(gaps)?, column(dispersion)?);
        let out: Float64Array = gaps
            .iter()
            .zip(dispersion.iter())
            .map(|(g, d)| Some(rhythm_p_value(g?, d?)))
            .collect();
        Ok(if scalars {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(out))
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                TIMING_SECTION,
                "The chance that traffic without a schedule (memoryless arrivals, \
                 exponential gaps) puts `gaps` gaps at least as close around their median \
                 as a median absolute deviation of `dispersion` times the median says: a \
                 binomial tail, since half the gaps lie that close. Small for a rhythm that \
                 chance does not explain. 1 for fewer than two gaps, null for null.",
                "rhythm_p_value(gaps, dispersion)",
            )
            .with_argument("gaps", "The number of gaps (connections - 1); fractions are dropped.")
            .with_argument("dispersion", "Median absolute deviation of the gaps / their median.")
            .with_sql_example(
                "```sql\n> SELECT rhythm_p_value(13, 0.145) < 0.001 AS a, \
                 rhythm_p_value(13, 0.7) > 0.5 AS b;\n\
                 +------+------+\n\
                 | a    | b    |\n\
                 +------+------+\n\
                 | true | true |\n\
                 +------+------+\n```",
            )
            .build()
        }))
    }
}

/// The `rhythm_p_value` scalar function.
pub fn rhythm_p_value_udf() -> Arc<ScalarUDF> {
    static UDF: OnceLock<Arc<ScalarUDF>> = OnceLock::new();
    UDF.get_or_init(|| Arc::new(ScalarUDF::from(RhythmPValue::default())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;
    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn exact_tail(n: u64, k: u64, p: f64) -> f64 {
        // Direct sum of binomial terms with exact small binomial coefficients.
        (k..=n)
            .map(|j| {
                let mut c = 1.0_f64;
                for i in 0..j {
                    c = c * (n - i) as f64 / (i + 1) as f64;
                }
                c * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32)
            })
            .sum()
    }

    #[test]
    fn binomial_tail_matches_a_direct_sum_on_both_sides_of_the_mode() {
        for (n, k, p) in [
            (12, 6, 0.1),
            (12, 2, 0.4),
            (30, 15, 0.5),
            (30, 25, 0.3),
            (20, 1, 0.05),
            (40, 20, 0.9),
        ] {
            let got = binomial_tail(n as f64, k as f64, p);
            let want = exact_tail(n, k, p);
            assert!(
                (got - want).abs() <= 1e-12 + 1e-9 * want,
                "P(Bin({n}, {p}) >= {k}) = {want}, got {got}"
            );
        }
    }

    #[test]
    fn large_series_stay_finite_and_ordered() {
        // A metronome-like million gaps is certain beyond doubt; a Poisson-like one is not.
        let tight = rhythm_p_value(1e6, 0.05);
        let loose = rhythm_p_value(1e6, 0.7);
        assert!(tight.is_finite() && tight < 1e-300, "{tight}");
        assert!(loose > 0.1, "{loose}");
        assert!(rhythm_p_value(100.0, 0.2) < rhythm_p_value(20.0, 0.2));
        assert!(rhythm_p_value(20.0, 0.1) < rhythm_p_value(20.0, 0.3));
    }

    #[test]
    fn degenerate_inputs_are_no_evidence_or_certainty() {
        assert_eq!(rhythm_p_value(1.0, 0.0), 1.0);
        assert_eq!(rhythm_p_value(f64::NAN, 0.0), 1.0);
        assert_eq!(rhythm_p_value(10.0, f64::NAN), 1.0);
        assert_eq!(rhythm_p_value(10.0, 0.0), 0.0);
        assert!(rhythm_p_value(10.0, 5.0) > 0.99);
        assert!(rhythm_p_value(10.0, -1.0) == 0.0);
    }

    /// The approximation against the tail it approximates: the share of simulated series
    /// of exponential gaps whose MAD / median is at most `r`.
    #[test]
    fn approximates_the_tail_of_simulated_memoryless_traffic() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (n, r) in [(8usize, 0.25), (13, 0.3), (20, 0.35), (31, 0.4)] {
            let trials = 40_000;
            let mut hits = 0;
            for _ in 0..trials {
                let mut g: Vec<f64> =
                    (0..n).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
                let med = median(&mut g);
                let mut dev: Vec<f64> = g.iter().map(|x| (x - med).abs()).collect();
                if median(&mut dev) / med <= r {
                    hits += 1;
                }
            }
            let simulated = hits as f64 / trials as f64;
            let got = rhythm_p_value(n as f64, r);
            assert!(
                got > 0.6 * simulated && got < 1.2 * simulated,
                "{n} gaps, dispersion {r}: simulated {simulated}, approximated {got}"
            );
        }
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        }
    }

    #[tokio::test]
    async fn documented_example_holds_and_integers_are_accepted() {
        let ctx = SessionContext::new();
        ctx.register_udf(rhythm_p_value_udf().as_ref().clone());
        let batches = ctx
            .sql(
                "SELECT rhythm_p_value(13, 0.145) AS a, rhythm_p_value(13, 0.7) AS b, \
                 rhythm_p_value(x, 0.145) AS c, rhythm_p_value(NULL, 0.1) AS d \
                 FROM (VALUES (CAST(13 AS BIGINT)), (NULL)) AS t(x)",
            )
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let b = &batches[0];
        let col = |i: usize| b.column(i).as_primitive::<Float64Type>().clone();
        assert!(col(0).value(0) < 1e-3, "{:?}", col(0));
        assert!(col(1).value(0) > 0.5, "{:?}", col(1));
        assert_eq!(col(2).value(0), col(0).value(0));
        assert!(col(2).is_null(1));
        assert!(col(3).is_null(0));
    }

    #[tokio::test]
    async fn text_is_rejected_at_planning() {
        let ctx = SessionContext::new();
        ctx.register_udf(rhythm_p_value_udf().as_ref().clone());
        let err = ctx
            .sql("SELECT rhythm_p_value('x', 0.1)")
            .await
            .expect_err("text must be rejected");
        assert!(err.to_string().contains("rhythm_p_value"), "{err}");
    }
}
