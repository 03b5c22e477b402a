//! The compute node's journal (issue 3 point 3): what it knows about each task it was given,
//! on disk, so that a crash at any point loses nothing. One small JSON file per task, replaced
//! atomically (write, fsync, rename, fsync the directory), and a content-addressed output store.
//!
//! A task moves through [`Stage`]s: `Accepted` (seen assigned; executing) → `Ran` (output and log
//! on disk, the commitment computed) or `TimedOut` (the wall-clock net fired: not a result) →
//! `Reported` (the result or failure was sent) → `Finished` (the ledger shows its end). After a
//! restart the daemon reads every unfinished entry: an `Accepted` task is run again from the
//! start (execution is deterministic, so a rerun is the same run), a `Ran` one is reported again.
//! The directory is scanned once, when the journal opens; after that the unfinished entries are
//! kept in memory beside the files, so a poll costs nothing however many tasks the node has run.
//!
//! Layout under the data directory: `tasks/{job:012}-{task:04}.json`, `outputs/{address}` (hex
//! of `H(0x0d ‖ output)`), `logs/{job:012}-{task:04}.log` (kept after the task ends).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vcity_types::compute::{content_address, ResultCommitment};
use vcity_types::Hash;

/// Where a task is, as far as this node knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// Assigned to this node; being executed.
    Accepted,
    /// Executed; output and log stored.
    Ran {
        /// The commitment to report.
        commitment: ResultCommitment,
    },
    /// The wall-clock safety net fired: to be given up.
    TimedOut,
    /// Reported to the ledger; waiting to see it there.
    Reported {
        /// The commitment sent, if a result (none: the task was given up).
        commitment: Option<ResultCommitment>,
        /// When it was sent, Unix ms (resent if the ledger still shows the task running long after).
        sent_ms: u64,
    },
    /// Done, for whatever reason; the files are kept for the owner.
    Finished {
        /// How it ended, for people.
        outcome: String,
        /// The commitment, if there was a result.
        commitment: Option<ResultCommitment>,
    },
}

/// One task's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// Assignments seen so far by this node (a reassigned task starts a new attempt).
    pub attempt: u32,
    /// Where it is.
    pub stage: Stage,
    /// Last change, Unix ms.
    pub updated_ms: u64,
}

impl Entry {
    /// The result's commitment, at whatever stage it is known.
    pub fn commitment(&self) -> Option<&ResultCommitment> {
        match &self.stage {
            Stage::Ran { commitment } => Some(commitment),
            Stage::Reported { commitment, .. } | Stage::Finished { commitment, .. } => {
                commitment.as_ref()
            }
            Stage::Accepted | Stage::TimedOut => None,
        }
    }
}

/// The journal.
#[derive(Debug, Clone)]
pub struct Journal {
    root: PathBuf,
    /// Every entry not finished, by (job, task): the files' contents, kept in step by [`Journal::put`].
    unfinished: Arc<Mutex<BTreeMap<(u64, u32), Entry>>>,
}

pub use vcity_sdk::compute::now_ms;

/// Replaces `path` with `bytes` so that a crash, power loss included, leaves the old file or the
/// new one and never part of either: a temporary file written and synced, renamed over it, then
/// the directory synced. The operator's config and units are written the same way.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let temporary = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(directory)?.sync_all()
}

/// What [`Journal::prune`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Finished tasks whose entry and log went.
    pub tasks: u64,
    /// Bytes of outputs no longer named by any kept task.
    pub output_bytes: u64,
}

impl Journal {
    /// Opens (creating) the journal under `root`.
    pub fn open(root: &Path) -> std::io::Result<Journal> {
        for sub in [
            "tasks", "outputs", "logs", "modules", "programs", "capacity",
        ] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let mut unfinished = BTreeMap::new();
        for item in std::fs::read_dir(root.join("tasks"))? {
            let path = item?.path();
            if path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            let entry: Entry = serde_json::from_slice(&std::fs::read(&path)?)
                .map_err(|error| std::io::Error::other(format!("{}: {error}", path.display())))?;
            if !matches!(entry.stage, Stage::Finished { .. }) {
                unfinished.insert((entry.job_id, entry.task), entry);
            }
        }
        Ok(Journal {
            root: root.to_path_buf(),
            unfinished: Arc::new(Mutex::new(unfinished)),
        })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, BTreeMap<(u64, u32), Entry>> {
        // A panic while holding the lock leaves a whole map (every update is one insert or
        // remove), so a poisoned lock is still usable.
        self.unfinished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry_path(&self, job_id: u64, task: u32) -> PathBuf {
        self.root
            .join("tasks")
            .join(format!("{job_id:012}-{task:04}.json"))
    }

    /// Where a task's log lives.
    pub fn log_path(&self, job_id: u64, task: u32) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{job_id:012}-{task:04}.log"))
    }

    /// Records `entry` durably.
    pub fn put(&self, entry: &Entry) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        write_atomically(&self.entry_path(entry.job_id, entry.task), &bytes)?;
        let key = (entry.job_id, entry.task);
        let mut index = self.index();
        if matches!(entry.stage, Stage::Finished { .. }) {
            index.remove(&key);
        } else {
            index.insert(key, entry.clone());
        }
        Ok(())
    }

