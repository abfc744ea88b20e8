//! `admit attestations create|list|sign-and-create` (as gcloud's): occurrences under the
//! attestor's note, in the current project, carrying the plain simple-signing payload.

use std::path::PathBuf;

use admit_crypto::{
    DEFAULT_DSSE_TYPE, create_signature_payload, pae, pkix_key_id, sign_with_private_key_pem,
};
use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::attestors::{algorithm, kms_key_id};
use super::{Client, attestor_name};

#[derive(Debug, Subcommand)]
pub(crate) enum AttestationsCommand {
    /// Store an attestation made elsewhere (a signature file over the payload).
    Create {
        #[arg(long)]
        artifact_url: String,
        #[arg(long)]
        attestor: String,
        #[arg(long)]
        attestor_project: Option<String>,
        /// The signature bytes (DER for ECDSA, armored or binary for PGP).
        #[arg(long)]
        signature_file: PathBuf,
        /// The signed payload; default: the payload built from --artifact-url.
        #[arg(long)]
        payload_file: Option<PathBuf>,
        #[arg(long)]
        public_key_id: String,
        /// Ask the server to verify it first and refuse to store it if it does not verify.
        #[arg(long)]
        validate: bool,
    },
    /// List attestations (of one attestor, optionally for one image).
    List {
        #[arg(long)]
        attestor: Option<String>,
        #[arg(long)]
        attestor_project: Option<String>,
        #[arg(long)]
        artifact_url: Option<String>,
    },
    /// Build the payload, sign it with a KMS key version or a local PKIX private key, and store it.
    SignAndCreate {
        #[arg(long)]
        artifact_url: String,
        #[arg(long)]
        attestor: String,
        #[arg(long)]
        attestor_project: Option<String>,
        /// projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N.
        #[arg(long, conflicts_with = "pkix_private_key_file")]
        keyversion: Option<String>,
        /// An unencrypted PKCS#8 PEM private key (`openssl genpkey` output).
        #[arg(long, requires = "pkix_algorithm")]
        pkix_private_key_file: Option<PathBuf>,
        /// The key's algorithm, e.g. ecdsa-p256-sha256.
        #[arg(long)]
        pkix_algorithm: Option<String>,
        /// An ascii-armored OpenPGP secret key (`gpg --armor --export-secret-keys`); the
        /// attestation is an armored signed message and its key id the fingerprint.
        #[arg(long, conflicts_with_all = ["keyversion", "pkix_private_key_file"])]
        pgp_private_key_file: Option<PathBuf>,
        /// The secret key's passphrase, read from this environment variable (default: none).
        #[arg(long, requires = "pgp_private_key_file")]
        pgp_passphrase_env: Option<String>,
        #[arg(long)]
        public_key_id_override: Option<String>,
        /// Sign the DSSE pre-authentication encoding of the payload (stores the plain payload).
        #[arg(long)]
        pae_encode_payload: bool,
        #[arg(long)]
        validate: bool,
    },
}

pub(crate) fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn strip_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, r)| r)
}

async fn note_of(c: &Client, attestor: &str) -> Result<String> {
    let a = c.get(&format!("v1/{attestor}"), &[]).await?;
    a["userOwnedGrafeasNote"]["noteReference"]
        .as_str()
        .map(str::to_owned)
        .context("the attestor has no noteReference")
}

async fn store(
    c: &Client,
    attestor: &str,
    url: &str,
    payload: &[u8],
    signature: &[u8],
    key_id: &str,
    validate: bool,
) -> Result<()> {
    let note = note_of(c, attestor).await?;
    let att = json!({"serializedPayload": b64(payload), "signatures": [{"publicKeyId": key_id, "signature": b64(signature)}]});
    if validate {
        let r = c
            .call(Method::POST, &format!("v1/{attestor}:validateAttestationOccurrence"), &[], Some(&json!({"attestation": att, "occurrenceNote": note, "occurrenceResourceUri": strip_scheme(url)})))
            .await?;
        if r["result"] != "VERIFIED" {
            bail!(
                "the attestation does not verify: {}",
                r["denialReason"].as_str().unwrap_or("(no reason)")
            );
        }
    }
    let body = json!({"kind": "ATTESTATION", "noteName": note, "resourceUri": strip_scheme(url), "attestation": att});
    let v = c
        .call(
            Method::POST,
            &format!("v1/projects/{}/occurrences", c.project()?),
            &[],
            Some(&body),
        )
        .await?;
    c.print(&v)
}

