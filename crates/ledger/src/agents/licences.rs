//! Licences: use of an agent sold by its holder without selling the agent (rules §11;
//! docs/agents.md, "Licences").
//!
//! The holder sets terms: up to eight licence offers, each a kind and a price, and optionally a
//! fee per call for callers without a licence. The protocol's share of every licence and call
//! fee is the governance usage share in force when the terms were set, so a later change of the
//! parameter never alters a deal already on offer.
//!
//! - *Exclusive*: one licensee at a time, for a duration. Sold only when no other licence is
//!   running (no exclusive one, and every shared or time-limited one sold so far has ended);
//!   while it runs nobody else buys a licence or calls the agent but the holder.
//! - *Shared*: any number of licensees, for good. Once one is sold, the agent can never be
//!   licensed exclusively.
//! - *Time-limited*: any number of licensees, each until a time (ERC-4907's `expires`).
//!
//! A licence belongs to the licensee, not to whoever holds the NFT: a sale or gift of the agent
//! does not cancel it (the buyer takes the agent with the licences already sold, as a building
//! is sold with its leases); only its own end does. Buying the same time-limited or exclusive
//! licence again extends it from its current end.
//!
//! Keys (owned here): `agents/licence/{agent, 12 digits}/{licensee}`.

use super::{held_by, load, pay, put, split};
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use vcity_types::agents::{
    Licence, LicenceKind, LicenceTerms, SetLicenceTerms, TakeLicence, MAX_OFFERS,
};
use vcity_types::event::Event;
use vcity_types::{AccountId, Denom};

fn licence_key(agent_id: u64, licensee: &AccountId) -> Vec<u8> {
    format!("agents/licence/{agent_id:012}/{licensee}").into_bytes()
}

/// The licence `licensee` holds on the agent, valid or not.
pub fn licence(state: &impl StateRead, agent_id: u64, licensee: &AccountId) -> Option<Licence> {
    state.get(&licence_key(agent_id, licensee))
}

/// `SetLicenceTerms`.
pub(crate) fn execute_set_terms(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SetLicenceTerms,
) -> Result<(), TxError> {
    let mut record = held_by(state, message.agent_id, sender)?;
    if message.offers.len() > MAX_OFFERS {
        return Err(TxError::InvalidAgent(format!(
            "at most {MAX_OFFERS} licence offers"
        )));
    }
    for offer in &message.offers {
        if let LicenceKind::Exclusive { duration_s: 0 } | LicenceKind::Timed { duration_s: 0 } =
            offer.kind
        {
            return Err(TxError::InvalidAgent(
                "an exclusive or time-limited licence lasts a positive duration".into(),
            ));
        }
    }
    let protocol_share_ppm = super::params(state).usage_share_ppm;
    record.terms = Some(LicenceTerms {
        offers: message.offers.clone(),
        per_call_usd: message.per_call_usd,
        protocol_share_ppm,
    });
    put(state, &record);
    state.emit(Event::AgentTermsSet {
        agent_id: record.id,
        offers: message.offers.len() as u32,
        per_call_usd: message.per_call_usd,
        protocol_share_ppm,
    });
    Ok(())
}

/// `TakeLicence`.
pub(crate) fn execute_take(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &TakeLicence,
) -> Result<(), TxError> {
    let mut record = load(state, message.agent_id)?;
    let id = record.id;
    if record.owner == *sender {
        return Err(TxError::InvalidAgent(
            "the holder uses its agent without a licence".into(),
        ));
    }
    let Some(terms) = record.terms.clone() else {
        return Err(TxError::NoLicence(format!("agent {id} offers no licences")));
    };
    let offer = terms
        .offers
        .get(message.offer as usize)
        .ok_or_else(|| TxError::NotFound(format!("agent {id} has no offer {}", message.offer)))?
        .clone();
    if offer.price_usd > message.max_price_usd {
        return Err(TxError::Slippage(format!(
            "the licence costs {} USD base units, more than the {} offered",
            offer.price_usd, message.max_price_usd
        )));
    }
    let now = elapsed_s(state);
    let exclusive_by = record
        .exclusive
        .filter(|(_, until)| now < *until)
        .map(|(licensee, _)| licensee);
    if exclusive_by.is_some_and(|licensee| licensee != *sender) {
        return Err(TxError::NoLicence(format!(
            "agent {id} is licensed exclusively to someone else"
        )));
    }
    let held = licence(state, id, sender).filter(|found| found.valid_at(now));
    // A renewal runs on from the end of the licence in force.
    let start = match &held {
        Some(found) if found.until_s.is_none() => {
            return Err(TxError::Duplicate(format!(
                "{sender} already holds a licence for agent {id} for good"
            )));
        }
        Some(found) => found.until_s.unwrap_or(now).max(now),
        None => now,
    };
    let until_s = match offer.kind {
        LicenceKind::Exclusive { duration_s } => {
            if record.shared_until_s > now {
                return Err(TxError::NoLicence(format!(
                    "agent {id} has shared licences running; an exclusive one is sold after the last ends"
                )));
            }
            let until = start.saturating_add(duration_s);
            record.exclusive = Some((*sender, until));
            Some(until)
        }
        LicenceKind::Shared => {
            if exclusive_by.is_some() {
                return Err(TxError::NoLicence(
                    "the exclusive licensee needs no other licence".into(),
                ));
            }
            record.shared_until_s = u64::MAX;
            None
        }
        LicenceKind::Timed { duration_s } => {
            if exclusive_by.is_some() {
                return Err(TxError::NoLicence(
                    "the exclusive licensee needs no other licence".into(),
                ));
            }
            let until = start.saturating_add(duration_s);
            record.shared_until_s = record.shared_until_s.max(until);
            Some(until)
        }
    };
    if !offer.price_usd.is_zero() {
        let parts = split(
            offer.price_usd,
            terms.protocol_share_ppm,
            record.royalty_bps,
        )?;
        let available = crate::bank::balance(state, sender, Denom::Usd);
        if available < offer.price_usd {
            return Err(TxError::InsufficientFunds {
                account: *sender,
                denom: Denom::Usd,
                available,
                needed: offer.price_usd,
            });
        }
        pay(state, sender, parts, &record.creator, &record.owner)?;
    }
    let paid_usd = held.as_ref().map_or(Ok(offer.price_usd), |found| {
        found.paid_usd.checked_add(offer.price_usd)
    })?;
    state.put(
        licence_key(id, sender),
        &Licence {
            agent_id: id,
            licensee: *sender,
            kind: offer.kind,
            paid_usd,
            since_s: held.as_ref().map_or(now, |found| found.since_s),
            until_s,
        },
    );
    put(state, &record);
    state.emit(Event::AgentLicensed {
        agent_id: id,
        licensee: *sender,
        price_usd: offer.price_usd,
        until_s,
    });
    Ok(())
}
