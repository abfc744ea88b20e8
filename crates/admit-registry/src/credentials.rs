//! Registry credentials as docker finds them: `$DOCKER_CONFIG/config.json` (else
//! `~/.docker/config.json`), its `auths` (`auth` as base64 `user:password`, or `username` and
//! `password`, or `identitytoken`/`registrytoken`), and its credential helpers (`credHelpers`
//! per registry, else `credsStore`), run as `docker-credential-NAME get` with the registry on
//! stdin. The file is re-read when it changes (a mounted Secret rotates).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::RegistryError;

/// Where docker keeps its configuration: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// What a credential helper prints.
#[derive(Debug, Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// docker's credentials for every registry.
#[derive(Debug)]
pub struct Credentials {
    file: Option<PathBuf>,
    loaded: Mutex<Option<(SystemTime, std::sync::Arc<ConfigFile>)>>,
}

/// The host a docker `auths` key names (`https://index.docker.io/v1/` → `index.docker.io`).
fn host_of(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// docker.io's several names are one registry.
fn same_registry(a: &str, b: &str) -> bool {
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    a == b || (hub(a) && hub(b))
}

impl Credentials {
    /// Credentials from `dir/config.json` (`None`: anonymous only). A missing file is no
    /// credentials; an unreadable or malformed one is an error at each use, naming it.
    pub fn new(dir: Option<&Path>) -> Self {
        Credentials {
            file: dir.map(|d| d.join("config.json")),
            loaded: Mutex::new(None),
        }
    }

    fn config(&self, registry: &str) -> Result<std::sync::Arc<ConfigFile>, RegistryError> {
        let Some(file) = &self.file else {
            return Ok(std::sync::Arc::default());
        };
        let err = |message: String| RegistryError::Credentials {
            registry: registry.to_owned(),
            message,
        };
        let modified = match std::fs::metadata(file) {
            Ok(m) => m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(std::sync::Arc::default());
            }
            Err(e) => return Err(err(format!("{}: {e}", file.display()))),
        };
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, c)) = loaded.as_ref()
            && *at == modified
        {
            return Ok(c.clone());
        }
        let text = std::fs::read(file).map_err(|e| err(format!("{}: {e}", file.display())))?;
        let parsed: ConfigFile =
            serde_json::from_slice(&text).map_err(|e| err(format!("{}: {e}", file.display())))?;
        let parsed = std::sync::Arc::new(parsed);
        *loaded = Some((modified, parsed.clone()));
        Ok(parsed)
    }

    /// How to authenticate to `registry` (a host, with port when it has one).
    pub async fn for_registry(
        &self,
        registry: &str,
        deadline: Duration,
    ) -> Result<RegistryAuth, RegistryError> {
        let config = self.config(registry)?;
        let err = |message: String| RegistryError::Credentials {
            registry: registry.to_owned(),
            message,
        };
        if let Some(entry) = config
            .auths
            .iter()
            .find(|(k, _)| same_registry(host_of(k), registry))
            .map(|(_, v)| v)
        {
            if let Some(token) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
                return Ok(RegistryAuth::Bearer(token.to_owned()));
            }
            if let Some(b64) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| err(format!("auths.{registry}.auth is not base64: {e}")))?;
                let text = String::from_utf8(raw)
                    .map_err(|_| err(format!("auths.{registry}.auth is not UTF-8")))?;
                let (user, pass) = text
                    .split_once(':')
                    .ok_or_else(|| err(format!("auths.{registry}.auth is not `user:password`")))?;
                return Ok(RegistryAuth::Basic(user.to_owned(), pass.to_owned()));
            }
            if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
                return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
            }
            if entry.identitytoken.is_some() {
                return Err(err(
                    "identitytoken (an OAuth refresh token) is not supported; use a credential helper or a registry token"
                        .into(),
                ));
            }
        }
        let helper = config
            .cred_helpers
            .iter()
            .find(|(k, _)| same_registry(host_of(k), registry))
            .map(|(_, v)| v.clone())
            .or_else(|| config.creds_store.clone());
        match helper {
            None => Ok(RegistryAuth::Anonymous),
            Some(h) => run_helper(&h, registry, deadline).await.map_err(err),
        }
    }
}

/// Runs `docker-credential-NAME get` for `registry`, within `deadline`.
async fn run_helper(
    name: &str,
    registry: &str,
    deadline: Duration,
) -> Result<RegistryAuth, String> {
    use tokio::io::AsyncWriteExt as _;
    let program = format!("docker-credential-{name}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .await
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "{program} did not answer within {} ms",
                deadline.as_millis()
            )
        })?
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        let said = format!("{} {}", said.trim(), err.trim());
        // The protocol's answer for "nothing stored": anonymous access.
        if said.contains("credentials not found") {
            return Ok(RegistryAuth::Anonymous);
        }
        return Err(format!("{program} failed: {}", said.trim()));
    }
    let a: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{program} printed no credentials: {e}"))?;
    Ok(if a.username == "<token>" {
        RegistryAuth::Bearer(a.secret)
    } else {
        RegistryAuth::Basic(a.username, a.secret)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests abort loudly")]
    use super::*;

    fn with_config(text: &str) -> (tempfile::TempDir, Credentials) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.json"), text).unwrap();
        let c = Credentials::new(Some(d.path()));
        (d, c)
    }

    fn basic(a: RegistryAuth) -> (String, String) {
        match a {
            RegistryAuth::Basic(u, p) => (u, p),
            other => panic!("not basic: {other:?}"),
        }
    }

    #[tokio::test]
    async fn auths_are_found_by_host_in_every_spelling_docker_writes() {
        let (_d, c) = with_config(
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
                "http://reg.example:5000": {"username": "u", "password": "p"},
                "ghcr.io": {"registrytoken": "tok"}}}"#,
        );
        let t = Duration::from_secs(1);
        assert_eq!(
            basic(c.for_registry("index.docker.io", t).await.unwrap()),
            ("hub".into(), "secret".into())
        );
        assert_eq!(
            basic(c.for_registry("docker.io", t).await.unwrap()),
            ("hub".into(), "secret".into())
        );
        assert_eq!(
            basic(c.for_registry("reg.example:5000", t).await.unwrap()),
            ("u".into(), "p".into())
        );
        assert!(matches!(
            c.for_registry("ghcr.io", t).await.unwrap(),
            RegistryAuth::Bearer(tok) if tok == "tok"
        ));
        assert!(matches!(
            c.for_registry("other.example", t).await.unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[tokio::test]
    async fn a_malformed_file_or_entry_is_an_error_naming_it() {
        let (_d, c) = with_config("{not json");
        let e = c
            .for_registry("r.example", Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.json"), "{e}");
        let (_d, c) = with_config(r#"{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}"#);
        let e = c
            .for_registry("r.example", Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("auths.r.example.auth is not `user:password`"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn no_directory_or_no_file_means_anonymous() {
        let c = Credentials::new(None);
        assert!(matches!(
            c.for_registry("r.example", Duration::from_secs(1))
                .await
                .unwrap(),
            RegistryAuth::Anonymous
        ));
        let d = tempfile::tempdir().unwrap();
        let c = Credentials::new(Some(d.path()));
        assert!(matches!(
            c.for_registry("r.example", Duration::from_secs(1))
                .await
                .unwrap(),
            RegistryAuth::Anonymous
        ));
    }
}
