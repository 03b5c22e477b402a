//! `vcity vesting ...`: the genesis allocation's vesting grants (docs/protocol.md, "Vesting").

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{ClaimVesting, Message};
use vcity_types::Denom;

fn vcai(amount: vcity_types::Amount) -> String {
    amount.to_decimal(Denom::Vcai)
}

/// `vcity vesting ...`
#[derive(Debug, Subcommand)]
pub enum VestingCommand {
    /// An account's grants: vested, claimed and claimable now.
    Show {
        /// The account (hex, did:key or keyring name).
        account: String,
    },
    /// Claim everything released so far on all of your grants.
    Claim {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// Runs a vesting command.
pub fn vesting(settings: &Settings, command: VestingCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    match command {
        VestingCommand::Show { account } => {
            let view = client.vesting(&resolve_account(&ring, &account)?)?;
            if json {
                return print_json(&view);
            }
            println!("account   {}", view.account);
            println!(
                "elapsed   {} s since genesis (height {})",
                view.elapsed_s, view.height
            );
            if view.grants.is_empty() {
                println!("no vesting grants");
            }
            let month = vcity_ledger::vesting::MONTH_S;
            let span = |seconds: u64| {
                if seconds % month == 0 {
                    format!("{} months", seconds / month)
                } else {
                    format!("{seconds} s")
                }
            };
            for grant in &view.grants {
                let steps = if grant.step_s == month {
                    "monthly".to_string()
                } else {
                    format!("in steps of {} s", grant.step_s)
                };
                println!(
                    "{:<20} total {} VCAI, {} at TGE, cliff {}, then over {} {}",
                    grant.allocation,
                    vcai(grant.total),
                    vcai(grant.at_tge),
                    span(grant.cliff_s),
                    span(grant.duration_s),
                    steps
                );
                println!(
                    "{:<20} vested {}, claimed {}, claimable {}",
                    "",
                    vcai(grant.vested),
                    vcai(grant.claimed),
                    vcai(grant.claimable)
                );
            }
            println!("claimable now: {} VCAI", vcai(view.claimable));
            Ok(())
        }
        VestingCommand::Claim { from, options } => sign_and_send(
            &ring,
            &client,
            &from,
            vec![Message::ClaimVesting(ClaimVesting {})],
            options,
            json,
        ),
    }
}
