//! `vcity devnet`: the embedded network in this process.
//!
//! `devnet` creates, on its first run, a data directory with a single-validator genesis that
//! funds the dev accounts (`genesis.rs`), whose keys it adds to the keyring, and starts the chain
//! node with, beside it, the compute nodes, scheduler and verifiers of `fleet.rs` as processes.
//! Every later run resumes from that directory. `vcity node --data-dir` runs any existing data
//! directory with the same runner ([`run_node`]).

pub mod fleet;
pub mod genesis;

use genesis::{dev_genesis, new_validator_key, DEVNET_CHAIN_ID};

use crate::shared::config::{parse_duration, Settings, DEFAULT_LISTEN};
use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use vcity_ledger::chain::Validator;
use vcity_node::{DataDir, LaunchConfig, MempoolConfig, RunningNode};
use vcity_sdk::{Client, Keyring};
use vcity_types::event::Event;
use vcity_types::keyfile::{create_private_dir, write_private_file};
use vcity_types::tx::{Message, Transfer};
use vcity_types::{AccountId, Amount, Denom};

/// `vcity devnet` options.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Data directory [default: config [devnet].data_dir, else {home}/devnet].
    #[arg(long, env = "VCITY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// API listen address [default: config, else 127.0.0.1:8710]; port 0 picks a free port.
    #[arg(long, env = "VCITY_LISTEN")]
    pub listen: Option<String>,
    /// Time between blocks, e.g. 1s or 250ms [default: config, else 1s].
    #[arg(long, env = "VCITY_BLOCK_TIME")]
    pub block_time: Option<String>,
    /// After starting, send a transfer from alice to bob and verify bob's balance proof.
    #[arg(long)]
    pub demo: bool,
    /// Buyback interval written into a new devnet's genesis, e.g. 1m [default: 24h, rules §8].
    #[arg(long)]
    pub buyback_interval: Option<String>,
    /// Incentive period written into a new devnet's genesis, e.g. 30s [default: config, else
    /// 10m; rules §6's week is far too long to watch the controller on a devnet].
    #[arg(long, env = "VCITY_INCENTIVE_PERIOD")]
    pub incentive_period: Option<String>,
    /// Compute nodes to start beside the chain node (separate processes).
    #[arg(long, default_value_t = 3)]
    pub compute_nodes: u32,
    /// Schedulers to start (0 or 1).
    #[arg(long, default_value_t = 1)]
    pub schedulers: u32,
    /// Verifiers to start: they check sampled results and capacity proofs and referee disputes
    /// (docs/verification.md). Without one, compute nodes stay on probation (no Proof of
    /// Capacity).
    #[arg(long, default_value_t = 2)]
    pub verifiers: u32,
    /// Print the node's routine log (a line per block) on the terminal too; without it the log
    /// goes to {data dir}/logs/node.log and the terminal shows the summary, the demo and warnings.
    #[arg(long)]
    pub verbose: bool,
    /// TEE attestation parameters written into a new devnet's genesis (JSON: the policy,
    /// `validity_s`, `nonce_interval_s`, `max_reports_per_block`, `sampling_factor_ppm`,
    /// `accept_unbound_samples`; docs/attestation.md) [default: an empty policy].
    #[arg(long)]
    pub attestation: Option<PathBuf>,
    /// Test only: the chain's clock starts at this Unix time in milliseconds and runs at wall
    /// speed (a new devnet's genesis too), so that recorded attestation samples fall inside
    /// their collateral's validity window.
    #[arg(long, hide = true)]
    pub clock_start_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
struct AccountLine {
    name: String,
    account: AccountId,
    did: String,
    vcai: String,
    usd: String,
}

#[derive(Debug, Serialize)]
struct Started {
    event: &'static str,
    api: String,
    chain_id: String,
    data_dir: String,
    height: u64,
    state_root: String,
    accounts: Vec<AccountLine>,
    daemons: Vec<crate::devnet::fleet::DaemonLine>,
    /// Where the node's routine log goes (absent: the terminal).
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<String>,
}

