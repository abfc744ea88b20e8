//! `admit signer`: a drop-in for Kritis' signer (`/kritis/signer -mode check-and-sign -image …
//! -policy … -vulnz_timeout 60m -kms_key_name … -kms_digest_alg … -note_name …`, seed 003).
//!
//! check: the image must be pinned by digest; wait (up to -vulnz_timeout, showing progress) for
//! its vulnerability scan to finish (the DISCOVERY occurrence), then hold every VULNERABILITY
//! occurrence against the VulnzSigningPolicy and list each violation. sign: the simple-signing
//! payload, signed by a KMS key version through the server, a PKIX PEM key or an OpenPGP key,
//! stored as an attestation occurrence under -note_name (created if missing) in the attestation
//! project. Exit codes: 0 passed (and signed), 2 policy violations, 1 anything else.
//!
//! Kritis' single-dash Go flags are accepted as written (`-vulnz_timeout 60m`,
//! `-overwrite=true`), as are `--long` forms with `_` or `-`, and Kritis' environment
//! variables (ATTESTATION_POLICY_PATH, ATTESTATION_NOTE_NAME, …).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use admit_model::{Format, VulnzSigningPolicy};
use admit_policy::{ImageRef, Vuln, check_signing_policy};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::attestations::{b64, kms_sign};
use super::attestors::{algorithm, kms_key_id};
use super::vulns::{occurrences_for, resource_uri};
use super::{Client, Connection};
use crate::Outcome;

#[derive(Debug, Args)]
pub(crate) struct SignerArgs {
    #[command(flatten)]
    target: Connection,
    /// check-and-sign | check-only | bypass-and-sign.
    #[arg(long, default_value = "check-and-sign")]
    mode: String,
    /// The image, by digest: REPOSITORY@sha256:DIGEST.
    #[arg(long)]
    image: Option<String>,
    /// The VulnzSigningPolicy YAML (or ATTESTATION_POLICY_PATH; ATTESTATION_POLICY holds the
    /// document itself).
    #[arg(long, env = "ATTESTATION_POLICY_PATH")]
    policy: Option<PathBuf>,
    /// How long to wait for the vulnerability scan (Go duration: 600s, 5m, 1h30m).
    #[arg(long = "vulnz_timeout", alias = "vulnz-timeout", default_value = "5m")]
    vulnz_timeout: String,
    /// How often to poll while waiting.
    #[arg(long = "poll_interval", alias = "poll-interval", default_value = "2s")]
    poll_interval: String,
    /// projects/P/notes/N the attestation is attached to (created if missing).
    #[arg(long = "note_name", alias = "note-name", env = "ATTESTATION_NOTE_NAME")]
    note_name: Option<String>,
    /// Project storing the attestation; the image's project when unset.
    #[arg(
        long = "attestation_project",
        alias = "attestation-project",
        env = "ATTESTATION_PROJECT"
    )]
    attestation_project: Option<String>,
    /// Replace an existing attestation of the image under the note.
    #[arg(long, env = "ATTESTATION_OVERWRITE", num_args = 0..=1, default_missing_value = "true")]
    overwrite: Option<bool>,
    /// projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions/*
    #[arg(
        long = "kms_key_name",
        alias = "kms-key-name",
        env = "ATTESTATION_KMS_KEY"
    )]
    kms_key_name: Option<String>,
    /// SHA256 | SHA384 | SHA512, matching the key version's algorithm.
    #[arg(
        long = "kms_digest_alg",
        alias = "kms-digest-alg",
        env = "ATTESTATION_DIGEST_ALGORITHM"
    )]
    kms_digest_alg: Option<String>,
    /// ASCII-armored OpenPGP private key.
    #[arg(long = "pgp_private_key", alias = "pgp-private-key")]
    pgp_private_key: Option<PathBuf>,
    /// Its passphrase, if any.
    #[arg(long = "pgp_passphrase", alias = "pgp-passphrase", default_value = "")]
    pgp_passphrase: String,
    /// PKCS#8 PEM private key.
    #[arg(long = "pkix_private_key", alias = "pkix-private-key")]
    pkix_private_key: Option<PathBuf>,
    /// Its algorithm, e.g. ecdsa-p256-sha256, rsa-pss-2048-sha256.
    #[arg(long = "pkix_alg", alias = "pkix-alg")]
    pkix_alg: Option<String>,
}

