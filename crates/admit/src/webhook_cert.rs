//! `admit webhook-cert`: a CA and a serving certificate for the webhook Service, and the
//! `caBundle` for the ValidatingWebhookConfiguration.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use clap::Args;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

#[derive(Debug, Args)]
pub(crate) struct WebhookCertArgs {
    /// The webhook's Kubernetes Service name.
    #[arg(long, default_value = "admit-webhook")]
    service: String,
    /// The Service's namespace.
    #[arg(long, default_value = "admit-system")]
    namespace: String,
    /// Extra subject alternative names (DNS names or IP addresses).
    #[arg(long = "san")]
    extra_sans: Vec<String>,
    /// Where to write ca.crt, tls.crt and tls.key.
    #[arg(long)]
    out_dir: PathBuf,
    /// Validity of the serving certificate, in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
}

fn write(path: &Path, text: &str, private: bool) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub(crate) fn run(a: &WebhookCertArgs) -> Result<()> {
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("cannot create {}", a.out_dir.display()))?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("admit webhook CA ({}/{})", a.namespace, a.service),
    );
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let svc = &a.service;
    let ns = &a.namespace;
    let mut sans = vec![
        svc.clone(),
        format!("{svc}.{ns}"),
        format!("{svc}.{ns}.svc"),
        format!("{svc}.{ns}.svc.cluster.local"),
    ];
    sans.extend(a.extra_sans.iter().cloned());
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{svc}.{ns}.svc"));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let (y, m, d) = ymd(now.saturating_sub(86_400))?;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(now + u64::from(a.days) * 86_400)?;
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;

    write(&a.out_dir.join("ca.crt"), &ca.pem(), false)?;
    write(&a.out_dir.join("tls.crt"), &cert.pem(), false)?;
    write(&a.out_dir.join("tls.key"), &key.serialize_pem(), true)?;
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca.pem());
    crate::offline::stdout_line(&format!(
        "wrote ca.crt, tls.crt and tls.key to {}",
        a.out_dir.display()
    ))?;
    crate::offline::stdout_line(&format!("caBundle: {bundle}"))
}

/// The calendar day (year, month, day) of a Unix time, as rcgen wants it.
fn ymd(secs: u64) -> Result<(i32, u8, u8)> {
    let day = admit_model::rfc3339(secs, 0);
    let n = |r: std::ops::Range<usize>| day[r].parse::<i32>().context("date");
    Ok((n(0..4)?, u8::try_from(n(5..7)?)?, u8::try_from(n(8..10)?)?))
}
