//! `vcity node compute`, `vcity node scheduler` and `vcity node verifier`: the compute-layer
//! daemons (crate `vcity-compute`) against any chain node's API (`--node`), with their keys from
//! the keyring.

use crate::shared::config::{parse_duration, Settings};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vcity_compute::{ComputeOptions, SchedulerOptions, VerifierOptions};
use vcity_sdk::Keyring;
use vcity_types::{Amount, Denom};

/// `vcity node <role>`.
#[derive(Debug, Subcommand)]
pub enum NodeRole {
    /// Run a compute node: detect hardware, register, heartbeat, run assigned tasks.
    Compute(ComputeArgs),
    /// Run a scheduler: place pending tasks on compute nodes.
    Scheduler(SchedulerArgs),
    /// Run a verifier: re-execute sampled results, check capacity proofs, referee disputes
    /// (docs/verification.md).
    Verifier(VerifierArgs),
    /// Run a BFT validator (Malachite) from the home directory (`--home`): genesis.json,
    /// validator_key.json and config.toml's [validator] section.
    Validator(crate::node::validator::ValidatorArgs),
}

/// `vcity node compute` options.
#[derive(Debug, Args)]
pub struct ComputeArgs {
    /// The node's keyring name (its account registers and signs).
    #[arg(long)]
    pub key: String,
    /// Journal, outputs and logs [default: {home}/compute/{key}].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Where to serve outputs, logs and metrics; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8720")]
    pub listen: String,
    /// What the node registers.
    #[command(flatten)]
    pub offer: ComputeOffer,
    /// VCAI to stake at registration [default: the requirement for the detected capacity].
    #[arg(long)]
    pub stake: Option<String>,
    /// Tasks at once [default: CPU cores].
    #[arg(long)]
    pub slots: Option<usize>,
    /// How often to look for assignments.
    #[arg(long, default_value = "500ms")]
    pub poll_interval: String,
    /// Register these GPUs instead of what NVML detects: MODEL:COUNT:VRAM_MIB, e.g.
    /// H100:8:81559 (repeatable). Capacity challenges check them either way.
    #[arg(long)]
    pub gpu: Vec<String>,
    /// Let process tasks that ask for it reach the network (otherwise they see only their own
    /// loopback).
    #[arg(long)]
    pub allow_network: bool,
    /// Offer no sandbox for process tasks (WASM tasks only), even where bubblewrap is installed.
    #[arg(long)]
    pub no_sandbox: bool,
    /// Unpacked images kept in the cache, MiB (least recently used evicted past it).
    #[arg(long, default_value_t = 20_480)]
    pub image_cache_mib: u64,
    /// Test only: lie on purpose (wrong-output or inflate-cu), to watch the trust layer catch it.
    #[arg(long, hide = true)]
    pub misbehave: Option<String>,
    /// TEE attestation evidence (docs/attestation.md): `auto` obtains it on this machine
    /// (configfs-tsm for TDX and SEV-SNP, NVML for confidential GPUs; without them the node
    /// says "no TEE" and has no tier), `off` never attests, a path presents a recorded evidence
    /// file (as `vcity nodes attest --save` writes it; test networks that accept samples).
    #[arg(long, default_value = "auto", env = "VCITY_TEE")]
    pub tee: String,
    /// Intel's collateral for this machine's TDX quote (QuoteCollateralV3 JSON, as a PCCS
    /// serves it); refresh it before it expires.
    #[arg(long, env = "VCITY_TEE_COLLATERAL")]
    pub tee_collateral: Option<PathBuf>,
    /// Check this machine and exit (nothing is registered): each executor kind on a tiny
    /// workload, the capacity kernel, GPUs, disk and the chain node; exits 1 if a check fails.
    #[arg(long)]
    pub self_test: bool,
}

/// What a compute node registers (`vcity node compute`, and `vcity operator init`, which
/// writes them into its unit).
#[derive(Debug, Clone, Args)]
pub struct ComputeOffer {
    /// The URL to register, that schedulers and buyers reach it at [default: http://{listen}].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Region label.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// `stable` (data center) or `flexible` (individual or edge).
    #[arg(long, default_value = "flexible")]
    pub kind: String,
    /// Price offer per CU, USD.
    #[arg(long, default_value = "0.05")]
    pub price_per_cu: String,
}

/// `vcity node verifier` options.
#[derive(Debug, Args)]
pub struct VerifierArgs {
    /// The verifier's keyring name.
    #[arg(long)]
    pub key: String,
    /// Module cache [default: {home}/verifier/{key}].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Region label.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// VCAI to bond at registration [default: the service minimum].
    #[arg(long)]
    pub stake: Option<String>,
    /// Duties worked on at once [default: CPU cores].
    #[arg(long)]
    pub slots: Option<usize>,
    /// How often to look for duties.
    #[arg(long, default_value = "500ms")]
    pub poll_interval: String,
    /// Where to serve /metrics and /v1/health; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8740")]
    pub listen: String,
    /// Test only: answer the opposite of what it finds, to watch the referees catch it.
    #[arg(long, hide = true)]
    pub contrary: bool,
}

