//! `vcity query`: chain status, supply, accounts, blocks, transactions and proofs.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account};
use anyhow::Context as _;
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::api::AccountView;
use vcity_types::{Amount, Denom, Hash};

/// `vcity query ...`
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Chain id, height, latest block and state root.
    Status,
    /// Total and circulating VCAI and what the module accounts hold.
    Supply,
    /// Nonces and balances of an account (hex, did:key, or keyring name).
    Account {
        /// The account.
        account: String,
    },
    /// A block by height [default: the latest].
    Block {
        /// Height, or `latest`.
        #[arg(default_value = "latest")]
        height: String,
    },
    /// A transaction's status and receipt.
    Tx {
        /// Its hash (hex).
        hash: String,
    },
    /// A state value with its Merkle proof, verified against the block header's state root.
    Proof {
        /// The state key, e.g. bank/balance/{account hex}/usd.
        key: String,
        /// The key is given as hex.
        #[arg(long)]
        hex: bool,
    },
}

fn print_account(view: &AccountView) {
    println!("account {}", view.id);
    println!("did     {}", view.did);
    println!(
        "nonce   {} (next pending {})",
        view.next_nonce, view.pending_nonce
    );
    for balance in &view.balances {
        println!("{:<7} {}", balance.denom, balance.display);
    }
    println!("height  {}", view.height);
}

/// Runs a query command.
pub fn query(settings: &Settings, command: QueryCommand, json: bool) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    match command {
        QueryCommand::Status => {
            let status = client.status()?;
            if json {
                return print_json(&status);
            }
            println!("chain      {}", status.chain_id);
            println!("height     {}", status.height);
            println!("block      {}", status.latest_block_hash);
            println!("state root {}", status.state_root);
            println!("mempool    {}", status.mempool_size);
            println!("engine     {} (v{})", status.engine, status.version);
        }
        QueryCommand::Supply => {
            let supply = client.supply()?;
            if json {
                return print_json(&supply);
            }
            let vcai = |amount: Amount| amount.to_decimal(Denom::Vcai);
            println!("VCAI total        {}", vcai(supply.vcai_total));
            println!("VCAI circulating  {}", vcai(supply.vcai_circulating));
            println!("  vesting         {}", vcai(supply.vcai_vesting));
            println!("  reserve         {}", vcai(supply.vcai_reserve));
            println!("  incentive pool  {}", vcai(supply.vcai_incentive_pool));
            println!("  NFT reserve     {}", vcai(supply.vcai_nft_reserve));
            println!(
                "USD total         {}",
                supply.usd_total.to_decimal(Denom::Usd)
            );
            println!("height            {}", supply.height);
        }
        QueryCommand::Account { account } => {
            let ring = Keyring::open(&settings.keyring_dir())?;
            let view = client.account(&resolve_account(&ring, &account)?)?;
            if json {
                return print_json(&view);
            }
            print_account(&view);
        }
        QueryCommand::Block { height } => {
            let view = if height == "latest" {
                client.latest_block()?
            } else {
                let height: u64 = height
                    .parse()
                    .with_context(|| format!("height {height:?} is not a number or `latest`"))?;
                client.block(height)?
            };
            if json {
                return print_json(&view);
            }
            let header = &view.header;
            println!("block      {} at height {}", view.hash, header.height);
            println!("time       {} ms", header.time_ms);
            println!("previous   {}", header.previous_hash);
            println!("proposer   {}", header.proposer);
            println!("state root {}", header.state_root);
            println!("txs        {}", header.tx_count);
            for tx in &view.transactions {
                println!("  {tx}");
            }
        }
        QueryCommand::Tx { hash } => {
            let hash = Hash::from_hex(&hash).with_context(|| format!("hash {hash:?}"))?;
            let view = client.transaction(&hash)?;
            if json {
                return print_json(&view);
            }
            println!("tx      {}", view.tx_hash);
            println!("status  {:?}", view.status);
            println!("sender  {} nonce {}", view.body.sender, view.body.nonce);
            if let Some(receipt) = &view.receipt {
                println!(
                    "receipt height {} index {} code {}{}",
                    receipt.height,
                    receipt.index,
                    receipt.code,
                    if receipt.error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", receipt.error)
                    }
                );
            }
        }
        QueryCommand::Proof { key, hex } => {
            let key = if hex {
                hex::decode(&key).with_context(|| format!("key {key:?} is not hex"))?
            } else {
                key.into_bytes()
            };
            let proof = client.proof(&key)?;
            if json {
                return print_json(&serde_json::json!({
                    "verified": true,
                    "proof": proof.view,
                }));
            }
            match &proof.value {
                Some(value) => println!("value      {}", hex::encode(value)),
                None => println!("value      (absent)"),
            }
            println!(
                "verified against the state root {} of block {}",
                proof.view.state_root, proof.view.height
            );
        }
    }
    Ok(())
}
