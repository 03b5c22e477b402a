//! `vcity rewards ...` and `vcity treasury show`: buyback revenue to lockers (SPEC §8).

use crate::commands::{print_json, resolve_account, sign_and_send, TxOptions};
use crate::config::Settings;
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{ClaimRewards, Message};
use vcity_types::Denom;

/// `vcity rewards ...`
#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// VCAI a locker can claim now.
    Show {
        /// The account (hex, did:key or keyring name).
        account: String,
    },
    /// Claim your lock's rewards.
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
                println!(
                    "{} can claim {} VCAI (height {})",
                    view.account,
                    view.claimable_vcai.to_decimal(Denom::Vcai),
                    view.height
                );
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
