//! The executor's WASI preview 1 host: only what a deterministic task may see.
//!
//! | what | here |
//! |---|---|
//! | fd 0, standard input | the task's input |
//! | fd 1, standard output | the task's output, bounded (over the bound: `OutputLimit`) |
//! | fd 2, standard error | the task's log, bounded (the excess is dropped with a marker) |
//! | fd 3, preopened `/input` | read-only directory with one file, `input` (the same bytes) |
//! | arguments | `task` |
//! | environment | empty |
//! | clocks | virtual: nanoseconds = fuel consumed so far; resolution 1 ns |
//! | `random_get` | BLAKE3 XOF of the task seed: the same bytes on every node |
//! | `proc_exit` | ends the task with that code |
//! | `sched_yield` | does nothing |
//! | anything else (sockets, writing files, `poll_oneoff`, ...) | `ENOSYS`/`ENOTCAPABLE` or, for functions not defined here, a trap that ends the task as invalid |

use crate::Limits;
use vcity_types::Hash;
use wasmtime::{Caller, Extern, Linker, Memory, ResourceLimiter};

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_ISDIR: i32 = 31;
const ERRNO_NOENT: i32 = 44;
const ERRNO_NOSYS: i32 = 52;
const ERRNO_NOTDIR: i32 = 54;
const ERRNO_SPIPE: i32 = 70;
const ERRNO_NOTCAPABLE: i32 = 76;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;

const STDIN: i32 = 0;
const STDOUT: i32 = 1;
const STDERR: i32 = 2;
const INPUT_DIR: i32 = 3;
const INPUT_DIR_NAME: &str = "/input";
const INPUT_FILE_NAME: &str = "input";
/// Most files open at once.
const MAX_OPEN_FILES: usize = 64;

/// `proc_exit` was called.
#[derive(Debug, thiserror::Error)]
#[error("the program exited with code {0}")]
pub struct ProcExit(pub i32);

/// The program asked for more memory than the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded")]
pub struct MemoryLimit;

/// The program wrote more output than the limit.
#[derive(Debug, thiserror::Error)]
#[error("output limit exceeded")]
pub struct OutputLimit;

/// The program called a WASI function this host does not define.
#[derive(Debug, thiserror::Error)]
#[error("unsupported WASI function {0}")]
pub struct Unsupported(pub String);

/// An open copy of the input file.
#[derive(Debug)]
struct OpenFile {
    position: u64,
}

/// Everything a task's program can see.
#[derive(Debug)]
pub struct Context {
    input: Vec<u8>,
    stdin_position: usize,
    output: Vec<u8>,
    log: Vec<u8>,
    log_truncated: bool,
    files: Vec<Option<OpenFile>>,
    random: blake3::OutputReader,
    fuel_budget: u64,
    memory_bytes: usize,
    table_elements: usize,
    output_limit: usize,
    log_limit: usize,
    memory_limit_hit: bool,
}

impl Context {
    /// A context for one run.
    pub fn new(input: &[u8], seed: Hash, fuel_budget: u64, limits: &Limits) -> Context {
        let mut hasher = blake3::Hasher::new();
        hasher.update(seed.as_bytes());
        Context {
            input: input.to_vec(),
            stdin_position: 0,
            output: Vec::new(),
            log: Vec::new(),
            log_truncated: false,
            files: Vec::new(),
            random: hasher.finalize_xof(),
            fuel_budget,
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            output_limit: limits.output_bytes,
            log_limit: limits.log_bytes,
            memory_limit_hit: false,
        }
    }

    /// Whether a memory growth was refused.
    pub fn memory_limit_hit(&self) -> bool {
        self.memory_limit_hit
    }

    /// Output and log.
    pub fn into_streams(self) -> (Vec<u8>, Vec<u8>) {
        let mut log = self.log;
        if self.log_truncated {
            log.extend_from_slice(b"\n[log truncated by the executor]\n");
        }
        (self.output, log)
    }

