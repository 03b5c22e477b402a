//! A validator: Malachite's engine (libp2p gossip over TCP, write-ahead log, value sync,
//! consensus) started over one validator key and home directory, with [`crate::app::run`]
//! answering it.

use crate::app::AppSettings;
use crate::codec::BorshCodec;
use crate::context::{Address, Height, PrivateKey, PublicKey, VcityContext};
use crate::signing::Ed25519Provider;
use malachite_app::config::{
    ConsensusConfig, P2pConfig, TimeoutConfig, ValuePayload, ValueSyncConfig,
};
use malachite_app::node::{EngineHandle, Node, NodeConfig, NodeHandle};
use malachite_app::types::Keypair;
use malachite_engine::util::events::{RxEvent, TxEvent};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vcity_consensus::Application;

/// How to run one validator.
#[derive(Clone, Debug)]
pub struct ValidatorOptions {
    /// Where the engine keeps its write-ahead log (`<home>/wal`).
    pub home: PathBuf,
    /// A name for logs.
    pub moniker: String,
    /// The validator key's 32-byte ed25519 seed (also the libp2p identity).
    pub seed: [u8; 32],
    /// The chain (bound into every signature).
    pub chain_id: String,
    /// The consensus gossip listen address (TCP).
    pub listen: SocketAddr,
    /// The other validators' gossip addresses.
    pub peers: Vec<SocketAddr>,
    /// The least time between blocks.
    pub block_time: Duration,
    /// How long a validator waits for a round's proposal before voting nil; the proposer waits
    /// out `block_time` first, so this must exceed it.
    pub timeout_propose: Duration,
    /// How long after two thirds of prevotes/precommits for anything before moving on.
    pub timeout_vote: Duration,
    /// The largest block (a proposal is gossiped whole).
    pub max_block_bytes: u64,
}

impl ValidatorOptions {
    /// Checks what the engine would otherwise misbehave on.
    pub fn check(&self) -> eyre::Result<()> {
        if self.timeout_propose <= self.block_time {
            eyre::bail!(
                "timeout_propose ({:?}) must exceed block_time ({:?}): the proposer waits out the block time before proposing",
                self.timeout_propose,
                self.block_time
            );
        }
        if self.peers.contains(&self.listen) {
            eyre::bail!(
                "the validator lists its own address {} as a peer",
                self.listen
            );
        }
        Ok(())
    }

    fn engine_config(&self) -> eyre::Result<EngineConfig> {
        let multiaddr = |address: &SocketAddr| {
            format!("/ip4/{}/tcp/{}", address.ip(), address.port())
                .parse()
                .map_err(|error| eyre::eyre!("address {address}: {error}"))
        };
        let message_bytes = self.max_block_bytes.saturating_mul(2).max(4 << 20);
        let p2p = P2pConfig {
            listen_addr: multiaddr(&self.listen)?,
            persistent_peers: self
                .peers
                .iter()
                .map(multiaddr)
                .collect::<eyre::Result<_>>()?,
            pubsub_max_size: bytesize(message_bytes),
            rpc_max_size: bytesize(message_bytes),
            ..P2pConfig::default()
        };
        let timeouts = TimeoutConfig {
            timeout_propose: self.timeout_propose,
            timeout_prevote: self.timeout_vote,
            timeout_precommit: self.timeout_vote,
            timeout_rebroadcast: self.timeout_propose + self.timeout_vote * 2,
            ..TimeoutConfig::default()
        };
        Ok(EngineConfig {
            moniker: self.moniker.clone(),
            consensus: ConsensusConfig {
                timeouts,
                p2p,
                value_payload: ValuePayload::PartsOnly,
                queue_capacity: 0,
            },
            value_sync: ValueSyncConfig {
                enabled: true,
                status_update_interval: Duration::from_secs(1),
                request_timeout: Duration::from_secs(5),
                ..ValueSyncConfig::default()
            },
        })
    }
}

fn bytesize(bytes: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::b(bytes)
}

/// The settings Malachite reads.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
}

/// The key "file" Malachite loads: the seed, already read by the caller.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Seed([u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

/// Malachite's view of this validator.
#[derive(Clone)]
struct EngineNode {
    options: ValidatorOptions,
    config: EngineConfig,
    application: Arc<dyn Application>,
}

/// A running validator.
pub struct RunningValidator {
    engine: EngineHandle,
    app: tokio::task::JoinHandle<eyre::Result<()>>,
    events: TxEvent<VcityContext>,
}

