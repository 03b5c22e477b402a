//! `vcity treasury show`: revenue, the buyback in progress and the distributor.

use crate::shared::config::Settings;
use crate::shared::print_json;
use clap::Subcommand;
use vcity_sdk::Client;
use vcity_types::Denom;

/// `vcity treasury ...`
#[derive(Debug, Subcommand)]
pub enum TreasuryCommand {
    /// Revenue, the buyback in progress and the distributor.
    Show,
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
