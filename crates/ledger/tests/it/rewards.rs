//! Treasury buyback and the per-block distributor against a brute-force reference: random
//! revenue, locks, increases, extensions, withdrawals and claims over random time steps. Every
//! account's rewards (claimed plus claimable) equal the exact sum over blocks of
//! `r_k·w_u(t_k)/W_k` within one base unit and never above it; the distributor's VCAI is always
//! accounted for; claims never exceed what was released.

use crate::common::{account, funded, usd, vcai, Harness};
use proptest::prelude::*;
use std::collections::BTreeMap;
use vcity_ledger::genesis::GenesisPool;
use vcity_ledger::ve::{self, Lock, MAX_LOCK_S, WEEK_S};
use vcity_ledger::{bank, rewards, treasury, Execution, Genesis};
use vcity_types::event::Event;
use vcity_types::tx::{ClaimRewards, Message, Transfer, VeExtend, VeIncrease, VeLock, VeWithdraw};
use vcity_types::wide::U256;
use vcity_types::{Amount, Denom};

const USERS: u8 = 4;
const CUSTOMER: u8 = 7;
const SCALE: u128 = 1_000_000_000_000;

fn genesis() -> Genesis {
    let mut accounts: Vec<_> = (1..=USERS)
        .map(|seed| funded(seed, vcai(10_000_000), usd(1_000)))
        .collect();
    accounts.push(funded(CUSTOMER, Amount::ZERO, usd(100_000_000)));
    Genesis {
        pool: Some(GenesisPool {
            vcai: vcai(100_000_000),
            usd: usd(10_000_000),
        }),
        ..crate::common::genesis("vcity-rewards", accounts)
    }
}

/// One transaction in a block at `now`.
fn run(chain: &mut Harness, now: u64, who: u8, message: Message) -> Execution {
    let tx = chain.tx(who, message);
    chain.block_at(now, vec![tx])
}

