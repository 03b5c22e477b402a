//! The devnet's compute layer: `vcity devnet` starts compute nodes, a scheduler and verifiers as
//! separate processes of this binary (`vcity node compute|scheduler|verifier`), funds their
//! accounts from alice (VCAI to stake and for challenge deposits, USD for fees), and stops them
//! when it stops. Each daemon also watches the
//! devnet's process id and exits with it, so a devnet killed with SIGKILL leaves nothing behind.
//! `--demo` then runs real jobs of the example workloads through them ([`job_demo`]).

use anyhow::Context as _;
use serde::Serialize;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{Billing, Requirements, SubmitJob, TaskState, Workload};
use vcity_types::tx::{Message, Transfer};
use vcity_types::{AccountId, Amount, Denom};

/// Compute nodes' regions and prices, in turn.
const OFFERS: [(&str, &str); 3] = [
    ("eu-west", "0.04"),
    ("us-east", "0.05"),
    ("ap-south", "0.06"),
];

/// One started daemon, as `vcity devnet` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonLine {
    /// Keyring name.
    pub name: String,
    /// `compute` or `scheduler`.
    pub role: &'static str,
    /// Its account.
    pub account: AccountId,
    /// Process id.
    pub pid: u32,
    /// Its log file.
    pub log: String,
}

/// The started daemons.
#[derive(Debug, Default)]
pub struct Daemons {
    children: Vec<(DaemonLine, Child)>,
}

impl Daemons {
    /// What to report.
    pub fn lines(&self) -> Vec<DaemonLine> {
        self.children.iter().map(|(line, _)| line.clone()).collect()
    }

    /// Stops every daemon (they are crash-safe, so a kill loses nothing).
    pub fn stop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many daemons of each role a devnet starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Compute nodes.
    pub compute_nodes: u32,
    /// Schedulers (0 or 1).
    pub schedulers: u32,
    /// Verifiers.
    pub verifiers: u32,
}

impl Fleet {
    /// Daemons in all.
    pub fn total(&self) -> u32 {
        self.compute_nodes + self.schedulers + self.verifiers
    }
}

fn key_of(ring: &Keyring, name: &str) -> anyhow::Result<AccountId> {
    Ok(if ring.contains(name) {
        ring.get(name)?.account
    } else {
        ring.create(name)?.account
    })
}

