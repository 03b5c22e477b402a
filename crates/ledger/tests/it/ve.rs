//! Vote escrow against a brute-force reference: random sequences of lock, increase, extend and
//! withdraw over random time steps. At every block the escrow's O(1) total equals the sum of every
//! account's weight computed from its lock, and at the end every past total and every past account
//! weight equals what was observed at that time.

use crate::common::{account, funded, usd, vcai, Harness};
use proptest::prelude::*;
use std::collections::BTreeMap;
use vcity_ledger::bank;
use vcity_ledger::ve::{self, Lock, MAX_LOCK_S, WEEK_S};
use vcity_types::tx::{Message, VeExtend, VeIncrease, VeLock, VeWithdraw};
use vcity_types::{Amount, Denom};

const USERS: u8 = 4;

#[derive(Debug, Clone)]
enum Action {
    Lock { who: u8, whole: u128, weeks: u64 },
    Increase { who: u8, whole: u128 },
    Extend { who: u8, weeks: u64 },
    Withdraw { who: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    let who = 1..=USERS;
    prop_oneof![
        (who.clone(), 500u128..200_000, 0u64..215).prop_map(|(who, whole, weeks)| Action::Lock {
            who,
            whole,
            weeks
        }),
        (who.clone(), 1u128..50_000).prop_map(|(who, whole)| Action::Increase { who, whole }),
        (who.clone(), 0u64..215).prop_map(|(who, weeks)| Action::Extend { who, weeks }),
        who.prop_map(|who| Action::Withdraw { who }),
    ]
}

/// The reference: the rules of rules §7 written the simple way.
fn model_apply(locks: &mut BTreeMap<u8, Lock>, now: u64, action: &Action) -> bool {
    let unlock = |weeks: u64| {
        let end = (now / WEEK_S + weeks) * WEEK_S;
        (end >= now + WEEK_S && end <= now + MAX_LOCK_S).then_some(end)
    };
    match *action {
        Action::Lock { who, whole, weeks } => {
            if locks.contains_key(&who) || whole < 1_000 {
                return false;
            }
            let Some(end_s) = unlock(weeks) else {
                return false;
            };
            locks.insert(
                who,
                Lock {
                    amount: vcai(whole),
                    end_s,
                    slope: ve::slope_of(vcai(whole)),
                },
            );
            true
        }
        Action::Increase { who, whole } => match locks.get_mut(&who) {
            Some(lock) if lock.end_s > now => {
                lock.amount = lock.amount.checked_add(vcai(whole)).expect("fits");
                lock.slope = ve::slope_of(lock.amount);
                true
            }
            _ => false,
        },
        Action::Extend { who, weeks } => match (locks.get_mut(&who), unlock(weeks)) {
            (Some(lock), Some(end_s)) if lock.end_s > now && end_s > lock.end_s => {
                lock.end_s = end_s;
                true
            }
            _ => false,
        },
        Action::Withdraw { who } => match locks.get(&who) {
            Some(lock) if lock.end_s <= now => {
                locks.remove(&who);
                true
            }
            _ => false,
        },
    }
}

fn message(now: u64, action: &Action) -> (u8, Message) {
    let week = |weeks: u64| u32::try_from(now / WEEK_S + weeks).expect("fits");
    match *action {
        Action::Lock { who, whole, weeks } => (
            who,
            Message::VeLock(VeLock {
                amount: vcai(whole),
                unlock_week: week(weeks),
            }),
        ),
        Action::Increase { who, whole } => (
            who,
            Message::VeIncrease(VeIncrease {
                amount: vcai(whole),
            }),
        ),
        Action::Extend { who, weeks } => (
            who,
            Message::VeExtend(VeExtend {
                unlock_week: week(weeks),
            }),
        ),
        Action::Withdraw { who } => (who, Message::VeWithdraw(VeWithdraw {})),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn total_equals_the_sum_of_weights_at_every_block_and_in_the_past(
        steps in proptest::collection::vec((0u64..(3 * WEEK_S), proptest::collection::vec(action(), 0..4)), 1..40)
    ) {
        let accounts = (1..=USERS).map(|seed| funded(seed, vcai(100_000_000), usd(1_000))).collect();
        let mut chain = Harness::new(&crate::common::genesis("vcity-ve", accounts));
        let mut model: BTreeMap<u8, Lock> = BTreeMap::new();
        let mut now = 0u64;
        let mut observed: Vec<(u64, u128, Vec<u128>)> = Vec::new();
        for (advance, actions) in steps {
            now += advance;
            let mut txs = Vec::new();
            let mut expected = Vec::new();
            for action in &actions {
                let (who, message) = message(now, action);
                txs.push(chain.tx(who, message));
                expected.push(model_apply(&mut model, now, action));
            }
            let execution = chain.block_at(now, txs);
            for ((receipt, expected), action) in execution.receipts.iter().zip(expected).zip(&actions) {
                prop_assert_eq!(receipt.code == 0, expected, "{:?}: {}", action, receipt.error);
            }
            let state = chain.ledger.state();
            let weights: Vec<u128> = (1..=USERS).map(|who| ve::weight(state, &account(who))).collect();
            for who in 1..=USERS {
                prop_assert_eq!(ve::lock(state, &account(who)), model.get(&who).cloned());
            }
            let brute: u128 = model.values().map(|lock| lock.weight_at(now)).sum();
            prop_assert_eq!(ve::total_weight(state), brute);
            prop_assert_eq!(weights.iter().sum::<u128>(), brute);
            let locked: Amount = model.values().fold(Amount::ZERO, |sum, lock| sum.checked_add(lock.amount).expect("fits"));
            prop_assert_eq!(bank::balance(state, &ve::ve_account(), Denom::Vcai), locked);
            observed.push((now, brute, weights));
        }
        let state = chain.ledger.state();
        for (t, total, weights) in observed {
            prop_assert_eq!(ve::total_weight_at(state, t), total, "total at {}", t);
            for (index, weight) in weights.iter().enumerate() {
                prop_assert_eq!(ve::weight_at(state, &account(index as u8 + 1), t), *weight);
            }
        }
    }
}

/// Execute once (docs/protocol.md, "Execute once"): a block replays a mempool check's writes only
/// where the check read what the block reads at that point. A lock reads the chain's clock, which
/// a check sees at the committed time and the block at its own, so the lock runs again; the
/// transfer beside it reads only balances and nonces and is replayed. Both ways give the same
/// block, bit for bit.
#[test]
fn a_checked_lock_runs_again_in_a_later_block_and_the_block_is_the_same() {
    use crate::common::{account, beacon, VALIDATOR};
    use vcity_ledger::{BlockContext, Footprint, Mode, Overlay};
    use vcity_types::tx::Transfer;

    let accounts = (1..=2)
        .map(|seed| funded(seed, vcai(10_000), usd(1_000)))
        .collect();
    let mut chain = Harness::new(&crate::common::genesis("vcity-ve-replay", accounts));
    chain.block_at(10, Vec::new());
    let txs = vec![
        chain.tx(
            1,
            Message::VeLock(VeLock {
                amount: vcai(5_000),
                unlock_week: 10,
            }),
        ),
        chain.tx(
            2,
            Message::Transfer(Transfer {
                to: account(1),
                denom: Denom::Usd,
                amount: usd(1),
            }),
        ),
    ];
    let mut pending = Overlay::new(chain.ledger.state());
    let footprints: Vec<Footprint> = txs
        .iter()
        .map(|tx| {
            let footprint = chain
                .ledger
                .check_tx_footprint(&pending, tx)
                .expect("passes its check");
            pending.merge(footprint.writes.clone(), Vec::new());
            footprint
        })
        .collect();
    let height = chain.ledger.height().next();
    let context = BlockContext {
        height,
        time_ms: chain.ledger.time_ms() + 3_600_000,
        beacon: beacon(height),
        proposer: account(VALIDATOR),
    };
    let plain = chain
        .ledger
        .execute(context.clone(), txs.clone(), Mode::Verify)
        .expect("valid block");
    let checked: Vec<Option<&Footprint>> = footprints.iter().map(Some).collect();
    let replayed = chain
        .ledger
        .execute_checked(context, txs, &checked, Mode::Verify)
        .expect("valid block");
    assert_eq!(replayed.replayed, 1, "only the transfer is replayed");
    assert_eq!(replayed.receipts, plain.receipts);
    assert_eq!(replayed.writes, plain.writes);
    assert_eq!(
        (replayed.receipts_root, replayed.state_root),
        (plain.receipts_root, plain.state_root)
    );
    assert!(plain.receipts.iter().all(|receipt| receipt.code == 0));
}
