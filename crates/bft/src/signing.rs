//! Signing and verifying votes, proposals and proposal parts with the validator's ed25519 key.
//!
//! A precommit for a block signs exactly the commit certificate's bytes
//! ([`vcity_consensus::Certificate::sign_bytes`]: chain id, height, round, block id), so the
//! quorum of precommits Malachite collects is the certificate the node stores and serves, and
//! anyone checks it with the same code as the solo engine's. Every other message signs
//! `domain ‖ chain id ‖ borsh(message)` under its own domain, so a signature for one kind or one
//! chain can never be replayed as another.

use crate::context::{
    PrivateKey, Proposal, ProposalPart, PublicKey, Signature, VcityContext, Vote,
};
use ed25519_dalek::{Signer, Verifier};
use malachite_core_types::{NilOrVal, SignedMessage, SigningProvider, VoteType};
use vcity_consensus::Certificate;

fn tagged(domain: &[u8], chain_id: &str, message: &impl borsh::BorshSerialize) -> Vec<u8> {
    let mut bytes = domain.to_vec();
    borsh::to_writer(&mut bytes, chain_id).expect("encoding into memory cannot fail");
    borsh::to_writer(&mut bytes, message).expect("encoding into memory cannot fail");
    bytes
}

/// What a proposer signs for a proposal (also carried in its one proposal part).
pub fn proposal_bytes(chain_id: &str, proposal: &Proposal) -> Vec<u8> {
    tagged(b"vcity-bft/proposal\0", chain_id, proposal)
}

/// What a validator signs for a vote.
pub fn vote_bytes(chain_id: &str, vote: &Vote) -> Vec<u8> {
    match (
        &vote.vote_type,
        &vote.value,
        u32::try_from(vote.round.as_i64()),
    ) {
        (VoteType::Precommit, NilOrVal::Val(id), Ok(round)) => {
            Certificate::sign_bytes(chain_id, vote.height.0, round, &id.0)
        }
        _ => tagged(b"vcity-bft/vote\0", chain_id, vote),
    }
}

fn extension_bytes(chain_id: &str, extension: &Vec<u8>) -> Vec<u8> {
    tagged(b"vcity-bft/extension\0", chain_id, extension)
}

/// Signs `bytes`.
pub fn sign(key: &PrivateKey, bytes: &[u8]) -> Signature {
    Signature(key.0.sign(bytes).to_bytes())
}

/// Checks `signature` over `bytes` by `public_key`.
pub fn verify(public_key: &PublicKey, bytes: &[u8], signature: &Signature) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(&public_key.0)
        .and_then(|key| key.verify(bytes, &ed25519_dalek::Signature::from_bytes(&signature.0)))
        .is_ok()
}

/// The validator's signing provider.
#[derive(Debug)]
pub struct Ed25519Provider {
    key: PrivateKey,
    chain_id: String,
}

impl Ed25519Provider {
    /// A provider signing with `key` for `chain_id`.
    pub fn new(key: PrivateKey, chain_id: String) -> Ed25519Provider {
        Ed25519Provider { key, chain_id }
    }
}

impl SigningProvider<VcityContext> for Ed25519Provider {
    fn sign_vote(&self, vote: Vote) -> SignedMessage<VcityContext, Vote> {
        let signature = sign(&self.key, &vote_bytes(&self.chain_id, &vote));
        SignedMessage::new(vote, signature)
    }

    fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> bool {
        verify(public_key, &vote_bytes(&self.chain_id, vote), signature)
    }

    fn sign_proposal(&self, proposal: Proposal) -> SignedMessage<VcityContext, Proposal> {
        let signature = sign(&self.key, &proposal_bytes(&self.chain_id, &proposal));
        SignedMessage::new(proposal, signature)
    }

    fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> bool {
        verify(
            public_key,
            &proposal_bytes(&self.chain_id, proposal),
            signature,
        )
    }

    fn sign_proposal_part(&self, part: ProposalPart) -> SignedMessage<VcityContext, ProposalPart> {
        let signature = part.signature;
        SignedMessage::new(part, signature)
    }

    fn verify_signed_proposal_part(
        &self,
        part: &ProposalPart,
        _signature: &Signature,
        public_key: &PublicKey,
    ) -> bool {
        verify(
            public_key,
            &proposal_bytes(&self.chain_id, &part.proposal),
            &part.signature,
        )
    }

    fn sign_vote_extension(&self, extension: Vec<u8>) -> SignedMessage<VcityContext, Vec<u8>> {
        let signature = sign(&self.key, &extension_bytes(&self.chain_id, &extension));
        SignedMessage::new(extension, signature)
    }

    fn verify_signed_vote_extension(
        &self,
        extension: &Vec<u8>,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> bool {
        verify(
            public_key,
            &extension_bytes(&self.chain_id, extension),
            signature,
        )
    }
}