/// Rewrites Kritis' single-dash long flags (`-mode`, `-vulnz_timeout=5m`) to `--` forms.
pub(crate) fn go_flags(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut in_signer = false;
    let mut expect_value = false;
    for a in args {
        let rewrite = in_signer
            && !expect_value
            && a.len() > 2
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].starts_with(|c: char| c.is_ascii_lowercase());
        expect_value = false;
        if rewrite {
            expect_value = !a.contains('=') && a != "-overwrite";
            out.push(format!("-{a}"));
        } else {
            if a == "signer" && out.len() == 1 {
                in_signer = true;
            }
            out.push(a);
        }
    }
    out
}

/// A Go duration: `300ms`, `10s`, `5m`, `1h30m`.
pub(crate) fn go_duration(s: &str) -> Result<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(|| format!("duration `{s}` lacks a unit (ms, s, m, h)"))?;
        let value: f64 = rest[..n]
            .parse()
            .with_context(|| format!("duration `{s}`: bad number"))?;
        rest = &rest[n..];
        let (unit, secs) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
            .into_iter()
            .find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))
            .with_context(|| format!("duration `{s}`: unknown unit (ms, s, m, h)"))?;
        total += value * secs;
        rest = &rest[unit.len()..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// The project in an image path: `gcr.io/P/…`, `eu.gcr.io/P/…`, `REGION-docker.pkg.dev/P/…`.
fn image_project(image: &ImageRef) -> Option<String> {
    let repo = image.repository();
    let mut parts = repo.split('/');
    let host = parts.next()?;
    let p = parts.next()?;
    (host.ends_with("gcr.io") || host.ends_with("docker.pkg.dev")).then(|| p.to_owned())
}

fn read_policy(args: &SignerArgs) -> Result<VulnzSigningPolicy> {
    let (text, origin) = match &args.policy {
        Some(p) => (
            std::fs::read_to_string(p)
                .with_context(|| format!("failed to load policy file '{}'", p.display()))?,
            p.display().to_string(),
        ),
        None => match std::env::var("ATTESTATION_POLICY") {
            Ok(doc) if !doc.trim().is_empty() => (doc, "ATTESTATION_POLICY".into()),
            _ => bail!(
                "no policy: pass -policy FILE (or set ATTESTATION_POLICY_PATH / ATTESTATION_POLICY)"
            ),
        },
    };
    let p: VulnzSigningPolicy = admit_model::decode(&text, Format::Yaml)
        .with_context(|| format!("failed to parse policy from '{origin}'"))?;
    if p.kind != "VulnzSigningPolicy" {
        bail!(
            "{origin}: kind is `{}`, expected VulnzSigningPolicy",
            p.kind
        );
    }
    let req = &p.spec.image_vulnerability_requirements;
    admit_policy::check_allowlist_expiry(
        "spec.imageVulnerabilityRequirements",
        &req.allowlist_cves,
        &req.admit_allowlist_expiry,
    )
    .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    Ok(p)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn progress(line: &str) {
    #[allow(clippy::print_stderr, reason = "the signer reports progress on stderr")]
    {
        eprintln!("{line}");
    }
}

/// Waits for the image's scan to finish; every VULNERABILITY occurrence then.
async fn scan_results(
    c: &Client,
    project: &str,
    uri: &str,
    timeout: Duration,
    interval: Duration,
) -> Result<Vec<Value>> {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let d = occurrences_for(c, project, uri, "DISCOVERY").await?;
        let status = d
            .iter()
            .filter_map(|o| o["discovery"]["analysisStatus"].as_str())
            .next()
            .unwrap_or("NOT_STARTED (no DISCOVERY occurrence yet)")
            .to_owned();
        match status.as_str() {
            "FINISHED_SUCCESS" => {
                progress(&format!(
                    "vulnerability scan of {uri} finished after {:.0?}",
                    start.elapsed()
                ));
                return occurrences_for(c, project, uri, "VULNERABILITY").await;
            }
            "FINISHED_FAILED" | "FINISHED_UNSUPPORTED" => {
                bail!(
                    "the vulnerability scan of {uri} ended with {status}: nothing to check against the policy"
                )
            }
            _ => {}
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            bail!(
                "timed out after {:.0?} waiting for the vulnerability scan of {uri} (last status {status}); raise -vulnz_timeout",
                timeout
            );
        }
        if status != last {
            progress(&format!(
                "waiting for the vulnerability scan of {uri}: {status} ({:.0?} of {:.0?})",
                elapsed, timeout
            ));
            last = status;
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(elapsed))).await;
    }
}

