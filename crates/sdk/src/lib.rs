//! The Vcity Rust SDK: everything a program needs to use the network without the CLI.
//!
//! - [`Keyring`]: named ed25519 keys in a directory (mode 0700, files 0600).
//! - [`transaction`]: build and sign transactions offline.
//! - [`package`]: the agent package format (docs/agents.md).
//! - [`confidential`]: the keys and encryption of confidential jobs (docs/attestation.md).
//! - [`Client`]: the node's HTTP API, typed; refusals come back as [`ClientError::Rejected`] with
//!   the ledger's stable code; [`Client::proof`] verifies what the node returns before handing it
//!   over; [`Client::send`] fills in chain id and nonce, signs, submits and waits for the receipt.

pub mod client;
pub mod compute;
pub mod confidential;
pub mod keyring;
pub mod package;
pub mod transaction;

pub use client::{Client, ClientError};
pub use keyring::{Keyring, KeyringError};
pub use vcity_types as types;

/// The one matching rule, shared with the ledger and the scheduler (principle 8): whether a node
/// fits a task, and why no node does.
pub mod matching {
    pub use vcity_ledger::jobs::{explain, fits, Misfit};
}
