//! `vcity testnet --validators N`: a local multi-validator network on loopback.
//!
//! On its first run it writes, under `--dir` (default `{home}/testnet`), one home per validator
//! (`validator-1` ... `validator-N`): a fresh validator key, the shared genesis (N validators of
//! equal power, the dev accounts of this keyring funded as on the devnet, chain id
//! `vcity-testnet`) and a `config.toml` whose `[validator]` section names the validator's API and
//! gossip ports, its peers' gossip addresses and their APIs for transaction relay. Then it starts
//! each validator as a separate process (`vcity --home <dir>/validator-i node validator`, log in
//! that home), waits until all of them answer and have committed a block, prints where they
//! are, and stops them on Ctrl-C. Later runs resume from the same homes. `--init-only` writes
//! the homes without starting anything (to run the validators yourself, e.g. on other hosts
//! after editing their addresses). `--standby K` writes K more homes whose keys are not in
//! genesis: they run as followers (they sync and verify every block but do not vote) until a
//! governance proposal adds them to the validator set (docs/governance.md).

use crate::shared::config::{parse_duration, Settings, ValidatorSection};
use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vcity_ledger::chain::Validator;
use vcity_sdk::{Client, Keyring};
use vcity_types::keyfile::{create_private_dir, write_private_file};

/// The testnet's chain id.
pub const TESTNET_CHAIN_ID: &str = "vcity-testnet";

/// Most validators a local testnet starts.
const MAX_VALIDATORS: u32 = 32;

/// `vcity testnet` options.
#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// How many validators (equal voting power; 4 tolerate one faulty).
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Where the validators' homes go [default: {home}/testnet].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Validator i's API listens on 127.0.0.1:(api_port + i - 1).
    #[arg(long, default_value_t = 8710)]
    pub api_port: u16,
    /// Validator i's consensus gossip listens on 127.0.0.1:(p2p_port + i - 1).
    #[arg(long, default_value_t = 26650)]
    pub p2p_port: u16,
    /// Least time between blocks, written into new homes.
    #[arg(long, default_value = "1s")]
    pub block_time: String,
    /// Write the homes and exit without starting the validators.
    #[arg(long)]
    pub init_only: bool,
    /// Extra homes whose keys are not in genesis (numbered after the validators): followers
    /// until a proposal adds them.
    #[arg(long, default_value_t = 0)]
    pub standby: u32,
}

/// One validator as `vcity testnet` reports it.
#[derive(Debug, Clone, Serialize)]
struct ValidatorLine {
    moniker: String,
    home: String,
    api: String,
    p2p: String,
    pid: Option<u32>,
    log: String,
    /// Not in genesis: a follower until a proposal adds it.
    standby: bool,
}

fn home_of(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("validator-{index}"))
}

/// `vcity testnet`.
pub fn testnet(settings: &Settings, args: TestnetArgs, json: bool) -> anyhow::Result<()> {
    crate::shared::runtime::init_tracing(json);
    if args.validators == 0 || args.validators + args.standby > MAX_VALIDATORS {
        bail!("--validators must be 1 to {MAX_VALIDATORS}, standby included");
    }
    let homes = args.validators + args.standby;
    let last_port = |base: u16| u32::from(base) + homes - 1;
    if last_port(args.api_port) > 65_535 || last_port(args.p2p_port) > 65_535 {
        bail!("ports beyond 65535: lower --api-port or --p2p-port");
    }
    let block_time = parse_duration(&args.block_time)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| settings.home.join("testnet"));
    let lines: Vec<ValidatorLine> = (1..=homes)
        .map(|index| {
            let home = home_of(&dir, index);
            ValidatorLine {
                moniker: format!("validator-{index}"),
                api: format!("http://127.0.0.1:{}", u32::from(args.api_port) + index - 1),
                p2p: format!("127.0.0.1:{}", u32::from(args.p2p_port) + index - 1),
                log: home.join("validator.log").display().to_string(),
                home: home.display().to_string(),
                pid: None,
                standby: index > args.validators,
            }
        })
        .collect();
    if home_of(&dir, 1).join("genesis.json").exists() {
        let existing = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("validator-")
            })
            .count();
        if existing != homes as usize {
            bail!(
                "{} holds a testnet of {existing} homes; remove it to start one of {homes}",
                dir.display()
            );
        }
        tracing::info!(dir = %dir.display(), "resuming the testnet");
    } else {
        let ring = Keyring::open(&settings.keyring_dir())?;
        create(&dir, &ring, &lines, block_time)?;
    }
    if args.init_only {
        report(&lines, json, false)?;
        return Ok(());
    }

    let mut children = Children::default();
    let exe = std::env::current_exe().context("locating the vcity binary")?;
    let mut lines = lines;
    for line in &mut lines {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&line.log)
            .with_context(|| format!("opening {}", line.log))?;
        let child = Command::new(&exe)
            .arg("--home")
            .arg(&line.home)
            .args(["node", "validator"])
            .env("VCITY_PARENT_PID", std::process::id().to_string())
            .env_remove("VCITY_CONFIG")
            .env_remove("VCITY_LISTEN")
            .env_remove("VCITY_P2P_LISTEN")
            .env_remove("VCITY_BLOCK_TIME")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", line.moniker))?;
        line.pid = Some(child.id());
        children.0.push(child);
    }
    wait_until_committing(&lines, &mut children)?;
    report(&lines, json, true)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let signal = runtime.block_on(async {
        loop {
            tokio::select! {
                signal = crate::shared::runtime::termination_signal() => return Ok(signal),
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Some(exited) = children.exited() {
                        return Err(exited);
                    }
                }
            }
        }
    });
    children.stop();
    match signal {
        Ok(signal) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "stopped", "signal": signal})
                );
            } else {
                println!("testnet stopped by {signal}");
            }
            Ok(())
        }
        Err(exited) => bail!("{exited}; the other validators were stopped"),
    }
}

