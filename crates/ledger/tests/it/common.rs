//! The block-building harness the ledger's integration tests share: deterministic keys, a
//! genesis with the usual validator and USD issuer, signed transactions with per-sender nonces,
//! and blocks executed and committed at a chosen time with the supply audited after each.

#![allow(dead_code)] // each test file uses part of it

use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use vcity_ledger::chain::Validator;
use vcity_ledger::{
    audit_supply, BlockContext, Execution, Genesis, GenesisAccount, Ledger, Mode, PreparedTx,
};
use vcity_types::compute::{Hardware, NodeKind, RegisterNode, Role};
use vcity_types::event::Event;
use vcity_types::governance::{Action, CastVote, Choice, ExecuteProposal, Propose};
use vcity_types::receipt::Receipt;
use vcity_types::tx::{Message, TxBody};
use vcity_types::{AccountId, Amount, Denom, Hash};

/// Genesis time of every harness chain, Unix ms.
pub const GENESIS_MS: u64 = 1_800_000_000_000;
/// Seed of the USD issuer.
pub const ISSUER: u8 = 9;
/// Seed of the validator.
pub const VALIDATOR: u8 = 100;

/// The key of `seed`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The account of `seed`.
pub fn account(seed: u8) -> AccountId {
    AccountId::from_public_key(&key(seed).verifying_key())
}

/// Whole VCAI.
pub fn vcai(whole: u128) -> Amount {
    Amount::whole(whole, Denom::Vcai).expect("fits")
}

/// Whole USD.
pub fn usd(whole: u128) -> Amount {
    Amount::whole(whole, Denom::Usd).expect("fits")
}

/// A funded account of `seed`.
pub fn funded(seed: u8, vcai: Amount, usd: Amount) -> GenesisAccount {
    GenesisAccount {
        name: None,
        id: account(seed),
        vcai,
        usd,
    }
}

/// The harness's trust parameters: no capacity challenges (and so no probation), since a test
/// chain has no verifier daemons; the trust layer's own tests turn them on.
pub fn quiet_trust() -> vcity_ledger::trust::TrustParams {
    vcity_ledger::trust::TrustParams {
        capacity_challenges: false,
        probation_challenges: 0,
        ..Default::default()
    }
}

/// A genesis for `chain_id` at [`GENESIS_MS`] with the harness validator and issuer.
pub fn genesis(chain_id: &str, accounts: Vec<GenesisAccount>) -> Genesis {
    Genesis {
        trust: Some(quiet_trust()),
        chain_id: chain_id.into(),
        genesis_time_ms: GENESIS_MS,
        usd_issuer: account(ISSUER),
        validators: vec![Validator {
            name: "v".into(),
            public_key: account(VALIDATOR),
            power: 1,
        }],
        accounts,
        ..Default::default()
    }
}

/// A flexible CPU-only compute node with 8 cores and 16 GiB in `region`.
pub fn cpu_node(region: &str, price_per_cu_usd: Amount, stake: Amount) -> RegisterNode {
    RegisterNode {
        role: Role::Compute,
        kind: NodeKind::Flexible,
        hardware: Hardware {
            sandbox: None,
            gpus: vec![],
            cpu_cores: 8,
            ram_mib: 16_384,
        },
        region: region.into(),
        endpoint: format!("https://cpu-{region}.example"),
        price_per_cu_usd,
        stake,
    }
}

/// A scheduler bonding the flat service minimum (50,000 VCAI).
pub fn scheduler_node() -> RegisterNode {
    RegisterNode {
        role: Role::Scheduler,
        kind: NodeKind::Stable,
        hardware: Hardware::default(),
        region: "eu-west".into(),
        endpoint: "https://scheduler.example".into(),
        price_per_cu_usd: Amount::ZERO,
        stake: vcai(50_000),
    }
}

/// Health measurements that pass every rule.
pub fn healthy() -> vcity_types::trust::HealthReport {
    vcity_types::trust::HealthReport {
        executor_ok: true,
        free_disk_mib: 100_000,
        gpus: Vec::new(),
    }
}

