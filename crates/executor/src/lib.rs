//! The deterministic WASM executor (issue 3 point 4; whitepaper §2.4.1, §6.2; rules §5;
//! research/anchors-verify-sched.md §D). A compute node runs every task here, and a verifier
//! re-runs samples here: the same module, input and limits give the same [`Outcome`] on every
//! machine, so a result can be re-executed and compared bit for bit.
//!
//! What makes it deterministic:
//! - WebAssembly itself, with threads off, relaxed SIMD in its deterministic mode, and NaN
//!   results canonicalized by the compiler (the only float behaviour the spec leaves open).
//! - A WASI preview 1 host written here ([`wasi`]) instead of one that reaches the operating
//!   system: the program sees its input on standard input and as the read-only file
//!   `/input/input`, writes its output to standard output and its log to standard error, and
//!   nothing else. The clock is virtual (nanoseconds = fuel consumed so far), `random_get`
//!   streams from the task's seed, there is no network and no other file.
//! - Fuel metering: every instruction costs fuel, a task gets exactly the fuel its CU budget buys
//!   ([`fuel_for_cu_ppm`]) and ends with [`TaskExit::OutOfFuel`] when it runs out, so an endless
//!   loop is billed up to its limit and no further.
//! - Bounded memory, table and stack: a memory bomb ends with [`TaskExit::MemoryLimit`].
//!
//! A wall-clock limit (epoch interruption) is the safety net for what fuel cannot see (e.g. a
//! pathological compile); it is not deterministic, so a timed-out task is not a result: the node
//! gives it up.
//!
//! Fuel and CU (docs/job-spec.md, "Compute units"): a CU is one second of the reference GPU
//! (rules §4). Cranelift runs about [`FUEL_PER_SECOND`] = 10^9 fuel units (roughly WebAssembly
//! instructions) per second on one current core, so a task's *fuel-time* is its fuel over that
//! rate, and its CU is its fuel-time × the CU rate of the resources its assignment holds (the
//! ledger fixes it as `Task::factor_ppm`: one CPU core's factor, 0.01 CU per second, for a CPU
//! task; its GPUs' factors for a GPU task). So a node whose capacity is fully assigned shows
//! consumed CU close to its available CU, and re-execution with the same factor reproduces the
//! billed CU exactly. CU used rounds up: a task that ran at all pays for at least one millionth of
//! a CU. At a CPU core's 10,000 ppm, one millionth of a CU ("ppm", the unit on the ledger) is
//! 100,000 fuel.

mod wasi;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vcity_types::compute::{content_address, ResultCommitment, TaskExit};
use vcity_types::Hash;
use wasmtime::{Config, Engine, Linker, Module, OptLevel, Store, Trap};

/// Fuel per second of fuel-time: what one current core runs in a second.
pub const FUEL_PER_SECOND: u64 = 1_000_000_000;

/// One CPU core's CU rate, ppm (the ledger's default `cpu_core_factor_ppm`).
pub const CPU_CORE_FACTOR_PPM: u64 = 10_000;

/// Largest module the executor compiles.
pub const MAX_MODULE_BYTES: usize = 16 * 1024 * 1024;

/// CU × 10^6 for `fuel` consumed by a task whose resources are worth `factor_ppm` CU per second
/// (rounded up).
pub fn cu_ppm_for_fuel(fuel: u64, factor_ppm: u64) -> u64 {
    let cu = (u128::from(fuel) * u128::from(factor_ppm)).div_ceil(u128::from(FUEL_PER_SECOND));
    u64::try_from(cu).unwrap_or(u64::MAX)
}

/// Fuel that `cu_ppm` buys at `factor_ppm` CU per second (rounded down: the budget is never
/// exceeded).
pub fn fuel_for_cu_ppm(cu_ppm: u64, factor_ppm: u64) -> u64 {
    let fuel = u128::from(cu_ppm) * u128::from(FUEL_PER_SECOND) / u128::from(factor_ppm.max(1));
    u64::try_from(fuel).unwrap_or(u64::MAX)
}

