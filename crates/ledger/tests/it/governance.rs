//! Governance through blocks (docs/governance.md): a proposal's whole life for each action type,
//! the snapshot, the quorum at its edge, the timelock, expiry, a second execution, parameter
//! bounds, the rules §9 quotas and the year cap across a year boundary, pauses and validator
//! changes, every refusal with its stable code.

use crate::common::{account, funded, governed, usd, vcai, Harness, GOVERNOR};
use vcity_ledger::governance::{self, supply};
use vcity_ledger::{bank, chain, vesting, Genesis};
use vcity_types::governance::{
    Action, CastVote, Choice, CommentProposal, ExecuteProposal, Fund, GovernanceParams, Module,
    ParamChange, Payment, ProposalStatus, Propose, VestingTerms,
};
use vcity_types::tx::{Message, Transfer, VeLock};
use vcity_types::{AccountId, Amount, Denom};

const BOB: u8 = 1;
const BIG: u8 = 2;
const RICH: u8 = 3;

fn genesis_with(accounts: Vec<vcity_ledger::GenesisAccount>) -> Genesis {
    let mut genesis = crate::common::genesis("vcity-gov", accounts);
    governed(&mut genesis);
    genesis.reserve_vcai = vcai(1_000_000);
    genesis
}

fn chain() -> Harness {
    Harness::new(&genesis_with(vec![
        funded(BOB, vcai(10), usd(100)),
        funded(BIG, vcai(10_000_000), usd(100)),
    ]))
}

fn vcai_of(chain: &Harness, who: &AccountId) -> Amount {
    bank::balance(chain.ledger.state(), who, Denom::Vcai)
}

fn proposal(chain: &Harness, number: u64) -> governance::Proposal {
    governance::proposal(chain.ledger.state(), number).expect("proposal")
}

fn vote(chain: &mut Harness, t: u64, seed: u8, number: u64, choice: Choice) -> u32 {
    let id = chain.proposal_id(number);
    chain
        .at(
            t,
            seed,
            Message::CastVote(CastVote {
                proposal: id,
                choice,
            }),
        )
        .code
}

fn execute(chain: &mut Harness, t: u64, seed: u8, number: u64) -> u32 {
    let id = chain.proposal_id(number);
    let receipt = chain.at(
        t,
        seed,
        Message::ExecuteProposal(ExecuteProposal { proposal: id }),
    );
    receipt.code
}

fn propose_code(chain: &mut Harness, t: u64, seed: u8, actions: Vec<Action>) -> u32 {
    chain
        .at(
            t,
            seed,
            Message::Propose(Propose {
                title: "p".into(),
                description: String::new(),
                actions,
            }),
        )
        .code
}

fn pay(seed: u8, whole: u128, vesting: Option<VestingTerms>) -> Payment {
    Payment {
        recipient: account(seed),
        amount: vcai(whole),
        vesting,
    }
}

