//! Agents as a Service (whitepaper §2.2.3, §5.1.5, §6.3; rules §11; docs/agents.md).
//!
//! An AI agent is an NFT. Its creator mints it by paying the creation fee (USD, gov) to the
//! treasury, and the record keeps what never changes: the creator (whose DID is the `did:key`
//! of that account), the copyright line, the usage terms and the creator's royalty in basis
//! points (ERC-2981-like). Each version names the agent package by content hash and the program
//! the network runs for it; versions append, and an old one stays invocable until the holder
//! retires it. The holder may give the agent away, or list it at a price: a buyer pays the
//! price, the treasury takes the commission fixed at listing (rounded up), the creator the
//! royalty on the rest (rounded down), and the seller the remainder.
//!
//! The holder also sells use without selling the agent ([`licences`]): licences (exclusive,
//! shared, time-limited) and single calls. Calls run as jobs through the normal scheduler and
//! executors, and their fees wait in the `agent_escrow` account until the job settles
//! ([`invocations`]); callers who paid rate the call once.
//!
//! Every payment for an agent splits the same way ([`split`]): the protocol's share first,
//! rounded up (it never loses to rounding), then the creator's royalty on the rest, rounded
//! down, then the holder's remainder.
//!
//! Keys (owned here): `agents/params`, `agents/count`, `agents/agent/{id, 12 digits}`,
//! `agents/version/{id, 12 digits}/{number, 6 digits}`, and the keys of [`licences`] and
//! [`invocations`].

pub mod invocations;
pub mod licences;

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use vcity_types::agents::{
    valid_tag, AddAgentVersion, Agent, AgentMetadata, AgentParams, AgentProgram, AgentVersion,
    BuyAgent, DelistAgent, ListAgent, Listing, MintAgent, RetireAgentVersion, TransferAgent,
    MAX_COPYRIGHT_BYTES, MAX_DESCRIPTION_BYTES, MAX_NAME_BYTES, MAX_ROYALTY_BPS, MAX_TAGS,
    MAX_TERMS_BYTES, MAX_VERSIONS,
};
use vcity_types::compute::{valid_image_digest, valid_program_name, ExecutorKind};
use vcity_types::event::Event;
use vcity_types::{AccountId, Amount, Denom, Rounding};

const KEY_PARAMS: &[u8] = b"agents/params";
const KEY_COUNT: &[u8] = b"agents/count";

/// Holds call fees until their jobs settle.
pub fn escrow_account() -> AccountId {
    AccountId::module("agent_escrow")
}

pub(crate) fn agent_key(id: u64) -> Vec<u8> {
    format!("agents/agent/{id:012}").into_bytes()
}

fn version_key(id: u64, number: u32) -> Vec<u8> {
    format!("agents/version/{id:012}/{number:06}").into_bytes()
}

/// The parameters (rules §11 defaults until genesis or governance sets them).
pub fn params(state: &impl StateRead) -> AgentParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

pub(crate) fn init(state: &mut Overlay<'_>, params: &AgentParams) -> Result<(), TxError> {
    check_params(params)?;
    state.put(KEY_PARAMS.to_vec(), params);
    Ok(())
}

fn check_params(params: &AgentParams) -> Result<(), TxError> {
    if params.sale_commission_ppm > 1_000_000 || params.usage_share_ppm > 1_000_000 {
        return Err(TxError::InvalidParam(
            "agent commission and usage share are at most 10^6 ppm".into(),
        ));
    }
    if params.min_ratings == 0 {
        return Err(TxError::InvalidParam(
            "discovery needs at least one rating to rank an agent".into(),
        ));
    }
    Ok(())
}

/// Governance: new fees, for mints, listings and terms after this.
pub(crate) fn set_params(state: &mut Overlay<'_>, params: &AgentParams) -> Result<(), TxError> {
    init(state, params)
}

/// How many agents were minted.
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// One agent.
pub fn agent(state: &impl StateRead, id: u64) -> Option<Agent> {
    state.get(&agent_key(id))
}

/// One version of an agent.
pub fn version(state: &impl StateRead, id: u64, number: u32) -> Option<AgentVersion> {
    state.get(&version_key(id, number))
}

