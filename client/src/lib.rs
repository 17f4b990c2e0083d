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

pub(crate) mod clock;
pub mod columns;
pub mod connect;
pub mod demo;
pub mod embedded;
pub mod eval;
pub mod fingerprint;
#[doc(hidden)]
pub mod fuzzing;
pub mod hunt;
pub mod ingest;
pub mod lab;
pub mod location;
pub mod manifest;
pub mod output;
pub mod report;
pub mod schema;
pub mod serve;
pub mod sql;
pub mod tables;
