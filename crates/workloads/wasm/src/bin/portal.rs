//! The service portal (docs/job-spec.md, "Services"): the first process of a service task's
//! sandbox. `portal SOCKET PORT -- COMMAND ARGS...` starts the service's command, then carries
//! every connection made to the Unix socket SOCKET (a file the compute node's gateway reaches
//! through a bind mount) to `127.0.0.1:PORT` inside the sandbox's own network namespace, where
//! the service listens. The sandbox keeps its network namespace (loopback only): the gateway
//! reaches the one port, and the service reaches nothing of the node. The portal exits with the
//! service's status, so a crashed service ends the run.
//!
//! Built natively and statically like the example programs; on WASI (which has no Unix
//! sockets) it is an empty program nobody runs.

#[cfg(unix)]
fn main() {
    std::process::exit(unix::run());
}

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    /// How long a connection waits for the service to listen (it may still be starting).
    const CONNECT_TRIES: u32 = 50;
    const CONNECT_PAUSE: Duration = Duration::from_millis(100);

    pub fn run() -> i32 {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let (socket, port, command) = match args.as_slice() {
            [socket, port, separator, command @ ..]
                if separator == "--" && !command.is_empty() =>
            {
                match port.parse::<u16>() {
                    Ok(port) if port > 0 => (socket.clone(), port, command.to_vec()),
                    _ => return usage(),
                }
            }
            _ => return usage(),
        };
        let _ = std::fs::remove_file(&socket);
        let listener = match UnixListener::bind(&socket) {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("[portal] binding {socket}: {error}");
                return 125;
            }
        };
        // A service's standard output is a log, not a result: it goes where the log goes.
        let mut child = match std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .spawn()
        {
            Ok(child) => child,
            Err(error) => {
                eprintln!("[portal] starting {}: {error}", command[0]);
                return 127;
            }
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || carry(stream, port));
            }
        });
        match child.wait() {
            Ok(status) => status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .unwrap_or(1),
            Err(error) => {
                eprintln!("[portal] waiting for the service: {error}");
                1
            }
        }
    }

    fn usage() -> i32 {
        eprintln!("usage: portal SOCKET PORT -- COMMAND [ARGS...]");
        2
    }

    /// One connection, both ways, until either side closes.
    fn carry(outside: UnixStream, port: u16) {
        let mut inside = None;
        for _ in 0..CONNECT_TRIES {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => {
                    inside = Some(stream);
                    break;
                }
                Err(_) => std::thread::sleep(CONNECT_PAUSE),
            }
        }
        let Some(inside) = inside else {
            return;
        };
        let (Ok(outside_back), Ok(inside_back)) = (outside.try_clone(), inside.try_clone()) else {
            return;
        };
        let upstream = std::thread::spawn(move || {
            pump(outside, inside);
        });
        pump_back(inside_back, outside_back);
        let _ = upstream.join();
    }

    fn pump(mut from: UnixStream, mut to: TcpStream) {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(read) = from.read(&mut buffer) {
            if read == 0 || to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    }

    fn pump_back(mut from: TcpStream, mut to: UnixStream) {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(read) = from.read(&mut buffer) {
            if read == 0 || to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    }
}
