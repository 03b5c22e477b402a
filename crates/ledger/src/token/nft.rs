//! The Genesis NFT component (whitepaper §3.1.2; rules §2).
//!
//! Genesis creates up to 3,000 NFTs, numbered from 1, each entitling its current holder to 10,000
//! VCAI from the Initial Liquidity allocation: 25% claimable at TGE, the other 75% in six equal
//! monthly steps. The VCAI for all of them sits in the `nft_reserve` module account. An NFT is
//! transferable and the claim right moves with it: the NFT records how much has been claimed on
//! it, so a new holder can claim only what the previous holders left, and nobody can claim the
//! same unlocked VCAI twice.
//!
//! Keys (owned here): `nft/params` → the entitlement schedule, `nft/count` → number of NFTs,
//! `nft/token/{id, 10 digits}` → [`Nft`] (zero-padded so lexical order is numeric order).

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::{elapsed_s, Schedule, MONTH_S};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::tx::{ClaimNft, TransferNft};
use vcity_types::{AccountId, Amount, Denom};

/// rules §2: the airdrop reserve is at most 30% of Initial Liquidity, so at most 3,000 NFTs.
pub const MAX_NFTS: u32 = 3_000;

const KEY_PARAMS: &[u8] = b"nft/params";
const KEY_COUNT: &[u8] = b"nft/count";

/// Holds the VCAI of every NFT's entitlement until claimed.
pub fn nft_reserve_account() -> AccountId {
    AccountId::module("nft_reserve")
}

/// rules §2's entitlement: 10,000 VCAI, 25% at TGE, the rest in six monthly steps.
pub fn spec_entitlement() -> Schedule {
    let total = Amount::whole(10_000, Denom::Vcai).expect("fits");
    Schedule {
        total,
        at_tge: Amount::whole(2_500, Denom::Vcai).expect("fits"),
        cliff_s: 0,
        duration_s: 6 * MONTH_S,
        step_s: MONTH_S,
    }
}

/// One NFT.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Nft {
    /// Its number.
    pub id: u32,
    /// The current holder.
    pub owner: AccountId,
    /// VCAI claimed on it so far, by all holders.
    pub claimed: Amount,
}

fn token_key(id: u32) -> Vec<u8> {
    format!("nft/token/{id:010}").into_bytes()
}

/// The entitlement schedule every NFT shares (none before genesis NFTs exist).
pub fn entitlement(state: &impl StateRead) -> Option<Schedule> {
    state.get(KEY_PARAMS)
}

/// How many NFTs exist.
pub fn count(state: &impl StateRead) -> u32 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// One NFT.
pub fn get(state: &impl StateRead, id: u32) -> Option<Nft> {
    state.get(&token_key(id))
}

/// What the NFT's holder could claim now.
pub fn claimable(state: &impl StateRead, nft: &Nft) -> Amount {
    let Some(schedule) = entitlement(state) else {
        return Amount::ZERO;
    };
    schedule
        .vested(elapsed_s(state))
        .checked_sub(nft.claimed)
        .expect("claims never exceed what unlocked")
}

/// Genesis: one NFT per owner, numbered from 1, their VCAI minted into the reserve.
pub(crate) fn init(
    state: &mut Overlay<'_>,
    schedule: &Schedule,
    owners: &[AccountId],
) -> Result<(), TxError> {
    let count = u32::try_from(owners.len()).unwrap_or(u32::MAX);
    if count > MAX_NFTS {
        return Err(TxError::InvalidAmount(format!(
            "{count} genesis NFTs, more than {MAX_NFTS}"
        )));
    }
    let reserve = schedule
        .total
        .mul_div(u128::from(count), 1, vcity_types::Rounding::Down)
        .map_err(|_| TxError::Overflow)?;
    if !reserve.is_zero() {
        bank::mint(state, &nft_reserve_account(), Denom::Vcai, reserve)?;
    }
    state.put(KEY_PARAMS.to_vec(), schedule);
    state.put(KEY_COUNT.to_vec(), &count);
    for (index, owner) in owners.iter().enumerate() {
        let id = index as u32 + 1;
        state.put(
            token_key(id),
            &Nft {
                id,
                owner: *owner,
                claimed: Amount::ZERO,
            },
        );
    }
    Ok(())
}

fn owned_by(state: &Overlay<'_>, id: u32, sender: &AccountId) -> Result<Nft, TxError> {
    let nft = get(state, id).ok_or_else(|| TxError::NotFound(format!("no Genesis NFT {id}")))?;
    if nft.owner != *sender {
        return Err(TxError::Unauthorized(format!(
            "Genesis NFT {id} belongs to {}",
            nft.owner
        )));
    }
    Ok(nft)
}

/// `TransferNft`: the holder gives the NFT (and its unclaimed VCAI) away.
pub(crate) fn execute_transfer(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &TransferNft,
) -> Result<(), TxError> {
    let mut nft = owned_by(state, message.id, sender)?;
    nft.owner = message.to;
    state.put(token_key(message.id), &nft);
    state.emit(Event::NftTransferred {
        id: message.id,
        from: *sender,
        to: message.to,
    });
    Ok(())
}

/// `ClaimNft`: the holder claims what has unlocked and nobody claimed yet.
pub(crate) fn execute_claim(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &ClaimNft,
) -> Result<(), TxError> {
    let mut nft = owned_by(state, message.id, sender)?;
    let amount = claimable(state, &nft);
    if amount.is_zero() {
        return Err(TxError::NothingToClaim(format!(
            "Genesis NFT {} has nothing unlocked since the last claim",
            message.id
        )));
    }
    nft.claimed = nft.claimed.checked_add(amount)?;
    state.put(token_key(message.id), &nft);
    bank::transfer(state, &nft_reserve_account(), sender, Denom::Vcai, amount)?;
    state.emit(Event::NftClaimed {
        id: message.id,
        owner: *sender,
        amount,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_steps_are_2500_then_1250_a_month() {
        let schedule = spec_entitlement();
        let vcai = |whole| Amount::whole(whole, Denom::Vcai).expect("fits");
        assert_eq!(schedule.vested(0), vcai(2_500));
        assert_eq!(schedule.vested(MONTH_S - 1), vcai(2_500));
        for month in 1..=6u64 {
            assert_eq!(
                schedule.vested(month * MONTH_S),
                vcai(2_500 + 1_250 * u128::from(month))
            );
        }
        assert_eq!(schedule.vested(100 * MONTH_S), vcai(10_000));
    }
}
