//! The SPEC §2 genesis allocation, vesting claims and Genesis NFTs, with the whitepaper's own
//! numbers as vectors, through blocks at chosen times.

use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use vcity_ledger::chain::Validator;
use vcity_ledger::genesis::SpecBeneficiaries;
use vcity_ledger::vesting::{self, MONTH_S};
use vcity_ledger::{
    audit_supply, bank, nft, BlockContext, Genesis, GenesisAccount, Ledger, Mode, PreparedTx,
};
use vcity_types::receipt::Receipt;
use vcity_types::tx::{ClaimNft, ClaimVesting, Message, TransferNft, TxBody};
use vcity_types::{AccountId, Amount, Denom, Hash};

const CHAIN: &str = "vcity-allocation";
const GENESIS_MS: u64 = 1_800_000_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn account(seed: u8) -> AccountId {
    AccountId::from_public_key(&key(seed).verifying_key())
}

fn vcai(whole: u128) -> Amount {
    Amount::whole(whole, Denom::Vcai).expect("fits")
}

// Seeds: 1 private sale, 2 public sale, 3 core team, 4 advisors, 5 liquidity, 6 and 7 NFT holders.
fn genesis() -> Genesis {
    let users = (1..=7u8).map(|seed| GenesisAccount {
        name: None,
        id: account(seed),
        vcai: Amount::ZERO,
        usd: Amount::whole(100, Denom::Usd).expect("fits"),
    });
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_MS,
        usd_issuer: account(9),
        validators: vec![Validator {
            name: "v".into(),
            public_key: account(100),
            power: 1,
        }],
        accounts: users.collect(),
        ..Default::default()
    }
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

struct Chain {
    ledger: Ledger,
    nonces: BTreeMap<u8, u64>,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            ledger: Ledger::from_genesis(&genesis()).expect("valid genesis"),
            nonces: BTreeMap::new(),
        }
    }

    fn tx(&mut self, seed: u8, message: Message) -> PreparedTx {
        let nonce = self.nonces.entry(seed).or_insert(0);
        let body = TxBody {
            chain_id: CHAIN.into(),
            sender: account(seed),
            nonce: *nonce,
            fee: Amount::new(1_000),
            messages: vec![message],
        };
        *nonce += 1;
        self.ledger
            .prepare(body.sign(&key(seed)).to_bytes())
            .expect("well-formed")
    }

    /// Runs one transaction in a block at `elapsed_s` after genesis; returns its receipt.
    fn at(&mut self, elapsed_s: u64, seed: u8, message: Message) -> Receipt {
        let tx = self.tx(seed, message);
        let context = BlockContext {
            height: self.ledger.height().next(),
            time_ms: GENESIS_MS + elapsed_s * 1_000,
            beacon: Hash::ZERO,
            proposer: account(100),
        };
        let execution = self
            .ledger
            .execute(context, vec![tx], Mode::Verify)
            .expect("valid block");
        self.ledger.commit(&execution);
        audit_supply(self.ledger.state()).expect("supply conserved");
        execution.receipts.into_iter().next().expect("one receipt")
    }

    fn vcai(&self, seed: u8) -> Amount {
        bank::balance(self.ledger.state(), &account(seed), Denom::Vcai)
    }
}

#[test]
fn genesis_totals_ten_billion_with_784_890_000_circulating() {
    let chain = Chain::new();
    let state = chain.ledger.state();
    assert_eq!(bank::supply(state, Denom::Vcai), vcai(10_000_000_000));
    assert_eq!(vesting::circulating(state), vcai(784_890_000));
    // TGE parts are paid out; the rest waits in the vesting account.
    assert_eq!(chain.vcai(1), vcai(514_885_000));
    assert_eq!(chain.vcai(2), vcai(170_005_000));
    assert_eq!(chain.vcai(3), Amount::ZERO);
    assert_eq!(chain.vcai(4), Amount::ZERO);
    assert_eq!(chain.vcai(5), vcai(100_000_000 - 3 * 10_000));
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
    let mut chain = Chain::new();
    // Core team: nothing at the cliff (month 18), everything at month 60.
    let receipt = chain.at(18 * MONTH_S, 3, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(
        receipt.error,
        "nothing to claim: no vesting released since the last claim"
    );
    assert_eq!(receipt.code, 16);
    let receipt = chain.at(60 * MONTH_S, 3, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(chain.vcai(3), vcai(2_000_000_000));

    let mut chain = Chain::new();
    // Private sale: half the rest at month 6, all at month 12.
    chain.at(6 * MONTH_S, 1, Message::ClaimVesting(ClaimVesting {}));
    let rest = 2_350_000_000u128 - 514_885_000;
    assert_eq!(chain.vcai(1), vcai(514_885_000 + rest / 2));
    // Public sale: all at month 6.
    chain.at(6 * MONTH_S + 10, 2, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(chain.vcai(2), vcai(550_000_000));
    chain.at(12 * MONTH_S, 1, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(chain.vcai(1), vcai(2_350_000_000));
    // Advisors: 1/18 per month, all at month 18.
    chain.at(13 * MONTH_S, 4, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(
        chain.vcai(4),
        vcai(1_000_000_000)
            .mul_div(13, 18, vcity_types::Rounding::Down)
            .expect("fits")
    );
    chain.at(18 * MONTH_S, 4, Message::ClaimVesting(ClaimVesting {}));
    assert_eq!(chain.vcai(4), vcai(1_000_000_000));
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
    let mut chain = Chain::new();
    // Holder 6 has NFTs 1 and 2; holder 7 has NFT 3.
    let receipt = chain.at(10, 6, Message::ClaimNft(ClaimNft { id: 1 }));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(chain.vcai(6), vcai(2_500));
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
    assert_eq!(chain.vcai(7), vcai(1_250));
    // After six months, the rest of NFT 1 and all of NFT 3 go to 7.
    chain.at(6 * MONTH_S, 7, Message::ClaimNft(ClaimNft { id: 1 }));
    chain.at(6 * MONTH_S + 1, 7, Message::ClaimNft(ClaimNft { id: 3 }));
    assert_eq!(chain.vcai(7), vcai(10_000 - 2_500 + 10_000));
    assert_eq!(
        chain
            .at(7 * MONTH_S, 7, Message::ClaimNft(ClaimNft { id: 1 }))
            .code,
        16
    );
    // NFT 2 never moved and is claimed once at the end.
    chain.at(7 * MONTH_S, 6, Message::ClaimNft(ClaimNft { id: 2 }));
    assert_eq!(chain.vcai(6), vcai(2_500 + 10_000));
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
    let plain = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_MS,
        usd_issuer: account(9),
        validators: vec![Validator {
            name: "v".into(),
            public_key: account(100),
            power: 1,
        }],
        ..Default::default()
    };
    let json = plain.to_json();
    assert!(
        !json.contains("allocations") && !json.contains("genesis_nfts"),
        "{json}"
    );
    assert_eq!(Genesis::from_json(&json).expect("parses"), plain);
    let full = genesis();
    assert_eq!(Genesis::from_json(&full.to_json()).expect("parses"), full);
}
