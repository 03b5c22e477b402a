//! Protocol repricing through blocks (docs/governance.md, "Repricing"): one write changes the
//! unit; nothing internal moves, so no share, no supply and no USD value changes (a property
//! test over random holdings, pools and ratios); messages after it speak the new unit with their
//! rounding named; events carry the unit of their moment; bad ratios are refused with code 33.

use crate::common::{account, funded, governed, usd, vcai, Harness, GOVERNOR};
use proptest::prelude::*;
use vcity_ledger::genesis::GenesisPool;
use vcity_ledger::{bank, pool, repricing, ve};
use vcity_types::event::Event;
use vcity_types::governance::{Action, CastVote, Choice, ExecuteProposal, Fund, Payment, Propose};
use vcity_types::tx::{Message, SwapExactOut, Transfer, VeLock};
use vcity_types::{Amount, Denom, Rounding, Scale};

const BOB: u8 = 1;
const CAROL: u8 = 2;

fn reprice(numerator: u64, denominator: u64) -> Action {
    Action::Reprice {
        numerator,
        denominator,
    }
}

fn chain_with(holdings: &[(u8, Amount)], pool_vcai: Amount, pool_usd: Amount) -> Harness {
    let mut genesis = crate::common::genesis(
        "vcity-reprice",
        holdings
            .iter()
            .map(|(seed, amount)| funded(*seed, *amount, usd(1_000)))
            .collect(),
    );
    governed(&mut genesis);
    genesis.reserve_vcai = vcai(1_000_000);
    genesis.pool = Some(GenesisPool {
        vcai: pool_vcai,
        usd: pool_usd,
    });
    Harness::new(&genesis)
}

fn balance(chain: &Harness, seed: u8) -> Amount {
    bank::balance(chain.ledger.state(), &account(seed), Denom::Vcai)
}

fn scale(chain: &Harness) -> Scale {
    repricing::scale(chain.ledger.state())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A repricing by any allowed ratio moves no internal quantity: every account's share of
    /// the supply, shown in the new unit, is its old share up to one nominal base unit of
    /// rounding; the supply audit holds; and the pool's USD price of each holding is unchanged
    /// up to the same rounding.
    #[test]
    fn repricing_is_value_neutral(
        holdings in proptest::collection::vec(1u128..10_000_000_000_000_000_000_000_000, 1..5),
        pool_vcai in 1_000u128..1_000_000_000,
        pool_usd in 1_000u128..1_000_000_000,
        numerator in 1u64..=1_000,
        denominator in 1u64..=1_000,
    ) {
        prop_assume!(numerator != denominator);
        let seeds: Vec<(u8, Amount)> = holdings
            .iter()
            .enumerate()
            .map(|(index, amount)| (10 + index as u8, Amount::new(*amount)))
            .collect();
        let mut chain = chain_with(&seeds, vcai(pool_vcai), usd(pool_usd));
        let before: Vec<Amount> = seeds.iter().map(|(seed, _)| balance(&chain, *seed)).collect();
        let supply = bank::supply(chain.ledger.state(), Denom::Vcai);
        let reserves = pool::reserves(chain.ledger.state());
        let price = pool::spot_price(&reserves);
        let weight = ve::total_weight_at(chain.ledger.state(), 0);

        let (receipt, _) = chain.govern(1, GOVERNOR, vec![reprice(numerator, denominator)]);
        prop_assert_eq!(receipt.code, 0, "{}", receipt.error);
        let now = scale(&chain);
        prop_assert_eq!(now, Scale::ONE.then(numerator, denominator).expect("in range"));

        // Nothing internal moved (the harness audits the supply after every block).
        prop_assert_eq!(bank::supply(chain.ledger.state(), Denom::Vcai), supply);
        prop_assert_eq!(pool::reserves(chain.ledger.state()), reserves);
        let shown_supply = now.shown(supply).base_units();
        for ((seed, _), internal) in seeds.iter().zip(&before) {
            prop_assert_eq!(balance(&chain, *seed), *internal);
            // Shares: |shown_i × S − internal_i × shown_S| < S (one unit of rounding each).
            let shown = now.shown(*internal).base_units();
            let left = vcity_types::wide::mul(shown, supply.base_units());
            let right = vcity_types::wide::mul(internal.base_units(), shown_supply);
            let gap = if left >= right { sub(left, right) } else { sub(right, left) };
            prop_assert!(gap.0 == 0 && gap.1 < supply.base_units(), "share moved for {seed}");
            // USD value: shown × price per shown unit ≈ internal × price per internal unit.
            let value_before = vcity_types::wide::mul_div(
                internal.base_units(), price, 1_000_000_000_000_000_000_000_000_000_000, Rounding::Down,
            ).expect("fits");
            let value_after = vcity_types::wide::mul_div(
                shown, now.shown_price(price), 1_000_000_000_000_000_000_000_000_000_000, Rounding::Down,
            ).expect("fits");
            prop_assert!(value_after <= value_before + 1, "{value_before} -> {value_after}");
            // Lost to rounding: at most one shown unit's worth and one price step's worth.
            let slack = price / 1_000_000_000_000 + 2 + internal.base_units() / 1_000_000_000_000_000_000_000_000;
            prop_assert!(value_before <= value_after + slack, "{value_before} -> {value_after}");
        }
        // Vote weights stay internal too: the history snapshots read is untouched.
        prop_assert_eq!(ve::total_weight_at(chain.ledger.state(), 0), weight);

        // A nominal transfer after it moves the internal amount it converts to, rounded down.
        let (from, internal_from) = (seeds[0].0, before[0]);
        let asked = now.shown(internal_from).base_units() / 3;
        let receipt = chain.at(
            100,
            from,
            Message::Transfer(Transfer { to: account(CAROL), denom: Denom::Vcai, amount: Amount::new(asked) }),
        );
        let moved = now.to_internal(Amount::new(asked), Rounding::Down).expect("fits");
        if moved.is_zero() {
            prop_assert_ne!(receipt.code, 0);
        } else {
            prop_assert_eq!(receipt.code, 0, "{}", receipt.error);
            prop_assert_eq!(balance(&chain, CAROL), moved);
            prop_assert_eq!(balance(&chain, from), internal_from.checked_sub(moved).expect("held"));
            let shown_event = receipt.events.iter().find_map(|event| match event {
                Event::Transfer { denom: Denom::Vcai, amount, .. } => Some(*amount),
                _ => None,
            });
            prop_assert_eq!(shown_event, Some(now.shown(moved)));
            prop_assert!(now.shown(moved) <= Amount::new(asked));
        }
    }
}

