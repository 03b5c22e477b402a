//! The Vcity application replicated by Malachite, an existing Tendermint BFT engine (issue 7;
//! whitepaper §2.3). The engine orders opaque blocks; the application side is the consensus
//! seam's [`vcity_consensus::Application`], the same one the solo engine drives, so both engines
//! produce the same blocks, certificates and state roots.
//!
//! - [`context`]: Malachite's `Context` (heights, ed25519 validator addresses, blocks as values,
//!   proposals, votes, a one-part proposal stream, the signing scheme).
//! - [`signing`]: domain-separated ed25519 signatures; a precommit for a block signs the commit
//!   certificate's bytes.
//! - [`codec`]: borsh for the network and the write-ahead log.
//! - [`app`]: the loop answering the engine's messages with the application.
//! - [`node`]: a validator (engine + loop) over a key, a home directory and gossip settings.

pub mod app;
pub mod codec;
pub mod context;
pub mod node;
pub mod signing;

pub use node::{start, RunningValidator, ValidatorOptions};
