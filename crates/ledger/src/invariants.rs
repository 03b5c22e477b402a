//! Invariants checked at the end of every block. A violation is a bug in the ledger, not a user
//! error: it panics, which halts the node before the block is committed (TigerBeetle's
//! "assertions downgrade catastrophic correctness bugs into liveness bugs").
//!
//! Supply conservation: for each denomination, the change in total supply over the block equals
//! the change in the sum of all balances. Checked from the block's writes alone, so it costs
//! O(keys written), not O(accounts); [`audit_supply`] is the full O(n) check, run at start-up.

use crate::bank::{BALANCE_PREFIX, SUPPLY_PREFIX};
use crate::state::{State, StateRead, Writes};
use std::collections::BTreeMap;
use vcity_types::{Amount, Denom};

fn denom_of(code: &str) -> Denom {
    code.parse()
        .unwrap_or_else(|_| panic!("state corrupt: unknown denomination {code:?} in a bank key"))
}

fn signed(amount: Amount) -> i128 {
    i128::try_from(amount.base_units()).expect("no amount exceeds i128::MAX (1.7e38 base units)")
}

/// Panics unless the block's `writes` on top of `base` conserve supply.
pub(crate) fn assert_supply_conserved(base: &State, writes: &Writes) {
    let mut balance_delta: BTreeMap<Denom, i128> = BTreeMap::new();
    let mut supply_delta: BTreeMap<Denom, i128> = BTreeMap::new();
    for (key, value) in writes {
        let key_text = std::str::from_utf8(key).unwrap_or("");
        let (deltas, denom) = if let Some(rest) = key_text.strip_prefix(BALANCE_PREFIX) {
            let code = rest.rsplit('/').next().unwrap_or("");
            (&mut balance_delta, denom_of(code))
        } else if let Some(code) = key_text.strip_prefix(SUPPLY_PREFIX) {
            (&mut supply_delta, denom_of(code))
        } else {
            continue;
        };
        let old: Amount = base.get(key).unwrap_or_default();
        let new: Amount = value
            .as_deref()
            .map(|bytes| vcity_types::codec::decode(bytes).expect("bank writes encode amounts"))
            .unwrap_or_default();
        let entry = deltas.entry(denom).or_insert(0);
        *entry = entry
            .checked_add(signed(new) - signed(old))
            .expect("a block's balance changes fit in i128");
    }
    for denom in Denom::ALL {
        let balances = balance_delta.get(&denom).copied().unwrap_or(0);
        let supply = supply_delta.get(&denom).copied().unwrap_or(0);
        assert_eq!(
            balances, supply,
            "invariant broken: {denom} balances changed by {balances} but supply by {supply}"
        );
    }
}

/// Full check: each denomination's supply equals the sum of its balances.
pub fn audit_supply(state: &State) -> Result<(), String> {
    let mut sums: BTreeMap<Denom, u128> = BTreeMap::new();
    for (key, value) in state.prefix(BALANCE_PREFIX.as_bytes()) {
        let key_text = std::str::from_utf8(key).map_err(|_| "non-utf8 bank key".to_string())?;
        let code = key_text.rsplit('/').next().unwrap_or("");
        let denom: Denom = code
            .parse()
            .map_err(|_| format!("bad denom in {key_text}"))?;
        let amount: Amount =
            vcity_types::codec::decode(value).map_err(|error| format!("{key_text}: {error}"))?;
        let sum = sums.entry(denom).or_insert(0);
        *sum = sum
            .checked_add(amount.base_units())
            .ok_or("balance sum overflows")?;
    }
    for denom in Denom::ALL {
        let supply = crate::bank::supply(state, denom).base_units();
        let sum = sums.get(&denom).copied().unwrap_or(0);
        if supply != sum {
            return Err(format!(
                "{denom}: supply {supply} but balances sum to {sum}"
            ));
        }
    }
    Ok(())
}
