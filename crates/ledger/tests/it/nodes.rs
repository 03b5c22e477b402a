//! The node registry through blocks: registration with its stake requirement, heartbeats and
//! online time, offline detection, unbonding with its waiting period.

use crate::common::{account, funded, usd, vcai, Harness};
use vcity_ledger::bank;
use vcity_ledger::nodes::{self, NodeParams};
use vcity_types::compute::{
    AddStake, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode, Role, Unbond, UpdateNode,
    WithdrawUnbonded,
};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

fn new_chain() -> Harness {
    let accounts = (1..=3)
        .map(|seed| funded(seed, vcai(200_000), usd(100)))
        .collect();
    Harness::new(&crate::common::genesis("vcity-nodes", accounts))
}

fn gpu_node(stake: u128) -> RegisterNode {
    RegisterNode {
        role: Role::Compute,
        kind: NodeKind::Stable,
        hardware: Hardware {
            sandbox: None,
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
    let mut chain = new_chain();
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
    let scheduler = crate::common::scheduler_node();
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
    let mut chain = new_chain();
    chain.at(0, 1, Message::RegisterNode(gpu_node(50_000)));
    let beat = |load| {
        Message::NodeHeartbeat(NodeHeartbeat {
            load_ppm: load,
            running_tasks: 1,
            health: crate::common::healthy(),
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
    let mut chain = new_chain();
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
    assert_eq!(
        bank::balance(chain.ledger.state(), &account(1), Denom::Vcai),
        before.checked_add(vcai(18_400)).expect("fits"), // fees are paid in USD
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &nodes::stake_account(), Denom::Vcai),
        vcai(41_600)
    );
}
