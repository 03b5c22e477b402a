//! `vcity node validator`: one validator of a multi-validator network. The node (store, ledger,
//! mempool, HTTP API) is the same as the devnet's; Malachite (`vcity-bft`) drives it instead of
//! the solo engine.
//!
//! The validator's home (`--home`) is its data directory: `genesis.json`, `validator_key.json`,
//! `store.redb`, the engine's write-ahead log under `wal/`, and `config.toml` whose `[validator]`
//! section names the API and gossip addresses, the peers and the timeouts (flags and `VCITY_*`
//! variables override it). Transactions clients submit to this validator's API are relayed to
//! the peers' APIs (`relay`), so whichever validator proposes next can include them.

use crate::shared::config::{parse_duration, Settings};
use anyhow::{bail, Context as _};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use vcity_node::{DataDir, Engine, LaunchConfig, MempoolConfig, RunningNode};

/// `vcity node validator` options (the validator's home is the global `--home`).
#[derive(Debug, Args)]
pub struct ValidatorArgs {
    /// API listen address [default: config [validator].listen, else 127.0.0.1:8710].
    #[arg(long, env = "VCITY_LISTEN")]
    pub listen: Option<String>,
    /// Consensus gossip listen address [default: config [validator].p2p_listen, else
    /// 127.0.0.1:26650].
    #[arg(long, env = "VCITY_P2P_LISTEN")]
    pub p2p_listen: Option<String>,
    /// A peer's gossip address (repeat) [default: config [validator].peers].
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    /// A peer's API URL to relay client transactions to (repeat) [default: config
    /// [validator].relay].
    #[arg(long = "relay")]
    pub relay: Vec<String>,
    /// Least time between blocks [default: config, else 1s].
    #[arg(long, env = "VCITY_BLOCK_TIME")]
    pub block_time: Option<String>,
}

/// Everything a validator runs with, resolved.
#[derive(Debug, Clone)]
struct Resolved {
    data_dir: DataDir,
    moniker: String,
    listen: SocketAddr,
    p2p_listen: SocketAddr,
    peers: Vec<SocketAddr>,
    relay: Vec<String>,
    block_time: Duration,
    timeout_propose: Duration,
    timeout_vote: Duration,
}