/// Creates the devnet's data directory: keys, validator key, genesis.
fn create_devnet(
    data_dir: &DataDir,
    ring: &Keyring,
    buyback_interval: Option<Duration>,
    incentive_period: Option<Duration>,
    attestation: Option<vcity_ledger::attestation::AttestationParams>,
    clock: &vcity_node::node::Clock,
) -> anyhow::Result<()> {
    create_private_dir(&data_dir.root)?;
    let validator_file = new_validator_key("validator")?;
    write_private_file(&data_dir.validator_key(), &validator_file.to_json())?;
    let genesis = dev_genesis(
        ring,
        DEVNET_CHAIN_ID,
        vec![Validator {
            name: "devnet-validator".into(),
            public_key: validator_file.account,
            power: 1,
        }],
        buyback_interval,
        incentive_period,
    )?;
    let mut genesis = genesis;
    genesis.genesis_time_ms = clock();
    genesis.attestation = attestation;
    genesis.validate()?;
    // Written last: a directory with a genesis is a complete one.
    let tmp = data_dir.root.join("genesis.json.tmp");
    std::fs::write(&tmp, genesis.to_json())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, data_dir.genesis()).context("installing genesis.json")?;
    Ok(())
}

struct RunOptions {
    data_dir: DataDir,
    clock_start_ms: Option<u64>,
    listen: SocketAddr,
    block_time: Duration,
    demo: bool,
    keyring: Option<Keyring>,
    /// The home directory the daemons share (their keys are in its keyring).
    home: Option<PathBuf>,
    /// The node's log file, when it does not log to the terminal.
    log: Option<PathBuf>,
    fleet: crate::devnet::fleet::Fleet,
}

fn listen_address(flag: Option<String>, settings: &Settings) -> anyhow::Result<SocketAddr> {
    let text = flag
        .or_else(|| settings.file.devnet.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    text.parse()
        .with_context(|| format!("listen address {text:?} is not host:port"))
}

fn block_time(flag: Option<String>, settings: &Settings) -> anyhow::Result<Duration> {
    match flag.or_else(|| settings.file.devnet.block_time.clone()) {
        Some(text) => parse_duration(&text),
        None => Ok(Duration::from_secs(1)),
    }
}

/// `vcity devnet`.
pub fn devnet(settings: &Settings, args: DevnetArgs, json: bool) -> anyhow::Result<()> {
    let root = args
        .data_dir
        .or_else(|| settings.file.devnet.data_dir.clone())
        .unwrap_or_else(|| settings.home.join("devnet"));
    let data_dir = DataDir::new(root);
    let log = (!args.verbose).then(|| data_dir.root.join("logs").join("node.log"));
    match &log {
        Some(file) => crate::shared::runtime::init_tracing_to_file(file, "")?,
        None => crate::shared::runtime::init_tracing(json),
    }
    let ring = Keyring::open(&settings.keyring_dir())?;
    let clock = match args.clock_start_ms {
        Some(start_ms) => {
            tracing::warn!(start_ms, "TEST CLOCK: the chain's time is shifted");
            vcity_node::node::shifted_clock(start_ms)
        }
        None => vcity_node::node::system_clock(),
    };
    if data_dir.genesis().exists() {
        tracing::info!(dir = %data_dir.root.display(), "resuming the devnet");
    } else {
        if data_dir.store().exists() {
            bail!(
                "{} has a store but no genesis.json; remove the directory to start over",
                data_dir.root.display()
            );
        }
        tracing::info!(dir = %data_dir.root.display(), "creating a new devnet");
        let interval = args
            .buyback_interval
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        let incentive_period = args
            .incentive_period
            .or_else(|| settings.file.devnet.incentive_period.clone())
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        let attestation = args
            .attestation
            .as_deref()
            .map(|path| -> anyhow::Result<_> {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not attestation parameters", path.display()))
            })
            .transpose()?;
        create_devnet(
            &data_dir,
            &ring,
            interval,
            incentive_period,
            attestation,
            &clock,
        )?;
    }
    run(
        RunOptions {
            data_dir,
            clock_start_ms: args.clock_start_ms,
            log,
            listen: listen_address(args.listen, settings)?,
            block_time: block_time(args.block_time, settings)?,
            demo: args.demo,
            keyring: Some(ring),
            home: Some(settings.home.clone()),
            fleet: crate::devnet::fleet::Fleet {
                compute_nodes: args.compute_nodes.min(64),
                schedulers: args.schedulers.min(1),
                verifiers: args.verifiers.min(16),
            },
        },
        json,
    )
}

/// A chain node over an existing data directory with the solo engine (`vcity node --data-dir`):
/// the devnet's runner without its keys, daemons or demo.
pub(crate) fn run_node(
    settings: &Settings,
    data_dir: PathBuf,
    listen: Option<String>,
    block_time_flag: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    run(
        RunOptions {
            data_dir: DataDir::new(data_dir),
            clock_start_ms: None,
            listen: listen_address(listen, settings)?,
            block_time: block_time(block_time_flag, settings)?,
            demo: false,
            keyring: None,
            home: None,
            log: None,
            fleet: fleet::Fleet::default(),
        },
        json,
    )
}

fn run(options: RunOptions, json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(options, json))
}

