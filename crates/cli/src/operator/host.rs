//! The host checks of `vcity operator init` and `vcity operator check` (docs/operators.md,
//! "Host checks"): what a role needs from the machine, each with what was found and, where
//! something is missing, the command that fixes it. The compute node's own
//! `vcity node compute --self-test` runs workloads; these look at the host around it.

use serde::Serialize;
use std::net::TcpListener;
use std::path::Path;

use super::Role;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Present and working.
    Ok,
    /// Works, but not as well as it could (no GPU driver, little disk, clock not known to be
    /// synchronized).
    Warn,
    /// The role cannot work without it.
    Missing,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct HostCheck {
    /// What was checked.
    pub name: &'static str,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// The command that fixes it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> HostCheck {
    HostCheck {
        name,
        outcome,
        detail: detail.into(),
        fix: None,
    }
}

impl HostCheck {
    fn fix(mut self, command: impl Into<String>) -> HostCheck {
        self.fix = Some(command.into());
        self
    }
}

/// Free disk the compute node wants: the default image cache (20 GiB) plus room for tasks.
const COMPUTE_DISK_MIB: u64 = 24 * 1_024;
/// Free disk for the daemons that keep only small files, and for a chain node's first months.
const OTHER_DISK_MIB: u64 = 2 * 1_024;

/// Every check for `role`, with scratch files under `work` (removed after), the daemon's
/// `listen` address and the chain node `api` it will talk to (`None`: the role serves it).
pub fn checks(role: Role, work: &Path, listen: &str, api: Option<&str>) -> Vec<HostCheck> {
    let mut out = Vec::new();
    if role == Role::Compute {
        out.extend(sandbox(work));
        out.push(gpu_driver());
    }
    out.push(disk(work, role));
    out.push(clock());
    out.push(port(listen));
    if let Some(api) = api {
        out.push(chain_node(api));
    }
    out
}

/// bubblewrap, user namespaces and delegated cgroups, by running the sandbox's own check program.
fn sandbox(work: &Path) -> Vec<HostCheck> {
    let scratch = work.join(format!("host-check-{}", std::process::id()));
    let mut out = Vec::new();
    let probed = vcity_sandbox::Sandbox::probe(&scratch.join("sandbox"));
    let sandbox = match probed {
        Ok(sandbox) => {
            out.push(check("bubblewrap", Outcome::Ok, "installed"));
            sandbox
        }
        Err(error) => {
            out.push(
                check(
                    "bubblewrap",
                    Outcome::Missing,
                    format!("{error}: process and image jobs need it"),
                )
                .fix("sudo apt-get install -y bubblewrap"),
            );
            let _ = std::fs::remove_dir_all(&scratch);
            return out;
        }
    };
    out.push(
        match vcity_compute::selftest::process_check(&sandbox, &scratch) {
            Ok(_) => check(
                "user namespaces",
                Outcome::Ok,
                "a sandboxed program ran and gave the known answer",
            ),
            Err(why) => {
                let mut found = check("user namespaces", Outcome::Missing, why);
                if let Some(command) = userns_fix() {
                    found = found.fix(command);
                }
                found
            }
        },
    );
    out.push(if sandbox.enforces_limits() {
        check(
            "cgroup delegation",
            Outcome::Ok,
            format!(
                "memory and process limits through cgroup {}",
                sandbox.cgroups().name()
            ),
        )
    } else {
        check(
            "cgroup delegation",
            Outcome::Missing,
            "this process may not create cgroups with the memory and pids controllers, so task \
             limits cannot be enforced; the compute unit asks systemd to delegate them \
             (Delegate=yes, DelegateSubgroup=daemon: systemd 254 or later)",
        )
        .fix("start the node through its unit: systemctl enable --now vcity-compute.service")
    });
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

/// The sysctl that turns unprivileged user namespaces off, if one does.
fn userns_fix() -> Option<String> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| text.trim().to_string())
    };
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some(
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give \
             /usr/bin/bwrap an AppArmor profile with `userns`)"
                .into(),
        );
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some("sudo sysctl -w kernel.unprivileged_userns_clone=1".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("sudo sysctl -w user.max_user_namespaces=15000".into());
    }
    None
}

