//! `vcity`: keys, the embedded devnet, transactions and queries.
//!
//! Every command takes `--json` for machine-readable output on stdout. Exit status: 0 success;
//! 1 the network refused or failed the transaction (the output carries the stable error code,
//! docs/protocol.md); 2 anything else (bad arguments, unreachable node, I/O).

// One module per subcommand noun (a folder where the noun has parts), and `shared` (settings,
// logs and signals, transaction helpers), which imports none of them.
mod agent;
mod devnet;
mod gov;
mod image;
mod incentives;
mod job;
mod keys;
mod nft;
mod node;
mod nodes;
mod operator;
mod pool;
mod query;
mod rewards;
mod shared;
mod sim;
mod template;
mod testnet;
mod treasury;
mod tx;
mod ve;
mod verify;
mod vesting;

use clap::{Parser, Subcommand};
use shared::TxRefused;
use std::path::PathBuf;
use std::process::ExitCode;

/// Vcity: a decentralized GPU compute network with its own chain.
///
/// "rules §n" in this help is section n of docs/rules.md, the network's rules and economics;
/// error codes, encodings and state keys are in docs/protocol.md.
#[derive(Debug, Parser)]
#[command(name = "vcity", version, about, propagate_version = true)]
pub struct Cli {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Node API URL for tx and query commands [default: config file, else http://127.0.0.1:8710].
    #[arg(long, global = true, env = "VCITY_NODE")]
    pub node: Option<String>,
    /// Home directory holding the keyring and config.toml [default: ~/.vcity].
    #[arg(long, global = true, env = "VCITY_HOME")]
    pub home: Option<PathBuf>,
    /// Config file [default: {home}/config.toml].
    #[arg(long, global = true, env = "VCITY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the keyring.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Run the embedded single-validator network, creating it on first run.
    Devnet(devnet::DevnetArgs),
    /// Run a node from an existing data directory (genesis.json, validator_key.json), a BFT
    /// validator, or a compute-layer daemon.
    Node(node::NodeArgs),
    /// Run a local multi-validator network (Malachite BFT) as separate processes on loopback.
    Testnet(testnet::TestnetArgs),
    /// Build, sign and submit transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Read chain state.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Genesis vesting grants (rules §2).
    #[command(subcommand)]
    Vesting(vesting::VestingCommand),
    /// Genesis NFTs (rules §2).
    #[command(subcommand)]
    Nft(nft::NftCommand),
    /// Vote escrow: lock VCAI for veVCAI weight (rules §7).
    #[command(subcommand)]
    Ve(ve::VeCommand),
    /// The VCAI/USD pool: price, swaps, liquidity (rules §8).
    #[command(subcommand)]
    Pool(pool::PoolCommand),
    /// VCAI rewards: buyback shares of vote-escrow locks (rules §8) and incentive credits (rules §6).
    #[command(subcommand)]
    Rewards(rewards::RewardsCommand),
    /// The incentive pool: periods, utilization, the supply-demand controller (rules §6).
    #[command(subcommand)]
    Incentives(incentives::IncentivesCommand),
    /// The treasury: revenue, buyback, distributor (rules §8).
    #[command(subcommand)]
    Treasury(treasury::TreasuryCommand),
    /// The node registry: compute, scheduler and verifier nodes (rules §4).
    #[command(subcommand)]
    Nodes(nodes::NodesCommand),
    /// Jobs with escrow: submit, follow, cancel; and the daemons' task messages (rules §5).
    #[command(subcommand)]
    Job(job::JobCommand),
    /// The trust layer: checks, challenges, disputes, slashes and appeals
    /// (docs/verification.md).
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
    /// OCI images for image jobs: build one from a static program, inspect, serve
    /// (docs/job-spec.md, "Image jobs").
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Governance: proposals, votes, execution, supply quotas (docs/governance.md).
    #[command(subcommand)]
    Gov(gov::GovCommand),
    /// Agents as a Service: mint, version, sell, license, invoke, rate and find agent NFTs
    /// (docs/agents.md).
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Solution templates (tour guide, tutor, customer service): deploy one over your files as an
    /// agent, then ask it (docs/agents.md, "Templates").
    #[command(subcommand)]
    Template(template::TemplateCommand),
    /// For node operators: set a machine up for a role (host checks, config, key, systemd
    /// unit) and watch a node's standing and income (docs/operators.md).
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Simulate the network's economy on the real ledger and placement engine: seeded
    /// populations of providers, buyers, lockers, traders and attackers; writes a long-format
    /// CSV and SVG plots (docs/economics.md).
    Sim(sim::SimArgs),
}

fn main() -> ExitCode {
    // `vcity ... | head` closes stdout early; that is not an error worth a panic message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    let json = cli.json;
    let outcome = run(cli);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let refused = refusal(&error);
            if json {
                let value = match &refused {
                    Some(refused) => serde_json::json!({
                        "ok": false,
                        "code": refused.code,
                        "error": refused.name,
                        "message": refused.message,
                    }),
                    None => serde_json::json!({
                        "ok": false,
                        "code": 0,
                        "error": "error",
                        "message": format!("{error:#}"),
                    }),
                };
                println!("{value}");
            } else {
                eprintln!("error: {error:#}");
            }
            if refused.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// The refusal inside `error`, if it is one.
fn refusal(error: &anyhow::Error) -> Option<TxRefused> {
    for cause in error.chain() {
        if let Some(refused) = cause.downcast_ref::<TxRefused>() {
            return Some(TxRefused {
                code: refused.code,
                name: refused.name.clone(),
                message: refused.message.clone(),
            });
        }
        if let Some(vcity_sdk::ClientError::Rejected(api)) =
            cause.downcast_ref::<vcity_sdk::ClientError>()
        {
            if api.code != 0 {
                return Some(TxRefused {
                    code: api.code,
                    name: api.error.clone(),
                    message: api.message.clone(),
                });
            }
        }
    }
    None
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = shared::config::Settings::resolve(cli.home, cli.config, cli.node)?;
    match cli.command {
        Command::Keys(command) => keys::keys(&settings, command, cli.json),
        Command::Devnet(args) => devnet::devnet(&settings, args, cli.json),
        Command::Node(args) => node::node(&settings, args, cli.json),
        Command::Testnet(args) => testnet::testnet(&settings, args, cli.json),
        Command::Tx(command) => tx::tx(&settings, command, cli.json),
        Command::Query(command) => query::query(&settings, command, cli.json),
        Command::Vesting(command) => vesting::vesting(&settings, command, cli.json),
        Command::Nft(command) => nft::nft(&settings, command, cli.json),
        Command::Ve(command) => ve::ve(&settings, command, cli.json),
        Command::Pool(command) => pool::pool_command(&settings, command, cli.json),
        Command::Rewards(command) => rewards::rewards(&settings, command, cli.json),
        Command::Treasury(command) => treasury::treasury(&settings, command, cli.json),
        Command::Incentives(command) => incentives::incentives(&settings, command, cli.json),
        Command::Nodes(command) => nodes::nodes(&settings, command, cli.json),
        Command::Job(command) => job::job(&settings, command, cli.json),
        Command::Verify(command) => verify::verify(&settings, command, cli.json),
        Command::Image(command) => image::image(command, cli.json),
        Command::Gov(command) => gov::gov(&settings, command, cli.json),
        Command::Agent(command) => agent::agent(&settings, command, cli.json),
        Command::Template(command) => template::template(&settings, command, cli.json),
        Command::Operator(command) => operator::operator(&settings, command, cli.json),
        Command::Sim(args) => sim::sim(args, cli.json),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks every subcommand's arguments (unique names, valid defaults) here, in
        // every build, not only when a debug build happens to parse that subcommand.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
