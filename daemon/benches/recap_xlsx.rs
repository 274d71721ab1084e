//! Recap benchmark (being written).
fn main() {}
