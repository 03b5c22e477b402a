//! Pulling from an OCI registry (the distribution API v2): the manifest by digest, then each
//! blob by digest, every one checked against its digest and size as it streams to disk.
//! Anonymous bearer tokens are fetched when a registry asks for one (as Docker Hub and most
//! public registries do); credentials are not supported yet.

use crate::{Blobs, Digest, OciError};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// Where an image reference points: `[scheme://]host[:port]/repository[:tag|@digest]`; a
/// reference without a host is Docker Hub's (`busybox` is `registry-1.docker.io/library/busybox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `http://host:port` or `https://host`.
    pub base: String,
    /// `vcity/hello`.
    pub repository: String,
}

impl Reference {
    /// Parses `text`; loopback hosts are spoken to over plain HTTP, every other over HTTPS unless
    /// the reference says `http://`.
    pub fn parse(text: &str) -> Result<Reference, OciError> {
        let bad = |why: &str| OciError::Invalid {
            what: format!("image reference {text:?}"),
            why: why.to_string(),
        };
        if text.len() > 256 || text.is_empty() {
            return Err(bad("a reference is 1 to 256 characters"));
        }
        let (scheme, rest) = match text.split_once("://") {
            Some(("http", rest)) => (Some("http"), rest),
            Some(("https", rest)) => (Some("https"), rest),
            Some(_) => return Err(bad("the scheme is http or https")),
            None => (None, text),
        };
        // Drop a tag or digest: the job's digest is what is pulled.
        let rest = rest.split_once('@').map_or(rest, |(name, _)| name);
        let (first, remainder) = rest.split_once('/').unwrap_or(("", rest));
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (host, path) = if is_host {
            (first.to_string(), remainder.to_string())
        } else {
            let path = if rest.contains('/') {
                rest.to_string()
            } else {
                format!("library/{rest}")
            };
            ("registry-1.docker.io".to_string(), path)
        };
        let repository = match path.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => name.to_string(),
            _ => path,
        };
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !repository.split('/').all(valid) {
            return Err(bad(
                "the repository is lowercase letters, digits, . _ - and /",
            ));
        }
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        let scheme = scheme.unwrap_or(if loopback { "http" } else { "https" });
        Ok(Reference {
            base: format!("{scheme}://{host}"),
            repository,
        })
    }
}

/// A registry session for one repository.
pub struct Registry {
    reference: Reference,
    agent: ureq::Agent,
    token: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

impl Registry {
    /// A session with the registry `reference` names.
    pub fn new(reference: Reference) -> Registry {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build()
            .into();
        Registry {
            reference,
            agent,
            token: None,
        }
    }

    /// GET `path` (under `/v2/{repository}/`), with a bearer token fetched once if asked for.
    fn get(
        &mut self,
        path: &str,
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, OciError> {
        let url = format!(
            "{}/v2/{}/{path}",
            self.reference.base, self.reference.repository
        );
        for attempt in 0..2 {
            let mut request = self.agent.get(&url).header("Accept", accept);
            if let Some(token) = &self.token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let response = request.call().map_err(|error| OciError::Registry {
                url: url.clone(),
                why: error.to_string(),
            })?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 && self.token.is_none() {
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                self.token = Some(self.fetch_token(&url, &challenge)?);
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(OciError::Registry {
                    url,
                    why: format!("status {status}"),
                });
            }
            return Ok(response);
        }
        Err(OciError::Registry {
            url,
            why: "refused the token it issued".into(),
        })
    }

    /// An anonymous token for `Bearer realm="…",service="…",scope="…"`.
    fn fetch_token(&self, url: &str, challenge: &str) -> Result<String, OciError> {
        let refused = |why: String| OciError::Registry {
            url: url.to_string(),
            why,
        };
        let parameters = challenge
            .strip_prefix("Bearer ")
            .ok_or_else(|| refused(format!("asks for credentials ({challenge:?})")))?;
        let mut realm = None;
        let mut query = Vec::new();
        for part in parameters.split(',') {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            let value = value.trim_matches('"').to_string();
            match key {
                "realm" => realm = Some(value),
                "service" | "scope" => query.push((key.to_string(), value)),
                _ => {}
            }
        }
        let realm = realm.ok_or_else(|| refused("a bearer challenge without a realm".into()))?;
        let mut request = self.agent.get(&realm);
        for (key, value) in &query {
            request = request.query(key, value);
        }
        let mut response = request
            .call()
            .map_err(|error| refused(format!("token: {error}")))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .map_err(|error| refused(format!("token: {error}")))?;
        let json: serde_json::Value = crate::parse("the registry's token", &body)?;
        json["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| refused("no token in its answer".into()))
    }
}

impl Blobs for Registry {
    fn fetch(
        &mut self,
        digest: &Digest,
        size: Option<u64>,
        limit: u64,
        into: &Path,
    ) -> Result<(), OciError> {
        let what = format!("blob {digest}");
        let mut response = self.get(&format!("blobs/{digest}"), "*/*")?;
        let mut hasher = crate::HashingWriter::new(
            std::fs::File::create(into)
                .map_err(crate::io(format!("writing {}", into.display())))?,
        );
        let cap = size.unwrap_or(limit).min(limit);
        let copied = std::io::copy(
            &mut response.body_mut().as_reader().take(cap.saturating_add(1)),
            &mut hasher,
        )
        .map_err(|error| OciError::Registry {
            url: what.clone(),
            why: format!("download broke off: {error}"),
        })?;
        crate::check_size(&what, size, copied, limit)?;
        hasher.finish(&what, digest)
    }

    fn manifest(
        &mut self,
        digest: &Digest,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), OciError> {
        let what = format!("manifest {digest}");
        let mut response = self.get(&format!("manifests/{digest}"), MANIFEST_ACCEPT)?;
        let media = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or(value).trim().to_string())
            .filter(|value| value.contains("manifest") || value.contains("index"));
        let bytes = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|error| OciError::Registry {
                url: what.clone(),
                why: error.to_string(),
            })?;
        digest.verify(&what, &bytes)?;
        Ok((bytes, media))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_registry_and_a_repository() {
        let parse = |text: &str| Reference::parse(text).expect(text);
        assert_eq!(
            parse("127.0.0.1:5000/vcity/hello:latest"),
            Reference {
                base: "http://127.0.0.1:5000".into(),
                repository: "vcity/hello".into()
            }
        );
        assert_eq!(
            parse("busybox"),
            Reference {
                base: "https://registry-1.docker.io".into(),
                repository: "library/busybox".into()
            }
        );
        assert_eq!(parse("ghcr.io/org/tool@sha256:abc").repository, "org/tool");
        assert_eq!(
            parse("http://registry.lan/x/y:1").base,
            "http://registry.lan"
        );
        assert!(Reference::parse("ftp://x/y").is_err());
        assert!(Reference::parse("127.0.0.1:5000/Upper/case").is_err());
        assert!(Reference::parse("").is_err());
    }
}
