//! The ledger application: block execution, the hook order, and commit.
//!
//! ## Hook order (the one place it is written down)
//!
//! For each block:
//! 1. `begin_block`: [`chain`] (records height, time, beacon), then [`ve`] (advances the total
//!    vote-escrow weight over the week boundaries passed), then [`treasury`] (rolls the buyback
//!    interval over, handing the last interval's VCAI to the distributor, and buys this block's
//!    slice), then [`rewards`] (snapshots at week boundaries, then releases this block's share of
//!    the stream to the current weights), then [`nodes`] (reprices the stake requirement at the
//!    pool's time-weighted price once a week), then [`incentives`] (closes ended incentive
//!    periods, runs the supply-demand controller, opens the next period, credits closed periods'
//!    members a bounded number per block), then [`trust`] (with this block's beacon: samples the
//!    previous block's results and draws their checkers, draws referees of disputes opened and
//!    verifiers of capacity proofs committed in the previous block; then its reminders: capacity
//!    challenges to issue, commit and verdict deadlines, referee deadlines, ended appeal windows
//!    paid out), then [`attestation`] (draws a new attestation nonce from this block's beacon
//!    at each nonce interval), then [`jobs`] (walks the deadline buckets: expired assignments back to pending,
//!    overrunning tasks failed, closed verification windows settled unless disputed), then
//!    [`governance`] (records the VCAI supply at the start of a new year, tallies votes that
//!    ended, expires passed proposals whose grace period ended).
//! 2. For each transaction, in block order:
//!    - ante, in the transaction's own overlay: [`auth`] consumes the nonce, then [`bank`]
//!      takes the fee from the sender, then [`attestation`] reserves the block's report slots
//!      and the sender's one attempt per nonce interval for an `AttestNode`. If any fails, the
//!      transaction cannot be included (the proposer drops it; a block containing it is
//!      invalid).
//!    - messages, all-or-nothing in a child overlay: a message to a module governance paused is
//!      refused; otherwise each message goes to the component that owns it (`Transfer`, `MintUsd`, `BurnUsd` → [`bank`]; `ClaimVesting` → [`vesting`];
//!      `TransferNft`, `ClaimNft` → [`nft`]; `VeLock`, `VeIncrease`, `VeExtend`, `VeWithdraw` →
//!      [`ve`], which first settles the account in [`rewards`]; `AddLiquidity`,
//!      `RemoveLiquidity`, `SwapExactIn`, `SwapExactOut` → [`pool`];
//!      `RegisterNode`, `NodeHeartbeat`, `UpdateNode`, `AddStake`, `Unbond`, `WithdrawUnbonded` →
//!      `Deregister` → [`nodes`] (a heartbeat reports online time and outages to
//!      [`incentives`]); `SubmitJob`, `AssignTask`, `StartTask`, `SubmitResult`, `FailTask`,
//!      `CancelJob`, `ReportUnplaceable`, `Subscribe`, `GrantTaskKey` → [`jobs`] (a settlement
//!      reports delivery and spending to [`incentives`]; a result queues its sampling draw with
//!      [`trust`]);
//!      `VerifyResult`, `ChallengeResult` → [`verification`]; `RefereeVote`,
//!      `ReportEquivocation` → [`disputes`]; `CommitCapacity`, `CapacityVerdict` →
//!      [`capacity`]; `Appeal` → [`slashing`]; `AttestNode` → [`attestation`] (which records
//!      the tier on the node through [`nodes`]); `Propose`, `CommentProposal`, `CastVote`,
//!      `ExecuteProposal` → [`governance`] (whose actions reach the components they change);
//!      `ClaimRewards` → [`rewards`] and [`incentives`]; `NameReferrer` → [`incentives`];
//!      `MintAgent`, `AddAgentVersion`,
//!      `RetireAgentVersion`, `TransferAgent`, `ListAgent`, `DelistAgent`, `BuyAgent`,
//!      `SetLicenceTerms`, `TakeLicence`, `InvokeAgent`, `RateInvocation` → [`agents`] (a call
//!      submits its job through [`jobs`], which reports the task's settlement or refund back
//!      so the call fee is paid out or returned).
//!      A failing message rolls back
//!      every message of the transaction; fee and nonce stay spent, and the receipt carries the
//!      error code.
//! 3. `end_block`: [`bank`] credits the treasury with the block's fees in one sum, which
//!    [`treasury`] counts as revenue (no transaction touches the treasury's balance for its fee,
//!    so a fee makes no waiting transaction stale); invariants (supply conservation); then the
//!    new state root.
//!
//! [`chain`]: crate::chain
//! [`auth`]: crate::auth
//! [`bank`]: crate::bank
//! [`vesting`]: crate::vesting
//! [`nft`]: crate::nft
//! [`ve`]: crate::ve
//! [`pool`]: crate::pool
//! [`treasury`]: crate::treasury
//! [`rewards`]: crate::rewards
//! [`nodes`]: crate::nodes
//! [`jobs`]: crate::jobs
//! [`incentives`]: crate::incentives
//! [`governance`]: crate::governance
//! [`trust`]: crate::trust
//! [`verification`]: crate::verification
//! [`disputes`]: crate::disputes
//! [`capacity`]: crate::capacity
//! [`attestation`]: crate::attestation
//! [`slashing`]: crate::slashing
//! [`agents`]: crate::agents