/// The executor's bounds (all part of the deterministic contract, apart from the wall clock).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// Table elements.
    pub table_elements: usize,
    /// WebAssembly stack, bytes.
    pub stack_bytes: usize,
    /// Standard output kept (the task's output), bytes.
    pub output_bytes: usize,
    /// Standard error kept (the task's log), bytes; more is dropped with a marker, not an error.
    pub log_bytes: usize,
    /// The wall-clock safety net.
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 * 1024 * 1024,
            table_elements: 100_000,
            stack_bytes: 1024 * 1024,
            output_bytes: 16 * 1024 * 1024,
            log_bytes: 64 * 1024,
            wall_clock: Duration::from_secs(300),
        }
    }
}

/// One task to run.
#[derive(Debug, Clone)]
pub struct Task<'a> {
    /// The module's bytes.
    pub module: &'a [u8],
    /// The input (standard input and `/input/input`).
    pub input: &'a [u8],
    /// Fuel budget (from the job's CU budget, [`fuel_for_cu_ppm`]).
    pub fuel: u64,
    /// CU per second of the resources the task holds, ppm (the ledger's `Task::factor_ppm`).
    pub factor_ppm: u64,
    /// Seed of `random_get` (the task's [`vcity_types::compute::task_seed`]).
    pub seed: Hash,
    /// The wall-clock limit for this task, if lower than the executor's.
    pub wall_clock: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A deterministic ending: this is a result.
    Exit(TaskExit),
    /// The wall-clock safety net fired: not a result (the node gives the task up).
    TimedOut,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Standard output: the task's output.
    pub output: Vec<u8>,
    /// Standard error: the task's log.
    pub log: Vec<u8>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// CU × 10^6 to bill.
    pub cu_used_ppm: u64,
    /// Wall time (informational; never part of the result).
    pub elapsed: Duration,
}

impl Outcome {
    /// The commitment to sign, or `None` when the run is not a result (timed out).
    pub fn commitment(&self) -> Option<ResultCommitment> {
        match &self.ending {
            Ending::Exit(exit) => Some(ResultCommitment {
                exit: exit.clone(),
                output: content_address(&self.output),
                output_bytes: self.output.len() as u64,
                cu_used_ppm: self.cu_used_ppm,
            }),
            Ending::TimedOut => None,
        }
    }
}

/// Errors that stop the executor itself (not the task).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The engine could not be configured.
    #[error("configuring the WebAssembly engine: {0}")]
    Engine(String),
}

/// A wall-clock tick for epoch interruption.
const TICK: Duration = Duration::from_millis(10);
/// Compiled modules kept.
const MODULE_CACHE: usize = 64;

