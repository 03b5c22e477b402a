//! The chain component: what consensus tells the ledger about each block (height, time, random
//! beacon) and the chain-wide parameters and validator set fixed in genesis.
//!
//! At the start of every block, `begin_block` records the block's height, time and beacon in
//! state, so every other component reads time from state and never from a clock (SPEC §1). The
//! validator set lives here so that a later component (staking, governance) can change it and the
//! consensus engine can read it per height.
//!
//! Keys (owned here): `chain/chain_id`, `chain/height`, `chain/time_ms`, `chain/genesis_time_ms`,
//! `chain/beacon`,
//! `chain/params`, `chain/validators`, `chain/authority`.
//!
//! The governance authority (optional, from genesis) is the one account whose `SetParam`
//! messages change governance parameters until the DAO exists; a chain without one has fixed
//! parameters.

use crate::app::BlockContext;
use crate::state::{Overlay, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::{AccountId, Amount, Hash, Height};

const KEY_CHAIN_ID: &[u8] = b"chain/chain_id";
const KEY_HEIGHT: &[u8] = b"chain/height";
const KEY_TIME_MS: &[u8] = b"chain/time_ms";
const KEY_GENESIS_TIME_MS: &[u8] = b"chain/genesis_time_ms";
const KEY_BEACON: &[u8] = b"chain/beacon";
const KEY_PARAMS: &[u8] = b"chain/params";
const KEY_VALIDATORS: &[u8] = b"chain/validators";
const KEY_AUTHORITY: &[u8] = b"chain/authority";

/// The governance authority named in genesis, if any.
pub fn authority(state: &impl StateRead) -> Option<AccountId> {
    state.get(KEY_AUTHORITY)
}

pub(crate) fn set_authority(state: &mut Overlay<'_>, authority: &AccountId) {
    state.put(KEY_AUTHORITY.to_vec(), authority);
}

/// Chain-wide limits and prices. Every field is a governance parameter (SPEC: "(gov)").
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Smallest fee a transaction may pay, USD base units.
    pub min_fee_usd: Amount,
    /// Largest encoded transaction, bytes.
    pub max_tx_bytes: u32,
    /// Most messages in one transaction.
    pub max_messages_per_tx: u32,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Largest sum of transaction bytes in one block.
    pub max_block_bytes: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            min_fee_usd: Amount::new(1_000), // 0.001 USD
            max_tx_bytes: 64 * 1024,
            max_messages_per_tx: 64,
            max_block_txs: 20_000,
            max_block_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A consensus validator.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    /// A display name.
    pub name: String,
    /// Its ed25519 public key.
    pub public_key: AccountId,
    /// Its voting power.
    pub power: u64,
}

/// Genesis time, Unix ms: the origin of every period (SPEC §1).
pub fn genesis_time_ms(state: &impl StateRead) -> u64 {
    state
        .get(KEY_GENESIS_TIME_MS)
        .expect("genesis time is written at genesis")
}

/// The chain id.
pub fn chain_id(state: &impl StateRead) -> String {
    state
        .get(KEY_CHAIN_ID)
        .expect("chain id is written at genesis")
}

/// Height of the last executed block (0 at genesis).
pub fn height(state: &impl StateRead) -> Height {
    state.get(KEY_HEIGHT).unwrap_or_default()
}

/// Time of the last executed block (genesis time at genesis), Unix ms.
pub fn time_ms(state: &impl StateRead) -> u64 {
    state.get(KEY_TIME_MS).unwrap_or_default()
}

/// The last block's beacon.
pub fn beacon(state: &impl StateRead) -> Hash {
    state.get(KEY_BEACON).unwrap_or_default()
}

/// Current parameters.
pub fn params(state: &impl StateRead) -> Params {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// Current validator set.
pub fn validators(state: &impl StateRead) -> Vec<Validator> {
    state.get(KEY_VALIDATORS).unwrap_or_default()
}

/// The beacon the chain starts with, before any block.
pub fn genesis_beacon(chain_id: &str) -> Hash {
    Hash::of(
        vcity_types::hash::Domain::Beacon,
        &[b"genesis", chain_id.as_bytes()],
    )
}

pub(crate) fn init(
    state: &mut Overlay<'_>,
    chain_id: &str,
    genesis_time_ms: u64,
    params: &Params,
    validators: &[Validator],
) {
    state.put(KEY_CHAIN_ID.to_vec(), &chain_id.to_string());
    state.put(KEY_HEIGHT.to_vec(), &Height(0));
    state.put(KEY_TIME_MS.to_vec(), &genesis_time_ms);
    state.put(KEY_GENESIS_TIME_MS.to_vec(), &genesis_time_ms);
    state.put(KEY_BEACON.to_vec(), &genesis_beacon(chain_id));
    state.put(KEY_PARAMS.to_vec(), params);
    state.put(KEY_VALIDATORS.to_vec(), &validators.to_vec());
}

/// The `begin_block` hook: records the block's height, time and beacon. Public so benchmarks and
/// tools can set a block context on an overlay; only [`crate::Ledger::commit`] changes committed state.
pub fn begin_block(state: &mut Overlay<'_>, context: &BlockContext) {
    state.put(KEY_HEIGHT.to_vec(), &context.height);
    state.put(KEY_TIME_MS.to_vec(), &context.time_ms);
    state.put(KEY_BEACON.to_vec(), &context.beacon);
}
