//! Ledger rules exercised through a harness that builds and commits blocks, the way the node
//! does, but without any I/O.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use std::collections::BTreeMap;
use vcity_ledger::chain::Validator;
use vcity_ledger::{
    audit_supply, bank, BlockContext, BlockError, Genesis, GenesisAccount, Ledger, Mode, Overlay,
    PreparedTx, TxError,
};
use vcity_types::tx::{BurnUsd, Message, MintUsd, Transfer, TxBody};
use vcity_types::{AccountId, Amount, Denom, Hash, Height};

const CHAIN: &str = "vcity-test";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn account(seed: u8) -> AccountId {
    AccountId::from_public_key(&key(seed).verifying_key())
}

/// Seeds 1..=4 are users with 1,000 USD and 1,000 VCAI; seed 9 is the USD issuer.
fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000_000,
        usd_issuer: account(9),
        params: Default::default(),
        validators: vec![Validator {
            name: "v".into(),
            public_key: account(100),
            power: 1,
        }],
        accounts: (1..=4)
            .map(|seed| GenesisAccount {
                name: None,
                id: account(seed),
                vcai: Amount::whole(1_000, Denom::Vcai).expect("fits"),
                usd: Amount::whole(1_000, Denom::Usd).expect("fits"),
            })
            .collect(),
        ..Default::default()
    }
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

    fn tx(&mut self, seed: u8, messages: Vec<Message>) -> PreparedTx {
        let nonce = self.nonces.entry(seed).or_insert(0);
        let body = TxBody {
            chain_id: CHAIN.into(),
            sender: account(seed),
            nonce: *nonce,
            fee: Amount::new(1_000),
            messages,
        };
        *nonce += 1;
        self.ledger
            .prepare(body.sign(&key(seed)).to_bytes())
            .expect("well-formed")
    }

    fn context(&self) -> BlockContext {
        BlockContext {
            height: self.ledger.height().next(),
            time_ms: self.ledger.time_ms() + 1_000,
            beacon: Hash::ZERO,
            proposer: account(100),
        }
    }

    fn block(&mut self, txs: Vec<PreparedTx>) -> vcity_ledger::Execution {
        let execution = self
            .ledger
            .execute(self.context(), txs, Mode::Verify)
            .expect("valid block");
        self.ledger.commit(&execution);
        audit_supply(self.ledger.state()).expect("supply conserved");
        execution
    }

    fn balance(&self, seed: u8, denom: Denom) -> u128 {
        bank::balance(self.ledger.state(), &account(seed), denom).base_units()
    }
}

fn transfer(to: u8, denom: Denom, amount: u128) -> Message {
    Message::Transfer(Transfer {
        to: account(to),
        denom,
        amount: Amount::new(amount),
    })
}

#[test]
fn transfer_moves_funds_and_pays_the_fee_to_the_treasury() {
    let mut chain = Chain::new();
    let before = chain.balance(1, Denom::Usd);
    let tx = chain.tx(1, vec![transfer(2, Denom::Usd, 5_000_000)]);
    let execution = chain.block(vec![tx]);
    assert_eq!(execution.receipts.len(), 1);
    assert!(execution.receipts[0].is_success());
    assert_eq!(chain.balance(1, Denom::Usd), before - 5_000_000 - 1_000);
    assert_eq!(chain.balance(2, Denom::Usd), before + 5_000_000);
    assert_eq!(
        bank::balance(chain.ledger.state(), &bank::treasury(), Denom::Usd).base_units(),
        1_000
    );
    assert_eq!(
        vcity_ledger::auth::next_nonce(chain.ledger.state(), &account(1)),
        1
    );
    assert_eq!(chain.ledger.height(), Height(1));
}

#[test]
fn failed_messages_roll_back_but_fee_and_nonce_stay_spent() {
    let mut chain = Chain::new();
    let before = chain.balance(1, Denom::Usd);
    // The second message overdraws, so the first must not apply either.
    let tx = chain.tx(
        1,
        vec![
            transfer(2, Denom::Usd, 1),
            transfer(2, Denom::Usd, before * 10),
        ],
    );
    let execution = chain.block(vec![tx]);
    let receipt = &execution.receipts[0];
    assert_eq!(receipt.code, 9, "insufficient funds");
    assert!(receipt.error.contains("insufficient funds"));
    assert_eq!(chain.balance(1, Denom::Usd), before - 1_000);
    assert_eq!(chain.balance(2, Denom::Usd), before);
    assert_eq!(
        vcity_ledger::auth::next_nonce(chain.ledger.state(), &account(1)),
        1
    );
}