pub(crate) async fn run(c: &Client, cmd: AttestationsCommand) -> Result<()> {
    match cmd {
        AttestationsCommand::Create {
            artifact_url,
            attestor,
            attestor_project,
            signature_file,
            payload_file,
            public_key_id,
            validate,
        } => {
            let attestor = attestor_name(c, &attestor, attestor_project.as_deref())?;
            let payload = match payload_file {
                Some(f) => std::fs::read(&f).with_context(|| f.display().to_string())?,
                None => create_signature_payload(&artifact_url)?.into_bytes(),
            };
            let sig = std::fs::read(&signature_file)
                .with_context(|| signature_file.display().to_string())?;
            store(
                c,
                &attestor,
                &artifact_url,
                &payload,
                &sig,
                &public_key_id,
                validate,
            )
            .await
        }
        AttestationsCommand::List {
            attestor,
            attestor_project,
            artifact_url,
        } => {
            let filter = match &artifact_url {
                Some(u) => {
                    let digest = strip_scheme(u)
                        .rsplit_once('@')
                        .map(|(_, d)| d)
                        .context("--artifact-url must be a digest reference")?;
                    format!("has_suffix(resourceUrl, \"{digest}\")")
                }
                None => String::new(),
            };
            let path = match attestor {
                Some(a) => format!(
                    "v1/{}/occurrences",
                    note_of(c, &attestor_name(c, &a, attestor_project.as_deref())?).await?
                ),
                None => format!("v1/projects/{}/occurrences", c.project()?),
            };
            let items: Vec<Value> = c
                .list_all(&path, "occurrences", &[("filter", &filter)])
                .await?
                .into_iter()
                .filter(|o| o["kind"] == "ATTESTATION")
                .collect();
            c.print_list(&items)
        }
        AttestationsCommand::SignAndCreate {
            artifact_url,
            attestor,
            attestor_project,
            keyversion,
            pkix_private_key_file,
            pkix_algorithm,
            pgp_private_key_file,
            pgp_passphrase_env,
            public_key_id_override,
            pae_encode_payload,
            validate,
        } => {
            let attestor = attestor_name(c, &attestor, attestor_project.as_deref())?;
            let payload = create_signature_payload(&artifact_url)?;
            let signed = if pae_encode_payload {
                pae(DEFAULT_DSSE_TYPE, payload.as_bytes())
            } else {
                payload.as_bytes().to_vec()
            };
            if let Some(f) = pgp_private_key_file {
                let secret =
                    std::fs::read_to_string(&f).with_context(|| f.display().to_string())?;
                let pass = match pgp_passphrase_env {
                    Some(var) => std::env::var(&var)
                        .with_context(|| format!("environment variable {var} is not set"))?,
                    None => String::new(),
                };
                let (armored, fpr) =
                    admit_crypto::pgp_sign_message(&secret, &pass, payload.as_bytes())?;
                return store(
                    c,
                    &attestor,
                    &artifact_url,
                    payload.as_bytes(),
                    armored.as_bytes(),
                    &fpr,
                    validate,
                )
                .await;
            }
            let (sig, key_id) = match (keyversion, pkix_private_key_file) {
                (Some(v), None) => {
                    let sig = kms_sign(c, &v, &signed, None).await?;
                    (
                        sig,
                        public_key_id_override.unwrap_or_else(|| kms_key_id(c, &v)),
                    )
                }
                (None, Some(f)) => {
                    let pem =
                        std::fs::read_to_string(&f).with_context(|| f.display().to_string())?;
                    let alg: admit_model::SignatureAlgorithm =
                        algorithm(pkix_algorithm.as_deref().unwrap_or_default()).parse()?;
                    let (sig, spki) = sign_with_private_key_pem(&pem, alg, &signed)?;
                    (
                        sig,
                        public_key_id_override.unwrap_or_else(|| pkix_key_id(&spki)),
                    )
                }
                _ => bail!("one of --keyversion or --pkix-private-key-file is required"),
            };
            store(
                c,
                &attestor,
                &artifact_url,
                payload.as_bytes(),
                &sig,
                &key_id,
                validate,
            )
            .await
        }
    }
}

/// Signs `signed` with KMS key version `version` through the server: the digest the key's
/// algorithm wants (or the data, for Ed25519), CRC32C-checked both ways. `digest_alg`, when
/// given (`SHA256|SHA384|SHA512`, Kritis' -kms_digest_alg), must match the key.
pub(crate) async fn kms_sign(
    c: &Client,
    version: &str,
    signed: &[u8],
    digest_alg: Option<&str>,
) -> Result<Vec<u8>> {
    let pk = c.get(&format!("v1/{version}/publicKey"), &[]).await?;
    let key_alg = pk["algorithm"].as_str().unwrap_or_default().to_owned();
    let alg = key_alg.to_ascii_lowercase();
    let hash = ["sha256", "sha384", "sha512"]
        .into_iter()
        .find(|h| alg.contains(h));
    if let Some(want) = digest_alg
        && hash != Some(want.to_ascii_lowercase().as_str())
    {
        bail!("the digest algorithm {want} does not match the key version's algorithm {key_alg}");
    }
    let req = if let Some(h) = hash {
        let d = match h {
            "sha256" => aws_digest(signed, 256),
            "sha384" => aws_digest(signed, 384),
            _ => aws_digest(signed, 512),
        };
        json!({"digest": {h: b64(&d)}, "digestCrc32c": admit_crypto::crc32c(&d).to_string()})
    } else {
        json!({"data": b64(signed), "dataCrc32c": admit_crypto::crc32c(signed).to_string()})
    };
    let r = c
        .call(
            Method::POST,
            &format!("v1/{version}:asymmetricSign"),
            &[],
            Some(&req),
        )
        .await?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(r["signature"].as_str().unwrap_or_default())?;
    if r["signatureCrc32c"].as_str() != Some(admit_crypto::crc32c(&sig).to_string().as_str()) {
        bail!("the KMS signature was corrupted in transit (CRC32C mismatch)");
    }
    Ok(sig)
}

fn aws_digest(data: &[u8], bits: u16) -> Vec<u8> {
    match bits {
        256 => admit_crypto::sha256(data).to_vec(),
        384 => admit_crypto::sha384(data),
        _ => admit_crypto::sha512(data),
    }
}
