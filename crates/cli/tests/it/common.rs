//! Shared by the end-to-end tests: a devnet started as a child process of the real `vcity`
//! binary, and the CLI run against it.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vcity");

pub struct Devnet {
    pub home: PathBuf,
    pub child: Child,
    pub api: String,
    pub started: Value,
    /// The devnet's later stdout lines (a thread drains the pipe so the devnet never blocks).
    pub lines: std::sync::Mutex<std::sync::mpsc::Receiver<String>>,
}

impl Devnet {
    pub fn start(home: &Path) -> Devnet {
        Devnet::start_with(home, &[])
    }

    /// A devnet without daemons, with `extra` devnet flags.
    pub fn start_with(home: &Path, extra: &[&str]) -> Devnet {
        let mut flags = vec![
            "--compute-nodes",
            "0",
            "--schedulers",
            "0",
            "--verifiers",
            "0",
        ];
        flags.extend_from_slice(extra);
        Devnet::launch(home, &flags)
    }

    /// A devnet with `compute_nodes` compute nodes and a scheduler.
    pub fn start_with_daemons(home: &Path, compute_nodes: u32) -> Devnet {
        let count = compute_nodes.to_string();
        Devnet::launch(
            home,
            &[
                "--compute-nodes",
                &count,
                "--schedulers",
                "1",
                "--block-time",
                "250ms",
            ],
        )
    }

    /// A devnet with exactly `extra` devnet flags (100 ms blocks unless they say otherwise).
    pub fn launch(home: &Path, extra: &[&str]) -> Devnet {
        let block_time = if extra.contains(&"--block-time") {
            None
        } else {
            Some("100ms")
        };
        let mut command = Command::new(BIN);
        command
            .args(["--json", "--home"])
            .arg(home)
            .args(["devnet", "--listen", "127.0.0.1:0"]);
        if let Some(block_time) = block_time {
            command.args(["--block-time", block_time]);
        }
        let mut child = command
            .args(extra)
            .env_remove("VCITY_NODE")
            .env_remove("VCITY_CONFIG")
            // The devnet ends with this test process, even one that never drops it.
            .env("VCITY_PARENT_PID", std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vcity devnet starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("reads the start line");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("start line is JSON ({error}): {line:?}"));
        assert_eq!(started["event"], "started");
        let api = started["api"].as_str().expect("api").to_string();
        Devnet {
            home: home.to_path_buf(),
            child,
            api,
            started,
            lines: std::sync::Mutex::new(lines),
        }
    }

    /// Waits up to `limit` for a stdout line that is JSON and satisfies `wanted`.
    pub fn wait_for_line(&self, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .lock()
                .expect("lines")
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no such line from the devnet within {limit:?}"));
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if wanted(&value) {
                    return value;
                }
            }
        }
    }

    /// `vcity --json --home HOME --node API ARGS`.
    pub fn cli(&self, args: &[&str]) -> Run {
        vcity(&self.home, Some(&self.api), args)
    }

    pub fn kill9(mut self) {
        // std's Child::kill sends SIGKILL on Unix: no shutdown path runs.
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stdout: String,
}

pub fn vcity(home: &Path, node: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(BIN);
    command.arg("--json").arg("--home").arg(home);
    if let Some(node) = node {
        command.args(["--node", node]);
    }
    let output = command
        .args(args)
        .env_remove("VCITY_NODE")
        .env_remove("VCITY_CONFIG")
        .output()
        .expect("vcity runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    Run {
        code: output.status.code().unwrap_or(-1),
        json,
        stdout,
    }
}

/// Asserts the network refused with `code` (exit status 1).
pub fn refused(run: &Run, code: u64) {
    assert_eq!(run.code, 1, "exit status: {}", run.stdout);
    assert_eq!(run.json["code"].as_u64(), Some(code), "{}", run.stdout);
}

pub fn ok(run: Run) -> Value {
    assert_eq!(run.code, 0, "command failed: {}", run.stdout);
    run.json
}

pub fn usd(home: &Path, api: &str, who: &str) -> String {
    let account = ok(vcity(home, Some(api), &["query", "account", who]));
    account["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["denom"] == "usd")
        .expect("usd")["display"]
        .as_str()
        .expect("display")
        .to_string()
}

pub fn wait_for_height(home: &Path, api: &str, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let status = vcity(home, Some(api), &["query", "status"]);
        if status.code == 0 && status.json["height"].as_u64().unwrap_or(0) >= height {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("height {height} never reached");
}

/// What a settled task (its JSON) cost its owner: the cost plus the verification fee, the cost
/// × its sampling rate capped at the level's escrowed rate, rounded up (docs/verification.md).
pub fn charged(task: &Value, level: vcity_types::trust::VerificationLevel) -> u128 {
    let cost: u128 = task["state"]["cost_usd"]
        .as_str()
        .expect("cost")
        .parse()
        .expect("units");
    let sampling = task["sampling_ppm"].as_u64().expect("sampling rate") as u32;
    let cap = vcity_ledger::verification::max_sampling_rate_ppm(
        &vcity_ledger::trust::TrustParams::default(),
        level,
    );
    let fee = vcity_ledger::verification::fee(vcity_types::Amount::new(cost), sampling.min(cap))
        .expect("a fee");
    cost + fee.base_units()
}

/// The proposal number in the output of a command that opened one.
pub fn proposal_number(opened: &Value) -> u64 {
    opened["transaction"]["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["type"] == "proposal_created")
        .and_then(|event| event["number"].as_u64())
        .unwrap_or_else(|| panic!("no proposal_created event: {opened}"))
}

/// Waits until proposal `number` is in `phase`.
pub fn wait_for_phase(devnet: &Devnet, number: u64, phase: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let shown = ok(devnet.cli(&["gov", "show", &number.to_string()]));
        if shown["proposal"]["phase"] == phase {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "proposal {number} never reached {phase}: {shown}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Takes an open devnet proposal through its life: alice (the devnet's only locker) votes yes
/// when voting opens, and `executor` executes it after the timelock. The execution's output.
pub fn pass_proposal(devnet: &Devnet, number: u64, executor: &str) -> Value {
    let text = number.to_string();
    wait_for_phase(devnet, number, "voting");
    ok(devnet.cli(&["gov", "vote", &text, "yes", "--from", "alice"]));
    wait_for_phase(devnet, number, "executable");
    ok(devnet.cli(&["gov", "execute", &text, "--from", executor]))
}

/// An account view's balance of `denom`, base units.
pub fn balance_units(account: &Value, denom: &str) -> u128 {
    account["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|balance| balance["denom"] == denom)
        .map_or(0, |balance| {
            balance["amount"]
                .as_str()
                .expect("amount")
                .parse()
                .expect("units")
        })
}

/// Whether `program args` runs, for a test that needs a tool beyond Rust. Where it does not, the
/// test says SKIPPED and passes, unless `require` (an environment variable `.ci/run` sets) is
/// set: then it fails, so CI cannot pass without the tool.
pub fn tool_available(program: &str, args: &[&str], require: &str) -> bool {
    let available = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(
            std::env::var_os(require).is_none(),
            "`{program} {}` failed and {require} is set",
            args.join(" ")
        );
        eprintln!("SKIPPED: needs `{program} {}`", args.join(" "));
    }
    available
}
