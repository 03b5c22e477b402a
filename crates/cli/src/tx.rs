//! `vcity tx`: transfers, USD minting and burning, and raw signed transactions.

use crate::shared::config::Settings;
use crate::shared::{finish, resolve_account, sign_and_send, TxOptions, TxRefused};
use anyhow::Context as _;
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{BurnUsd, Message, MintUsd, Transfer};
use vcity_types::{Amount, Denom};

/// `vcity tx ...`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Send VCAI or USD.
    Transfer {
        /// Sender: a keyring name.
        #[arg(long)]
        from: String,
        /// Recipient: an account (hex), a did:key, or a keyring name.
        #[arg(long)]
        to: String,
        /// Amount in whole units with up to the denomination's decimals, e.g. 12.5.
        #[arg(long)]
        amount: String,
        /// vcai or usd.
        #[arg(long)]
        denom: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Mint USD (the issuer only; stands in for a bridge deposit).
    MintUsd {
        /// The issuer's keyring name.
        #[arg(long)]
        from: String,
        /// Recipient: an account (hex), a did:key, or a keyring name.
        #[arg(long)]
        to: String,
        /// Amount in USD, e.g. 100.25.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Burn USD from the issuer's balance (a bridge withdrawal).
    BurnUsd {
        /// The issuer's keyring name.
        #[arg(long)]
        from: String,
        /// Amount in USD.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Submit an already signed transaction (hex).
    Broadcast {
        /// Canonical signed-transaction bytes, hex.
        tx: String,
        /// Return once the mempool accepts it.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for the receipt.
        #[arg(long, default_value = "30s")]
        timeout: String,
    },
}

/// Runs a tx command.
pub fn tx(settings: &Settings, command: TxCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let (from, messages, options) = match command {
        TxCommand::Broadcast {
            tx,
            no_wait,
            timeout,
        } => {
            let bytes = hex::decode(tx.trim()).map_err(|error| TxRefused {
                code: 2,
                name: "malformed".into(),
                message: format!("transaction is not hex: {error}"),
            })?;
            let hash = client.submit(&bytes)?;
            return finish(&client, hash, no_wait, &timeout, json);
        }
        TxCommand::Transfer {
            from,
            to,
            amount,
            denom,
            options,
        } => {
            let denom: Denom = denom.parse()?;
            let message = Message::Transfer(Transfer {
                to: resolve_account(&ring, &to)?,
                denom,
                amount: Amount::parse_decimal(&amount, denom)
                    .with_context(|| format!("amount {amount:?}"))?,
            });
            (from, vec![message], options)
        }
        TxCommand::MintUsd {
            from,
            to,
            amount,
            options,
        } => {
            let message = Message::MintUsd(MintUsd {
                to: resolve_account(&ring, &to)?,
                amount: Amount::parse_decimal(&amount, Denom::Usd)
                    .with_context(|| format!("amount {amount:?}"))?,
            });
            (from, vec![message], options)
        }
        TxCommand::BurnUsd {
            from,
            amount,
            options,
        } => {
            let message = Message::BurnUsd(BurnUsd {
                amount: Amount::parse_decimal(&amount, Denom::Usd)
                    .with_context(|| format!("amount {amount:?}"))?,
            });
            (from, vec![message], options)
        }
    };
    sign_and_send(&ring, &client, &from, messages, options, json)
}
