//! `vcity verify ...`: the trust layer (docs/verification.md): its status, challenging a result,
//! reporting equivocation, appealing a slash and governance's decision, and the records of
//! capacity challenges, disputes and slashes.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::{bail, Context as _};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{task_seed, ResultCommitment, TaskState};
use vcity_types::governance::{Action, Propose};
use vcity_types::trust::{Appeal, ChallengeResult, ReportEquivocation, SignedResult};
use vcity_types::tx::Message;
use vcity_types::Denom;

/// `vcity verify ...`
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Sampling rates, verifiers, the verification fees, open deposits and the slash escrow.
    Status,
    /// Dispute a task's committed result before its window closes: re-executes the task here
    /// (or takes `--commitment`) and posts the challenge with its deposit.
    Challenge {
        /// Job id.
        job: u64,
        /// Task index.
        task: u32,
        /// The challenger's keyring name (pays the deposit).
        #[arg(long)]
        from: String,
        /// A commitment (JSON, as `vcity job result` prints) from a re-execution done
        /// elsewhere, instead of re-executing here.
        #[arg(long)]
        commitment: Option<PathBuf>,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Report two different signed result statements of one node for one attempt (JSON files,
    /// each as a compute node serves it with a result).
    Equivocation {
        /// One statement.
        first: PathBuf,
        /// The other.
        second: PathBuf,
        /// The reporter's keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Appeal a slash of your node within its appeal window.
    Appeal {
        /// The slash id.
        slash: u64,
        /// Why (at most 256 bytes).
        #[arg(long)]
        reason: String,
        /// The slashed node's keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Propose a decision on an appeal: opens a governance proposal with a `decide_appeal`
    /// action (docs/governance.md).
    Decide {
        /// The slash id.
        slash: u64,
        /// Uphold the appeal: the stake goes back to the node.
        #[arg(long, conflicts_with = "reject")]
        uphold: bool,
        /// Reject it: the escrow pays out now.
        #[arg(long)]
        reject: bool,
        /// Your keyring name (the proposer).
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// A capacity challenge.
    Capacity {
        /// The challenge id.
        id: u64,
    },
    /// A dispute.
    Dispute {
        /// The dispute id.
        id: u64,
    },
    /// A slash.
    Slash {
        /// The slash id.
        id: u64,
    },
    /// A verifier's open duties.
    Duties {
        /// The verifier (hex, did:key or keyring name).
        verifier: String,
    },
}

fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Re-executes a committed task here, as a verifier would.
fn reexecute(
    client: &Client,
    job_id: u64,
    task: u32,
) -> anyhow::Result<(ResultCommitment, ResultCommitment)> {
    let job = client.job(job_id)?;
    let entry = job
        .tasks
        .get(task as usize)
        .with_context(|| format!("job {job_id} has no task {task}"))?;
    let TaskState::Completed { commitment, .. } = &entry.state else {
        bail!(
            "job {job_id} task {task} is {}; only a completed result in its window can be challenged",
            entry.state.describe()
        );
    };
    let module = client.blob(&job.workload.module_hash)?;
    let executor = vcity_executor::Executor::new(vcity_executor::Limits::default())
        .context("starting the executor")?;
    let factor_ppm = entry.factor_ppm.max(1);
    let outcome = executor.run(&vcity_executor::Task {
        module: &module,
        input: &job.workload.input,
        fuel: vcity_executor::fuel_for_cu_ppm(job.max_cu_ppm_per_task, factor_ppm),
        factor_ppm,
        seed: task_seed(job_id, task),
        wall_clock: Some(Duration::from_secs(job.requirements.max_duration_s.max(1))),
    });
    let mine = outcome
        .commitment()
        .context("the re-execution ran out of wall-clock time; no verdict")?;
    Ok((commitment.clone(), mine))
}

/// Runs a verify command.
pub fn verify(settings: &Settings, command: VerifyCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let (from, message, options) = match command {
        VerifyCommand::Status => {
            let status = client.trust()?;
            if json {
                return print_json(&status);
            }
            let rates = status.params.level_rates_ppm;
            let percent = |ppm: u32| f64::from(ppm) / 10_000.0;
            println!(
                "sampling: none {}%, standard {}%, high {}%, full {}% (at least {}% for nodes on probation or below {}% reputation)",
                percent(rates[0]),
                percent(rates[1]),
                percent(rates[2]),
                percent(rates[3]),
                percent(status.params.risky_rate_ppm),
                percent(status.params.low_reputation_ppm),
            );
            println!(
                "verifiers: {} registered, {} eligible now; {} referees per dispute",
                status.verifiers.len(),
                status.eligible_verifiers,
                status.params.referees
            );
            println!(
                "verification fees held: {} USD; open deposits: {} VCAI; slash escrow: {} VCAI",
                status.fees_usd.to_decimal(Denom::Usd),
                status.deposits_vcai.to_decimal(Denom::Vcai),
                status.slash_escrow_vcai.to_decimal(Denom::Vcai)
            );
            println!(
                "so far: {} capacity challenges, {} disputes, {} slashes",
                status.challenges, status.disputes, status.slashes
            );
            return Ok(());
        }
        VerifyCommand::Capacity { id } => return show(&client.challenge(id)?),
        VerifyCommand::Dispute { id } => return show(&client.dispute(id)?),
        VerifyCommand::Slash { id } => return show(&client.slash(id)?),
        VerifyCommand::Duties { verifier } => {
            return show(&client.duties(&resolve_account(&ring, &verifier)?)?)
        }
        VerifyCommand::Challenge {
            job,
            task,
            from,
            commitment,
            options,
        } => {
            let commitment = match commitment {
                Some(path) => read_json::<ResultCommitment>(&path)?,
                None => {
                    let (node, mine) = reexecute(&client, job, task)?;
                    if node.hash() == mine.hash() {
                        bail!(
                            "the re-execution here agrees with the node's commitment: nothing to \
                             challenge (a false challenge loses its deposit)"
                        );
                    }
                    if !json {
                        println!("the node committed {node:?}");
                        println!("re-executed here:   {mine:?}");
                    }
                    mine
                }
            };
            let message = Message::ChallengeResult(ChallengeResult {
                job_id: job,
                task,
                commitment,
            });
            (from, message, options)
        }
        VerifyCommand::Equivocation {
            first,
            second,
            from,
            options,
        } => {
            let message = Message::ReportEquivocation(ReportEquivocation {
                first: read_json::<SignedResult>(&first)?,
                second: read_json::<SignedResult>(&second)?,
            });
            (from, message, options)
        }
        VerifyCommand::Appeal {
            slash,
            reason,
            from,
            options,
        } => (
            from,
            Message::Appeal(Appeal {
                slash_id: slash,
                reason,
            }),
            options,
        ),
        VerifyCommand::Decide {
            slash,
            uphold,
            reject,
            from,
            options,
        } => {
            if uphold == reject {
                bail!("give --uphold or --reject");
            }
            (
                from,
                Message::Propose(Propose {
                    title: format!(
                        "{} the appeal of slash {slash}",
                        if uphold { "Uphold" } else { "Reject" }
                    ),
                    description: String::new(),
                    actions: vec![Action::DecideAppeal {
                        slash_id: slash,
                        uphold,
                    }],
                }),
                options,
            )
        }
    };
    sign_and_send(&ring, &client, &from, vec![message], options, json)
}

/// Records are nested structures; their pretty JSON is their clearest form with or without
/// `--json`.
fn show(value: &impl serde::Serialize) -> anyhow::Result<()> {
    print_json(value)
}
