//! What every Huntsman room shares, and nothing else: the event lake's schema and the
//! column mapping onto it, the typed run manifest and run ids, a data set's fingerprint,
//! calendar arithmetic, and the places data is read from and written to.
//!
//! The lab generator (`huntsman-lab`), ingest (`huntsman-ingest`) and the client's hunts
//! all depend on this crate and on none of each other, so the lake's layout is spelled
//! once.
//!
//! ```
//! use huntsman_core::schema::{lake_schema, PROCESSGUID};
//! assert!(lake_schema().field_with_name(PROCESSGUID).is_ok());
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod clock;
pub mod columns;
pub mod fingerprint;
pub mod location;
pub mod manifest;
pub mod schema;
