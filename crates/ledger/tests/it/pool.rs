//! The VCAI/USD pool through blocks: random swaps, deposits and withdrawals never decrease k on a
//! swap, never decrease the value of a share, keep the recorded reserves equal to the pool's
//! balances and conserve supply.

use crate::common::{account, funded, usd, vcai, Harness};
use proptest::prelude::*;
use vcity_ledger::genesis::GenesisPool;
use vcity_ledger::pool::{self, MINIMUM_LIQUIDITY};
use vcity_ledger::{audit_supply, bank, Genesis, Ledger};
use vcity_types::tx::{AddLiquidity, Message, RemoveLiquidity, SwapExactIn, SwapExactOut};
use vcity_types::{wide, Amount, Denom};

fn genesis() -> Genesis {
    let accounts = (1..=3)
        .map(|seed| funded(seed, vcai(10_000_000), usd(1_000_000)))
        .collect();
    Genesis {
        pool: Some(GenesisPool {
            vcai: vcai(69_970_000),
            usd: usd(6_997_000),
        }),
        ..crate::common::genesis("vcity-pool", accounts)
    }
}

#[test]
fn genesis_seed_belongs_to_the_treasury_at_the_seed_price() {
    let ledger = Ledger::from_genesis(&genesis()).expect("genesis");
    let state = ledger.state();
    let reserves = pool::reserves(state);
    assert_eq!(
        reserves.vcai,
        Amount::whole(69_970_000, Denom::Vcai).expect("fits")
    );
    assert_eq!(
        reserves.usd,
        Amount::whole(6_997_000, Denom::Usd).expect("fits")
    );
    let root = wide::sqrt_product(reserves.vcai.base_units(), reserves.usd.base_units());
    assert_eq!(pool::total_shares(state).base_units(), root);
    assert_eq!(
        pool::shares(state, &bank::treasury()).base_units(),
        root - MINIMUM_LIQUIDITY
    );
    // 0.10 USD per VCAI: 10^5 USD base units per 10^18 VCAI base units, scaled by 10^30.
    assert_eq!(pool::spot_price(&reserves), 100_000_000_000_000_000);
    audit_supply(state).expect("supply");
}

#[test]
fn slippage_bounds_are_enforced_and_change_nothing() {
    let mut chain = Harness::new(&genesis());
    let reserves = pool::reserves(chain.ledger.state());
    let usd_in = Amount::whole(1_000, Denom::Usd).expect("fits");
    let quote = pool::amount_out(
        usd_in.base_units(),
        reserves.usd.base_units(),
        reserves.vcai.base_units(),
        30,
    )
    .expect("quote");
    let messages = [
        Message::SwapExactIn(SwapExactIn {
            denom_in: Denom::Usd,
            amount_in: usd_in,
            min_out: Amount::new(quote + 1),
        }),
        Message::SwapExactOut(SwapExactOut {
            denom_out: Denom::Vcai,
            amount_out: Amount::new(quote),
            max_in: Amount::new(usd_in.base_units() - 1),
        }),
        Message::AddLiquidity(AddLiquidity {
            vcai_max: Amount::whole(1_000, Denom::Vcai).expect("fits"),
            usd_max: Amount::whole(100, Denom::Usd).expect("fits"),
            min_shares: Amount::new(u128::MAX),
        }),
    ];
    for (index, message) in messages.into_iter().enumerate() {
        let receipt = chain.at(1 + index as u64, 1, message);
        assert_eq!(receipt.code, 18, "{}", receipt.error);
        assert_eq!(pool::reserves(chain.ledger.state()), reserves);
    }
    // Exactly the quote succeeds.
    let exact = Message::SwapExactIn(SwapExactIn {
        denom_in: Denom::Usd,
        amount_in: usd_in,
        min_out: Amount::new(quote),
    });
    let receipt = chain.at(10, 1, exact);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
}

#[derive(Debug, Clone)]
enum Action {
    SwapIn { who: u8, usd: bool, amount: u128 },
    SwapOut { who: u8, usd: bool, amount: u128 },
    Add { who: u8, vcai: u128, usd: u128 },
    Remove { who: u8, per_mille: u128 },
}