    fn file_slot(&self, fd: i32) -> Option<usize> {
        let index = usize::try_from(fd).ok()?.checked_sub(4)?;
        self.files.get(index)?.as_ref()?;
        Some(index)
    }
}

impl ResourceLimiter for Context {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_limit_hit = true;
            return Err(wasmtime::Error::new(MemoryLimit));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.memory_limit_hit = true;
            return Err(wasmtime::Error::new(MemoryLimit));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }
}

type Call<'a> = Caller<'a, Context>;

fn memory(caller: &mut Call<'_>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::new(Unsupported(
            "(a module without an exported memory)".into(),
        ))),
    }
}

/// Bounds-checked views of guest memory.
struct Guest<'a> {
    bytes: &'a mut [u8],
}

impl Guest<'_> {
    fn range(&self, pointer: i32, length: usize) -> Option<std::ops::Range<usize>> {
        let start = u32::try_from(pointer).ok()? as usize;
        let end = start.checked_add(length)?;
        (end <= self.bytes.len()).then_some(start..end)
    }

    fn slice(&self, pointer: i32, length: usize) -> Option<&[u8]> {
        let range = self.range(pointer, length)?;
        Some(&self.bytes[range])
    }

    fn slice_mut(&mut self, pointer: i32, length: usize) -> Option<&mut [u8]> {
        let range = self.range(pointer, length)?;
        Some(&mut self.bytes[range])
    }

    fn u32_at(&self, pointer: i32) -> Option<u32> {
        let bytes = self.slice(pointer, 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn put(&mut self, pointer: i32, value: &[u8]) -> Option<()> {
        self.slice_mut(pointer, value.len())?.copy_from_slice(value);
        Some(())
    }

    fn put_u32(&mut self, pointer: i32, value: u32) -> Option<()> {
        self.put(pointer, &value.to_le_bytes())
    }

    fn put_u64(&mut self, pointer: i32, value: u64) -> Option<()> {
        self.put(pointer, &value.to_le_bytes())
    }

    /// The (pointer, length) pairs of an iovec array.
    fn iovecs(&self, pointer: i32, count: i32) -> Option<Vec<(i32, usize)>> {
        let count = usize::try_from(count).ok()?;
        if count > 1024 {
            return None;
        }
        (0..count)
            .map(|index| {
                let at = pointer.checked_add(i32::try_from(index * 8).ok()?)?;
                let buffer = self.u32_at(at)?;
                let length = self.u32_at(at.checked_add(4)?)?;
                Some((buffer as i32, length as usize))
            })
            .collect()
    }
}

/// Runs `f` over guest memory and the context; a bad pointer is `EFAULT`.
fn with_guest(
    caller: &mut Call<'_>,
    f: impl FnOnce(&mut Guest<'_>, &mut Context) -> Option<i32>,
) -> wasmtime::Result<i32> {
    let memory = memory(caller)?;
    let (bytes, context) = memory.data_and_store_mut(caller);
    let mut guest = Guest { bytes };
    Ok(f(&mut guest, context).unwrap_or(ERRNO_FAULT))
}

fn virtual_time_ns(caller: &Call<'_>) -> u64 {
    let left = caller.get_fuel().unwrap_or(0);
    caller.data().fuel_budget.saturating_sub(left)
}

const ARGUMENT: &[u8] = b"task\0";

/// The functions [`add_to_linker`] defines.
const PROVIDED: &[&str] = &[
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "clock_res_get",
    "clock_time_get",
    "random_get",
    "sched_yield",
    "proc_exit",
    "poll_oneoff",
    "fd_write",
    "fd_read",
    "fd_seek",
    "fd_tell",
    "fd_close",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_filestat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "path_open",
    "path_filestat_get",
];

/// Defines the host functions.
pub fn add_to_linker(linker: &mut Linker<Context>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "args_sizes_get",
        |mut caller: Call<'_>, count: i32, size: i32| {
            with_guest(&mut caller, |guest, _| {
                guest.put_u32(count, 1)?;
                guest.put_u32(size, ARGUMENT.len() as u32)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "args_get",
        |mut caller: Call<'_>, pointers: i32, buffer: i32| {
            with_guest(&mut caller, |guest, _| {
                guest.put(buffer, ARGUMENT)?;
                guest.put_u32(pointers, buffer as u32)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_sizes_get",
        |mut caller: Call<'_>, count: i32, size: i32| {
            with_guest(&mut caller, |guest, _| {
                guest.put_u32(count, 0)?;
                guest.put_u32(size, 0)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "environ_get",
        |_: Call<'_>, _: i32, _: i32| -> i32 { ERRNO_SUCCESS },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        |mut caller: Call<'_>, _id: i32, result: i32| {
            with_guest(&mut caller, |guest, _| {
                guest.put_u64(result, 1)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Call<'_>, _id: i32, _precision: i64, result: i32| {
            let now = virtual_time_ns(&caller);
            with_guest(&mut caller, |guest, _| {
                guest.put_u64(result, now)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        |mut caller: Call<'_>, buffer: i32, length: i32| {
            with_guest(&mut caller, |guest, context| {
                let length = usize::try_from(length).ok()?;
                let target = guest.slice_mut(buffer, length)?;
                context.random.fill(target);
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(MODULE, "sched_yield", |_: Call<'_>| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Call<'_>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::new(ProcExit(code)))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        |_: Call<'_>, _: i32, _: i32, _: i32, _: i32| -> i32 { ERRNO_NOSYS },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Call<'_>, fd: i32, iovecs: i32, count: i32, written: i32| {
            let mut over_limit = false;
            let errno = with_guest(&mut caller, |guest, context| {
                if fd != STDOUT && fd != STDERR {
                    return Some(if context.file_slot(fd).is_some() || fd == INPUT_DIR {
                        ERRNO_NOTCAPABLE
                    } else {
                        ERRNO_BADF
                    });
                }
                let mut total = 0usize;
                for (buffer, length) in guest.iovecs(iovecs, count)? {
                    let bytes = guest.slice(buffer, length)?;
                    if fd == STDOUT {
                        if context.output.len() + bytes.len() > context.output_limit {
                            over_limit = true;
                            return Some(ERRNO_SUCCESS);
                        }
                        context.output.extend_from_slice(bytes);
                    } else {
                        let room = context.log_limit.saturating_sub(context.log.len());
                        if bytes.len() > room {
                            context.log_truncated = true;
                        }
                        context
                            .log
                            .extend_from_slice(&bytes[..bytes.len().min(room)]);
                    }
                    total += length;
                }
                guest.put_u32(written, total as u32)?;
                Some(ERRNO_SUCCESS)
            })?;
            if over_limit {
                return Err(wasmtime::Error::new(OutputLimit));
            }
            Ok(errno)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        |mut caller: Call<'_>, fd: i32, iovecs: i32, count: i32, read: i32| {
            with_guest(&mut caller, |guest, context| {
                let slot = context.file_slot(fd);
                let mut position = match (fd, slot) {
                    (STDIN, _) => context.stdin_position,
                    (_, Some(slot)) => {
                        let file = context.files[slot].as_ref()?;
                        usize::try_from(file.position).unwrap_or(usize::MAX)
                    }
                    (INPUT_DIR, _) => return Some(ERRNO_ISDIR),
                    _ => return Some(ERRNO_BADF),
                };
                let mut total = 0usize;
                for (buffer, length) in guest.iovecs(iovecs, count)? {
                    let available = context.input.get(position..).unwrap_or(&[]);
                    let take = available.len().min(length);
                    guest.put(buffer, &available[..take])?;
                    position += take;
                    total += take;
                    if take < length {
                        break;
                    }
                }
                match slot {
                    Some(slot) if fd != STDIN => {
                        if let Some(file) = context.files[slot].as_mut() {
                            file.position = position as u64;
                        }
                    }
                    _ => context.stdin_position = position,
                }
                guest.put_u32(read, total as u32)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        |mut caller: Call<'_>, fd: i32, offset: i64, whence: i32, result: i32| {
            with_guest(&mut caller, |guest, context| {
                let Some(slot) = context.file_slot(fd) else {
                    return Some(if (0..=INPUT_DIR).contains(&fd) {
                        ERRNO_SPIPE
                    } else {
                        ERRNO_BADF
                    });
                };
                let length = context.input.len() as i64;
                let file = context.files[slot].as_mut()?;
                let base = match whence {
                    0 => 0,
                    1 => file.position as i64,
                    2 => length,
                    _ => return Some(ERRNO_INVAL),
                };
                let Some(position) = base.checked_add(offset).filter(|p| *p >= 0) else {
                    return Some(ERRNO_INVAL);
                };
                file.position = position as u64;
                guest.put_u64(result, position as u64)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_tell",
        |mut caller: Call<'_>, fd: i32, result: i32| {
            with_guest(&mut caller, |guest, context| {
                let Some(slot) = context.file_slot(fd) else {
                    return Some(ERRNO_SPIPE);
                };
                let position = context.files[slot].as_ref()?.position;
                guest.put_u64(result, position)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(MODULE, "fd_close", |mut caller: Call<'_>, fd: i32| {
        with_guest(&mut caller, |_, context| {
            match context.file_slot(fd) {
                Some(slot) => {
                    context.files[slot] = None;
                    Some(ERRNO_SUCCESS)
                }
                // Closing the standard streams or the preopen is allowed and changes nothing.
                None if (0..=INPUT_DIR).contains(&fd) => Some(ERRNO_SUCCESS),
                None => Some(ERRNO_BADF),
            }
        })
    })?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_get",
        |mut caller: Call<'_>, fd: i32, result: i32| {
            with_guest(&mut caller, |guest, context| {
                let filetype = match fd {
                    STDIN | STDOUT | STDERR => FILETYPE_CHARACTER_DEVICE,
                    INPUT_DIR => FILETYPE_DIRECTORY,
                    _ if context.file_slot(fd).is_some() => FILETYPE_REGULAR_FILE,
                    _ => return Some(ERRNO_BADF),
                };
                let mut stat = [0u8; 24];
                stat[0] = filetype;
                // Rights: everything the host might allow; the host checks each call anyway.
                stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
                stat[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
                guest.put(result, &stat)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_flags",
        |_: Call<'_>, _: i32, _: i32| -> i32 { ERRNO_NOTCAPABLE },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_filestat_get",
        |mut caller: Call<'_>, fd: i32, result: i32| {
            with_guest(&mut caller, |guest, context| {
                let (filetype, size) = match fd {
                    STDIN | STDOUT | STDERR => (FILETYPE_CHARACTER_DEVICE, 0),
                    INPUT_DIR => (FILETYPE_DIRECTORY, 0),
                    _ if context.file_slot(fd).is_some() => {
                        (FILETYPE_REGULAR_FILE, context.input.len() as u64)
                    }
                    _ => return Some(ERRNO_BADF),
                };
                guest.put(result, &filestat(filetype, size))?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_get",
        |mut caller: Call<'_>, fd: i32, result: i32| {
            with_guest(&mut caller, |guest, _| {
                if fd != INPUT_DIR {
                    return Some(ERRNO_BADF);
                }
                let mut prestat = [0u8; 8];
                prestat[4..8].copy_from_slice(&(INPUT_DIR_NAME.len() as u32).to_le_bytes());
                guest.put(result, &prestat)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        |mut caller: Call<'_>, fd: i32, buffer: i32, length: i32| {
            with_guest(&mut caller, |guest, _| {
                if fd != INPUT_DIR {
                    return Some(ERRNO_BADF);
                }
                let length = usize::try_from(length).ok()?;
                let name = INPUT_DIR_NAME.as_bytes();
                guest.put(buffer, &name[..name.len().min(length)])?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_open",
        |mut caller: Call<'_>,
         directory: i32,
         _lookup_flags: i32,
         path: i32,
         path_length: i32,
         open_flags: i32,
         _rights: i64,
         _inherited: i64,
         _fd_flags: i32,
         opened: i32| {
            with_guest(&mut caller, |guest, context| {
                if directory != INPUT_DIR {
                    return Some(if context.file_slot(directory).is_some() {
                        ERRNO_NOTDIR
                    } else {
                        ERRNO_BADF
                    });
                }
                let name = guest.slice(path, usize::try_from(path_length).ok()?)?;
                let name = normalize(name);
                // O_CREAT, O_EXCL, O_TRUNC: the directory is read-only.
                if open_flags & (1 | 4 | 8) != 0 {
                    return Some(ERRNO_NOTCAPABLE);
                }
                match name.as_deref() {
                    Some(INPUT_FILE_NAME) => {}
                    Some("" | ".") => return Some(ERRNO_NOTCAPABLE),
                    Some(_) => return Some(ERRNO_NOENT),
                    // `..` or an absolute path: outside the sandbox.
                    None => return Some(ERRNO_NOTCAPABLE),
                }
                if open_flags & 2 != 0 {
                    return Some(ERRNO_NOTDIR);
                }
                let slot = match context.files.iter().position(Option::is_none) {
                    Some(slot) => slot,
                    None if context.files.len() < MAX_OPEN_FILES => {
                        context.files.push(None);
                        context.files.len() - 1
                    }
                    None => return Some(24), // EMFILE
                };
                context.files[slot] = Some(OpenFile { position: 0 });
                guest.put_u32(opened, (slot + 4) as u32)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "path_filestat_get",
        |mut caller: Call<'_>, directory: i32, _flags: i32, path: i32, length: i32, result: i32| {
            with_guest(&mut caller, |guest, context| {
                if directory != INPUT_DIR {
                    return Some(ERRNO_BADF);
                }
                let name = guest.slice(path, usize::try_from(length).ok()?)?;
                let stat = match normalize(name).as_deref() {
                    Some(INPUT_FILE_NAME) => {
                        filestat(FILETYPE_REGULAR_FILE, context.input.len() as u64)
                    }
                    Some("" | ".") => filestat(FILETYPE_DIRECTORY, 0),
                    Some(_) => return Some(ERRNO_NOENT),
                    None => return Some(ERRNO_NOTCAPABLE),
                };
                guest.put(result, &stat)?;
                Some(ERRNO_SUCCESS)
            })
        },
    )?;
    Ok(())
}

/// Defines every other `wasi_snapshot_preview1` import of `module` as a function that ends the
/// task as invalid, naming the function.
pub fn define_unsupported(
    linker: &mut Linker<Context>,
    module: &wasmtime::Module,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != MODULE {
            continue;
        }
        if PROVIDED.contains(&import.name()) {
            continue;
        }
        if let wasmtime::ExternType::Func(ty) = import.ty() {
            let name = import.name().to_string();
            linker.func_new(MODULE, import.name(), ty, move |_, _, _| {
                Err(wasmtime::Error::new(Unsupported(name.clone())))
            })?;
        }
    }
    Ok(())
}

/// A path under the preopen, without `.` components; `None` when it leaves the directory.
fn normalize(path: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(path).ok()?;
    if text.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn filestat(filetype: u8, size: u64) -> [u8; 64] {
    let mut stat = [0u8; 64];
    stat[16] = filetype;
    stat[24..32].copy_from_slice(&1u64.to_le_bytes());
    stat[32..40].copy_from_slice(&size.to_le_bytes());
    stat
}
