//! `vcity pool ...`: the VCAI/USD pool (rules §8). Quotes use the ledger's own pool math, so
//! what the CLI promises is what the chain computes.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use vcity_ledger::pool;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{AddLiquidity, Message, RemoveLiquidity, SwapExactIn, SwapExactOut};
use vcity_types::{Amount, Denom, Rounding};

/// `vcity pool ...`
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Reserves, spot price and fee.
    Price,
    /// An account's LP shares and their part of the reserves.
    Position {
        /// The account (hex, did:key or keyring name).
        account: String,
    },
    /// Swap: either sell an exact amount (--sell) or buy an exact amount (--buy).
    Swap {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Sell exactly this much of --denom.
        #[arg(long, conflicts_with = "buy")]
        sell: Option<String>,
        /// Buy exactly this much of --denom.
        #[arg(long)]
        buy: Option<String>,
        /// vcai or usd: the denomination of --sell or --buy.
        #[arg(long)]
        denom: String,
        /// Largest acceptable price move from the current quote, in basis points.
        #[arg(long, default_value_t = 100)]
        slippage_bps: u32,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Deposit VCAI and USD at the pool's ratio for LP shares.
    Add {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Most VCAI to deposit.
        #[arg(long)]
        vcai: String,
        /// Most USD to deposit.
        #[arg(long)]
        usd: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Burn LP shares for their part of the reserves.
    Remove {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Shares (base units), or `all`.
        #[arg(long)]
        shares: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

fn reserve(view: &vcity_types::api::PoolView, denom: Denom) -> u128 {
    match denom {
        Denom::Vcai => view.vcai_reserve.base_units(),
        Denom::Usd => view.usd_reserve.base_units(),
    }
}

/// Runs a pool command.
pub fn pool_command(settings: &Settings, command: PoolCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    match command {
        PoolCommand::Price => {
            let view = client.pool()?;
            if json {
                print_json(&view)?;
                return Ok(());
            }
            println!("price    {} USD per VCAI", view.price_usd_per_vcai);
            println!(
                "reserves {} VCAI / {} USD",
                view.vcai_reserve.to_decimal(Denom::Vcai),
                view.usd_reserve.to_decimal(Denom::Usd)
            );
            println!("shares   {}", view.total_shares);
            println!("fee      {} bps (height {})", view.fee_bps, view.height);
            Ok(())
        }
        PoolCommand::Position { account } => {
            let view = client.pool_position(&resolve_account(&ring, &account)?)?;
            if json {
                print_json(&view)?;
                return Ok(());
            }
            println!(
                "shares {} = {} VCAI + {} USD",
                view.shares,
                view.vcai.to_decimal(Denom::Vcai),
                view.usd.to_decimal(Denom::Usd)
            );
            Ok(())
        }
        PoolCommand::Swap {
            from,
            sell,
            buy,
            denom,
            slippage_bps,
            options,
        } => {
            let denom: Denom = denom.parse()?;
            let view = client.pool()?;
            let tolerance = u128::from(10_000u32.saturating_sub(slippage_bps.min(10_000)));
            let message = match (sell, buy) {
                (Some(sell), None) => {
                    let amount_in = Amount::parse_decimal(&sell, denom)
                        .with_context(|| format!("amount {sell:?}"))?;
                    let quote = pool::amount_out(
                        amount_in.base_units(),
                        reserve(&view, denom),
                        reserve(&view, denom.other()),
                        view.fee_bps,
                    )
                    .context("quote overflows")?;
                    let min_out = Amount::new(quote).mul_div(tolerance, 10_000, Rounding::Down)?;
                    Message::SwapExactIn(SwapExactIn {
                        denom_in: denom,
                        amount_in,
                        min_out,
                    })
                }
                (None, Some(buy)) => {
                    let amount_out = Amount::parse_decimal(&buy, denom)
                        .with_context(|| format!("amount {buy:?}"))?;
                    let quote = pool::amount_in(
                        amount_out.base_units(),
                        reserve(&view, denom.other()),
                        reserve(&view, denom),
                        view.fee_bps,
                    )
                    .context("the pool cannot pay that much")?;
                    let max_in =
                        Amount::new(quote).mul_div(10_000, tolerance.max(1), Rounding::Up)?;
                    Message::SwapExactOut(SwapExactOut {
                        denom_out: denom,
                        amount_out,
                        max_in,
                    })
                }
                _ => bail!("give exactly one of --sell or --buy"),
            };
            sign_and_send(&ring, &client, &from, vec![message], options, json)
        }
        PoolCommand::Add {
            from,
            vcai,
            usd,
            options,
        } => {
            let message = Message::AddLiquidity(AddLiquidity {
                vcai_max: Amount::parse_decimal(&vcai, Denom::Vcai)
                    .with_context(|| format!("amount {vcai:?}"))?,
                usd_max: Amount::parse_decimal(&usd, Denom::Usd)
                    .with_context(|| format!("amount {usd:?}"))?,
                min_shares: Amount::new(1),
            });
            sign_and_send(&ring, &client, &from, vec![message], options, json)
        }
        PoolCommand::Remove {
            from,
            shares,
            options,
        } => {
            let shares = if shares == "all" {
                let account = ring.get(&from)?.account;
                client.pool_position(&account)?.shares
            } else {
                Amount::new(
                    shares
                        .parse()
                        .with_context(|| format!("shares {shares:?}"))?,
                )
            };
            let message = Message::RemoveLiquidity(RemoveLiquidity {
                shares,
                min_vcai: Amount::ZERO,
                min_usd: Amount::ZERO,
            });
            sign_and_send(&ring, &client, &from, vec![message], options, json)
        }
    }
}