#[test]
fn a_spend_lives_its_whole_life_and_executes_once() {
    let mut chain = chain();
    let reserve = vesting::reserve_account();
    let deposit = governance::params(chain.ledger.state()).deposit;
    let governor_before = vcai_of(&chain, &account(GOVERNOR));
    let number = chain.propose(
        0,
        GOVERNOR,
        vec![Action::Spend {
            from: Fund::Reserve,
            denom: Denom::Vcai,
            payments: vec![
                pay(BOB, 1_000, None),
                pay(
                    BOB,
                    1_200,
                    Some(VestingTerms {
                        immediate: vcai(200),
                        cliff_s: 100,
                        duration_s: 1_000,
                        step_s: 1,
                    }),
                ),
            ],
        }],
    );
    assert_eq!(number, 1);
    let found = proposal(&chain, 1);
    assert_eq!(
        vcai_of(&chain, &governance::deposits_account()),
        deposit,
        "the deposit is held"
    );
    assert_eq!((found.voting_starts_s, found.voting_ends_s), (10, 20));
    assert_eq!((found.executable_s, found.expires_s), (30, 1_030));
    // Discussion: comments yes, votes not yet.
    let comment = Message::CommentProposal(CommentProposal {
        proposal: found.id,
        text: "looks right".into(),
    });
    assert_eq!(chain.at(1, BOB, comment).code, 0);
    assert_eq!(governance::comments(chain.ledger.state(), 1).len(), 1);
    assert_eq!(vote(&mut chain, 2, GOVERNOR, 1, Choice::Yes), 27);
    assert_eq!(execute(&mut chain, 3, BOB, 1), 36, "not passed yet");
    // Voting: a voter without weight at the snapshot is refused; a second vote replaces the first.
    assert_eq!(vote(&mut chain, 10, BOB, 1, Choice::Yes), 35);
    assert_eq!(vote(&mut chain, 11, GOVERNOR, 1, Choice::No), 0);
    assert_eq!(vote(&mut chain, 12, GOVERNOR, 1, Choice::Yes), 0);
    let found = proposal(&chain, 1);
    assert_eq!((found.yes > 0, found.no, found.voters), (true, 0, 1));
    // Tallied at the vote's end; the timelock cannot be skipped.
    chain.block_at(20, vec![]);
    assert_eq!(proposal(&chain, 1).status, ProposalStatus::Passed);
    assert_eq!(
        vcai_of(&chain, &account(GOVERNOR)),
        governor_before,
        "the deposit came back"
    );
    assert_eq!(execute(&mut chain, 29, BOB, 1), 36, "timelock");
    let bob_before = vcai_of(&chain, &account(BOB));
    assert_eq!(execute(&mut chain, 30, BOB, 1), 0, "anyone executes");
    assert_eq!(proposal(&chain, 1).status, ProposalStatus::Executed);
    assert_eq!(
        vcai_of(&chain, &account(BOB)),
        bob_before.checked_add(vcai(1_200)).expect("fits"),
        "1,000 at once and the vesting payment's 200 immediate"
    );
    assert_eq!(vcai_of(&chain, &reserve), vcai(1_000_000 - 2_200));
    assert_eq!(execute(&mut chain, 31, BOB, 1), 28, "executes once");
    // The vested part: nothing before the cliff (30 + 100 s), then per second.
    let grants = vesting::grants(chain.ledger.state(), &account(BOB));
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].allocation, "proposal_1");
    let claim = Message::ClaimVesting(vcity_types::tx::ClaimVesting {});
    assert_eq!(chain.at(129, BOB, claim.clone()).code, 16);
    assert_eq!(chain.at(630, BOB, claim).code, 0);
    assert_eq!(
        vcai_of(&chain, &account(BOB)),
        bob_before.checked_add(vcai(1_200 + 500)).expect("fits")
    );
}

#[test]
fn a_passed_proposal_not_executed_in_its_grace_period_expires() {
    let mut chain = chain();
    let number = chain.propose(
        0,
        GOVERNOR,
        vec![Action::Pause {
            module: Module::Pool,
        }],
    );
    assert_eq!(vote(&mut chain, 10, GOVERNOR, number, Choice::Yes), 0);
    chain.block_at(1_030, vec![]);
    assert_eq!(proposal(&chain, number).status, ProposalStatus::Expired);
    assert_eq!(execute(&mut chain, 1_031, GOVERNOR, number), 36);
    assert!(governance::paused(chain.ledger.state()).is_empty());
}

#[test]
fn a_lock_made_in_or_after_the_proposal_s_second_has_no_vote() {
    let mut chain = chain();
    chain.block_at(5, vec![]);
    // BIG locks in the same block as the proposal, before it.
    let lock = chain.tx(
        BIG,
        Message::VeLock(VeLock {
            amount: vcai(9_000_000),
            unlock_week: 200,
        }),
    );
    let propose = chain.tx(
        GOVERNOR,
        Message::Propose(Propose {
            title: "p".into(),
            description: String::new(),
            actions: vec![Action::Pause {
                module: Module::Bank,
            }],
        }),
    );
    let execution = chain.block_at(6, vec![lock, propose]);
    assert!(execution.receipts.iter().all(|receipt| receipt.code == 0));
    let found = proposal(&chain, 1);
    assert_eq!(found.snapshot_s, 5);
    assert_eq!(vote(&mut chain, 16, BIG, 1, Choice::No), 35, "flash lock");
    // The total at the snapshot is the governor's alone, so its vote reaches the quorum.
    assert_eq!(
        found.total_weight,
        vcity_ledger::ve::weight_at(chain.ledger.state(), &account(GOVERNOR), 5)
    );
    assert_eq!(vote(&mut chain, 17, GOVERNOR, 1, Choice::Yes), 0);
    chain.block_at(26, vec![]);
    assert_eq!(proposal(&chain, 1).status, ProposalStatus::Passed);
    // A proposal opened now counts BIG's lock.
    let number = chain.propose(27, GOVERNOR, vec![Action::Pause { module: Module::Ve }]);
    assert_eq!(vote(&mut chain, 37, BIG, number, Choice::No), 0);
}

