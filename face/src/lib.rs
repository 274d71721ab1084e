//! Face verification for Hadir on tract-onnx: bounded image decoding ([`image`]), a
//! BlazeFace-style detector with anchor decoding and NMS written here ([`detect`]), square
//! face crops with optional eye alignment ([`sample`]), an embedding model, and cosine matching
//! against enrolled templates ([`matcher`]).
//!
//! The pipeline is model-agnostic: model files, input sizes, layout, channel order,
//! normalisation, anchors and thresholds come from the `[face]` config section. A
//! [`FaceEngine`] loads and optimises both models once; each worker thread runs it through its
//! own [`Session`]. Nothing here does async I/O: inference is CPU-bound and belongs on a
//! dedicated thread.
#![forbid(unsafe_code)]

pub mod detect;
#[cfg(feature = "engine")]
mod engine;
pub mod image;
pub mod matcher;
pub mod quality;
pub mod sample;

#[cfg(feature = "engine")]
pub use engine::{
    Analysis, Candidate, Check, Face, FaceEngine, FaceError, Rejection, Session, PROMINENT_RATIO,
};
pub use image::{Accept, ImageError, ImageFormat, Limits, RgbImage};
pub use matcher::{Decision, Embedding, Thresholds};
pub use quality::Quality;
