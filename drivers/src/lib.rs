//! Device protocols.
#![forbid(unsafe_code)]
