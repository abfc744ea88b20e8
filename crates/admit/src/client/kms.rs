//! `admit kms keyrings|keys|versions …` (as `gcloud kms …`).

use anyhow::Result;
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::Client;

#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// Key rings.
    Keyrings {
        #[command(subcommand)]
        command: KeyringsCommand,
    },
    /// Asymmetric-signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Key versions.
    Versions {
        #[command(subcommand)]
        command: VersionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyringsCommand {
    Create {
        name: String,
        #[arg(long, default_value = "global")]
        location: String,
    },
    List {
        #[arg(long, default_value = "global")]
        location: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    Create {
        name: String,
        #[arg(long)]
        keyring: String,
        #[arg(long, default_value = "global")]
        location: String,
        /// e.g. ec-sign-p256-sha256.
        #[arg(long)]
        default_algorithm: String,
        #[arg(long)]
        skip_initial_version_creation: bool,
    },
    List {
        #[arg(long)]
        keyring: String,
        #[arg(long, default_value = "global")]
        location: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum VersionsCommand {
    Create {
        #[arg(long)]
        key: String,
        #[arg(long)]
        keyring: String,
        #[arg(long, default_value = "global")]
        location: String,
    },
    List {
        #[arg(long)]
        key: String,
        #[arg(long)]
        keyring: String,
        #[arg(long, default_value = "global")]
        location: String,
    },
    /// Print the version's PEM public key.
    GetPublicKey {
        version: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        keyring: String,
        #[arg(long, default_value = "global")]
        location: String,
    },
}

pub(crate) async fn run(c: &Client, cmd: KmsCommand) -> Result<()> {
    let p = c.project()?.to_owned();
    let ring = |location: &str, keyring: &str| {
        format!("v1/projects/{p}/locations/{location}/keyRings/{keyring}")
    };
    match cmd {
        KmsCommand::Keyrings {
            command: KeyringsCommand::Create { name, location },
        } => {
            let v = c
                .call(
                    Method::POST,
                    &format!("v1/projects/{p}/locations/{location}/keyRings"),
                    &[("keyRingId", &name)],
                    Some(&json!({})),
                )
                .await?;
            c.print(&v)
        }
        KmsCommand::Keyrings {
            command: KeyringsCommand::List { location },
        } => {
            let l = c
                .list_all(
                    &format!("v1/projects/{p}/locations/{location}/keyRings"),
                    "keyRings",
                    &[],
                )
                .await?;
            c.print_list(&l)
        }
        KmsCommand::Keys {
            command:
                KeysCommand::Create {
                    name,
                    keyring,
                    location,
                    default_algorithm,
                    skip_initial_version_creation,
                },
        } => {
            let body = json!({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": super::attestors::algorithm(&default_algorithm), "protectionLevel": "SOFTWARE"}});
            let skip = if skip_initial_version_creation {
                "True"
            } else {
                "False"
            };
            let v = c
                .call(
                    Method::POST,
                    &format!("{}/cryptoKeys", ring(&location, &keyring)),
                    &[("cryptoKeyId", &name), ("skipInitialVersionCreation", skip)],
                    Some(&body),
                )
                .await?;
            c.print(&v)
        }
        KmsCommand::Keys {
            command: KeysCommand::List { keyring, location },
        } => {
            let l = c
                .list_all(
                    &format!("{}/cryptoKeys", ring(&location, &keyring)),
                    "cryptoKeys",
                    &[],
                )
                .await?;
            c.print_list(&l)
        }
        KmsCommand::Versions {
            command:
                VersionsCommand::Create {
                    key,
                    keyring,
                    location,
                },
        } => {
            let v = c
                .call(
                    Method::POST,
                    &format!(
                        "{}/cryptoKeys/{key}/cryptoKeyVersions",
                        ring(&location, &keyring)
                    ),
                    &[],
                    Some(&json!({})),
                )
                .await?;
            c.print(&v)
        }
        KmsCommand::Versions {
            command:
                VersionsCommand::List {
                    key,
                    keyring,
                    location,
                },
        } => {
            let l = c
                .list_all(
                    &format!(
                        "{}/cryptoKeys/{key}/cryptoKeyVersions",
                        ring(&location, &keyring)
                    ),
                    "cryptoKeyVersions",
                    &[],
                )
                .await?;
            c.print_list(&l)
        }
        KmsCommand::Versions {
            command:
                VersionsCommand::GetPublicKey {
                    version,
                    key,
                    keyring,
                    location,
                },
        } => {
            let v = c
                .get(
                    &format!(
                        "{}/cryptoKeys/{key}/cryptoKeyVersions/{version}/publicKey",
                        ring(&location, &keyring)
                    ),
                    &[],
                )
                .await?;
            crate::offline::stdout_write(v["pem"].as_str().unwrap_or_default())
        }
    }
}