fn sub(a: (u128, u128), b: (u128, u128)) -> (u128, u128) {
    let (low, borrow) = a.1.overflowing_sub(b.1);
    (a.0 - b.0 - u128::from(borrow), low)
}

fn plain_chain() -> Harness {
    chain_with(
        &[(BOB, vcai(1_000)), (CAROL, vcai(1))],
        vcai(1_000_000),
        usd(100_000),
    )
}

fn propose_code(chain: &mut Harness, t: u64, actions: Vec<Action>) -> (u32, String) {
    let receipt = chain.at(
        t,
        GOVERNOR,
        Message::Propose(Propose {
            title: "p".into(),
            description: String::new(),
            actions,
        }),
    );
    (receipt.code, receipt.error)
}

#[test]
fn ratios_out_of_range_and_scales_past_the_supply_bound_are_refused() {
    let mut chain = plain_chain();
    for (numerator, denominator) in [(0, 1), (1, 0), (1_001, 1), (1, 1_001), (7, 7)] {
        let (code, error) = propose_code(&mut chain, 1, vec![reprice(numerator, denominator)]);
        assert_eq!(code, 33, "{numerator}/{denominator}: {error}");
    }
    // The supply is a few million VCAI (10^24..10^25 base units): three thousand-fold splits
    // reach 10^33..10^34 nominal units, a fourth would pass the 10^36 bound.
    let mut t = 1;
    for _ in 0..3 {
        let (receipt, executed_s) = chain.govern(t, GOVERNOR, vec![reprice(1_000, 1)]);
        assert_eq!(receipt.code, 0, "{}", receipt.error);
        t = executed_s + 1;
    }
    assert_eq!(
        scale(&chain),
        Scale {
            numerator: 1_000_000_000,
            denominator: 1
        }
    );
    let (code, error) = propose_code(&mut chain, t, vec![reprice(1_000, 1)]);
    assert_eq!(code, 33, "{error}");
    assert!(error.contains("nominal VCAI supply"), "{error}");
    // Consolidating back is allowed, and returns to the genesis unit exactly.
    for _ in 0..3 {
        let (receipt, executed_s) = chain.govern(t, GOVERNOR, vec![reprice(1, 1_000)]);
        assert_eq!(receipt.code, 0, "{}", receipt.error);
        t = executed_s + 1;
    }
    assert_eq!(scale(&chain), Scale::ONE);
}

fn vote_yes(chain: &mut Harness, t: u64, number: u64) {
    let id = chain.proposal_id(number);
    let vote = chain.at(
        t,
        GOVERNOR,
        Message::CastVote(CastVote {
            proposal: id,
            choice: Choice::Yes,
        }),
    );
    assert_eq!(vote.code, 0, "{}", vote.error);
}