/// The executor: one engine, a cache of compiled modules, and the epoch ticker.
pub struct Executor {
    engine: Engine,
    limits: Limits,
    modules: Mutex<HashMap<Hash, Module>>,
    stop_ticker: Arc<AtomicBool>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Executor {
    /// An executor with `limits`.
    pub fn new(limits: Limits) -> Result<Executor, ExecutorError> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            // Threads are off: wasmtime is built without its `threads` feature.
            .cranelift_nan_canonicalization(true)
            .cranelift_opt_level(OptLevel::Speed)
            .wasm_relaxed_simd(false)
            .relaxed_simd_deterministic(true)
            .max_wasm_stack(limits.stack_bytes);
        let engine =
            Engine::new(&config).map_err(|error| ExecutorError::Engine(error.to_string()))?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|error| ExecutorError::Engine(format!("epoch thread: {error}")))?;
        Ok(Executor {
            engine,
            limits,
            modules: Mutex::new(HashMap::new()),
            stop_ticker,
        })
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn module(&self, bytes: &[u8]) -> Result<Module, String> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(format!(
                "module is {} bytes; the limit is {MAX_MODULE_BYTES}",
                bytes.len()
            ));
        }
        let address = content_address(bytes);
        let mut cache = self
            .modules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(module) = cache.get(&address) {
            return Ok(module.clone());
        }
        let module = Module::new(&self.engine, bytes).map_err(|error| format!("{error:#}"))?;
        if cache.len() >= MODULE_CACHE {
            cache.clear();
        }
        cache.insert(address, module.clone());
        Ok(module)
    }

    /// Runs `task` to its end. Never panics on what the module does; a hostile module only
    /// ends itself.
    pub fn run(&self, task: &Task<'_>) -> Outcome {
        let started = Instant::now();
        let invalid = |reason: String| Outcome {
            ending: Ending::Exit(TaskExit::Invalid { reason }),
            output: Vec::new(),
            log: Vec::new(),
            fuel_used: 0,
            cu_used_ppm: 0,
            elapsed: started.elapsed(),
        };
        let module = match self.module(task.module) {
            Ok(module) => module,
            Err(reason) => return invalid(reason),
        };
        let context = wasi::Context::new(task.input, task.seed, task.fuel, &self.limits);
        let mut store = Store::new(&self.engine, context);
        store.limiter(|context| context);
        if let Err(error) = store.set_fuel(task.fuel) {
            return invalid(format!("fuel: {error}"));
        }
        let wall_clock = task.wall_clock.map_or(self.limits.wall_clock, |limit| {
            limit.min(self.limits.wall_clock)
        });
        store.set_epoch_deadline((wall_clock.as_millis() / TICK.as_millis()).max(1) as u64);
        store.epoch_deadline_trap();
        let mut linker = Linker::new(&self.engine);
        if let Err(error) = wasi::add_to_linker(&mut linker) {
            return invalid(format!("linking WASI: {error}"));
        }
        if let Some(import) = module
            .imports()
            .find(|import| import.module() != wasi::MODULE)
        {
            return invalid(format!(
                "imports {}::{}; only {} is provided",
                import.module(),
                import.name(),
                wasi::MODULE
            ));
        }
        // WASI functions this executor does not provide trap when called (and so end the task
        // as invalid), rather than refusing the module up front: most programs import more than
        // they call.
        if let Err(error) = wasi::define_unsupported(&mut linker, &module) {
            return invalid(format!("linking: {error}"));
        }
        let result = linker
            .instantiate(&mut store, &module)
            .and_then(|instance| {
                let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                start.call(&mut store, ())
            });
        let fuel_left = store.get_fuel().unwrap_or(0);
        let fuel_used = task.fuel.saturating_sub(fuel_left);
        let ending = match result {
            Ok(()) => Ending::Exit(TaskExit::Success),
            Err(error) => classify(&error, store.data()),
        };
        let context = store.into_data();
        let (output, log) = context.into_streams();
        Outcome {
            cu_used_ppm: cu_ppm_for_fuel(fuel_used, task.factor_ppm),
            ending,
            output,
            log,
            fuel_used,
            elapsed: started.elapsed(),
        }
    }
}

fn classify(error: &wasmtime::Error, context: &wasi::Context) -> Ending {
    if let Some(wasi::ProcExit(code)) = error.downcast_ref::<wasi::ProcExit>() {
        return Ending::Exit(if *code == 0 {
            TaskExit::Success
        } else {
            TaskExit::ExitCode { code: *code }
        });
    }
    if error.downcast_ref::<wasi::MemoryLimit>().is_some() || context.memory_limit_hit() {
        return Ending::Exit(TaskExit::MemoryLimit);
    }
    if error.downcast_ref::<wasi::OutputLimit>().is_some() {
        return Ending::Exit(TaskExit::OutputLimit);
    }
    if let Some(wasi::Unsupported(name)) = error.downcast_ref::<wasi::Unsupported>() {
        return Ending::Exit(TaskExit::Invalid {
            reason: format!("calls {name}, which the executor does not provide"),
        });
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Ending::Exit(TaskExit::OutOfFuel),
        Some(Trap::Interrupt) => Ending::TimedOut,
        Some(trap) => Ending::Exit(TaskExit::Trap {
            trap: format!("{trap:?}"),
        }),
        None => {
            // Foreign imports are refused before instantiation and unsupported WASI calls come
            // back as `Unsupported`, so what is left is a module that cannot start.
            let text = format!("{error:#}");
            if text.contains("_start") {
                Ending::Exit(TaskExit::Invalid {
                    reason: "the module exports no `_start` function".into(),
                })
            } else {
                Ending::Exit(TaskExit::Invalid { reason: text })
            }
        }
    }
}
