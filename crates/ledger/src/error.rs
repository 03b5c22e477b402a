//! Why a transaction was refused or failed. Each variant has a stable numeric code and name,
//! carried in receipts and API errors; docs/protocol.md has the same table. Codes are never
//! renumbered or reused.

use vcity_types::{AccountId, Amount, Denom};

/// A transaction rejection: an expected, deterministic outcome, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// Code 1.
    #[error("transaction is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Bytes received.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// Code 2.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// Code 3.
    #[error("unknown message type {0}")]
    UnknownMessage(u8),
    /// Code 4.
    #[error("wrong chain id: transaction is for {got:?}, this chain is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// In the transaction.
        got: String,
    },
    /// Code 5.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// Code 6.
    #[error("nonce {got} was already used (replay); the next nonce is {expected}")]
    NonceReplayed {
        /// The next nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
    },
    /// Code 7.
    #[error("nonce {got} leaves a gap; the next nonce is {expected}")]
    NonceGap {
        /// The next nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
    },
    /// Code 8.
    #[error("fee {got} is below the minimum of {min} usd base units")]
    FeeTooLow {
        /// Minimum.
        min: Amount,
        /// Offered.
        got: Amount,
    },
    /// Code 9.
    #[error(
        "insufficient funds: account {account} has {available} {denom} base units, needs {needed}"
    )]
    InsufficientFunds {
        /// The account.
        account: AccountId,
        /// Denomination.
        denom: Denom,
        /// Balance.
        available: Amount,
        /// Required.
        needed: Amount,
    },
    /// Code 10.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Code 11.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// Code 12.
    #[error("transaction has {count} messages, more than the limit of {max}")]
    TooManyMessages {
        /// Messages.
        count: u64,
        /// Limit.
        max: u64,
    },
    /// Code 13.
    #[error("transaction has no messages")]
    EmptyTransaction,
    /// Code 14.
    #[error("arithmetic overflow")]
    Overflow,
    /// Code 15.
    #[error("not found: {0}")]
    NotFound(String),
    /// Code 16.
    #[error("nothing to claim: {0}")]
    NothingToClaim(String),
    /// Code 17.
    #[error("invalid lock: {0}")]
    InvalidLock(String),
    /// Code 18.
    #[error("slippage: {0}")]
    Slippage(String),
    /// Code 19.
    #[error("insufficient liquidity: {0}")]
    InsufficientLiquidity(String),
    /// Code 23.
    #[error("invalid node: {0}")]
    InvalidNode(String),
    /// Code 24.
    #[error("stake {stake} VCAI base units is below the requirement of {required}")]
    StakeBelowRequirement {
        /// Bonded stake.
        stake: Amount,
        /// Required.
        required: Amount,
    },
    /// Code 25.
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// Code 26: a governance parameter change that cannot work.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// Code 27: a check, challenge, vote, commitment or appeal after its window.
    #[error("window closed: {0}")]
    WindowClosed(String),
    /// Code 28: something that may happen once happened already (a second challenge, vote,
    /// verdict or appeal).
    #[error("already done: {0}")]
    Duplicate(String),
    /// Code 29: a verifier or referee the beacon did not draw for this duty.
    #[error("not drawn: {0}")]
    NotDrawn(String),
    /// Code 30: evidence that proves nothing (a commitment that agrees, mismatched statements, a
    /// bad signature inside a proof, the wrong number of roots).
    #[error("invalid evidence: {0}")]
    InvalidEvidence(String),
    /// Code 31: a DID banned for a severe offence.
    #[error("banned: {0}")]
    Banned(String),
    /// Code 32: a message to a module governance has paused.
    #[error("paused: {0}")]
    Paused(String),
    /// Code 33: a proposal, comment or action that cannot work (text too long, too many actions
    /// or open proposals, a bad payment or validator entry).
    #[error("invalid proposal: {0}")]
    InvalidProposal(String),
    /// Code 34: a strategic issuance without an available quota or over the year's 5% cap.
    #[error("quota exhausted: {0}")]
    QuotaExhausted(String),
    /// Code 35: a proposer below the threshold, or a voter without weight at the snapshot.
    #[error("no voting weight: {0}")]
    NoVotingWeight(String),
    /// Code 36: executing a proposal that did not pass, before its timelock ends or after it
    /// expired.
    #[error("not executable: {0}")]
    NotExecutable(String),
    /// Code 37: an agent mint, version, listing or terms that cannot work (bad metadata, a
    /// royalty over the cap, an executor the network cannot run).
    #[error("invalid agent: {0}")]
    InvalidAgent(String),
    /// Code 38: an agent call by someone with neither a valid licence nor a call fee the agent
    /// accepts, or a licence that cannot be sold now (an exclusive one is running).
    #[error("no licence: {0}")]
    NoLicence(String),
    /// Code 20.
    #[error("mempool is full ({capacity} transactions); retry later")]
    MempoolFull {
        /// Capacity.
        capacity: u64,
    },
    /// Code 21.
    #[error("sender already has {limit} transactions waiting; retry after some commit")]
    SenderQuotaFull {
        /// Per-sender limit.
        limit: u64,
    },
    /// Code 22.
    #[error("transaction is already in the mempool")]
    AlreadyKnown,
    /// Code 39.
    #[error("attestation evidence refused: {0}")]
    AttestationRefused(String),
}

