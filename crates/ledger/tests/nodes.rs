//! The node registry through blocks: registration with its stake requirement, heartbeats and
//! online time, offline detection, unbonding with its waiting period.

use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use vcity_ledger::chain::Validator;
use vcity_ledger::nodes::{self, NodeParams};
use vcity_ledger::{audit_supply, bank, BlockContext, Genesis, GenesisAccount, Ledger, Mode};
use vcity_types::compute::{
    AddStake, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode, Role, Unbond, UpdateNode,
    WithdrawUnbonded,
};
use vcity_types::receipt::Receipt;
use vcity_types::tx::{Message, TxBody};
use vcity_types::{AccountId, Amount, Denom, Hash};

const CHAIN: &str = "vcity-nodes";
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

struct Chain {
    ledger: Ledger,
    nonces: BTreeMap<u8, u64>,
}

impl Chain {
    fn new() -> Chain {
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: GENESIS_MS,
            usd_issuer: account(9),
            validators: vec![Validator {
                name: "v".into(),
                public_key: account(100),
                power: 1,
            }],
            accounts: (1..=3)
                .map(|seed| GenesisAccount {
                    name: None,
                    id: account(seed),
                    vcai: vcai(200_000),
                    usd: Amount::whole(100, Denom::Usd).expect("fits"),
                })
                .collect(),
            ..Default::default()
        };
        Chain {
            ledger: Ledger::from_genesis(&genesis).expect("genesis"),
            nonces: BTreeMap::new(),
        }
    }

    fn at(&mut self, t_s: u64, seed: u8, message: Message) -> Receipt {
        let nonce = self.nonces.entry(seed).or_insert(0);
        let body = TxBody {
            chain_id: CHAIN.into(),
            sender: account(seed),
            nonce: *nonce,
            fee: Amount::new(1_000),
            messages: vec![message],
        };
        *nonce += 1;
        let tx = self
            .ledger
            .prepare(body.sign(&key(seed)).to_bytes())
            .expect("well-formed");
        let context = BlockContext {
            height: self.ledger.height().next(),
            time_ms: GENESIS_MS + t_s * 1_000,
            beacon: Hash::ZERO,
            proposer: account(100),
        };
        let execution = self
            .ledger
            .execute(context, vec![tx], Mode::Verify)
            .expect("valid block");
        self.ledger.commit(&execution);
        audit_supply(self.ledger.state()).expect("supply conserved");
        execution.receipts.into_iter().next().expect("receipt")
    }
}

fn gpu_node(stake: u128) -> RegisterNode {
    RegisterNode {
        role: Role::Compute,
        kind: NodeKind::Stable,
        hardware: Hardware {
            gpus: vec![GpuSpec {
                model: "H100".into(),
                count: 2,
                vram_mib: 81_920,
            }],
            cpu_cores: 16,
            ram_mib: 262_144,
        },
        region: "eu-west".into(),
        endpoint: "https://node-1.example:7000".into(),
        price_per_cu_usd: Amount::new(500),
        stake: vcai(stake),
    }
}

#[test]
fn registration_enforces_the_stake_requirement_and_the_table() {
    let mut chain = Chain::new();
    // 2 × H100 (2.0) + 16 cores × 0.01 = 4.16 CU → 41,600 VCAI at 10,000 per CU.
    let params = NodeParams::default();
    let capacity = nodes::capacity_ppm(&params, &gpu_node(0).hardware).expect("known models");
    assert_eq!(capacity, 4_160_000);
    assert_eq!(
        nodes::required_stake(&params, Role::Compute, capacity),
        vcai(41_600)
    );

    let receipt = chain.at(1, 1, Message::RegisterNode(gpu_node(41_599)));
    assert_eq!(receipt.code, 24, "{}", receipt.error);
    let mut unknown = gpu_node(50_000);
    unknown.hardware.gpus[0].model = "Z9000".into();
    assert_eq!(chain.at(2, 1, Message::RegisterNode(unknown)).code, 23);
    let mut free = gpu_node(50_000);
    free.price_per_cu_usd = Amount::ZERO;
    assert_eq!(chain.at(3, 1, Message::RegisterNode(free)).code, 23);

    let receipt = chain.at(4, 1, Message::RegisterNode(gpu_node(41_600)));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        chain.at(5, 1, Message::RegisterNode(gpu_node(50_000))).code,
        23,
        "registered twice"
    );
    let record = nodes::node(chain.ledger.state(), &account(1)).expect("registered");
    assert_eq!(record.capacity_cu_ppm, 4_160_000);
    assert_eq!(
        bank::balance(chain.ledger.state(), &nodes::stake_account(), Denom::Vcai),
        vcai(41_600)
    );

    // A scheduler bonds the flat service minimum.
    let scheduler = RegisterNode {
        role: Role::Scheduler,
        kind: NodeKind::Stable,
        hardware: Hardware::default(),
        region: "eu-west".into(),
        endpoint: "https://scheduler.example".into(),
        price_per_cu_usd: Amount::ZERO,
        stake: vcai(50_000),
    };
    assert_eq!(chain.at(6, 2, Message::RegisterNode(scheduler)).code, 0);

    // More hardware needs more stake first.
    let mut bigger = gpu_node(0).hardware;
    bigger.gpus[0].count = 4;
    let update = UpdateNode {
        price_per_cu_usd: None,
        endpoint: None,
        hardware: Some(bigger.clone()),
    };
    assert_eq!(chain.at(7, 1, Message::UpdateNode(update.clone())).code, 24);
    assert_eq!(
        chain
            .at(
                8,
                1,
                Message::AddStake(AddStake {
                    amount: vcai(40_000)
                })
            )
            .code,
        0
    );
    assert_eq!(chain.at(9, 1, Message::UpdateNode(update)).code, 0);
    assert_eq!(
        nodes::node(chain.ledger.state(), &account(1))
            .expect("node")
            .capacity_cu_ppm,
        8_160_000
    );
}

