//! The webhook's TLS: the serving certificate and key, and, when configured, the CA whose
//! client certificates are the only ones accepted (the API server's, so nobody else reaching
//! the port can make admit spend a decision and an audit record).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Where the webhook's TLS material lives; read again on every reload.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) client_ca: Option<PathBuf>,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate bundle", path.display()))?;
    if certs.is_empty() {
        bail!("{}: holds no certificate", path.display());
    }
    Ok(certs)
}

impl TlsFiles {
    /// A rustls configuration from the files as they are now.
    pub(crate) fn config(&self) -> Result<Arc<ServerConfig>> {
        let chain = certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("{}: not a PEM private key", self.key.display()))?;
        let builder = ServerConfig::builder();
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs(ca)? {
                    roots.add(c).with_context(|| {
                        format!("{}: not a usable CA certificate", ca.display())
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .with_context(|| format!("{}: cannot verify clients with it", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).with_context(|| {
            format!(
                "the webhook certificate {} does not match the key {}",
                self.cert.display(),
                self.key.display()
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
