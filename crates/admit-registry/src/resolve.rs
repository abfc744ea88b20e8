//! Tag → digest: the manifest digest a registry serves for a reference (HEAD, else GET and
//! hash), through oci-client with docker's credentials.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::{Client, Reference};

use crate::{Credentials, RegistryError};

/// How registries are reached.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// docker's configuration directory (`config.json`); `None`: anonymous access only.
    pub docker_config_dir: Option<PathBuf>,
    /// PEM CA certificates trusted besides the system's roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// How long a tag's digest is reused before the registry is asked again (0: always ask).
    pub tag_ttl: Duration,
    /// Registries reached over plain HTTP (`host:port`), never the default.
    pub plain_http: Vec<String>,
}

/// A reference pinned to the digest its registry served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The reference as given, with `@sha256:…` appended (a tag stays, for readers).
    pub image: String,
    /// `sha256:…`.
    pub digest: String,
}

/// A registry client with credentials and a tag cache.
pub struct Registry {
    pub(crate) client: Client,
    pub(crate) credentials: Credentials,
    pub(crate) tag_ttl: Duration,
    tags: Mutex<HashMap<String, (String, Instant)>>,
    /// Told of every registry call (not of cache hits): operation, success, duration.
    observer: std::sync::OnceLock<Observer>,
    /// Signature lookups by `.sig` location, for the tag cache's lifetime.
    pub(crate) signatures: Mutex<HashMap<String, (crate::CosignSignatures, Instant)>>,
    /// Image metadata by `repository@digest` (a digest's content never changes).
    pub(crate) by_digest: Mutex<HashMap<String, crate::ImageMetadata>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("credentials", &self.credentials)
            .field("tag_ttl", &self.tag_ttl)
            .finish_non_exhaustive()
    }
}

/// What is told of each registry call: the operation (`resolve`, `metadata`, `signatures`),
/// whether it succeeded, and how long it took.
pub type Observer = std::sync::Arc<dyn Fn(&'static str, bool, Duration) + Send + Sync>;

/// Parses `image` as a reference.
pub(crate) fn parse(image: &str) -> Result<Reference, RegistryError> {
    Reference::try_from(image).map_err(|e| RegistryError::InvalidReference {
        image: image.to_owned(),
        message: e.to_string(),
    })
}

/// Parses `image`, which must be pinned by digest: the reference and its digest.
pub(crate) fn parse_pinned(image: &str) -> Result<(Reference, String), RegistryError> {
    let reference = parse(image)?;
    let digest =
        reference
            .digest()
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::InvalidReference {
                image: image.to_owned(),
                message: "not pinned by digest".into(),
            })?;
    Ok((reference, digest))
}

/// The cache never grows past this many tags (it is emptied, then refilled by use).
pub(crate) const MAX_CACHED_TAGS: usize = 10_000;

impl Registry {
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        let mut extra = Vec::new();
        if let Some(pem) = config.extra_ca_pem {
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(RegistryError::Ca("no PEM certificate in the file".into()));
            }
            extra.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem,
            });
        }
        let protocol = if config.plain_http.is_empty() {
            ClientProtocol::Https
        } else {
            ClientProtocol::HttpsExcept(config.plain_http)
        };
        let client = Client::new(ClientConfig {
            protocol,
            extra_root_certificates: extra,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(10)),
            user_agent: concat!("admit/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        });
        Ok(Registry {
            client,
            credentials: Credentials::new(config.docker_config_dir.as_deref()),
            tag_ttl: config.tag_ttl,
            tags: Mutex::new(HashMap::new()),
            by_digest: Mutex::new(HashMap::new()),
            signatures: Mutex::new(HashMap::new()),
            observer: std::sync::OnceLock::new(),
        })
    }

    /// Sets who is told of registry calls (metrics); only the first setting counts.
    pub fn observe_with(&self, observer: Observer) {
        let _ = self.observer.set(observer);
    }

    /// Runs one registry call within `deadline` and tells the observer how it went.
    pub(crate) async fn bounded<T>(
        &self,
        operation: &'static str,
        registry: &str,
        image: &str,
        deadline: Duration,
        call: impl std::future::Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let started = Instant::now();
        let r = tokio::time::timeout(deadline, call)
            .await
            .map_err(|_| RegistryError::Timeout {
                registry: registry.to_owned(),
                image: image.to_owned(),
                millis: deadline.as_millis(),
            })
            .and_then(|r| r);
        if let Some(o) = self.observer.get() {
            o(operation, r.is_ok(), started.elapsed());
        }
        r
    }

    /// The digest `image` names: its own when it has one (no registry call), else the one its
    /// registry serves for the tag now, within `deadline`.
    pub async fn resolve(
        &self,
        image: &str,
        deadline: Duration,
    ) -> Result<Resolved, RegistryError> {
        let reference = parse(image)?;
        if let Some(d) = reference.digest() {
            return Ok(Resolved {
                image: image.to_owned(),
                digest: d.to_owned(),
            });
        }
        let key = reference.whole();
        if let Some(digest) = self.cached(&key) {
            return Ok(Resolved {
                image: format!("{image}@{digest}"),
                digest,
            });
        }
        let registry = reference.resolve_registry().to_owned();
        let call = async {
            let auth = self.credentials.for_registry(&registry, deadline).await?;
            self.client
                .fetch_manifest_digest(&reference, &auth)
                .await
                .map_err(|e| RegistryError::Registry {
                    registry: registry.clone(),
                    image: image.to_owned(),
                    message: e.to_string(),
                })
        };
        let digest = self
            .bounded("resolve", &registry, image, deadline, call)
            .await?;
        tracing::debug!(%image, %digest, "tag resolved");
        self.remember(key, &digest);
        Ok(Resolved {
            image: format!("{image}@{digest}"),
            digest,
        })
    }

    fn cached(&self, key: &str) -> Option<String> {
        let tags = self
            .tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tags.get(key)
            .filter(|(_, at)| at.elapsed() < self.tag_ttl)
            .map(|(d, _)| d.clone())
    }

    fn remember(&self, key: String, digest: &str) {
        if self.tag_ttl.is_zero() {
            return;
        }
        let mut tags = self
            .tags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tags.len() >= MAX_CACHED_TAGS {
            tags.clear();
        }
        tags.insert(key, (digest.to_owned(), Instant::now()));
    }
}