use crate::error::TxError;
use crate::genesis::{Genesis, GenesisError};
use crate::smt::SparseMerkleTree;
use crate::state::{Layer, Overlay, ReadLog, Reads, State, StateRead, Writes};
use crate::{
    agents, attestation, auth, bank, capacity, chain, disputes, governance, incentives, invariants,
    jobs, nft, nodes, pool, repricing, rewards, slashing, treasury, trust, ve, verification,
    vesting,
};
use vcity_types::event::Event;
use vcity_types::merkle::{list_root, SparseProof};
use vcity_types::receipt::Receipt;
use vcity_types::tx::{decode_transaction, tx_hash, Message, SignedTransaction, TxDecodeError};
use vcity_types::Scale;
use vcity_types::{AccountId, Amount, Hash, Height};

/// What consensus decided about a block, given to the ledger as input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's height: one more than the committed height.
    pub height: Height,
    /// Block time, Unix ms; not before the previous block's.
    pub time_ms: u64,
    /// The block's random beacon.
    pub beacon: Hash,
    /// The proposing validator.
    pub proposer: AccountId,
}

/// A transaction that passed the stateless checks (size, decoding, chain id, message count,
/// signature). Only these reach execution.
#[derive(Debug, Clone)]
pub struct PreparedTx {
    /// Canonical bytes.
    pub bytes: Vec<u8>,
    /// Decoded.
    pub tx: SignedTransaction,
    /// Id.
    pub hash: Hash,
}

/// How [`Ledger::execute`] treats a transaction that cannot be included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Building a block: leave it out (and report it in [`Execution::dropped`]).
    Propose,
    /// Checking someone's block: the whole block is invalid.
    Verify,
}

/// Why a block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Not the next height.
    #[error("block height {got} is not the next height {expected}")]
    WrongHeight {
        /// Next height.
        expected: Height,
        /// Given.
        got: Height,
    },
    /// Time before the previous block's.
    #[error("block time {got} ms is before the previous block's {previous} ms")]
    TimeWentBackwards {
        /// Previous block time.
        previous: u64,
        /// Given.
        got: u64,
    },
    /// Over the block limits.
    #[error(
        "block has {count} transactions / {bytes} bytes, over the limits {max_count} / {max_bytes}"
    )]
    TooBig {
        /// Transactions.
        count: u64,
        /// Bytes.
        bytes: u64,
        /// Limit.
        max_count: u64,
        /// Limit.
        max_bytes: u64,
    },
    /// A transaction that fails its checks.
    #[error("transaction {index} is invalid: {error}")]
    InvalidTransaction {
        /// Position in the block.
        index: u32,
        /// Why.
        error: TxError,
    },
}

