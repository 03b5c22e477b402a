//! `vcity rewards ...`: buyback revenue to lockers (docs/protocol.md, "Buyback and
//! distribution") and the incentive pool's credits ("Incentives"), both paid by one claim.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{ClaimRewards, Message};
use vcity_types::Denom;

/// `vcity rewards ...`
#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// VCAI an account can claim now: buyback share and incentive credits (Proof of Capacity,
    /// Proof of Delivery, rebates), with the per-period history.
    Show {
        /// The account (hex, did:key or keyring name).
        account: String,
    },
    /// Claim your rewards (buyback share and incentive credits).
    Claim {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// Runs a rewards command.
pub fn rewards(settings: &Settings, command: RewardsCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    match command {
        RewardsCommand::Show { account } => {
            let view = client.rewards(&resolve_account(&ring, &account)?)?;
            if json {
                print_json(&view)?;
            } else {
                let vcai = |amount: vcity_types::Amount| amount.to_decimal(Denom::Vcai);
                println!(
                    "{} can claim {} VCAI (height {})",
                    view.account,
                    vcai(view.claimable_vcai),
                    view.height
                );
                println!("  buyback share      {}", vcai(view.buyback_vcai));
                let parts = [
                    ("unclaimed", &view.incentives_unclaimed),
                    ("all time", &view.incentives_total),
                ];
                for (label, part) in parts {
                    println!(
                        "  incentives {label:<9} capacity {} · delivery {} · performance {} · \
                         rebates {} · referrals {}",
                        vcai(part.capacity),
                        vcai(part.delivery),
                        vcai(part.performance),
                        vcai(part.rebate),
                        vcai(part.referral)
                    );
                }
                for entry in &view.incentives_history {
                    println!(
                        "  period {:>5}: capacity {} · delivery {} · performance {} · rebate {} · \
                         referral {}",
                        entry.period,
                        vcai(entry.parts.capacity),
                        vcai(entry.parts.delivery),
                        vcai(entry.parts.performance),
                        vcai(entry.parts.rebate),
                        vcai(entry.parts.referral)
                    );
                }
            }
            Ok(())
        }
        RewardsCommand::Claim { from, options } => sign_and_send(
            &ring,
            &client,
            &from,
            vec![Message::ClaimRewards(ClaimRewards {})],
            options,
            json,
        ),
    }
}