#[test]
fn heartbeats_count_online_time_and_silence_means_offline() {
    let mut chain = Chain::new();
    chain.at(0, 1, Message::RegisterNode(gpu_node(50_000)));
    let beat = |load| {
        Message::NodeHeartbeat(NodeHeartbeat {
            load_ppm: load,
            healthy: true,
            running_tasks: 1,
        })
    };
    for minute in 1..=5u64 {
        assert_eq!(chain.at(minute * 60, 1, beat(250_000)).code, 0);
    }
    let params = NodeParams::default();
    let record = nodes::node(chain.ledger.state(), &account(1)).expect("node");
    assert_eq!(record.online_s, 300);
    assert!(nodes::is_online(&params, &record, 300 + 180));
    assert!(
        !nodes::is_online(&params, &record, 300 + 181),
        "3 missed intervals"
    );
    // A beat after a long silence restarts the clock without crediting the gap.
    chain.at(1_000, 1, beat(0));
    chain.at(1_060, 1, beat(0));
    assert_eq!(
        nodes::node(chain.ledger.state(), &account(1))
            .expect("node")
            .online_s,
        360
    );
    assert_eq!(
        chain.at(1_100, 1, beat(1_000_001)).code,
        23,
        "load over 100%"
    );
    assert_eq!(chain.at(1_101, 2, beat(0)).code, 15, "not a node");
}

#[test]
fn unbonding_waits_its_period_and_keeps_the_requirement() {
    let mut chain = Chain::new();
    chain.at(0, 1, Message::RegisterNode(gpu_node(60_000)));
    let before = bank::balance(chain.ledger.state(), &account(1), Denom::Vcai);
    assert_eq!(
        chain
            .at(
                10,
                1,
                Message::Unbond(Unbond {
                    amount: vcai(20_000)
                })
            )
            .code,
        24,
        "below 41,600"
    );
    assert_eq!(
        chain
            .at(
                11,
                1,
                Message::Unbond(Unbond {
                    amount: vcai(18_400)
                })
            )
            .code,
        0
    );
    assert_eq!(
        nodes::node(chain.ledger.state(), &account(1))
            .expect("node")
            .stake,
        vcai(41_600)
    );
    // Still in the stake account (slashable) until released.
    assert_eq!(
        bank::balance(chain.ledger.state(), &nodes::stake_account(), Denom::Vcai),
        vcai(60_000)
    );
    assert_eq!(
        chain
            .at(12, 1, Message::WithdrawUnbonded(WithdrawUnbonded {}))
            .code,
        16
    );
    let release = 11 + 14 * 86_400;
    assert_eq!(
        chain
            .at(
                release - 1,
                1,
                Message::WithdrawUnbonded(WithdrawUnbonded {})
            )
            .code,
        16
    );
    assert_eq!(
        chain
            .at(release, 1, Message::WithdrawUnbonded(WithdrawUnbonded {}))
            .code,
        0
    );
    let fees = Amount::ZERO; // fees are paid in USD
    assert_eq!(
        bank::balance(chain.ledger.state(), &account(1), Denom::Vcai),
        before
            .checked_add(vcai(18_400))
            .expect("fits")
            .checked_add(fees)
            .expect("fits")
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &nodes::stake_account(), Denom::Vcai),
        vcai(41_600)
    );
}