/// What a mempool check of one transaction read and would write
/// ([`Ledger::check_tx_footprint`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Every key read below the transaction's own writes, with the value found.
    pub reads: Reads,
    /// Its state changes.
    pub writes: Writes,
    /// The events its receipt would carry.
    pub events: Vec<Event>,
}

/// The result of executing a block against the committed state, not yet committed.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The block's context.
    pub context: BlockContext,
    /// The included transactions, in order.
    pub transactions: Vec<PreparedTx>,
    /// Candidates left out while proposing, with the reason.
    pub dropped: Vec<(Hash, TxError)>,
    /// One per included transaction.
    pub receipts: Vec<Receipt>,
    /// Events of the begin/end-block hooks.
    pub block_events: Vec<Event>,
    /// Every state change of the block.
    pub writes: Writes,
    /// List root of the transaction ids.
    pub tx_root: Hash,
    /// List root of the receipt hashes.
    pub receipts_root: Hash,
    /// State root after the block.
    pub state_root: Hash,
    /// How many included transactions took their mempool check's writes instead of running
    /// again ([`Ledger::execute_checked`]).
    pub replayed: u32,
    tree: SparseMerkleTree,
}

/// The ledger: committed state plus its Merkle commitment.
#[derive(Debug, Clone)]
pub struct Ledger {
    state: State,
    tree: SparseMerkleTree,
    /// What a mempool check sees of the chain beyond the committed state: the next height, with
    /// the committed time and beacon (written like a `begin_block` would), kept from one commit
    /// to the next so that no check encodes them again.
    check_context: Writes,
}

impl Ledger {
    /// The ledger at height 0.
    pub fn from_genesis(genesis: &Genesis) -> Result<Ledger, GenesisError> {
        Ok(Ledger::from_state(genesis.initial_state()?))
    }

    /// The ledger over a stored state (rebuilds the Merkle tree).
    pub fn from_state(state: State) -> Ledger {
        let tree = SparseMerkleTree::build(state.entries());
        let check_context = check_context_writes(&state);
        Ledger {
            state,
            tree,
            check_context,
        }
    }

    /// The committed state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The chain id.
    pub fn chain_id(&self) -> String {
        chain::chain_id(&self.state)
    }

    /// The committed height.
    pub fn height(&self) -> Height {
        chain::height(&self.state)
    }

    /// The committed block time, Unix ms.
    pub fn time_ms(&self) -> u64 {
        chain::time_ms(&self.state)
    }

    /// The committed beacon.
    pub fn beacon(&self) -> Hash {
        chain::beacon(&self.state)
    }

    /// The parameters.
    pub fn params(&self) -> chain::Params {
        chain::params(&self.state)
    }

    /// The committed state root.
    pub fn state_root(&self) -> Hash {
        self.tree.root_hash()
    }

    /// The proof for `key` against [`Ledger::state_root`].
    pub fn prove(&self, key: &[u8]) -> SparseProof {
        self.tree.prove(key)
    }

    /// Stateless checks: size, decoding, chain id, message count, signature. Cheap ones first.
    pub fn prepare(&self, bytes: Vec<u8>) -> Result<PreparedTx, TxError> {
        prepare(bytes, &self.chain_id(), &self.params())
    }

    /// Checks `tx` for the mempool on top of `pending` (the committed state plus the transactions
    /// already accepted). On success its effects are added to `pending`; on failure nothing is.
    /// Stricter than block execution: a transaction whose messages would fail is refused too, so
    /// an overdraft is reported to the submitter instead of burning a fee.
    pub fn check_tx(&self, pending: &mut Overlay<'_>, tx: &PreparedTx) -> Result<(), TxError> {
        let footprint = self.check_tx_footprint(pending, tx)?;
        pending.merge(footprint.writes, Vec::new());
        Ok(())
    }

