//! Real vendor evidence (tests/data, sources and licences in tests/data/LICENSES.md) must verify
//! at a fixed time inside its validity window, and every tampered copy must fail.

mod amd;
mod binding;
mod intel;
mod nvidia;
mod samples;
