//! Signed transactions (rules §3).
//!
//! A transaction is a [`TxBody`] (chain id, sender, nonce, fee in USD, typed messages) and an
//! ed25519 signature by the sender over [`TxBody::sign_bytes`]: a fixed domain prefix followed by
//! the body's canonical encoding. The transaction id is the hash of the whole signed encoding
//! (domain tag 0x01, see [`crate::hash`]).
//!
//! Messages are a closed enum whose one-byte tags are part of the wire format. A tag this build
//! does not know decodes to [`TxDecodeError::UnknownMessage`], not to a generic "malformed"
//! error, so that a client talking to an older node learns exactly what is missing.

use crate::hash::{Domain, Hash};
use crate::{AccountId, Amount, Denom};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// The prefix of every transaction signature's message.
pub const SIGN_DOMAIN: &[u8] = b"vcity/tx/v1\0";

/// Move `amount` of `denom` from the sender to `to`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transfer {
    /// Recipient.
    pub to: AccountId,
    /// Denomination.
    pub denom: Denom,
    /// Base units; must be positive.
    pub amount: Amount,
}

/// Create USD: only the issuer named in genesis (the stand-in for the stablecoin bridge).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MintUsd {
    /// Who receives the new USD.
    pub to: AccountId,
    /// Base units; must be positive.
    pub amount: Amount,
}

/// Destroy USD from the issuer's own balance (a redemption through the bridge).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BurnUsd {
    /// Base units; must be positive.
    pub amount: Amount,
}

/// Claim every vesting grant's released VCAI (rules §2). No fields: it claims all of the
/// sender's grants.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimVesting {}

/// Give a Genesis NFT, and with it the right to its unclaimed VCAI, to another account.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransferNft {
    /// The NFT (1-based).
    pub id: u32,
    /// The new holder.
    pub to: AccountId,
}

/// Claim the VCAI a Genesis NFT has unlocked so far (rules §2), as its current holder.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimNft {
    /// The NFT (1-based).
    pub id: u32,
}

/// Lock VCAI in the vote escrow until a whole week after genesis (rules §7).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VeLock {
    /// VCAI base units.
    pub amount: Amount,
    /// Unlock at `unlock_week` weeks after genesis.
    pub unlock_week: u32,
}

/// Add VCAI to the sender's lock, keeping its unlock time.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VeIncrease {
    /// VCAI base units.
    pub amount: Amount,
}

/// Move the sender's unlock time later.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VeExtend {
    /// The new unlock week (weeks after genesis).
    pub unlock_week: u32,
}

/// Take back the VCAI of an expired lock.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VeWithdraw {}

/// Deposit VCAI and USD into the pool for LP shares, at the pool's ratio (rules §8).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AddLiquidity {
    /// Most VCAI to deposit.
    pub vcai_max: Amount,
    /// Most USD to deposit.
    pub usd_max: Amount,
    /// Fewest shares acceptable (slippage bound).
    pub min_shares: Amount,
}

/// Burn LP shares for their part of both reserves.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RemoveLiquidity {
    /// Shares to burn.
    pub shares: Amount,
    /// Fewest VCAI acceptable.
    pub min_vcai: Amount,
    /// Fewest USD acceptable.
    pub min_usd: Amount,
}

/// Swap an exact input for at least `min_out` of the other denomination.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SwapExactIn {
    /// What is paid in.
    pub denom_in: Denom,
    /// How much.
    pub amount_in: Amount,
    /// Fewest units of the other denomination acceptable.
    pub min_out: Amount,
}

/// Swap at most `max_in` for an exact output.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SwapExactOut {
    /// What is received.
    pub denom_out: Denom,
    /// How much.
    pub amount_out: Amount,
    /// Most units of the other denomination to pay.
    pub max_in: Amount,
}

/// Claim the buyback VCAI the sender's vote-escrow lock has earned (rules §8).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimRewards {}