fn resolve(settings: &Settings, args: ValidatorArgs) -> anyhow::Result<Resolved> {
    let section = &settings.file.validator;
    let address = |text: &str| -> anyhow::Result<SocketAddr> {
        text.parse()
            .with_context(|| format!("address {text:?} is not host:port"))
    };
    let listen = address(
        &args
            .listen
            .or_else(|| section.listen.clone())
            .unwrap_or_else(|| crate::shared::config::DEFAULT_LISTEN.into()),
    )?;
    let p2p_listen = address(
        &args
            .p2p_listen
            .or_else(|| section.p2p_listen.clone())
            .unwrap_or_else(|| "127.0.0.1:26650".into()),
    )?;
    let peers = if args.peers.is_empty() {
        section.peers.clone()
    } else {
        args.peers
    };
    let peers = peers
        .iter()
        .map(|peer| address(peer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let relay = if args.relay.is_empty() {
        section.relay.clone()
    } else {
        args.relay
    };
    let duration = |flag: Option<String>, config: &Option<String>, default: Duration| {
        flag.or_else(|| config.clone())
            .map_or(Ok(default), |text| parse_duration(&text))
    };
    let block_time = duration(args.block_time, &section.block_time, Duration::from_secs(1))?;
    let timeout_propose = duration(
        None,
        &section.timeout_propose,
        block_time + Duration::from_secs(2),
    )?;
    let timeout_vote = duration(None, &section.timeout_vote, Duration::from_secs(1))?;
    Ok(Resolved {
        data_dir: DataDir::new(settings.home.clone()),
        moniker: section
            .moniker
            .clone()
            .unwrap_or_else(|| "validator".into()),
        listen,
        p2p_listen,
        peers,
        relay,
        block_time,
        timeout_propose,
        timeout_vote,
    })
}

/// `vcity node validator`.
pub fn run(settings: &Settings, args: ValidatorArgs, json: bool) -> anyhow::Result<()> {
    // Malachite logs every height and round at info; its warnings are what an operator needs.
    crate::shared::runtime::init_tracing_with(
        json,
        "informalsystems_malachitebft=warn,libp2p=warn",
    );
    let resolved = resolve(settings, args)?;
    if !resolved.data_dir.genesis().exists() {
        bail!(
            "{} has no genesis.json: a validator's home holds genesis.json, validator_key.json and config.toml (`vcity testnet --validators 4 --init-only` writes them)",
            resolved.data_dir.root.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(resolved, json))
}

async fn serve(resolved: Resolved, json: bool) -> anyhow::Result<()> {
    let genesis = resolved.data_dir.read_genesis()?;
    let key = resolved.data_dir.read_validator_key()?.signing_key()?;
    let running = RunningNode::start(LaunchConfig {
        data_dir: resolved.data_dir.clone(),
        listen: resolved.listen,
        block_time: resolved.block_time,
        mempool: MempoolConfig::default(),
        engine: Engine::External("malachite"),
        clock_start_ms: None,
    })
    .await?;
    let node = running.node.clone();
    // A proposal must be verified by the others before their propose timeout runs out: it is
    // built once the block time has passed, then gossiped, then re-executed, in what is left
    // (timeout_propose − block_time); a third of that for the block itself leaves the rest for
    // building and gossip (docs/protocol.md, "Proposal budget").
    node.set_proposal_budget(resolved.timeout_propose.saturating_sub(resolved.block_time) / 3);

    if !resolved.relay.is_empty() {
        let (sender, receiver) = tokio::sync::mpsc::channel(4_096);
        node.relay_to(sender);
        let peers = resolved.relay.clone();
        std::thread::Builder::new()
            .name("vcity-relay".into())
            .spawn(move || relay(receiver, &peers))
            .context("starting the relay thread")?;
    }

    let mut validator = vcity_bft::start(
        node.clone() as Arc<dyn vcity_consensus::Application>,
        vcity_bft::ValidatorOptions {
            home: resolved.data_dir.root.clone(),
            moniker: resolved.moniker.clone(),
            seed: key.to_bytes(),
            chain_id: genesis.chain_id.clone(),
            listen: resolved.p2p_listen,
            peers: resolved.peers.clone(),
            block_time: resolved.block_time,
            timeout_propose: resolved.timeout_propose,
            timeout_vote: resolved.timeout_vote,
            max_block_bytes: u64::from(genesis.params.max_block_bytes),
        },
    )
    .await
    .map_err(|error| anyhow::anyhow!("starting consensus: {error:#}"))?;

    let status = node.status();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "started",
                "engine": "malachite",
                "moniker": resolved.moniker,
                "api": format!("http://{}", running.addr),
                "p2p": resolved.p2p_listen.to_string(),
                "peers": resolved.peers.len(),
                "chain_id": status.chain_id,
                "height": status.height.0,
            })
        );
    } else {
        println!("vcity validator {} running", resolved.moniker);
        println!("  chain   {}", status.chain_id);
        println!("  api     http://{}", running.addr);
        println!(
            "  p2p     {} ({} peers)",
            resolved.p2p_listen,
            resolved.peers.len()
        );
        println!("  height  {}", status.height.0);
    }

    let outcome = tokio::select! {
        signal = crate::shared::runtime::termination_signal() => Ok(signal),
        stopped = validator.stopped() => Err(stopped),
        () = crate::shared::runtime::parent_exited() => Ok("parent exit"),
    };
    let height = node.height().0;
    match outcome {
        Ok(signal) => {
            validator
                .stop()
                .await
                .map_err(|error| anyhow::anyhow!("stopping consensus: {error:#}"))?;
            running.shutdown().await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "stopped", "signal": signal, "height": height})
                );
            } else {
                println!("stopped by {signal} at height {height}");
            }
            Ok(())
        }
        Err(stopped) => {
            let reason = match stopped {
                Ok(()) => "the engine closed its channel".to_string(),
                Err(error) => format!("{error:#}"),
            };
            let _ = running.shutdown().await;
            bail!("consensus stopped at height {height}: {reason}")
        }
    }
}

/// Posts each relayed transaction to every peer API, marked so that they do not relay it again.
/// Failures are only logged: the transaction is in this validator's mempool either way.
fn relay(mut receiver: tokio::sync::mpsc::Receiver<Vec<u8>>, peers: &[String]) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    // Whatever has queued up goes in one batch per peer (checked there in signature batches on
    // every core), so a burst costs a few requests instead of one per transaction and peer.
    const RELAY_BATCH: usize = 512;
    while let Some(bytes) = receiver.blocking_recv() {
        let mut batch = vec![hex::encode(&bytes)];
        while batch.len() < RELAY_BATCH {
            match receiver.try_recv() {
                Ok(bytes) => batch.push(hex::encode(&bytes)),
                Err(_) => break,
            }
        }
        let body = serde_json::json!({ "txs": batch });
        for peer in peers {
            let url = format!("{}/v1/txs/batch", peer.trim_end_matches('/'));
            match agent
                .post(&url)
                .header(vcity_node::api::RELAYED_HEADER, "1")
                .send_json(&body)
            {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    tracing::debug!(%url, status = %response.status(), "peer refused a relayed batch");
                }
                Err(error) => tracing::debug!(%url, %error, "relay failed"),
            }
        }
    }
}
