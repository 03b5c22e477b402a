//! The loop that answers Malachite's application messages with the consensus seam's
//! [`Application`]: proposals are built by `propose`, received ones are checked by `verify`
//! before this validator votes, decided ones are committed with their certificate, and peers
//! that sync are served decided blocks (with their certificates) from the node's store.
//!
//! Application calls execute blocks, so they run under `block_in_place`: the engine's actors
//! keep their threads. The loop is the only caller of the application on this validator, so
//! calls for one height arrive in the seam's order (propose/verify, then one commit).

use crate::context::{
    Address, Block, BlockId, Height, PrivateKey, Proposal, ProposalPart, PublicKey, Validator,
    ValidatorSet, VcityContext,
};
use crate::signing::{proposal_bytes, sign, verify};
use bytes::Bytes;
use malachite_app::types::core::{
    CommitCertificate, CommitSignature as EngineSignature, Context as _, Round, Validity,
};
use malachite_app::types::streaming::{StreamId, StreamMessage};
use malachite_app::types::sync::RawDecidedValue;
use malachite_app::types::{LocallyProposedValue, ProposedValue};
use malachite_app_channel::{AppMsg, Channels, NetworkMsg};
use malachite_engine::host::Next;
use malachite_engine::util::streaming::StreamContent;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vcity_consensus::{AppError, Application, Certificate, CommitSignature};

/// Proposals for heights ahead of ours kept until we reach them (a faster proposer's part can
/// arrive before our own commit of the height before it).
const MAX_PENDING_PARTS: usize = 64;
/// How many heights ahead a pending part may be.
const PENDING_HEIGHTS_AHEAD: u64 = 2;

/// What the loop needs besides the application.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// The chain (bound into every signature).
    pub chain_id: String,
    /// The least time between two blocks: a proposer waits this long after the previous commit
    /// before building its block, so an idle chain does not spin empty blocks.
    pub block_time: Duration,
}

/// Blocks seen for heights not yet decided, by id (own proposals and peers'), and parts that
/// arrived early.
#[derive(Default)]
struct Memory {
    seen: BTreeMap<(Height, BlockId), Block>,
    /// Our proposal per round: asked again for a round, we must not propose another block.
    own: BTreeMap<(Height, Round), Block>,
    pending: BTreeMap<(Height, Round), ProposalPart>,
}

impl Memory {
    fn forget_through(&mut self, height: Height) {
        self.seen.retain(|(seen, _), _| *seen > height);
        self.own.retain(|(own, _), _| *own > height);
        self.pending.retain(|(pending, _), _| *pending > height);
    }
}

/// The validator set of `application` at `height`.
pub fn validator_set(application: &dyn Application, height: u64) -> ValidatorSet {
    ValidatorSet::new(
        application
            .validators(height)
            .into_iter()
            .map(|validator| Validator {
                address: Address(validator.public_key),
                public_key: PublicKey(validator.public_key),
                power: validator.power,
            })
            .collect(),
    )
}

fn stream_id(height: Height, round: Round) -> StreamId {
    let mut bytes = height.0.to_be_bytes().to_vec();
    bytes.extend_from_slice(&round.as_i64().to_be_bytes());
    StreamId::new(Bytes::from(bytes))
}

/// Our certificate from Malachite's: the same precommit signatures, which sign
/// [`Certificate::sign_bytes`] (see [`crate::signing`]).
pub fn to_certificate(decided: &CommitCertificate<VcityContext>) -> Result<Certificate, AppError> {
    let round = u32::try_from(decided.round.as_i64())
        .map_err(|_| AppError::Fatal(format!("decided at round {}", decided.round)))?;
    let mut signatures: Vec<CommitSignature> = decided
        .commit_signatures
        .iter()
        .map(|commit| CommitSignature {
            validator: commit.address.0,
            signature: commit.signature.0,
        })
        .collect();
    signatures.sort_by_key(|signature| signature.validator);
    Ok(Certificate {
        height: decided.height.0,
        round,
        value_id: decided.value_id.0,
        signatures,
    })
}