/// The signing flags, checked before anything is read or waited for (as Kritis does).
fn check_sign_flags(args: &SignerArgs) -> Result<admit_model::NoteName> {
    let note = args
        .note_name
        .as_deref()
        .context("no note: pass -note_name projects/P/notes/N (or set ATTESTATION_NOTE_NAME)")?;
    let note = admit_model::NoteName::parse(note).map_err(|_| {
        anyhow::anyhow!(
            "note name '{note}' is invalid: expected projects/[PROVIDER_ID]/notes/[NOTE_ID]"
        )
    })?;
    match (
        &args.kms_key_name,
        &args.pgp_private_key,
        &args.pkix_private_key,
    ) {
        (Some(_), None, None) => {
            let alg = args.kms_digest_alg.as_deref().context(
                "kms_digest_alg is unspecified, must be one of SHA256|SHA384|SHA512, and the same as specified by the key version's algorithm",
            )?;
            if !matches!(alg, "SHA256" | "SHA384" | "SHA512") {
                bail!("kms_digest_alg `{alg}` must be one of SHA256|SHA384|SHA512");
            }
        }
        (None, Some(_), None) => {}
        (None, None, Some(_)) => {
            algorithm(
                args.pkix_alg
                    .as_deref()
                    .context("-pkix_alg is required with -pkix_private_key")?,
            )
            .parse::<admit_model::SignatureAlgorithm>()?;
        }
        (None, None, None) => {
            bail!("Neither kms_key_name, pgp_private_key, or pkix_private_key is specified")
        }
        _ => bail!("give exactly one of -kms_key_name, -pgp_private_key, -pkix_private_key"),
    }
    Ok(note)
}

async fn sign(
    c: &Client,
    args: &SignerArgs,
    note_name: &admit_model::NoteName,
    image: &str,
    image_ref: &ImageRef,
) -> Result<()> {
    let note = note_name.to_string();
    let project = match &args.attestation_project {
        Some(p) => p.clone(),
        None => image_project(image_ref)
            .context("cannot tell the image's project: pass -attestation_project")?,
    };
    let uri = resource_uri(image)?;
    let bare = uri.trim_start_matches("https://").to_owned();
    super::vulns::ensure_note(
        c,
        &note,
        &json!({"attestation": {"hint": {"humanReadableName": note_name.note}}}),
    )
    .await?;
    let existing: Vec<Value> = occurrences_for(c, &project, &uri, "ATTESTATION")
        .await?
        .into_iter()
        .filter(|o| o["noteName"] == note.as_str())
        .collect();
    let overwrite = args.overwrite.unwrap_or(false);
    if !existing.is_empty() && !overwrite {
        progress(&format!(
            "an attestation of {bare} under {note} already exists; pass -overwrite to replace it"
        ));
        return Ok(());
    }
    let payload = admit_crypto::create_signature_payload(&bare)?;
    let (signature, key_id) = match (
        &args.kms_key_name,
        &args.pgp_private_key,
        &args.pkix_private_key,
    ) {
        (Some(k), None, None) => (
            kms_sign(c, k, payload.as_bytes(), args.kms_digest_alg.as_deref()).await?,
            kms_key_id(c, k),
        ),
        (None, Some(f), None) => {
            let secret = std::fs::read_to_string(f).with_context(|| f.display().to_string())?;
            let (armored, fpr) =
                admit_crypto::pgp_sign_message(&secret, &args.pgp_passphrase, payload.as_bytes())?;
            (armored.into_bytes(), fpr)
        }
        (None, None, Some(f)) => {
            let pem = std::fs::read_to_string(f).with_context(|| f.display().to_string())?;
            let alg: admit_model::SignatureAlgorithm = algorithm(
                args.pkix_alg
                    .as_deref()
                    .context("-pkix_alg is required with -pkix_private_key")?,
            )
            .parse()?;
            let (sig, spki) =
                admit_crypto::sign_with_private_key_pem(&pem, alg, payload.as_bytes())?;
            (sig, admit_crypto::pkix_key_id(&spki))
        }
        _ => bail!("give exactly one of -kms_key_name, -pgp_private_key, -pkix_private_key"),
    };
    let body = json!({
        "kind": "ATTESTATION",
        "resourceUri": uri,
        "noteName": note,
        "attestation": {"serializedPayload": b64(payload.as_bytes()),
                        "signatures": [{"publicKeyId": key_id, "signature": b64(&signature)}]},
    });
    let created = c
        .call(
            Method::POST,
            &format!("v1/projects/{project}/occurrences"),
            &[],
            Some(&body),
        )
        .await?;
    for old in &existing {
        if let Some(n) = old["name"].as_str() {
            c.call(Method::DELETE, &format!("v1/{n}"), &[], None)
                .await?;
        }
    }
    progress(&format!(
        "signed {bare}: {} (key {key_id}){}",
        created["name"].as_str().unwrap_or_default(),
        if existing.is_empty() {
            ""
        } else {
            ", replacing the previous attestation"
        }
    ));
    Ok(())
}