    /// [`Ledger::check_tx`] without the merge: what the transaction read from `pending` (with
    /// the value found) and what it would write. The check is a function of those reads alone
    /// (parameters and the unit scale included; the block context only labels the receipt), so
    /// for as long as every key read holds the same value ([`Ledger::footprint_holds`]) the answer
    /// and the writes stay the same: the mempool re-checks a waiting transaction only when a
    /// block changed something it read.
    ///
    /// The check sees the chain at the next height (the block it hopes to join) and the
    /// committed time and beacon, the only context a transaction can read.
    pub fn check_tx_footprint(
        &self,
        pending: &dyn StateRead,
        tx: &PreparedTx,
    ) -> Result<Footprint, TxError> {
        let context = check_context(&self.state);
        let next = Layer::new(&self.check_context, pending);
        let log = ReadLog::new(&next);
        let params = chain::params(&log);
        let scale = repricing::scale(&log);
        let mut overlay = Overlay::new(&log);
        let (error, receipt) = deliver_tx(&mut overlay, &context, &params, tx, 0, scale)?;
        if let Some(error) = error {
            return Err(error);
        }
        let (writes, _events) = overlay.into_parts();
        Ok(Footprint {
            reads: log.into_reads(),
            writes,
            events: receipt.events,
        })
    }

    /// True if checking the transaction behind `footprint` on `pending` now would read exactly
    /// what it read then, and so give the same answer and the same writes.
    pub fn footprint_holds(&self, pending: &dyn StateRead, footprint: &Footprint) -> bool {
        let next = Layer::new(&self.check_context, pending);
        footprint
            .reads
            .iter()
            .all(|(key, value)| next.get_raw(key) == value)
    }

    /// Executes a block on top of the committed state without changing it.
    pub fn execute(
        &self,
        context: BlockContext,
        candidates: Vec<PreparedTx>,
        mode: Mode,
    ) -> Result<Execution, BlockError> {
        self.execute_checked(context, candidates, &[], mode)
    }

