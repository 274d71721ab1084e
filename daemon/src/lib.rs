//! Hadir, the attendance edge gateway. The data path is device → driver → verify → store →
//! forward; see `docs/ARCHITECTURE.md`.
// One audited exception: `memory::tune_allocator` (mallopt).
#![deny(unsafe_code)]

pub mod attendance;
pub mod cli;
pub mod demo;
pub mod devices;
pub mod doctor;
pub mod face;
pub mod forward;
pub mod http;
pub mod lifecycle;
pub mod logging;
pub mod memory;
pub mod operator_cli;
pub mod record;
pub mod runtime;
pub mod store;
pub mod tablets;
pub mod verify;
pub mod zk_cli;