fn gpu_driver() -> HostCheck {
    match std::fs::read_to_string("/proc/driver/nvidia/version") {
        Ok(text) => check(
            "nvidia driver",
            Outcome::Ok,
            text.lines().next().unwrap_or("loaded").trim().to_string(),
        ),
        Err(_) => check(
            "nvidia driver",
            Outcome::Warn,
            "no NVIDIA driver loaded: this node offers CPU capacity only",
        )
        .fix(
            "to offer GPUs: sudo apt-get install -y nvidia-driver-550 (or your distribution's \
             driver), then reboot",
        ),
    }
}

fn disk(work: &Path, role: Role) -> HostCheck {
    let want_mib = if role == Role::Compute {
        COMPUTE_DISK_MIB
    } else {
        OTHER_DISK_MIB
    };
    let free_mib = vcity_compute::health::free_disk_mib(work);
    let detail = format!(
        "{:.1} GiB free under {} (wanted: {:.0} GiB)",
        free_mib as f64 / 1_024.0,
        work.display(),
        want_mib as f64 / 1_024.0
    );
    if free_mib >= want_mib {
        check("disk", Outcome::Ok, detail)
    } else if role == Role::Compute {
        check("disk", Outcome::Warn, detail).fix(
            "free space there, or point --home at a larger disk; a smaller image cache: \
             --image-cache-mib in the unit's ExecStart",
        )
    } else {
        check("disk", Outcome::Warn, detail).fix("free space there, or use a larger disk")
    }
}

/// Heartbeats, deadlines and block times are compared with the chain's clock, so a node whose
/// clock drifts misses deadlines it thinks it met.
fn clock() -> HostCheck {
    let timedatectl = std::process::Command::new("timedatectl")
        .args(["show", "--property=NTPSynchronized", "--value"])
        .output();
    match timedatectl {
        Ok(output) if output.status.success() => {
            if String::from_utf8_lossy(&output.stdout).trim() == "yes" {
                check("clock", Outcome::Ok, "synchronized (timedatectl)")
            } else {
                check("clock", Outcome::Warn, "not synchronized (timedatectl)")
                    .fix("sudo timedatectl set-ntp true")
            }
        }
        _ if Path::new("/run/systemd/timesync/synchronized").exists() => {
            check("clock", Outcome::Ok, "synchronized (systemd-timesyncd)")
        }
        _ => check(
            "clock",
            Outcome::Warn,
            "cannot tell whether the clock is synchronized (no timedatectl)",
        )
        .fix("sudo apt-get install -y systemd-timesyncd (or chrony)"),
    }
}

fn port(listen: &str) -> HostCheck {
    match TcpListener::bind(listen) {
        Ok(_) => check("port", Outcome::Ok, format!("{listen} is free")),
        Err(error) => check(
            "port",
            Outcome::Missing,
            format!("cannot listen on {listen}: {error}"),
        )
        .fix(format!(
            "stop what holds it (sudo ss -ltnp 'sport = :{}'), or pass another --listen",
            listen.rsplit(':').next().unwrap_or("")
        )),
    }
}

fn chain_node(api: &str) -> HostCheck {
    match vcity_sdk::Client::new(api).status() {
        Ok(status) => check(
            "chain node",
            Outcome::Ok,
            format!(
                "{api}: chain {} at height {}",
                status.chain_id, status.height.0
            ),
        ),
        Err(error) => check(
            "chain node",
            Outcome::Missing,
            format!("{api} did not answer: {error}"),
        )
        .fix("start the chain node first, or pass the right --node"),
    }
}
