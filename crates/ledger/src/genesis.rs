//! The genesis file: everything the chain starts from (JSON, see docs/genesis.md).
//!
//! It names the chain, its start time, the USD issuer, the parameters, the initial validators
//! and the funded accounts. Later components add their own optional sections (the rules §2
//! allocation table with vesting schedules, the pool seed, the incentive pool) as new fields with
//! defaults, so older genesis files keep loading.

use crate::chain::{Params, Validator};
use crate::error::TxError;
use crate::state::{Overlay, State, Writes};
use crate::vesting::Schedule;
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

/// One rules §2 allocation (e.g. `private_sale`) and its grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAllocation {
    /// Its name, recorded on every grant.
    pub name: String,
    /// The grants.
    pub grants: Vec<GenesisGrant>,
}

/// One beneficiary's grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisGrant {
    /// Who receives it.
    pub beneficiary: AccountId,
    /// How it is released.
    #[serde(flatten)]
    pub schedule: Schedule,
}

/// The Genesis NFTs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisNfts {
    /// Each NFT's entitlement [default: rules §2, 10,000 VCAI, 25% at TGE, 6 monthly steps].
    #[serde(default = "crate::nft::spec_entitlement")]
    pub entitlement: Schedule,
    /// The first holder of each NFT, in id order (ids start at 1).
    pub owners: Vec<AccountId>,
}

/// The genesis document. `Default` is an empty document for struct-update syntax, not a
/// valid genesis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// rules §2 allocations with vesting schedules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<GenesisAllocation>,
    /// VCAI for the Reserve & Governance Fund (module account `reserve`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reserve_vcai: Amount,
    /// VCAI for the Ecosystem Incentive Pool (module account `incentive_pool`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub incentive_pool_vcai: Amount,
    /// Genesis NFTs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_nfts: Option<GenesisNfts>,
    /// The VCAI/USD pool seed; its shares belong to the treasury.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<GenesisPool>,
    /// Buyback parameters [default: 24 h interval, 100 bps maximum premium].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treasury: Option<crate::treasury::TreasuryParams>,
    /// Node registry parameters [default: rules §4].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<crate::nodes::NodeParams>,
    /// Job parameters [default: rules §5].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<crate::jobs::JobParams>,
    /// Incentive pool and controller parameters [default: rules §6].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incentives: Option<crate::incentives::IncentiveParams>,
    /// Verification, capacity challenge, dispute and slashing parameters [default: rules §10].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<crate::trust::TrustParams>,
    /// TEE attestation [default: an empty policy (no evidence is accepted until governance
    /// registers measurements), verdicts valid 7 days, a new nonce every hour, 9 reports per
    /// block, TEE nodes sampled at half their level's rate] (docs/attestation.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<crate::attestation::AttestationParams>,
    /// Governance parameters [default: rules §9: a week of discussion, a week of voting, 4%
    /// quorum, a 2-day timelock]. A devnet uses minutes so a proposal passes during a demo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<vcity_types::governance::GovernanceParams>,
    /// Agent fees [default: rules §11 as in docs/agents.md: 10 USD to mint, 2.5% commission on
    /// sales, 10% of licence and call fees, 5 ratings before discovery ranks by score].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<vcity_types::agents::AgentParams>,
    /// Vote-escrow locks made at genesis from the accounts' genesis balances (a devnet locks
    /// alice's VCAI so that she can propose at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ve_locks: Vec<GenesisLock>,
    /// Refused if present: no key has instant powers; parameters change only by proposal
    /// (docs/governance.md).
    #[serde(default, skip_serializing)]
    pub governance_authority: Option<serde_json::Value>,
}

/// A vote-escrow lock at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisLock {
    /// Whose VCAI (from its genesis balance, TGE grant parts included).
    pub account: AccountId,
    /// VCAI base units.
    pub amount: Amount,
    /// Unlocks at this many weeks after genesis (1 to 208).
    pub unlock_week: u32,
}

/// The pool seed (rules §8: from Initial Liquidity and a USD amount in genesis config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisPool {
    /// VCAI base units.
    pub vcai: Amount,
    /// USD base units (minted for the seed: the bridge's opening deposit).
    pub usd: Amount,
}