/// A typed message. The borsh tag is the variant's position; see [`Message::tag`].
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Tag 0.
    Transfer(Transfer),
    /// Tag 1.
    MintUsd(MintUsd),
    /// Tag 2.
    BurnUsd(BurnUsd),
    /// Tag 3.
    ClaimVesting(ClaimVesting),
    /// Tag 4.
    TransferNft(TransferNft),
    /// Tag 5.
    ClaimNft(ClaimNft),
    /// Tag 6.
    VeLock(VeLock),
    /// Tag 7.
    VeIncrease(VeIncrease),
    /// Tag 8.
    VeExtend(VeExtend),
    /// Tag 9.
    VeWithdraw(VeWithdraw),
    /// Tag 10.
    AddLiquidity(AddLiquidity),
    /// Tag 11.
    RemoveLiquidity(RemoveLiquidity),
    /// Tag 12.
    SwapExactIn(SwapExactIn),
    /// Tag 13.
    SwapExactOut(SwapExactOut),
    /// Tag 14.
    ClaimRewards(ClaimRewards),
    /// Tag 15.
    RegisterNode(crate::compute::RegisterNode),
    /// Tag 16.
    NodeHeartbeat(crate::compute::NodeHeartbeat),
    /// Tag 17.
    UpdateNode(crate::compute::UpdateNode),
    /// Tag 18.
    AddStake(crate::compute::AddStake),
    /// Tag 19.
    Unbond(crate::compute::Unbond),
    /// Tag 20.
    WithdrawUnbonded(crate::compute::WithdrawUnbonded),
    /// Tag 21.
    SubmitJob(crate::compute::SubmitJob),
    /// Tag 22.
    AssignTask(crate::compute::AssignTask),
    /// Tag 23.
    StartTask(crate::compute::StartTask),
    /// Tag 24.
    SubmitResult(crate::compute::SubmitResult),
    /// Tag 25.
    FailTask(crate::compute::FailTask),
    /// Tag 26.
    CancelJob(crate::compute::CancelJob),
    /// Tag 27.
    ReportUnplaceable(crate::compute::ReportUnplaceable),
    /// Tag 28.
    Subscribe(crate::compute::Subscribe),
    /// Tag 29.
    Propose(crate::governance::Propose),
    /// Tag 30.
    VerifyResult(crate::trust::VerifyResult),
    /// Tag 31.
    ChallengeResult(crate::trust::ChallengeResult),
    /// Tag 32.
    RefereeVote(crate::trust::RefereeVote),
    /// Tag 33.
    CommitCapacity(crate::trust::CommitCapacity),
    /// Tag 34.
    CapacityVerdict(crate::trust::CapacityVerdict),
    /// Tag 35.
    ReportEquivocation(crate::trust::ReportEquivocation),
    /// Tag 36.
    Appeal(crate::trust::Appeal),
    /// Tag 37.
    CastVote(crate::governance::CastVote),
    /// Tag 38.
    Deregister(crate::trust::Deregister),
    /// Tag 39.
    CommentProposal(crate::governance::CommentProposal),
    /// Tag 40.
    ExecuteProposal(crate::governance::ExecuteProposal),
    /// Tag 41.
    MintAgent(crate::agents::MintAgent),
    /// Tag 42.
    AddAgentVersion(crate::agents::AddAgentVersion),
    /// Tag 43.
    RetireAgentVersion(crate::agents::RetireAgentVersion),
    /// Tag 44.
    TransferAgent(crate::agents::TransferAgent),
    /// Tag 45.
    ListAgent(crate::agents::ListAgent),
    /// Tag 46.
    DelistAgent(crate::agents::DelistAgent),
    /// Tag 47.
    BuyAgent(crate::agents::BuyAgent),
    /// Tag 48.
    SetLicenceTerms(crate::agents::SetLicenceTerms),
    /// Tag 49.
    TakeLicence(crate::agents::TakeLicence),
    /// Tag 50.
    InvokeAgent(crate::agents::InvokeAgent),
    /// Tag 51.
    RateInvocation(crate::agents::RateInvocation),
    /// Tag 52.
    AttestNode(crate::compute::AttestNode),
    /// Tag 53.
    GrantTaskKey(crate::compute::GrantTaskKey),
    /// Tag 54.
    NameReferrer(crate::compute::NameReferrer),
}