async fn serve(options: RunOptions, json: bool) -> anyhow::Result<()> {
    let genesis = options.data_dir.read_genesis()?;
    let running = RunningNode::start(LaunchConfig {
        data_dir: options.data_dir.clone(),
        listen: options.listen,
        block_time: options.block_time,
        mempool: MempoolConfig::default(),
        engine: vcity_node::Engine::Solo,
        clock_start_ms: options.clock_start_ms,
    })
    .await?;
    let api = format!("http://{}", running.addr);
    let mut daemons = crate::devnet::fleet::Daemons::default();
    if let (Some(ring), Some(home)) = (&options.keyring, &options.home) {
        if options.fleet.total() > 0 {
            let (ring, home, api) = (ring.clone(), home.clone(), api.clone());
            let (root, fleet) = (options.data_dir.root.clone(), options.fleet);
            daemons = tokio::task::spawn_blocking(move || {
                crate::devnet::fleet::start(&api, &ring, &home, &root, fleet)
            })
            .await
            .context("starting the daemons")??;
        }
    }
    let status = running.node.status();
    let accounts = genesis
        .accounts
        .iter()
        .map(|account| {
            let view = running.node.account(&account.id);
            let balance = |denom: Denom| {
                view.balances
                    .iter()
                    .find(|b| b.denom == denom)
                    .map_or_else(|| "0".into(), |b| b.display.clone())
            };
            AccountLine {
                name: account.name.clone().unwrap_or_default(),
                account: account.id,
                did: account.id.did().to_string(),
                vcai: balance(Denom::Vcai),
                usd: balance(Denom::Usd),
            }
        })
        .collect();
    let started = Started {
        event: "started",
        api: api.clone(),
        chain_id: status.chain_id.clone(),
        data_dir: options.data_dir.root.display().to_string(),
        height: status.height.0,
        state_root: status.state_root.to_hex(),
        accounts,
        daemons: daemons.lines(),
        log: options.log.as_ref().map(|file| file.display().to_string()),
    };
    if json {
        println!("{}", serde_json::to_string(&started)?);
    } else {
        println!("vcity node running");
        println!("  chain     {}", started.chain_id);
        println!("  api       {}", started.api);
        println!("  console   {}/ (docs/console.md)", started.api);
        println!("  data dir  {}", started.data_dir);
        println!("  height    {}", started.height);
        if let Some(log) = &started.log {
            println!("  log       {log} (--verbose prints it here)");
        }
        println!("  accounts:");
        for line in &started.accounts {
            println!(
                "    {:<8} {}  {:>14} VCAI  {:>12} USD",
                line.name, line.account, line.vcai, line.usd
            );
        }
        if !started.daemons.is_empty() {
            println!("  daemons:");
            for line in &started.daemons {
                println!(
                    "    {:<11} {}  pid {:<7} log {}",
                    line.name, line.account, line.pid, line.log
                );
            }
        }
        println!("  try:  vcity --node {api} query account alice");
        println!(
            "        vcity --node {api} tx transfer --from alice --to bob --amount 5 --denom usd"
        );
        println!("  Ctrl-C stops; running again resumes from the data dir.");
    }

    if options.demo {
        let Some(ring) = options.keyring.clone() else {
            bail!("--demo needs the devnet keyring");
        };
        let api = api.clone();
        let with_jobs = options.fleet.compute_nodes > 0 && options.fleet.schedulers > 0;
        let outputs = options
            .home
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join("outputs");
        let demo = tokio::task::spawn_blocking(move || {
            run_demo(&api, &ring, json)?;
            // The proposal's life takes its periods (about 25 s on a devnet); jobs run meanwhile.
            let governance = {
                let (api, ring) = (api.clone(), ring.clone());
                std::thread::spawn(move || governance_demo(&api, &ring, json))
            };
            if with_jobs {
                crate::devnet::fleet::job_demo(&api, &ring, json)?;
                crate::devnet::fleet::agent_demo(&api, &ring, outputs, json)?;
            }
            governance
                .join()
                .map_err(|_| anyhow::anyhow!("the governance demo panicked"))??;
            Ok::<(), anyhow::Error>(())
        })
        .await;
        match demo {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("demo failed: {error:#}"),
            Err(error) => eprintln!("demo panicked: {error}"),
        }
    }

    let stopped_by = wait_for_stop(&running).await;
    daemons.stop();
    let height = running.node.height().0;
    running.shutdown().await?;
    match stopped_by {
        Stop::Signal(name) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "stopped", "signal": name, "height": height})
                );
            } else {
                println!("stopped by {name} at height {height}");
            }
            Ok(())
        }
        Stop::Engine => bail!("consensus stopped at height {height}; see the log above"),
    }
}

