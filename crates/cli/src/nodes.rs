//! `vcity nodes ...`: the node registry (rules §4). Registration and heartbeats are what the node
//! daemons send; these commands let an operator do it by hand and inspect the registry.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use vcity_sdk::{Client, Keyring};
use vcity_types::api::NodeView;
use vcity_types::compute::{
    AddStake, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode, Role, Unbond, UpdateNode,
    WithdrawUnbonded,
};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

/// `vcity nodes ...`
#[derive(Debug, Subcommand)]
pub enum NodesCommand {
    /// Registered nodes.
    List {
        /// Only this role: compute, scheduler or verifier.
        #[arg(long)]
        role: Option<String>,
    },
    /// One node.
    Show {
        /// The node's account (hex, did:key or keyring name).
        id: String,
    },
    /// Register the key `--from` as a node.
    Register {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// compute, scheduler or verifier.
        #[arg(long, default_value = "compute")]
        role: String,
        /// stable or flexible.
        #[arg(long, default_value = "flexible")]
        kind: String,
        /// A GPU entry MODEL:COUNT:VRAM_MIB, e.g. H100:8:81920 (repeatable).
        #[arg(long)]
        gpu: Vec<String>,
        /// CPU cores.
        #[arg(long, default_value_t = 0)]
        cpu_cores: u32,
        /// Memory, MiB.
        #[arg(long, default_value_t = 0)]
        ram_mib: u64,
        /// Region label.
        #[arg(long, default_value = "local")]
        region: String,
        /// The node's own endpoint.
        #[arg(long, default_value = "")]
        endpoint: String,
        /// Price per compute unit in USD, e.g. 0.0005 (compute nodes).
        #[arg(long, default_value = "0")]
        price_per_cu: String,
        /// VCAI to bond.
        #[arg(long)]
        stake: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Leave the network once no task is open on the node: the whole bond starts unbonding
    /// (withdraw it with `withdraw` after the unbonding period).
    Deregister {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Name the account that referred this compute node (docs/protocol.md, "Long-term
    /// incentives"): within one incentive period of registering, once. The referrer earns a share
    /// of the node's incentive rewards for a number of periods, paid by the pool.
    NameReferrer {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// The referrer: a keyring name or an account (hex).
        referrer: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Send one heartbeat.
    Heartbeat {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// Load, percent.
        #[arg(long, default_value_t = 0)]
        load_percent: u32,
        /// Tasks running.
        #[arg(long, default_value_t = 0)]
        running_tasks: u32,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Change the price per CU.
    SetPrice {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// USD per CU.
        #[arg(long)]
        price_per_cu: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Bond more VCAI.
    AddStake {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// VCAI.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Start unbonding VCAI (14 days, slashable meanwhile).
    Unbond {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// VCAI.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Withdraw released unbonding entries.
    Withdraw {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// The attestation rules and the nonce evidence must be bound to now (docs/attestation.md).
    Attestation,
    /// Present TEE attestation evidence for the compute node `--from` (docs/attestation.md).
    /// Give the CPU's evidence as files (an Intel quote with its collateral, or an SEV-SNP
    /// report with its VCEK) or take it from this machine with `--local`; GPU reports are
    /// added with `--gpu-report`/`--gpu-chain` (or from NVML with `--local`). The compute
    /// daemon does this by itself (`vcity node compute --tee`).
    Attest {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// Obtain the evidence on this machine (configfs-tsm, NVML), bound to the key and the
        /// chain's current nonce.
        #[arg(long, conflicts_with_all = ["intel_quote", "snp_report"])]
        local: bool,
        /// An Intel TDX or SGX DCAP quote (binary).
        #[arg(long, requires = "intel_collateral")]
        intel_quote: Option<PathBuf>,
        /// Intel's collateral for it (QuoteCollateralV3 JSON, as a PCCS serves it); with
        /// `--local`, for the quote obtained here.
        #[arg(long)]
        intel_collateral: Option<PathBuf>,
        /// An AMD SEV-SNP attestation report (binary or hex).
        #[arg(long, requires = "vcek", conflicts_with = "intel_quote")]
        snp_report: Option<PathBuf>,
        /// The VCEK certificate that signed it (DER).
        #[arg(long)]
        vcek: Option<PathBuf>,
        /// An NVIDIA GPU attestation report (SPDM request and response, binary or hex);
        /// repeatable, each with its `--gpu-chain`.
        #[arg(long)]
        gpu_report: Vec<PathBuf>,
        /// The GPU's certificate chain (PEM, leaf first).
        #[arg(long)]
        gpu_chain: Vec<PathBuf>,
        /// Also write the evidence (borsh) to this file, for `vcity node compute --tee FILE`.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Only build (and save) the evidence; send nothing.
        #[arg(long, requires = "save")]
        no_send: bool,
        /// The compute daemon's work directory, whose `tee-encryption.key` (made there if
        /// absent) the evidence binds [default: {home}/compute/{from}, the daemon's].
        #[arg(long)]
        work_dir: Option<PathBuf>,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// A file of bytes that may be written as hex text (as vendors' samples are).
fn binary_or_hex(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .map(str::trim)
        .unwrap_or_default();
    if !text.is_empty() && text.len() % 2 == 0 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
    {
        return hex::decode(text).with_context(|| format!("hex in {}", path.display()));
    }
    Ok(bytes)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Builds evidence from files.
fn evidence_from_files(
    intel: Option<(&Path, &Path)>,
    snp: Option<(&Path, &Path)>,
    gpus: &[(PathBuf, PathBuf)],
) -> anyhow::Result<vcity_attest::Evidence> {
    let cpu = match (intel, snp) {
        (Some((quote, collateral)), None) => vcity_attest::CpuEvidence::IntelDcap {
            quote: read(quote)?,
            collateral_json: read(collateral)?,
        },
        (None, Some((report, vcek))) => vcity_attest::CpuEvidence::AmdSnp {
            report: binary_or_hex(report)?,
            vcek_der: read(vcek)?,
        },
        _ => bail!("give one CPU evidence: --intel-quote with --intel-collateral, --snp-report with --vcek, or --local"),
    };
    let gpus = gpus
        .iter()
        .map(|(report, chain)| {
            let pem = String::from_utf8(read(chain)?)
                .with_context(|| format!("{} is not PEM text", chain.display()))?;
            Ok(vcity_attest::GpuEvidence {
                report: binary_or_hex(report)?,
                cert_chain_der: vcity_attest::pem_chain_to_der(&pem)
                    .with_context(|| format!("certificates in {}", chain.display()))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(vcity_attest::Evidence { cpu, gpus })
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    match text {
        "compute" => Ok(Role::Compute),
        "scheduler" => Ok(Role::Scheduler),
        "verifier" => Ok(Role::Verifier),
        other => bail!("role {other:?} must be compute, scheduler or verifier"),
    }
}

/// GPU entries MODEL:COUNT:VRAM_MIB.
pub fn parse_gpus(texts: &[String]) -> anyhow::Result<Vec<GpuSpec>> {
    texts.iter().map(|text| parse_gpu(text)).collect()
}

fn parse_gpu(text: &str) -> anyhow::Result<GpuSpec> {
    let parts: Vec<&str> = text.split(':').collect();
    let [model, count, vram] = parts.as_slice() else {
        bail!("GPU {text:?} must be MODEL:COUNT:VRAM_MIB, e.g. H100:8:81920");
    };
    Ok(GpuSpec {
        model: (*model).to_string(),
        count: count
            .parse()
            .with_context(|| format!("GPU count in {text:?}"))?,
        vram_mib: vram.parse().with_context(|| format!("VRAM in {text:?}"))?,
    })
}

fn print_node(view: &NodeView) {
    let node = &view.node;
    println!(
        "{} {:?} {:?} in {} — {} CU, {} USD/CU, stake {} VCAI (needs {}), {}, tasks {} done / {} lost",
        node.id,
        node.role,
        node.kind,
        node.region,
        node.capacity_cu_ppm as f64 / 1e6,
        node.price_per_cu_usd.to_decimal(Denom::Usd),
        node.stake.to_decimal(Denom::Vcai),
        view.required_stake.to_decimal(Denom::Vcai),
        if view.online { "online" } else { "offline" },
        node.tasks_completed,
        node.tasks_lost
    );
    if view.paused {
        println!("  paused: stake below the requirement past its grace; add stake to resume");
    } else if let Some(until_s) = view.grace_until_s {
        println!("  below a raised stake requirement: add stake before {until_s} s after genesis");
    }
    let trust = &node.trust;
    println!(
        "  reputation {:.1}%{}{}{}; verified {} CU; results confirmed {} / disproved {}; capacity challenges passed {} / failed {}",
        f64::from(view.reputation_ppm) / 10_000.0,
        if trust.probation { ", on probation" } else { "" },
        if trust.banned { ", BANNED" } else if trust.deregistered { ", deregistered" } else { "" },
        if node.healthy { "" } else { ", unhealthy" },
        trust.verified_cu_ppm as f64 / 1e6,
        trust.results_confirmed,
        trust.results_disproved,
        trust.challenges_passed,
        trust.challenges_failed,
    );
    for issue in &view.health_issues {
        println!("  health: {issue}");
    }
    let tee = &node.tee;
    if tee.tier == vcity_types::compute::TeeTier::None {
        println!("  TEE: none (no attestation evidence verified)");
    } else {
        println!(
            "  TEE: {} ({}), evidence {}, verified at {} s, until {} s after genesis{}",
            tee.tier.as_str(),
            tee.cpu,
            tee.evidence_hash,
            tee.attested_s,
            tee.expires_s,
            if tee.bound {
                ""
            } else {
                "; a recorded sample, not bound to this node"
            }
        );
    }
    for challenge in view.challenges.iter().take(3) {
        println!(
            "  capacity challenge {}: {} device(s), {:?}",
            challenge.id,
            challenge.devices.len(),
            challenge.state
        );
    }
    for slash in &view.slashes {
        println!(
            "  slash {}: {} ({:?}), {} VCAI at {} s, appeal until {} s, {:?}",
            slash.id,
            slash.offence.name(),
            slash.tier,
            slash.amount.to_decimal(Denom::Vcai),
            slash.at_s,
            slash.appeal_until_s,
            slash.state
        );
    }
}

/// Runs a nodes command.
pub fn nodes(settings: &Settings, command: NodesCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let vcai = |text: &str| {
        Amount::parse_decimal(text, Denom::Vcai).with_context(|| format!("amount {text:?}"))
    };
    let usd = |text: &str| {
        Amount::parse_decimal(text, Denom::Usd).with_context(|| format!("price {text:?}"))
    };
    let (from, message, options) = match command {
        NodesCommand::List { role } => {
            let role = role.as_deref().map(parse_role).transpose()?;
            let list = client.nodes(role)?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("no nodes registered");
            } else {
                list.iter().for_each(print_node);
            }
            return Ok(());
        }
        NodesCommand::Show { id } => {
            let view = client.node(&resolve_account(&ring, &id)?)?;
            if json {
                print_json(&view)?;
            } else {
                print_node(&view);
            }
            return Ok(());
        }
        NodesCommand::Register {
            from,
            role,
            kind,
            gpu,
            cpu_cores,
            ram_mib,
            region,
            endpoint,
            price_per_cu,
            stake,
            options,
        } => {
            let kind = parse_kind(&kind)?;
            let gpus = gpu
                .iter()
                .map(|text| parse_gpu(text))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let message = Message::RegisterNode(RegisterNode {
                role: parse_role(&role)?,
                kind,
                hardware: Hardware {
                    sandbox: None,
                    gpus,
                    cpu_cores,
                    ram_mib,
                },
                region,
                endpoint,
                price_per_cu_usd: usd(&price_per_cu)?,
                stake: vcai(&stake)?,
            });
            (from, message, options)
        }
        NodesCommand::Deregister { from, options } => (
            from,
            Message::Deregister(vcity_types::trust::Deregister {}),
            options,
        ),
        NodesCommand::NameReferrer {
            from,
            referrer,
            options,
        } => (
            from,
            Message::NameReferrer(vcity_types::compute::NameReferrer {
                referrer: resolve_account(&ring, &referrer)?,
            }),
            options,
        ),
        NodesCommand::Heartbeat {
            from,
            load_percent,
            running_tasks,
            options,
        } => {
            if load_percent > 100 {
                bail!("load is a percentage, 0-100");
            }
            // Measured here: the executor's self-test and the free disk under the home.
            let executor = vcity_executor::Executor::new(vcity_executor::Limits::default())
                .context("starting the executor for its self-test")?;
            let executor_ok = vcity_compute::health::executor_self_test(&executor).is_ok();
            let health = vcity_compute::health::report(
                executor_ok,
                &settings.home,
                &vcity_compute::health::GpuMonitor::default(),
            );
            let message = Message::NodeHeartbeat(NodeHeartbeat {
                load_ppm: load_percent * 10_000,
                running_tasks,
                health,
            });
            (from, message, options)
        }
        NodesCommand::SetPrice {
            from,
            price_per_cu,
            options,
        } => {
            let message = Message::UpdateNode(UpdateNode {
                price_per_cu_usd: Some(usd(&price_per_cu)?),
                endpoint: None,
                hardware: None,
            });
            (from, message, options)
        }
        NodesCommand::AddStake {
            from,
            amount,
            options,
        } => (
            from,
            Message::AddStake(AddStake {
                amount: vcai(&amount)?,
            }),
            options,
        ),
        NodesCommand::Unbond {
            from,
            amount,
            options,
        } => (
            from,
            Message::Unbond(Unbond {
                amount: vcai(&amount)?,
            }),
            options,
        ),
        NodesCommand::Withdraw { from, options } => (
            from,
            Message::WithdrawUnbonded(WithdrawUnbonded {}),
            options,
        ),
        NodesCommand::Attestation => {
            let status = client.attestation()?;
            if json {
                print_json(&status)?;
            } else {
                let rules = &status.params.rules;
                println!("nonce           {}", status.nonce);
                println!("previous nonce  {}", status.previous_nonce);
                println!("next nonce at   {} s after genesis", status.next_nonce_s);
                println!("verdicts last   {} s", rules.validity_s);
                println!("reports/block   {}", rules.max_reports_per_block);
                println!(
                    "TEE sampling    {}% of the level's rate",
                    rules.sampling_factor_ppm / 10_000
                );
                println!(
                    "registered      {} TDX MRTD, {} SGX MRENCLAVE, {} SNP measurements, {} GPU drivers",
                    rules.policy.tdx_mrtd.len(),
                    rules.policy.sgx_mrenclave.len(),
                    rules.policy.snp_measurements.len(),
                    rules.policy.gpu_driver_versions.len()
                );
                if status.params.accept_unbound_samples {
                    println!("this is a test network: it accepts recorded, unbound vendor samples");
                }
            }
            return Ok(());
        }
        NodesCommand::Attest {
            from,
            local,
            intel_quote,
            intel_collateral,
            snp_report,
            vcek,
            gpu_report,
            gpu_chain,
            save,
            no_send,
            work_dir,
            options,
        } => {
            if gpu_report.len() != gpu_chain.len() {
                bail!("each --gpu-report needs its --gpu-chain");
            }
            let status = client.attestation()?;
            // The daemon's own key: confidential jobs' keys are sealed to what this binds.
            let key_file = work_dir
                .unwrap_or_else(|| settings.home.join("compute").join(&from))
                .join("tee-encryption.key");
            let encryption_key =
                vcity_sdk::confidential::NodeSecret::load_or_create(&key_file)?.public();
            let evidence = if local {
                let key = ring.get(&from)?.signing_key()?;
                let binding = vcity_attest::Binding {
                    node_key: vcity_types::AccountId::from_public_key(&key.verifying_key()).0,
                    nonce: status.nonce.0,
                    encryption_key: encryption_key.0,
                };
                vcity_compute::tee::obtain(
                    &binding,
                    &vcity_compute::tee::Options {
                        intel_collateral,
                        ..Default::default()
                    },
                )?
            } else {
                let gpus: Vec<(PathBuf, PathBuf)> = gpu_report.into_iter().zip(gpu_chain).collect();
                evidence_from_files(
                    intel_quote.as_deref().zip(intel_collateral.as_deref()),
                    snp_report.as_deref().zip(vcek.as_deref()),
                    &gpus,
                )?
            };
            let encoded = borsh::to_vec(&evidence).context("encoding the evidence")?;
            if let Some(path) = &save {
                std::fs::write(path, &encoded)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if no_send {
                let hash = vcity_types::Hash(evidence.hash());
                if json {
                    print_json(&serde_json::json!({
                        "evidence_hash": hash,
                        "bytes": encoded.len(),
                        "gpus": evidence.gpus.len(),
                    }))?;
                } else {
                    println!(
                        "evidence {hash}: {} bytes, {} GPU report(s)",
                        encoded.len(),
                        evidence.gpus.len()
                    );
                }
                return Ok(());
            }
            let message = Message::AttestNode(vcity_types::compute::AttestNode {
                evidence: encoded,
                nonce: status.nonce,
                encryption_key,
            });
            (from, message, options)
        }
    };
    sign_and_send(&ring, &client, &from, vec![message], options, json)
}

/// `stable` or `flexible` (rules §4).
pub fn parse_kind(text: &str) -> anyhow::Result<NodeKind> {
    match text {
        "stable" => Ok(NodeKind::Stable),
        "flexible" => Ok(NodeKind::Flexible),
        other => bail!("kind {other:?} must be stable or flexible"),
    }
}
