//! Prometheus metrics, rendered in the text exposition format at `GET /metrics`.
//!
//! Plain atomics: the handful of series a node operator alerts on (height, block rate, commit
//! latency, mempool depth, admission and rejection by error code) do not justify a metrics
//! framework in the build.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const CODES: usize = 32;

/// The node's counters and gauges.
#[derive(Debug)]
pub struct Metrics {
    height: AtomicU64,
    blocks_committed: AtomicU64,
    txs_committed: AtomicU64,
    txs_admitted: AtomicU64,
    txs_rejected: [AtomicU64; CODES],
    mempool_size: AtomicU64,
    commit_micros_sum: AtomicU64,
    http_requests: AtomicU64,
    block_signatures_checked: AtomicU64,
    block_signatures_known: AtomicU64,
    mempool_rechecked: AtomicU64,
    mempool_kept: AtomicU64,
    block_txs_replayed: AtomicU64,
    block_txs_executed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            height: AtomicU64::new(0),
            blocks_committed: AtomicU64::new(0),
            txs_committed: AtomicU64::new(0),
            txs_admitted: AtomicU64::new(0),
            txs_rejected: std::array::from_fn(|_| AtomicU64::new(0)),
            mempool_size: AtomicU64::new(0),
            commit_micros_sum: AtomicU64::new(0),
            http_requests: AtomicU64::new(0),
            block_signatures_checked: AtomicU64::new(0),
            block_signatures_known: AtomicU64::new(0),
            mempool_rechecked: AtomicU64::new(0),
            mempool_kept: AtomicU64::new(0),
            block_txs_replayed: AtomicU64::new(0),
            block_txs_executed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Sets the height gauge (at start).
    pub fn set_height(&self, height: u64) {
        self.height.store(height, Ordering::Relaxed);
    }

    /// A transaction entered the mempool.
    pub fn tx_admitted(&self) {
        self.txs_admitted.fetch_add(1, Ordering::Relaxed);
        self.mempool_size.fetch_add(1, Ordering::Relaxed);
    }

    /// A transaction was refused with `code`.
    pub fn tx_rejected(&self, code: u32) {
        let slot = (code as usize).min(CODES - 1);
        self.txs_rejected[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP request arrived.
    pub fn http_request(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A block's transactions were verified: `checked` signatures checked in batches, `known`
    /// skipped because this node's mempool had already checked them.
    pub fn signatures_checked(&self, checked: u64, known: u64) {
        self.block_signatures_checked
            .fetch_add(checked, Ordering::Relaxed);
        self.block_signatures_known
            .fetch_add(known, Ordering::Relaxed);
    }

    /// A block was proposed or verified: of its `included` transactions, `replayed` took the
    /// writes of this node's mempool check, the rest ran again.
    pub fn transactions_replayed(&self, replayed: u32, included: usize) {
        let replayed = u64::from(replayed);
        self.block_txs_replayed
            .fetch_add(replayed, Ordering::Relaxed);
        self.block_txs_executed.fetch_add(
            (included as u64).saturating_sub(replayed),
            Ordering::Relaxed,
        );
    }

    /// After a commit: waiting transactions checked again and kept unchecked.
    pub fn mempool_rechecked(&self, rechecked: u64, kept: u64) {
        self.mempool_rechecked
            .fetch_add(rechecked, Ordering::Relaxed);
        self.mempool_kept.fetch_add(kept, Ordering::Relaxed);
    }

    /// A block committed.
    pub fn block_committed(&self, height: u64, txs: u64, mempool_size: u64, took: Duration) {
        self.height.store(height, Ordering::Relaxed);
        self.blocks_committed.fetch_add(1, Ordering::Relaxed);
        self.txs_committed.fetch_add(txs, Ordering::Relaxed);
        self.mempool_size.store(mempool_size, Ordering::Relaxed);
        self.commit_micros_sum
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut series = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        series(
            "vcity_height",
            "gauge",
            "Latest committed block height.",
            get(&self.height).to_string(),
        );
        series(
            "vcity_blocks_committed_total",
            "counter",
            "Blocks committed by this process.",
            get(&self.blocks_committed).to_string(),
        );
        series(
            "vcity_txs_committed_total",
            "counter",
            "Transactions included in committed blocks by this process.",
            get(&self.txs_committed).to_string(),
        );
        series(
            "vcity_txs_admitted_total",
            "counter",
            "Transactions accepted into the mempool.",
            get(&self.txs_admitted).to_string(),
        );
        series(
            "vcity_mempool_size",
            "gauge",
            "Transactions waiting in the mempool.",
            get(&self.mempool_size).to_string(),
        );
        series(
            "vcity_block_commit_seconds_sum",
            "counter",
            "Total time spent verifying and committing blocks.",
            format!("{:.6}", get(&self.commit_micros_sum) as f64 / 1e6),
        );
        series(
            "vcity_block_signatures_checked_total",
            "counter",
            "Transaction signatures checked while verifying blocks (in batches).",
            get(&self.block_signatures_checked).to_string(),
        );
        series(
            "vcity_block_signatures_known_total",
            "counter",
            "Transaction signatures in verified blocks not checked again: the mempool had.",
            get(&self.block_signatures_known).to_string(),
        );
        series(
            "vcity_block_txs_replayed_total",
            "counter",
            "Transactions of proposed or verified blocks that took the writes of this node's mempool check instead of running again.",
            get(&self.block_txs_replayed).to_string(),
        );
        series(
            "vcity_block_txs_executed_total",
            "counter",
            "Transactions of proposed or verified blocks that ran: unknown to the mempool, or their check no longer held.",
            get(&self.block_txs_executed).to_string(),
        );
        series(
            "vcity_mempool_rechecked_total",
            "counter",
            "Waiting transactions checked again after a commit changed something they read.",
            get(&self.mempool_rechecked).to_string(),
        );
        series(
            "vcity_mempool_kept_total",
            "counter",
            "Waiting transactions kept after a commit without a new check: it changed nothing they read.",
            get(&self.mempool_kept).to_string(),
        );
        series(
            "vcity_http_requests_total",
            "counter",
            "HTTP requests served.",
            get(&self.http_requests).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP vcity_txs_rejected_total Transactions refused, by stable error code."
        );
        let _ = writeln!(out, "# TYPE vcity_txs_rejected_total counter");
        for (code, counter) in self.txs_rejected.iter().enumerate() {
            let value = get(counter);
            if value > 0 {
                let _ = writeln!(out, "vcity_txs_rejected_total{{code=\"{code}\"}} {value}");
            }
        }
        out
    }
}
