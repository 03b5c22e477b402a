//! The Vcity vocabulary: everything the ledger, the node, the SDK and the CLI agree on.
//!
//! - [`Amount`] and [`Denom`]: money in base units (rules §1: VCAI has 18 decimals, USD 6),
//!   checked arithmetic only, every rounding named.
//! - [`AccountId`] (an ed25519 public key), [`Did`] (W3C `did:key`, rules §3), [`Hash`], [`Height`].
//! - [`codec`]: the one canonical binary encoding (borsh) and [`hash`]: the one hash (BLAKE3 with a
//!   one-byte domain tag).
//! - [`tx`]: signed transactions and their typed messages; [`block`]: headers and blocks.
//! - [`merkle`]: the binary Merkle root of lists and the sparse-Merkle-tree proof format and
//!   verifier (the tree itself lives in the ledger).
//! - [`event`], [`receipt`]: what execution reports. [`api`]: the JSON shapes of the HTTP API.
//! - [`agents`]: agent NFTs, versions, licences, invocations and ratings (AaaS).
//! - [`incentives`]: governance parameter changes, fee and VRAM tiers, reward parts.
//! - [`trust`]: verification levels, signed result statements, checks, capacity challenges,
//!   disputes, slashes and service records.
//! - [`scale`]: the VCAI unit scale that repricing changes (nominal = internal × scale).
//! - [`ed25519`]: signature validity under ZIP-215, single and batched with the same answers.
//! - [`keyfile`]: the key file format of the keyring and the validator key.
//!
//! Nothing here reads the clock or draws randomness; only [`keyfile`] touches the filesystem.

pub mod agents;
mod amount;
pub mod api;
pub mod attestation;
pub mod block;
pub mod codec;
pub mod compute;
mod did;
pub mod ed25519;
pub mod event;
pub mod governance;
pub mod hash;
mod ids;
pub mod incentives;
pub mod keyfile;
pub mod merkle;
pub mod receipt;
pub mod scale;
pub mod trust;
pub mod tx;
pub mod wide;

pub use amount::{Amount, AmountError, Denom, Rounding};
pub use did::{Did, DidError};
pub use hash::Hash;
pub use ids::{AccountId, Height, IdError};
pub use scale::Scale;