impl TxError {
    /// The stable numeric code.
    pub fn code(&self) -> u32 {
        match self {
            TxError::TooLarge { .. } => 1,
            TxError::Malformed(_) => 2,
            TxError::UnknownMessage(_) => 3,
            TxError::WrongChain { .. } => 4,
            TxError::BadSignature(_) => 5,
            TxError::NonceReplayed { .. } => 6,
            TxError::NonceGap { .. } => 7,
            TxError::FeeTooLow { .. } => 8,
            TxError::InsufficientFunds { .. } => 9,
            TxError::Unauthorized(_) => 10,
            TxError::InvalidAmount(_) => 11,
            TxError::TooManyMessages { .. } => 12,
            TxError::EmptyTransaction => 13,
            TxError::Overflow => 14,
            TxError::NotFound(_) => 15,
            TxError::NothingToClaim(_) => 16,
            TxError::InvalidLock(_) => 17,
            TxError::Slippage(_) => 18,
            TxError::InsufficientLiquidity(_) => 19,
            TxError::InvalidNode(_) => 23,
            TxError::StakeBelowRequirement { .. } => 24,
            TxError::InvalidJob(_) => 25,
            TxError::InvalidParam(_) => 26,
            TxError::WindowClosed(_) => 27,
            TxError::Duplicate(_) => 28,
            TxError::NotDrawn(_) => 29,
            TxError::InvalidEvidence(_) => 30,
            TxError::Banned(_) => 31,
            TxError::Paused(_) => 32,
            TxError::InvalidProposal(_) => 33,
            TxError::QuotaExhausted(_) => 34,
            TxError::NoVotingWeight(_) => 35,
            TxError::NotExecutable(_) => 36,
            TxError::InvalidAgent(_) => 37,
            TxError::NoLicence(_) => 38,
            TxError::AttestationRefused(_) => 39,
            TxError::MempoolFull { .. } => 20,
            TxError::SenderQuotaFull { .. } => 21,
            TxError::AlreadyKnown => 22,
        }
    }

    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            TxError::TooLarge { .. } => "too_large",
            TxError::Malformed(_) => "malformed",
            TxError::UnknownMessage(_) => "unknown_message",
            TxError::WrongChain { .. } => "wrong_chain",
            TxError::BadSignature(_) => "bad_signature",
            TxError::NonceReplayed { .. } => "nonce_replayed",
            TxError::NonceGap { .. } => "nonce_gap",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::InsufficientFunds { .. } => "insufficient_funds",
            TxError::Unauthorized(_) => "unauthorized",
            TxError::InvalidAmount(_) => "invalid_amount",
            TxError::TooManyMessages { .. } => "too_many_messages",
            TxError::EmptyTransaction => "empty_transaction",
            TxError::Overflow => "overflow",
            TxError::NotFound(_) => "not_found",
            TxError::NothingToClaim(_) => "nothing_to_claim",
            TxError::InvalidLock(_) => "invalid_lock",
            TxError::Slippage(_) => "slippage",
            TxError::InsufficientLiquidity(_) => "insufficient_liquidity",
            TxError::InvalidNode(_) => "invalid_node",
            TxError::StakeBelowRequirement { .. } => "stake_below_requirement",
            TxError::InvalidJob(_) => "invalid_job",
            TxError::InvalidParam(_) => "invalid_param",
            TxError::WindowClosed(_) => "window_closed",
            TxError::Duplicate(_) => "duplicate",
            TxError::NotDrawn(_) => "not_drawn",
            TxError::InvalidEvidence(_) => "invalid_evidence",
            TxError::Banned(_) => "banned",
            TxError::Paused(_) => "paused",
            TxError::InvalidProposal(_) => "invalid_proposal",
            TxError::QuotaExhausted(_) => "quota_exhausted",
            TxError::NoVotingWeight(_) => "no_voting_weight",
            TxError::NotExecutable(_) => "not_executable",
            TxError::InvalidAgent(_) => "invalid_agent",
            TxError::NoLicence(_) => "no_licence",
            TxError::AttestationRefused(_) => "attestation_refused",
            TxError::MempoolFull { .. } => "mempool_full",
            TxError::SenderQuotaFull { .. } => "sender_quota_full",
            TxError::AlreadyKnown => "already_known",
        }
    }

    /// True for refusals that say nothing about the transaction itself (capacity); a client
    /// may resubmit the same bytes later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TxError::MempoolFull { .. } | TxError::SenderQuotaFull { .. }
        )
    }
}