#[derive(Debug, Clone)]
enum Action {
    Revenue { whole_usd: u128 },
    Lock { who: u8, whole: u128, weeks: u64 },
    Increase { who: u8, whole: u128 },
    Extend { who: u8, weeks: u64 },
    Withdraw { who: u8 },
    Claim { who: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    let who = 1..=USERS;
    prop_oneof![
        (1u128..50_000).prop_map(|whole_usd| Action::Revenue { whole_usd }),
        (who.clone(), 1_000u128..1_000_000, 1u64..30)
            .prop_map(|(who, whole, weeks)| Action::Lock { who, whole, weeks }),
        (who.clone(), 1u128..100_000).prop_map(|(who, whole)| Action::Increase { who, whole }),
        (who.clone(), 1u64..40).prop_map(|(who, weeks)| Action::Extend { who, weeks }),
        who.clone().prop_map(|who| Action::Withdraw { who }),
        who.prop_map(|who| Action::Claim { who }),
    ]
}

fn model_apply(locks: &mut BTreeMap<u8, Lock>, now: u64, action: &Action) {
    let unlock = |weeks: u64| {
        let end = (now / WEEK_S + weeks) * WEEK_S;
        (end >= now + WEEK_S && end <= now + MAX_LOCK_S).then_some(end)
    };
    match *action {
        Action::Lock { who, whole, weeks } => {
            if let (false, Some(end_s)) = (locks.contains_key(&who), unlock(weeks)) {
                locks.insert(
                    who,
                    Lock {
                        amount: vcai(whole),
                        end_s,
                        slope: ve::slope_of(vcai(whole)),
                    },
                );
            }
        }
        Action::Increase { who, whole } => {
            if let Some(lock) = locks.get_mut(&who).filter(|l| l.end_s > now) {
                lock.amount = lock.amount.checked_add(vcai(whole)).expect("fits");
                lock.slope = ve::slope_of(lock.amount);
            }
        }
        Action::Extend { who, weeks } => {
            if let (Some(lock), Some(end_s)) = (locks.get_mut(&who), unlock(weeks)) {
                if lock.end_s > now && end_s > lock.end_s {
                    lock.end_s = end_s;
                }
            }
        }
        Action::Withdraw { who } => {
            if locks.get(&who).is_some_and(|l| l.end_s <= now) {
                locks.remove(&who);
            }
        }
        Action::Revenue { .. } | Action::Claim { .. } => {}
    }
}

fn message(now: u64, action: &Action) -> (u8, Message) {
    let week = |weeks: u64| u32::try_from(now / WEEK_S + weeks).expect("fits");
    match *action {
        Action::Revenue { whole_usd } => (
            CUSTOMER,
            Message::Transfer(Transfer {
                to: bank::treasury(),
                denom: Denom::Usd,
                amount: usd(whole_usd),
            }),
        ),
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
        Action::Claim { who } => (who, Message::ClaimRewards(ClaimRewards {})),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_account_gets_its_exact_share_within_one_base_unit_and_never_more(
        steps in proptest::collection::vec((1u64..(30 * 3_600), proptest::collection::vec(action(), 0..4)), 1..80)
    ) {
        let mut chain = Harness::new(&genesis());
        let mut locks: BTreeMap<u8, Lock> = BTreeMap::new();
        // Exact reference, scaled by SCALE: lower and upper bounds of Σ r_k·w_u/W_k.
        let mut lower: BTreeMap<u8, U256> = BTreeMap::new();
        let mut upper: BTreeMap<u8, U256> = BTreeMap::new();
        let mut claimed: BTreeMap<u8, u128> = BTreeMap::new();
        let mut now = 0u64;
        for (advance, actions) in steps {
            now += advance;
            let distributed_before = rewards::totals(chain.ledger.state()).distributed;
            let mut txs = Vec::new();
            for action in &actions {
                let (who, message) = message(now, action);
                txs.push(chain.tx(who, message));
            }
            let execution = chain.block_at(now, txs);
            let state = chain.ledger.state();

            // This block's release went to the weights before its transactions.
            let released = rewards::totals(state).distributed.checked_sub(distributed_before).expect("monotone").base_units();
            let total_weight: u128 = locks.values().map(|lock| lock.weight_at(now)).sum();
            if released > 0 {
                prop_assert!(total_weight > 0, "released {} with no weight", released);
                for (who, lock) in &locks {
                    let share = U256::from_u128(released).checked_mul_u128(lock.weight_at(now)).expect("fits").checked_mul_u128(SCALE).expect("fits");
                    let (floor, remainder) = share.div_rem_u128(total_weight).expect("weight");
                    let ceil = if remainder > 0 { floor.checked_add(U256::from_u128(1)).expect("fits") } else { floor };
                    let entry = lower.entry(*who).or_default();
                    *entry = entry.checked_add(floor).expect("fits");
                    let entry = upper.entry(*who).or_default();
                    *entry = entry.checked_add(ceil).expect("fits");
                }
            }
            for action in &actions {
                model_apply(&mut locks, now, action);
            }
            for receipt in &execution.receipts {
                for event in &receipt.events {
                    if let Event::RewardsClaimed { account: who, amount } = event {
                        let seed = (1..=USERS).find(|s| account(*s) == *who).expect("a user");
                        *claimed.entry(seed).or_default() += amount.base_units();
                    }
                }
            }

            // The distributor's VCAI: released-but-unclaimed + carried + still streaming + bought
            // this interval.
            let totals = rewards::totals(state);
            prop_assert!(totals.claimed <= totals.distributed);
            let expected_balance = totals.distributed.checked_sub(totals.claimed).expect("claims ≤ distributed")
                .checked_add(rewards::carry(state)).expect("fits")
                .checked_add(rewards::stream(state).remaining()).expect("fits")
                .checked_add(treasury::buyback(state).map_or(Amount::ZERO, |b| b.bought)).expect("fits");
            prop_assert_eq!(bank::balance(state, &rewards::distributor_account(), Denom::Vcai), expected_balance);
        }
        let state = chain.ledger.state();
        for who in 1..=USERS {
            let got = rewards::claimable(state, &account(who)).base_units() + claimed.get(&who).copied().unwrap_or(0);
            let (low, _) = lower.get(&who).copied().unwrap_or_default().div_rem_u128(SCALE).expect("scale");
            let (high, rem) = upper.get(&who).copied().unwrap_or_default().div_rem_u128(SCALE).expect("scale");
            let high = high.to_u128().expect("fits") + u128::from(rem > 0);
            let low = low.to_u128().expect("fits");
            prop_assert!(got <= high, "account {} got {} above the exact share ≤ {}", who, got, high);
            prop_assert!(got + 1 >= low, "account {} got {} more than one unit below {}", who, got, low);
        }
    }
}

#[test]
fn buyback_streams_over_the_next_interval_and_lockers_claim_it() {
    let mut chain = Harness::new(&genesis());
    // Day 0: alice locks; 10,000 USD of revenue arrives.
    run(
        &mut chain,
        10,
        1,
        Message::VeLock(VeLock {
            amount: vcai(100_000),
            unlock_week: 52,
        }),
    );
    run(
        &mut chain,
        20,
        CUSTOMER,
        Message::Transfer(Transfer {
            to: bank::treasury(),
            denom: Denom::Usd,
            amount: usd(10_000),
        }),
    );
    // Day 1: the budget is set from the treasury; hourly blocks spend it through the day.
    for hour in 0..=24u64 {
        run(
            &mut chain,
            86_400 + hour * 3_600,
            CUSTOMER,
            Message::Transfer(Transfer {
                to: account(2),
                denom: Denom::Usd,
                amount: usd(1),
            }),
        );
    }
    let bought = bank::balance(
        chain.ledger.state(),
        &rewards::distributor_account(),
        Denom::Vcai,
    );
    assert!(
        bought > vcai(90_000),
        "about 10,000 USD at ~0.1 USD/VCAI, less fees and impact: {bought:?}"
    );
    // Nothing was released yet: day 1's purchases stream over day 2.
    assert_eq!(
        rewards::totals(chain.ledger.state()).distributed,
        Amount::ZERO
    );
    for hour in 1..=24u64 {
        run(
            &mut chain,
            2 * 86_400 + hour * 3_600,
            CUSTOMER,
            Message::Transfer(Transfer {
                to: account(2),
                denom: Denom::Usd,
                amount: usd(1),
            }),
        );
    }
    let claimable = rewards::claimable(chain.ledger.state(), &account(1));
    assert!(claimable > Amount::ZERO);
    let execution = run(
        &mut chain,
        3 * 86_400 + 100,
        1,
        Message::ClaimRewards(ClaimRewards {}),
    );
    assert_eq!(
        execution.receipts[0].code, 0,
        "{}",
        execution.receipts[0].error
    );
    // Alice is the only locker: she gets everything released, less at most one base unit.
    let totals = rewards::totals(chain.ledger.state());
    assert!(
        totals.distributed.base_units() - totals.claimed.base_units() <= 1,
        "{totals:?}"
    );
    let again = run(
        &mut chain,
        3 * 86_400 + 100,
        1,
        Message::ClaimRewards(ClaimRewards {}),
    );
    assert_eq!(again.receipts[0].code, 16);
}
