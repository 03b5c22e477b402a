//! `vcity incentives ...`: the incentive pool, its periods and the supply-demand controller (rules
//! §6), and proposals to change their parameters.

use crate::shared::config::{parse_duration, Settings};
use crate::shared::{print_json, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::governance::{Action, ParamChange, Propose};
use vcity_types::incentives::{FeeTier, VramTier};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

/// `vcity incentives ...`
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum IncentivesCommand {
    /// The open period (P_supply, release, utilization so far, next period time), recent
    /// periods and the pools.
    Status,
    /// Propose incentive, fee and stake parameter changes: opens a governance proposal with one
    /// action per option given (it needs the proposal threshold's ve weight and the deposit;
    /// then `vcity gov vote` and `vcity gov execute`, docs/governance.md).
    Set {
        /// Your keyring name (the proposer).
        #[arg(long)]
        from: String,
        /// Incentive period length from the next period on, e.g. 1w, 1d, 30s.
        #[arg(long)]
        period: Option<String>,
        /// Percent of each period's scheduled VCAI released as rewards (the rest to grants).
        #[arg(long)]
        release_fraction: Option<String>,
        /// Percent of the supply side paid as Proof of Capacity (the rest Proof of Delivery).
        #[arg(long)]
        capacity_share: Option<String>,
        /// Controller coefficient k and target utilization in percent, e.g. 10:80.
        #[arg(long)]
        controller: Option<String>,
        /// Multi-GPU coefficient tiers, GB:coefficient, e.g. --vram-tier 96:1.2 (repeat).
        #[arg(long = "vram-tier")]
        vram_tiers: Vec<String>,
        /// Base network fee in percent (with --fee-tier for quality tiers).
        #[arg(long)]
        network_fee: Option<String>,
        /// A fee tier, reputation%:completed tasks:fee%, e.g. 95:100:8 (repeat).
        #[arg(long = "fee-tier")]
        fee_tiers: Vec<String>,
        /// Stake requirement in USD per CU of capacity, and its grace, e.g. 1000:3d.
        #[arg(long)]
        stake_requirement: Option<String>,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// `12.5` (percent) as ppm.
fn percent_ppm(text: &str) -> anyhow::Result<u32> {
    let text = text.trim().trim_end_matches('%');
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 4 || whole.is_empty() {
        bail!("{text:?}: a percentage with at most 4 decimals, e.g. 12.5");
    }
    let whole: u64 = whole.parse().with_context(|| format!("percent {text:?}"))?;
    let fraction: u64 = format!("{fraction:0<4}")
        .parse()
        .with_context(|| format!("percent {text:?}"))?;
    let ppm = whole * 10_000 + fraction;
    if ppm > 1_000_000 {
        bail!("{text:?} is above 100%");
    }
    Ok(u32::try_from(ppm)?)
}

/// `1.35` as ppm.
fn factor_ppm(text: &str) -> anyhow::Result<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 6 {
        bail!("{text:?}: at most 6 decimals");
    }
    let whole: u32 = whole.parse().with_context(|| format!("factor {text:?}"))?;
    let fraction: u32 = format!("{fraction:0<6}")
        .parse()
        .with_context(|| format!("factor {text:?}"))?;
    whole
        .checked_mul(1_000_000)
        .and_then(|ppm| ppm.checked_add(fraction))
        .with_context(|| format!("factor {text:?} is too large"))
}

fn pair<'a>(text: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    text.split_once(':')
        .with_context(|| format!("{text:?}: expected {what}"))
}

/// The parameter changes the `set` options ask for.
#[allow(clippy::too_many_arguments)]
fn changes(
    period: Option<String>,
    release_fraction: Option<String>,
    capacity_share: Option<String>,
    controller: Option<String>,
    vram_tiers: Vec<String>,
    network_fee: Option<String>,
    fee_tiers: Vec<String>,
    stake_requirement: Option<String>,
) -> anyhow::Result<Vec<ParamChange>> {
    let mut changes = Vec::new();
    if let Some(period) = period {
        let period_s = parse_duration(&period)?.as_secs();
        changes.push(ParamChange::IncentivePeriod { period_s });
    }
    if let Some(text) = release_fraction {
        changes.push(ParamChange::ReleaseFraction {
            ppm: percent_ppm(&text)?,
        });
    }
    if let Some(text) = capacity_share {
        changes.push(ParamChange::CapacityShare {
            ppm: percent_ppm(&text)?,
        });
    }
    if let Some(text) = controller {
        let (k, target) = pair(&text, "k%:target%")?;
        changes.push(ParamChange::Controller {
            k_ppm: percent_ppm(k)?,
            target_ppm: percent_ppm(target)?,
        });
    }
    if !vram_tiers.is_empty() {
        let tiers = vram_tiers
            .iter()
            .map(|text| {
                let (gb, coefficient) = pair(text, "GB:coefficient")?;
                let gb: u64 = gb.parse().with_context(|| format!("GB in {text:?}"))?;
                Ok(VramTier {
                    min_vram_mib: gb * 1_024,
                    coefficient_ppm: factor_ppm(coefficient)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        changes.push(ParamChange::VramTiers { tiers });
    }
    if network_fee.is_some() || !fee_tiers.is_empty() {
        let Some(fee) = network_fee else {
            bail!("--fee-tier needs --network-fee (the base fee)");
        };
        let tiers = fee_tiers
            .iter()
            .map(|text| {
                let parts: Vec<&str> = text.split(':').collect();
                let [reputation, completed, fee] = parts[..] else {
                    bail!("{text:?}: expected reputation%:completed:fee%");
                };
                Ok(FeeTier {
                    min_reputation_ppm: percent_ppm(reputation)?,
                    min_completed: completed
                        .parse()
                        .with_context(|| format!("completed tasks in {text:?}"))?,
                    fee_ppm: percent_ppm(fee)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        changes.push(ParamChange::NetworkFee {
            fee_ppm: percent_ppm(&fee)?,
            tiers,
        });
    }
    if let Some(text) = stake_requirement {
        let (usd, grace) = pair(&text, "USD per CU:grace")?;
        changes.push(ParamChange::StakeRequirement {
            usd_per_cu: Amount::parse_decimal(usd, Denom::Usd)
                .with_context(|| format!("USD per CU {usd:?}"))?,
            grace_s: parse_duration(grace)?.as_secs(),
        });
    }
    if changes.is_empty() {
        bail!("nothing to change: give at least one option (see --help)");
    }
    Ok(changes)
}

fn percent(ppm: u64) -> String {
    format!("{}.{:02}%", ppm / 10_000, ppm % 10_000 / 100)
}

/// Runs an incentives command.
pub fn incentives(
    settings: &Settings,
    command: IncentivesCommand,
    json: bool,
) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    match command {
        IncentivesCommand::Status => {
            let status = client.incentives()?;
            if json {
                return print_json(&status);
            }
            let now_s = client.status()?.chain_time_s;
            let vcai = |amount: Amount| amount.to_decimal(Denom::Vcai);
            let Some(open) = &status.current else {
                println!("no incentive period has opened yet (no block since genesis)");
                return Ok(());
            };
            println!(
                "period {} from {} s, {} s long; next period at {} s (in {} s)",
                open.index,
                open.start_s,
                open.length_s,
                open.end_s(),
                open.end_s().saturating_sub(now_s)
            );
            println!(
                "P_supply {} · P_demand {}",
                percent(open.supply_share_ppm),
                percent(1_000_000 - open.supply_share_ppm)
            );
            println!(
                "release {} VCAI: capacity {} · delivery {} · performance {} · rebates {}; \
                 grants {}",
                vcai(open.released()),
                vcai(open.budget.capacity),
                vcai(open.budget.delivery),
                vcai(open.budget.performance),
                vcai(open.budget.rebate),
                vcai(open.grants)
            );
            let cu = |ppm: u128| format!("{}.{:03}", ppm / 1_000_000, ppm % 1_000_000 / 1_000);
            println!(
                "utilization so far {} ({} of {} CU); {} accounts scoring",
                percent(status.utilization_so_far_ppm),
                cu(open.consumed_cu_ppm),
                cu(open.available_cu_ppm),
                open.members
            );
            for closed in &status.recent {
                println!(
                    "  period {:>5}: U {} · P_supply {} · credited {} VCAI to {} accounts, {} back to the pool{}",
                    closed.index,
                    percent(closed.utilization_ppm),
                    percent(closed.supply_share_ppm),
                    vcai(closed.credited.total()?),
                    closed.credited_members,
                    vcai(closed.returned),
                    if closed.settled { "" } else { " (crediting)" }
                );
            }
            println!(
                "pool: {} VCAI unreleased ({} in the account); grants fund {}; unclaimed credits {}",
                vcai(status.remaining),
                vcai(status.pool_vcai),
                vcai(status.grants_vcai),
                vcai(status.unclaimed_vcai)
            );
            Ok(())
        }
        IncentivesCommand::Set {
            from,
            period,
            release_fraction,
            capacity_share,
            controller,
            vram_tiers,
            network_fee,
            fee_tiers,
            stake_requirement,
            options,
        } => {
            let actions = changes(
                period,
                release_fraction,
                capacity_share,
                controller,
                vram_tiers,
                network_fee,
                fee_tiers,
                stake_requirement,
            )?
            .into_iter()
            .map(|change| Action::SetParam { change })
            .collect::<Vec<_>>();
            let title = format!("Set {} incentive parameter(s)", actions.len());
            let message = Message::Propose(Propose {
                title,
                description: String::new(),
                actions,
            });
            let ring = Keyring::open(&settings.keyring_dir())?;
            sign_and_send(&ring, &client, &from, vec![message], options, json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_parameter_changes() {
        assert_eq!(percent_ppm("12.5").expect("valid"), 125_000);
        assert_eq!(percent_ppm("100").expect("valid"), 1_000_000);
        assert!(percent_ppm("100.01").is_err());
        assert_eq!(factor_ppm("1.35").expect("valid"), 1_350_000);
        let changes = changes(
            Some("1d".into()),
            Some("70".into()),
            None,
            Some("10:80".into()),
            vec!["96:1.2".into()],
            Some("10".into()),
            vec!["95:100:8".into()],
            Some("1000:3d".into()),
        )
        .expect("valid");
        assert_eq!(
            changes,
            vec![
                ParamChange::IncentivePeriod { period_s: 86_400 },
                ParamChange::ReleaseFraction { ppm: 700_000 },
                ParamChange::Controller {
                    k_ppm: 100_000,
                    target_ppm: 800_000
                },
                ParamChange::VramTiers {
                    tiers: vec![VramTier {
                        min_vram_mib: 98_304,
                        coefficient_ppm: 1_200_000
                    }]
                },
                ParamChange::NetworkFee {
                    fee_ppm: 100_000,
                    tiers: vec![FeeTier {
                        min_reputation_ppm: 950_000,
                        min_completed: 100,
                        fee_ppm: 80_000
                    }]
                },
                ParamChange::StakeRequirement {
                    usd_per_cu: Amount::new(1_000_000_000),
                    grace_s: 259_200
                },
            ]
        );
        assert!(super::changes(None, None, None, None, vec![], None, vec![], None).is_err());
    }
}
