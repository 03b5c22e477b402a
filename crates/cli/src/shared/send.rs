//! What every transaction command shares: the options, account names, signing, submitting and
//! reporting, and the `--json` printer.

use crate::shared::config::parse_duration;
use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use vcity_sdk::{Client, Keyring};
use vcity_types::api::TxView;
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Denom, Hash};

/// Pretty JSON on stdout: the `--json` output of every command.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Options shared by every transaction command.
#[derive(Debug, Args)]
pub struct TxOptions {
    /// Fee in USD (e.g. 0.001) [default: the chain's minimum].
    #[arg(long)]
    pub fee: Option<String>,
    /// Nonce [default: the sender's next pending nonce, from the node].
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Chain id [default: the node's].
    #[arg(long)]
    pub chain_id: Option<String>,
    /// Sign only and print the transaction hex; needs --chain-id, --nonce and --fee.
    #[arg(long)]
    pub offline: bool,
    /// Return once the mempool accepts it instead of waiting for the receipt.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the receipt.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
}

pub fn resolve_account(ring: &Keyring, text: &str) -> anyhow::Result<AccountId> {
    if let Ok(account) = text.parse::<AccountId>() {
        return Ok(account);
    }
    if ring.contains(text) {
        return Ok(ring.get(text)?.account);
    }
    bail!("{text:?} is neither an account (64 hex characters or did:key) nor a key in the keyring")
}

#[derive(Debug, Serialize)]
struct Submitted {
    ok: bool,
    tx_hash: Hash,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<TxView>,
}

/// Signs `messages` from the keyring key `from`, submits them (or prints them with --offline) and
/// waits for the receipt unless --no-wait.
pub fn sign_and_send(
    ring: &Keyring,
    client: &Client,
    from: &str,
    messages: Vec<Message>,
    options: TxOptions,
    json: bool,
) -> anyhow::Result<()> {
    let key = ring.get(from)?.signing_key()?;
    let sender = AccountId::from_public_key(&key.verifying_key());
    let fee = options
        .fee
        .as_deref()
        .map(|fee| Amount::parse_decimal(fee, Denom::Usd).with_context(|| format!("fee {fee:?}")))
        .transpose()?;

    if options.offline {
        let (Some(chain_id), Some(nonce), Some(fee)) = (&options.chain_id, options.nonce, fee)
        else {
            bail!("--offline needs --chain-id, --nonce and --fee");
        };
        let signed = vcity_sdk::transaction::sign(&key, chain_id, nonce, fee, messages);
        let hex = hex::encode(signed.to_bytes());
        if json {
            return print_json(
                &serde_json::json!({"ok": true, "tx_hash": signed.hash(), "tx": hex}),
            );
        }
        println!("{hex}");
        return Ok(());
    }

    let status = client.status()?;
    let chain_id = options.chain_id.unwrap_or(status.chain_id);
    let nonce = match options.nonce {
        Some(nonce) => nonce,
        None => client.account(&sender)?.pending_nonce,
    };
    let fee = fee.unwrap_or(status.min_fee_usd);
    let signed = vcity_sdk::transaction::sign(&key, &chain_id, nonce, fee, messages);
    let hash = client.submit(&signed.to_bytes())?;
    finish(client, hash, options.no_wait, &options.timeout, json)
}

/// Waits for the receipt of `hash` (unless `no_wait`) and reports it; a failed transaction is an
/// error carrying its code.
pub fn finish(
    client: &Client,
    hash: Hash,
    no_wait: bool,
    timeout: &str,
    json: bool,
) -> anyhow::Result<()> {
    if no_wait {
        if json {
            return print_json(&Submitted {
                ok: true,
                tx_hash: hash,
                transaction: None,
            });
        }
        println!("accepted {hash} (pending)");
        return Ok(());
    }
    let view = client.wait_for_transaction(&hash, parse_duration(timeout)?)?;
    let receipt = view
        .receipt
        .clone()
        .context("committed without a receipt")?;
    if json {
        print_json(&Submitted {
            ok: receipt.code == 0,
            tx_hash: hash,
            transaction: Some(view),
        })?;
    } else {
        println!(
            "committed {hash} at height {} (index {}), fee {} usd",
            receipt.height,
            receipt.index,
            receipt.fee_paid.to_decimal(Denom::Usd)
        );
        for event in &receipt.events {
            println!("  {}", serde_json::to_string(event)?);
        }
    }
    // Included, fee paid, but the messages failed.
    if let Some(refused) = TxRefused::from_receipt(&receipt) {
        return Err(refused.into());
    }
    Ok(())
}

/// A failure the exit status distinguishes: the network refused or failed a transaction.
#[derive(Debug, thiserror::Error)]
#[error("{message} (code {code}: {name})")]
pub struct TxRefused {
    /// Stable code.
    pub code: u32,
    /// Stable name.
    pub name: String,
    /// Detail.
    pub message: String,
}

impl TxRefused {
    /// The failure a committed transaction's receipt reports (included, fee paid, messages
    /// failed); none for a success.
    pub fn from_receipt(receipt: &vcity_types::receipt::Receipt) -> Option<TxRefused> {
        (receipt.code != 0).then(|| TxRefused {
            code: receipt.code,
            name: "failed".into(),
            message: receipt.error.clone(),
        })
    }
}
