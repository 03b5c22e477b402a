//! The solo engine: a single validator with all the voting power. Every `block_time` it asks the
//! application for a value, verifies it through the same path a BFT peer would, signs a
//! one-signature certificate and commits. It runs on its own thread (no async runtime needed),
//! so the node's HTTP server never waits behind block execution.

use crate::{AppError, Application, Certificate};
use ed25519_dalek::SigningKey;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Solo engine settings.
#[derive(Debug, Clone)]
pub struct SoloConfig {
    /// Chain id (bound into commit signatures).
    pub chain_id: String,
    /// Time between blocks.
    pub block_time: Duration,
}

/// The solo engine.
pub struct SoloEngine<A: Application + 'static> {
    app: Arc<A>,
    key: SigningKey,
    config: SoloConfig,
}

impl<A: Application + 'static> std::fmt::Debug for SoloEngine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoloEngine")
            .field("config", &self.config)
            .finish()
    }
}

/// A running solo engine.
#[derive(Debug)]
pub struct SoloHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), AppError>>>,
}

impl SoloHandle {
    /// Asks the engine to stop after the block in progress and waits for it.
    pub fn stop(mut self) -> Result<(), AppError> {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits for the engine to end by itself (it does only on a fatal error).
    pub fn join(&mut self) -> Result<(), AppError> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(AppError::Fatal("consensus thread panicked".into()))),
            None => Ok(()),
        }
    }

    /// True once the engine thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl<A: Application + 'static> SoloEngine<A> {
    /// An engine driving `app`, signing with `key`.
    pub fn new(app: Arc<A>, key: SigningKey, config: SoloConfig) -> Self {
        SoloEngine { app, key, config }
    }

    /// Produces exactly one block now (tests and benchmarks drive the engine this way).
    pub fn step(&self) -> Result<u64, AppError> {
        let height = self.app.committed_height() + 1;
        let proposal = self.app.propose(height)?;
        let id = self.app.verify(height, &proposal.bytes)?;
        if id != proposal.id {
            return Err(AppError::Fatal(format!(
                "application verified its own proposal at height {height} to a different id"
            )));
        }
        let certificate = Certificate::sign_solo(&self.config.chain_id, height, id, &self.key);
        self.app.commit(height, &proposal.bytes, &certificate)?;
        Ok(height)
    }

    /// Runs on a new thread until stopped or until the application fails.
    pub fn spawn(self) -> SoloHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vcity-solo-consensus".into())
            .spawn(move || self.run(&flag))
            .expect("spawning the consensus thread");
        SoloHandle {
            stop,
            thread: Some(thread),
        }
    }

    fn run(&self, stop: &AtomicBool) -> Result<(), AppError> {
        let mut next = Instant::now() + self.config.block_time;
        loop {
            // Sleep in short slices so that a stop request is honoured promptly.
            loop {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                std::thread::sleep((next - now).min(Duration::from_millis(20)));
            }
            match self.step() {
                Ok(height) => tracing::debug!(height, "solo engine committed a block"),
                Err(AppError::Invalid(reason)) => {
                    // Our own proposal failing our own check is a bug, but not one that justifies
                    // stopping: the next round builds a fresh block.
                    tracing::error!(%reason, "own proposal rejected; retrying next round");
                }
                Err(fatal) => {
                    tracing::error!(error = %fatal, "consensus stopped");
                    return Err(fatal);
                }
            }
            next += self.config.block_time;
            // After a long stall, do not burst to catch up: keep the cadence from now.
            let now = Instant::now();
            if next < now {
                next = now + self.config.block_time;
            }
        }
    }
}
