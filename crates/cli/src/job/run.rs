//! `vcity job run` and `vcity job result`: submit from a manifest, follow the tasks with a
//! progress bar, then fetch every output from the node that ran it (signed by the owner's key)
//! and check it against the ledger's result commitment before printing or saving it.

use crate::shared::TxRefused;
use crate::shared::{print_json, TxOptions};
use anyhow::{bail, Context as _};
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::time::{Duration, Instant};
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{content_address, Job, ResultCommitment, TaskExit, TaskState};
use vcity_types::event::Event;
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom, Hash};

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
    /// Feed this job's outputs to the single task (a reduce).
    pub input_from: Option<u64>,
    /// The owner's output store.
    pub store: &'a OutputStore,
}

/// The buyer's own copy of task outputs (docs/job-spec.md, "Outputs"): every output the CLI
/// fetches is kept under `{home}/outputs/{commitment hash}` with its commitment beside it, so it
/// outlives the node that produced it (which keeps it only for the retention period) and a
/// reduce can read it again without the node. A copy is checked against the ledger's commitment
/// hash every time it is read.
#[derive(Debug, Clone)]
pub struct OutputStore {
    dir: std::path::PathBuf,
}

impl OutputStore {
    /// The store under `dir` (created when first written).
    pub fn new(dir: std::path::PathBuf) -> OutputStore {
        OutputStore { dir }
    }

    /// The output whose commitment hashes to `output_hash`, if kept and intact.
    pub fn get(&self, output_hash: &Hash) -> Option<(ResultCommitment, Vec<u8>)> {
        let path = self.dir.join(output_hash.to_string());
        let commitment: ResultCommitment =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).ok()?).ok()?;
        let bytes = std::fs::read(&path).ok()?;
        (commitment.hash() == *output_hash && content_address(&bytes) == commitment.output)
            .then_some((commitment, bytes))
    }

    /// Keeps `bytes` under its commitment.
    pub fn put(&self, commitment: &ResultCommitment, bytes: &[u8]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(commitment.hash().to_string());
        // The bytes first: a copy without its commitment is never read.
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        std::fs::write(
            path.with_extension("json"),
            serde_json::to_vec_pretty(commitment)?,
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Where a file to upload may be written (inputs built from outputs).
    pub fn scratch(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        Ok(self.dir.join(name))
    }
}

/// The committed output of `task`: the kept copy if there is one, else fetched from the node
/// (signed by `key`, checked against the ledger) and kept.
pub fn fetch_output(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    job: &Job,
    task: u32,
) -> anyhow::Result<vcity_sdk::compute::VerifiedOutput> {
    let output_hash = match job.tasks.get(task as usize).map(|entry| &entry.state) {
        Some(TaskState::Completed { output_hash, .. } | TaskState::Settled { output_hash, .. }) => {
            *output_hash
        }
        Some(state) => bail!("task {task} of job {} is {}", job.id, state.describe()),
        None => bail!("job {} has no task {task}", job.id),
    };
    // The kept copy is the owner's: another key of the same home gets what the node gives it.
    let owner = vcity_types::AccountId::from_public_key(&key.verifying_key()) == job.owner;
    if let Some((commitment, output)) = store.get(&output_hash).filter(|_| owner) {
        return Ok(vcity_sdk::compute::VerifiedOutput {
            commitment,
            output,
            statement: None,
        });
    }
    let verified = client
        .task_output(key, job.id, task)
        .with_context(|| format!("fetching the output of task {task} of job {}", job.id))?;
    store.put(&verified.commitment, &verified.output)?;
    Ok(verified)
}

/// [`fetch_output`], then opened for its owner: a confidential job's output is decrypted (the
/// kept copy stays as the node committed it, encrypted).
pub fn fetch_plain_output(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    job: &Job,
    task: u32,
) -> anyhow::Result<vcity_sdk::compute::VerifiedOutput> {
    let mut verified = fetch_output(client, key, store, job, task)?;
    verified.output = crate::job::confidential::open_output(job, key, task, verified.output)?;
    Ok(verified)
}

/// A reduce's input: the outputs of every task of job `job_id`, in task order, concatenated.
/// Each must have ended successfully.
pub fn gather_outputs(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    job_id: u64,
) -> anyhow::Result<Vec<u8>> {
    let job = client.job(job_id)?;
    let mut gathered = Vec::new();
    for task in 0..job.tasks.len() as u32 {
        let verified = fetch_plain_output(client, key, store, &job, task)?;
        if verified.commitment.exit != TaskExit::Success {
            bail!(
                "task {task} of job {job_id} ended {:?}: a reduce reads only successful outputs",
                verified.commitment.exit
            );
        }
        gathered.extend_from_slice(&verified.output);
    }
    if gathered.len() as u64 > vcity_types::compute::MAX_SHARD_BYTES {
        bail!("the outputs of job {job_id} are over a shard's size");
    }
    Ok(gathered)
}

/// Unpacks a task's output directory (the packer's ustar archive, docs/job-spec.md "Output
/// directories") into `dir`: directories and regular files only, no absolute names and no
/// `..`, whatever the node sent. Returns the files' names.
pub fn unpack_tar(archive: &[u8], dir: &Path) -> anyhow::Result<Vec<String>> {
    let field = |header: &[u8], range: std::ops::Range<usize>| -> anyhow::Result<u64> {
        let text = std::str::from_utf8(&header[range])
            .context("a header field is not text")?
            .trim_matches(|c: char| c == '\0' || c == ' ');
        if text.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(text, 8).context("a header number is not octal")
    };
    let text = |bytes: &[u8]| -> anyhow::Result<String> {
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        Ok(std::str::from_utf8(&bytes[..end])
            .context("a name is not UTF-8")?
            .to_string())
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Vec::new();
    let mut at = 0usize;
    while at + 512 <= archive.len() {
        let header = &archive[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let (prefix, name) = (text(&header[345..500])?, text(&header[..100])?);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::try_from(field(header, 124..136)?).context("too large")?;
        let mode = field(header, 100..108)? as u32 & 0o777;
        let relative = std::path::Path::new(name.trim_end_matches('/'));
        if relative.is_absolute()
            || relative
                .components()
                .any(|part| !matches!(part, std::path::Component::Normal(_)))
        {
            bail!("the archive names {name:?}, outside its directory");
        }
        let body_end = at + 512 + size;
        if body_end > archive.len() {
            bail!("the archive is cut short in {name:?}");
        }
        let target = dir.join(relative);
        match header[156] {
            b'5' => std::fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?,
            b'0' | 0 => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, &archive[at + 512..body_end])
                    .with_context(|| format!("writing {}", target.display()))?;
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o755))?;
                files.push(name.clone());
            }
            other => bail!("the archive holds {name:?} of type {:?}", other as char),
        }
        at = body_end.div_ceil(512) * 512;
    }
    Ok(files)
}

