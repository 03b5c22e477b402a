//! The Vcity ledger: a pure, synchronous, deterministic state machine (whitepaper §2.3, Base
//! layer; rules §1, §3).
//!
//! `(state, block) -> (state', receipts, events)`: [`Ledger::execute`] takes the committed state
//! and a block's context (height, time, beacon, proposer, all decided by consensus) and its
//! transactions, and returns an [`Execution`]: the state changes, receipts, events and the new
//! state root, without touching the committed state. [`Ledger::commit`] then applies it. The same
//! function serves the proposer (which drops transactions that cannot be included), a validator
//! checking a proposal (which rejects the whole block instead), and the mempool
//! ([`Ledger::check_tx`]).
//!
//! Inside this crate there is no I/O, no clock, no OS randomness, no threads, no floating point
//! and no hash-map iteration; `clippy.toml` beside this file and the lints below enforce it.
//!
//! Components own their key spaces and are reached only through their functions:
//! [`chain`] (height, time, beacon, parameters, validators), [`auth`] (nonces), [`bank`]
//! (balances and supply), [`vesting`] (the rules §2 genesis allocation), [`nft`] (Genesis NFTs),
//! [`ve`] (vote escrow), [`pool`] (the VCAI/USD constant-product pool), [`treasury`] (the
//! buyback), [`rewards`] (the per-block distributor), [`nodes`] (the compute, scheduler and
//! verifier node registry), [`jobs`] (jobs with escrow, assignment, results and settlement),
//! [`incentives`] (the Ecosystem Incentive Pool: release, supply-demand controller, Proof of
//! Capacity, Proof of Delivery and rebates), [`verification`], [`capacity`], [`disputes`],
//! [`slashing`] and [`reputation`] (the trust layer: sampled re-execution, capacity challenges,
//! referee rounds, slashes with appeals, and the reputation score), [`governance`] (the
//! parameter authority that stands in for the DAO), [`agents`] (agent NFTs, versions, sales,
//! licences, calls and ratings). The modules sit in folders by the whitepaper's parts:
//! `token/`, `economy/`, `compute/`, `trust/`, `governance/`, `agents/`.
//! The order in which the block hooks run is written down once, in
//! [`app`].

#![deny(clippy::float_arithmetic)]
#![forbid(unsafe_code)]

pub mod agents;
pub mod app;
pub mod auth;
pub mod chain;
pub mod compute;
pub mod economy;
mod error;
pub mod genesis;
pub mod governance;
mod invariants;
mod keys;
pub mod smt;
pub mod state;
mod table;
mod timers;
pub mod token;
pub mod trust;

pub use compute::{jobs, nodes};
pub use economy::{incentives, pool, rewards, treasury, ve};
pub use token::{bank, nft, repricing, vesting};
pub use trust::{attestation, capacity, disputes, reputation, slashing, verification};

/// `GET /v1/params`: the governance parameters daemons need (matching, heartbeats, deadlines).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParamsView {
    /// Node registry (rules §4).
    pub nodes: nodes::NodeParams,
    /// Jobs (rules §5).
    pub jobs: jobs::JobParams,
    /// Treasury buyback (rules §8).
    pub treasury: treasury::TreasuryParams,
    /// Incentive pool and controller (rules §6).
    #[serde(default)]
    pub incentives: incentives::IncentiveParams,
    /// Verification, capacity challenges, disputes and slashing (rules §10).
    #[serde(default)]
    pub trust: trust::TrustParams,
}

/// The parameters in `state`.
pub fn params_view(state: &impl StateRead) -> ParamsView {
    ParamsView {
        nodes: nodes::params(state),
        jobs: jobs::params(state),
        treasury: treasury::params(state),
        incentives: incentives::params(state),
        trust: trust::params(state),
    }
}

pub use app::{BlockContext, BlockError, Execution, Footprint, Ledger, Mode, PreparedTx};
pub use error::TxError;
pub use genesis::{Genesis, GenesisAccount, GenesisError, GenesisValidator};
pub use invariants::audit_supply;
pub use state::{Layer, Overlay, ReadLog, Reads, State, StateRead, Writes};
pub use table::HashKey;
