//! From a data directory to a running node.
//!
//! A data directory holds `genesis.json` (the chain it belongs to), `validator_key.json` (the
//! key the solo engine signs commit certificates with, or a BFT validator's key; mode 0600) and
//! `store.redb` (blocks,
//! receipts and state). Starting a node on a directory that already has a store resumes at its
//! last committed block; the store refuses a genesis other than the one it was created from.

use crate::mempool::MempoolConfig;
use crate::node::{Node, NodeOptions};
use anyhow::{bail, Context as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use vcity_consensus::solo::{SoloConfig, SoloEngine, SoloHandle};
use vcity_ledger::Genesis;
use vcity_types::keyfile::{read_key_file, KeyFile};
use vcity_types::AccountId;

/// The files of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The directory.
    pub root: PathBuf,
}

impl DataDir {
    /// The directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// `genesis.json`.
    pub fn genesis(&self) -> PathBuf {
        self.root.join("genesis.json")
    }

    /// `validator_key.json`.
    pub fn validator_key(&self) -> PathBuf {
        self.root.join("validator_key.json")
    }

    /// `store.redb`.
    pub fn store(&self) -> PathBuf {
        self.root.join("store.redb")
    }

    /// Reads and validates the genesis file.
    pub fn read_genesis(&self) -> anyhow::Result<Genesis> {
        let path = self.genesis();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading genesis {}", path.display()))?;
        let genesis = Genesis::from_json(&text)
            .with_context(|| format!("parsing genesis {}", path.display()))?;
        genesis
            .validate()
            .with_context(|| format!("checking genesis {}", path.display()))?;
        Ok(genesis)
    }

    /// Reads the validator key.
    pub fn read_validator_key(&self) -> anyhow::Result<KeyFile> {
        Ok(read_key_file(&self.validator_key())?)
    }
}

/// How to run a node.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// The data directory.
    pub data_dir: DataDir,
    /// HTTP listen address (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Time between blocks.
    pub block_time: Duration,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// Which consensus engine drives the node.
    pub engine: Engine,
    /// Test networks only: stamp blocks with a clock that starts at this Unix time (ms) and runs
    /// at wall speed ([`crate::node::shifted_clock`]) [default: the system clock].
    pub clock_start_ms: Option<u64>,
}

/// Which consensus engine drives the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded single validator, started here (genesis must have exactly one validator).
    Solo,
    /// An engine the caller starts over [`RunningNode::node`] (a BFT validator); named for
    /// `/v1/status`.
    External(&'static str),
}

/// A running node: the solo engine on its thread and the HTTP server on the tokio runtime.
#[derive(Debug)]
pub struct RunningNode {
    /// The node.
    pub node: Arc<Node>,
    /// Where the API listens.
    pub addr: SocketAddr,
    engine: Option<SoloHandle>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningNode {
    /// Starts a node on `config.data_dir` (which must hold a genesis and a validator key).
    pub async fn start(config: LaunchConfig) -> anyhow::Result<RunningNode> {
        let genesis = config.data_dir.read_genesis()?;
        let key_file = config.data_dir.read_validator_key()?;
        let key = key_file.signing_key()?;
        let validator = AccountId::from_public_key(&key.verifying_key());
        // The solo engine signs every block with this key, so it must be genesis's validator.
        // Under BFT the set changes by proposal and the engine reads it per height: a key not
        // (yet, or no longer) in it follows the chain without voting.
        if config.engine == Engine::Solo
            && !genesis
                .validators
                .iter()
                .any(|candidate| candidate.public_key == validator)
        {
            bail!(
                "validator key {} is not a validator in {}",
                validator,
                config.data_dir.genesis().display()
            );
        }
        if config.engine == Engine::Solo && genesis.validators.len() > 1 {
            bail!(
                "genesis has {} validators; the solo engine needs exactly one (run them with `vcity node validator`)",
                genesis.validators.len()
            );
        }
        let mut options = NodeOptions::new(validator);
        options.mempool = config.mempool;
        if let Some(start_ms) = config.clock_start_ms {
            options.clock = crate::node::shifted_clock(start_ms);
        }
        if let Engine::External(name) = config.engine {
            options.engine = name.into();
        }
        let store_path = config.data_dir.store();
        let node = tokio::task::spawn_blocking(move || Node::open(&store_path, &genesis, options))
            .await
            .context("opening the store")??;
        let node = Arc::new(node);
        tracing::info!(
            chain_id = node.chain_id(),
            height = node.height().0,
            "node opened its store"
        );

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding the API to {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let app = crate::api::router(node.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = signal.await;
                })
                .await
        });

        let engine = (config.engine == Engine::Solo).then(|| {
            SoloEngine::new(
                node.clone(),
                key,
                SoloConfig {
                    chain_id: node.chain_id().to_string(),
                    block_time: config.block_time,
                },
            )
            .spawn()
        });
        Ok(RunningNode {
            node,
            addr,
            engine,
            server,
            shutdown: Some(shutdown),
        })
    }

    /// Resolves when the solo engine stops by itself (a fatal application error); never for an
    /// external engine, which its caller watches.
    pub async fn engine_stopped(&self) {
        let Some(engine) = &self.engine else {
            return std::future::pending().await;
        };
        loop {
            if engine.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the engine after its current block, then the HTTP server.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let engine_result = match self.engine.take() {
            Some(engine) => tokio::task::spawn_blocking(move || engine.stop())
                .await
                .context("joining the consensus thread")?,
            None => Ok(()),
        };
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.server)
            .await
            .context("joining the HTTP server")?
            .context("HTTP server")?;
        engine_result.context("consensus engine")?;
        Ok(())
    }
}