/// Makes `resolved` (a one-task job with no input of its own) read the outputs of `job_id`.
pub fn feed_from(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    job_id: u64,
    resolved: &mut crate::job::manifest::Resolved,
) -> anyhow::Result<()> {
    let workload = &resolved.message.workload;
    if resolved.message.tasks != 1 || !workload.input.is_empty() || !workload.shards.is_empty() {
        bail!("a job fed by --input-from has one task and no input or shards of its own");
    }
    if client.job(job_id)?.workload.confidential.is_some() && !resolved.confidential {
        // Its outputs would reach a node outside any TEE in the clear.
        bail!("job {job_id} is confidential: a reduce of its outputs must be confidential too");
    }
    let gathered = gather_outputs(client, key, store, job_id)?;
    let address = content_address(&gathered);
    let path = store.scratch(&format!("input-{address}"))?;
    std::fs::write(&path, &gathered).with_context(|| format!("writing {}", path.display()))?;
    resolved.message.workload.shards = vec![vcity_types::compute::Shard {
        address,
        bytes: gathered.len() as u64,
        url: None,
    }];
    resolved.shard_files = vec![path];
    Ok(())
}

/// Uploads what the job needs in the blob store: its program, module or image archive, and
/// its shard files (with a progress bar over their bytes), each checked against the address
/// the message carries.
pub fn upload(
    client: &Client,
    resolved: &crate::job::manifest::Resolved,
    json: bool,
) -> anyhow::Result<()> {
    if !resolved.module.is_empty() {
        client
            .put_blob(&resolved.module)
            .context("uploading the program or image to the node's blob store")?;
    }
    if resolved.shard_files.is_empty() {
        return Ok(());
    }
    let local: Vec<&vcity_types::compute::Shard> = resolved
        .message
        .workload
        .shards
        .iter()
        .filter(|shard| shard.url.is_none())
        .collect();
    let total: u64 = local.iter().map(|shard| shard.bytes).sum();
    let bar = crate::shared::progress_bar(
        json,
        total,
        "uploading shards {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    );
    for (path, shard) in resolved.shard_files.iter().zip(local) {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if content_address(&bytes) != shard.address {
            bail!("{} changed since the manifest was read", path.display());
        }
        bar.set_message(path.display().to_string());
        client
            .put_blob(&bytes)
            .with_context(|| format!("uploading the shard {}", path.display()))?;
        bar.inc(bytes.len() as u64);
    }
    bar.finish_and_clear();
    Ok(())
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
    let mut resolved = crate::job::manifest::load(request.manifest)?;
    let key = ring.get(request.from)?.signing_key()?;
    if let Some(job_id) = request.input_from {
        feed_from(client, &key, request.store, job_id, &mut resolved)?;
    }
    crate::job::confidential::seal(&mut resolved, &key, request.store)?;
    upload(client, &resolved, json)?;
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
    if !json {
        println!(
            "job {job_id}: {tasks} task(s) of {} submitted in tx {hash}",
            resolved.label
        );
    }
    let bar = crate::shared::progress_bar(
        json,
        u64::from(tasks),
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    );
    let started = Instant::now();
    // A confidential job's tasks wait for their keys: granted as the ledger assigns them.
    let mut next_grant = Instant::now();
    let job = loop {
        let mut job = client.job(job_id)?;
        if job.workload.confidential.is_some() && Instant::now() >= next_grant {
            match crate::job::confidential::grant_due(client, &key, &job) {
                Ok(granted) if !granted.is_empty() => job = client.job(job_id)?,
                Ok(_) => {}
                Err(error) => {
                    bar.println(format!("{error:#}; retrying"));
                    next_grant = Instant::now() + Duration::from_secs(5);
                }
            }
        }
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
    show_outputs(
        client,
        &key,
        request.store,
        &job,
        &all,
        request.output,
        json,
    )?;
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
    store: &OutputStore,
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
        let verified = fetch_plain_output(client, key, store, job, task)?;
        let cost = match state {
            TaskState::Completed { cost_usd, .. } | TaskState::Settled { cost_usd, .. } => {
                *cost_usd
            }
            _ => Amount::ZERO,
        };
        let exit = &verified.commitment.exit;
        let saved = match output {
            Some(dir) => {
                let path = if job.workload.output_dir {
                    // The archive, and what it holds unpacked beside it.
                    let unpacked = dir.join(format!("task-{task}"));
                    let files = unpack_tar(&verified.output, &unpacked)
                        .with_context(|| format!("unpacking the output of task {task}"))?;
                    if !json {
                        println!(
                            "task {task}: {} file(s) unpacked into {}",
                            files.len(),
                            unpacked.display()
                        );
                    }
                    dir.join(format!("task-{task}.tar"))
                } else {
                    dir.join(format!("task-{task}.out"))
                };
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
            (None, _) if job.workload.output_dir => {
                println!("  an output directory (a tar archive); save it with --output DIR")
            }
            (None, None) => println!("  binary output; save it with --output DIR"),
        }
    }
    if json {
        print_json(&serde_json::json!({"job_id": job.id, "tasks": lines}))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-entry ustar archive naming `name` with `kind`.
    fn archive(name: &str, kind: u8, body: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[124..135].copy_from_slice(format!("{:011o}", body.len()).as_bytes());
        header[156] = kind;
        header[257..263].copy_from_slice(b"ustar\0");
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(body);
        bytes.resize(bytes.len().div_ceil(512) * 512 + 1024, 0);
        bytes
    }

    #[test]
    fn an_output_archive_unpacks_only_inside_its_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = unpack_tar(&archive("frames/1.txt", b'0', b"one"), dir.path()).expect("ok");
        assert_eq!(files, ["frames/1.txt"]);
        assert_eq!(
            std::fs::read(dir.path().join("frames/1.txt")).expect("file"),
            b"one"
        );
        for (name, kind) in [
            ("../escape", b'0'),
            ("/etc/x", b'0'),
            ("a/../../b", b'0'),
            ("link", b'2'),
        ] {
            assert!(
                unpack_tar(&archive(name, kind, b"x"), dir.path()).is_err(),
                "{name}"
            );
        }
        assert!(!dir.path().parent().expect("parent").join("escape").exists());
        // Cut short: the body is missing.
        let mut short = archive("big", b'0', &[7; 600]);
        short.truncate(700);
        assert!(unpack_tar(&short, dir.path()).is_err());
    }
}
