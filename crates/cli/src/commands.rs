//! `vcity keys`, `vcity tx` and `vcity query`.

use crate::config::{parse_duration, Settings};
use crate::TxRefused;
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde::Serialize;
use vcity_sdk::{Client, Keyring};
use vcity_types::api::{AccountView, TxView};
use vcity_types::keyfile::KeyFile;
use vcity_types::tx::{BurnUsd, Message, MintUsd, Transfer};
use vcity_types::{AccountId, Amount, Denom, Hash};

/// `vcity keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new random key.
    New {
        /// Its name: 1-64 characters of [a-z0-9_-].
        name: String,
    },
    /// List the keys.
    List,
    /// Show one key's account and DID (never the secret).
    Show {
        /// The name.
        name: String,
    },
}

#[derive(Debug, Serialize)]
struct KeyView {
    name: String,
    account: AccountId,
    did: String,
    file: String,
}

fn key_view(ring: &Keyring, key: &KeyFile) -> KeyView {
    KeyView {
        name: key.name.clone(),
        account: key.account,
        did: key.did.clone(),
        file: ring
            .dir()
            .join(format!("{}.json", key.name))
            .display()
            .to_string(),
    }
}

/// Pretty JSON on stdout: the `--json` output of every command.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs a keys command.
pub fn keys(settings: &Settings, command: KeysCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    match command {
        KeysCommand::New { name } => {
            let key = ring.create(&name)?;
            let view = key_view(&ring, &key);
            if json {
                return print_json(&view);
            }
            println!("created key {}", view.name);
            println!("  account {}", view.account);
            println!("  did     {}", view.did);
            println!(
                "  file    {} (mode 0600; back it up, it is the only copy)",
                view.file
            );
        }
        KeysCommand::List => {
            let keys: Vec<KeyView> = ring.list()?.iter().map(|k| key_view(&ring, k)).collect();
            if json {
                return print_json(&keys);
            }
            if keys.is_empty() {
                println!(
                    "no keys in {}; create one with `vcity keys new NAME`",
                    ring.dir().display()
                );
            }
            for key in keys {
                println!("{:<16} {}  {}", key.name, key.account, key.did);
            }
        }
        KeysCommand::Show { name } => {
            let view = key_view(&ring, &ring.get(&name)?);
            if json {
                return print_json(&view);
            }
            println!("name    {}", view.name);
            println!("account {}", view.account);
            println!("did     {}", view.did);
            println!("file    {}", view.file);
        }
    }
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

fn finish(
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
