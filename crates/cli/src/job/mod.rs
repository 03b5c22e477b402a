//! `vcity job ...`: jobs with escrow (rules §5). `submit`, `status`, `list` and `cancel` are the
//! user's; `assign`, `start`, `result` and `fail` are what scheduler and compute daemons send,
//! exposed for operators and for driving a devnet by hand.

pub mod confidential;
pub mod manifest;
pub mod run;

use crate::shared::config::{parse_duration, Settings};
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use std::path::PathBuf;
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{
    AssignTask, Billing, CancelJob, FailTask, Job, Requirements, StartTask, SubmitJob,
    SubmitResult, TaskState, Workload,
};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom, Hash};

/// `vcity job ...`
#[derive(Debug, Subcommand)]
// Parsed once per process from the command line: the size of the largest variant is no cost.
#[allow(clippy::large_enum_variant)]
pub enum JobCommand {
    /// Submit a job from a manifest (docs/job-spec.md), or from flags; its maximum cost goes
    /// into escrow.
    Submit {
        /// The job manifest (TOML); uploads its module and shards to the node's blob store.
        manifest: Option<PathBuf>,
        /// A reduce: the one task reads the outputs of this job's tasks, concatenated in task
        /// order (fetched from their nodes, or your kept copies, and checked).
        #[arg(long, requires = "manifest")]
        input_from: Option<u64>,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// How much checking the job buys: none, standard, high or full (overrides the
        /// manifest's `verification`; docs/verification.md).
        #[arg(long)]
        verification: Option<String>,
        /// Without a manifest: the module's content address, hex.
        #[arg(long, required_unless_present = "manifest")]
        module_hash: Option<String>,
        /// Input text given to every task.
        #[arg(long, default_value = "")]
        input: String,
        /// Number of tasks.
        #[arg(long, default_value_t = 1)]
        tasks: u32,
        /// Most CU one task may use.
        #[arg(long, required_unless_present = "manifest")]
        max_cu: Option<String>,
        /// Most USD per CU.
        #[arg(long, required_unless_present = "manifest")]
        max_price_per_cu: Option<String>,
        /// Pay a fixed USD price per task instead of per CU.
        #[arg(long)]
        fixed_price: Option<String>,
        /// Required GPU model.
        #[arg(long)]
        gpu_model: Option<String>,
        /// GPUs needed on one node.
        #[arg(long, default_value_t = 0)]
        gpu_count: u32,
        /// Memory per GPU, MiB.
        #[arg(long, default_value_t = 0)]
        min_vram_mib: u32,
        /// Required region.
        #[arg(long)]
        region: Option<String>,
        /// Required node kind: stable or flexible.
        #[arg(long)]
        node_kind: Option<String>,
        /// Place all tasks together or none (gang placement).
        #[arg(long)]
        gang: bool,
        /// A high-load job: only nodes with at least 96 GB of GPU memory in all.
        #[arg(long)]
        high_load: bool,
        /// The TEE tier a node must have proven: none, cpu or cpu+gpu (docs/attestation.md).
        #[arg(long, default_value = "none", value_parser = parse_tee)]
        tee: vcity_types::compute::TeeTier,
        /// Longest a task may run, e.g. 5m.
        #[arg(long, default_value = "5m")]
        max_duration: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Submit a job from a manifest, wait with a progress bar, then print or save the outputs.
    Run {
        /// The job manifest (TOML).
        manifest: PathBuf,
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Save each task's output as {dir}/task-{n}.out instead of printing it.
        #[arg(long)]
        output: Option<PathBuf>,
        /// A reduce: the one task reads the outputs of this job's tasks (see `submit`).
        #[arg(long)]
        input_from: Option<u64>,
        /// Give up waiting after this long (the job goes on).
        #[arg(long, default_value = "10m")]
        max_wait: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Fetch task outputs from the nodes that ran them (signed by your key, checked against the
    /// ledger's commitment).
    Result {
        /// Job id.
        id: u64,
        /// Your keyring name (the job's owner).
        #[arg(long)]
        from: String,
        /// Only this task.
        #[arg(long)]
        task: Option<u32>,
        /// Save each output as {dir}/task-{n}.out instead of printing it.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Content addresses and sizes of files, as a manifest's remote shards name them
    /// (`{ url = "...", address = "...", bytes = N }`).
    Address {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// A token to reach your service through its node's gateway, and the URL
    /// (`curl -H "Authorization: Bearer TOKEN" URL`).
    Token {
        /// Job id (a service).
        id: u64,
        /// Your keyring name (the job's owner).
        #[arg(long)]
        from: String,
        /// How long the token is good for (at most 30d).
        #[arg(long, default_value = "1h")]
        valid: String,
    },
    /// A task's log from the node that ran it (kept after the task ends).
    Logs {
        /// Job id.
        id: u64,
        /// Your keyring name (the job's owner).
        #[arg(long)]
        from: String,
        /// The task.
        #[arg(long, default_value_t = 0)]
        task: u32,
    },
    /// Grant the tasks of your confidential job their key, each sealed to the attested
    /// encryption key of the node it is assigned to (docs/attestation.md, "Confidential jobs");
    /// a task starts only once its key is granted.
    Grant {
        /// Job id.
        id: u64,
        /// Your keyring name (the job's owner).
        #[arg(long)]
        from: String,
        /// Keep granting as tasks are assigned, until none is pending or assigned.
        #[arg(long)]
        watch: bool,
        /// With --watch, give up after this long.
        #[arg(long, default_value = "1h")]
        max_wait: String,
    },
    /// Prepay CU over a term (rules §5); bill jobs to it with `subscription = ID` in a manifest.
    Subscribe {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// CU to prepay, e.g. 10.
        #[arg(long)]
        cu: String,
        /// Most USD per CU it pays.
        #[arg(long)]
        price_per_cu: String,
        /// How long it lasts, e.g. 30d or 12h.
        #[arg(long)]
        term: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// A prepaid subscription: what is left, what was used, when it ends.
    Subscription {
        /// Subscription id.
        id: u64,
    },
    /// A job and its tasks.
    Status {
        /// Job id.
        id: u64,
    },
    /// The latest jobs.
    List {
        /// Only this owner's (hex, did:key or keyring name).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Cancel your job's unstarted tasks (refunded).
    Cancel {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Job id.
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        options: TxOptions,
    },
    /// (scheduler) Assign a pending task to a compute node.
    Assign {
        /// The scheduler's keyring name.
        #[arg(long)]
        from: String,
        /// Job id.
        #[arg(long)]
        id: u64,
        /// Task index.
        #[arg(long)]
        task: u32,
        /// The compute node (hex, did:key or keyring name).
        #[arg(long)]
        compute_node: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// (compute node) Start an assigned task.
    Start {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// Job id.
        #[arg(long)]
        id: u64,
        /// Task index.
        #[arg(long)]
        task: u32,
        #[command(flatten)]
        options: TxOptions,
    },
    /// (compute node) Commit a task's result by hand.
    Commit {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// Job id.
        #[arg(long)]
        id: u64,
        /// Task index.
        #[arg(long)]
        task: u32,
        /// The output file (its content address and size go into the commitment).
        #[arg(long)]
        output: std::path::PathBuf,
        /// CU used, e.g. 12.5.
        #[arg(long)]
        cu: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// (compute node) Give a task back.
    Fail {
        /// The node's keyring name.
        #[arg(long)]
        from: String,
        /// Job id.
        #[arg(long)]
        id: u64,
        /// Task index.
        #[arg(long)]
        task: u32,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// CU given as a decimal with up to six places, to CU × 10^6.
pub(crate) fn cu_ppm(text: &str) -> anyhow::Result<u64> {
    // USD has six decimals too: reuse its exact decimal parser.
    let parsed = Amount::parse_decimal(text, Denom::Usd).with_context(|| format!("CU {text:?}"))?;
    u64::try_from(parsed.base_units()).context("CU out of range")
}

fn print_job(job: &Job) {
    println!(
        "job {} by {} ({} tasks, submitted at {} s)",
        job.id,
        job.owner,
        job.tasks.len(),
        job.submitted_s
    );
    for (index, task) in job.tasks.iter().enumerate() {
        println!(
            "  task {index}: {} (attempts {}, escrow {} USD)",
            task.state.describe(),
            task.attempts,
            task.escrow_usd.to_decimal(Denom::Usd)
        );
        if let (TaskState::Pending, Some(why)) = (&task.state, &task.unplaceable) {
            println!("          cannot be placed: {why}");
        }
    }
}

/// Runs a job command.
pub fn job(settings: &Settings, command: JobCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let hash = |text: &str| Hash::from_hex(text).with_context(|| format!("hash {text:?}"));
    let store = crate::job::run::OutputStore::new(settings.home.join("outputs"));
    let (from, message, options) = match command {
        JobCommand::Token { id, from, valid } => {
            use ed25519_dalek::Signer as _;
            let key = ring.get(&from)?.signing_key()?;
            let job = client.job(id)?;
            if job.workload.service.is_none() {
                bail!("job {id} is not a service");
            }
            let lifetime = parse_duration(&valid)?;
            if lifetime > std::time::Duration::from_secs(30 * 24 * 3_600) {
                bail!("a token is good for at most 30 days");
            }
            let expires_ms = vcity_sdk::compute::now_ms()
                .saturating_add(u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX));
            let signature =
                key.sign(vcity_types::compute::service_token_digest(id, expires_ms).as_bytes());
            let token = format!("{id}.{expires_ms}.{}", hex::encode(signature.to_bytes()));
            let url = match job.tasks.first().map(|task| &task.state) {
                Some(TaskState::Running { node, .. } | TaskState::Assigned { node, .. }) => {
                    let endpoint = client.node(node)?.node.endpoint;
                    Some(format!("{}/jobs/{id}/", endpoint.trim_end_matches('/')))
                }
                _ => None,
            };
            if json {
                print_json(&serde_json::json!({
                    "job_id": id,
                    "token": token,
                    "expires_ms": expires_ms,
                    "url": url,
                }))?;
            } else {
                println!("{token}");
                match url {
                    Some(url) => eprintln!("curl -H \"Authorization: Bearer $TOKEN\" {url}"),
                    None => eprintln!("job {id} is not running on a node now"),
                }
            }
            return Ok(());
        }
        JobCommand::Address { files } => {
            let mut listed = Vec::new();
            for file in files {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                let address = vcity_types::compute::content_address(&bytes);
                if !json {
                    println!(
                        "{}: address = \"{address}\", bytes = {}",
                        file.display(),
                        bytes.len()
                    );
                }
                listed.push(serde_json::json!({
                    "file": file.display().to_string(),
                    "address": address,
                    "bytes": bytes.len(),
                }));
            }
            if json {
                print_json(&listed)?;
            }
            return Ok(());
        }
        JobCommand::Subscription { id } => {
            let view = client.subscription(id)?;
            if json {
                print_json(&view)?;
            } else {
                println!(
                    "subscription {} by {}: {} of {} CU used, {} USD available, up to {} USD per CU, {} s to {} s{}",
                    view.id,
                    view.owner,
                    view.cu_used_ppm as f64 / 1e6,
                    view.cu_ppm as f64 / 1e6,
                    view.available_usd.to_decimal(Denom::Usd),
                    view.price_per_cu_usd.to_decimal(Denom::Usd),
                    view.starts_s,
                    view.ends_s,
                    if view.closed { " (ended)" } else { "" }
                );
            }
            return Ok(());
        }
        JobCommand::Subscribe {
            from,
            cu,
            price_per_cu,
            term,
            options,
        } => {
            let message = Message::Subscribe(vcity_types::compute::Subscribe {
                cu_ppm: cu_ppm(&cu)?,
                price_per_cu_usd: Amount::parse_decimal(&price_per_cu, Denom::Usd)
                    .with_context(|| format!("price {price_per_cu:?}"))?,
                term_s: parse_duration(&term)?.as_secs(),
            });
            (from, message, options)
        }
        JobCommand::Status { id } => {
            let view = client.job(id)?;
            if json {
                print_json(&view)?;
            } else {
                print_job(&view);
            }
            return Ok(());
        }
        JobCommand::List { owner } => {
            let owner = owner
                .map(|text| resolve_account(&ring, &text))
                .transpose()?;
            let list = client.jobs(owner.as_ref())?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("no jobs");
            } else {
                list.iter().for_each(print_job);
            }
            return Ok(());
        }
        JobCommand::Run {
            manifest,
            from,
            output,
            input_from,
            max_wait,
            options,
        } => {
            return crate::job::run::run(
                &ring,
                &client,
                crate::job::run::RunRequest {
                    manifest: &manifest,
                    from: &from,
                    output: output.as_deref(),
                    timeout: parse_duration(&max_wait)?,
                    options,
                    input_from,
                    store: &store,
                },
                json,
            )
        }
        JobCommand::Result {
            id,
            from,
            task,
            output,
        } => {
            let key = ring.get(&from)?.signing_key()?;
            let job = client.job(id)?;
            let tasks: Vec<u32> = match task {
                Some(task) => vec![task],
                None => (0..job.tasks.len() as u32).collect(),
            };
            return crate::job::run::show_outputs(
                &client,
                &key,
                &store,
                &job,
                &tasks,
                output.as_deref(),
                json,
            );
        }
        JobCommand::Grant {
            id,
            from,
            watch,
            max_wait,
        } => {
            let key = ring.get(&from)?.signing_key()?;
            return crate::job::confidential::grant(
                &client,
                &key,
                id,
                watch,
                parse_duration(&max_wait)?,
                json,
            );
        }
        JobCommand::Logs { id, from, task } => {
            let key = ring.get(&from)?.signing_key()?;
            let job = client.job(id)?;
            let entry = job
                .tasks
                .get(task as usize)
                .with_context(|| format!("job {id} has no task {task}"))?;
            // The node holding it, else the last one that did (a failed or returned task's log
            // is on the node it failed on).
            let node = match &entry.state {
                TaskState::Assigned { node, .. }
                | TaskState::Running { node, .. }
                | TaskState::Completed { node, .. }
                | TaskState::Settled { node, .. } => *node,
                _ => entry.last_node.with_context(|| {
                    format!(
                        "task {task} of job {id} never ran on a node (see `vcity job status {id}`)"
                    )
                })?,
            };
            // The node's copy, kept here too: after the node's retention period (or the node)
            // is gone, the kept copy is what is left.
            let kept = settings
                .home
                .join("logs")
                .join(format!("{id:012}-{task:04}.log"));
            let log = match client.task_log(&key, id, task, &node) {
                Ok(log) => {
                    std::fs::create_dir_all(settings.home.join("logs"))?;
                    std::fs::write(&kept, &log)
                        .with_context(|| format!("keeping the log in {}", kept.display()))?;
                    log
                }
                Err(error) => match std::fs::read(&kept) {
                    Ok(log) => {
                        eprintln!("the node did not answer ({error}); your kept copy:");
                        log
                    }
                    Err(_) => return Err(error.into()),
                },
            };
            // A confidential task's program log was sealed for you by its node.
            let log = crate::job::confidential::open_log(&job, &key, task, log);
            if json {
                print_json(&serde_json::json!({
                    "job_id": id,
                    "task": task,
                    "node": node,
                    "log": String::from_utf8_lossy(&log),
                }))?;
            } else {
                use std::io::Write as _;
                std::io::stdout().write_all(&log)?;
            }
            return Ok(());
        }
        JobCommand::Submit {
            manifest: Some(manifest),
            from,
            verification,
            input_from,
            options,
            ..
        } => {
            let mut resolved = crate::job::manifest::load(&manifest)?;
            if let Some(level) = verification {
                resolved.message.verification = level.parse().map_err(anyhow::Error::msg)?;
            }
            if let Some(job_id) = input_from {
                let key = ring.get(&from)?.signing_key()?;
                crate::job::run::feed_from(&client, &key, &store, job_id, &mut resolved)?;
            }
            if resolved.confidential {
                let key = ring.get(&from)?.signing_key()?;
                crate::job::confidential::seal(&mut resolved, &key, &store)?;
                eprintln!("{}", crate::job::confidential::submit_note(&from));
            }
            crate::job::run::upload(&client, &resolved, json)?;
            (from, Message::SubmitJob(resolved.message), options)
        }
        JobCommand::Submit {
            manifest: None,
            from,
            input_from: _,
            module_hash,
            input,
            tasks,
            max_cu,
            max_price_per_cu,
            fixed_price,
            gpu_model,
            gpu_count,
            min_vram_mib,
            region,
            node_kind,
            gang,
            high_load,
            tee,
            max_duration,
            verification,
            options,
        } => {
            let verification = match verification {
                Some(level) => level.parse().map_err(anyhow::Error::msg)?,
                None => vcity_types::trust::VerificationLevel::default(),
            };
            let billing = match fixed_price {
                Some(price) => Billing::FixedPerTask {
                    price_usd: Amount::parse_decimal(&price, Denom::Usd)
                        .with_context(|| format!("price {price:?}"))?,
                },
                None => Billing::PayAsYouGo,
            };
            let max_duration_s = parse_duration(&max_duration)?.as_secs();
            if max_duration_s == 0 {
                bail!("max duration must be at least one second");
            }
            let message = Message::SubmitJob(SubmitJob {
                workload: Workload {
                    executor: vcity_types::compute::ExecutorKind::Wasm,
                    module_hash: hash(module_hash.as_deref().unwrap_or_default())?,
                    input: input.into_bytes(),
                    shards: Vec::new(),
                    service: None,
                    output_dir: false,
                    confidential: None,
                },
                tasks,
                requirements: Requirements {
                    sandbox: None,
                    gpu_model,
                    gpu_count,
                    min_vram_mib,
                    region,
                    max_duration_s,
                    node_kind: node_kind
                        .as_deref()
                        .map(crate::nodes::parse_kind)
                        .transpose()?,
                    gang,
                    high_load,
                    tee,
                },
                max_cu_ppm_per_task: cu_ppm(max_cu.as_deref().unwrap_or_default())?,
                max_price_per_cu_usd: {
                    let text = max_price_per_cu.unwrap_or_default();
                    Amount::parse_decimal(&text, Denom::Usd)
                        .with_context(|| format!("price {text:?}"))?
                },
                billing,
                verification,
                retries: None,
            });
            (from, message, options)
        }
        JobCommand::Cancel { from, id, options } => {
            (from, Message::CancelJob(CancelJob { job_id: id }), options)
        }
        JobCommand::Assign {
            from,
            id,
            task,
            compute_node,
            options,
        } => {
            let node = resolve_account(&ring, &compute_node)?;
            (
                from,
                Message::AssignTask(AssignTask {
                    job_id: id,
                    task,
                    node,
                }),
                options,
            )
        }
        JobCommand::Start {
            from,
            id,
            task,
            options,
        } => (
            from,
            Message::StartTask(StartTask { job_id: id, task }),
            options,
        ),
        JobCommand::Commit {
            from,
            id,
            task,
            output,
            cu,
            options,
        } => {
            let bytes =
                std::fs::read(&output).with_context(|| format!("reading {}", output.display()))?;
            let commitment = vcity_types::compute::ResultCommitment {
                exit: vcity_types::compute::TaskExit::Success,
                output: vcity_types::compute::content_address(&bytes),
                output_bytes: bytes.len() as u64,
                cu_used_ppm: cu_ppm(&cu)?,
            };
            // The statement signs the commitment for the task's current attempt.
            let attempt = client
                .job(id)?
                .tasks
                .get(task as usize)
                .map(|entry| entry.attempts)
                .with_context(|| format!("job {id} has no task {task}"))?;
            let message = Message::SubmitResult(SubmitResult::signed(
                &client.status()?.chain_id,
                &ring.get(&from)?.signing_key()?,
                id,
                task,
                attempt,
                commitment,
            ));
            (from, message, options)
        }
        JobCommand::Fail {
            from,
            id,
            task,
            reason,
            options,
        } => (
            from,
            Message::FailTask(FailTask {
                job_id: id,
                task,
                reason,
            }),
            options,
        ),
    };
    sign_and_send(&ring, &client, &from, vec![message], options, json)
}

/// Parses a TEE tier name (`none`, `cpu`, `cpu+gpu`).
fn parse_tee(text: &str) -> Result<vcity_types::compute::TeeTier, String> {
    vcity_types::compute::TeeTier::parse(text)
        .ok_or_else(|| format!("{text:?} is not a TEE tier: none, cpu or cpu+gpu"))
}