impl From<vcity_types::AmountError> for TxError {
    fn from(_: vcity_types::AmountError) -> TxError {
        TxError::Overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        let all = [
            TxError::TooLarge { size: 0, max: 0 },
            TxError::Malformed(String::new()),
            TxError::UnknownMessage(0),
            TxError::WrongChain {
                expected: String::new(),
                got: String::new(),
            },
            TxError::BadSignature(String::new()),
            TxError::NonceReplayed {
                expected: 0,
                got: 0,
            },
            TxError::NonceGap {
                expected: 0,
                got: 0,
            },
            TxError::FeeTooLow {
                min: Amount::ZERO,
                got: Amount::ZERO,
            },
            TxError::InsufficientFunds {
                account: AccountId::default(),
                denom: Denom::Usd,
                available: Amount::ZERO,
                needed: Amount::ZERO,
            },
            TxError::Unauthorized(String::new()),
            TxError::InvalidAmount(String::new()),
            TxError::TooManyMessages { count: 0, max: 0 },
            TxError::EmptyTransaction,
            TxError::Overflow,
            TxError::NotFound(String::new()),
            TxError::NothingToClaim(String::new()),
            TxError::InvalidLock(String::new()),
            TxError::Slippage(String::new()),
            TxError::InsufficientLiquidity(String::new()),
            TxError::InvalidNode(String::new()),
            TxError::StakeBelowRequirement {
                stake: Amount::ZERO,
                required: Amount::ZERO,
            },
            TxError::InvalidJob(String::new()),
            TxError::InvalidParam(String::new()),
            TxError::WindowClosed(String::new()),
            TxError::Duplicate(String::new()),
            TxError::NotDrawn(String::new()),
            TxError::InvalidEvidence(String::new()),
            TxError::Banned(String::new()),
            TxError::Paused(String::new()),
            TxError::InvalidProposal(String::new()),
            TxError::QuotaExhausted(String::new()),
            TxError::NoVotingWeight(String::new()),
            TxError::NotExecutable(String::new()),
            TxError::InvalidAgent(String::new()),
            TxError::NoLicence(String::new()),
            TxError::MempoolFull { capacity: 0 },
            TxError::SenderQuotaFull { limit: 0 },
            TxError::AlreadyKnown,
            TxError::AttestationRefused(String::new()),
        ];
        let codes: std::collections::BTreeSet<u32> = all.iter().map(TxError::code).collect();
        let names: std::collections::BTreeSet<&str> = all.iter().map(TxError::name).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(names.len(), all.len());
        assert!(!codes.contains(&0), "0 means success");
    }
}
