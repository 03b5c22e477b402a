//! The `vcity` binary end to end, in one test binary (each extra one links every dependency
//! again): devnets, testnets and compute networks started as processes and driven through the
//! CLI, the API, the SDKs and a browser. One binary also lets the slow, mostly waiting tests of
//! every module share the test threads.

mod browser;
mod common;
mod compute;
mod devnet;
mod incentives;
mod testnet;
