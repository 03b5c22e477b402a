//! The genesis file: everything the chain starts from (JSON, see docs/genesis.md).
//!
//! It names the chain, its start time, the USD issuer, the parameters, the initial validators
//! and the funded accounts. Later components add their own optional sections (the SPEC §2
//! allocation table with vesting schedules, the pool seed, the incentive pool) as new fields with
//! defaults, so older genesis files keep loading.

use crate::chain::{Params, Validator};
use crate::state::{Overlay, State, Writes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use vcity_types::{AccountId, Amount, Denom};

/// One funded account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// A label for people (not on chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The account.
    pub id: AccountId,
    /// VCAI base units.
    #[serde(default)]
    pub vcai: Amount,
    /// USD base units.
    #[serde(default)]
    pub usd: Amount,
}

/// One validator.
pub type GenesisValidator = Validator;

/// The genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The chain id every transaction signs over.
    pub chain_id: String,
    /// Unix milliseconds; the first block's time may not be earlier.
    pub genesis_time_ms: u64,
    /// The account that may mint and burn USD.
    pub usd_issuer: AccountId,
    /// Parameters (defaults apply to omitted fields).
    #[serde(default)]
    pub params: Params,
    /// The initial validator set.
    pub validators: Vec<GenesisValidator>,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
}

/// Why a genesis document is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// Bad chain id.
    #[error("chain id must be 1-64 characters of [a-z0-9-], got {0:?}")]
    ChainId(String),
    /// No validators or zero power.
    #[error("genesis needs at least one validator with positive power")]
    NoValidators,
    /// An account listed twice.
    #[error("account {0} is listed twice")]
    DuplicateAccount(AccountId),
    /// Supply overflow.
    #[error("total genesis supply overflows")]
    Overflow,
    /// A parameter that cannot work.
    #[error("invalid parameter: {0}")]
    Params(String),
    /// Not parseable.
    #[error("genesis is not valid JSON: {0}")]
    Json(String),
}

impl Genesis {
    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<Genesis, GenesisError> {
        serde_json::from_str(text).map_err(|error| GenesisError::Json(error.to_string()))
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }

    /// The genesis id: the hash of its canonical JSON (fields in declaration order, compact).
    /// A node's data directory is bound to it, so a node never resumes a chain from another
    /// genesis.
    pub fn hash(&self) -> vcity_types::Hash {
        let json = serde_json::to_vec(self).expect("genesis serializes");
        vcity_types::Hash::of(vcity_types::hash::Domain::Genesis, &[&json])
    }

    /// Checks the document.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let chain_id_ok = !self.chain_id.is_empty()
            && self.chain_id.len() <= 64
            && self
                .chain_id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !chain_id_ok {
            return Err(GenesisError::ChainId(self.chain_id.clone()));
        }
        if self.validators.is_empty() || self.validators.iter().any(|v| v.power == 0) {
            return Err(GenesisError::NoValidators);
        }
        if self.params.max_tx_bytes == 0
            || self.params.max_block_txs == 0
            || self.params.max_messages_per_tx == 0
            || self.params.max_block_bytes < self.params.max_tx_bytes
        {
            return Err(GenesisError::Params(
                "limits must be positive and a block must fit one maximal transaction".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for account in &self.accounts {
            if !seen.insert(account.id) {
                return Err(GenesisError::DuplicateAccount(account.id));
            }
        }
        Ok(())
    }

    /// The state at height 0.
    pub fn initial_state(&self) -> Result<State, GenesisError> {
        self.validate()?;
        let empty = State::default();
        let mut overlay = Overlay::new(&empty);
        crate::chain::init(
            &mut overlay,
            &self.chain_id,
            self.genesis_time_ms,
            &self.params,
            &self.validators,
        );
        crate::bank::init(&mut overlay, &self.usd_issuer);
        for account in &self.accounts {
            for (denom, amount) in [(Denom::Vcai, account.vcai), (Denom::Usd, account.usd)] {
                if !amount.is_zero() {
                    crate::bank::mint(&mut overlay, &account.id, denom, amount)
                        .map_err(|_| GenesisError::Overflow)?;
                }
            }
        }
        let (writes, _events): (Writes, _) = overlay.into_parts();
        let mut state = State::default();
        state.apply(&writes);
        Ok(state)
    }
}
