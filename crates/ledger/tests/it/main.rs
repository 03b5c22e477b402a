//! The ledger's integration tests, one binary (each extra test binary links every dependency
//! again): blocks built and committed through the public API, with supply audited after each.

mod common;

mod agents;
mod allocation;
mod attestation;
mod governance;
mod incentives;
mod jobs;
mod ledger_rules;
mod nodes;
mod pool;
mod repricing;
mod rewards;
mod trust;
mod ve;