/// A successful task's commitment: `output`'s address and size and `cu_used_ppm`.
pub fn commitment(output: &[u8], cu_used_ppm: u64) -> vcity_types::compute::ResultCommitment {
    vcity_types::compute::ResultCommitment {
        exit: vcity_types::compute::TaskExit::Success,
        output: vcity_types::compute::content_address(output),
        output_bytes: output.len() as u64,
        cu_used_ppm,
    }
}

/// `SubmitResult` of `commitment` for `attempt` at the task, signed by the node of `seed`.
pub fn signed_result(
    chain_id: &str,
    seed: u8,
    job_id: u64,
    task: u32,
    attempt: u32,
    commitment: vcity_types::compute::ResultCommitment,
) -> Message {
    Message::SubmitResult(vcity_types::compute::SubmitResult::signed(
        chain_id,
        &key(seed),
        job_id,
        task,
        attempt,
        commitment,
    ))
}

/// The harness's beacon at `height`: a hash of the height, so that draws differ from block to
/// block and every run is the same.
pub fn beacon(height: vcity_types::Height) -> Hash {
    Hash::of(
        vcity_types::hash::Domain::Beacon,
        &[b"harness", &height.0.to_le_bytes()],
    )
}

/// A ledger driven block by block.
pub struct Harness {
    /// The ledger.
    pub ledger: Ledger,
    /// Every event so far (block hooks and transactions).
    pub events: Vec<Event>,
    chain_id: String,
    nonces: BTreeMap<u8, u64>,
    /// The genesis time, Unix ms: block times are given in seconds after it.
    genesis_ms: u64,
}