    /// [`Ledger::execute`], reusing what this node's mempool already computed: `checked[i]`, where
    /// present, is the footprint [`Ledger::check_tx_footprint`] gave for `candidates[i]`. Where
    /// that check read, at this point of the block, exactly what it read then, delivering the
    /// transaction again would read the same and so write the same, with the same events: its
    /// writes are applied instead (docs/protocol.md, "Execute once"). Anything else (a key that
    /// changed, the block's own time or beacon read, a repricing earlier in the block) runs the
    /// transaction as `execute` does. The result is the same either way, bit for bit; only the
    /// cost differs.
    pub fn execute_checked(
        &self,
        context: BlockContext,
        candidates: Vec<PreparedTx>,
        checked: &[Option<&Footprint>],
        mode: Mode,
    ) -> Result<Execution, BlockError> {
        let expected = self.height().next();
        if context.height != expected {
            return Err(BlockError::WrongHeight {
                expected,
                got: context.height,
            });
        }
        let previous = self.time_ms();
        if context.time_ms < previous {
            return Err(BlockError::TimeWentBackwards {
                previous,
                got: context.time_ms,
            });
        }
        let params = self.params();
        let (max_count, max_bytes) = (
            u64::from(params.max_block_txs),
            u64::from(params.max_block_bytes),
        );
        if mode == Mode::Verify {
            let count = candidates.len() as u64;
            let bytes: u64 = candidates.iter().map(|tx| tx.bytes.len() as u64).sum();
            if count > max_count || bytes > max_bytes {
                return Err(BlockError::TooBig {
                    count,
                    bytes,
                    max_count,
                    max_bytes,
                });
            }
        }

        let mut block = Overlay::new(&self.state);
        let mut block_events = Vec::new();

        // 1. begin_block hooks.
        let mut hook = Overlay::new(&block);
        chain::begin_block(&mut hook, &context);
        ve::begin_block(&mut hook);
        treasury::begin_block(&mut hook);
        rewards::begin_block(&mut hook);
        nodes::begin_block(&mut hook);
        incentives::begin_block(&mut hook);
        trust::begin_block(&mut hook);
        attestation::begin_block(&mut hook);
        jobs::begin_block(&mut hook);
        governance::begin_block(&mut hook);
        let (writes, mut events) = hook.into_parts();
        block.merge(writes, Vec::new());
        // The unit scale changes only inside a transaction (a repricing proposal executing);
        // it is read once per block and followed through the receipts' `Repriced` events.
        let mut scale = repricing::scale(&block);
        let block_scale = scale;
        repricing::events_to_nominal(scale, &mut events);
        block_events.extend(events);

        // 2. transactions.
        let mut included = Vec::new();
        let mut receipts = Vec::new();
        let mut dropped = Vec::new();
        let mut included_bytes = 0u64;
        let mut fees = Amount::ZERO;
        let mut replayed_count = 0u32;
        for (position, tx) in candidates.into_iter().enumerate() {
            let index = included.len() as u32;
            let size = tx.bytes.len() as u64;
            if mode == Mode::Propose
                && (included.len() as u64 >= max_count || included_bytes + size > max_bytes)
            {
                break;
            }
            // A repricing earlier in the block changes the unit events are written in, which the
            // check read from a state without it: run the transaction again instead.
            let replayed = checked
                .get(position)
                .copied()
                .flatten()
                .filter(|_| scale == block_scale)
                .and_then(|footprint| {
                    replay_checked(&mut block, &context, &params, &tx, index, footprint)
                });
            let outcome = match replayed {
                Some(receipt) => {
                    replayed_count += 1;
                    Ok((None, receipt))
                }
                None => deliver_tx(&mut block, &context, &params, &tx, index, scale),
            };
            match outcome {
                Ok((_, receipt)) => {
                    fees = fees
                        .checked_add(tx.tx.body.fee)
                        .expect("a block's fees fit u128: each was debited from a balance");
                    scale = repricing::scale_after(scale, &receipt.events);
                    included_bytes += size;
                    receipts.push(receipt);
                    included.push(tx);
                }
                Err(error) if mode == Mode::Propose => dropped.push((tx.hash, error)),
                Err(error) => return Err(BlockError::InvalidTransaction { index, error }),
            }
        }

        // 3. end_block: the fees, in one sum; invariants; then the commitment. Fees reach the
        // treasury here rather than per transaction so that no transaction reads or writes the
        // treasury's balance for its fee: the mempool can then tell which waiting transactions
        // a block affected (docs/protocol.md, "Admission (mempool) and execution").
        bank::collect_fees(&mut block, fees)
            .expect("the treasury's USD balance fits u128: every fee came out of a balance");
        treasury::record_revenue(&mut block, fees);
        let (writes, _tx_events) = block.into_parts();
        invariants::assert_supply_conserved(&self.state, &writes);
        let tree = self.tree.update(&writes);
        let tx_hashes: Vec<Hash> = included.iter().map(|tx| tx.hash).collect();
        let receipt_hashes: Vec<Hash> = receipts.iter().map(Receipt::hash).collect();
        Ok(Execution {
            context,
            transactions: included,
            dropped,
            receipts,
            block_events,
            tx_root: list_root(&tx_hashes),
            receipts_root: list_root(&receipt_hashes),
            state_root: tree.root_hash(),
            writes,
            replayed: replayed_count,
            tree,
        })
    }

    /// Makes an execution the committed state. It must have been computed on this very state
    /// (the height check below catches the obvious misuse).
    pub fn commit(&mut self, execution: &Execution) {
        assert_eq!(
            execution.context.height,
            self.height().next(),
            "commit of an execution computed on another state"
        );
        self.state.apply(&execution.writes);
        self.tree = execution.tree.clone();
        self.check_context = check_context_writes(&self.state);
        debug_assert_eq!(chain::height(&self.state), execution.context.height);
    }
}

/// The context a mempool check runs in, on `state`: the next height, the committed time and
/// beacon.
fn check_context(state: &impl StateRead) -> BlockContext {
    BlockContext {
        height: chain::height(state).next(),
        time_ms: chain::time_ms(state),
        beacon: chain::beacon(state),
        proposer: AccountId::default(),
    }
}

