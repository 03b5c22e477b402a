//! The bank component: balances and total supply per denomination.
//!
//! Every unit of value on the chain is a balance of some account. Escrows, the treasury and
//! (later) pools and stakes are module accounts ([`AccountId::module`]) whose balances move
//! through this component like anyone else's, so "total supply equals the sum of all balances"
//! covers every place money can sit; [`crate::invariants`] checks it every block.
//!
//! Supply changes only by minting and burning. VCAI is minted once, at genesis. USD is minted and
//! burned only by the issuer account named in genesis, standing in for the stablecoin bridge
//! (rules §3, §5: all business settles in USD): a deposit on the bridge is a mint to the
//! depositor, a withdrawal a transfer to the issuer followed by a burn.
//!
//! Transaction fees are paid in USD to the treasury module account (rules §8: all protocol revenue
//! goes to the treasury).
//!
//! The first account to send another funds with a `Transfer` is recorded as its funder, with the
//! height, so that accounts of one owner can be told apart from strangers (self-dealing earns no
//! incentives; see [`related`]).
//!
//! Keys (owned here): `bank/balance/{account hex}/{denom}` (absent = 0),
//! `bank/supply/{denom}`, `bank/usd_issuer`, `bank/funder/{account hex}`.

use crate::error::TxError;
use crate::keys::Key;
use crate::state::{Overlay, StateRead};
use vcity_types::event::Event;
use vcity_types::tx::{BurnUsd, MintUsd, Transfer};
use vcity_types::{AccountId, Amount, Denom, Height};

const KEY_USD_ISSUER: &[u8] = b"bank/usd_issuer";
pub(crate) const BALANCE_PREFIX: &str = "bank/balance/";
pub(crate) const SUPPLY_PREFIX: &str = "bank/supply/";

/// The treasury: receives fees and all other protocol revenue.
pub fn treasury() -> AccountId {
    AccountId::module("treasury")
}

/// The state key of a balance (public so clients can ask for its proof).
pub fn balance_key(account: &AccountId, denom: Denom) -> Vec<u8> {
    Key::new(BALANCE_PREFIX)
        .hex(&account.0)
        .text("/")
        .text(denom.code())
        .finish()
}

/// The state key of a denomination's total supply.
pub fn supply_key(denom: Denom) -> Vec<u8> {
    format!("{SUPPLY_PREFIX}{}", denom.code()).into_bytes()
}

/// An account's balance.
pub fn balance(state: &impl StateRead, account: &AccountId, denom: Denom) -> Amount {
    state.get(&balance_key(account, denom)).unwrap_or_default()
}

/// A denomination's total supply.
pub fn supply(state: &impl StateRead, denom: Denom) -> Amount {
    state.get(&supply_key(denom)).unwrap_or_default()
}

/// The account allowed to mint and burn USD.
pub fn usd_issuer(state: &impl StateRead) -> AccountId {
    state
        .get(KEY_USD_ISSUER)
        .expect("usd issuer is written at genesis")
}

fn set_balance(state: &mut Overlay<'_>, account: &AccountId, denom: Denom, amount: Amount) {
    // Zero balances are deleted so that state (and its proofs) holds only live accounts.
    if amount.is_zero() {
        state.delete(balance_key(account, denom));
    } else {
        state.put(balance_key(account, denom), &amount);
    }
}

fn debit(
    state: &mut Overlay<'_>,
    account: &AccountId,
    denom: Denom,
    amount: Amount,
) -> Result<(), TxError> {
    let available = balance(state, account, denom);
    let remaining = available
        .checked_sub(amount)
        .map_err(|_| TxError::InsufficientFunds {
            account: *account,
            denom,
            available,
            needed: amount,
        })?;
    set_balance(state, account, denom, remaining);
    Ok(())
}

fn credit(
    state: &mut Overlay<'_>,
    account: &AccountId,
    denom: Denom,
    amount: Amount,
) -> Result<(), TxError> {
    let updated = balance(state, account, denom).checked_add(amount)?;
    set_balance(state, account, denom, updated);
    Ok(())
}

fn require_positive(amount: Amount) -> Result<(), TxError> {
    if amount.is_zero() {
        return Err(TxError::InvalidAmount("amount must be positive".into()));
    }
    Ok(())
}

/// Moves funds, emitting [`Event::Transfer`].
pub(crate) fn transfer(
    state: &mut Overlay<'_>,
    from: &AccountId,
    to: &AccountId,
    denom: Denom,
    amount: Amount,
) -> Result<(), TxError> {
    require_positive(amount)?;
    debit(state, from, denom, amount)?;
    credit(state, to, denom, amount)?;
    state.emit(Event::Transfer {
        from: *from,
        to: *to,
        denom,
        amount,
    });
    Ok(())
}