/// Writes every validator's home: key, the shared genesis, config.
fn create(
    dir: &Path,
    ring: &Keyring,
    lines: &[ValidatorLine],
    block_time: Duration,
) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let mut keys = Vec::new();
    for line in lines {
        keys.push(crate::devnet::genesis::new_validator_key(&line.moniker)?);
    }
    let validators = lines
        .iter()
        .zip(&keys)
        .filter(|(line, _)| !line.standby)
        .map(|(line, key)| Validator {
            name: line.moniker.clone(),
            public_key: key.account,
            power: 1,
        })
        .collect();
    let genesis =
        crate::devnet::genesis::dev_genesis(ring, TESTNET_CHAIN_ID, validators, None, None)?
            .to_json();
    for (index, (line, key)) in lines.iter().zip(&keys).enumerate() {
        let home = Path::new(&line.home);
        create_private_dir(home)?;
        write_private_file(&home.join("validator_key.json"), &key.to_json())?;
        let others = |field: fn(&ValidatorLine) -> String| {
            lines
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, other)| field(other))
                .collect::<Vec<_>>()
        };
        let section = ValidatorSection {
            moniker: Some(line.moniker.clone()),
            listen: Some(line.api.trim_start_matches("http://").to_string()),
            p2p_listen: Some(line.p2p.clone()),
            peers: others(|other| other.p2p.clone()),
            relay: others(|other| other.api.clone()),
            block_time: Some(format!("{}ms", block_time.as_millis())),
            timeout_propose: Some(format!("{}ms", (block_time * 2).as_millis() + 1_000)),
            timeout_vote: Some("1s".into()),
        };
        #[derive(Serialize)]
        struct File<'a> {
            node: String,
            validator: &'a ValidatorSection,
        }
        let text = toml::to_string(&File {
            node: line.api.clone(),
            validator: &section,
        })?;
        std::fs::write(home.join("config.toml"), text)
            .with_context(|| format!("writing {}/config.toml", line.home))?;
        // Written last: a home with a genesis is a complete one.
        std::fs::write(home.join("genesis.json"), &genesis)
            .with_context(|| format!("writing {}/genesis.json", line.home))?;
    }
    Ok(())
}

/// Waits until every validator's API answers with a committed block.
fn wait_until_committing(lines: &[ValidatorLine], children: &mut Children) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in lines.iter().filter(|line| !line.standby) {
        let client = Client::new(&line.api);
        loop {
            if let Some(exited) = children.exited() {
                bail!("{exited}; see its log");
            }
            if client.status().is_ok_and(|status| status.height.0 >= 1) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not commit a block within a minute; see {}",
                    line.moniker,
                    line.log
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}

fn report(lines: &[ValidatorLine], json: bool, started: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": if started { "started" } else { "initialized" },
                "chain_id": TESTNET_CHAIN_ID,
                "validators": lines,
            })
        );
        return Ok(());
    }
    println!(
        "vcity testnet: {} validators {}",
        lines.len(),
        if started { "running" } else { "written" }
    );
    for line in lines {
        let pid = line
            .pid
            .map_or_else(String::new, |pid| format!("pid {pid}"));
        let standby = if line.standby { " (standby)" } else { "" };
        println!(
            "  {:<13} api {}  p2p {}  {pid}{standby}\n                home {}",
            line.moniker, line.api, line.p2p, line.home
        );
    }
    if let Some(first) = lines.first() {
        if started {
            println!("  try:  vcity --node {} query status", first.api);
            println!(
                "        vcity --node {} tx transfer --from alice --to bob --amount 5 --denom usd",
                first.api
            );
            println!("  Ctrl-C stops every validator; running again resumes.");
        } else {
            println!(
                "  start each with: vcity --home {} node validator",
                first.home
            );
        }
    }
    Ok(())
}

/// The validator processes; killed when dropped.
#[derive(Debug, Default)]
struct Children(Vec<Child>);

impl Children {
    /// A validator that exited by itself, described.
    fn exited(&mut self) -> Option<String> {
        self.0.iter_mut().enumerate().find_map(|(index, child)| {
            child
                .try_wait()
                .ok()
                .flatten()
                .map(|status| format!("validator-{} exited ({status})", index + 1))
        })
    }

    fn stop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.0.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}