/// [`check_context`] as the writes a `begin_block` would make.
fn check_context_writes(state: &State) -> Writes {
    let mut overlay = Overlay::new(state);
    chain::begin_block(&mut overlay, &check_context(state));
    overlay.into_parts().0
}

/// The stateless checks; see [`Ledger::prepare`].
pub fn prepare(
    bytes: Vec<u8>,
    chain_id: &str,
    params: &chain::Params,
) -> Result<PreparedTx, TxError> {
    let prepared = prepare_unsigned(bytes, chain_id, params)?;
    prepared
        .tx
        .verify_signature()
        .map_err(|error| TxError::BadSignature(error.to_string()))?;
    Ok(prepared)
}

/// [`prepare`] without the signature check, for a caller that checks signatures itself: in
/// batches ([`vcity_types::tx::verify_signatures`], the same answers), or not again for a
/// transaction it has already checked.
pub fn prepare_unsigned(
    bytes: Vec<u8>,
    chain_id: &str,
    params: &chain::Params,
) -> Result<PreparedTx, TxError> {
    let size = bytes.len() as u64;
    let max = u64::from(params.max_tx_bytes);
    if size > max {
        return Err(TxError::TooLarge { size, max });
    }
    let tx = decode_transaction(&bytes).map_err(|error| match error {
        TxDecodeError::Malformed(reason) => TxError::Malformed(reason),
        TxDecodeError::UnknownMessage(tag) => TxError::UnknownMessage(tag),
    })?;
    if tx.body.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id.to_string(),
            got: tx.body.chain_id.clone(),
        });
    }
    if tx.body.messages.is_empty() {
        return Err(TxError::EmptyTransaction);
    }
    let count = tx.body.messages.len() as u64;
    let max_messages = u64::from(params.max_messages_per_tx);
    if count > max_messages {
        return Err(TxError::TooManyMessages {
            count,
            max: max_messages,
        });
    }
    if tx.body.fee < params.min_fee_usd {
        return Err(TxError::FeeTooLow {
            min: params.min_fee_usd,
            got: tx.body.fee,
        });
    }
    let hash = tx_hash(&bytes);
    Ok(PreparedTx { bytes, tx, hash })
}

/// Runs one transaction on `block`, where the VCAI unit scale is `scale`. `Err` means it cannot
/// be included (nonce or fee) and nothing changed; `Ok((Some(error), receipt))` means it was
/// included but its messages failed.
fn deliver_tx(
    block: &mut Overlay<'_>,
    context: &BlockContext,
    params: &chain::Params,
    tx: &PreparedTx,
    index: u32,
    scale: Scale,
) -> Result<(Option<TxError>, Receipt), TxError> {
    let body = &tx.tx.body;
    let sender = body.sender;
    let mut overlay = Overlay::new(&*block);

    // a. ante: nonce, then fee.
    auth::use_nonce(&mut overlay, &sender, body.nonce)?;
    if body.fee < params.min_fee_usd {
        return Err(TxError::FeeTooLow {
            min: params.min_fee_usd,
            got: body.fee,
        });
    }
    // The fee leaves the sender here; the block credits the treasury with all of them at its
    // end (see `Ledger::execute`).
    bank::take_fee(&mut overlay, &sender, body.fee)?;
    // Attestation's bounds hold whether its evidence then verifies or not.
    attestation::ante(&mut overlay, &sender, &body.messages)?;

    // b. messages, all or nothing.
    let outcome = overlay.atomically(|messages| {
        let mut now = scale;
        for message in &body.messages {
            execute_message(messages, &sender, message, &now)?;
            if let Message::ExecuteProposal(_) = message {
                // The one message that may reprice; later messages speak the new unit.
                now = repricing::scale(messages);
            }
        }
        jobs::check_gangs(messages, &body.messages)
    });

    let (writes, mut events) = overlay.into_parts();
    repricing::events_to_nominal(scale, &mut events);
    block.merge(writes, events.clone());
    let error = outcome.err();
    let receipt = Receipt {
        tx_hash: tx.hash,
        height: context.height,
        index,
        code: error.as_ref().map_or(0, TxError::code),
        error: error.as_ref().map_or_else(String::new, ToString::to_string),
        fee_paid: body.fee,
        events,
    };
    Ok((error, receipt))
}