impl Message {
    /// The wire tag of this message.
    pub fn tag(&self) -> u8 {
        match self {
            Message::Transfer(_) => 0,
            Message::MintUsd(_) => 1,
            Message::BurnUsd(_) => 2,
            Message::ClaimVesting(_) => 3,
            Message::TransferNft(_) => 4,
            Message::ClaimNft(_) => 5,
            Message::VeLock(_) => 6,
            Message::VeIncrease(_) => 7,
            Message::VeExtend(_) => 8,
            Message::VeWithdraw(_) => 9,
            Message::AddLiquidity(_) => 10,
            Message::RemoveLiquidity(_) => 11,
            Message::SwapExactIn(_) => 12,
            Message::SwapExactOut(_) => 13,
            Message::ClaimRewards(_) => 14,
            Message::RegisterNode(_) => 15,
            Message::NodeHeartbeat(_) => 16,
            Message::UpdateNode(_) => 17,
            Message::AddStake(_) => 18,
            Message::Unbond(_) => 19,
            Message::WithdrawUnbonded(_) => 20,
            Message::SubmitJob(_) => 21,
            Message::AssignTask(_) => 22,
            Message::StartTask(_) => 23,
            Message::SubmitResult(_) => 24,
            Message::FailTask(_) => 25,
            Message::CancelJob(_) => 26,
            Message::ReportUnplaceable(_) => 27,
            Message::Subscribe(_) => 28,
            Message::Propose(_) => 29,
            Message::VerifyResult(_) => 30,
            Message::ChallengeResult(_) => 31,
            Message::RefereeVote(_) => 32,
            Message::CommitCapacity(_) => 33,
            Message::CapacityVerdict(_) => 34,
            Message::ReportEquivocation(_) => 35,
            Message::Appeal(_) => 36,
            Message::CastVote(_) => 37,
            Message::Deregister(_) => 38,
            Message::CommentProposal(_) => 39,
            Message::ExecuteProposal(_) => 40,
            Message::MintAgent(_) => 41,
            Message::AddAgentVersion(_) => 42,
            Message::RetireAgentVersion(_) => 43,
            Message::TransferAgent(_) => 44,
            Message::ListAgent(_) => 45,
            Message::DelistAgent(_) => 46,
            Message::BuyAgent(_) => 47,
            Message::SetLicenceTerms(_) => 48,
            Message::TakeLicence(_) => 49,
            Message::InvokeAgent(_) => 50,
            Message::RateInvocation(_) => 51,
            Message::AttestNode(_) => 52,
            Message::GrantTaskKey(_) => 53,
            Message::NameReferrer(_) => 54,
        }
    }

    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Transfer(_) => "transfer",
            Message::MintUsd(_) => "mint_usd",
            Message::BurnUsd(_) => "burn_usd",
            Message::ClaimVesting(_) => "claim_vesting",
            Message::TransferNft(_) => "transfer_nft",
            Message::ClaimNft(_) => "claim_nft",
            Message::VeLock(_) => "ve_lock",
            Message::VeIncrease(_) => "ve_increase",
            Message::VeExtend(_) => "ve_extend",
            Message::VeWithdraw(_) => "ve_withdraw",
            Message::AddLiquidity(_) => "add_liquidity",
            Message::RemoveLiquidity(_) => "remove_liquidity",
            Message::SwapExactIn(_) => "swap_exact_in",
            Message::SwapExactOut(_) => "swap_exact_out",
            Message::ClaimRewards(_) => "claim_rewards",
            Message::RegisterNode(_) => "register_node",
            Message::NodeHeartbeat(_) => "node_heartbeat",
            Message::UpdateNode(_) => "update_node",
            Message::AddStake(_) => "add_stake",
            Message::Unbond(_) => "unbond",
            Message::WithdrawUnbonded(_) => "withdraw_unbonded",
            Message::SubmitJob(_) => "submit_job",
            Message::AssignTask(_) => "assign_task",
            Message::StartTask(_) => "start_task",
            Message::SubmitResult(_) => "submit_result",
            Message::FailTask(_) => "fail_task",
            Message::CancelJob(_) => "cancel_job",
            Message::ReportUnplaceable(_) => "report_unplaceable",
            Message::Subscribe(_) => "subscribe",
            Message::Propose(_) => "propose",
            Message::VerifyResult(_) => "verify_result",
            Message::ChallengeResult(_) => "challenge_result",
            Message::RefereeVote(_) => "referee_vote",
            Message::CommitCapacity(_) => "commit_capacity",
            Message::CapacityVerdict(_) => "capacity_verdict",
            Message::ReportEquivocation(_) => "report_equivocation",
            Message::Appeal(_) => "appeal",
            Message::CastVote(_) => "cast_vote",
            Message::Deregister(_) => "deregister",
            Message::CommentProposal(_) => "comment_proposal",
            Message::ExecuteProposal(_) => "execute_proposal",
            Message::MintAgent(_) => "mint_agent",
            Message::AddAgentVersion(_) => "add_agent_version",
            Message::RetireAgentVersion(_) => "retire_agent_version",
            Message::TransferAgent(_) => "transfer_agent",
            Message::ListAgent(_) => "list_agent",
            Message::DelistAgent(_) => "delist_agent",
            Message::BuyAgent(_) => "buy_agent",
            Message::SetLicenceTerms(_) => "set_licence_terms",
            Message::TakeLicence(_) => "take_licence",
            Message::InvokeAgent(_) => "invoke_agent",
            Message::RateInvocation(_) => "rate_invocation",
            Message::AttestNode(_) => "attest_node",
            Message::GrantTaskKey(_) => "grant_task_key",
            Message::NameReferrer(_) => "name_referrer",
        }
    }
}

