//! `vcity job run` and `vcity job result`: submit from a manifest, follow the tasks with a
//! progress bar, then fetch every output from the node that ran it (signed by the owner's key)
//! and check it against the ledger's result commitment before printing or saving it.

use crate::commands::{print_json, TxOptions};
use crate::TxRefused;
use anyhow::{bail, Context as _};
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::time::{Duration, Instant};
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{Job, TaskExit, TaskState};
use vcity_types::event::Event;
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom};

/// What `vcity job run` was asked.
#[derive(Debug)]
pub struct RunRequest<'a> {
    /// The manifest file.
    pub manifest: &'a Path,
    /// The owner's keyring name.
    pub from: &'a str,
    /// Where to save outputs.
    pub output: Option<&'a Path>,
    /// How long to wait.
    pub timeout: Duration,
    /// Fee and waiting options.
    pub options: TxOptions,
}

fn has_result(state: &TaskState) -> bool {
    matches!(
        state,
        TaskState::Completed { .. } | TaskState::Settled { .. }
    )
}

fn ended(state: &TaskState) -> bool {
    has_result(state) || matches!(state, TaskState::Failed { .. } | TaskState::Cancelled)
}

/// Submits the manifest's job and waits for it.
pub fn run(
    ring: &Keyring,
    client: &Client,
    request: RunRequest<'_>,
    json: bool,
) -> anyhow::Result<()> {
    let resolved = crate::manifest::load(request.manifest)?;
    let key = ring.get(request.from)?.signing_key()?;
    if !resolved.module.is_empty() {
        client
            .put_blob(&resolved.module)
            .context("uploading the program or image to the node's blob store")?;
    }
    let fee = request
        .options
        .fee
        .as_deref()
        .map(|fee| Amount::parse_decimal(fee, Denom::Usd).with_context(|| format!("fee {fee:?}")))
        .transpose()?;
    let tasks = resolved.message.tasks;
    let hash = client.send(&key, vec![Message::SubmitJob(resolved.message)], fee)?;
    let view = client.wait_for_transaction(&hash, Duration::from_secs(60))?;
    let receipt = view.receipt.context("committed without a receipt")?;
    if let Some(refused) = TxRefused::from_receipt(&receipt) {
        return Err(refused.into());
    }
    let job_id = receipt
        .events
        .iter()
        .find_map(|event| match event {
            Event::JobSubmitted { job_id, .. } => Some(*job_id),
            _ => None,
        })
        .context("the receipt has no JobSubmitted event")?;
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        println!(
            "job {job_id}: {tasks} task(s) of {} submitted in tx {hash}",
            resolved.label
        );
        let bar = indicatif::ProgressBar::new(u64::from(tasks));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let started = Instant::now();
    let job = loop {
        let job = client.job(job_id)?;
        let count = |test: fn(&TaskState) -> bool| {
            job.tasks.iter().filter(|task| test(&task.state)).count()
        };
        let done = count(ended);
        bar.set_position(done as u64);
        let mut message = format!(
            "pending {} · assigned {} · running {} · done {}",
            count(|state| matches!(state, TaskState::Pending)),
            count(|state| matches!(state, TaskState::Assigned { .. })),
            count(|state| matches!(state, TaskState::Running { .. })),
            done
        );
        if let Some(why) = job.tasks.iter().find_map(|task| task.unplaceable.as_ref()) {
            if job
                .tasks
                .iter()
                .any(|task| task.state == TaskState::Pending)
            {
                message = format!("{message} · {why}");
            }
        }
        bar.set_message(message);
        if done == job.tasks.len() {
            break job;
        }
        if started.elapsed() > request.timeout {
            bar.abandon();
            bail!(
                "gave up waiting after {:?}; the job goes on: vcity job status {job_id}",
                request.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    bar.finish_with_message(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    let all: Vec<u32> = (0..job.tasks.len() as u32).collect();
    show_outputs(client, &key, &job, &all, request.output, json)?;
    let failed = job
        .tasks
        .iter()
        .filter(|task| !has_result(&task.state))
        .count();
    if failed > 0 {
        bail!(
            "{failed} of {} task(s) ended without a result",
            job.tasks.len()
        );
    }
    Ok(())
}

/// Prints (or saves) the outputs of `tasks`, each fetched and verified.
pub fn show_outputs(
    client: &Client,
    key: &SigningKey,
    job: &Job,
    tasks: &[u32],
    output: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    if let Some(dir) = output {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut lines = Vec::new();
    for &task in tasks {
        let state = &job
            .tasks
            .get(task as usize)
            .with_context(|| format!("job {} has no task {task}", job.id))?
            .state;
        if !has_result(state) {
            let line = serde_json::json!({"task": task, "state": state.describe()});
            if !json {
                println!("task {task}: {}", state.describe());
            }
            lines.push(line);
            continue;
        }
        let verified = client
            .task_output(key, job.id, task)
            .with_context(|| format!("fetching the output of task {task}"))?;
        let cost = match state {
            TaskState::Completed { cost_usd, .. } | TaskState::Settled { cost_usd, .. } => {
                *cost_usd
            }
            _ => Amount::ZERO,
        };
        let exit = &verified.commitment.exit;
        let saved = match output {
            Some(dir) => {
                let path = dir.join(format!("task-{task}.out"));
                std::fs::write(&path, &verified.output)
                    .with_context(|| format!("writing {}", path.display()))?;
                // The node's signed statement: evidence if it ever signs a different result.
                if let Some(statement) = &verified.statement {
                    let path = dir.join(format!("task-{task}.statement.json"));
                    std::fs::write(&path, serde_json::to_vec_pretty(statement)?)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                Some(path)
            }
            None => None,
        };
        let text = std::str::from_utf8(&verified.output)
            .ok()
            .filter(|text| text.len() <= 4096);
        if json {
            lines.push(serde_json::json!({
                "task": task,
                "exit": exit,
                "cu_used": verified.commitment.cu_used_ppm as f64 / 1e6,
                "cost_usd": cost.to_decimal(Denom::Usd),
                "output_address": verified.commitment.output,
                "output_bytes": verified.output.len(),
                "output_text": if saved.is_none() { text } else { None },
                "output_file": saved.as_ref().map(|path| path.display().to_string()),
                "statement": verified.statement,
            }));
            continue;
        }
        let ending = match exit {
            TaskExit::Success => "ok".to_string(),
            other => format!("{other:?}"),
        };
        println!(
            "task {task}: {ending}, {} CU, {} USD, {} output bytes (verified against the ledger)",
            verified.commitment.cu_used_ppm as f64 / 1e6,
            cost.to_decimal(Denom::Usd),
            verified.output.len()
        );
        match (&saved, text) {
            (Some(path), _) => println!("  saved to {}", path.display()),
            (None, Some(text)) => {
                for line in text.lines() {
                    println!("  {line}");
                }
            }
            (None, None) => println!("  binary output; save it with --output DIR"),
        }
    }
    if json {
        print_json(&serde_json::json!({"job_id": job.id, "tasks": lines}))?;
    }
    Ok(())
}
