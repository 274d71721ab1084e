//! Recap correctness and export tests (being written).
