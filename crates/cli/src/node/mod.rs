//! `vcity node`: a chain node over a data directory (the solo engine), a BFT validator
//! (`validator.rs`), or a compute-layer daemon (`daemons.rs`).

pub mod daemons;
pub mod validator;

use crate::shared::config::Settings;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;

/// `vcity node` options: a chain node over a data directory, or a compute-layer daemon.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NodeArgs {
    /// A compute-layer daemon instead of a chain node.
    #[command(subcommand)]
    pub role: Option<crate::node::daemons::NodeRole>,
    /// Data directory holding genesis.json and validator_key.json.
    #[arg(long, env = "VCITY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// API listen address [default: config, else 127.0.0.1:8710].
    #[arg(long, env = "VCITY_LISTEN")]
    pub listen: Option<String>,
    /// Time between blocks [default: config, else 1s].
    #[arg(long, env = "VCITY_BLOCK_TIME")]
    pub block_time: Option<String>,
}

/// `vcity node`.
pub fn node(settings: &Settings, args: NodeArgs, json: bool) -> anyhow::Result<()> {
    match args.role {
        Some(crate::node::daemons::NodeRole::Validator(validator)) => {
            return crate::node::validator::run(settings, validator, json);
        }
        Some(role) => return crate::node::daemons::run(settings, role, json),
        None => {}
    }
    crate::shared::runtime::init_tracing(json);
    let Some(data_dir) = args.data_dir else {
        bail!("give --data-dir (a chain node), or a role: vcity node validator|compute|scheduler");
    };
    crate::devnet::run_node(settings, data_dir, args.listen, args.block_time, json)
}
