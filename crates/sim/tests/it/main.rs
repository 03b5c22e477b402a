//! The simulator's integration tests: one binary (DEVELOPERS.md).

mod runs;
