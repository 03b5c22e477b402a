//! Consensus: the seam between an engine that orders opaque values and the application that
//! gives them meaning, plus the solo engine (whitepaper §2.3; DEVELOPERS.md principle 7).
//!
//! The engine knows nothing of the ledger: it asks the [`Application`] for a value to propose,
//! asks it whether a value is valid, and tells it which value was decided at each height, with a
//! [`Certificate`] of validator signatures. The seam follows the shape of Malachite's app
//! channel (`GetValue` → [`Application::propose`], `ReceivedProposalPart` →
//! [`Application::verify`], `Decided` → [`Application::commit`], `GetDecidedValue` →
//! [`Application::decided`], `GetValidatorSet` → [`Application::validators`]), so a BFT engine
//! plugs in beside [`solo::SoloEngine`] without touching the application.
//!
//! The solo engine is the embedded default: one validator that holds all the voting power
//! proposes, verifies and commits a block every `block_time`.

mod certificate;
pub mod solo;

pub use certificate::{Certificate, CertificateError, CommitSignature, ValidatorInfo};

/// A value's id: what validators sign. For Vcity it is the block header hash.
pub type ValueId = [u8; 32];

/// A value the application built for a height.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedValue {
    /// Its id.
    pub id: ValueId,
    /// Its bytes, opaque to the engine.
    pub bytes: Vec<u8>,
}

/// How an application call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The value is invalid; an honest validator votes against it.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The application cannot go on (storage failure, broken invariant); the engine must stop.
    #[error("application failure: {0}")]
    Fatal(String),
}

/// The application side of the seam. Calls for one height come in order: any number of
/// `propose`/`verify`, then exactly one `commit`.
pub trait Application: Send + Sync {
    /// The last committed height (0 before the first block).
    fn committed_height(&self) -> u64;

    /// The certificate that committed the last block (none at height 0).
    fn last_certificate(&self) -> Option<Certificate>;

    /// Builds the value to propose at `height` (reaps the mempool, pre-executes). Asked again for
    /// the same height after a failed round, it may return the same value.
    fn propose(&self, height: u64) -> Result<ProposedValue, AppError>;

    /// Checks a value proposed at `height`, returning its id.
    fn verify(&self, height: u64, value: &[u8]) -> Result<ValueId, AppError>;

    /// Commits the decided value at `height`, storing the certificate beside it.
    fn commit(&self, height: u64, value: &[u8], certificate: &Certificate) -> Result<(), AppError>;

    /// The decided value and certificate at `height`, for peers that sync.
    fn decided(&self, height: u64) -> Result<Option<(Vec<u8>, Certificate)>, AppError>;

    /// The validator set that decides `height`.
    fn validators(&self, height: u64) -> Vec<ValidatorInfo>;
}
