//! One shape for every model function.
//!
//! A model family is its parameters, its partial training state and its scoring. It says
//! so by implementing [`FitSpec`] (the `*_fit` aggregate: the input, the literal
//! parameters, how they make an empty [`FitPartial`](crate::fit::FitPartial)) and [`ScoreSpec`] (the scoring
//! functions: how a stored model decodes and how it scores a batch). [`FitUdaf`] and
//! [`ScoreUdf`] do the rest once for every family: the signature and its checks, reading
//! literal parameters, the documentation (syntax and arguments generated from the
//! parameter list), the distributed accumulator ([`crate::fit`]), resolving the model
//! argument (bytes or a URI inside the model roots) and the per-process model cache
//! ([`crate::scoring`]).
//!
//! ```
//! use huntsman_udfs::model_fn::{Param, syntax};
//! let params = [Param::integer("k", "clusters"), Param::integer("seed", "random seed")];
//! assert_eq!(syntax("kmeans_fit", "features", &params, 1), "kmeans_fit(features, k [, seed])");
//! ```

mod aggregate;
mod params;
mod scalar;

pub use aggregate::{FitSpec, FitUdaf};
pub use params::{Literals, Param, ParamKind, syntax};
pub use scalar::{ScoreSpec, ScoreUdf};

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    async fn planning_error(sql: &str) -> String {
        let ctx = SessionContext::new();
        ctx.register_udaf(crate::kmeans::kmeans_fit_udaf().as_ref().clone());
        ctx.register_udf(crate::kmeans::kmeans_assign_udf().as_ref().clone());
        ctx.register_udaf(crate::iforest::iforest_fit_udaf().as_ref().clone());
        let result = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.map(|_| ()),
            Err(e) => Err(e),
        };
        result.expect_err(sql).to_string()
    }

    #[tokio::test]
    async fn calls_are_checked_against_the_declared_parameters() {
        let rows = "FROM (VALUES ([0.0, 1.0], 2), ([1.0, 0.0], 2)) AS t(v, k)";
        for (sql, expected) in [
            (
                format!("SELECT kmeans_fit(v) {rows}"),
                "kmeans_fit: takes (features, k [, seed [, max_iter]]), got 1 arguments",
            ),
            (
                format!("SELECT kmeans_fit(v, k) {rows}"),
                "kmeans_fit: k must be a literal integer",
            ),
            (
                format!("SELECT kmeans_fit(v, -1) {rows}"),
                "kmeans_fit: k must be at least 1 (got -1)",
            ),
            (
                format!("SELECT kmeans_fit(v, 'two') {rows}"),
                "kmeans_fit: k must be an integer, got Utf8",
            ),
            (
                format!("SELECT iforest_fit(v, 10, 16, 1, 'x') {rows}"),
                "iforest_fit: contamination must be a number, got Utf8",
            ),
            (
                format!("SELECT kmeans_assign(v, 'model.bin', 3) {rows}"),
                "kmeans_assign: takes (features, model), got 3 arguments",
            ),
        ] {
            let err = planning_error(&sql).await;
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }
}