#[test]
fn mempool_check_refuses_bad_transactions_and_changes_nothing() {
    let mut chain = Chain::new();
    let ledger = chain.ledger.clone();
    let mut pending = Overlay::new(ledger.state());

    let ok = chain.tx(1, vec![transfer(2, Denom::Usd, 1)]);
    ledger.check_tx(&mut pending, &ok).expect("valid");
    let writes_after_ok = pending.writes().clone();

    let cases: Vec<(PreparedTx, u32)> = vec![
        (ok.clone(), 6), // replay of nonce 0
        (
            {
                chain.nonces.insert(1, 5);
                chain.tx(1, vec![transfer(2, Denom::Usd, 1)])
            },
            7,
        ), // gap
        (
            {
                chain.nonces.insert(1, 1);
                chain.tx(1, vec![transfer(2, Denom::Usd, u128::from(u64::MAX))])
            },
            9,
        ), // overdraft
        (
            chain.tx(
                3,
                vec![Message::MintUsd(MintUsd {
                    to: account(3),
                    amount: Amount::new(1),
                })],
            ),
            10,
        ),
        (chain.tx(4, vec![transfer(2, Denom::Usd, 0)]), 11),
    ];
    for (tx, code) in cases {
        let error = ledger
            .check_tx(&mut pending, &tx)
            .expect_err("must be refused");
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(
            pending.writes(),
            &writes_after_ok,
            "a refusal changed state"
        );
    }
}

#[test]
fn stateless_checks_reject_forgeries_and_foreign_chains() {
    let chain = Chain::new();
    let body = TxBody {
        chain_id: CHAIN.into(),
        sender: account(1),
        nonce: 0,
        fee: Amount::new(1_000),
        messages: vec![transfer(2, Denom::Usd, 1)],
    };
    let forged = body.clone().sign(&key(2));
    assert!(matches!(
        chain.ledger.prepare(forged.to_bytes()),
        Err(TxError::BadSignature(_))
    ));
    let foreign = TxBody {
        chain_id: "other".into(),
        ..body.clone()
    }
    .sign(&key(1));
    assert!(matches!(
        chain.ledger.prepare(foreign.to_bytes()),
        Err(TxError::WrongChain { .. })
    ));
    let cheap = TxBody {
        fee: Amount::new(1),
        ..body.clone()
    }
    .sign(&key(1));
    assert!(matches!(
        chain.ledger.prepare(cheap.to_bytes()),
        Err(TxError::FeeTooLow { .. })
    ));
    let empty = TxBody {
        messages: vec![],
        ..body.clone()
    }
    .sign(&key(1));
    assert_eq!(
        chain.ledger.prepare(empty.to_bytes()).err(),
        Some(TxError::EmptyTransaction)
    );
    assert!(matches!(
        chain.ledger.prepare(vec![1, 2, 3]),
        Err(TxError::Malformed(_))
    ));
    assert!(matches!(
        chain.ledger.prepare(vec![0; 70_000]),
        Err(TxError::TooLarge { .. })
    ));
}

#[test]
fn proposer_drops_what_a_verifier_would_reject() {
    let mut chain = Chain::new();
    let good = chain.tx(1, vec![transfer(2, Denom::Usd, 1)]);
    chain.nonces.insert(2, 7);
    let gapped = chain.tx(2, vec![transfer(1, Denom::Usd, 1)]);
    let context = chain.context();
    let proposed = chain
        .ledger
        .execute(
            context.clone(),
            vec![good.clone(), gapped.clone()],
            Mode::Propose,
        )
        .expect("proposing never fails on a bad transaction");
    assert_eq!(proposed.transactions.len(), 1);
    assert_eq!(proposed.dropped.len(), 1);
    assert_eq!(proposed.dropped[0].1.code(), 7);
    let verified = chain
        .ledger
        .execute(context.clone(), vec![good, gapped], Mode::Verify);
    assert!(matches!(
        verified,
        Err(BlockError::InvalidTransaction { index: 1, .. })
    ));
}

#[test]
fn blocks_must_advance_height_and_never_go_back_in_time() {
    let chain = Chain::new();
    let mut context = chain.context();
    context.height = Height(5);
    assert!(matches!(
        chain.ledger.execute(context, vec![], Mode::Verify),
        Err(BlockError::WrongHeight { .. })
    ));
    let mut context = chain.context();
    context.time_ms = 1;
    assert!(matches!(
        chain.ledger.execute(context, vec![], Mode::Verify),
        Err(BlockError::TimeWentBackwards { .. })
    ));
}

#[test]
fn issuer_mints_and_burns_usd_supply() {
    let mut chain = Chain::new();
    let supply = bank::supply(chain.ledger.state(), Denom::Usd).base_units();
    // The issuer has no USD for the fee yet: fund it first.
    let fund = chain.tx(1, vec![transfer(9, Denom::Usd, 10_000)]);
    chain.block(vec![fund]);
    let mint = chain.tx(
        9,
        vec![Message::MintUsd(MintUsd {
            to: account(3),
            amount: Amount::new(500),
        })],
    );
    let burn = chain.tx(
        9,
        vec![Message::BurnUsd(BurnUsd {
            amount: Amount::new(100),
        })],
    );
    let execution = chain.block(vec![mint, burn]);
    assert!(execution.receipts.iter().all(|r| r.is_success()));
    assert_eq!(
        bank::supply(chain.ledger.state(), Denom::Usd).base_units(),
        supply + 500 - 100
    );
}

