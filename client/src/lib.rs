//! The `huntsman` client: connects to an embedded or remote Ballista cluster, registers
//! the Parquet tables a hunt reads, runs SQL hunts, and generates lab data.
//!
//! It owns the command line and everything a person waits for; the SQL functions and the
//! session they run in come from `huntsman-udfs`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use huntsman::connect::{Cluster, connect};
//! let ctx = connect(&Cluster::Embedded { parallelism: None, memory_pool: None }).await?;
//! let rows = ctx.sql("SELECT is_private_ip('10.0.0.1')").await?.collect().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod connect;
pub mod demo;
pub mod embedded;
pub mod eval;
#[doc(hidden)]
pub mod fuzzing;
pub mod hunt;
pub mod output;
pub mod report;
pub mod serve;
pub mod sql;
pub mod tables;

// The rooms the client builds on, re-exported under the names its modules and users know.
pub use huntsman_core::{clock, columns, fingerprint, location, manifest, schema};
pub use huntsman_ingest as ingest;
pub use huntsman_lab as lab;
