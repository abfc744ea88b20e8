//! `admit attestors …` (as `gcloud container binauthz attestors …`): create, list, describe,
//! update, delete, public-keys add/remove.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Client, attestor_name};

#[derive(Debug, Subcommand)]
pub(crate) enum AttestorsCommand {
    /// Create an attestor for a Grafeas note.
    Create {
        name: String,
        #[arg(long)]
        attestation_authority_note: String,
        #[arg(long)]
        attestation_authority_note_project: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the project's attestors.
    List,
    /// Show one attestor.
    Describe { name: String },
    /// Change an attestor's description.
    Update {
        name: String,
        #[arg(long)]
        description: String,
    },
    /// Delete an attestor.
    Delete { name: String },
    /// Add or remove public keys.
    PublicKeys {
        #[command(subcommand)]
        command: PublicKeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PublicKeysCommand {
    /// Add a PGP, PKIX or KMS public key.
    Add {
        #[arg(long)]
        attestor: String,
        #[arg(long)]
        attestor_project: Option<String>,
        #[arg(long, conflicts_with_all = ["pkix_public_key_file", "keyversion"])]
        pgp_public_key_file: Option<PathBuf>,
        #[arg(
            long,
            requires = "pkix_public_key_algorithm",
            conflicts_with = "keyversion"
        )]
        pkix_public_key_file: Option<PathBuf>,
        /// e.g. ecdsa-p256-sha256 (gcloud's spelling) or ECDSA_P256_SHA256.
        #[arg(long)]
        pkix_public_key_algorithm: Option<String>,
        /// A KMS key version: projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N.
        #[arg(long)]
        keyversion: Option<String>,
        #[arg(long)]
        public_key_id_override: Option<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Remove a public key by id.
    Remove {
        id: String,
        #[arg(long)]
        attestor: String,
        #[arg(long)]
        attestor_project: Option<String>,
    },
}

/// gcloud's spelling (`ecdsa-p256-sha256`) or the enum name.
pub(crate) fn algorithm(s: &str) -> String {
    s.to_ascii_uppercase().replace('-', "_")
}

/// The Binary Authorization algorithm for a KMS one, as gcloud maps it.
pub(crate) fn kms_to_binauthz(kms: &str) -> Result<String> {
    Ok(match kms {
        k if k.starts_with("RSA_SIGN_PSS_") => k.replacen("RSA_SIGN_PSS_", "RSA_PSS_", 1),
        k if k.starts_with("RSA_SIGN_PKCS1_") => k.to_owned(),
        "EC_SIGN_P256_SHA256" => "ECDSA_P256_SHA256".into(),
        "EC_SIGN_P384_SHA384" => "ECDSA_P384_SHA384".into(),
        "EC_SIGN_ED25519" => "EC_SIGN_ED25519".into(),
        other => bail!("unsupported PkixPublicKey signature algorithm {other}"),
    })
}

/// The id gcloud gives a KMS key: the version's self-link without its scheme.
pub(crate) fn kms_key_id(c: &Client, version: &str) -> String {
    let host = c.base.split_once("://").map_or(c.base.as_str(), |(_, h)| h);
    format!("//{host}/v1/{version}")
}

pub(crate) async fn run(c: &Client, cmd: AttestorsCommand) -> Result<()> {
    match cmd {
        AttestorsCommand::Create {
            name,
            attestation_authority_note,
            attestation_authority_note_project,
            description,
        } => {
            let p = c.project()?.to_owned();
            let note = if attestation_authority_note.starts_with("projects/") {
                attestation_authority_note
            } else {
                format!(
                    "projects/{}/notes/{attestation_authority_note}",
                    attestation_authority_note_project.as_deref().unwrap_or(&p)
                )
            };
            let mut body = json!({"name": format!("projects/{p}/attestors/{name}"), "userOwnedGrafeasNote": {"noteReference": note}});
            if let Some(d) = description {
                body["description"] = Value::String(d);
            }
            let v = c
                .call(
                    Method::POST,
                    &format!("v1/projects/{p}/attestors"),
                    &[("attestorId", &name)],
                    Some(&body),
                )
                .await?;
            c.print(&v)
        }
        AttestorsCommand::List => {
            let items = c
                .list_all(
                    &format!("v1/projects/{}/attestors", c.project()?),
                    "attestors",
                    &[],
                )
                .await?;
            let mut out = format!("{:<30} {:<50} {}\n", "NAME", "NOTE", "NUM_PUBLIC_KEYS");
            for a in &items {
                let name = a["name"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                let note = &a["userOwnedGrafeasNote"];
                let n = note["publicKeys"].as_array().map_or(0, Vec::len);
                out.push_str(&format!(
                    "{name:<30} {:<50} {n}\n",
                    note["noteReference"].as_str().unwrap_or_default()
                ));
            }
            crate::offline::stdout_write(&out)
        }
        AttestorsCommand::Describe { name } => {
            let v = c
                .get(&format!("v1/{}", attestor_name(c, &name, None)?), &[])
                .await?;
            c.print(&v)
        }
        AttestorsCommand::Update { name, description } => {
            let path = format!("v1/{}", attestor_name(c, &name, None)?);
            let mut a = c.get(&path, &[]).await?;
            a["description"] = Value::String(description);
            let v = c.call(Method::PUT, &path, &[], Some(&a)).await?;
            c.print(&v)
        }
        AttestorsCommand::Delete { name } => {
            c.call(
                Method::DELETE,
                &format!("v1/{}", attestor_name(c, &name, None)?),
                &[],
                None,
            )
            .await?;
            crate::offline::stdout_line(&format!("Deleted attestor [{name}]."))
        }
        AttestorsCommand::PublicKeys { command } => public_keys(c, command).await,
    }
}

async fn public_keys(c: &Client, cmd: PublicKeysCommand) -> Result<()> {
    match cmd {
        PublicKeysCommand::Add {
            attestor,
            attestor_project,
            pgp_public_key_file,
            pkix_public_key_file,
            pkix_public_key_algorithm,
            keyversion,
            public_key_id_override,
            comment,
        } => {
            let path = format!(
                "v1/{}",
                attestor_name(c, &attestor, attestor_project.as_deref())?
            );
            let mut key = json!({});
            if let Some(f) = pgp_public_key_file {
                if public_key_id_override.is_some() {
                    bail!(
                        "--public-key-id-override cannot be used with PGP keys (their id is the fingerprint)"
                    );
                }
                key["asciiArmoredPgpPublicKey"] = Value::String(
                    std::fs::read_to_string(&f).with_context(|| f.display().to_string())?,
                );
            } else if let Some(f) = pkix_public_key_file {
                let pem = std::fs::read_to_string(&f).with_context(|| f.display().to_string())?;
                let alg = algorithm(pkix_public_key_algorithm.as_deref().unwrap_or_default());
                key["pkixPublicKey"] = json!({"publicKeyPem": pem, "signatureAlgorithm": alg});
            } else if let Some(v) = keyversion {
                let pk = c.get(&format!("v1/{v}/publicKey"), &[]).await?;
                let alg = kms_to_binauthz(pk["algorithm"].as_str().unwrap_or_default())?;
                key["pkixPublicKey"] =
                    json!({"publicKeyPem": pk["pem"], "signatureAlgorithm": alg});
                key["id"] = Value::String(
                    public_key_id_override
                        .clone()
                        .unwrap_or_else(|| kms_key_id(c, &v)),
                );
            } else {
                bail!(
                    "one of --pgp-public-key-file, --pkix-public-key-file or --keyversion is required"
                );
            }
            if let Some(id) = &public_key_id_override {
                key["id"] = Value::String(id.clone());
            }
            if let Some(cm) = comment {
                key["comment"] = Value::String(cm);
            }
            let mut a = c.get(&path, &[]).await?;
            let before: Vec<String> = a["userOwnedGrafeasNote"]["publicKeys"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|k| k["id"].as_str().map(str::to_owned))
                .collect();
            let keys = a["userOwnedGrafeasNote"]["publicKeys"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut keys = keys;
            keys.push(key);
            a["userOwnedGrafeasNote"]["publicKeys"] = Value::Array(keys);
            let updated = c.call(Method::PUT, &path, &[], Some(&a)).await?;
            let new = updated["userOwnedGrafeasNote"]["publicKeys"]
                .as_array()
                .and_then(|ks| {
                    ks.iter()
                        .find(|k| !before.iter().any(|b| Some(b.as_str()) == k["id"].as_str()))
                })
                .cloned()
                .unwrap_or(Value::Null);
            c.print(&new)
        }
        PublicKeysCommand::Remove {
            id,
            attestor,
            attestor_project,
        } => {
            let path = format!(
                "v1/{}",
                attestor_name(c, &attestor, attestor_project.as_deref())?
            );
            let mut a = c.get(&path, &[]).await?;
            let keys = a["userOwnedGrafeasNote"]["publicKeys"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let kept: Vec<Value> = keys
                .iter()
                .filter(|k| k["id"] != id.as_str())
                .cloned()
                .collect();
            if kept.len() == keys.len() {
                bail!("no public key with id [{id}] on attestor [{attestor}]");
            }
            a["userOwnedGrafeasNote"]["publicKeys"] = Value::Array(kept);
            c.call(Method::PUT, &path, &[], Some(&a)).await?;
            crate::offline::stdout_line(&format!(
                "Removed public key [{id}] from attestor [{attestor}]."
            ))
        }
    }
}