/// Carried inside an `io::Error` so that [`decode_transaction`] can tell an unknown message from
/// malformed bytes.
#[derive(Debug, thiserror::Error)]
#[error("unknown message type {0}")]
struct UnknownTag(u8);

impl BorshDeserialize for Message {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let tag = u8::deserialize_reader(reader)?;
        Ok(match tag {
            0 => Message::Transfer(Transfer::deserialize_reader(reader)?),
            1 => Message::MintUsd(MintUsd::deserialize_reader(reader)?),
            2 => Message::BurnUsd(BurnUsd::deserialize_reader(reader)?),
            3 => Message::ClaimVesting(ClaimVesting::deserialize_reader(reader)?),
            4 => Message::TransferNft(TransferNft::deserialize_reader(reader)?),
            5 => Message::ClaimNft(ClaimNft::deserialize_reader(reader)?),
            6 => Message::VeLock(VeLock::deserialize_reader(reader)?),
            7 => Message::VeIncrease(VeIncrease::deserialize_reader(reader)?),
            8 => Message::VeExtend(VeExtend::deserialize_reader(reader)?),
            9 => Message::VeWithdraw(VeWithdraw::deserialize_reader(reader)?),
            10 => Message::AddLiquidity(AddLiquidity::deserialize_reader(reader)?),
            11 => Message::RemoveLiquidity(RemoveLiquidity::deserialize_reader(reader)?),
            12 => Message::SwapExactIn(SwapExactIn::deserialize_reader(reader)?),
            13 => Message::SwapExactOut(SwapExactOut::deserialize_reader(reader)?),
            14 => Message::ClaimRewards(ClaimRewards::deserialize_reader(reader)?),
            15 => Message::RegisterNode(BorshDeserialize::deserialize_reader(reader)?),
            16 => Message::NodeHeartbeat(BorshDeserialize::deserialize_reader(reader)?),
            17 => Message::UpdateNode(BorshDeserialize::deserialize_reader(reader)?),
            18 => Message::AddStake(BorshDeserialize::deserialize_reader(reader)?),
            19 => Message::Unbond(BorshDeserialize::deserialize_reader(reader)?),
            20 => Message::WithdrawUnbonded(BorshDeserialize::deserialize_reader(reader)?),
            21 => Message::SubmitJob(BorshDeserialize::deserialize_reader(reader)?),
            22 => Message::AssignTask(BorshDeserialize::deserialize_reader(reader)?),
            23 => Message::StartTask(BorshDeserialize::deserialize_reader(reader)?),
            24 => Message::SubmitResult(BorshDeserialize::deserialize_reader(reader)?),
            25 => Message::FailTask(BorshDeserialize::deserialize_reader(reader)?),
            26 => Message::CancelJob(BorshDeserialize::deserialize_reader(reader)?),
            27 => Message::ReportUnplaceable(BorshDeserialize::deserialize_reader(reader)?),
            28 => Message::Subscribe(BorshDeserialize::deserialize_reader(reader)?),
            29 => Message::Propose(BorshDeserialize::deserialize_reader(reader)?),
            30 => Message::VerifyResult(BorshDeserialize::deserialize_reader(reader)?),
            31 => Message::ChallengeResult(BorshDeserialize::deserialize_reader(reader)?),
            32 => Message::RefereeVote(BorshDeserialize::deserialize_reader(reader)?),
            33 => Message::CommitCapacity(BorshDeserialize::deserialize_reader(reader)?),
            34 => Message::CapacityVerdict(BorshDeserialize::deserialize_reader(reader)?),
            35 => Message::ReportEquivocation(BorshDeserialize::deserialize_reader(reader)?),
            36 => Message::Appeal(BorshDeserialize::deserialize_reader(reader)?),
            37 => Message::CastVote(BorshDeserialize::deserialize_reader(reader)?),
            38 => Message::Deregister(BorshDeserialize::deserialize_reader(reader)?),
            39 => Message::CommentProposal(BorshDeserialize::deserialize_reader(reader)?),
            40 => Message::ExecuteProposal(BorshDeserialize::deserialize_reader(reader)?),
            41 => Message::MintAgent(BorshDeserialize::deserialize_reader(reader)?),
            42 => Message::AddAgentVersion(BorshDeserialize::deserialize_reader(reader)?),
            43 => Message::RetireAgentVersion(BorshDeserialize::deserialize_reader(reader)?),
            44 => Message::TransferAgent(BorshDeserialize::deserialize_reader(reader)?),
            45 => Message::ListAgent(BorshDeserialize::deserialize_reader(reader)?),
            46 => Message::DelistAgent(BorshDeserialize::deserialize_reader(reader)?),
            47 => Message::BuyAgent(BorshDeserialize::deserialize_reader(reader)?),
            48 => Message::SetLicenceTerms(BorshDeserialize::deserialize_reader(reader)?),
            49 => Message::TakeLicence(BorshDeserialize::deserialize_reader(reader)?),
            50 => Message::InvokeAgent(BorshDeserialize::deserialize_reader(reader)?),
            51 => Message::RateInvocation(BorshDeserialize::deserialize_reader(reader)?),
            52 => Message::AttestNode(BorshDeserialize::deserialize_reader(reader)?),
            53 => Message::GrantTaskKey(BorshDeserialize::deserialize_reader(reader)?),
            54 => Message::NameReferrer(BorshDeserialize::deserialize_reader(reader)?),
            unknown => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    UnknownTag(unknown),
                ))
            }
        })
    }
}