#[test]
fn the_quorum_holds_at_the_edge_and_the_deposit_rule_follows_turnout() {
    // Pure rule: yes + abstain must reach the quorum; yes must beat no.
    let quorum = 1_000_000u128;
    assert_eq!(
        governance::outcome(quorum - 1, 0, 0, quorum),
        ProposalStatus::NoQuorum
    );
    assert_eq!(
        governance::outcome(quorum, 0, 0, quorum),
        ProposalStatus::Passed
    );
    assert_eq!(
        governance::outcome(1, 0, quorum - 1, quorum),
        ProposalStatus::Passed,
        "abstain counts toward quorum"
    );
    assert_eq!(
        governance::outcome(quorum, quorum, 0, quorum),
        ProposalStatus::Rejected,
        "a tie fails"
    );
    assert_eq!(
        governance::outcome(0, quorum * 9, 0, quorum),
        ProposalStatus::NoQuorum,
        "no votes do not make a quorum"
    );
    // The deposit is lost only below half the quorum cast.
    assert!(governance::deposit_returned(0, 500_000, 0, quorum));
    assert!(!governance::deposit_returned(0, 499_999, 0, quorum));

    // On chain: BIG holds most of the weight (√2.9e9 ≈ 53,852 veVCAI against the governor's
    // 1,000 and MID's 3,000), so the governor alone casts under half the 4% quorum...
    const MID: u8 = 4;
    let mut genesis = genesis_with(vec![
        funded(BIG, vcai(3_000_000_000), usd(100)),
        funded(MID, vcai(10_000_000), usd(100)),
    ]);
    for (seed, whole) in [(BIG, 2_900_000_000), (MID, 9_000_000)] {
        genesis.ve_locks.push(vcity_ledger::genesis::GenesisLock {
            account: account(seed),
            amount: vcai(whole),
            unlock_week: 208,
        });
    }
    let mut chain = Harness::new(&genesis);
    let number = chain.propose(
        10,
        GOVERNOR,
        vec![Action::Pause {
            module: Module::Bank,
        }],
    );
    let found = proposal(&chain, number);
    let expected = vcity_types::wide::mul_div(
        found.total_weight,
        40_000,
        1_000_000,
        vcity_types::Rounding::Up,
    )
    .expect("fits");
    assert_eq!(found.quorum, expected, "4%, rounded up");
    let governor = vcity_ledger::ve::weight_at(chain.ledger.state(), &account(GOVERNOR), 9);
    assert!(governor * 2 < found.quorum, "below half the quorum");
    let reserve_before = vcai_of(&chain, &vesting::reserve_account());
    assert_eq!(vote(&mut chain, 20, GOVERNOR, number, Choice::Yes), 0);
    chain.block_at(30, vec![]);
    let found = proposal(&chain, number);
    assert_eq!(found.status, ProposalStatus::NoQuorum);
    assert_eq!(
        vcai_of(&chain, &vesting::reserve_account()),
        reserve_before.checked_add(found.deposit).expect("fits"),
        "a proposal nobody turned up for forfeits its deposit to the reserve"
    );
    // ...MID's yes reaches the quorum, and BIG's no rejects it; the deposit comes back.
    let number = chain.propose(
        31,
        GOVERNOR,
        vec![Action::Pause {
            module: Module::Bank,
        }],
    );
    assert_eq!(vote(&mut chain, 41, MID, number, Choice::Yes), 0);
    assert_eq!(vote(&mut chain, 42, BIG, number, Choice::No), 0);
    let governor_before = vcai_of(&chain, &account(GOVERNOR));
    chain.block_at(51, vec![]);
    assert_eq!(proposal(&chain, number).status, ProposalStatus::Rejected);
    assert_eq!(
        vcai_of(&chain, &account(GOVERNOR)),
        governor_before.checked_add(found.deposit).expect("fits")
    );
    assert_eq!(execute(&mut chain, 100, GOVERNOR, number), 36);
}