pub(crate) async fn run(args: SignerArgs) -> Result<Outcome> {
    let c = Client::connect(&args.target, super::Format::Yaml)?;
    let (check, do_sign) = match args.mode.as_str() {
        "check-and-sign" => (true, true),
        "check-only" => (true, false),
        "bypass-and-sign" => (false, true),
        other => bail!(
            "unrecognized mode {other}, must be one of check-and-sign|check-only|bypass-and-sign"
        ),
    };
    let image = args
        .image
        .clone()
        .context("image url is empty: pass -image REPOSITORY@sha256:DIGEST")?;
    let bare = image.split_once("://").map_or(image.as_str(), |(_, r)| r);
    let image_ref = ImageRef::parse(bare)
        .with_context(|| format!("failed to parse container image reference {image}"))?;
    if image_ref.digest().is_none() {
        bail!("image reference should have digest: {image}");
    }
    let note = if do_sign {
        Some(check_sign_flags(&args)?)
    } else {
        None
    };
    if check {
        let policy = read_policy(&args)?;
        let timeout = go_duration(&args.vulnz_timeout).context("-vulnz_timeout")?;
        let interval = go_duration(&args.poll_interval).context("-poll_interval")?;
        let project = match &args.target.project {
            Some(p) => p.clone(),
            None => image_project(&image_ref)
                .context("cannot tell which project holds the image's scan: pass --project")?,
        };
        let uri = resource_uri(&image)?;
        let occurrences = scan_results(&c, &project, &uri, timeout, interval).await?;
        let vulns: Vec<Vuln> = occurrences
            .iter()
            .filter_map(Vuln::from_occurrence)
            .collect();
        let violations = check_signing_policy(
            &policy.spec.image_vulnerability_requirements,
            &vulns,
            unix_now(),
        );
        if !violations.is_empty() {
            progress(&format!(
                "Image {image:?} does not pass VulnzSigningPolicy {:?}: {} violation(s) among {} vulnerabilities:",
                policy.metadata.name,
                violations.len(),
                vulns.len()
            ));
            for v in &violations {
                progress(&format!("  {v}"));
            }
            return Ok(Outcome::Denied);
        }
        progress(&format!(
            "Image {image:?} passes VulnzSigningPolicy {:?} ({} vulnerabilities checked).",
            policy.metadata.name,
            vulns.len()
        ));
    }
    if let Some(note) = &note {
        sign(&c, &args, note, &image, &image_ref).await?;
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("60m").ok(), Some(Duration::from_secs(3600)));
        assert_eq!(go_duration("1h30m").ok(), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("600s").ok(), Some(Duration::from_secs(600)));
        assert_eq!(go_duration("250ms").ok(), Some(Duration::from_millis(250)));
        assert!(go_duration("5").is_err());
        assert!(go_duration("5d").is_err());
    }

    #[test]
    fn kritis_flags_become_long_flags() {
        let a = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            go_flags(a(&[
                "admit",
                "signer",
                "-mode",
                "check-only",
                "-vulnz_timeout=1m",
                "-overwrite",
                "-image",
                "x@sha256:1"
            ])),
            a(&[
                "admit",
                "signer",
                "--mode",
                "check-only",
                "--vulnz_timeout=1m",
                "--overwrite",
                "--image",
                "x@sha256:1"
            ])
        );
        // Other commands are untouched.
        assert_eq!(
            go_flags(a(&["admit", "evaluate", "-h"])),
            a(&["admit", "evaluate", "-h"])
        );
    }
}
