//! The rules §2 genesis allocation, vesting claims and Genesis NFTs, with the whitepaper's own
//! numbers as vectors, through blocks at chosen times.

use crate::common::{account, funded, usd, vcai, Harness};
use vcity_ledger::genesis::SpecBeneficiaries;
use vcity_ledger::vesting::{self, MONTH_S};
use vcity_ledger::{bank, nft, Genesis};
use vcity_types::tx::{ClaimNft, ClaimVesting, Message, TransferNft};
use vcity_types::{AccountId, Amount, Denom};

const CHAIN: &str = "vcity-allocation";

// Seeds: 1 private sale, 2 public sale, 3 core team, 4 advisors, 5 liquidity, 6 and 7 NFT holders.
fn genesis() -> Genesis {
    let users = (1..=7u8)
        .map(|seed| funded(seed, Amount::ZERO, usd(100)))
        .collect();
    crate::common::genesis(CHAIN, users)
        .with_spec_allocation(&SpecBeneficiaries {
            private_sale: account(1),
            public_sale: account(2),
            core_team: account(3),
            advisors: account(4),
            liquidity: account(5),
            nft_owners: vec![account(6), account(6), account(7)],
            pool_usd: Amount::ZERO,
        })
        .expect("spec allocation")
}

fn new_chain() -> Harness {
    Harness::new(&genesis())
}

fn vcai_of(chain: &Harness, seed: u8) -> Amount {
    bank::balance(chain.ledger.state(), &account(seed), Denom::Vcai)
}

#[test]
fn genesis_totals_ten_billion_with_784_890_000_circulating() {
    let chain = new_chain();
    let state = chain.ledger.state();
    assert_eq!(bank::supply(state, Denom::Vcai), vcai(10_000_000_000));
    assert_eq!(vesting::circulating(state), vcai(784_890_000));
    // TGE parts are paid out; the rest waits in the vesting account.
    assert_eq!(vcai_of(&chain, 1), vcai(514_885_000));
    assert_eq!(vcai_of(&chain, 2), vcai(170_005_000));
    assert_eq!(vcai_of(&chain, 3), Amount::ZERO);
    assert_eq!(vcai_of(&chain, 4), Amount::ZERO);
    assert_eq!(vcai_of(&chain, 5), vcai(100_000_000 - 3 * 10_000));
    let module = |account: AccountId| bank::balance(state, &account, Denom::Vcai);
    assert_eq!(module(vesting::reserve_account()), vcai(2_000_000_000));
    assert_eq!(
        module(vesting::incentive_pool_account()),
        vcai(2_000_000_000)
    );
    assert_eq!(module(nft::nft_reserve_account()), vcai(30_000));
    assert_eq!(
        module(vesting::vesting_account()),
        vcai(
            2_350_000_000 - 514_885_000 + 550_000_000 - 170_005_000 + 2_000_000_000 + 1_000_000_000
        )
    );
    assert_eq!(nft::count(state), 3);
}

