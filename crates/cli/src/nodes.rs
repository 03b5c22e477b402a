//! `vcity nodes ...`: the node registry (rules §4). Registration and heartbeats are what the node
//! daemons send; these commands let an operator do it by hand and inspect the registry.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
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
