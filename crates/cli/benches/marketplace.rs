//! Compass P5: the marketplace end to end on a devnet of real processes (chain node, compute
//! nodes, scheduler). Two numbers:
//!
//! - **Latency**: single-task jobs submitted one at a time; from the block that includes the
//!   submission to the block that includes the result, in block times (from the ledger's own
//!   times: `submitted_s` and the result's time, `settle_at_s - verification window`). Settlement
//!   follows one verification window later (a governance parameter: 600 s by default, 5 s on the
//!   devnet).
//! - **Throughput**: a burst of single-task jobs (64 per transaction) and the rate at which their
//!   results land, in jobs per minute.
//!
//! `VCITY_BENCH_NODES` compute nodes (default 100), `VCITY_BENCH_JOBS` jobs in the burst
//! (default 2,000), 1 s blocks.
//!
//! `cargo bench -p vcity-cli --bench marketplace`

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vcity_sdk::{Client, Keyring};
use vcity_types::compute::{
    content_address, Billing, Requirements, SubmitJob, TaskState, Workload,
};
use vcity_types::tx::Message;
use vcity_types::Amount;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn tiny_job() -> SubmitJob {
    SubmitJob {
        workload: Workload {
            executor: vcity_types::compute::ExecutorKind::Wasm,
            module_hash: content_address(vcity_workloads::HASHCHAIN.module),
            input: b"10 bench".to_vec(),
            shards: Vec::new(),
            service: None,
            output_dir: false,
            confidential: None,
        },
        tasks: 1,
        requirements: Requirements {
            max_duration_s: 60,
            ..Requirements::default()
        },
        max_cu_ppm_per_task: 10_000,
        max_price_per_cu_usd: Amount::new(100_000),
        billing: Billing::PayAsYouGo,
        // P5 measures the market's throughput, as before the trust layer: no sampling.
        verification: vcity_types::trust::VerificationLevel::None,
        retries: None,
    }
}

fn main() -> anyhow::Result<()> {
    let nodes = env_number("VCITY_BENCH_NODES", 100);
    let burst = env_number("VCITY_BENCH_JOBS", 2_000);
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_vcity"))
        .args(["--json", "--home"])
        .arg(&home)
        .args(["devnet", "--listen", "127.0.0.1:0", "--block-time", "1s"])
        .args(["--compute-nodes", &nodes.to_string(), "--schedulers", "1"])
        .env("VCITY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(devnet.stdout.take().expect("stdout")).read_line(&mut line)?;
    let started: Value = serde_json::from_str(&line)?;
    let api = started["api"].as_str().expect("api").to_string();
    let client = Client::new(&api);
    let ring = Keyring::open(&home.join("keys"))?;
    let bob = ring.get("bob")?.signing_key()?;
    client.put_blob(vcity_workloads::HASHCHAIN.module)?;
    let window = client.params()?.jobs.verification_window_s;
    println!("devnet with {nodes} compute nodes and a scheduler at {api}; 1 s blocks");

    // Latency, one job at a time.
    let mut blocks = Vec::new();
    for _ in 0..20 {
        let hash = client.send(&bob, vec![Message::SubmitJob(tiny_job())], None)?;
        let receipt = client
            .wait_for_transaction(&hash, Duration::from_secs(30))?
            .receipt
            .expect("receipt");
        let id = receipt
            .events
            .iter()
            .find_map(|event| match event {
                vcity_types::event::Event::JobSubmitted { job_id, .. } => Some(*job_id),
                _ => None,
            })
            .expect("job id");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = client.job(id)?;
            match &job.tasks[0].state {
                TaskState::Completed { settle_at_s, .. } => {
                    blocks.push(settle_at_s - window - job.submitted_s);
                    break;
                }
                // Polled too late to read the result's time (it is only kept until settlement).
                TaskState::Settled { .. } => break,
                _ => {}
            }
            anyhow::ensure!(Instant::now() < deadline, "job {id} took over a minute");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    blocks.sort_unstable();
    println!(
        "latency, submit block to result block: p50 {} block times, max {} (over {} jobs)",
        blocks[blocks.len() / 2],
        blocks[blocks.len() - 1],
        blocks.len()
    );

    // Throughput: a burst, 64 jobs per transaction, nonces in sequence.
    let status = client.status()?;
    let account = client.account(&vcity_types::AccountId::from_public_key(
        &bob.verifying_key(),
    ))?;
    let first_id = vcity_sdk::Client::jobs(&client, None)?
        .first()
        .map_or(0, |job| job.id)
        + 1;
    let started_at = Instant::now();
    let mut nonce = account.pending_nonce;
    let mut sent = 0;
    while sent < burst {
        let count = (burst - sent).min(64);
        let messages = (0..count).map(|_| Message::SubmitJob(tiny_job())).collect();
        let tx = vcity_sdk::transaction::sign(
            &bob,
            &status.chain_id,
            nonce,
            status.min_fee_usd,
            messages,
        );
        client.submit(&tx.to_bytes())?;
        nonce += 1;
        sent += count;
    }
    let last_id = first_id + burst - 1;
    let deadline = Instant::now() + Duration::from_secs(1_800);
    let mut checked = first_id;
    while checked <= last_id {
        match client.job(checked) {
            Ok(job)
                if matches!(
                    job.tasks[0].state,
                    TaskState::Completed { .. } | TaskState::Settled { .. }
                ) =>
            {
                checked += 1;
                continue;
            }
            Ok(job) if matches!(job.tasks[0].state, TaskState::Failed { .. }) => {
                anyhow::bail!("job {} failed: {:?}", job.id, job.tasks[0].state)
            }
            _ => {}
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the burst did not finish in 30 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started_at.elapsed();
    println!(
        "throughput: {burst} jobs with results in {:.1} s = {:.0} jobs/min",
        elapsed.as_secs_f64(),
        burst as f64 * 60.0 / elapsed.as_secs_f64()
    );
    let _ = devnet.kill();
    let _ = devnet.wait();
    Ok(())
}
