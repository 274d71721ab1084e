//! Device protocols.
#![forbid(unsafe_code)]

pub mod zk;