enum Stop {
    Signal(&'static str),
    Engine,
}

async fn wait_for_stop(running: &RunningNode) -> Stop {
    tokio::select! {
        name = crate::shared::runtime::termination_signal() => Stop::Signal(name),
        // Started by a program that has exited (`VCITY_PARENT_PID`): a test harness killed
        // mid-run leaves no devnet behind.
        () = crate::shared::runtime::parent_exited() => Stop::Signal("its parent exiting"),
        () = running.engine_stopped() => Stop::Engine,
    }
}

fn run_demo(api: &str, ring: &Keyring, json: bool) -> anyhow::Result<()> {
    let client = Client::new(api);
    let alice = ring.get("alice")?.signing_key()?;
    let bob = ring.get("bob")?.account;
    let amount = Amount::parse_decimal("12.5", Denom::Usd)?;
    let hash = client.send(
        &alice,
        vec![Message::Transfer(Transfer {
            to: bob,
            denom: Denom::Usd,
            amount,
        })],
        None,
    )?;
    let view = client.wait_for_transaction(&hash, Duration::from_secs(30))?;
    let receipt = view.receipt.context("no receipt")?;
    let key = vcity_ledger::bank::balance_key(&bob, Denom::Usd);
    let proof = client.proof(&key)?;
    let balance: Amount = proof
        .value
        .as_deref()
        .map(vcity_types::codec::decode)
        .transpose()
        .map_err(|error| anyhow::anyhow!("balance does not decode: {error}"))?
        .unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "demo",
                "tx_hash": hash,
                "height": receipt.height,
                "code": receipt.code,
                "bob_usd": balance.to_decimal(Denom::Usd),
                "proof_height": proof.view.height,
                "state_root": proof.view.state_root,
            })
        );
    } else {
        println!("demo: alice sent 12.5 USD to bob in tx {hash}");
        println!(
            "      committed at height {} with code {}",
            receipt.height, receipt.code
        );
        println!(
            "      bob's USD balance {} verified by Merkle proof against block {}'s state root",
            balance.to_decimal(Denom::Usd),
            proof.view.height
        );
    }
    Ok(())
}

