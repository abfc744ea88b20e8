//! Offline commands: no server, files in, a decision out.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use admit_model::{Attestor, Occurrence, Policy};
use admit_policy::{CompiledPolicy, Context, Evidence, PolicyError, Request, validate};
use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::{Outcome, OutputFormat, load, render};

#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// The policy file (YAML or JSON).
    #[arg(long, env = "ADMIT_POLICY")]
    policy: PathBuf,
    /// An image to admit; repeat for every container of the workload.
    #[arg(long = "image", required = true)]
    images: Vec<String>,
    /// The cluster, as `location.name` (selects `clusterAdmissionRules`).
    #[arg(long, env = "ADMIT_CLUSTER")]
    cluster: Option<String>,
    /// The Kubernetes namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// The Kubernetes service account, as NAMESPACE:NAME.
    #[arg(long)]
    service_account: Option<String>,
    /// The Istio identity, `spiffe://TRUST_DOMAIN/ns/NS/sa/SA`.
    #[arg(long)]
    istio_identity: Option<String>,
    /// A directory (or file) of attestors, as `gcloud … attestors describe --format=json` prints them.
    #[arg(long)]
    attestors: Option<PathBuf>,
    /// A directory (or file) of attestation occurrences, as `gcloud … attestations list` prints them.
    #[arg(long)]
    attestations: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

pub(crate) fn stdout_write(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes one line to stdout and flushes it.
pub(crate) fn stdout_line(s: &str) -> Result<()> {
    stdout_write(&format!("{s}\n"))
}

fn stderr_write(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

pub(crate) fn validate_policy(file: &Path) -> Result<Outcome> {
    let policy: Policy = match load::one(file) {
        Ok(p) => p,
        Err(e) => {
            // A file that is not a policy at all (unknown field, bad enum) is non-conformant,
            // not an I/O error, unless it could not be read.
            if file.is_file() {
                stderr_write(&format!("{}: invalid: {e:#}\n", file.display()));
                return Ok(Outcome::Denied);
            }
            return Err(e);
        }
    };
    let violations = validate(&policy);
    if violations.is_empty() {
        stdout_write(&format!("{}: valid\n", file.display()))?;
        Ok(Outcome::Ok)
    } else {
        let mut msg = format!("{}: {} violation(s)\n", file.display(), violations.len());
        for v in &violations {
            msg.push_str(&format!("  {v}\n"));
        }
        stderr_write(&msg);
        Ok(Outcome::Denied)
    }
}

fn context(args: &EvaluateArgs) -> Result<Context> {
    let mut ctx = Context {
        cluster: args.cluster.clone(),
        namespace: args.namespace.clone(),
        service_account: None,
        istio_identity: args.istio_identity.clone(),
    };
    if let Some(sa) = &args.service_account {
        let Some((ns, name)) = sa.split_once(':') else {
            bail!("--service-account must be NAMESPACE:NAME, got `{sa}`");
        };
        if let Some(given) = &ctx.namespace
            && given != ns
        {
            bail!("--service-account namespace `{ns}` differs from --namespace `{given}`");
        }
        ctx.namespace = Some(ns.to_owned());
        ctx.service_account = Some(name.to_owned());
    }
    Ok(ctx)
}

pub(crate) fn evaluate(args: &EvaluateArgs) -> Result<Outcome> {
    let policy: Policy = load::one(&args.policy)?;
    let compiled = CompiledPolicy::new(policy).map_err(|e| match e {
        PolicyError::InvalidPolicy(v) => anyhow::anyhow!(
            "{}: invalid policy:\n  {}",
            args.policy.display(),
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
        other => other.into(),
    })?;
    let request = Request {
        images: args.images.clone(),
        context: context(args)?,
    };
    let mut evidence = Evidence::new();
    if let Some(dir) = &args.attestors {
        for a in load::many::<Attestor>(dir)? {
            evidence.add_attestor(&a);
        }
    }
    if let Some(dir) = &args.attestations {
        for o in load::many::<Occurrence>(dir)? {
            evidence.add_occurrence(o);
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    let decision = compiled.evaluate(&request, &evidence, now);
    let text = match args.format {
        OutputFormat::Table => render::table(&decision),
        OutputFormat::Json => admit_model::to_json_pretty(&decision)?,
    };
    stdout_write(&text)?;
    Ok(if decision.allowed {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}

pub(crate) fn create_signature_payload(url: &str) -> Result<Outcome> {
    let payload = admit_crypto::create_signature_payload(url)?;
    stdout_write(&payload)?;
    Ok(Outcome::Ok)
}
