//! `vcity agent ...`: agent NFTs, their sale, licences, calls and ratings (docs/agents.md).

use crate::job::run::{fetch_output, OutputStore};
use crate::shared::config::{parse_duration, Settings};
use crate::shared::TxRefused;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::time::{Duration, Instant};
use vcity_sdk::package::{Manifest, Package, MANIFEST};
use vcity_sdk::{Client, Keyring};
use vcity_types::agents::{
    AddAgentVersion, AgentMetadata, AgentProgram, BuyAgent, DelistAgent, InvokeAgent, LicenceKind,
    LicenceOffer, ListAgent, MintAgent, RateInvocation, RetireAgentVersion, Search,
    SetLicenceTerms, SortBy, TakeLicence, TransferAgent,
};
use vcity_types::api::AgentView;
use vcity_types::compute::{content_address, ExecutorKind, Requirements, Shard, TaskState};
use vcity_types::event::Event;
use vcity_types::receipt::Receipt;
use vcity_types::trust::VerificationLevel;
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

/// `vcity agent ...`
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Mint an agent NFT from a manifest (agent.toml): package its files, upload the package and
    /// the program, pay the creation fee.
    Mint {
        /// The manifest.
        #[arg(long)]
        manifest: std::path::PathBuf,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Append a version built from a manifest (you hold the agent).
    Version {
        /// The agent.
        id: u64,
        /// The manifest of the new version.
        #[arg(long)]
        manifest: std::path::PathBuf,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Retire a version: it is no longer invoked.
    Retire {
        /// The agent.
        id: u64,
        /// The version's number.
        number: u32,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Give the agent to another account (licences already sold stay in force).
    Transfer {
        /// The agent.
        id: u64,
        /// The new holder (hex, did:key or keyring name).
        #[arg(long)]
        to: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// List the agent for sale.
    List {
        /// The agent.
        id: u64,
        /// Price in USD, e.g. 250.
        #[arg(long)]
        price: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Withdraw the listing.
    Delist {
        /// The agent.
        id: u64,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Buy a listed agent.
    Buy {
        /// The agent.
        id: u64,
        /// The most you pay, USD [default: the listed price now].
        #[arg(long)]
        max_price: Option<String>,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Set the terms of use: licences for sale and the fee per call (you hold the agent).
    Terms {
        /// The agent.
        id: u64,
        /// An exclusive licence, DURATION:PRICE (e.g. 30d:500).
        #[arg(long)]
        exclusive: Vec<String>,
        /// A shared licence for good, at this USD price.
        #[arg(long)]
        shared: Option<String>,
        /// A time-limited licence, DURATION:PRICE (e.g. 7d:20).
        #[arg(long)]
        timed: Vec<String>,
        /// The fee for one call without a licence, USD (omit: calls need a licence).
        #[arg(long)]
        per_call: Option<String>,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Buy one of the agent's licences.
    License {
        /// The agent.
        id: u64,
        /// The offer's number in the terms (from `vcity agent show`).
        #[arg(long)]
        offer: u32,
        /// The most you pay, USD [default: the offer's price now].
        #[arg(long)]
        max_price: Option<String>,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Call an agent on the network: its program runs as a job you pay for, plus the call fee
    /// without a licence.
    Invoke(InvokeArgs),
    /// Rate a call you paid for, once it settled (1 to 5).
    Rate {
        /// The call's job.
        job: u64,
        /// 1 to 5.
        #[arg(long)]
        score: u8,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// One agent: its record, versions, terms, listing and score.
    Show {
        /// The agent.
        id: u64,
    },
    /// Find agents (docs/agents.md, "Discovery").
    Search {
        /// Carries this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Name or description contains this.
        #[arg(long)]
        text: Option<String>,
        /// Sells single calls at most at this fee, USD.
        #[arg(long)]
        max_call_fee: Option<String>,
        /// Only agents listed for sale.
        #[arg(long)]
        for_sale: bool,
        /// Only ranked agents scoring at least this (0 to 1).
        #[arg(long)]
        min_score: Option<String>,
        /// score, calls, price or newest.
        #[arg(long, default_value = "score")]
        sort: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// An agent call: its caller, fee, state and rating.
    Call {
        /// The call's job.
        job: u64,
    },
}

/// `vcity agent invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The agent.
    pub id: u64,
    /// The input, as text.
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// The input, from a file (uploaded by content address when over 16 KiB).
    #[arg(long)]
    pub input_file: Option<std::path::PathBuf>,
    /// The agent's version [default: the newest one not retired].
    #[arg(long, default_value_t = 0)]
    pub agent_version: u32,
    /// The most you pay as the call fee, USD [default: the agent's fee now; a licensee or the
    /// holder pays none].
    #[arg(long)]
    pub max_call_fee: Option<String>,
    /// Most CU the task may use.
    #[arg(long, default_value = "1")]
    pub max_cu: String,
    /// Most USD per CU.
    #[arg(long, default_value = "0.10")]
    pub max_price_per_cu: String,
    /// Longest the task may run.
    #[arg(long, default_value = "120s")]
    pub max_duration: String,
    /// Checking bought: none, standard, high or full.
    #[arg(long, default_value = "standard")]
    pub verification: String,
    /// Wait for the result and print it.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for the result.
    #[arg(long, default_value = "120s")]
    pub result_timeout: String,
    /// Your keyring name.
    #[arg(long)]
    pub from: String,
}

pub(crate) fn usd(text: &str) -> anyhow::Result<Amount> {
    Amount::parse_decimal(text, Denom::Usd).with_context(|| format!("USD amount {text:?}"))
}

fn offer(text: &str, kind: fn(u64) -> LicenceKind) -> anyhow::Result<LicenceOffer> {
    let (duration, price) = text
        .split_once(':')
        .with_context(|| format!("{text:?}: expected DURATION:PRICE, e.g. 30d:500"))?;
    Ok(LicenceOffer {
        kind: kind(parse_duration(duration)?.as_secs()),
        price_usd: usd(price)?,
    })
}

/// The program a manifest names, with its module bytes.
fn program_module(manifest: &Manifest, dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(name) = &manifest.program.workload {
        let workload = vcity_workloads::by_name(name).with_context(|| {
            let names: Vec<_> = vcity_workloads::ALL.iter().map(|w| w.name).collect();
            format!(
                "no example workload {name:?} (there are {})",
                names.join(", ")
            )
        })?;
        return Ok(workload.module.to_vec());
    }
    let file = manifest.program.module.as_deref().context("no program")?;
    let path = dir.join(file);
    std::fs::read(&path).with_context(|| format!("reading the module {}", path.display()))
}

/// Packages a manifest's directory: the manifest (with the module's hash filled in) and the files
/// it lists. Returns the package and the module.
pub(crate) fn build_package(
    manifest: &Manifest,
    dir: &Path,
    extra: &[(&str, Vec<u8>)],
) -> anyhow::Result<(Package, Vec<u8>)> {
    let module = program_module(manifest, dir)?;
    let mut recorded = manifest.clone();
    recorded.program.module_hash = Some(content_address(&module).to_string());
    let mut package = Package::default();
    package.insert(MANIFEST, toml::to_string(&recorded)?.into_bytes())?;
    for file in &manifest.files {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        package.insert(file, bytes)?;
    }
    for (path, bytes) in extra {
        package.insert(path, bytes.clone())?;
    }
    Ok((package, module))
}

/// Uploads a package and its module; the version's program.
pub(crate) fn upload(
    client: &Client,
    package: &Package,
    module: &[u8],
) -> anyhow::Result<AgentProgram> {
    let package_view = client
        .put_blob(&package.to_bytes())
        .context("uploading the agent package")?;
    let module_view = client.put_blob(module).context("uploading the program")?;
    Ok(AgentProgram {
        package_hash: package_view.address,
        module_hash: module_view.address,
        executor: ExecutorKind::Wasm,
    })
}

fn read_manifest(path: &Path) -> anyhow::Result<(Manifest, std::path::PathBuf)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the manifest {}", path.display()))?;
    let manifest = Manifest::parse(&text)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    Ok((manifest, dir))
}

/// `MintAgent` for a manifest whose package is uploaded.
pub(crate) fn mint_message(manifest: &Manifest, program: AgentProgram) -> Message {
    Message::MintAgent(MintAgent {
        program,
        metadata: AgentMetadata {
            name: manifest.name.clone(),
            description: manifest.description.clone(),
            tags: manifest.tags.clone(),
        },
        copyright: manifest.copyright.clone(),
        usage_terms: manifest.usage_terms.clone(),
        royalty_bps: manifest.royalty_bps,
    })
}

/// Signs and sends `messages` from `key`, waits for the receipt, and fails on a refusal.
pub(crate) fn send(
    client: &Client,
    key: &SigningKey,
    messages: Vec<Message>,
) -> anyhow::Result<Receipt> {
    let hash = client.send(key, messages, None)?;
    let receipt = client
        .wait_for_transaction(&hash, Duration::from_secs(60))?
        .receipt
        .context("committed without a receipt")?;
    if let Some(refused) = TxRefused::from_receipt(&receipt) {
        return Err(refused.into());
    }
    Ok(receipt)
}

/// The newest version of `agent` that is not retired.
pub(crate) fn live_version(agent: &AgentView, wanted: u32) -> anyhow::Result<AgentProgram> {
    let found = agent
        .version_list
        .iter()
        .rev()
        .find(|version| !version.retired && (wanted == 0 || version.number == wanted))
        .with_context(|| match wanted {
            0 => format!("every version of agent {} is retired", agent.agent.id),
            _ => format!("agent {} has no live version {wanted}", agent.agent.id),
        })?;
    Ok(found.program.clone())
}

/// A call to make.
#[derive(Debug)]
pub(crate) struct Call {
    pub agent_id: u64,
    pub version: u32,
    pub input: Vec<u8>,
    pub max_call_fee: Option<Amount>,
    pub max_cu_ppm: u64,
    pub max_price_per_cu_usd: Amount,
    pub max_duration_s: u64,
    pub verification: VerificationLevel,
}

/// Sends an `InvokeAgent` (uploading a large input); the job id.
pub(crate) fn invoke(client: &Client, key: &SigningKey, call: Call) -> anyhow::Result<u64> {
    // By default the caller accepts the fee the terms show now; the ledger charges nothing to
    // the holder and to licensees whatever the bound.
    let max_call_fee = match call.max_call_fee {
        Some(max) => max,
        None => client
            .agent(call.agent_id)?
            .agent
            .terms
            .and_then(|terms| terms.per_call_usd)
            .unwrap_or(Amount::ZERO),
    };
    let (input, shard) = if call.input.len() <= vcity_types::compute::MAX_INPUT_BYTES {
        (call.input, None)
    } else {
        let view = client
            .put_blob(&call.input)
            .context("uploading the call's input")?;
        (
            Vec::new(),
            Some(Shard {
                address: view.address,
                bytes: call.input.len() as u64,
                url: None,
            }),
        )
    };
    let message = Message::InvokeAgent(InvokeAgent {
        agent_id: call.agent_id,
        version: call.version,
        input,
        shard,
        requirements: Requirements {
            max_duration_s: call.max_duration_s,
            ..Requirements::default()
        },
        max_cu_ppm: call.max_cu_ppm,
        max_price_per_cu_usd: call.max_price_per_cu_usd,
        verification: call.verification,
        max_call_fee_usd: max_call_fee,
    });
    let receipt = send(client, key, vec![message])?;
    receipt
        .events
        .iter()
        .find_map(|event| match event {
            Event::AgentInvoked { job_id, .. } => Some(*job_id),
            _ => None,
        })
        .context("the call's receipt names no job")
}

/// Waits until the call's task has a result, then fetches it (checked against the ledger).
pub(crate) fn result(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    job_id: u64,
    timeout: Duration,
) -> anyhow::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    loop {
        let job = client.job(job_id)?;
        match &job.tasks[0].state {
            TaskState::Completed { .. } | TaskState::Settled { .. } => {
                let verified = fetch_output(client, key, store, &job, 0)?;
                if verified.commitment.exit != vcity_types::compute::TaskExit::Success {
                    bail!(
                        "the call's program ended {:?}: {}",
                        verified.commitment.exit,
                        String::from_utf8_lossy(&verified.output)
                    );
                }
                return Ok(verified.output);
            }
            TaskState::Failed { reason } => bail!("the call's job {job_id} failed: {reason}"),
            TaskState::Cancelled => bail!("the call's job {job_id} was cancelled"),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!(
                "no result for job {job_id} within {}s: {}",
                timeout.as_secs(),
                job.tasks[0].state.describe()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn print_agent(view: &AgentView) {
    let agent = &view.agent;
    println!("agent    {} \"{}\"", agent.id, agent.metadata.name);
    println!("creator  {} ({})", agent.creator, view.creator_did);
    println!("holder   {}", agent.owner);
    if !agent.metadata.description.is_empty() {
        println!("about    {}", agent.metadata.description);
    }
    if !agent.metadata.tags.is_empty() {
        println!("tags     {}", agent.metadata.tags.join(", "));
    }
    println!("royalty  {}%", f64::from(agent.royalty_bps) / 100.0);
    match view.score_ppm {
        Some(score) => println!(
            "score    {:.3} ({} ratings, {} calls)",
            f64::from(score) / 1e6,
            agent.ratings,
            agent.calls
        ),
        None => println!(
            "score    unranked ({} ratings, {} calls)",
            agent.ratings, agent.calls
        ),
    }
    if let Some(sale) = &agent.sale {
        println!("for sale {} USD", sale.price_usd.to_decimal(Denom::Usd));
    }
    if let Some(terms) = &agent.terms {
        for (index, offer) in terms.offers.iter().enumerate() {
            let kind = match offer.kind {
                LicenceKind::Exclusive { duration_s } => format!("exclusive for {duration_s} s"),
                LicenceKind::Shared => "shared, for good".to_string(),
                LicenceKind::Timed { duration_s } => format!("time-limited, {duration_s} s"),
            };
            println!(
                "offer {index}  {kind} at {} USD",
                offer.price_usd.to_decimal(Denom::Usd)
            );
        }
        match terms.per_call_usd {
            Some(fee) => println!("per call {} USD", fee.to_decimal(Denom::Usd)),
            None => println!("per call not sold (a licence is needed)"),
        }
    }
    for version in &view.version_list {
        println!(
            "v{:<7} package {} module {}{}",
            version.number,
            version.program.package_hash,
            version.program.module_hash,
            if version.retired { " (retired)" } else { "" }
        );
    }
}

/// Runs an agent command.
pub fn agent(settings: &Settings, command: AgentCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let (from, messages, options) = match command {
        AgentCommand::Show { id } => {
            let view = client.agent(id)?;
            return if json {
                print_json(&view)
            } else {
                print_agent(&view);
                Ok(())
            };
        }
        AgentCommand::Call { job } => {
            let view = client.agent_call(job)?;
            return if json {
                print_json(&view)
            } else {
                println!(
                    "job {} calls agent {} v{}: caller {}, fee {} USD, {:?}, rating {}",
                    view.job_id,
                    view.agent_id,
                    view.version,
                    view.caller,
                    view.fee_usd.to_decimal(Denom::Usd),
                    view.state,
                    view.rating
                        .map_or("none".to_string(), |score| score.to_string())
                );
                Ok(())
            };
        }
        AgentCommand::Search {
            tag,
            text,
            max_call_fee,
            for_sale,
            min_score,
            sort,
            limit,
        } => {
            let min_score_ppm = min_score
                .map(|text| -> anyhow::Result<u32> {
                    let score: f64 = text.parse().with_context(|| format!("score {text:?}"))?;
                    anyhow::ensure!((0.0..=1.0).contains(&score), "a score is 0 to 1");
                    Ok((score * 1e6) as u32)
                })
                .transpose()?;
            let search = Search {
                tag,
                text,
                max_call_usd: max_call_fee.as_deref().map(usd).transpose()?,
                for_sale: for_sale.then_some(true),
                min_score_ppm,
                owner: None,
                creator: None,
                sort: sort.parse::<SortBy>().map_err(anyhow::Error::msg)?,
            };
            let found = client.agents(&search, limit)?;
            if json {
                return print_json(&found);
            }
            if found.is_empty() {
                println!("no agent matches");
            }
            for view in &found {
                let agent = &view.agent;
                let fee = agent
                    .terms
                    .as_ref()
                    .and_then(|terms| terms.per_call_usd)
                    .map_or("licence only".to_string(), |fee| {
                        format!("{} USD/call", fee.to_decimal(Denom::Usd))
                    });
                let score = view.score_ppm.map_or("unranked".to_string(), |score| {
                    format!("{:.3}", f64::from(score) / 1e6)
                });
                println!(
                    "{:>5}  {:<32} {:<10} {:>6} calls  {}  [{}]",
                    agent.id,
                    agent.metadata.name,
                    score,
                    agent.calls,
                    fee,
                    agent.metadata.tags.join(", ")
                );
            }
            return Ok(());
        }
        AgentCommand::Invoke(args) => return invoke_command(settings, &ring, &client, args, json),
        AgentCommand::Mint {
            manifest,
            from,
            options,
        } => {
            let (manifest, dir) = read_manifest(&manifest)?;
            let (package, module) = build_package(&manifest, &dir, &[])?;
            let program = upload(&client, &package, &module)?;
            (from, vec![mint_message(&manifest, program)], options)
        }
        AgentCommand::Version {
            id,
            manifest,
            from,
            options,
        } => {
            let (manifest, dir) = read_manifest(&manifest)?;
            let (package, module) = build_package(&manifest, &dir, &[])?;
            let program = upload(&client, &package, &module)?;
            let message = Message::AddAgentVersion(AddAgentVersion {
                agent_id: id,
                program,
            });
            (from, vec![message], options)
        }
        AgentCommand::Retire {
            id,
            number,
            from,
            options,
        } => (
            from,
            vec![Message::RetireAgentVersion(RetireAgentVersion {
                agent_id: id,
                version: number,
            })],
            options,
        ),
        AgentCommand::Transfer {
            id,
            to,
            from,
            options,
        } => (
            from,
            vec![Message::TransferAgent(TransferAgent {
                agent_id: id,
                to: resolve_account(&ring, &to)?,
            })],
            options,
        ),
        AgentCommand::List {
            id,
            price,
            from,
            options,
        } => (
            from,
            vec![Message::ListAgent(ListAgent {
                agent_id: id,
                price_usd: usd(&price)?,
            })],
            options,
        ),
        AgentCommand::Delist { id, from, options } => (
            from,
            vec![Message::DelistAgent(DelistAgent { agent_id: id })],
            options,
        ),
        AgentCommand::Buy {
            id,
            max_price,
            from,
            options,
        } => {
            let max_price_usd = match max_price {
                Some(text) => usd(&text)?,
                None => {
                    client
                        .agent(id)?
                        .agent
                        .sale
                        .with_context(|| format!("agent {id} is not for sale"))?
                        .price_usd
                }
            };
            (
                from,
                vec![Message::BuyAgent(BuyAgent {
                    agent_id: id,
                    max_price_usd,
                })],
                options,
            )
        }
        AgentCommand::Terms {
            id,
            exclusive,
            shared,
            timed,
            per_call,
            from,
            options,
        } => {
            let mut offers = Vec::new();
            for text in &exclusive {
                offers.push(offer(text, |duration_s| LicenceKind::Exclusive {
                    duration_s,
                })?);
            }
            if let Some(price) = shared {
                offers.push(LicenceOffer {
                    kind: LicenceKind::Shared,
                    price_usd: usd(&price)?,
                });
            }
            for text in &timed {
                offers.push(offer(text, |duration_s| LicenceKind::Timed { duration_s })?);
            }
            let message = Message::SetLicenceTerms(SetLicenceTerms {
                agent_id: id,
                offers,
                per_call_usd: per_call.as_deref().map(usd).transpose()?,
            });
            (from, vec![message], options)
        }
        AgentCommand::License {
            id,
            offer,
            max_price,
            from,
            options,
        } => {
            let max_price_usd = match max_price {
                Some(text) => usd(&text)?,
                None => {
                    let terms = client
                        .agent(id)?
                        .agent
                        .terms
                        .with_context(|| format!("agent {id} offers no licences"))?;
                    terms
                        .offers
                        .get(offer as usize)
                        .with_context(|| format!("agent {id} has no offer {offer}"))?
                        .price_usd
                }
            };
            (
                from,
                vec![Message::TakeLicence(TakeLicence {
                    agent_id: id,
                    offer,
                    max_price_usd,
                })],
                options,
            )
        }
        AgentCommand::Rate {
            job,
            score,
            from,
            options,
        } => (
            from,
            vec![Message::RateInvocation(RateInvocation {
                job_id: job,
                score,
            })],
            options,
        ),
    };
    sign_and_send(&ring, &client, &from, messages, options, json)
}

fn invoke_command(
    settings: &Settings,
    ring: &Keyring,
    client: &Client,
    args: InvokeArgs,
    json: bool,
) -> anyhow::Result<()> {
    let key = ring.get(&args.from)?.signing_key()?;
    let input = match (&args.input, &args.input_file) {
        (Some(text), None) => text.clone().into_bytes(),
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        _ => bail!("give the input with --input or --input-file"),
    };
    let verification: VerificationLevel = args.verification.parse().map_err(anyhow::Error::msg)?;
    let job_id = invoke(
        client,
        &key,
        Call {
            agent_id: args.id,
            version: args.agent_version,
            input,
            max_call_fee: args.max_call_fee.as_deref().map(usd).transpose()?,
            max_cu_ppm: crate::job::cu_ppm(&args.max_cu)?,
            max_price_per_cu_usd: usd(&args.max_price_per_cu)?,
            max_duration_s: parse_duration(&args.max_duration)?.as_secs(),
            verification,
        },
    )?;
    let call = client.agent_call(job_id)?;
    if !args.wait {
        if json {
            return print_json(&call);
        }
        println!(
            "job {job_id} runs agent {} v{} (call fee {} USD); `vcity agent call {job_id}` follows it",
            call.agent_id,
            call.version,
            call.fee_usd.to_decimal(Denom::Usd)
        );
        return Ok(());
    }
    let store = OutputStore::new(settings.home.join("outputs"));
    let output = result(
        client,
        &key,
        &store,
        job_id,
        parse_duration(&args.result_timeout)?,
    )?;
    if json {
        return print_json(&serde_json::json!({
            "call": call,
            "output": String::from_utf8_lossy(&output),
        }));
    }
    println!("job {job_id}:");
    println!("{}", String::from_utf8_lossy(&output));
    Ok(())
}
