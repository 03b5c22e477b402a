//! The chain component: what consensus tells the ledger about each block (height, time, random
//! beacon) and the chain-wide parameters and validator set fixed in genesis.
//!
//! At the start of every block, `begin_block` records the block's height, time and beacon in
//! state, so every other component reads time from state and never from a clock (rules §1). The
//! validator set lives here: governance proposals change it, and the consensus engine reads it
//! after each commit, so a change made by the block at height h decides height h + 1 on.
//!
//! Keys (owned here): `chain/chain_id`, `chain/height`, `chain/time_ms`, `chain/genesis_time_ms`,
//! `chain/beacon`, `chain/params`, `chain/validators`, `chain/previous_validators`.

use crate::app::BlockContext;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::governance::{MAX_VALIDATORS, MAX_VALIDATOR_NAME_BYTES};
use vcity_types::{AccountId, Amount, Hash, Height};

const KEY_CHAIN_ID: &[u8] = b"chain/chain_id";
const KEY_HEIGHT: &[u8] = b"chain/height";
const KEY_TIME_MS: &[u8] = b"chain/time_ms";
const KEY_GENESIS_TIME_MS: &[u8] = b"chain/genesis_time_ms";
const KEY_BEACON: &[u8] = b"chain/beacon";
const KEY_PARAMS: &[u8] = b"chain/params";
const KEY_VALIDATORS: &[u8] = b"chain/validators";
const KEY_PREVIOUS_VALIDATORS: &[u8] = b"chain/previous_validators";

/// The set a block's changes replaced, kept so that the next block can check the certificate
/// of the block that made the change (it was decided by the old set).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct PreviousValidators {
    /// The block that changed the set.
    height: Height,
    /// The set before it.
    validators: Vec<Validator>,
}

/// Chain-wide limits and prices. Every field is a governance parameter (docs/rules.md: "(gov)").
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

/// Genesis time, Unix ms: the origin of every period (rules §1).
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

impl Params {
    /// Why the limits cannot work, if they cannot: every limit positive, a block fits one
    /// maximal transaction.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_tx_bytes == 0
            || self.max_block_txs == 0
            || self.max_messages_per_tx == 0
            || self.max_block_bytes < self.max_tx_bytes
        {
            return Err(
                "limits must be positive and a block must fit one maximal transaction".into(),
            );
        }
        Ok(())
    }
}

/// A proposal's limits: [`Params::validate`], plus transactions of 1 KiB to 1 MiB with 1 to 256
/// messages, blocks of at most 64 MiB and 1 to 100,000 transactions, and a minimum fee of at
/// most 1 USD (a chain nobody can afford to use is a takeover too).
pub(crate) fn set_params(state: &mut Overlay<'_>, new: &Params) -> Result<(), TxError> {
    new.validate().map_err(TxError::InvalidParam)?;
    let max_fee = Amount::whole(1, vcity_types::Denom::Usd).expect("fits");
    if !(1_024..=1_048_576).contains(&new.max_tx_bytes)
        || !(1..=256).contains(&new.max_messages_per_tx)
        || new.max_block_bytes > 64 * 1_048_576
        || new.max_block_txs > 100_000
        || new.min_fee_usd > max_fee
    {
        return Err(TxError::InvalidParam(
            "transactions 1 KiB to 1 MiB with 1 to 256 messages, blocks up to 64 MiB and \
             100,000 transactions, a minimum fee of at most 1 USD"
                .into(),
        ));
    }
    state.put(KEY_PARAMS.to_vec(), new);
    Ok(())
}

/// Checks one validator entry: positive power and a printable name of at most
/// [`MAX_VALIDATOR_NAME_BYTES`] bytes.
pub(crate) fn check_validator(validator: &Validator) -> Result<(), TxError> {
    if validator.power == 0
        || validator.name.len() > MAX_VALIDATOR_NAME_BYTES
        || validator.name.chars().any(char::is_control)
    {
        return Err(TxError::InvalidProposal(format!(
            "validator {}: power must be positive and the name at most \
             {MAX_VALIDATOR_NAME_BYTES} bytes of printable text",
            validator.public_key
        )));
    }
    Ok(())
}

/// Replaces the validator set (a proposal's validator actions): 1 to
/// [`MAX_VALIDATORS`] validators with unique keys, printable names and positive power.
pub(crate) fn set_validators(
    state: &mut Overlay<'_>,
    validators: Vec<Validator>,
) -> Result<(), TxError> {
    if validators.is_empty() || validators.len() > MAX_VALIDATORS {
        return Err(TxError::InvalidProposal(format!(
            "the chain needs 1 to {MAX_VALIDATORS} validators, not {}",
            validators.len()
        )));
    }
    let mut keys = std::collections::BTreeSet::new();
    let mut total_power = 0u64;
    for validator in &validators {
        if !keys.insert(validator.public_key) {
            return Err(TxError::Duplicate(format!(
                "validator {} is listed twice",
                validator.public_key
            )));
        }
        check_validator(validator)?;
        total_power = total_power
            .checked_add(validator.power)
            .ok_or(TxError::Overflow)?;
    }
    let block = height(state);
    let recorded = state
        .get::<PreviousValidators>(KEY_PREVIOUS_VALIDATORS)
        .is_some_and(|previous| previous.height == block);
    if !recorded {
        // The first change in this block: the set before it decided this block.
        let before = PreviousValidators {
            height: block,
            validators: self::validators(state),
        };
        state.put(KEY_PREVIOUS_VALIDATORS.to_vec(), &before);
    }
    state.put(KEY_VALIDATORS.to_vec(), &validators);
    state.emit(vcity_types::event::Event::ValidatorsChanged {
        count: validators.len() as u32,
        total_power,
    });
    Ok(())
}

/// The set that decided the last executed block: the current set, unless that block changed it.
/// A node checks the last block's certificate against this set.
pub fn last_block_validators(state: &impl StateRead) -> Vec<Validator> {
    match state.get::<PreviousValidators>(KEY_PREVIOUS_VALIDATORS) {
        Some(previous) if previous.height == height(state) => previous.validators,
        _ => validators(state),
    }
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
