//! What a registry says about an image pinned by digest: its manifest and config, of which
//! admit keeps what checks read (when it was built). Cached by digest: a digest's content
//! never changes, so a warm lookup costs no registry call.

use std::time::Duration;

use crate::resolve::MAX_CACHED_TAGS;
use crate::{Registry, RegistryError};

/// An image's metadata, as its registry serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    /// The manifest's digest (`sha256:…`).
    pub digest: String,
    /// The image config's `created` time (RFC 3339), when it has one. OCI registries report no
    /// upload time, so this is the build time the image declares.
    pub created: Option<String>,
}

impl Registry {
    /// The metadata of `image`, which must be pinned by digest (`repo@sha256:…`), within
    /// `deadline`.
    pub async fn metadata(
        &self,
        image: &str,
        deadline: Duration,
    ) -> Result<ImageMetadata, RegistryError> {
        let (reference, digest) = crate::resolve::parse_pinned(image)?;
        let key = format!(
            "{}/{}@{digest}",
            reference.resolve_registry(),
            reference.repository()
        );
        if let Some(m) = self
            .by_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(m.clone());
        }
        let registry = reference.resolve_registry().to_owned();
        let call = async {
            let auth = self.credentials.for_registry(&registry, deadline).await?;
            self.client
                .pull_manifest_and_config(&reference, &auth)
                .await
                .map_err(|e| RegistryError::Registry {
                    registry: registry.clone(),
                    image: image.to_owned(),
                    message: e.to_string(),
                })
        };
        let (_, _, config) = self
            .bounded("metadata", &registry, image, deadline, call)
            .await?;
        let config: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| RegistryError::Registry {
                registry: registry.clone(),
                image: image.to_owned(),
                message: format!("the image config is not JSON: {e}"),
            })?;
        let meta = ImageMetadata {
            digest,
            created: config["created"].as_str().map(str::to_owned),
        };
        let mut cache = self
            .by_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_TAGS {
            cache.clear();
        }
        cache.insert(key, meta.clone());
        Ok(meta)
    }
}