/// `vcity node scheduler` options.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The scheduler's keyring name.
    #[arg(long)]
    pub key: String,
    /// Region label.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// VCAI to stake at registration [default: the service minimum].
    #[arg(long)]
    pub stake: Option<String>,
    /// How often to look for pending tasks.
    #[arg(long, default_value = "500ms")]
    pub poll_interval: String,
    /// Where to serve /metrics and /v1/health; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8730")]
    pub listen: String,
    /// spread: prefer the least used node; pack: fill nodes before opening new ones.
    #[arg(long, default_value = "spread")]
    pub packing: String,
    /// Placements per thousand reserved for new nodes, so they can earn a record.
    #[arg(long, default_value_t = 50)]
    pub exploration_per_mille: u32,
}

/// A flag set by Ctrl-C or SIGTERM.
fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            runtime.block_on(crate::shared::runtime::termination_signal());
            flag.store(true, Ordering::Relaxed);
        })?;
    Ok(stop)
}

fn vcai(text: &str) -> anyhow::Result<Amount> {
    Amount::parse_decimal(text, Denom::Vcai).with_context(|| format!("VCAI amount {text:?}"))
}

/// Runs `vcity node compute|scheduler`.
pub fn run(settings: &Settings, role: NodeRole, json: bool) -> anyhow::Result<()> {
    crate::shared::runtime::init_tracing(json);
    let ring = Keyring::open(&settings.keyring_dir())?;
    let stop = stop_on_signal()?;
    match role {
        NodeRole::Compute(args) if args.self_test => {
            let work = args
                .work_dir
                .unwrap_or_else(|| settings.home.join("compute").join(&args.key));
            std::fs::create_dir_all(&work)
                .with_context(|| format!("creating {}", work.display()))?;
            let report =
                vcity_compute::selftest::run(&work, Some(&settings.node), !args.no_sandbox);
            if json {
                crate::shared::print_json(&report)?;
            } else {
                for check in &report.checks {
                    println!(
                        "{} {:<22} {:>7} ms  {}",
                        if check.ok { "ok  " } else { "FAIL" },
                        check.name,
                        check.millis,
                        check.detail
                    );
                }
            }
            if !report.ok() {
                std::process::exit(1);
            }
            Ok(())
        }
        NodeRole::Compute(args) => {
            let key = ring.get(&args.key)?.signing_key()?;
            let kind = crate::nodes::parse_kind(&args.offer.kind)?;
            let options = ComputeOptions {
                api: settings.node.clone(),
                data_dir: args
                    .work_dir
                    .unwrap_or_else(|| settings.home.join("compute").join(&args.key)),
                listen: args
                    .listen
                    .parse()
                    .with_context(|| format!("listen address {:?}", args.listen))?,
                endpoint: args.offer.endpoint,
                region: args.offer.region,
                kind,
                price_per_cu_usd: Amount::parse_decimal(&args.offer.price_per_cu, Denom::Usd)
                    .with_context(|| format!("price {:?}", args.offer.price_per_cu))?,
                stake: args.stake.as_deref().map(vcai).transpose()?,
                slots: args.slots,
                poll_interval: parse_duration(&args.poll_interval)?,
                limits: vcity_executor::Limits::default(),
                declared_gpus: if args.gpu.is_empty() {
                    None
                } else {
                    Some(crate::nodes::parse_gpus(&args.gpu)?)
                },
                network_egress: args.allow_network,
                sandbox: !args.no_sandbox,
                image_cache_bytes: args.image_cache_mib.saturating_mul(1024 * 1024),
                misbehave: args
                    .misbehave
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                tee: vcity_compute::tee::Source::parse(&args.tee),
                tee_collateral: args.tee_collateral,
            };
            vcity_compute::run_compute(options, key, stop)
        }
        NodeRole::Scheduler(args) => {
            let key = ring.get(&args.key)?.signing_key()?;
            let options = SchedulerOptions {
                api: settings.node.clone(),
                region: args.region,
                stake: args.stake.as_deref().map(vcai).transpose()?,
                poll_interval: parse_duration(&args.poll_interval)?,
                listen: args
                    .listen
                    .parse()
                    .with_context(|| format!("listen address {:?}", args.listen))?,
                packing: match args.packing.as_str() {
                    "spread" => vcity_compute::scheduler::Packing::Spread,
                    "pack" => vcity_compute::scheduler::Packing::Pack,
                    other => anyhow::bail!("packing {other:?} must be spread or pack"),
                },
                exploration_per_mille: args.exploration_per_mille.min(1_000),
            };
            vcity_compute::run_scheduler(options, key, stop)
        }
        NodeRole::Verifier(args) => {
            let key = ring.get(&args.key)?.signing_key()?;
            let options = VerifierOptions {
                api: settings.node.clone(),
                data_dir: args
                    .work_dir
                    .unwrap_or_else(|| settings.home.join("verifier").join(&args.key)),
                listen: args
                    .listen
                    .parse()
                    .with_context(|| format!("listen address {:?}", args.listen))?,
                region: args.region,
                stake: args.stake.as_deref().map(vcai).transpose()?,
                slots: args.slots,
                poll_interval: parse_duration(&args.poll_interval)?,
                limits: vcity_executor::Limits::default(),
                contrary: args.contrary,
            };
            vcity_compute::run_verifier(options, key, stop)
        }
        NodeRole::Validator(args) => crate::node::validator::run(settings, args, json),
    }
}
