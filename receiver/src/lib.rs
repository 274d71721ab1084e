//! The reference provincial receiver: what the province's server must do with Hadir batches,
//! small enough to read in one sitting. It verifies each batch's signature against the key
//! registered for the gateway (or pins the first key seen, in trial mode), checks that the batch
//! continues the gateway's hash chain, stores new records once by id in SQLite, and only then
//! acknowledges.
#![forbid(unsafe_code)]

pub mod db;
pub mod http;
pub mod mqtt;

pub use db::{Outcome, ReceiverDb};