impl Harness {
    /// A chain at height 0.
    pub fn new(genesis: &Genesis) -> Harness {
        Harness {
            ledger: Ledger::from_genesis(genesis).expect("valid genesis"),
            events: Vec::new(),
            chain_id: genesis.chain_id.clone(),
            nonces: BTreeMap::new(),
            genesis_ms: genesis.genesis_time_ms,
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// `SubmitResult` by the node of `seed` for the task's current attempt: a successful run
    /// whose output is `output` and that used `cu_used_ppm`.
    pub fn result(
        &self,
        seed: u8,
        job_id: u64,
        task: u32,
        cu_used_ppm: u64,
        output: &[u8],
    ) -> Message {
        let attempt = vcity_ledger::jobs::job(self.ledger.state(), job_id)
            .and_then(|job| job.tasks.get(task as usize).map(|entry| entry.attempts))
            .unwrap_or(0);
        signed_result(
            &self.chain_id,
            seed,
            job_id,
            task,
            attempt,
            commitment(output, cu_used_ppm),
        )
    }

    /// A transaction of `seed` carrying `message`, with its next nonce and the minimum fee.
    pub fn tx(&mut self, seed: u8, message: Message) -> PreparedTx {
        self.tx_of(seed, vec![message])
    }

    /// A transaction of `seed` carrying `messages` (applied all or nothing).
    pub fn tx_of(&mut self, seed: u8, messages: Vec<Message>) -> PreparedTx {
        let nonce = self.nonces.entry(seed).or_insert(0);
        let body = TxBody {
            chain_id: self.chain_id.clone(),
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

    /// Executes and commits a block `t_s` seconds after genesis; audits supply.
    pub fn block_at(&mut self, t_s: u64, txs: Vec<PreparedTx>) -> Execution {
        let height = self.ledger.height().next();
        let context = BlockContext {
            height,
            time_ms: self.genesis_ms + t_s * 1_000,
            beacon: beacon(height),
            proposer: account(VALIDATOR),
        };
        let execution = self
            .ledger
            .execute(context, txs, Mode::Verify)
            .expect("valid block");
        self.ledger.commit(&execution);
        audit_supply(self.ledger.state()).expect("supply conserved");
        self.events.extend(execution.block_events.iter().cloned());
        for receipt in &execution.receipts {
            self.events.extend(receipt.events.iter().cloned());
        }
        execution
    }

    /// One transaction in a block at `t_s`; its receipt.
    pub fn at(&mut self, t_s: u64, seed: u8, message: Message) -> Receipt {
        self.at_all(t_s, seed, vec![message])
    }

    /// One transaction of several messages in a block at `t_s`; its receipt.
    pub fn at_all(&mut self, t_s: u64, seed: u8, messages: Vec<Message>) -> Receipt {
        let tx = self.tx_of(seed, messages);
        self.block_at(t_s, vec![tx])
            .receipts
            .into_iter()
            .next()
            .expect("one receipt")
    }

    /// A transaction of `seed` paying `fee` USD base units.
    pub fn tx_with_fee(&mut self, seed: u8, fee: Amount, messages: Vec<Message>) -> PreparedTx {
        let nonce = self.nonces.entry(seed).or_insert(0);
        let body = TxBody {
            chain_id: self.chain_id.clone(),
            sender: account(seed),
            nonce: *nonce,
            fee,
            messages,
        };
        *nonce += 1;
        self.ledger
            .prepare(body.sign(&key(seed)).to_bytes())
            .expect("well-formed")
    }

    /// Proposes `actions` as `proposer` at `t_s`; the proposal's number (panics if refused).
    pub fn propose(&mut self, t_s: u64, proposer: u8, actions: Vec<Action>) -> u64 {
        let receipt = self.at(
            t_s,
            proposer,
            Message::Propose(Propose {
                title: "test proposal".into(),
                description: String::new(),
                actions,
            }),
        );
        assert_eq!(receipt.code, 0, "propose: {}", receipt.error);
        vcity_ledger::governance::count(self.ledger.state())
    }

    /// Proposal `number`'s id.
    pub fn proposal_id(&self, number: u64) -> Hash {
        vcity_ledger::governance::proposal(self.ledger.state(), number)
            .expect("proposal exists")
            .id
    }

    /// Runs a proposal's whole life with [`governed`]'s periods: `proposer` proposes `actions`
    /// at `t_s` and votes yes, and executes it after the timelock. Returns the execution's
    /// receipt and its time.
    pub fn govern(&mut self, t_s: u64, proposer: u8, actions: Vec<Action>) -> (Receipt, u64) {
        let number = self.propose(t_s, proposer, actions);
        let found = vcity_ledger::governance::proposal(self.ledger.state(), number)
            .expect("proposal exists");
        let vote = self.at(
            found.voting_starts_s,
            proposer,
            Message::CastVote(CastVote {
                proposal: found.id,
                choice: Choice::Yes,
            }),
        );
        assert_eq!(vote.code, 0, "vote: {}", vote.error);
        let receipt = self.at(
            found.executable_s,
            proposer,
            Message::ExecuteProposal(ExecuteProposal { proposal: found.id }),
        );
        (receipt, found.executable_s)
    }
}

/// Seed of the account that governs harness chains made [`governed`].
pub const GOVERNOR: u8 = 77;

/// Makes `genesis` governable in a test: 10 s of discussion, 10 s of voting, a 10 s timelock
/// and 1,000 s of grace; the [`GOVERNOR`] account funded and 1,000,000 VCAI of it locked for
/// four years (1,000 veVCAI, past the 100 veVCAI threshold).
pub fn governed(genesis: &mut Genesis) {
    genesis.governance = Some(vcity_types::governance::GovernanceParams {
        discussion_s: 10,
        voting_s: 10,
        timelock_s: 10,
        grace_s: 1_000,
        ..Default::default()
    });
    genesis
        .accounts
        .push(funded(GOVERNOR, vcai(2_000_000), usd(1_000)));
    genesis.ve_locks.push(vcity_ledger::genesis::GenesisLock {
        account: account(GOVERNOR),
        amount: vcai(1_000_000),
        unlock_week: 208,
    });
}
