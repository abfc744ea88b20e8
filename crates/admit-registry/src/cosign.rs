//! cosign signatures as sigstore's specification stores them (`specs/SIGNATURE_SPEC.md` in
//! sigstore/cosign, "Tag-based Discovery" and "OCI Image Manifest V1"), and as OCI 1.1
//! referrers of the image (artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`,
//! through the referrers API or its tag-schema fallback). For an image
//! `repo@sha256:HEX`, an OCI image manifest tagged `repo:sha256-HEX.sig` whose layers each hold
//! one signed payload (media type `application/vnd.dev.cosign.simplesigning.v1+json`) with the
//! signature and its optional certificate, chain and Rekor bundle as layer annotations.
//!
//! Lookups are cached: the `.sig` tag for the tag cache's lifetime (new signatures show up
//! after it), each signature manifest by its digest (content never changes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oci_client::Reference;
use oci_client::errors::OciDistributionError;

use crate::resolve::MAX_CACHED_TAGS;
use crate::{Registry, RegistryError};

/// The media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The artifact type of a cosign signature stored as an OCI 1.1 referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The artifact type (and layer media type) of a Sigstore bundle stored as a referrer, as
/// cosign's `--new-bundle-format` writes it.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The referrer manifest's annotation naming the bundle's predicate type.
pub const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// The predicate type of an image signature in a bundle.
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The layer media type of a DSSE envelope in `cosign attest`'s `.att` manifests.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The layer annotation naming an attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The layer annotation holding the signing certificate (keyless signatures).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The layer annotation holding further chain certificates (keyless signatures).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The layer annotation holding the Rekor entry and its signed entry timestamp.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// A payload is a few hundred bytes; a blob past this is not one, and is not read further.
const MAX_PAYLOAD: usize = 1 << 20;
/// At most this many signature manifests (referrers) and payloads per manifest are read, so
/// a registry listing thousands costs a bounded amount of memory and work.
const MAX_SIGNATURE_MANIFESTS: usize = 16;
const MAX_PAYLOADS_PER_MANIFEST: usize = 32;

/// A buffer that refuses to grow past [`MAX_PAYLOAD`], so a registry that sends more than the
/// descriptor declared cannot exhaust memory.
struct Capped(Vec<u8>);

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.0.len() + buf.len() > MAX_PAYLOAD {
            return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                "a signature payload larger than {MAX_PAYLOAD} bytes"
            ))));
        }
        self.0.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// One signature layer: the payload bytes and the layer's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    pub payload: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// The signatures stored for one image: those of the `.sig` tag first, then those stored as
/// OCI 1.1 referrers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignSignatures {
    /// `repo:sha256-HEX.sig`, where the tag-based signatures were looked for (referrers are
    /// found from the image's digest).
    pub location: String,
    pub layers: Vec<SignatureLayer>,
    /// Sigstore bundles of image signatures stored as OCI 1.1 referrers.
    pub bundles: Vec<Vec<u8>>,
    /// Whether the answer came from the cache (no registry call).
    pub cached: bool,
}

fn registry_error(registry: &str, image: &str, e: &OciDistributionError) -> RegistryError {
    RegistryError::Registry {
        registry: registry.to_owned(),
        image: image.to_owned(),
        message: e.to_string(),
    }
}

fn not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            matches!(
                x.code,
                oci_client::errors::OciErrorCode::ManifestUnknown
                    | oci_client::errors::OciErrorCode::NameUnknown
            )
        }),
        _ => false,
    }
}