/// Waits until proposal `number` reaches `phase` (or a final phase), for at most `limit`.
fn wait_for_phase(
    client: &Client,
    number: u64,
    phase: &str,
    limit: Duration,
) -> anyhow::Result<vcity_ledger::governance::ProposalView> {
    let started = std::time::Instant::now();
    loop {
        let view = client.proposal(&number.to_string())?;
        if view.phase == phase {
            return Ok(view);
        }
        if started.elapsed() > limit {
            bail!(
                "proposal {number} is still {} after {limit:?}, waiting for {phase}",
                view.phase
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One proposal's whole life (docs/governance.md): alice proposes paying 1,000 VCAI from the
/// reserve to bob, bob comments, alice votes yes, and after the timelock bob executes it.
fn governance_demo(api: &str, ring: &Keyring, json: bool) -> anyhow::Result<()> {
    use vcity_types::governance::{
        Action, CastVote, Choice, CommentProposal, ExecuteProposal, Fund, Payment, Propose,
    };
    let client = Client::new(api);
    let alice = ring.get("alice")?.signing_key()?;
    let bob_key = ring.get("bob")?.signing_key()?;
    let bob = ring.get("bob")?.account;
    let paid = Amount::whole(1_000, Denom::Vcai)?;
    let send = |key: &ed25519_dalek::SigningKey, message: Message| -> anyhow::Result<Vec<Event>> {
        let hash = client.send(key, vec![message], None)?;
        let view = client.wait_for_transaction(&hash, Duration::from_secs(30))?;
        let receipt = view.receipt.context("no receipt")?;
        if receipt.code != 0 {
            bail!("governance demo transaction failed: {}", receipt.error);
        }
        Ok(receipt.events)
    };
    let events = send(
        &alice,
        Message::Propose(Propose {
            title: "Pay bob 1,000 VCAI from the reserve for the devnet console".into(),
            description: "A demo proposal: one spend action.".into(),
            actions: vec![Action::Spend {
                from: Fund::Reserve,
                denom: Denom::Vcai,
                payments: vec![Payment {
                    recipient: bob,
                    amount: paid,
                    vesting: None,
                }],
            }],
        }),
    )?;
    let (id, number) = events
        .iter()
        .find_map(|event| match event {
            Event::ProposalCreated { id, number, .. } => Some((*id, *number)),
            _ => None,
        })
        .context("no ProposalCreated event")?;
    let say = |step: &str, detail: String| {
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "governance_demo", "proposal": number, "step": step, "detail": detail})
            );
        } else {
            println!("governance: proposal {number} {step}: {detail}");
        }
    };
    say("proposed", format!("by alice, id {id}"));
    send(
        &bob_key,
        Message::CommentProposal(CommentProposal {
            proposal: id,
            text: "Thanks, I will ship it.".into(),
        }),
    )?;
    say("commented", "bob commented during discussion".into());
    wait_for_phase(&client, number, "voting", Duration::from_secs(120))?;
    send(
        &alice,
        Message::CastVote(CastVote {
            proposal: id,
            choice: Choice::Yes,
        }),
    )?;
    say("voted", "alice voted yes with her snapshot weight".into());
    let view = wait_for_phase(&client, number, "executable", Duration::from_secs(120))?;
    let ve = |weight: u128| format!("{} veVCAI", vcity_ledger::ve::format_weight(weight));
    say(
        "passed",
        format!(
            "yes {} against a quorum of {} ({} in all at the snapshot); timelock over at {} s",
            ve(view.proposal.yes),
            ve(view.proposal.quorum),
            ve(view.proposal.total_weight),
            view.proposal.executable_s
        ),
    );
    let before = client.account(&bob)?;
    send(
        &bob_key,
        Message::ExecuteProposal(ExecuteProposal { proposal: id }),
    )?;
    let view = client.proposal(&number.to_string())?;
    let after = client.account(&bob)?;
    let vcai = |account: &vcity_types::api::AccountView| {
        account
            .balances
            .iter()
            .find(|balance| balance.denom == Denom::Vcai)
            .map_or(Amount::ZERO, |balance| balance.amount)
    };
    say(
        "executed",
        format!(
            "status {}; bob's VCAI {} -> {}",
            view.phase,
            vcai(&before).to_decimal(Denom::Vcai),
            vcai(&after).to_decimal(Denom::Vcai)
        ),
    );
    Ok(())
}