#[test]
fn bad_proposals_and_out_of_bounds_parameters_are_refused_with_stable_codes() {
    let mut chain = chain();
    let set = |change| Action::SetParam { change };
    for change in [
        ParamChange::SwapFee { bps: 1_001 },
        ParamChange::VeMinLock { amount: vcai(0) },
        ParamChange::Buyback {
            interval_s: 60,
            max_premium_bps: 100,
        },
        ParamChange::Heartbeat {
            interval_s: 5,
            offline_after_intervals: 3,
        },
        ParamChange::Unbonding { period_s: 3_600 },
        ParamChange::VerificationWindow { window_s: 10 },
        ParamChange::SamplingRates {
            level_rates_ppm: [0, 0, 0, 1_000_001],
            risky_rate_ppm: 0,
        },
        ParamChange::GpuFactors {
            gpu_factors_ppm: vec![("H100".into(), 1), ("H100".into(), 2)],
            cpu_core_factor_ppm: 1,
        },
        ParamChange::Appeals {
            window_s: 60,
            decision_s: 86_400,
            bounty_ppm: 0,
            compensation_ppm: 0,
        },
        // A minor offence slashes 5–10% (rules §10).
        ParamChange::OffenceRule {
            offence: vcity_types::trust::Offence::CapacityMissed,
            tier: vcity_types::trust::Tier::Minor,
            slash_ppm: 200_000,
            suspend_periods: 0,
        },
        ParamChange::TxLimits {
            min_fee_usd: usd(2),
            max_tx_bytes: 65_536,
            max_messages_per_tx: 64,
            max_block_txs: 1_000,
            max_block_bytes: 1 << 20,
        },
        // A vote of one second would make the next vote a formality.
        ParamChange::Governance(GovernanceParams {
            voting_s: 1,
            ..GovernanceParams::default()
        }),
        ParamChange::Governance(GovernanceParams {
            quorum_ppm: 0,
            ..GovernanceParams::default()
        }),
    ] {
        let code = propose_code(&mut chain, 0, GOVERNOR, vec![set(change.clone())]);
        assert_eq!(code, 26, "{change:?}");
    }
    // Shape: no actions, too many, an empty title, a zero payment, a bad validator.
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, vec![]), 33);
    let many = vec![
        Action::Pause {
            module: Module::Bank
        };
        9
    ];
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, many), 33);
    let empty_title = chain.at(
        0,
        GOVERNOR,
        Message::Propose(Propose {
            title: " ".into(),
            description: String::new(),
            actions: vec![Action::Pause {
                module: Module::Bank,
            }],
        }),
    );
    assert_eq!(empty_title.code, 33);
    let zero = Action::Spend {
        from: Fund::Reserve,
        denom: Denom::Vcai,
        payments: vec![Payment {
            recipient: account(BOB),
            amount: Amount::ZERO,
            vesting: None,
        }],
    };
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, vec![zero]), 33);
    let usd_from_reserve = Action::Spend {
        from: Fund::Reserve,
        denom: Denom::Usd,
        payments: vec![Payment {
            recipient: account(BOB),
            amount: usd(1),
            vesting: None,
        }],
    };
    assert_eq!(
        propose_code(&mut chain, 0, GOVERNOR, vec![usd_from_reserve]),
        33
    );
    let powerless = Action::AddValidator {
        name: "v2".into(),
        public_key: account(BOB),
        power: 0,
    };
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, vec![powerless]), 33);
    // Only ve weight proposes.
    assert_eq!(
        propose_code(
            &mut chain,
            0,
            BOB,
            vec![Action::Pause {
                module: Module::Bank
            }]
        ),
        35
    );
    // Good parameters pass and apply.
    let (receipt, _) = chain.govern(
        1,
        GOVERNOR,
        vec![
            set(ParamChange::SwapFee { bps: 25 }),
            set(ParamChange::Unbonding {
                period_s: 3 * 86_400,
            }),
            set(ParamChange::VerificationWindow { window_s: 3_600 }),
            set(ParamChange::OffenceRule {
                offence: vcity_types::trust::Offence::CapacityMissed,
                tier: vcity_types::trust::Tier::Minor,
                slash_ppm: 80_000,
                suspend_periods: 1,
            }),
            set(ParamChange::Governance(GovernanceParams {
                voting_s: 2 * 86_400,
                ..GovernanceParams::default()
            })),
        ],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let state = chain.ledger.state();
    assert_eq!(vcity_ledger::pool::params(state).fee_bps, 25);
    assert_eq!(vcity_ledger::nodes::params(state).unbonding_s, 3 * 86_400);
    assert_eq!(
        vcity_ledger::jobs::params(state).verification_window_s,
        3_600
    );
    assert_eq!(governance::params(state).voting_s, 2 * 86_400);
    let rule = vcity_ledger::trust::params(state).rule(vcity_types::trust::Offence::CapacityMissed);
    assert_eq!((rule.slash_ppm, rule.suspend_periods), (80_000, 1));
}

