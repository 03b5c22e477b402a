//! `vcity gov ...`: proposals, comments, votes, execution and the supply quotas
//! (docs/governance.md; whitepaper §3.7, rules §9).
//!
//! A proposal's actions come from a TOML file (examples in `examples/governance/`). The file is
//! the JSON form of the `Propose` message written as TOML, with two conveniences: an amount may
//! be written with its denomination (`"1000 VCAI"`, `"2.5 USD"`) instead of base units, and an
//! account may be a keyring name.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use vcity_sdk::{Client, Keyring};
use vcity_types::governance::{CastVote, Choice, CommentProposal, ExecuteProposal, Propose};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

/// `vcity gov ...`
#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Open a proposal from a TOML file (needs the threshold ve weight and the deposit).
    Propose {
        /// The proposal file (see examples/governance/).
        file: PathBuf,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Proposals, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One proposal (by number or id) with its comments.
    Show {
        /// Number or id (hex).
        proposal: String,
    },
    /// Comment on a proposal in discussion or voting.
    Comment {
        /// Number or id.
        proposal: String,
        /// The text (at most 1,024 bytes).
        text: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Vote yes, no or abstain, with your ve weight at the proposal's snapshot.
    Vote {
        /// Number or id.
        proposal: String,
        /// yes, no or abstain.
        choice: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Execute a passed proposal after its timelock (anyone may).
    Execute {
        /// Number or id.
        proposal: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// The strategic issuance quotas and this year's cap.
    Quotas,
    /// Parameters, open proposals, paused modules and the governed funds.
    Status,
}

/// Keys whose values are amounts (base units, or `"<decimal> VCAI|USD"`).
const AMOUNT_KEYS: &[&str] = &[
    "amount",
    "immediate",
    "deposit",
    "min_fee_usd",
    "usd_per_cu",
];
/// Keys whose values are accounts (hex, did:key or a keyring name).
const ACCOUNT_KEYS: &[&str] = &["recipient", "public_key"];

fn amount_text(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if let Some((number, denom)) = text.rsplit_once(' ') {
        let denom: Denom = denom
            .to_lowercase()
            .parse()
            .map_err(|_| anyhow::anyhow!("{text:?}: unknown denomination {denom:?}"))?;
        let amount = Amount::parse_decimal(number.trim(), denom)
            .with_context(|| format!("amount {text:?}"))?;
        return Ok(amount.base_units().to_string());
    }
    text.parse::<u128>()
        .with_context(|| format!("{text:?}: base units, or a decimal with VCAI or USD"))?;
    Ok(text.to_string())
}

/// The proposal file as JSON, with amounts in base units and accounts resolved.
fn normalize(ring: &Keyring, key: &str, value: toml::Value) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value as Json;
    Ok(match value {
        toml::Value::String(text) if AMOUNT_KEYS.contains(&key) => {
            Json::String(amount_text(&text)?)
        }
        toml::Value::Integer(number) if AMOUNT_KEYS.contains(&key) => {
            Json::String(number.to_string())
        }
        toml::Value::String(text) if ACCOUNT_KEYS.contains(&key) => {
            Json::String(resolve_account(ring, &text)?.to_hex())
        }
        toml::Value::String(text) => Json::String(text),
        toml::Value::Integer(number) => Json::from(number),
        toml::Value::Float(_) => bail!("{key}: use integers or strings, not floats"),
        toml::Value::Boolean(flag) => Json::Bool(flag),
        toml::Value::Datetime(date) => Json::String(date.to_string()),
        toml::Value::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|item| normalize(ring, key, item))
                .collect::<anyhow::Result<_>>()?,
        ),
        toml::Value::Table(table) => Json::Object(
            table
                .into_iter()
                .map(|(name, item)| Ok((name.clone(), normalize(ring, &name, item)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
    })
}

/// Reads a proposal file.
pub fn read_proposal(ring: &Keyring, path: &Path) -> anyhow::Result<Propose> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_proposal(ring, &text).with_context(|| format!("proposal file {}", path.display()))
}

/// Parses a proposal file's text.
pub fn parse_proposal(ring: &Keyring, text: &str) -> anyhow::Result<Propose> {
    let value: toml::Value = toml::from_str(text)?;
    let json = normalize(ring, "", value)?;
    serde_json::from_value(json).context("not a proposal (see examples/governance/)")
}

fn proposal_id(client: &Client, key: &str) -> anyhow::Result<vcity_types::Hash> {
    Ok(client
        .proposal(key)
        .with_context(|| format!("proposal {key}"))?
        .proposal
        .id)
}

fn print_proposal(view: &vcity_ledger::governance::ProposalView) {
    let proposal = &view.proposal;
    println!(
        "#{} {} [{}] by {}",
        proposal.number, proposal.title, view.phase, proposal.proposer
    );
    println!("  id        {}", proposal.id);
    println!(
        "  voting    {} s to {} s; executable {} s to {} s (seconds after genesis)",
        proposal.voting_starts_s, proposal.voting_ends_s, proposal.executable_s, proposal.expires_s
    );
    let whole = vcity_ledger::ve::format_weight;
    println!(
        "  votes     yes {} / no {} / abstain {} veVCAI, quorum {} of {} ({} voters)",
        whole(proposal.yes),
        whole(proposal.no),
        whole(proposal.abstain),
        whole(proposal.quorum),
        whole(proposal.total_weight),
        proposal.voters
    );
    for action in &proposal.actions {
        println!(
            "  action    {}",
            serde_json::to_string(action).unwrap_or_default()
        );
    }
}

/// Runs a governance command.
pub fn gov(settings: &Settings, command: GovCommand, json: bool) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    let ring = || Keyring::open(&settings.keyring_dir());
    let (from, message, options) = match command {
        GovCommand::List { limit } => {
            let proposals = client.proposals(None, limit)?;
            if json {
                return print_json(&proposals);
            }
            if proposals.is_empty() {
                println!("no proposals");
            }
            for view in &proposals {
                print_proposal(view);
            }
            return Ok(());
        }
        GovCommand::Show { proposal } => {
            let view = client.proposal(&proposal)?;
            let comments = client.proposal_comments(&proposal)?;
            if json {
                return print_json(&serde_json::json!({"proposal": view, "comments": comments}));
            }
            print_proposal(&view);
            if !view.proposal.description.is_empty() {
                println!("\n{}\n", view.proposal.description);
            }
            for comment in &comments {
                println!(
                    "  [{} s] {}: {}",
                    comment.at_s, comment.author, comment.text
                );
            }
            return Ok(());
        }
        GovCommand::Quotas => {
            let quotas = client.quotas()?;
            if json {
                return print_json(&quotas);
            }
            println!(
                "revenue {} USD → {} stages; locked {} VCAI → {} stages of {} VCAI",
                quotas.revenue_usd.to_decimal(Denom::Usd),
                quotas.revenue_stages,
                quotas.locked_vcai.to_decimal(Denom::Vcai),
                quotas.equity_stages,
                quotas.equity_stage_vcai.to_decimal(Denom::Vcai)
            );
            println!(
                "issuances executed {}, quotas available {}",
                quotas.issuances, quotas.available
            );
            println!(
                "year {}: cap {} VCAI (5% of {}), issued {}",
                quotas.year,
                quotas.year_cap.to_decimal(Denom::Vcai),
                quotas.year_start_supply.to_decimal(Denom::Vcai),
                quotas.year_issued.to_decimal(Denom::Vcai)
            );
            return Ok(());
        }
        GovCommand::Status => return print_json(&client.governance()?),
        GovCommand::Propose {
            file,
            from,
            options,
        } => {
            let propose = read_proposal(&ring()?, &file)?;
            (from, Message::Propose(propose), options)
        }
        GovCommand::Comment {
            proposal,
            text,
            from,
            options,
        } => (
            from,
            Message::CommentProposal(CommentProposal {
                proposal: proposal_id(&client, &proposal)?,
                text,
            }),
            options,
        ),
        GovCommand::Vote {
            proposal,
            choice,
            from,
            options,
        } => {
            let choice: Choice = choice.parse().map_err(anyhow::Error::msg)?;
            (
                from,
                Message::CastVote(CastVote {
                    proposal: proposal_id(&client, &proposal)?,
                    choice,
                }),
                options,
            )
        }
        GovCommand::Execute {
            proposal,
            from,
            options,
        } => (
            from,
            Message::ExecuteProposal(ExecuteProposal {
                proposal: proposal_id(&client, &proposal)?,
            }),
            options,
        ),
    };
    sign_and_send(&ring()?, &client, &from, vec![message], options, json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vcity_types::governance::{Action, Fund, Module, ParamChange};

    #[test]
    fn every_example_parses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ring = Keyring::open(dir.path()).expect("keyring");
        ring.create("bob").expect("key");
        ring.create("carol").expect("key");
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/governance");
        let mut seen = 0;
        for entry in std::fs::read_dir(&examples).expect("examples/governance") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                read_proposal(&ring, &path).expect("example parses");
                seen += 1;
            }
        }
        assert!(seen >= 4, "only {seen} examples");
    }

    #[test]
    fn amounts_and_names_are_resolved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ring = Keyring::open(dir.path()).expect("keyring");
        let bob = ring.create("bob").expect("key").account;
        let propose = parse_proposal(
            &ring,
            r#"
title = "t"
[[actions]]
action = "spend"
from = "reserve"
denom = "vcai"
payments = [{ recipient = "bob", amount = "1.5 VCAI" }]
[[actions]]
action = "pause"
module = "jobs"
[[actions]]
action = "set_param"
change = { param = "swap_fee", bps = 25 }
"#,
        )
        .expect("parses");
        assert_eq!(
            propose.actions[0],
            Action::Spend {
                from: Fund::Reserve,
                denom: Denom::Vcai,
                payments: vec![vcity_types::governance::Payment {
                    recipient: bob,
                    amount: Amount::new(1_500_000_000_000_000_000),
                    vesting: None,
                }],
            }
        );
        assert_eq!(
            propose.actions[1],
            Action::Pause {
                module: Module::Jobs
            }
        );
        assert_eq!(
            propose.actions[2],
            Action::SetParam {
                change: ParamChange::SwapFee { bps: 25 }
            }
        );
        assert!(parse_proposal(&ring, "title = \"t\"\n[[actions]]\naction = \"burn\"\n").is_err());
        assert!(amount_text("1.5 EUR").is_err());
    }
}