    /// A task's entry.
    pub fn get(&self, job_id: u64, task: u32) -> std::io::Result<Option<Entry>> {
        match std::fs::read(self.entry_path(job_id, task)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every entry not finished, in (job, task) order.
    pub fn unfinished(&self) -> std::io::Result<Vec<Entry>> {
        Ok(self.index().values().cloned().collect())
    }

    /// Stores an output under its content address; returns the address.
    pub fn put_output(&self, bytes: &[u8]) -> std::io::Result<Hash> {
        let address = content_address(bytes);
        let path = self.root.join("outputs").join(address.to_string());
        if !path.exists() {
            write_atomically(&path, bytes)?;
        }
        Ok(address)
    }

    /// An output by content address (checked on read).
    pub fn output(&self, address: &Hash) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.root.join("outputs").join(address.to_string())) {
            Ok(bytes) if content_address(&bytes) == *address => Ok(Some(bytes)),
            Ok(_) => Err(std::io::Error::other(format!(
                "output {address} is corrupt on disk"
            ))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Appends a line of the node's own to a task's log.
    pub fn log_line(&self, job_id: u64, task: u32, line: &str) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(job_id, task))?;
        writeln!(file, "[node {}] {line}", now_ms())
    }

    /// Appends the program's own log (its standard error).
    pub fn log_program(&self, job_id: u64, task: u32, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(job_id, task))?;
        file.write_all(bytes)?;
        if !bytes.ends_with(b"\n") && !bytes.is_empty() {
            file.write_all(b"\n")?;
        }
        file.sync_all()
    }

