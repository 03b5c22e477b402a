//! Resource limits through control groups, where the host lets this process create them.
//!
//! [`probe`] looks, in order, for cgroup v2 with the `memory` and `pids` controllers delegated to
//! this process's group (or to its parent, when systemd started the process in a leaf of a
//! delegated group), then for the v1 `memory` and `pids` hierarchies (and `cpuacct`, for CPU
//! time) under this process's own groups; it creates and removes a test group to be sure. A
//! task's group lives beside the probe's, under `vcity-sandbox/`; its limits are the memory
//! ceiling (swap included where the host accounts it) and a process count, and its accounting
//! gives the CPU time, the peak memory and whether the out-of-memory killer fired. The sandbox's
//! wrapper shell moves itself into the group before it executes bubblewrap, so every process of
//! the task is inside from its first instruction.

use std::path::{Path, PathBuf};

/// What the host delegates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// cgroup v2: one directory under which task groups are created.
    V2 {
        /// The parent of task groups.
        parent: PathBuf,
    },
    /// cgroup v1: the parents of task groups in each hierarchy used.
    V1 {
        /// Under the `memory` hierarchy.
        memory: PathBuf,
        /// Under the `pids` hierarchy.
        pids: PathBuf,
        /// Under the `cpuacct` hierarchy, if mounted and writable.
        cpuacct: Option<PathBuf>,
    },
    /// No control groups: no memory or process limits can be enforced.
    None,
}

impl Support {
    /// A short name for logs and registrations: `v2`, `v1` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            Support::V2 { .. } => "v2",
            Support::V1 { .. } => "v1",
            Support::None => "none",
        }
    }
}

const ROOT: &str = "/sys/fs/cgroup";

/// This process's group in each hierarchy, from `/proc/self/cgroup` (`""` for v2).
fn own_groups() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?.to_string();
            let path = parts.next()?.to_string();
            Some((controllers, path))
        })
        .collect()
}

fn group_of(groups: &[(String, String)], controller: &str) -> Option<String> {
    groups
        .iter()
        .find(|(controllers, _)| controllers.split(',').any(|name| name == controller))
        .map(|(_, path)| path.clone())
}

/// Whether a task group can be made (and removed) under `parent`, writing `file` in it.
fn try_group(parent: &Path, file: &str, value: &str) -> bool {
    let probe = parent.join(format!("probe-{}", std::process::id()));
    let made =
        std::fs::create_dir_all(&probe).is_ok() && std::fs::write(probe.join(file), value).is_ok();
    let _ = std::fs::remove_dir(&probe);
    made
}

/// Finds what this host delegates (see the module documentation).
pub fn probe() -> Support {
    let groups = own_groups();
    // v2: a unified hierarchy with memory and pids available to our group. Task groups go
    // under our own group, or else beside it, under its parent: cgroup v2 lets a group hand
    // controllers down only while it holds no process itself, so a daemon that systemd started
    // in a leaf of a delegated group (`Delegate=`, `DelegateSubgroup=daemon`: the compute unit
    // of `vcity operator init`) can enable them on that group and not on its own leaf.
    if let Some((_, path)) = groups
        .iter()
        .find(|(controllers, _)| controllers.is_empty())
    {
        let own = Path::new(ROOT).join(path.trim_start_matches('/'));
        let mut candidates = vec![own.clone()];
        if path.trim_matches('/').contains('/') {
            candidates.extend(own.parent().map(Path::to_path_buf));
        }
        for group in candidates {
            let controllers =
                std::fs::read_to_string(group.join("cgroup.controllers")).unwrap_or_default();
            let has = |name: &str| controllers.split_whitespace().any(|found| found == name);
            if !(has("memory") && has("pids")) {
                continue;
            }
            // Already enabled where the runtime did it; refused where the group holds processes.
            let _ = std::fs::write(group.join("cgroup.subtree_control"), "+memory +pids");
            let parent = group.join("vcity-sandbox");
            if std::fs::create_dir_all(&parent).is_err() {
                continue;
            }
            let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids");
            if try_group(&parent, "pids.max", "64") {
                return Support::V2 { parent };
            }
            let _ = std::fs::remove_dir(&parent);
        }
    }
    let parent_in = |controller: &str| -> Option<PathBuf> {
        let path = group_of(&groups, controller)?;
        let parent = Path::new(ROOT)
            .join(controller)
            .join(path.trim_start_matches('/'))
            .join("vcity-sandbox");
        std::fs::create_dir_all(&parent).ok()?;
        Some(parent)
    };
    if let (Some(memory), Some(pids)) = (parent_in("memory"), parent_in("pids")) {
        if try_group(&memory, "memory.limit_in_bytes", "67108864")
            && try_group(&pids, "pids.max", "64")
        {
            let cpuacct = parent_in("cpuacct").filter(|parent| try_group(parent, "tasks", ""));
            return Support::V1 {
                memory,
                pids,
                cpuacct,
            };
        }
    }
    Support::None
}

