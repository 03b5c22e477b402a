//! A read-only registry over plain HTTP serving the images of an OCI layout directory (the
//! distribution API's pull side: `GET /v2/`, `GET /v2/<name>/manifests/<digest>`,
//! `GET /v2/<name>/blobs/<digest>`, for any repository name). `vcity image serve` runs it so
//! nodes on a private network can pull a buyer's images; the tests pull from it.

use crate::Digest;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub address: SocketAddr,
}

/// Serves `layout` on `listener` from a thread per connection; returns at once.
pub fn spawn(listener: TcpListener, layout: &Path) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    let layout = layout.to_path_buf();
    std::thread::Builder::new()
        .name("oci-serve".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let layout = layout.clone();
                let _ = std::thread::Builder::new()
                    .name("oci-serve-connection".into())
                    .spawn(move || {
                        let _ = answer(stream, &layout);
                    });
            }
        })?;
    Ok(Server { address })
}

fn answer(mut stream: TcpStream, layout: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let found = (method == "GET" || method == "HEAD")
        .then(|| route(layout, path))
        .flatten();
    match found {
        Some((file, media)) => {
            let bytes = std::fs::read(&file)?;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {media}\r\nContent-Length: {}\r\n\
                 Docker-Content-Digest: {}\r\nConnection: close\r\n\r\n",
                bytes.len(),
                Digest::of(&bytes)
            )?;
            if method == "GET" {
                stream.write_all(&bytes)?;
            }
        }
        None if path == "/v2/" || path == "/v2" => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
                 Connection: close\r\n\r\n{{}}"
            )?;
        }
        None => {
            let body = "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}";
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )?;
        }
    }
    stream.flush()
}

/// The blob file for `/v2/<name>/(manifests|blobs)/<digest>`, and its media type.
fn route(layout: &Path, path: &str) -> Option<(PathBuf, String)> {
    let rest = path.strip_prefix("/v2/")?;
    let (rest, digest) = rest.rsplit_once('/')?;
    let digest = Digest::parse(digest).ok()?;
    let kind = rest.rsplit('/').next()?;
    let file = layout.join("blobs").join("sha256").join(digest.hex());
    if !file.is_file() {
        return None;
    }
    match kind {
        "blobs" => Some((file, "application/octet-stream".into())),
        "manifests" => {
            let bytes = std::fs::read(&file).ok()?;
            let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            let media = json["mediaType"]
                .as_str()
                .unwrap_or(crate::MEDIA_MANIFEST)
                .to_string();
            Some((file, media))
        }
        _ => None,
    }
}
