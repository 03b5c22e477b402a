//! `vcity rewards ...` and `vcity treasury show`: buyback revenue to lockers (SPEC §8) and the
//! incentive pool's credits (SPEC §6), both paid by one claim.

use crate::commands::{print_json, resolve_account, sign_and_send, TxOptions};
use crate::config::Settings;
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

/// `vcity treasury ...`
#[derive(Debug, Subcommand)]
pub enum TreasuryCommand {
    /// Revenue, the buyback in progress and the distributor.
    Show,
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
                        "  incentives {label:<9} capacity {} · delivery {} · rebates {}",
                        vcai(part.capacity),
                        vcai(part.delivery),
                        vcai(part.rebate)
                    );
                }
                for entry in &view.incentives_history {
                    println!(
                        "  period {:>5}: capacity {} · delivery {} · rebate {}",
                        entry.period,
                        vcai(entry.parts.capacity),
                        vcai(entry.parts.delivery),
                        vcai(entry.parts.rebate)
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

/// Runs a treasury command.
pub fn treasury(settings: &Settings, command: TreasuryCommand, json: bool) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    match command {
        TreasuryCommand::Show => {
            let view = client.treasury()?;
            if json {
                print_json(&view)?;
                return Ok(());
            }
            let vcai = |amount: vcity_types::Amount| amount.to_decimal(Denom::Vcai);
            println!(
                "treasury USD      {}",
                view.usd_balance.to_decimal(Denom::Usd)
            );
            println!(
                "buyback interval  from {} s, every {} s",
                view.interval_start_s, view.interval_s
            );
            println!(
                "  budget {} USD, spent {} USD, bought {} VCAI",
                view.budget_usd.to_decimal(Denom::Usd),
                view.spent_usd.to_decimal(Denom::Usd),
                vcai(view.bought_vcai)
            );
            println!(
                "  reference price {} USD/VCAI (+{} bps at most)",
                view.reference_price_usd_per_vcai, view.max_premium_bps
            );
            println!(
                "stream            {} of {} VCAI released, {} carried",
                vcai(view.stream_released_vcai),
                vcai(view.stream_vcai),
                vcai(view.carried_vcai)
            );
            println!(
                "distributed       {} VCAI, claimed {} VCAI, held {} VCAI (height {})",
                vcai(view.distributed_vcai),
                vcai(view.claimed_vcai),
                vcai(view.distributor_vcai),
                view.height
            );
            Ok(())
        }
    }
}
