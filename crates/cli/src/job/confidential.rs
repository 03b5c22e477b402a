//! Confidential jobs on the owner's side (docs/attestation.md, "Confidential jobs"): the input
//! and shards are encrypted here, under a key derived from the owner's account key and a fresh
//! salt, before anything leaves the machine; each task's key is granted to its node once the
//! ledger has assigned it; outputs and logs are decrypted after they are checked against the
//! ledger. The format is `vcity_sdk::confidential`'s, shared with the compute node.

use crate::job::manifest::Resolved;
use crate::job::run::OutputStore;
use anyhow::{bail, Context as _};
use ed25519_dalek::SigningKey;
use std::time::{Duration, Instant};
use vcity_sdk::confidential::{self, Part};
use vcity_sdk::Client;
use vcity_types::compute::{content_address, Confidential, Job, TaskState, MAX_INPUT_BYTES};

/// Encrypts a confidential manifest's input (or its shards, written encrypted into the output
/// store's scratch space and uploaded from there) under a new job key of `owner`'s, and marks
/// the message confidential with the key's salt. Other jobs pass unchanged.
pub fn seal(
    resolved: &mut Resolved,
    owner: &SigningKey,
    store: &OutputStore,
) -> anyhow::Result<()> {
    if !resolved.confidential {
        return Ok(());
    }
    let salt = confidential::new_salt()?;
    let key = confidential::job_key(owner, &salt);
    let workload = &mut resolved.message.workload;
    workload.confidential = Some(Confidential { key_salt: salt });
    if workload.shards.is_empty() {
        workload.input = confidential::encrypt(&key, Part::Input(None), &workload.input)?;
        if workload.input.len() > MAX_INPUT_BYTES {
            bail!(
                "the input is {} bytes once encrypted; inline inputs are at most {MAX_INPUT_BYTES} \
                 (use an input shard)",
                workload.input.len()
            );
        }
        return Ok(());
    }
    if workload.shards.len() != resolved.shard_files.len() {
        bail!("a confidential job's shards are files, uploaded encrypted");
    }
    let mut sealed_files = Vec::with_capacity(resolved.shard_files.len());
    for (index, (shard, path)) in workload
        .shards
        .iter_mut()
        .zip(&resolved.shard_files)
        .enumerate()
    {
        let plain = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if content_address(&plain) != shard.address {
            bail!("{} changed since the manifest was read", path.display());
        }
        let index = u32::try_from(index).context("too many shards")?;
        let sealed = confidential::encrypt(&key, Part::Input(Some(index)), &plain)?;
        if sealed.len() > vcity_sdk::compute::MAX_BLOB_BYTES {
            bail!(
                "the shard {} is over the blob store's limit once encrypted",
                path.display()
            );
        }
        let address = content_address(&sealed);
        let file = store.scratch(&format!("sealed-{address}"))?;
        std::fs::write(&file, &sealed).with_context(|| format!("writing {}", file.display()))?;
        shard.address = address;
        shard.bytes = sealed.len() as u64;
        sealed_files.push(file);
    }
    resolved.shard_files = sealed_files;
    Ok(())
}

/// What `vcity job submit` says about a confidential job it submitted: nothing starts until
/// its keys are granted.
pub fn submit_note(from: &str) -> String {
    format!(
        "this job is confidential: each task starts only after you grant its key to the node it \
         is assigned to; keep `vcity job grant JOB_ID --from {from} --watch` running (or submit \
         with `vcity job run`)"
    )
}

/// Grants the keys `job` owes now; a failure is reported and retried at the next call.
pub fn grant_due(client: &Client, owner: &SigningKey, job: &Job) -> anyhow::Result<Vec<u32>> {
    client
        .grant_task_keys(owner, job)
        .with_context(|| format!("granting the keys of job {}", job.id))
}