impl std::fmt::Debug for RunningValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningValidator").finish_non_exhaustive()
    }
}

impl RunningValidator {
    /// Engine events (rounds, votes, decisions), for tests and metrics.
    pub fn subscribe(&self) -> RxEvent<VcityContext> {
        self.events.subscribe()
    }

    /// Resolves when the application loop ends: an error when the application failed (the
    /// validator must stop), `Ok` when the engine closed the channel.
    pub async fn stopped(&mut self) -> eyre::Result<()> {
        (&mut self.app).await?
    }

    /// Stops the engine and the loop.
    pub async fn stop(self) -> eyre::Result<()> {
        self.kill(None).await
    }
}

#[async_trait::async_trait]
impl NodeHandle<VcityContext> for RunningValidator {
    fn subscribe(&self) -> RxEvent<VcityContext> {
        self.events.subscribe()
    }

    async fn kill(&self, _reason: Option<String>) -> eyre::Result<()> {
        self.engine.actor.kill_and_wait(None).await?;
        self.app.abort();
        self.engine.handle.abort();
        Ok(())
    }
}

#[async_trait::async_trait]
impl Node for EngineNode {
    type Context = VcityContext;
    type Config = EngineConfig;
    type Genesis = ();
    type PrivateKeyFile = Seed;
    type SigningProvider = Ed25519Provider;
    type NodeHandle = RunningValidator;

    /// Starts the engine resuming after the application's last committed height (its
    /// write-ahead log in `home` replays an interrupted height, so a restarted validator never
    /// signs two different votes for one round) and the loop answering it.
    async fn start(&self) -> eyre::Result<RunningValidator> {
        let key = self.load_private_key(self.load_private_key_file()?);
        let address = self.get_address(&self.get_public_key(&key));
        let next = self.application.committed_height() + 1;
        let set = crate::app::validator_set(self.application.as_ref(), next);
        if set
            .validators
            .iter()
            .all(|validator| validator.address != address)
        {
            // A follower: it receives, verifies and commits every block but does not vote;
            // the engine reads the set again at each height, so once a proposal adds this key
            // it votes from the next height on (docs/governance.md).
            tracing::info!(
                height = next,
                "this key is not in the validator set: following until a proposal adds it"
            );
        }
        let (channels, engine) = malachite_app_channel::start_engine(
            VcityContext,
            self.clone(),
            self.config.clone(),
            BorshCodec,
            BorshCodec,
            Some(Height(next)),
            set,
        )
        .await?;
        let events = channels.events.clone();
        let settings = AppSettings {
            chain_id: self.options.chain_id.clone(),
            block_time: self.options.block_time,
        };
        let app = tokio::spawn(crate::app::run(
            self.application.clone(),
            key,
            settings,
            channels,
        ));
        Ok(RunningValidator {
            engine,
            app,
            events,
        })
    }

    async fn run(self) -> eyre::Result<()> {
        self.start().await?.stopped().await
    }

    fn get_home_dir(&self) -> PathBuf {
        self.options.home.clone()
    }

    fn load_config(&self) -> eyre::Result<EngineConfig> {
        Ok(self.config.clone())
    }

    fn get_address(&self, public_key: &PublicKey) -> Address {
        Address(public_key.0)
    }

    fn get_public_key(&self, key: &PrivateKey) -> PublicKey {
        PublicKey(key.0.verifying_key().to_bytes())
    }

    fn get_keypair(&self, key: PrivateKey) -> Keypair {
        // The libp2p identity is the validator key itself.
        Keypair::ed25519_from_bytes(key.0.to_bytes()).expect("a 32-byte ed25519 seed")
    }

    fn load_private_key(&self, file: Seed) -> PrivateKey {
        PrivateKey(ed25519_dalek::SigningKey::from_bytes(&file.0))
    }

    fn load_private_key_file(&self) -> eyre::Result<Seed> {
        Ok(Seed(self.options.seed))
    }

    fn load_genesis(&self) -> eyre::Result<()> {
        Ok(())
    }

    fn get_signing_provider(&self, key: PrivateKey) -> Ed25519Provider {
        Ed25519Provider::new(key, self.options.chain_id.clone())
    }
}

/// Starts a validator driving `application` (see [`Node::start`]).
pub async fn start(
    application: Arc<dyn Application>,
    options: ValidatorOptions,
) -> eyre::Result<RunningValidator> {
    options.check()?;
    std::fs::create_dir_all(&options.home)?;
    EngineNode {
        config: options.engine_config()?,
        options,
        application,
    }
    .start()
    .await
}
