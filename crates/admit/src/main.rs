//! `admit`: the one binary: `admit serve` (the APIs on SQLite) and the offline commands
//! (policy validation, evaluation against local files, signature payloads).
//!
//! Exit codes scripts rely on: 0 success or allowed, 2 denied or non-conformant, 1 error.

/// mimalloc: per-thread free lists instead of glibc's arenas; a warm review allocates for its
/// JSON, and glibc's malloc and free were a quarter of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod access;
mod audit_verify;
mod client;
mod cluster;
mod kritis;
mod load;
mod offline;
mod registry;
mod render;
mod serve;
mod sigstore;
mod telemetry;
mod webhook_cert;
mod webhook_tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "admit",
    version,
    about = "Self-hosted Binary Authorization: policy engine, attestations and admission"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Binary Authorization, Grafeas and KMS APIs (SQLite under --data-dir).
    Serve(Box<serve::ServeArgs>),
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Manage attestors on the server (as `gcloud container binauthz attestors`).
    Attestors {
        #[command(flatten)]
        target: client::Target,
        #[command(subcommand)]
        command: client::attestors::AttestorsCommand,
    },
    /// Create and list attestations on the server (as `gcloud container binauthz attestations`).
    Attestations {
        #[command(flatten)]
        target: client::Target,
        #[command(subcommand)]
        command: client::attestations::AttestationsCommand,
    },
    /// The server's KMS: key rings, signing keys, versions (as `gcloud kms`).
    Kms {
        #[command(flatten)]
        target: client::Target,
        #[command(subcommand)]
        command: client::kms::KmsCommand,
    },
    /// Import a vulnerability scanner report (Trivy, Grype) as Grafeas occurrences.
    Vulns {
        #[command(flatten)]
        target: client::Connection,
        #[command(subcommand)]
        command: client::vulns::VulnsCommand,
    },
    /// Check an image's vulnerabilities against a Kritis VulnzSigningPolicy and attest it
    /// (Kritis signer's flags: `-mode check-and-sign -image … -policy … -note_name …`).
    /// Exit 0 passed/signed, 2 policy violations, 1 error.
    Signer(Box<client::signer::SignerArgs>),
    /// Apply the PostgreSQL migrations and exit.
    Migrate(serve::MigrateArgs),
    /// Create the webhook's serving certificate, its CA and the caBundle.
    WebhookCert(webhook_cert::WebhookCertArgs),
    /// What the server knows of an image: digest (a tag resolved at its registry),
    /// attestors, cosign signatures, vulnerabilities, and the current policy's verdict (as
    /// `gcloud container images describe`, plus admit's findings). Exit 2 when it would be
    /// denied.
    Images {
        #[command(subcommand)]
        command: client::images::ImagesCommand,
    },
    /// Query the admission audit log on the server.
    Audit {
        #[command(flatten)]
        target: client::Target,
        #[command(subcommand)]
        command: client::audit::AuditCommand,
    },
    /// Evaluate images against a policy offline, with attestors and attestations from files.
    Evaluate(offline::EvaluateArgs),
    /// Print the signature payload for an image digest, byte-identical to
    /// `gcloud container binauthz create-signature-payload`.
    CreateSignaturePayload {
        /// The image, as REGISTRY/REPOSITORY@sha256:DIGEST (a scheme and a tag are dropped).
        #[arg(long, env = "ADMIT_ARTIFACT_URL")]
        artifact_url: String,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Check a policy file (YAML or JSON, as `gcloud … policy export` writes it).
    /// Exit 0 when valid, 2 when it breaks a rule (each violation is listed), 1 when unreadable.
    Validate {
        /// The policy file.
        file: std::path::PathBuf,
    },
    /// Replace the project's policy on the server with FILE (YAML or JSON).
    Import {
        file: std::path::PathBuf,
        #[command(flatten)]
        target: client::Target,
    },
    /// Print the project's policy from the server.
    Export {
        #[command(flatten)]
        target: client::Target,
    },
    /// What PROPOSED (YAML or JSON) would change before you import it: the running workloads
    /// and the admissions of the audit log it would deny that the current policy admits, and
    /// the reverse (an admit extension). A table, or `--format json`. Exit 2 when it would
    /// deny anything now admitted.
    Simulate {
        file: std::path::PathBuf,
        /// How far back the audit log is replayed (90s, 30m, 24h, 7d).
        #[arg(long, default_value = "24h")]
        since: String,
        #[command(flatten)]
        target: client::Target,
    },
}

fn serve_main(args: serve::ServeArgs) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let telemetry = telemetry::init(&args.log, args.log_format, &args.otlp, &rt)?;
    let served = rt.block_on(serve::run(args));
    telemetry.shutdown();
    served?;
    Ok(Outcome::Ok)
}

/// Runs one client command on a current-thread runtime.
fn remote<F, Fut>(target: &client::Target, f: F) -> anyhow::Result<Outcome>
where
    F: FnOnce(client::Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let c = client::Client::new(target)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(f(c))?;
    Ok(Outcome::Ok)
}

/// An outcome that maps to an exit code.
pub(crate) enum Outcome {
    Ok,
    Denied,
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(client::signer::go_flags(std::env::args().collect()));
    let result = match cli.command {
        Command::Serve(args) => serve_main(*args),
        Command::Policy {
            command: PolicyCommand::Validate { file },
        } => offline::validate_policy(&file),
        Command::Policy {
            command: PolicyCommand::Import { file, target },
        } => remote(&target, |c| async move {
            client::policy::import(&c, &file).await
        }),
        Command::Policy {
            command:
                PolicyCommand::Simulate {
                    file,
                    since,
                    target,
                },
        } => client::Client::new(&target).and_then(|c| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(client::simulate::run(&c, &file, &since))
        }),
        Command::Policy {
            command: PolicyCommand::Export { target },
        } => remote(&target, |c| async move { client::policy::export(&c).await }),
        Command::Attestors { target, command } => remote(&target, |c| async move {
            client::attestors::run(&c, command).await
        }),
        Command::Attestations { target, command } => remote(&target, |c| async move {
            client::attestations::run(&c, command).await
        }),
        Command::Migrate(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(serve::migrate(args)))
            .map(|()| Outcome::Ok),
        Command::WebhookCert(args) => webhook_cert::run(&args).map(|()| Outcome::Ok),
        Command::Images { command } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(client::images::run(command)))
            .map(|admitted| {
                if admitted {
                    Outcome::Ok
                } else {
                    Outcome::Denied
                }
            }),
        Command::Audit {
            command: client::audit::AuditCommand::Verify(args),
            ..
        } => audit_verify::run(&args),
        Command::Audit { target, command } => {
            remote(
                &target,
                |c| async move { client::audit::run(&c, command).await },
            )
        }
        Command::Kms { target, command } => {
            remote(
                &target,
                |c| async move { client::kms::run(&c, command).await },
            )
        }
        Command::Vulns { target, command } => remote(
            &client::Target {
                conn: target,
                format: client::Format::Yaml,
            },
            |c| async move { client::vulns::run(&c, command).await },
        ),
        Command::Signer(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(client::signer::run(*args))),
        Command::Evaluate(args) => offline::evaluate(&args),
        Command::CreateSignaturePayload { artifact_url } => {
            offline::create_signature_payload(&artifact_url)
        }
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Denied) => ExitCode::from(2),
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "the binary reports errors on stderr")]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod cli_tests {
    /// clap's own consistency checks over every command (unique argument ids, valid
    /// `requires`/`conflicts_with`), which otherwise fire only when a command is first parsed.
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
