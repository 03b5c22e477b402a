//! vcity-types' integration tests: one binary (DEVELOPERS.md).

mod sdk_vectors;