#[test]
fn each_allocation_at_its_cliff_and_end() {
    let mut chain = new_chain();
    // Core team: nothing at the cliff (month 18), everything at month 60.
    let receipt = chain.at(18 * MONTH_S, 3, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(
        receipt.error,
        "nothing to claim: no vesting released since the last claim"
    );
    assert_eq!(receipt.code, 16);
    let receipt = chain.at(60 * MONTH_S, 3, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(vcai_of(&chain, 3), vcai(2_000_000_000));

    let mut chain = new_chain();
    // Private sale: half the rest at month 6, all at month 12.
    chain.at(6 * MONTH_S, 1, Message::ClaimVesting(ClaimVesting {}));
    let rest = 2_350_000_000u128 - 514_885_000;
    assert_eq!(vcai_of(&chain, 1), vcai(514_885_000 + rest / 2));
    // Public sale: all at month 6.
    chain.at(6 * MONTH_S + 10, 2, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(vcai_of(&chain, 2), vcai(550_000_000));
    chain.at(12 * MONTH_S, 1, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(vcai_of(&chain, 1), vcai(2_350_000_000));
    // Advisors: 1/18 per month, all at month 18.
    chain.at(13 * MONTH_S, 4, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(
        vcai_of(&chain, 4),
        vcai(1_000_000_000)
            .mul_div(13, 18, vcity_types::Rounding::Down)
            .expect("fits")
    );
    chain.at(18 * MONTH_S, 4, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(vcai_of(&chain, 4), vcai(1_000_000_000));
    // Everything that vests has vested: only reserve and incentive pool remain uncirculating.
    chain.at(60 * MONTH_S, 3, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(
        bank::balance(
            chain.ledger.state(),
            &vesting::vesting_account(),
            Denom::Vcai
        ),
        Amount::ZERO
    );
    assert_eq!(
        vesting::circulating(chain.ledger.state()),
        vcai(6_000_000_000)
    );
    // An account without grants.
    let receipt = chain.at(61 * MONTH_S, 6, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(receipt.code, 15);
}

#[test]
fn nft_claim_right_moves_with_the_nft_and_nobody_claims_twice() {
    let mut chain = new_chain();
    // Holder 6 has NFTs 1 and 2; holder 7 has NFT 3.
    let receipt = chain.at(10, 6, Message::ClaimNft(ClaimNft { id: 1 }));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(vcai_of(&chain, 6), vcai(2_500));
    let receipt = chain.at(20, 6, Message::ClaimNft(ClaimNft { id: 1 }));
    assert_eq!(receipt.code, 16, "claiming twice");
    let receipt = chain.at(30, 6, Message::ClaimNft(ClaimNft { id: 3 }));
    assert_eq!(receipt.code, 10, "not the holder");
    let receipt = chain.at(40, 6, Message::ClaimNft(ClaimNft { id: 99 }));
    assert_eq!(receipt.code, 15, "no such NFT");

    // NFT 1 moves to 7 after one month: 7 gets what 6 left (month 1's 1,250), 6 gets nothing more.
    let receipt = chain.at(
        MONTH_S,
        6,
        Message::TransferNft(TransferNft {
            id: 1,
            to: account(7),
        }),
    );
    assert_eq!(receipt.code, 0);
    assert_eq!(
        chain
            .at(MONTH_S + 1, 6, Message::ClaimNft(ClaimNft { id: 1 }))
            .code,
        10
    );
    chain.at(MONTH_S + 2, 7, Message::ClaimNft(ClaimNft { id: 1 }));
    assert_eq!(vcai_of(&chain, 7), vcai(1_250));
    // After six months, the rest of NFT 1 and all of NFT 3 go to 7.
    chain.at(6 * MONTH_S, 7, Message::ClaimNft(ClaimNft { id: 1 }));
    chain.at(6 * MONTH_S + 1, 7, Message::ClaimNft(ClaimNft { id: 3 }));
    assert_eq!(vcai_of(&chain, 7), vcai(10_000 - 2_500 + 10_000));
    assert_eq!(
        chain
            .at(7 * MONTH_S, 7, Message::ClaimNft(ClaimNft { id: 1 }))
            .code,
        16
    );
    // NFT 2 never moved and is claimed once at the end.
    chain.at(7 * MONTH_S, 6, Message::ClaimNft(ClaimNft { id: 2 }));
    assert_eq!(vcai_of(&chain, 6), vcai(2_500 + 10_000));
    assert_eq!(
        bank::balance(
            chain.ledger.state(),
            &nft::nft_reserve_account(),
            Denom::Vcai
        ),
        Amount::ZERO,
        "every NFT paid exactly its entitlement"
    );
}

#[test]
fn genesis_without_the_new_sections_hashes_as_before() {
    // Older genesis files keep their id: new sections are left out when empty.
    let plain = crate::common::genesis(CHAIN, Vec::new());
    let json = plain.to_json();
    assert!(
        !json.contains("allocations") && !json.contains("genesis_nfts"),
        "{json}"
    );
    assert_eq!(Genesis::from_json(&json).expect("parses"), plain);
    let full = genesis();
    assert_eq!(Genesis::from_json(&full.to_json()).expect("parses"), full);
}