/// Takes a transaction fee from its payer, emitting [`Event::FeePaid`]; the block hands its fees
/// to the treasury at its end ([`collect_fees`]).
pub(crate) fn take_fee(
    state: &mut Overlay<'_>,
    payer: &AccountId,
    amount: Amount,
) -> Result<(), TxError> {
    if amount.is_zero() {
        return Ok(());
    }
    debit(state, payer, Denom::Usd, amount)?;
    state.emit(Event::FeePaid {
        payer: *payer,
        amount,
    });
    Ok(())
}

/// Credits the treasury with the fees a block's transactions paid ([`take_fee`]), once, after
/// them.
pub(crate) fn collect_fees(state: &mut Overlay<'_>, total: Amount) -> Result<(), TxError> {
    if total.is_zero() {
        return Ok(());
    }
    credit(state, &treasury(), Denom::Usd, total)
}

/// Creates supply, emitting [`Event::Minted`].
pub(crate) fn mint(
    state: &mut Overlay<'_>,
    to: &AccountId,
    denom: Denom,
    amount: Amount,
) -> Result<(), TxError> {
    require_positive(amount)?;
    let new_supply = supply(state, denom).checked_add(amount)?;
    credit(state, to, denom, amount)?;
    state.put(supply_key(denom), &new_supply);
    state.emit(Event::Minted {
        to: *to,
        denom,
        amount,
    });
    Ok(())
}

/// Destroys supply, emitting [`Event::Burned`].
pub(crate) fn burn(
    state: &mut Overlay<'_>,
    from: &AccountId,
    denom: Denom,
    amount: Amount,
) -> Result<(), TxError> {
    require_positive(amount)?;
    debit(state, from, denom, amount)?;
    let new_supply = supply(state, denom)
        .checked_sub(amount)
        .expect("supply covers every balance, so it covers this burn");
    state.put(supply_key(denom), &new_supply);
    state.emit(Event::Burned {
        from: *from,
        denom,
        amount,
    });
    Ok(())
}

pub(crate) fn init(state: &mut Overlay<'_>, usd_issuer: &AccountId) {
    state.put(KEY_USD_ISSUER.to_vec(), usd_issuer);
}

/// Executes a [`Transfer`] message from `sender`.
pub(crate) fn execute_transfer(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Transfer,
) -> Result<(), TxError> {
    transfer(state, sender, &message.to, message.denom, message.amount)?;
    if message.to != *sender && funding(state, &message.to).is_none() {
        let height = crate::chain::height(state);
        state.put(funder_key(&message.to), &(*sender, height));
    }
    Ok(())
}

fn funder_key(account: &AccountId) -> Vec<u8> {
    format!("bank/funder/{}", account.to_hex()).into_bytes()
}

/// Who first sent `account` funds with a `Transfer`, and at which height (none for accounts
/// funded only by genesis, module payouts or the USD issuer's mints).
pub fn funding(state: &impl StateRead, account: &AccountId) -> Option<(AccountId, Height)> {
    state.get(&funder_key(account))
}

/// Whether `a` and `b` count as one DID for self-dealing (docs/protocol.md, "Related
/// accounts"): the same account; one first funded the other; or one account first funded both,
/// within `window_blocks` blocks of each other. Anyone can check it from the ledger.
pub fn related(state: &impl StateRead, a: &AccountId, b: &AccountId, window_blocks: u64) -> bool {
    if a == b {
        return true;
    }
    let (first_a, first_b) = (funding(state, a), funding(state, b));
    if first_a.is_some_and(|(funder, _)| funder == *b)
        || first_b.is_some_and(|(funder, _)| funder == *a)
    {
        return true;
    }
    match (first_a, first_b) {
        (Some((funder_a, height_a)), Some((funder_b, height_b))) => {
            funder_a == funder_b && height_a.0.abs_diff(height_b.0) <= window_blocks
        }
        _ => false,
    }
}

fn require_issuer(state: &Overlay<'_>, sender: &AccountId, what: &str) -> Result<(), TxError> {
    if *sender != usd_issuer(state) {
        return Err(TxError::Unauthorized(format!(
            "only the usd issuer may {what} usd"
        )));
    }
    Ok(())
}

/// Executes a [`MintUsd`] message from `sender` (must be the issuer).
pub(crate) fn execute_mint_usd(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &MintUsd,
) -> Result<(), TxError> {
    require_issuer(state, sender, "mint")?;
    mint(state, &message.to, Denom::Usd, message.amount)
}

/// Executes a [`BurnUsd`] message from `sender` (must be the issuer; burns its own balance).
pub(crate) fn execute_burn_usd(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &BurnUsd,
) -> Result<(), TxError> {
    require_issuer(state, sender, "burn")?;
    burn(state, sender, Denom::Usd, message.amount)
}