fn execute(chain: &mut Harness, t: u64, number: u64) -> vcity_types::receipt::Receipt {
    let id = chain.proposal_id(number);
    let receipt = chain.at(
        t,
        GOVERNOR,
        Message::ExecuteProposal(ExecuteProposal { proposal: id }),
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    receipt
}

#[test]
fn after_a_split_messages_events_and_proposals_speak_the_new_unit() {
    let mut chain = chain_with(
        &[(BOB, vcai(2_000)), (CAROL, vcai(1))],
        vcai(1_000_000),
        usd(100_000),
    );
    // A spend proposed before the split keeps its value: it pays 10 old VCAI, which the split
    // shows as 100.
    let spend = chain.propose(
        1,
        GOVERNOR,
        vec![Action::Spend {
            from: Fund::Reserve,
            denom: Denom::Vcai,
            payments: vec![Payment {
                recipient: account(CAROL),
                amount: vcai(10),
                vesting: None,
            }],
        }],
    );
    let split_number = chain.propose(2, GOVERNOR, vec![reprice(10, 1)]);
    let split_proposal =
        vcity_ledger::governance::proposal(chain.ledger.state(), split_number).expect("split");
    vote_yes(&mut chain, split_proposal.voting_starts_s, spend);
    vote_yes(&mut chain, split_proposal.voting_starts_s + 1, split_number);
    let t = split_proposal.executable_s;
    let receipt = execute(&mut chain, t, split_number);
    let split = scale(&chain);
    assert_eq!(
        split,
        Scale {
            numerator: 10,
            denominator: 1
        }
    );
    assert!(receipt.events.iter().any(|event| matches!(
        event,
        Event::Repriced {
            numerator: 10,
            denominator: 1,
            ..
        }
    )));

    // bob sends 5 new VCAI (half an old one) to carol.
    let receipt = chain.at(
        t + 1,
        BOB,
        Message::Transfer(Transfer {
            to: account(CAROL),
            denom: Denom::Vcai,
            amount: vcai(5),
        }),
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        balance(&chain, CAROL),
        vcai(1)
            .checked_add(Amount::new(500_000_000_000_000_000))
            .expect("fits")
    );
    assert!(receipt.events.contains(&Event::Transfer {
        from: account(BOB),
        to: account(CAROL),
        denom: Denom::Vcai,
        amount: vcai(5),
    }));

    // The 1,000 VCAI lock minimum is 10,000 in the new unit: 9,990 new VCAI is refused.
    let refused = chain.at(
        t + 2,
        BOB,
        Message::VeLock(VeLock {
            amount: vcai(9_990),
            unlock_week: 100,
        }),
    );
    assert_eq!(refused.code, 17, "{}", refused.error);
    let locked = chain.at(
        t + 3,
        BOB,
        Message::VeLock(VeLock {
            amount: vcai(10_000),
            unlock_week: 100,
        }),
    );
    assert_eq!(locked.code, 0, "{}", locked.error);
    assert!(locked.events.iter().any(|event| matches!(
        event,
        Event::VeLocked { amount, .. } if *amount == vcai(10_000)
    )));

    // Buying an exact VCAI amount that is not a whole internal unit receives at least what was
    // asked.
    let carol_before = balance(&chain, CAROL);
    let asked = Amount::new(12_345_678_901);
    let bought = chain.at(
        t + 4,
        CAROL,
        Message::SwapExactOut(SwapExactOut {
            denom_out: Denom::Vcai,
            amount_out: asked,
            max_in: usd(10),
        }),
    );
    assert_eq!(bought.code, 0, "{}", bought.error);
    let received = balance(&chain, CAROL)
        .checked_sub(carol_before)
        .expect("received");
    assert!(split.shown(received) >= asked);
    assert_eq!(
        received,
        split.to_internal(asked, Rounding::Up).expect("fits")
    );

    // The spend voted before the split still pays its 10 old VCAI, reported as 100 new.
    let carol_before = balance(&chain, CAROL);
    let paid = execute(&mut chain, t + 5, spend);
    assert_eq!(
        balance(&chain, CAROL)
            .checked_sub(carol_before)
            .expect("paid"),
        vcai(10)
    );
    assert!(paid.events.iter().any(|event| matches!(
        event,
        Event::FundSpent { amount, .. } if *amount == vcai(100)
    )));
}

#[test]
fn events_of_one_transaction_speak_the_unit_of_their_moment() {
    let mut chain = plain_chain();
    let pay = |whole| Action::Spend {
        from: Fund::Reserve,
        denom: Denom::Vcai,
        payments: vec![Payment {
            recipient: account(CAROL),
            amount: vcai(whole),
            vesting: None,
        }],
    };
    let (receipt, t) = chain.govern(1, GOVERNOR, vec![pay(10), reprice(10, 1), pay(10)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let spent: Vec<Amount> = receipt
        .events
        .iter()
        .filter_map(|event| match event {
            Event::FundSpent { amount, .. } => Some(*amount),
            _ => None,
        })
        .collect();
    // The same 10 genesis-unit VCAI each time: 10 before the split, 100 after it.
    assert_eq!(spent, [vcai(10), vcai(100)]);
    assert_eq!(balance(&chain, CAROL), vcai(21));
    // A later block's events and views speak the new unit from the start.
    let receipt = chain.at(
        t + 1,
        CAROL,
        Message::Transfer(Transfer {
            to: account(BOB),
            denom: Denom::Vcai,
            amount: vcai(210),
        }),
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(balance(&chain, CAROL), Amount::ZERO);
}
