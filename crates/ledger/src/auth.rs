//! The auth component: per-account nonces, the replay protection of rules §3.
//!
//! An account's first transaction carries nonce 0, the next 1, and so on, with no gaps. A nonce
//! below the next one is a replay; above it, a gap. Either way the transaction is refused and
//! nothing changes. A nonce is consumed when its transaction is included in a block, even if the
//! transaction's messages then fail, so the same signed bytes can never run twice.
//!
//! Keys (owned here): `auth/nonce/{account hex}` (absent = 0).

use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use vcity_types::AccountId;

fn nonce_key(account: &AccountId) -> Vec<u8> {
    crate::keys::Key::new("auth/nonce/")
        .hex(&account.0)
        .finish()
}

/// The nonce the account's next transaction must carry.
pub fn next_nonce(state: &impl StateRead, account: &AccountId) -> u64 {
    state.get(&nonce_key(account)).unwrap_or(0)
}

/// Consumes `nonce` for `account` if it is the next one.
pub(crate) fn use_nonce(
    state: &mut Overlay<'_>,
    account: &AccountId,
    nonce: u64,
) -> Result<(), TxError> {
    let expected = next_nonce(state, account);
    if nonce < expected {
        return Err(TxError::NonceReplayed {
            expected,
            got: nonce,
        });
    }
    if nonce > expected {
        return Err(TxError::NonceGap {
            expected,
            got: nonce,
        });
    }
    let next = expected.checked_add(1).ok_or(TxError::Overflow)?;
    state.put(nonce_key(account), &next);
    Ok(())
}