#[test]
fn the_open_proposal_count_is_bounded() {
    let mut genesis = genesis_with(vec![]);
    genesis.governance = Some(GovernanceParams {
        max_open: 2,
        deposit: vcai(1),
        ..genesis.governance.expect("governed")
    });
    let mut chain = Harness::new(&genesis);
    let pause = || {
        vec![Action::Pause {
            module: Module::Bank,
        }]
    };
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, pause()), 0);
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, pause()), 0);
    assert_eq!(propose_code(&mut chain, 0, GOVERNOR, pause()), 33);
    // Once tallied they no longer count.
    chain.block_at(20, vec![]);
    assert_eq!(propose_code(&mut chain, 21, GOVERNOR, pause()), 0);
}

#[test]
fn quota_arithmetic_follows_spec_9() {
    // Revenue stages: ⌊USD / 2,000,000⌋; equity stages: ⌊VCAI locked / 500,000,000⌋.
    assert_eq!(supply::revenue_stages(usd(1_999_999)), 0);
    assert_eq!(supply::revenue_stages(usd(2_000_000)), 1);
    assert_eq!(supply::revenue_stages(usd(5_000_000)), 2);
    assert_eq!(supply::equity_stages(vcai(499_999_999)), 0);
    assert_eq!(supply::equity_stages(vcai(1_200_000_000)), 2);
    // available = max(0, min(revenue, equity) − executed).
    assert_eq!(supply::available(2, 2, 1), 1);
    assert_eq!(supply::available(3, 1, 1), 0);
    assert_eq!(
        supply::available(1, 0, 1),
        0,
        "equity can fall below what was used"
    );
    // The year cap: 5% of the supply at the start of the year, rounded down.
    assert_eq!(supply::year_cap(vcai(10_000_000_000)), vcai(500_000_000));
    assert_eq!(supply::year_cap(Amount::new(19)), Amount::new(0));
}