/// What [`deliver_tx`] would give for `tx` at this point of the block, from the mempool's check of
/// it, if that check's answer still holds here; `None` (nothing changed) if it may not.
///
/// Why this is the same answer: `deliver_tx` reads state only through `StateRead`, and the check
/// recorded every key it read below its own writes with the value found. Its other inputs are the
/// parameters (only the fee floor, checked here against the block's own), the unit scale (the
/// caller passes only when no repricing happened in the block, so the state's scale, which the
/// check read, is the one `deliver_tx` would use) and the block context, which labels the receipt
/// and nothing else (the check ran at this height; a message that reads the time or the beacon
/// reads it from state, and the block's differ from the check's, so such a transaction is run
/// again). The check refuses a transaction whose messages fail, so the receipt is a success.
fn replay_checked(
    block: &mut Overlay<'_>,
    context: &BlockContext,
    params: &chain::Params,
    tx: &PreparedTx,
    index: u32,
    footprint: &Footprint,
) -> Option<Receipt> {
    let body = &tx.tx.body;
    if body.fee < params.min_fee_usd {
        return None;
    }
    let holds = footprint
        .reads
        .iter()
        .all(|(key, value)| block.get_raw(key) == value);
    if !holds {
        return None;
    }
    block.merge(footprint.writes.clone(), Vec::new());
    Some(Receipt {
        tx_hash: tx.hash,
        height: context.height,
        index,
        code: 0,
        error: String::new(),
        fee_paid: body.fee,
        events: footprint.events.clone(),
    })
}

/// Routes a message to the component that owns it.
fn execute_message(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Message,
    scale: &Scale,
) -> Result<(), TxError> {
    governance::check_paused(state, message)?;
    // Messages speak the nominal VCAI unit; components work in the internal one.
    let message = repricing::to_internal(scale, message)?;
    route_message(state, sender, message.as_ref())
        .map_err(|error| repricing::error_to_nominal(scale, error))
}