/// Every version of an agent, oldest first.
pub fn versions(state: &impl StateRead, id: u64) -> Vec<AgentVersion> {
    let count = agent(state, id).map_or(0, |found| found.versions);
    (1..=count)
        .filter_map(|number| version(state, id, number))
        .collect()
}

pub(crate) fn put(state: &mut Overlay<'_>, record: &Agent) {
    state.put(agent_key(record.id), record);
}

fn load(state: &impl StateRead, id: u64) -> Result<Agent, TxError> {
    agent(state, id).ok_or_else(|| TxError::NotFound(format!("no agent {id}")))
}

fn held_by(state: &impl StateRead, id: u64, sender: &AccountId) -> Result<Agent, TxError> {
    let record = load(state, id)?;
    if record.owner != *sender {
        return Err(TxError::Unauthorized(format!(
            "agent {id} is held by {}",
            record.owner
        )));
    }
    Ok(record)
}

/// One payment for an agent, split three ways (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// To the treasury, rounded up.
    pub protocol: Amount,
    /// To the creator, rounded down.
    pub royalty: Amount,
    /// To the holder (or seller): the rest.
    pub holder: Amount,
}

/// Splits `amount` into the protocol's `protocol_ppm` (rounded up), the creator's `royalty_bps`
/// of what is left (rounded down) and the remainder.
pub fn split(amount: Amount, protocol_ppm: u32, royalty_bps: u32) -> Result<Split, TxError> {
    let protocol = amount.mul_div(u128::from(protocol_ppm), 1_000_000, Rounding::Up)?;
    let after = amount.checked_sub(protocol)?;
    let royalty = after.mul_div(u128::from(royalty_bps), 10_000, Rounding::Down)?;
    Ok(Split {
        protocol,
        royalty,
        holder: after.checked_sub(royalty)?,
    })
}

/// Pays `split` out of `from`: the treasury (counted as revenue), the creator, the holder.
pub(crate) fn pay(
    state: &mut Overlay<'_>,
    from: &AccountId,
    split: Split,
    creator: &AccountId,
    holder: &AccountId,
) -> Result<(), TxError> {
    for (to, amount) in [
        (bank::treasury(), split.protocol),
        (*creator, split.royalty),
        (*holder, split.holder),
    ] {
        if !amount.is_zero() && to != *from {
            bank::transfer(state, from, &to, Denom::Usd, amount)?;
        }
    }
    crate::treasury::record_revenue(state, split.protocol);
    Ok(())
}

fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

fn printable(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\n')
}