/// What the sender signs.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TxBody {
    /// The chain this transaction is for; any other chain rejects it.
    pub chain_id: String,
    /// The signer and payer.
    pub sender: AccountId,
    /// The sender's next nonce: 0 for its first transaction, then 1, 2, ...
    pub nonce: u64,
    /// Fee in USD base units, paid to the treasury.
    pub fee: Amount,
    /// Executed in order; all or nothing.
    pub messages: Vec<Message>,
}

impl TxBody {
    /// The exact bytes the signature covers.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = SIGN_DOMAIN.to_vec();
        BorshSerialize::serialize(self, &mut bytes).expect("borsh encoding into a Vec cannot fail");
        bytes
    }

    /// Signs this body with `key`. The key must be the sender's for the result to verify.
    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.sign_bytes()).to_bytes();
        SignedTransaction {
            body: self,
            signature,
        }
    }
}

/// A transaction with its signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// What was signed.
    pub body: TxBody,
    /// ed25519 signature over `body.sign_bytes()`.
    pub signature: [u8; 64],
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The sender bytes are not a usable ed25519 public key.
    #[error("sender is not a valid ed25519 public key")]
    InvalidSender,
    /// The signature does not verify.
    #[error("signature does not verify against the sender's key")]
    Mismatch,
    /// A result statement the transaction carries (in a `SubmitResult`) does not verify against
    /// the sender's key.
    #[error("a result statement's signature does not verify against the sender's key")]
    StatementMismatch,
}