fn route_message(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Message,
) -> Result<(), TxError> {
    match message {
        Message::Transfer(transfer) => bank::execute_transfer(state, sender, transfer),
        Message::MintUsd(mint) => bank::execute_mint_usd(state, sender, mint),
        Message::BurnUsd(burn) => bank::execute_burn_usd(state, sender, burn),
        Message::ClaimVesting(_) => vesting::execute_claim(state, sender),
        Message::TransferNft(message) => nft::execute_transfer(state, sender, message),
        Message::ClaimNft(message) => nft::execute_claim(state, sender, message),
        Message::VeLock(message) => ve::execute_lock(state, sender, message),
        Message::VeIncrease(message) => ve::execute_increase(state, sender, message),
        Message::VeExtend(message) => ve::execute_extend(state, sender, message),
        Message::VeWithdraw(_) => ve::execute_withdraw(state, sender),
        Message::AddLiquidity(message) => pool::execute_add(state, sender, message),
        Message::RemoveLiquidity(message) => pool::execute_remove(state, sender, message),
        Message::SwapExactIn(message) => pool::execute_swap_exact_in(state, sender, message),
        Message::SwapExactOut(message) => pool::execute_swap_exact_out(state, sender, message),
        Message::ClaimRewards(_) => claim_rewards(state, sender),
        Message::RegisterNode(message) => nodes::execute_register(state, sender, message),
        Message::NodeHeartbeat(message) => nodes::execute_heartbeat(state, sender, message),
        Message::UpdateNode(message) => nodes::execute_update(state, sender, message),
        Message::AddStake(message) => nodes::execute_add_stake(state, sender, message),
        Message::Unbond(message) => nodes::execute_unbond(state, sender, message),
        Message::WithdrawUnbonded(_) => nodes::execute_withdraw(state, sender),
        Message::SubmitJob(message) => jobs::execute_submit(state, sender, message),
        Message::AssignTask(message) => jobs::execute_assign(state, sender, message),
        Message::StartTask(message) => jobs::execute_start(state, sender, message),
        Message::SubmitResult(message) => jobs::execute_result(state, sender, message),
        Message::FailTask(message) => jobs::execute_fail(state, sender, message),
        Message::CancelJob(message) => jobs::execute_cancel(state, sender, message),
        Message::ReportUnplaceable(message) => jobs::execute_unplaceable(state, sender, message),
        Message::Subscribe(message) => jobs::execute_subscribe(state, sender, message),
        Message::Propose(message) => governance::execute_propose(state, sender, message),
        Message::CastVote(message) => governance::execute_vote(state, sender, message),
        Message::CommentProposal(message) => governance::execute_comment(state, sender, message),
        Message::ExecuteProposal(message) => governance::execute_execute(state, sender, message),
        Message::VerifyResult(message) => verification::execute_verify(state, sender, message),
        Message::ChallengeResult(message) => {
            verification::execute_challenge(state, sender, message)
        }
        Message::RefereeVote(message) => disputes::execute_vote(state, sender, message),
        Message::CommitCapacity(message) => capacity::execute_commit(state, sender, message),
        Message::CapacityVerdict(message) => capacity::execute_verdict(state, sender, message),
        Message::ReportEquivocation(message) => {
            disputes::execute_equivocation(state, sender, message)
        }
        Message::Appeal(message) => slashing::execute_appeal(state, sender, message),
        Message::Deregister(_) => nodes::execute_deregister(state, sender),
        Message::MintAgent(message) => agents::execute_mint(state, sender, message),
        Message::AddAgentVersion(message) => agents::execute_add_version(state, sender, message),
        Message::RetireAgentVersion(message) => {
            agents::execute_retire_version(state, sender, message)
        }
        Message::TransferAgent(message) => agents::execute_transfer(state, sender, message),
        Message::ListAgent(message) => agents::execute_list(state, sender, message),
        Message::DelistAgent(message) => agents::execute_delist(state, sender, message),
        Message::BuyAgent(message) => agents::execute_buy(state, sender, message),
        Message::SetLicenceTerms(message) => {
            agents::licences::execute_set_terms(state, sender, message)
        }
        Message::TakeLicence(message) => agents::licences::execute_take(state, sender, message),
        Message::InvokeAgent(message) => {
            agents::invocations::execute_invoke(state, sender, message)
        }
        Message::AttestNode(message) => attestation::execute_attest(state, sender, message),
        Message::GrantTaskKey(message) => jobs::execute_grant(state, sender, message),
        Message::NameReferrer(message) => {
            crate::incentives::execute_name_referrer(state, sender, message)
        }
        Message::RateInvocation(message) => {
            agents::invocations::execute_rate(state, sender, message)
        }
    }
}

/// `ClaimRewards` claims both kinds of VCAI reward: the distributor's buyback share and the
/// incentive pool's credits. It fails only when there is neither.
fn claim_rewards(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    let distributor = rewards::execute_claim(state, sender);
    let incentive = incentives::execute_claim(state, sender);
    match (distributor, incentive) {
        (Err(TxError::NothingToClaim(_)), Err(TxError::NothingToClaim(_))) => Err(
            TxError::NothingToClaim("no rewards accrued since the last claim".into()),
        ),
        (Err(error), _) if !matches!(error, TxError::NothingToClaim(_)) => Err(error),
        (_, Err(error)) if !matches!(error, TxError::NothingToClaim(_)) => Err(error),
        _ => Ok(()),
    }
}

impl StateRead for Ledger {
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        self.state.get_raw(key)
    }

    fn get_raw_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        self.state.get_raw_pair(first, second)
    }
}