fn check_metadata(metadata: &AgentMetadata) -> Result<(), TxError> {
    let name = &metadata.name;
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES || !one_line(name) {
        return Err(TxError::InvalidAgent(format!(
            "a name is one line of 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if metadata.description.len() > MAX_DESCRIPTION_BYTES || !printable(&metadata.description) {
        return Err(TxError::InvalidAgent(format!(
            "a description is at most {MAX_DESCRIPTION_BYTES} bytes of printable text"
        )));
    }
    if metadata.tags.len() > MAX_TAGS || !metadata.tags.iter().all(|tag| valid_tag(tag)) {
        return Err(TxError::InvalidAgent(format!(
            "at most {MAX_TAGS} tags, each 1 to 32 of a-z 0-9 -"
        )));
    }
    let mut sorted: Vec<&String> = metadata.tags.iter().collect();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != metadata.tags.len() {
        return Err(TxError::InvalidAgent("tags repeat".into()));
    }
    Ok(())
}

/// What can be told about a program before it runs; the job's own checks do the rest when it is
/// invoked.
fn check_program(program: &AgentProgram) -> Result<(), TxError> {
    match &program.executor {
        ExecutorKind::Wasm => {
            if program.module_hash == vcity_types::Hash::ZERO {
                return Err(TxError::InvalidAgent(
                    "a WASM agent names its module by content hash".into(),
                ));
            }
        }
        ExecutorKind::Process { name, .. } => {
            if !valid_program_name(name) {
                return Err(TxError::InvalidAgent(
                    "a program's name is 1 to 32 of A-Z a-z 0-9 . _ - (not starting with a dot)"
                        .into(),
                ));
            }
        }
        ExecutorKind::Oci { image, .. } => {
            if !valid_image_digest(image) {
                return Err(TxError::InvalidAgent(
                    "an image is named by its manifest digest: sha256: and 64 lowercase hex digits"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}

/// `MintAgent`.
pub(crate) fn execute_mint(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &MintAgent,
) -> Result<(), TxError> {
    check_metadata(&message.metadata)?;
    check_program(&message.program)?;
    if message.copyright.len() > MAX_COPYRIGHT_BYTES || !one_line(&message.copyright) {
        return Err(TxError::InvalidAgent(format!(
            "a copyright line is at most {MAX_COPYRIGHT_BYTES} bytes"
        )));
    }
    if message.usage_terms.len() > MAX_TERMS_BYTES || !printable(&message.usage_terms) {
        return Err(TxError::InvalidAgent(format!(
            "usage terms are at most {MAX_TERMS_BYTES} bytes of printable text"
        )));
    }
    if message.royalty_bps > MAX_ROYALTY_BPS {
        return Err(TxError::InvalidAgent(format!(
            "a royalty is at most {MAX_ROYALTY_BPS} basis points"
        )));
    }
    let fee = params(state).creation_fee_usd;
    if !fee.is_zero() {
        bank::transfer(state, sender, &bank::treasury(), Denom::Usd, fee)?;
        crate::treasury::record_revenue(state, fee);
    }
    let id = count(state) + 1;
    state.put(KEY_COUNT.to_vec(), &id);
    let now = elapsed_s(state);
    put(
        state,
        &Agent {
            id,
            creator: *sender,
            owner: *sender,
            copyright: message.copyright.clone(),
            usage_terms: message.usage_terms.clone(),
            metadata: message.metadata.clone(),
            royalty_bps: message.royalty_bps,
            versions: 1,
            minted_s: now,
            sale: None,
            terms: None,
            exclusive: None,
            shared_until_s: 0,
            calls: 0,
            ratings: 0,
            rating_points: 0,
        },
    );
    state.put(
        version_key(id, 1),
        &AgentVersion {
            number: 1,
            program: message.program.clone(),
            added_s: now,
            retired: false,
        },
    );
    state.emit(Event::AgentMinted {
        agent_id: id,
        creator: *sender,
        package_hash: message.program.package_hash,
        fee_usd: fee,
    });
    Ok(())
}

/// `AddAgentVersion`.
pub(crate) fn execute_add_version(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &AddAgentVersion,
) -> Result<(), TxError> {
    let mut record = held_by(state, message.agent_id, sender)?;
    check_program(&message.program)?;
    if record.versions >= MAX_VERSIONS {
        return Err(TxError::InvalidAgent(format!(
            "an agent has at most {MAX_VERSIONS} versions"
        )));
    }
    record.versions += 1;
    let number = record.versions;
    state.put(
        version_key(record.id, number),
        &AgentVersion {
            number,
            program: message.program.clone(),
            added_s: elapsed_s(state),
            retired: false,
        },
    );
    put(state, &record);
    state.emit(Event::AgentVersionAdded {
        agent_id: record.id,
        version: number,
        package_hash: message.program.package_hash,
    });
    Ok(())
}

/// `RetireAgentVersion`.
pub(crate) fn execute_retire_version(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &RetireAgentVersion,
) -> Result<(), TxError> {
    held_by(state, message.agent_id, sender)?;
    let mut found = version(state, message.agent_id, message.version).ok_or_else(|| {
        TxError::NotFound(format!(
            "agent {} has no version {}",
            message.agent_id, message.version
        ))
    })?;
    if found.retired {
        return Err(TxError::Duplicate(format!(
            "version {} is already retired",
            message.version
        )));
    }
    found.retired = true;
    state.put(version_key(message.agent_id, message.version), &found);
    state.emit(Event::AgentVersionRetired {
        agent_id: message.agent_id,
        version: message.version,
    });
    Ok(())
}

/// `TransferAgent`: a gift. The listing ends; licences already sold stay in force.
pub(crate) fn execute_transfer(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &TransferAgent,
) -> Result<(), TxError> {
    let mut record = held_by(state, message.agent_id, sender)?;
    record.owner = message.to;
    record.sale = None;
    put(state, &record);
    state.emit(Event::AgentTransferred {
        agent_id: record.id,
        from: *sender,
        to: message.to,
    });
    Ok(())
}

/// `ListAgent`: the commission in force now is the one the sale pays.
pub(crate) fn execute_list(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &ListAgent,
) -> Result<(), TxError> {
    let mut record = held_by(state, message.agent_id, sender)?;
    if message.price_usd.is_zero() {
        return Err(TxError::InvalidAmount(
            "a listing price must be positive".into(),
        ));
    }
    record.sale = Some(Listing {
        price_usd: message.price_usd,
        commission_ppm: params(state).sale_commission_ppm,
    });
    put(state, &record);
    state.emit(Event::AgentListed {
        agent_id: record.id,
        price_usd: Some(message.price_usd),
    });
    Ok(())
}

/// `DelistAgent`.
pub(crate) fn execute_delist(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &DelistAgent,
) -> Result<(), TxError> {
    let mut record = held_by(state, message.agent_id, sender)?;
    if record.sale.take().is_none() {
        return Err(TxError::NotFound(format!(
            "agent {} is not listed",
            message.agent_id
        )));
    }
    put(state, &record);
    state.emit(Event::AgentListed {
        agent_id: record.id,
        price_usd: None,
    });
    Ok(())
}

/// `BuyAgent`.
pub(crate) fn execute_buy(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &BuyAgent,
) -> Result<(), TxError> {
    let mut record = load(state, message.agent_id)?;
    let Some(listing) = record.sale.clone() else {
        return Err(TxError::NotFound(format!(
            "agent {} is not for sale",
            message.agent_id
        )));
    };
    if record.owner == *sender {
        return Err(TxError::InvalidAgent(
            "the holder cannot buy its own agent".into(),
        ));
    }
    if listing.price_usd > message.max_price_usd {
        return Err(TxError::Slippage(format!(
            "agent {} costs {} USD base units, more than the {} offered",
            message.agent_id, listing.price_usd, message.max_price_usd
        )));
    }
    let parts = split(
        listing.price_usd,
        listing.commission_ppm,
        record.royalty_bps,
    )?;
    let (seller, creator) = (record.owner, record.creator);
    let available = bank::balance(state, sender, Denom::Usd);
    if available < listing.price_usd {
        return Err(TxError::InsufficientFunds {
            account: *sender,
            denom: Denom::Usd,
            available,
            needed: listing.price_usd,
        });
    }
    pay(state, sender, parts, &creator, &seller)?;
    record.owner = *sender;
    record.sale = None;
    put(state, &record);
    state.emit(Event::AgentSold {
        agent_id: record.id,
        seller,
        buyer: *sender,
        price_usd: listing.price_usd,
        commission_usd: parts.protocol,
        royalty_usd: parts.royalty,
    });
    state.emit(Event::AgentTransferred {
        agent_id: record.id,
        from: seller,
        to: *sender,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_favour_the_protocol_and_add_up() {
        // 1,000,001 at 2.5% commission and 10% royalty: ⌈25,000.025⌉ = 25,001 to the protocol,
        // ⌊975,000 × 10%⌋ = 97,500 to the creator, 877,500 to the seller.
        let parts = split(Amount::new(1_000_001), 25_000, 1_000).expect("fits");
        assert_eq!(parts.protocol, Amount::new(25_001));
        assert_eq!(parts.royalty, Amount::new(97_500));
        assert_eq!(parts.holder, Amount::new(877_500));
        for amount in [0u128, 1, 7, 999, 1_000_000, u128::from(u64::MAX)] {
            for (ppm, bps) in [(0, 0), (1, 1), (100_000, 5_000), (1_000_000, 5_000)] {
                let parts = split(Amount::new(amount), ppm, bps).expect("fits");
                let total = parts.protocol.base_units()
                    + parts.royalty.base_units()
                    + parts.holder.base_units();
                assert_eq!(total, amount);
                assert!(parts.protocol.base_units() * 1_000_000 >= amount * u128::from(ppm));
            }
        }
    }
}