fn is_zero(amount: &Amount) -> bool {
    amount.is_zero()
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
    /// An allocation, grant or NFT section that cannot work.
    #[error("invalid genesis: {0}")]
    Invalid(String),
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
        self.params.validate().map_err(GenesisError::Params)?;
        if self.governance_authority.is_some() {
            return Err(GenesisError::Invalid(
                "governance_authority is gone: parameters and funds change only by passed \
                 proposals (docs/governance.md); remove the field"
                    .into(),
            ));
        }
        if let Some(governance) = &self.governance {
            crate::governance::validate_params(governance).map_err(GenesisError::Params)?;
        }
        let mut seen = BTreeSet::new();
        for account in &self.accounts {
            if !seen.insert(account.id) {
                return Err(GenesisError::DuplicateAccount(account.id));
            }
        }
        let mut names = BTreeSet::new();
        for allocation in &self.allocations {
            if allocation.name.is_empty() || !names.insert(allocation.name.as_str()) {
                return Err(GenesisError::Invalid(format!(
                    "allocation name {:?} is empty or repeated",
                    allocation.name
                )));
            }
            for grant in &allocation.grants {
                grant.schedule.validate().map_err(|reason| {
                    GenesisError::Invalid(format!(
                        "{} grant to {}: {reason}",
                        allocation.name, grant.beneficiary
                    ))
                })?;
            }
        }
        if let Some(nfts) = &self.genesis_nfts {
            nfts.entitlement
                .validate()
                .map_err(|reason| GenesisError::Invalid(format!("NFT entitlement: {reason}")))?;
            if nfts.owners.len() > crate::nft::MAX_NFTS as usize {
                return Err(GenesisError::Invalid(format!(
                    "{} Genesis NFTs, more than {}",
                    nfts.owners.len(),
                    crate::nft::MAX_NFTS
                )));
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
        for allocation in &self.allocations {
            for grant in &allocation.grants {
                crate::vesting::init_grant(
                    &mut overlay,
                    &grant.beneficiary,
                    &allocation.name,
                    &grant.schedule,
                )
                .map_err(|error| GenesisError::Invalid(error.to_string()))?;
            }
        }
        for (account, amount) in [
            (crate::vesting::reserve_account(), self.reserve_vcai),
            (
                crate::vesting::incentive_pool_account(),
                self.incentive_pool_vcai,
            ),
        ] {
            if !amount.is_zero() {
                crate::bank::mint(&mut overlay, &account, Denom::Vcai, amount)
                    .map_err(|_| GenesisError::Overflow)?;
            }
        }
        if let Some(nfts) = &self.genesis_nfts {
            crate::nft::init(&mut overlay, &nfts.entitlement, &nfts.owners)
                .map_err(|error| GenesisError::Invalid(error.to_string()))?;
        }
        if let Some(params) = &self.treasury {
            if params.buyback_interval_s == 0 || params.max_premium_bps > 10_000 {
                return Err(GenesisError::Params(
                    "buyback interval must be positive and the premium at most 10,000 bps".into(),
                ));
            }
            crate::treasury::init(&mut overlay, params);
        }
        if let Some(params) = &self.nodes {
            if params.heartbeat_interval_s == 0 {
                return Err(GenesisError::Params(
                    "the heartbeat interval must be positive".into(),
                ));
            }
            crate::nodes::init(&mut overlay, params);
        }
        if let Some(params) = &self.jobs {
            if params.bucket_s == 0
                || params.network_fee_ppm > 1_000_000
                || params.max_attempts == 0
            {
                return Err(GenesisError::Params(
                    "job buckets must be positive, the fee at most 100% and attempts at least 1"
                        .into(),
                ));
            }
            crate::jobs::init(&mut overlay, params);
        }
        let incentive_params = self.incentives.clone().unwrap_or_default();
        incentive_params.validate().map_err(GenesisError::Params)?;
        crate::incentives::init(&mut overlay, &incentive_params, self.incentive_pool_vcai);
        let trust_params = self.trust.clone().unwrap_or_default();
        trust_params.validate().map_err(GenesisError::Params)?;
        crate::trust::init(&mut overlay, &trust_params);
        crate::attestation::init(&mut overlay, &self.attestation.clone().unwrap_or_default())
            .map_err(|error| GenesisError::Params(format!("attestation: {error}")))?;
        crate::governance::init(&mut overlay, &self.governance.clone().unwrap_or_default());
        if let Some(params) = &self.agents {
            crate::agents::init(&mut overlay, params)
                .map_err(|error| GenesisError::Params(format!("agents: {error}")))?;
        }
        if let Some(pool) = &self.pool {
            let treasury = crate::bank::treasury();
            let invalid = |error: TxError| GenesisError::Invalid(format!("pool seed: {error}"));
            crate::bank::mint(&mut overlay, &treasury, Denom::Vcai, pool.vcai).map_err(invalid)?;
            crate::bank::mint(&mut overlay, &treasury, Denom::Usd, pool.usd).map_err(invalid)?;
            crate::pool::seed(&mut overlay, &treasury, &treasury, pool.vcai, pool.usd)
                .map_err(invalid)?;
        }
        for lock in &self.ve_locks {
            crate::ve::execute_lock(
                &mut overlay,
                &lock.account,
                &vcity_types::tx::VeLock {
                    amount: lock.amount,
                    unlock_week: lock.unlock_week,
                },
            )
            .map_err(|error| {
                GenesisError::Invalid(format!("ve lock of {}: {error}", lock.account))
            })?;
        }
        let (writes, _events): (Writes, _) = overlay.into_parts();
        let mut state = State::default();
        state.apply(&writes);
        Ok(state)
    }
}

/// Who receives what in [`Genesis::with_spec_allocation`].
#[derive(Debug, Clone)]
pub struct SpecBeneficiaries {
    /// The Private Sale grant (rules §2 allows per-round terms; this is one round).
    pub private_sale: AccountId,
    /// The Public Sale grant.
    pub public_sale: AccountId,
    /// The Core Team grant.
    pub core_team: AccountId,
    /// The Strategic Advisors grant.
    pub advisors: AccountId,
    /// Receives the Initial Liquidity not reserved for NFTs (it seeds the VCAI/USD pool).
    pub liquidity: AccountId,
    /// The first holder of each Genesis NFT (at most 3,000).
    pub nft_owners: Vec<AccountId>,
    /// USD paired with the Initial Liquidity in the pool seed; zero leaves the pool unseeded and
    /// gives that VCAI to `liquidity` instead.
    pub pool_usd: Amount,
}

impl Genesis {
    /// Adds the rules §2 allocation of 10,000,000,000 VCAI: Private Sale 23.5% (21.91% at TGE, the
    /// rest monthly over 12 months), Public Sale 5.5% (30.91% at TGE, the rest monthly over 6
    /// months), Core Team 20% (18-month cliff, then monthly over 42 months), Reserve & Governance
    /// Fund 20%, Strategic Advisors 10% (monthly over 18 months), Initial Liquidity 1% (the
    /// Genesis NFT reserve, the rest to `liquidity`) and the Ecosystem Incentive Pool 20%.
    pub fn with_spec_allocation(
        mut self,
        who: &SpecBeneficiaries,
    ) -> Result<Genesis, GenesisError> {
        use crate::vesting::MONTH_S;
        let vcai =
            |whole: u128| Amount::whole(whole, Denom::Vcai).map_err(|_| GenesisError::Overflow);
        let grant = |beneficiary: AccountId,
                     total: u128,
                     at_tge: u128,
                     cliff_months: u64,
                     months: u64|
         -> Result<GenesisGrant, GenesisError> {
            Ok(GenesisGrant {
                beneficiary,
                schedule: Schedule {
                    total: vcai(total)?,
                    at_tge: vcai(at_tge)?,
                    cliff_s: cliff_months * MONTH_S,
                    duration_s: months * MONTH_S,
                    step_s: MONTH_S,
                },
            })
        };
        // 21.91% of 2.35e9 and 30.91% of 5.5e8, exactly.
        self.allocations = vec![
            GenesisAllocation {
                name: "private_sale".into(),
                grants: vec![grant(who.private_sale, 2_350_000_000, 514_885_000, 0, 12)?],
            },
            GenesisAllocation {
                name: "public_sale".into(),
                grants: vec![grant(who.public_sale, 550_000_000, 170_005_000, 0, 6)?],
            },
            GenesisAllocation {
                name: "core_team".into(),
                grants: vec![grant(who.core_team, 2_000_000_000, 0, 18, 42)?],
            },
            GenesisAllocation {
                name: "strategic_advisors".into(),
                grants: vec![grant(who.advisors, 1_000_000_000, 0, 0, 18)?],
            },
        ];
        self.reserve_vcai = vcai(2_000_000_000)?;
        self.incentive_pool_vcai = vcai(2_000_000_000)?;
        let entitlement = crate::nft::spec_entitlement();
        let nft_count = u128::try_from(who.nft_owners.len()).map_err(|_| GenesisError::Overflow)?;
        if nft_count > u128::from(crate::nft::MAX_NFTS) {
            return Err(GenesisError::Invalid(format!(
                "{nft_count} Genesis NFTs, more than {}",
                crate::nft::MAX_NFTS
            )));
        }
        let nft_reserve = entitlement
            .total
            .mul_div(nft_count, 1, vcity_types::Rounding::Down)
            .map_err(|_| GenesisError::Overflow)?;
        let liquidity = vcai(100_000_000)?
            .checked_sub(nft_reserve)
            .map_err(|_| GenesisError::Overflow)?;
        if !who.pool_usd.is_zero() {
            self.pool = Some(GenesisPool {
                vcai: liquidity,
                usd: who.pool_usd,
            });
        } else {
            self.credit_vcai(who.liquidity, liquidity)?;
        }
        self.genesis_nfts = Some(GenesisNfts {
            entitlement,
            owners: who.nft_owners.clone(),
        });
        Ok(self)
    }

    fn credit_vcai(&mut self, id: AccountId, amount: Amount) -> Result<(), GenesisError> {
        match self.accounts.iter_mut().find(|a| a.id == id) {
            Some(account) => {
                account.vcai = account
                    .vcai
                    .checked_add(amount)
                    .map_err(|_| GenesisError::Overflow)?;
            }
            None => self.accounts.push(GenesisAccount {
                name: Some("initial_liquidity".into()),
                id,
                vcai: amount,
                usd: Amount::ZERO,
            }),
        }
        Ok(())
    }
}