/// Malachite's certificate from ours (to serve a stored block to a syncing peer).
pub fn from_certificate(certificate: &Certificate) -> CommitCertificate<VcityContext> {
    CommitCertificate {
        height: Height(certificate.height),
        round: Round::new(certificate.round),
        value_id: BlockId(certificate.value_id),
        commit_signatures: certificate
            .signatures
            .iter()
            .map(|signature| {
                EngineSignature::new(
                    Address(signature.validator),
                    crate::context::Signature(signature.signature),
                )
            })
            .collect(),
    }
}

fn fatal(error: AppError) -> eyre::Report {
    eyre::eyre!("{error}")
}

/// Answers `channels` until the engine stops or the application fails (an error: a validator
/// that cannot commit a decided block must stop, loudly).
pub async fn run(
    application: Arc<dyn Application>,
    key: PrivateKey,
    settings: AppSettings,
    mut channels: Channels<VcityContext>,
) -> eyre::Result<()> {
    let context = VcityContext;
    let mut memory = Memory::default();
    let mut last_decided = Instant::now();
    while let Some(message) = channels.consensus.recv().await {
        match message {
            AppMsg::ConsensusReady { reply } => {
                let next = application.committed_height() + 1;
                let set = validator_set(application.as_ref(), next);
                tracing::info!(
                    height = next,
                    validators = set.validators.len(),
                    "consensus ready"
                );
                let _ = reply.send((Height(next), set));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                // Proposals for this round that arrived before we reached its height.
                let mut values = Vec::new();
                if let Some(part) = memory.pending.remove(&(height, round)) {
                    let checked = tokio::task::block_in_place(|| {
                        check_part(&context, application.as_ref(), &settings.chain_id, &part)
                    });
                    if let Some(value) = checked {
                        memory
                            .seen
                            .insert((value.height, value.value.id), value.value.clone());
                        values.push(value);
                    }
                }
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let block = match memory.own.get(&(height, round)) {
                    Some(block) => block.clone(),
                    None => {
                        // Pace the chain: wait out the block time since the last block was
                        // decided (its commit here overlaps the wait), but leave half the
                        // engine's timeout to build and send the block.
                        let ready = last_decided + settings.block_time;
                        let latest = Instant::now() + timeout / 2;
                        tokio::time::sleep_until(ready.min(latest).into()).await;
                        let proposed =
                            tokio::task::block_in_place(|| application.propose(height.0))
                                .map_err(fatal)?;
                        Block {
                            id: BlockId(proposed.id),
                            bytes: proposed.bytes,
                        }
                    }
                };
                memory.own.insert((height, round), block.clone());
                memory.seen.insert((height, block.id), block.clone());
                let _ = reply.send(LocallyProposedValue::new(height, round, block.clone()));
                publish(
                    &channels,
                    &key,
                    &settings.chain_id,
                    height,
                    round,
                    Round::Nil,
                    block,
                )
                .await?;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtension { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                value_id,
                ..
            } => {
                if let Some(block) = memory.seen.get(&(height, value_id)).cloned() {
                    publish(
                        &channels,
                        &key,
                        &settings.chain_id,
                        height,
                        round,
                        valid_round,
                        block,
                    )
                    .await?;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                // The node keeps every block.
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { part, reply, .. } => {
                let StreamContent::Data(part) = part.content else {
                    let _ = reply.send(None);
                    continue;
                };
                let next = application.committed_height() + 1;
                let height = part.proposal.height.0;
                if height > next
                    && height <= next + PENDING_HEIGHTS_AHEAD
                    && memory.pending.len() < MAX_PENDING_PARTS
                {
                    memory
                        .pending
                        .insert((part.proposal.height, part.proposal.round), part);
                    let _ = reply.send(None);
                    continue;
                }
                let proposed = tokio::task::block_in_place(|| {
                    check_part(&context, application.as_ref(), &settings.chain_id, &part)
                });
                if let Some(value) = &proposed {
                    memory
                        .seen
                        .insert((value.height, value.value.id), value.value.clone());
                }
                let _ = reply.send(proposed);
            }
            AppMsg::GetValidatorSet { height, reply } => {
                let _ = reply.send(Some(validator_set(application.as_ref(), height.0)));
            }
            AppMsg::Decided {
                certificate: decided,
                reply,
                ..
            } => {
                let height = decided.height;
                let Some(block) = memory.seen.get(&(height, decided.value_id)).cloned() else {
                    eyre::bail!(
                        "decided block {} at height {height} was never seen",
                        decided.value_id
                    );
                };
                let certificate = to_certificate(&decided).map_err(fatal)?;
                last_decided = Instant::now();
                tokio::task::block_in_place(|| {
                    application.commit(height.0, &block.bytes, &certificate)
                })
                .map_err(fatal)?;
                memory.forget_through(height);
                let next = Height(height.0 + 1);
                let _ = reply.send(Next::Start(
                    next,
                    validator_set(application.as_ref(), next.0),
                ));
            }
            AppMsg::GetDecidedValue { height, reply } => {
                let value = tokio::task::block_in_place(|| application.decided(height.0))
                    .map_err(fatal)?
                    .map(|(bytes, certificate)| RawDecidedValue {
                        value_bytes: Bytes::from(bytes),
                        certificate: from_certificate(&certificate),
                    });
                let _ = reply.send(value);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                // A synced value is a block's bytes; its id is what the ledger computes, and the
                // engine checks the certificate that came with it against that id.
                let verdict =
                    tokio::task::block_in_place(|| application.verify(height.0, &value_bytes));
                let value = match verdict {
                    Ok(id) => Some((BlockId(id), Validity::Valid)),
                    Err(AppError::Invalid(reason)) => {
                        tracing::warn!(%height, %reason, "synced block is invalid");
                        None
                    }
                    Err(error) => return Err(fatal(error)),
                };
                let value = value.map(|(id, validity)| {
                    let block = Block {
                        id,
                        bytes: value_bytes.to_vec(),
                    };
                    memory.seen.insert((height, id), block.clone());
                    ProposedValue {
                        height,
                        round,
                        valid_round: Round::Nil,
                        proposer,
                        value: block,
                        validity,
                    }
                });
                let _ = reply.send(value);
            }
        }
    }
    Ok(())
}

/// The proposal for a received part, if the part is the round's proposer's and well signed; its
/// validity is the application's verdict. A part for a height other than the next one is
/// ignored (the caller keeps those a little ahead; behind, the height is decided).
fn check_part(
    context: &VcityContext,
    application: &dyn Application,
    chain_id: &str,
    part: &ProposalPart,
) -> Option<ProposedValue<VcityContext>> {
    let proposal = &part.proposal;
    if proposal.height.0 != application.committed_height() + 1 {
        return None;
    }
    let set = validator_set(application, proposal.height.0);
    if set.validators.is_empty() {
        return None;
    }
    let expected = context.select_proposer(&set, proposal.height, proposal.round);
    if expected.address != proposal.proposer
        || !verify(
            &expected.public_key,
            &proposal_bytes(chain_id, proposal),
            &part.signature,
        )
    {
        tracing::warn!(height = %proposal.height, round = %proposal.round, "proposal part not signed by the round's proposer");
        return None;
    }
    let validity = match application.verify(proposal.height.0, &proposal.value.bytes) {
        Ok(id) if id == proposal.value.id.0 => Validity::Valid,
        Ok(_) => {
            tracing::warn!(height = %proposal.height, "proposal names a block id other than its block's");
            Validity::Invalid
        }
        Err(reason) => {
            tracing::warn!(height = %proposal.height, round = %proposal.round, %reason, "rejected a proposal");
            Validity::Invalid
        }
    };
    Some(ProposedValue {
        height: proposal.height,
        round: proposal.round,
        valid_round: proposal.pol_round,
        proposer: proposal.proposer,
        value: proposal.value.clone(),
        validity,
    })
}

/// Streams a signed proposal as one part, then the end of the stream.
async fn publish(
    channels: &Channels<VcityContext>,
    key: &PrivateKey,
    chain_id: &str,
    height: Height,
    round: Round,
    pol_round: Round,
    block: Block,
) -> eyre::Result<()> {
    let proposer = Address(key.0.verifying_key().to_bytes());
    let proposal = Proposal {
        height,
        round,
        value: block,
        pol_round,
        proposer,
    };
    let signature = sign(key, &proposal_bytes(chain_id, &proposal));
    let id = stream_id(height, round);
    let part = ProposalPart {
        proposal,
        signature,
    };
    for (sequence, content) in [(0, StreamContent::Data(part)), (1, StreamContent::Fin)] {
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                id.clone(),
                sequence,
                content,
            )))
            .await
            .map_err(|_| eyre::eyre!("the network actor stopped"))?;
    }
    Ok(())
}