#[test]
fn committed_root_equals_a_rebuild_from_state() {
    let mut chain = Chain::new();
    for round in 0..5u128 {
        let tx = chain.tx(1, vec![transfer(2, Denom::Vcai, round + 1)]);
        chain.block(vec![tx]);
    }
    let rebuilt = Ledger::from_state(chain.ledger.state().clone());
    assert_eq!(rebuilt.state_root(), chain.ledger.state_root());
}

#[test]
fn genesis_is_validated() {
    let mut bad = genesis();
    bad.chain_id = "Bad Chain".into();
    assert!(Ledger::from_genesis(&bad).is_err());
    let mut bad = genesis();
    bad.validators.clear();
    assert!(Ledger::from_genesis(&bad).is_err());
    let mut bad = genesis();
    let first = bad.accounts[0].clone();
    bad.accounts.push(first);
    assert!(Ledger::from_genesis(&bad).is_err());
    let text = genesis().to_json();
    assert_eq!(Genesis::from_json(&text).expect("parses"), genesis());
}

#[derive(Debug, Clone)]
enum Action {
    Transfer {
        from: u8,
        to: u8,
        usd: bool,
        amount: u128,
    },
    Mint {
        to: u8,
        amount: u128,
    },
    Burn {
        amount: u128,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (1u8..=4, 1u8..=4, any::<bool>(), 0u128..2_000_000_000).prop_map(
            |(from, to, usd, amount)| Action::Transfer {
                from,
                to,
                usd,
                amount
            }
        ),
        (1u8..=4, 0u128..5_000_000).prop_map(|(to, amount)| Action::Mint { to, amount }),
        (0u128..5_000_000).prop_map(|amount| Action::Burn { amount }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Differential test against a plain map model: after any sequence of blocks, every balance
    /// equals the model's, supply is conserved, and the root equals a rebuild.
    #[test]
    fn random_blocks_match_a_reference_model(blocks in proptest::collection::vec(proptest::collection::vec(action(), 0..6), 1..6)) {
        let mut chain = Chain::new();
        let fund = chain.tx(1, vec![transfer(9, Denom::Usd, 100_000_000)]);
        chain.block(vec![fund]);
        let mut model: BTreeMap<(u8, Denom), u128> = BTreeMap::new();
        for seed in [1u8, 2, 3, 4, 9] {
            for denom in Denom::ALL {
                model.insert((seed, denom), chain.balance(seed, denom));
            }
        }
        let fee = 1_000u128;
        for actions in blocks {
            let mut txs = Vec::new();
            for action in actions {
                let (sender, message) = match action {
                    Action::Transfer { from, to, usd, amount } => {
                        let denom = if usd { Denom::Usd } else { Denom::Vcai };
                        (from, transfer(to, denom, amount))
                    }
                    Action::Mint { to, amount } => (9, Message::MintUsd(MintUsd { to: account(to), amount: Amount::new(amount) })),
                    Action::Burn { amount } => (9, Message::BurnUsd(BurnUsd { amount: Amount::new(amount) })),
                };
                // Model: fee first, then the message if it can apply.
                let usd_key = (sender, Denom::Usd);
                prop_assume!(model[&usd_key] >= fee);
                *model.get_mut(&usd_key).expect("seeded") -= fee;
                match &message {
                    Message::Transfer(t) => {
                        let to = [1u8, 2, 3, 4, 9].into_iter().find(|s| account(*s) == t.to).expect("known");
                        let amount = t.amount.base_units();
                        if amount > 0 && model[&(sender, t.denom)] >= amount {
                            *model.get_mut(&(sender, t.denom)).expect("seeded") -= amount;
                            *model.get_mut(&(to, t.denom)).expect("seeded") += amount;
                        }
                    }
                    Message::MintUsd(m) => {
                        let to = [1u8, 2, 3, 4].into_iter().find(|s| account(*s) == m.to).expect("known");
                        if m.amount.base_units() > 0 {
                            *model.get_mut(&(to, Denom::Usd)).expect("seeded") += m.amount.base_units();
                        }
                    }
                    Message::BurnUsd(b) => {
                        let amount = b.amount.base_units();
                        if amount > 0 && model[&(9, Denom::Usd)] >= amount {
                            *model.get_mut(&(9, Denom::Usd)).expect("seeded") -= amount;
                        }
                    }
                    other => unreachable!("the strategy generates no {}", other.name()),
                }
                txs.push(chain.tx(sender, vec![message]));
            }
            chain.block(txs);
            for ((seed, denom), expected) in &model {
                prop_assert_eq!(chain.balance(*seed, *denom), *expected);
            }
        }
        let rebuilt = Ledger::from_state(chain.ledger.state().clone());
        prop_assert_eq!(rebuilt.state_root(), chain.ledger.state_root());
    }
}