#[test]
fn strategic_issuance_uses_quotas_and_the_year_cap_across_a_year_boundary() {
    // 1,100,000,000 VCAI locked (two equity stages) and 5,000,000 USD of fees (two revenue
    // stages): two quotas. Supply at genesis: 1.2e9 + the governor's 2e6 + the 1e6 reserve.
    let mut genesis = genesis_with(vec![
        funded(BIG, vcai(1_200_000_000), usd(100)),
        funded(RICH, vcai(0), usd(6_000_000)),
    ]);
    genesis.ve_locks.push(vcity_ledger::genesis::GenesisLock {
        account: account(BIG),
        amount: vcai(1_100_000_000),
        unlock_week: 208,
    });
    let mut chain = Harness::new(&genesis);
    let supply_0 = bank::supply(chain.ledger.state(), Denom::Vcai);
    assert_eq!(supply_0, vcai(1_203_000_000));
    let issue = |whole| Action::StrategicIssuance {
        payments: vec![pay(BOB, whole, None)],
    };
    // BIG holds nearly all the weight, so BIG proposes. No revenue yet: no quota.
    let (receipt, t) = chain.govern(0, BIG, vec![issue(1)]);
    assert_eq!(receipt.code, 34, "{}", receipt.error);
    let fee = chain.tx_with_fee(
        RICH,
        usd(5_000_000),
        vec![Message::Transfer(Transfer {
            to: account(BOB),
            denom: Denom::Usd,
            amount: usd(1),
        })],
    );
    chain.block_at(t + 1, vec![fee]);
    let quotas = supply::quotas(chain.ledger.state());
    assert_eq!(
        (
            quotas.revenue_stages,
            quotas.equity_stages,
            quotas.available
        ),
        (2, 2, 2)
    );
    assert_eq!(quotas.year_cap, vcai(60_150_000));
    // 60,000,000 of the year's 60,150,000; then 150,001 more is over the cap.
    let (receipt, t) = chain.govern(t + 2, BIG, vec![issue(60_000_000)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(vcai_of(&chain, &account(BOB)), vcai(60_000_000));
    let (receipt, t) = chain.govern(t + 1, BIG, vec![issue(150_001)]);
    assert_eq!(receipt.code, 34, "{}", receipt.error);
    // Next year: 5% of the new supply; the second quota is used, then none is left.
    let year_1 = supply::YEAR_S;
    assert!(t < year_1);
    let (receipt, _) = chain.govern(year_1, BIG, vec![issue(63_000_000)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let quotas = supply::quotas(chain.ledger.state());
    assert_eq!(quotas.year, 1);
    assert_eq!(quotas.year_start_supply, vcai(1_263_000_000));
    assert_eq!(quotas.year_cap, vcai(63_150_000));
    assert_eq!((quotas.issuances, quotas.available), (2, 0));
    let (receipt, _) = chain.govern(year_1 + 100, BIG, vec![issue(1)]);
    assert_eq!(receipt.code, 34, "{}", receipt.error);
}

#[test]
fn a_paused_module_refuses_new_business_but_not_withdrawals() {
    let mut chain = chain();
    let (receipt, t) = chain.govern(
        0,
        GOVERNOR,
        vec![
            Action::Pause {
                module: Module::Bank,
            },
            Action::Pause { module: Module::Ve },
        ],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        governance::paused(chain.ledger.state()),
        vec![Module::Bank, Module::Ve]
    );
    let transfer = Message::Transfer(Transfer {
        to: account(BOB),
        denom: Denom::Usd,
        amount: usd(1),
    });
    assert_eq!(chain.at(t + 1, BIG, transfer.clone()).code, 32);
    let lock = Message::VeLock(VeLock {
        amount: vcai(5_000),
        unlock_week: 10,
    });
    assert_eq!(chain.at(t + 2, BIG, lock).code, 32);
    // Governance itself is never paused, and a second pause of the same module fails.
    let (receipt, t) = chain.govern(
        t + 3,
        GOVERNOR,
        vec![Action::Pause {
            module: Module::Bank,
        }],
    );
    assert_eq!(receipt.code, 28, "{}", receipt.error);
    let (receipt, t) = chain.govern(
        t + 1,
        GOVERNOR,
        vec![Action::Unpause {
            module: Module::Bank,
        }],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(chain.at(t + 1, BIG, transfer).code, 0);
    // What is already owed can always leave: withdrawals and claims belong to no paused module.
    for message in [
        Message::VeWithdraw(vcity_types::tx::VeWithdraw {}),
        Message::ClaimVesting(vcity_types::tx::ClaimVesting {}),
        Message::ClaimRewards(vcity_types::tx::ClaimRewards {}),
        Message::RemoveLiquidity(vcity_types::tx::RemoveLiquidity {
            shares: Amount::new(1),
            min_vcai: Amount::ZERO,
            min_usd: Amount::ZERO,
        }),
        Message::Unbond(vcity_types::compute::Unbond { amount: vcai(1) }),
        Message::WithdrawUnbonded(vcity_types::compute::WithdrawUnbonded {}),
        Message::CancelJob(vcity_types::compute::CancelJob { job_id: 1 }),
        Message::BurnUsd(vcity_types::tx::BurnUsd { amount: usd(1) }),
    ] {
        assert!(
            governance::pausable_modules(&message).is_empty(),
            "{message:?}"
        );
    }
}

#[test]
fn validators_are_added_repowered_and_removed_by_proposal() {
    let mut chain = chain();
    let newcomer = account(50);
    let (receipt, t) = chain.govern(
        0,
        GOVERNOR,
        vec![Action::AddValidator {
            name: "v2".into(),
            public_key: newcomer,
            power: 3,
        }],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let set = chain::validators(chain.ledger.state());
    assert_eq!(set.len(), 2);
    assert_eq!(set[1].power, 3);
    // The block that made the change was decided by the old set; the next one by the new.
    assert_eq!(chain::last_block_validators(chain.ledger.state()).len(), 1);
    chain.block_at(t, vec![]);
    assert_eq!(chain::last_block_validators(chain.ledger.state()).len(), 2);
    let (receipt, t) = chain.govern(
        t + 1,
        GOVERNOR,
        vec![Action::AddValidator {
            name: "again".into(),
            public_key: newcomer,
            power: 1,
        }],
    );
    assert_eq!(receipt.code, 28, "{}", receipt.error);
    let (receipt, t) = chain.govern(
        t + 1,
        GOVERNOR,
        vec![
            Action::SetValidatorPower {
                public_key: newcomer,
                power: 5,
            },
            Action::RemoveValidator {
                public_key: account(crate::common::VALIDATOR),
            },
        ],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let set = chain::validators(chain.ledger.state());
    assert_eq!(
        (set.len(), set[0].public_key, set[0].power),
        (1, newcomer, 5)
    );
    // The last validator cannot go.
    let (receipt, _) = chain.govern(
        t + 1,
        GOVERNOR,
        vec![Action::RemoveValidator {
            public_key: newcomer,
        }],
    );
    assert_eq!(receipt.code, 33, "{}", receipt.error);
    assert_eq!(chain::validators(chain.ledger.state()).len(), 1);
}

#[test]
fn the_treasury_pays_usd_and_counts_fees_as_revenue() {
    let mut chain = chain();
    let (receipt, t) = chain.govern(
        0,
        GOVERNOR,
        vec![Action::Spend {
            from: Fund::Treasury,
            denom: Denom::Usd,
            payments: vec![Payment {
                recipient: account(BOB),
                amount: Amount::new(2_000),
                vesting: None,
            }],
        }],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    // Three transactions (propose, vote, execute) at 0.001 USD each paid the treasury; it paid
    // out 0.002 USD.
    let state = chain.ledger.state();
    assert_eq!(vcity_ledger::treasury::revenue(state), Amount::new(3_000));
    assert_eq!(
        bank::balance(state, &bank::treasury(), Denom::Usd),
        Amount::new(1_000)
    );
    // The treasury cannot pay what it does not hold.
    let (receipt, _) = chain.govern(
        t + 1,
        GOVERNOR,
        vec![Action::Spend {
            from: Fund::Treasury,
            denom: Denom::Usd,
            payments: vec![Payment {
                recipient: account(BOB),
                amount: usd(1),
                vesting: None,
            }],
        }],
    );
    assert_eq!(receipt.code, 9, "{}", receipt.error);
}

#[test]
fn genesis_refuses_an_authority_key() {
    let mut genesis = genesis_with(vec![]);
    genesis.governance_authority = Some(serde_json::json!(account(BOB)));
    assert!(matches!(
        genesis.validate(),
        Err(vcity_ledger::GenesisError::Invalid(_))
    ));
    let text = r#"{"chain_id":"x","genesis_time_ms":0,"usd_issuer":"0000000000000000000000000000000000000000000000000000000000000001","validators":[{"name":"v","public_key":"0000000000000000000000000000000000000000000000000000000000000002","power":1}],"governance_authority":"0000000000000000000000000000000000000000000000000000000000000001"}"#;
    let parsed = Genesis::from_json(text).expect("parses");
    assert!(parsed.validate().is_err());
}
