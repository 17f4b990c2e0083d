//! Conversion of Huntsman's typed errors into DataFusion errors at the SQL boundary, so
//! every message starts with the SQL function's name and typed errors survive Ballista's
//! trip across processes.

use datafusion::error::DataFusionError;

/// A planning error (bad signature or literal parameter), prefixed with the function name.
pub fn plan_error(function: &str, message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Plan(format!("{function}: {message}"))
}

/// An execution error caused by the data, prefixed with the function name.
pub fn exec_error(function: &str, message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: {message}"))
}
