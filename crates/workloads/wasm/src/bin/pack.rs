//! The output packer (docs/job-spec.md, "Output directories"): the first process of a task whose
//! result is a directory. `pack DIR -- COMMAND ARGS...` runs the command with its standard output
//! sent to standard error (the task's log), waits for it, then writes a tar archive (ustar) of
//! everything under DIR to standard output (the task's result) and exits with the command's
//! status.
//!
//! The archive is deterministic, so two runs that write the same files commit to the same result:
//! entries in byte order of their paths, directories then regular files, mode kept (setuid,
//! setgid and sticky bits dropped), owner 0, time 0. Symbolic links, devices and other special
//! files are left out (and named on standard error).
//!
//! Built natively and statically like the example programs; on WASI it is an empty program
//! nobody runs.

#[cfg(unix)]
fn main() {
    std::process::exit(unix::run());
}

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
mod unix {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    use std::path::{Path, PathBuf};

    pub fn run() -> i32 {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let (dir, command) = match args.as_slice() {
            [dir, separator, command @ ..] if separator == "--" && !command.is_empty() => {
                (PathBuf::from(dir), command.to_vec())
            }
            _ => {
                eprintln!("usage: pack DIR -- COMMAND [ARGS...]");
                return 2;
            }
        };
        let status = match std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .status()
        {
            Ok(status) => status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .unwrap_or(1),
            Err(error) => {
                eprintln!("[pack] starting {}: {error}", command[0]);
                127
            }
        };
        let mut entries = Vec::new();
        if let Err(error) = walk(&dir, Path::new(""), &mut entries) {
            eprintln!("[pack] reading {}: {error}", dir.display());
            return 125;
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        for (name, path, is_dir) in &entries {
            if let Err(error) = append(&mut out, name, path, *is_dir) {
                eprintln!("[pack] {name}: {error}");
                return 125;
            }
        }
        // Two zero blocks end an archive.
        if out.write_all(&[0u8; 1024]).and_then(|()| out.flush()).is_err() {
            return 125;
        }
        status
    }

    /// Every directory and regular file under `root/relative`, as (archive name, path, is a
    /// directory).
    fn walk(
        root: &Path,
        relative: &Path,
        entries: &mut Vec<(String, PathBuf, bool)>,
    ) -> std::io::Result<()> {
        for item in std::fs::read_dir(root.join(relative))? {
            let item = item?;
            let name = relative.join(item.file_name());
            let Some(text) = name.to_str().map(str::to_string) else {
                eprintln!("[pack] left out a name that is not UTF-8");
                continue;
            };
            let kind = item.file_type()?;
            if kind.is_dir() {
                entries.push((format!("{text}/"), item.path(), true));
                walk(root, &name, entries)?;
            } else if kind.is_file() {
                entries.push((text, item.path(), false));
            } else {
                eprintln!("[pack] left out {text}: not a regular file or directory");
            }
        }
        Ok(())
    }

    /// One ustar header and the file's bytes, padded to 512.
    fn append(out: &mut impl Write, name: &str, path: &Path, is_dir: bool) -> std::io::Result<()> {
        let metadata = std::fs::metadata(path)?;
        let size = if is_dir { 0 } else { metadata.len() };
        let mut header = [0u8; 512];
        let (prefix, rest) = split_name(name)
            .ok_or_else(|| std::io::Error::other("the path is too long for a tar archive"))?;
        header[..rest.len()].copy_from_slice(rest.as_bytes());
        let mode = metadata.permissions().mode() & 0o777;
        octal(&mut header[100..108], u64::from(mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], size);
        octal(&mut header[136..148], 0);
        header[156] = if is_dir { b'5' } else { b'0' };
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        // The checksum is summed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|byte| u64::from(*byte)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.write_all(&header)?;
        if !is_dir {
            let mut file = std::fs::File::open(path)?;
            let copied = std::io::copy(&mut std::io::Read::take(&mut file, size), out)?;
            if copied != size {
                return Err(std::io::Error::other("the file changed while it was packed"));
            }
            let pad = (512 - size % 512) % 512;
            out.write_all(&vec![0u8; pad as usize])?;
        }
        Ok(())
    }

    /// A name as ustar's (prefix, name) fields: the name at most 100 bytes, the prefix at most
    /// 155, split at a slash.
    fn split_name(name: &str) -> Option<(&str, &str)> {
        if name.len() <= 100 {
            return Some(("", name));
        }
        let bytes = name.as_bytes();
        (0..bytes.len())
            .filter(|&at| bytes[at] == b'/' && at <= 155 && name.len() - at - 1 <= 100)
            .map(|at| (&name[..at], &name[at + 1..]))
            .find(|(_, rest)| !rest.is_empty())
    }

    /// `value` as zero-padded octal filling `field` but its last byte (NUL).
    fn octal(field: &mut [u8], value: u64) {
        let width = field.len() - 1;
        let text = format!("{value:0width$o}");
        field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
        field[width] = 0;
    }
}