impl SignedTransaction {
    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::codec::encode(self)
    }

    /// The transaction id: the hash of the canonical bytes.
    pub fn hash(&self) -> Hash {
        tx_hash(&self.to_bytes())
    }

    /// The sender rule, checked before any signature: the sender must decode to a curve point of
    /// more than small order (anyone can sign for a small-order key).
    pub fn check_sender(&self) -> Result<(), SignatureError> {
        if crate::ed25519::is_usable_key(&self.body.sender.0) {
            Ok(())
        } else {
            Err(SignatureError::InvalidSender)
        }
    }

    /// Every signature the transaction carries besides its own, each with the bytes it covers:
    /// the result statement of each `SubmitResult`, which the sender (the node) signs. They are
    /// checked with the transaction's, so that block execution checks none.
    pub fn statement_signatures(&self) -> Vec<(Vec<u8>, &[u8; 64])> {
        self.body
            .messages
            .iter()
            .filter_map(|message| match message {
                Message::SubmitResult(result) => Some((
                    result.statement(&self.body.chain_id).sign_bytes(),
                    &result.signature.0,
                )),
                _ => None,
            })
            .collect()
    }

    /// Verifies the sender rule, the signature, then each result statement's signature
    /// ([`SignedTransaction::statement_signatures`]), all under ZIP-215 ([`crate::ed25519`]).
    /// This one rule defines validity everywhere, and a batch check ([`verify_signatures`]) gives
    /// the same answers, so every node agrees however it checks.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.check_sender()?;
        let message = self.body.sign_bytes();
        let item = crate::ed25519::Item {
            public_key: &self.body.sender.0,
            message: &message,
            signature: &self.signature,
        };
        if !crate::ed25519::verify(&item) {
            return Err(SignatureError::Mismatch);
        }
        for (message, signature) in self.statement_signatures() {
            let item = crate::ed25519::Item {
                public_key: &self.body.sender.0,
                message: &message,
                signature,
            };
            if !crate::ed25519::verify(&item) {
                return Err(SignatureError::StatementMismatch);
            }
        }
        Ok(())
    }
}

/// [`SignedTransaction::verify_signature`] for many transactions: the sender rule on each, then
/// ZIP-215 in batches of `batch` (transactions' and result statements' signatures together), one
/// by one only inside a batch that fails. The same answers as checking each alone.
pub fn verify_signatures(
    transactions: &[&SignedTransaction],
    batch: usize,
) -> Vec<Result<(), SignatureError>> {
    verify_signatures_with(transactions, batch, &crate::ed25519::KeyCache::new(0))
}

/// [`verify_signatures`] with the senders' keys decoded through `keys`: the same answers (a
/// remembered point is the point decoding gives), without decoding a known sender again.
pub fn verify_signatures_with(
    transactions: &[&SignedTransaction],
    batch: usize,
    keys: &crate::ed25519::KeyCache,
) -> Vec<Result<(), SignatureError>> {
    let senders: Vec<&[u8; 32]> = transactions.iter().map(|tx| &tx.body.sender.0).collect();
    let points = keys.decode(&senders);
    let mut results: Vec<Result<(), SignatureError>> = points
        .iter()
        .map(|point| {
            if crate::ed25519::is_usable_point(*point) {
                Ok(())
            } else {
                Err(SignatureError::InvalidSender)
            }
        })
        .collect();
    // (transaction, what a failure means, signed bytes, signature), statements after their
    // transaction's own signature.
    let mut checked: Vec<(usize, SignatureError, Vec<u8>, &[u8; 64])> = Vec::new();
    for (index, tx) in transactions.iter().enumerate() {
        if results[index].is_err() {
            continue;
        }
        checked.push((
            index,
            SignatureError::Mismatch,
            tx.body.sign_bytes(),
            &tx.signature,
        ));
        for (message, signature) in tx.statement_signatures() {
            checked.push((index, SignatureError::StatementMismatch, message, signature));
        }
    }
    let items: Vec<crate::ed25519::Item<'_>> = checked
        .iter()
        .map(|(index, _, message, signature)| crate::ed25519::Item {
            public_key: &transactions[*index].body.sender.0,
            message,
            signature,
        })
        .collect();
    let item_keys: Vec<_> = checked.iter().map(|(index, ..)| points[*index]).collect();
    for ((index, failure, ..), valid) in checked
        .iter()
        .zip(crate::ed25519::verify_each_with(&items, &item_keys, batch))
    {
        // The first failure in the single check's order is the one it reports.
        if !valid && results[*index].is_ok() {
            results[*index] = Err(failure.clone());
        }
    }
    results
}