fn action() -> impl Strategy<Value = Action> {
    let who = 1u8..=3;
    prop_oneof![
        (who.clone(), any::<bool>(), 1u128..10u128.pow(25))
            .prop_map(|(who, usd, amount)| Action::SwapIn { who, usd, amount }),
        (who.clone(), any::<bool>(), 1u128..10u128.pow(24))
            .prop_map(|(who, usd, amount)| Action::SwapOut { who, usd, amount }),
        (who.clone(), 1u128..10u128.pow(25), 1u128..10u128.pow(12))
            .prop_map(|(who, vcai, usd)| Action::Add { who, vcai, usd }),
        (who, 1u128..=1_000).prop_map(|(who, per_mille)| Action::Remove { who, per_mille }),
    ]
}

fn denom(usd: bool) -> Denom {
    if usd {
        Denom::Usd
    } else {
        Denom::Vcai
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn swaps_never_decrease_k_and_shares_never_lose_value(
        blocks in proptest::collection::vec(proptest::collection::vec(action(), 1..5), 1..25)
    ) {
        let mut chain = Harness::new(&genesis());
        let mut now_s = 0u64;
        for actions in blocks {
            now_s += 5;
            let mut txs = Vec::new();
            for action in &actions {
                let state = chain.ledger.state();
                let (who, message) = match *action {
                    Action::SwapIn { who, usd, amount } => (who, Message::SwapExactIn(SwapExactIn { denom_in: denom(usd), amount_in: Amount::new(amount), min_out: Amount::ZERO })),
                    Action::SwapOut { who, usd, amount } => (who, Message::SwapExactOut(SwapExactOut { denom_out: denom(usd), amount_out: Amount::new(amount), max_in: Amount::new(u128::MAX) })),
                    Action::Add { who, vcai, usd } => (who, Message::AddLiquidity(AddLiquidity { vcai_max: Amount::new(vcai), usd_max: Amount::new(usd), min_shares: Amount::ZERO })),
                    Action::Remove { who, per_mille } => {
                        let held = pool::shares(state, &account(who)).base_units();
                        (who, Message::RemoveLiquidity(RemoveLiquidity { shares: Amount::new(held * per_mille / 1_000), min_vcai: Amount::ZERO, min_usd: Amount::ZERO }))
                    }
                };
                txs.push(chain.tx(who, message));
            }
            // Check each transaction on its own, in order, so k and share value are compared
            // across exactly one operation.
            for tx in txs {
                let before = pool::reserves(chain.ledger.state());
                let shares_before = pool::total_shares(chain.ledger.state()).base_units();
                chain.block_at(now_s, vec![tx]);
                now_s += 1;
                let state = chain.ledger.state();
                let after = pool::reserves(state);
                let shares_after = pool::total_shares(state).base_units();
                prop_assert_eq!(after.vcai, bank::balance(state, &pool::pool_account(), Denom::Vcai));
                prop_assert_eq!(after.usd, bank::balance(state, &pool::pool_account(), Denom::Usd));
                let k_before = wide::mul(before.vcai.base_units(), before.usd.base_units());
                let k_after = wide::mul(after.vcai.base_units(), after.usd.base_units());
                if shares_after == shares_before {
                    prop_assert!(k_after >= k_before, "a swap decreased k");
                }
                // Value per share never falls: sqrt(k)/S is non-decreasing, i.e.
                // k_after · S_before² ≥ k_before · S_after² (compared through roots to stay in 256 bits).
                let root_before = wide::sqrt_product(before.vcai.base_units(), before.usd.base_units());
                let root_after = wide::sqrt_product(after.vcai.base_units(), after.usd.base_units());
                prop_assert!(
                    wide::mul(root_after + 1, shares_before) >= wide::mul(root_before, shares_after),
                    "share value fell: {:?} -> {:?}, shares {} -> {}", before, after, shares_before, shares_after
                );
                prop_assert!(after.vcai.base_units() > 0 && after.usd.base_units() > 0);
                prop_assert!(shares_after >= MINIMUM_LIQUIDITY);
            }
        }
    }
}