/// `vcity job grant`: grants every task of job `id` that waits for its key, and with `watch`
/// keeps doing so until no task is pending or assigned (or `max_wait` has passed).
pub fn grant(
    client: &Client,
    owner: &SigningKey,
    id: u64,
    watch: bool,
    max_wait: Duration,
    json: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut granted = Vec::new();
    loop {
        let job = client.job(id)?;
        if job.workload.confidential.is_none() {
            bail!("job {id} is not confidential: its tasks need no key");
        }
        match grant_due(client, owner, &job) {
            Ok(tasks) => {
                if !json {
                    for task in &tasks {
                        println!("task {task}: key granted to its node");
                    }
                }
                granted.extend(tasks);
            }
            Err(error) if watch => eprintln!("{error:#}; retrying"),
            Err(error) => return Err(error),
        }
        let waiting = job
            .tasks
            .iter()
            .any(|task| matches!(task.state, TaskState::Pending | TaskState::Assigned { .. }));
        if !watch || !waiting {
            break;
        }
        if started.elapsed() > max_wait {
            bail!("gave up after {max_wait:?}; tasks of job {id} still wait");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    if json {
        crate::shared::print_json(&serde_json::json!({"job_id": id, "granted": granted}))?;
    } else if granted.is_empty() {
        println!("no task of job {id} waits for its key");
    }
    Ok(())
}

/// A confidential job's output as its owner reads it: decrypted under the job's key (it was
/// checked against the ledger's commitment before). Other jobs' outputs pass unchanged.
pub fn open_output(
    job: &Job,
    owner: &SigningKey,
    task: u32,
    output: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    match confidential::key_of(job, owner) {
        None => Ok(output),
        Some(key) => confidential::decrypt(
            &key,
            Part::Output {
                job_id: job.id,
                task,
            },
            &output,
        )
        .with_context(|| {
            format!(
                "the output of task {task} of job {} does not open under your key",
                job.id
            )
        }),
    }
}

/// A confidential job's log with its sealed program logs opened; other logs pass unchanged.
pub fn open_log(job: &Job, owner: &SigningKey, task: u32, log: Vec<u8>) -> Vec<u8> {
    match confidential::key_of(job, owner) {
        None => log,
        Some(key) => confidential::open_log(&key, job.id, task, &log),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_shards_are_uploaded_encrypted_and_open_only_as_their_own_shard() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.txt"), b"first secret").expect("shard");
        std::fs::write(dir.path().join("b.txt"), b"second secret").expect("shard");
        let manifest = toml::from_str(
            "workload = \"hashchain\"\nmax_cu = 1\nmax_price_per_cu = 1\nconfidential = true\n\
             shards = [\"a.txt\", \"b.txt\"]\n",
        )
        .expect("manifest");
        let mut resolved = crate::job::manifest::resolve(manifest, dir.path()).expect("valid");
        let owner = SigningKey::from_bytes(&[5; 32]);
        let store = OutputStore::new(dir.path().join("outputs"));
        seal(&mut resolved, &owner, &store).expect("sealed");
        let salt = resolved
            .message
            .workload
            .confidential
            .as_ref()
            .expect("marked confidential")
            .key_salt;
        let key = confidential::job_key(&owner, &salt);
        for (index, (shard, file)) in resolved
            .message
            .workload
            .shards
            .iter()
            .zip(&resolved.shard_files)
            .enumerate()
        {
            let sealed = std::fs::read(file).expect("sealed file");
            assert_eq!(content_address(&sealed), shard.address);
            assert_eq!(sealed.len() as u64, shard.bytes);
            let plain = confidential::decrypt(&key, Part::Input(Some(index as u32)), &sealed)
                .expect("opens as its own shard");
            assert_eq!(plain, [&b"first secret"[..], b"second secret"][index]);
            let other = Part::Input(Some(1 - index as u32));
            assert!(confidential::decrypt(&key, other, &sealed).is_err());
        }
        // An inline input is sealed in the message itself.
        let manifest = toml::from_str(
            "workload = \"hashchain\"\nmax_cu = 1\nmax_price_per_cu = 1\nconfidential = true\n\
             input = \"10 secret\"\n",
        )
        .expect("manifest");
        let mut inline = crate::job::manifest::resolve(manifest, dir.path()).expect("valid");
        seal(&mut inline, &owner, &store).expect("sealed");
        let salt = inline
            .message
            .workload
            .confidential
            .as_ref()
            .expect("salt")
            .key_salt;
        assert_ne!(
            salt,
            resolved
                .message
                .workload
                .confidential
                .expect("salt")
                .key_salt
        );
        let key = confidential::job_key(&owner, &salt);
        assert_eq!(
            confidential::decrypt(&key, Part::Input(None), &inline.message.workload.input)
                .expect("opens"),
            b"10 secret"
        );
    }
}