    /// A task's log.
    pub fn log(&self, job_id: u64, task: u32) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.log_path(job_id, task)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A cached module, by content address.
    pub fn module(&self, address: &Hash) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.root.join("modules").join(address.to_string())).ok()?;
        (content_address(&bytes) == *address).then_some(bytes)
    }

    /// Caches a module.
    pub fn put_module(&self, bytes: &[u8]) -> std::io::Result<()> {
        let address = content_address(bytes);
        write_atomically(&self.root.join("modules").join(address.to_string()), bytes)
    }

    /// A cached native program's path (executable, checked against its address), if cached.
    pub fn program(&self, address: &Hash) -> Option<PathBuf> {
        let path = self.root.join("programs").join(address.to_string());
        let bytes = std::fs::read(&path).ok()?;
        (content_address(&bytes) == *address).then_some(path)
    }

    /// Caches a native program as an executable file (the sandbox binds it read-only),
    /// and returns its path.
    pub fn put_program(&self, bytes: &[u8]) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt as _;
        let address = content_address(bytes);
        let path = self.root.join("programs").join(address.to_string());
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes)?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755))?;
        std::fs::File::open(&temporary)?.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        Ok(path)
    }

    /// Removes every task that finished before `finished_before_ms` (Unix ms): its entry, its
    /// log, and each output no kept entry names (outputs are shared by content address). The
    /// retention period is the ledger's `output_retention_s`. Returns how many tasks and output
    /// bytes went.
    pub fn prune(&self, finished_before_ms: u64) -> std::io::Result<Pruned> {
        let mut pruned = Pruned::default();
        let mut kept_outputs = std::collections::BTreeSet::new();
        let mut old = Vec::new();
        for item in std::fs::read_dir(self.root.join("tasks"))? {
            let path = item?.path();
            if path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            let Ok(entry) = serde_json::from_slice::<Entry>(&std::fs::read(&path)?) else {
                continue;
            };
            let output = entry.commitment().map(|commitment| commitment.output);
            if matches!(entry.stage, Stage::Finished { .. })
                && entry.updated_ms < finished_before_ms
            {
                old.push((path, entry, output));
            } else {
                kept_outputs.extend(output);
            }
        }
        let mut maybe_unused = std::collections::BTreeSet::new();
        for (path, entry, output) in old {
            // The entry goes last: a crash in between leaves it to be pruned again.
            match std::fs::remove_file(self.log_path(entry.job_id, entry.task)) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            std::fs::remove_file(path)?;
            maybe_unused.extend(output);
            pruned.tasks += 1;
        }
        for address in maybe_unused.difference(&kept_outputs) {
            let path = self.root.join("outputs").join(address.to_string());
            if let Ok(metadata) = std::fs::metadata(&path) {
                std::fs::remove_file(&path)?;
                pruned.output_bytes += metadata.len();
            }
        }
        Ok(pruned)
    }

    /// Records the products of capacity challenge `id` (their row hashes), so a restart between
    /// the commitment and the verifier's openings can still answer them.
    pub fn put_proof(
        &self,
        id: u64,
        proofs: &[crate::capacity::DeviceProof],
    ) -> std::io::Result<()> {
        let bytes = borsh::to_vec(proofs)?;
        write_atomically(
            &self.root.join("capacity").join(format!("{id:012}")),
            &bytes,
        )
    }

    /// The products of capacity challenge `id`, if this node computed them.
    pub fn proof(&self, id: u64) -> Option<Vec<crate::capacity::DeviceProof>> {
        let bytes = std::fs::read(self.root.join("capacity").join(format!("{id:012}"))).ok()?;
        borsh::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vcity_types::compute::TaskExit;

    #[test]
    fn pruning_removes_old_finished_tasks_and_only_outputs_nobody_keeps() {
        let directory = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(directory.path()).expect("open");
        let finished = |job_id: u64, output: &[u8], updated_ms: u64| {
            let commitment = ResultCommitment {
                exit: TaskExit::Success,
                output: journal.put_output(output).expect("output"),
                output_bytes: output.len() as u64,
                cu_used_ppm: 1,
            };
            journal.log_line(job_id, 0, "ran").expect("log");
            journal
                .put(&Entry {
                    job_id,
                    task: 0,
                    attempt: 1,
                    stage: Stage::Finished {
                        outcome: "settled".into(),
                        commitment: Some(commitment.clone()),
                    },
                    updated_ms,
                })
                .expect("put");
            commitment.output
        };
        let old_only = finished(1, b"old", 1_000);
        let shared = finished(2, b"shared", 1_000);
        finished(3, b"shared", 9_000);
        let pruned = journal.prune(5_000).expect("prune");
        assert_eq!(
            pruned,
            Pruned {
                tasks: 2,
                output_bytes: 3
            }
        );
        assert_eq!(journal.get(1, 0).expect("get"), None);
        assert_eq!(journal.log(1, 0).expect("log"), None);
        assert_eq!(journal.output(&old_only).expect("read"), None);
        // Job 3 still names the shared output.
        assert!(journal.output(&shared).expect("read").is_some());
        assert!(journal.get(3, 0).expect("get").is_some());
        assert_eq!(journal.prune(5_000).expect("again"), Pruned::default());
    }

    #[test]
    fn entries_survive_reopening_and_finished_ones_are_not_unfinished() {
        let directory = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(directory.path()).expect("open");
        let commitment = ResultCommitment {
            exit: TaskExit::Success,
            output: journal.put_output(b"out").expect("output"),
            output_bytes: 3,
            cu_used_ppm: 7,
        };
        for (task, stage) in [
            (0, Stage::Accepted),
            (
                1,
                Stage::Ran {
                    commitment: commitment.clone(),
                },
            ),
            (
                2,
                Stage::Finished {
                    outcome: "settled".into(),
                    commitment: None,
                },
            ),
        ] {
            journal
                .put(&Entry {
                    job_id: 5,
                    task,
                    attempt: 1,
                    stage,
                    updated_ms: 1,
                })
                .expect("put");
        }
        let reopened = Journal::open(directory.path()).expect("reopen");
        let unfinished = reopened.unfinished().expect("list");
        assert_eq!(
            unfinished
                .iter()
                .map(|entry| entry.task)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(unfinished[1].commitment(), Some(&commitment));
        // The journal that wrote them lists the same without reading the directory, and
        // finishing an entry takes it off both.
        assert_eq!(journal.unfinished().expect("list"), unfinished);
        journal
            .put(&Entry {
                job_id: 5,
                task: 0,
                attempt: 1,
                stage: Stage::Finished {
                    outcome: "settled".into(),
                    commitment: None,
                },
                updated_ms: 2,
            })
            .expect("put");
        assert_eq!(journal.unfinished().expect("list").len(), 1);
        assert_eq!(
            Journal::open(directory.path())
                .expect("reopen")
                .unfinished()
                .expect("list")
                .len(),
            1
        );
        assert_eq!(
            reopened.output(&commitment.output).expect("read"),
            Some(b"out".to_vec())
        );
        reopened.log_line(5, 0, "started").expect("log");
        reopened.log_program(5, 0, b"hello").expect("log");
        let log = String::from_utf8(reopened.log(5, 0).expect("log").expect("some")).expect("utf8");
        assert!(log.contains("started") && log.ends_with("hello\n"));
    }
}