/// The id of a transaction given its canonical bytes.
pub fn tx_hash(bytes: &[u8]) -> Hash {
    Hash::of(Domain::Transaction, &[bytes])
}

/// Why transaction bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxDecodeError {
    /// Not a transaction at all.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// A well-formed envelope carrying a message type this node does not know.
    #[error("unknown message type {0}")]
    UnknownMessage(u8),
}

/// Decodes canonical transaction bytes, rejecting trailing bytes.
pub fn decode_transaction(bytes: &[u8]) -> Result<SignedTransaction, TxDecodeError> {
    let mut reader = bytes;
    let transaction = SignedTransaction::deserialize_reader(&mut reader).map_err(|error| {
        match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<UnknownTag>())
        {
            Some(UnknownTag(tag)) => TxDecodeError::UnknownMessage(*tag),
            None => TxDecodeError::Malformed(error.to_string()),
        }
    })?;
    if !reader.is_empty() {
        return Err(TxDecodeError::Malformed(format!(
            "{} trailing bytes",
            reader.len()
        )));
    }
    Ok(transaction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body(sender: &SigningKey, messages: Vec<Message>) -> TxBody {
        TxBody {
            chain_id: "vcity-test".into(),
            sender: AccountId::from_public_key(&sender.verifying_key()),
            nonce: 3,
            fee: Amount::new(1_000),
            messages,
        }
    }

    fn transfer(amount: u128) -> Message {
        Message::Transfer(Transfer {
            to: AccountId([9; 32]),
            denom: Denom::Usd,
            amount: Amount::new(amount),
        })
    }

    #[test]
    fn signed_transaction_round_trips_and_verifies() {
        let signer = key(1);
        let tx = body(&signer, vec![transfer(5)]).sign(&signer);
        let decoded = decode_transaction(&tx.to_bytes()).expect("decodes");
        assert_eq!(decoded, tx);
        assert_eq!(decoded.verify_signature(), Ok(()));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let signer = key(1);
        let mut tx = body(&signer, vec![transfer(5)]).sign(&signer);
        tx.body.nonce = 4;
        assert_eq!(tx.verify_signature(), Err(SignatureError::Mismatch));
        let other = key(2);
        let forged = body(&signer, vec![transfer(5)]).sign(&other);
        assert_eq!(forged.verify_signature(), Err(SignatureError::Mismatch));
    }

    #[test]
    fn batched_checks_give_each_transaction_its_own_answer() {
        let mut transactions: Vec<SignedTransaction> = (1..=70u8)
            .map(|seed| {
                let signer = key(seed);
                body(&signer, vec![transfer(u128::from(seed))]).sign(&signer)
            })
            .collect();
        transactions[5].signature[3] ^= 1;
        transactions[66].body.nonce += 1;
        // A small-order sender (the identity point) with a signature that verifies under ZIP-215
        // for any message: refused by the sender rule, alone and in a batch.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        transactions[30].body.sender = AccountId(identity);
        transactions[30].signature = [0; 64];
        let references: Vec<&SignedTransaction> = transactions.iter().collect();
        let batched = verify_signatures(&references, 64);
        let single: Vec<Result<(), SignatureError>> = transactions
            .iter()
            .map(SignedTransaction::verify_signature)
            .collect();
        assert_eq!(batched, single);
        let refused: Vec<usize> = (0..batched.len())
            .filter(|i| batched[*i].is_err())
            .collect();
        assert_eq!(refused, [5, 30, 66]);
        assert_eq!(batched[30], Err(SignatureError::InvalidSender));
        // Through a key cache, cold, warm, and one so small it keeps starting over.
        for capacity in [1_000, 3] {
            let keys = crate::ed25519::KeyCache::new(capacity);
            for _ in 0..2 {
                assert_eq!(verify_signatures_with(&references, 64, &keys), single);
            }
        }
    }

    fn result(signer: &SigningKey, attempt: u32, statement_attempt: u32) -> Message {
        let commitment = crate::compute::ResultCommitment {
            exit: crate::compute::TaskExit::Success,
            output: Hash::of(Domain::Content, &[b"out"]),
            output_bytes: 3,
            cu_used_ppm: 1_000,
        };
        let mut result = crate::compute::SubmitResult::signed(
            "vcity-test",
            signer,
            7,
            2,
            statement_attempt,
            commitment,
        );
        // The message may name another attempt than the one signed.
        result.attempt = attempt;
        Message::SubmitResult(result)
    }

    #[test]
    fn a_result_statement_is_checked_with_its_transaction_alone_and_in_batches() {
        let node = key(4);
        let good = body(&node, vec![transfer(1), result(&node, 2, 2)]).sign(&node);
        assert_eq!(good.verify_signature(), Ok(()));
        // The statement of another attempt than the message names, one signed by another key,
        // and one whose commitment changed after signing: all refused before execution.
        let stale = body(&node, vec![result(&node, 3, 2)]).sign(&node);
        let borrowed = body(&node, vec![result(&key(5), 2, 2)]).sign(&node);
        let mut changed_result = result(&node, 2, 2);
        if let Message::SubmitResult(inner) = &mut changed_result {
            inner.commitment.cu_used_ppm += 1;
        }
        let changed = body(&node, vec![changed_result]).sign(&node);
        // A bad transaction signature is reported first, as the single check does.
        let mut both = body(&node, vec![result(&key(5), 2, 2)]).sign(&node);
        both.signature[0] ^= 1;
        let second_bad = body(&node, vec![result(&node, 2, 2), result(&node, 4, 3)]).sign(&node);
        let transactions = [good, stale, borrowed, changed, both, second_bad];
        let single: Vec<Result<(), SignatureError>> = transactions
            .iter()
            .map(SignedTransaction::verify_signature)
            .collect();
        let statement = Err(SignatureError::StatementMismatch);
        assert_eq!(
            single,
            [
                Ok(()),
                statement.clone(),
                statement.clone(),
                statement.clone(),
                Err(SignatureError::Mismatch),
                statement,
            ]
        );
        let references: Vec<&SignedTransaction> = transactions.iter().collect();
        for batch in [1, 2, 64] {
            assert_eq!(
                verify_signatures(&references, batch),
                single,
                "batch {batch}"
            );
        }
    }

    #[test]
    fn unknown_message_tag_is_reported_as_such() {
        let signer = key(1);
        let tx = body(&signer, vec![transfer(5)]).sign(&signer);
        let mut bytes = tx.to_bytes();
        // The message tag sits right after the 4-byte vector length that follows the fee.
        let position = 4 + "vcity-test".len() + 32 + 8 + 16 + 4;
        assert_eq!(bytes[position], 0);
        bytes[position] = 200;
        assert_eq!(
            decode_transaction(&bytes),
            Err(TxDecodeError::UnknownMessage(200))
        );
    }

    #[test]
    fn trailing_and_truncated_bytes_are_malformed() {
        let signer = key(1);
        let mut bytes = body(&signer, vec![]).sign(&signer).to_bytes();
        bytes.push(0);
        assert!(matches!(
            decode_transaction(&bytes),
            Err(TxDecodeError::Malformed(_))
        ));
        bytes.truncate(bytes.len() - 10);
        assert!(matches!(
            decode_transaction(&bytes),
            Err(TxDecodeError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn codec_round_trips(nonce in any::<u64>(), fee in any::<u128>(), amounts in proptest::collection::vec(any::<u128>(), 0..4)) {
            let signer = key(7);
            let mut body = body(&signer, amounts.into_iter().map(transfer).collect());
            body.nonce = nonce;
            body.fee = Amount::new(fee);
            let tx = body.sign(&signer);
            let bytes = tx.to_bytes();
            prop_assert_eq!(decode_transaction(&bytes), Ok(tx.clone()));
            prop_assert_eq!(crate::codec::encode(&decode_transaction(&bytes).expect("decodes")), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_transaction(&bytes);
        }
    }
}
