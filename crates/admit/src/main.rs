//! `admit`: the one binary: `admit serve` (the APIs on SQLite) and the offline commands
//! (policy validation, evaluation against local files, signature payloads).
//!
//! Exit codes scripts rely on: 0 success or allowed, 2 denied or non-conformant, 1 error.

mod load;
mod offline;
mod render;
mod serve;

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
    Serve(serve::ServeArgs),
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
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
}

fn serve_main(args: serve::ServeArgs) -> anyhow::Result<Outcome> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ADMIT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve::run(args))?;
    Ok(Outcome::Ok)
}

/// An outcome that maps to an exit code.
pub(crate) enum Outcome {
    Ok,
    Denied,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_main(args),
        Command::Policy {
            command: PolicyCommand::Validate { file },
        } => offline::validate_policy(&file),
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