impl Registry {
    /// The cosign signatures stored for `image`, which must be pinned by digest.
    pub async fn cosign_signatures(
        &self,
        image: &str,
        deadline: Duration,
    ) -> Result<CosignSignatures, RegistryError> {
        let (reference, digest) = crate::resolve::parse_pinned(image)?;
        let tag = format!("{}.sig", digest.replace(':', "-"));
        let sig_ref = Reference::with_tag(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            tag,
        );
        let location = sig_ref.whole();
        if let Some(found) = self.cached_signatures(&location) {
            return Ok(found);
        }
        let registry = reference.resolve_registry().to_owned();
        let pinned_ref = reference.clone();
        let call = async {
            let auth = self.credentials.for_registry(&registry, deadline).await?;
            let mut layers = Vec::new();
            // The tag-based layout: one manifest at `sha256-HEX.sig`.
            match self.client.pull_image_manifest(&sig_ref, &auth).await {
                Ok((manifest, _)) => layers.extend(
                    self.payload_layers(
                        &sig_ref,
                        &manifest,
                        SIMPLE_SIGNING_MEDIA_TYPE,
                        &registry,
                        image,
                    )
                    .await?,
                ),
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(registry_error(&registry, image, &e)),
            }
            // OCI 1.1 referrers (cosign's `--registry-referrers-mode=oci-1-1`): the referrers
            // API, or the referrers tag schema where the registry has none.
            let referrers = self
                .client
                .pull_referrers(&pinned_ref, None)
                .await
                .map_err(|e| registry_error(&registry, image, &e))?;
            for entry in referrers
                .manifests
                .iter()
                .filter(|m| m.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE))
                .take(MAX_SIGNATURE_MANIFESTS)
            {
                let (at, manifest) = self
                    .referrer_manifest(&reference, &entry.digest, &auth, &registry, image)
                    .await?;
                layers.extend(
                    self.payload_layers(
                        &at,
                        &manifest,
                        SIMPLE_SIGNING_MEDIA_TYPE,
                        &registry,
                        image,
                    )
                    .await?,
                );
            }
            // Sigstore bundles (cosign's `--new-bundle-format`), image signatures only.
            let bundles = self
                .bundle_referrers(&reference, &referrers, &auth, &registry, image, |p| {
                    p == SIGN_PREDICATE
                })
                .await?;
            Ok(CosignSignatures {
                location: location.clone(),
                layers,
                bundles,
                cached: false,
            })
        };
        let found = self
            .bounded("signatures", &registry, image, deadline, call)
            .await?;
        self.remember_signatures(location, &found);
        Ok(found)
    }

    /// The Sigstore bundles stored as referrers of `image` (pinned by digest) that hold SLSA
    /// provenance (`cosign attest --new-bundle-format --type slsaprovenance…`).
    pub async fn provenance_bundles(
        &self,
        image: &str,
        deadline: Duration,
    ) -> Result<Vec<Vec<u8>>, RegistryError> {
        let (reference, _) = crate::resolve::parse_pinned(image)?;
        let registry = reference.resolve_registry().to_owned();
        let call = async {
            let auth = self.credentials.for_registry(&registry, deadline).await?;
            // The referrers call takes the credentials stored by an earlier call; none came first.
            self.client
                .auth(&reference, &auth, oci_client::RegistryOperation::Pull)
                .await
                .map_err(|e| registry_error(&registry, image, &e))?;
            let referrers = self
                .client
                .pull_referrers(&reference, None)
                .await
                .map_err(|e| registry_error(&registry, image, &e))?;
            self.bundle_referrers(&reference, &referrers, &auth, &registry, image, |p| {
                p.starts_with("https://slsa.dev/provenance/")
            })
            .await
        };
        self.bounded("provenance", &registry, image, deadline, call)
            .await
    }

    /// The attestations `cosign attest` stores for `image` (pinned by digest) in the tag layout:
    /// the `sha256-HEX.att` manifest, one DSSE envelope layer per attestation with its
    /// `predicateType`, certificate, chain and Rekor bundle as annotations.
    pub async fn cosign_attestations(
        &self,
        image: &str,
        deadline: Duration,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let (reference, digest) = crate::resolve::parse_pinned(image)?;
        let att_ref = Reference::with_tag(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            format!("{}.att", digest.replace(':', "-")),
        );
        let registry = reference.resolve_registry().to_owned();
        let call = async {
            let auth = self.credentials.for_registry(&registry, deadline).await?;
            match self.client.pull_image_manifest(&att_ref, &auth).await {
                Ok((manifest, _)) => {
                    self.payload_layers(&att_ref, &manifest, DSSE_MEDIA_TYPE, &registry, image)
                        .await
                }
                Err(e) if not_found(&e) => Ok(Vec::new()),
                Err(e) => Err(registry_error(&registry, image, &e)),
            }
        };
        self.bounded("attestations", &registry, image, deadline, call)
            .await
    }

    /// The bundles of the referrers listed in `referrers` whose predicate type (the
    /// manifest's annotation, when present) `wanted` accepts.
    async fn bundle_referrers(
        &self,
        reference: &Reference,
        referrers: &oci_client::manifest::OciImageIndex,
        auth: &oci_client::secrets::RegistryAuth,
        registry: &str,
        image: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<Vec<u8>>, RegistryError> {
        let mut bundles = Vec::new();
        for entry in referrers
            .manifests
            .iter()
            .filter(|m| m.artifact_type.as_deref() == Some(BUNDLE_MEDIA_TYPE))
            .filter(|m| {
                m.annotations
                    .as_ref()
                    .and_then(|a| a.get(BUNDLE_PREDICATE_ANNOTATION))
                    .is_none_or(|p| wanted(p))
            })
            .take(MAX_SIGNATURE_MANIFESTS)
        {
            let (at, manifest) = self
                .referrer_manifest(reference, &entry.digest, auth, registry, image)
                .await?;
            let layers = self
                .payload_layers(&at, &manifest, BUNDLE_MEDIA_TYPE, registry, image)
                .await?;
            bundles.extend(layers.into_iter().map(|l| l.payload));
        }
        Ok(bundles)
    }

    /// The referrer manifest `digest` in `reference`'s repository, and where it is.
    async fn referrer_manifest(
        &self,
        reference: &Reference,
        digest: &str,
        auth: &oci_client::secrets::RegistryAuth,
        registry: &str,
        image: &str,
    ) -> Result<(Reference, oci_client::manifest::OciImageManifest), RegistryError> {
        let at = Reference::with_digest(
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            digest.to_owned(),
        );
        let (manifest, _) = self
            .client
            .pull_image_manifest(&at, auth)
            .await
            .map_err(|e| registry_error(registry, image, &e))?;
        Ok((at, manifest))
    }

    /// The payload layers of `media_type` in one signature or attestation manifest, with their
    /// annotations.
    async fn payload_layers(
        &self,
        at: &Reference,
        manifest: &oci_client::manifest::OciImageManifest,
        media_type: &str,
        registry: &str,
        image: &str,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let mut layers = Vec::new();
        let payloads = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == media_type)
            // A payload is a few hundred bytes; a descriptor declaring more is not one.
            .filter(|l| usize::try_from(l.size).is_ok_and(|n| n <= MAX_PAYLOAD))
            .take(MAX_PAYLOADS_PER_MANIFEST);
        for layer in payloads {
            let mut capped = Capped(Vec::new());
            self.client
                .pull_blob(at, layer, &mut capped)
                .await
                .map_err(|e| registry_error(registry, image, &e))?;
            let payload = capped.0;
            layers.push(SignatureLayer {
                payload,
                annotations: layer
                    .annotations
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            });
        }
        Ok(layers)
    }

    fn cached_signatures(&self, location: &str) -> Option<CosignSignatures> {
        let cache = self
            .signatures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(location)
            .filter(|(_, at)| at.elapsed() < self.tag_ttl)
            .map(|(s, _)| CosignSignatures {
                cached: true,
                ..s.clone()
            })
    }

    fn remember_signatures(&self, location: String, found: &CosignSignatures) {
        if self.tag_ttl.is_zero() {
            return;
        }
        let mut cache = self
            .signatures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_TAGS {
            cache.clear();
        }
        cache.insert(location, (found.clone(), Instant::now()));
    }
}