/// One task's groups.
#[derive(Debug)]
pub struct Group {
    /// The directories to join (their `cgroup.procs`), in order.
    pub dirs: Vec<PathBuf>,
    support: Support,
}

/// What a task's groups measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time of every process of the task, if accounted.
    pub cpu_ns: Option<u64>,
    /// Peak memory, if accounted.
    pub peak_memory_bytes: Option<u64>,
    /// Whether the out-of-memory killer ended a process of the task.
    pub oom_killed: bool,
    /// Whether a fork failed at the process limit.
    pub pids_limited: bool,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed cgroup file (`memory.events`, `memory.oom_control`).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

impl Group {
    /// Creates the groups of task `name` with `memory_bytes` and `pids` limits.
    pub fn create(
        support: &Support,
        name: &str,
        memory_bytes: u64,
        pids: u32,
    ) -> std::io::Result<Group> {
        let memory = memory_bytes.to_string();
        let pids = pids.to_string();
        let dirs = match support {
            Support::V2 { parent } => {
                let dir = parent.join(name);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("memory.max"), &memory)?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("pids.max"), &pids)?;
                vec![dir]
            }
            Support::V1 {
                memory: memory_parent,
                pids: pids_parent,
                cpuacct,
            } => {
                let memory_dir = memory_parent.join(name);
                std::fs::create_dir_all(&memory_dir)?;
                std::fs::write(memory_dir.join("memory.limit_in_bytes"), &memory)?;
                // Where swap is accounted, the same ceiling for memory and swap together.
                let _ = std::fs::write(memory_dir.join("memory.memsw.limit_in_bytes"), &memory);
                let pids_dir = pids_parent.join(name);
                std::fs::create_dir_all(&pids_dir)?;
                std::fs::write(pids_dir.join("pids.max"), &pids)?;
                let mut dirs = vec![memory_dir, pids_dir];
                if let Some(parent) = cpuacct {
                    let dir = parent.join(name);
                    std::fs::create_dir_all(&dir)?;
                    dirs.push(dir);
                }
                dirs
            }
            Support::None => Vec::new(),
        };
        Ok(Group {
            dirs,
            support: support.clone(),
        })
    }

    /// What the groups measured so far.
    pub fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        match &self.support {
            Support::V2 { .. } => {
                let dir = &self.dirs[0];
                usage.cpu_ns = keyed(&dir.join("cpu.stat"), "usage_usec").map(|us| us * 1_000);
                usage.peak_memory_bytes = read_u64(&dir.join("memory.peak"));
                usage.oom_killed = keyed(&dir.join("memory.events"), "oom_kill").unwrap_or(0) > 0;
                usage.pids_limited = keyed(&dir.join("pids.events"), "max").unwrap_or(0) > 0;
            }
            Support::V1 { .. } => {
                let memory = &self.dirs[0];
                usage.peak_memory_bytes = read_u64(&memory.join("memory.max_usage_in_bytes"));
                usage.oom_killed =
                    keyed(&memory.join("memory.oom_control"), "oom_kill").unwrap_or(0) > 0;
                usage.pids_limited =
                    keyed(&self.dirs[1].join("pids.events"), "max").unwrap_or(0) > 0;
                usage.cpu_ns = self
                    .dirs
                    .get(2)
                    .and_then(|dir| read_u64(&dir.join("cpuacct.usage")));
            }
            Support::None => {}
        }
        usage
    }

    /// Processes still in the task's groups.
    pub fn members(&self) -> Vec<u32> {
        self.dirs
            .first()
            .and_then(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
            .map(|text| {
                text.lines()
                    .filter_map(|line| line.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends SIGKILL to every process of the task once (v2: `cgroup.kill`; v1: to each member,
    /// through `kill`).
    pub fn kill_members(&self) {
        let members = self.members();
        if members.is_empty() {
            return;
        }
        let killed = self
            .dirs
            .first()
            .is_some_and(|dir| std::fs::write(dir.join("cgroup.kill"), "1").is_ok());
        if !killed {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .args(members.iter().map(u32::to_string))
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    /// Kills every process of the task until none is left and removes the groups; false if any
    /// is left.
    pub fn destroy(self) -> bool {
        // Exiting processes leave the group within a moment: look again soon, then less often
        // (about a second in all).
        let mut pause = std::time::Duration::from_micros(250);
        for _ in 0..20 {
            if self.members().is_empty() {
                break;
            }
            self.kill_members();
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
        self.dirs.iter().all(|dir| !dir.exists())
    }
}