/// Funds, then starts, the `fleet`'s compute nodes, scheduler and verifiers.
pub fn start(
    api: &str,
    ring: &Keyring,
    home: &Path,
    root: &Path,
    fleet: Fleet,
) -> anyhow::Result<Daemons> {
    let Fleet {
        compute_nodes,
        schedulers,
        verifiers,
    } = fleet;
    let client = Client::new(api);
    let vcai = |whole| Amount::whole(whole, Denom::Vcai);
    let usd = |whole| Amount::whole(whole, Denom::Usd);
    let mut plan: Vec<(String, &'static str, Amount, Amount)> = Vec::new();
    for index in 1..=compute_nodes {
        plan.push((
            format!("compute-{index}"),
            "compute",
            vcai(1_000)?,
            usd(100)?,
        ));
    }
    for index in 1..=schedulers {
        plan.push((
            format!("scheduler-{index}"),
            "scheduler",
            vcai(60_000)?,
            usd(100)?,
        ));
    }
    // The service bond (50,000 VCAI) and room for challenge deposits (1,000 each).
    for index in 1..=verifiers {
        plan.push((
            format!("verifier-{index}"),
            "verifier",
            vcai(60_000)?,
            usd(100)?,
        ));
    }
    // Top every account up from alice in one transaction.
    let mut transfers = Vec::new();
    for (name, _, vcai_target, usd_target) in &plan {
        let account = key_of(ring, name)?;
        let view = client.account(&account)?;
        let held = |denom: Denom| {
            view.balances
                .iter()
                .find(|balance| balance.denom == denom)
                .map_or(Amount::ZERO, |balance| balance.amount)
        };
        for (denom, target) in [(Denom::Vcai, *vcai_target), (Denom::Usd, *usd_target)] {
            if held(denom) < target.mul_div(1, 2, vcity_types::Rounding::Down)? {
                transfers.push(Message::Transfer(Transfer {
                    to: account,
                    denom,
                    amount: target,
                }));
            }
        }
    }
    // At most 64 messages a transaction (the chain's limit); the pending nonce counts what is
    // already in the mempool, so the batches go out back to back.
    let alice = ring.get("alice")?.signing_key()?;
    let mut hashes = Vec::new();
    for batch in transfers.chunks(64) {
        hashes.push(client.send(&alice, batch.to_vec(), None)?);
    }
    for hash in hashes {
        let view = client.wait_for_transaction(&hash, Duration::from_secs(30))?;
        let code = view.receipt.map_or(u32::MAX, |receipt| receipt.code);
        anyhow::ensure!(
            code == 0,
            "funding the daemons from alice failed (code {code})"
        );
    }
    let exe = std::env::current_exe().context("locating the vcity binary")?;
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut daemons = Daemons::default();
    for (index, (name, role, _, _)) in plan.iter().enumerate() {
        let log_path = logs.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut command = Command::new(&exe);
        command
            .arg("--home")
            .arg(home)
            .args(["--node", api, "node", role, "--key", name]);
        match *role {
            "compute" => {
                let (region, price) = OFFERS[index % OFFERS.len()];
                command
                    .arg("--work-dir")
                    .arg(root.join(name))
                    .args(["--listen", "127.0.0.1:0", "--region", region])
                    .args(["--price-per-cu", price, "--poll-interval", "200ms"]);
            }
            "verifier" => {
                command.arg("--work-dir").arg(root.join(name)).args([
                    "--poll-interval",
                    "200ms",
                    "--listen",
                    "127.0.0.1:0",
                ]);
            }
            _ => {
                command.args(["--poll-interval", "200ms", "--listen", "127.0.0.1:0"]);
            }
        }
        let child = command
            .env("VCITY_PARENT_PID", std::process::id().to_string())
            .env_remove("VCITY_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        daemons.children.push((
            DaemonLine {
                name: name.clone(),
                role,
                account: ring.get(name)?.account,
                pid: child.id(),
                log: log_path.display().to_string(),
            },
            child,
        ));
    }
    // Ready when every compute node is registered and online.
    let patience = Duration::from_secs(60 + daemons.children.len() as u64);
    let deadline = Instant::now() + patience;
    let accounts: std::collections::BTreeSet<AccountId> =
        daemons.lines().iter().map(|line| line.account).collect();
    loop {
        let online = client
            .all_nodes(None)?
            .iter()
            .filter(|view| view.online && accounts.contains(&view.node.id))
            .count();
        if online == daemons.children.len() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the daemons did not come online in {} s; see the logs in {}",
            patience.as_secs(),
            logs.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(daemons)
}

/// `vcity devnet --demo`, part two: bob runs each example workload as a two-task job; the
/// outputs are fetched from the nodes, checked against the ledger and against the native
/// reference, and the settlement is printed: what each node earned, the treasury's fee, bob's
/// refund.
pub fn job_demo(api: &str, ring: &Keyring, json: bool) -> anyhow::Result<()> {
    let client = Client::new(api);
    let bob = ring.get("bob")?.signing_key()?;
    let params = client.params()?;
    let mut submitted = Vec::new();
    for workload in vcity_workloads::DEMO {
        client.put_blob(workload.module)?;
        // Inputs big enough to cost something visible (a few thousandths of a CU each).
        let input = match workload.name {
            "matmul" => b"256 7".to_vec(),
            "hashchain" => b"300000 vcity".to_vec(),
            _ => vcity_kernels::blur::Image::synthetic(120, 120, 11).to_pgm(),
        };
        let message = SubmitJob {
            workload: Workload {
                executor: vcity_types::compute::ExecutorKind::Wasm,
                module_hash: vcity_types::compute::content_address(workload.module),
                input: input.clone(),
                shards: Vec::new(),
                service: None,
                output_dir: false,
                confidential: None,
            },
            tasks: 2,
            requirements: Requirements {
                max_duration_s: 60,
                ..Requirements::default()
            },
            max_cu_ppm_per_task: 50_000, // 0.05 CU
            max_price_per_cu_usd: Amount::parse_decimal("0.10", Denom::Usd)?,
            billing: Billing::PayAsYouGo,
            // Every task re-executed by a verifier, so the demo shows the whole trust path.
            verification: vcity_types::trust::VerificationLevel::Full,
            retries: None,
        };
        let hash = client.send(&bob, vec![Message::SubmitJob(message)], None)?;
        let receipt = client
            .wait_for_transaction(&hash, Duration::from_secs(30))?
            .receipt
            .context("no receipt")?;
        anyhow::ensure!(receipt.code == 0, "job refused: {}", receipt.error);
        let job_id = receipt
            .events
            .iter()
            .find_map(|event| match event {
                vcity_types::event::Event::JobSubmitted { job_id, .. } => Some(*job_id),
                _ => None,
            })
            .context("no job id")?;
        submitted.push((workload, input, job_id));
    }
    // Wait for settlement (the devnet's verification window is a few seconds). Six tasks at
    // full verification took over 120 s once on a loaded two-core machine: five minutes.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut rows = Vec::new();
    for (workload, input, job_id) in &submitted {
        let job = loop {
            let job = client.job(*job_id)?;
            let over = job.tasks.iter().all(|task| {
                matches!(
                    task.state,
                    TaskState::Settled { .. } | TaskState::Failed { .. } | TaskState::Cancelled
                )
            });
            if over {
                break job;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "job {job_id} did not settle in time"
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        let reference = (workload.reference)(input).map_err(|error| anyhow::anyhow!("{error}"))?;
        let escrow_per_task = vcity_ledger::jobs::task_escrow(
            &SubmitJob {
                workload: job.workload.clone(),
                tasks: 1,
                requirements: job.requirements.clone(),
                max_cu_ppm_per_task: job.max_cu_ppm_per_task,
                max_price_per_cu_usd: job.max_price_per_cu_usd,
                billing: job.billing.clone(),
                verification: job.verification,
                retries: job.retries,
            },
            &params.trust,
        )
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        for (index, task) in job.tasks.iter().enumerate() {
            let TaskState::Settled { node, cost_usd, .. } = &task.state else {
                anyhow::bail!("job {job_id} task {index}: {}", task.state.describe());
            };
            let verified = client.task_output(&bob, *job_id, index as u32)?;
            let matches = verified.output == reference;
            let fee = cost_usd.mul_div(
                u128::from(params.jobs.network_fee_ppm),
                1_000_000,
                vcity_types::Rounding::Up,
            )?;
            let paid_rate =
                task.sampling_ppm
                    .min(vcity_ledger::verification::max_sampling_rate_ppm(
                        &params.trust,
                        job.verification,
                    ));
            let verification_usd = vcity_ledger::verification::fee(*cost_usd, paid_rate)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let checked_by = match &task.check {
                Some(check) if check.state == vcity_types::trust::CheckState::Agreed => {
                    Some(check.verifier)
                }
                _ => None,
            };
            rows.push(serde_json::json!({
                "workload": workload.name,
                "job_id": job_id,
                "task": index,
                "node": node,
                "cu_used": verified.commitment.cu_used_ppm as f64 / 1e6,
                "paid_usd": cost_usd.to_decimal(Denom::Usd),
                "node_usd": cost_usd.checked_sub(fee)?.to_decimal(Denom::Usd),
                "treasury_usd": fee.to_decimal(Denom::Usd),
                "verification_usd": verification_usd.to_decimal(Denom::Usd),
                "checked_by": checked_by,
                "refund_usd": escrow_per_task
                    .checked_sub(*cost_usd)?
                    .checked_sub(verification_usd)?
                    .to_decimal(Denom::Usd),
                "output_bytes": verified.output.len(),
                "matches_native_reference": matches,
            }));
            anyhow::ensure!(
                matches,
                "job {job_id} task {index}: output differs from the native reference"
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "job_demo", "tasks": rows})
        );
        return Ok(());
    }
    println!(
        "demo: bob ran {} jobs of the example workloads on the compute nodes:",
        submitted.len()
    );
    for row in &rows {
        let text = |key: &str| row[key].as_str().unwrap_or_default().to_string();
        let node = text("node");
        let checker = text("checked_by");
        let checked = if checker.is_empty() {
            "not checked".to_string()
        } else {
            format!(
                "re-executed by verifier {}…",
                &checker[..checker.len().min(12)]
            )
        };
        println!(
            "      {:<9} job {} task {}: {:.6} CU on {}…  paid {} USD = {} to the node + {} fee to the treasury, {} USD for verification ({checked}); {} USD refunded; output = native reference",
            text("workload"),
            row["job_id"],
            row["task"],
            row["cu_used"].as_f64().unwrap_or_default(),
            &node[..node.len().min(12)],
            text("paid_usd"),
            text("node_usd"),
            text("treasury_usd"),
            text("verification_usd"),
            text("refund_usd"),
        );
    }
    Ok(())
}

/// The agents demo (docs/agents.md): dave deploys the tour-guide template over its sample
/// notes, selling a week's licence at 2 USD and single calls at 0.25 USD; carol buys the licence
/// and asks the guide a question, which runs on the network as a call of the agent.
pub fn agent_demo(
    api: &str,
    ring: &Keyring,
    outputs: std::path::PathBuf,
    json: bool,
) -> anyhow::Result<()> {
    use vcity_types::agents::{LicenceKind, LicenceOffer, SetLicenceTerms, TakeLicence};
    let client = Client::new(api);
    let dave = ring.get("dave")?.signing_key()?;
    let carol = ring.get("carol")?.signing_key()?;
    let template = crate::template::Template::named("tour-guide")?;
    let deployed = crate::template::deploy(
        &client,
        &dave,
        &template,
        &template.sample(),
        crate::template::Deployment {
            name: Some("Harbour Museum guide".into()),
            royalty_bps: 500,
            copyright: "© dave".into(),
            ..Default::default()
        },
    )?;
    let agent_id = deployed.agent_id;
    let price = Amount::parse_decimal("2", Denom::Usd)?;
    let terms = Message::SetLicenceTerms(SetLicenceTerms {
        agent_id,
        offers: vec![LicenceOffer {
            kind: LicenceKind::Timed {
                duration_s: 7 * 86_400,
            },
            price_usd: price,
        }],
        per_call_usd: Some(Amount::parse_decimal("0.25", Denom::Usd)?),
    });
    crate::agent::send(&client, &dave, vec![terms])?;
    let licence = Message::TakeLicence(TakeLicence {
        agent_id,
        offer: 0,
        max_price_usd: price,
    });
    crate::agent::send(&client, &carol, vec![licence])?;
    let question = "What is the oldest object in the museum?";
    let store = crate::job::run::OutputStore::new(outputs);
    let answer = crate::template::ask(
        &client,
        &carol,
        &store,
        agent_id,
        question,
        Some(Amount::ZERO),
        Amount::parse_decimal("0.10", Denom::Usd)?,
        Duration::from_secs(120),
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "agent_demo",
                "agent_id": agent_id,
                "question": question,
                "answer": answer["answer"],
                "sources": answer["sources"],
                "job_id": answer["job_id"],
                "call_fee_usd": answer["call_fee_usd"],
            })
        );
    } else {
        println!(
            "agents: dave deployed the tour-guide template as agent {agent_id}; carol bought a week's licence for 2 USD"
        );
        println!("        carol asked: {question}");
        println!(
            "        answer: {}",
            answer["answer"].as_str().unwrap_or_default()
        );
        for source in answer["sources"].as_array().into_iter().flatten() {
            println!(
                "        source: {}",
                source["source"].as_str().unwrap_or_default()
            );
        }
        println!(
            "        (job {}, no call fee under the licence; try: vcity template ask {agent_id} \"When is the museum open?\" --from bob)",
            answer["job_id"]
        );
    }
    Ok(())
}
