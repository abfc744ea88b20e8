//! `admit serve`: the Binary Authorization, Grafeas and KMS APIs over HTTP on SQLite.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use admit_crypto::{MasterKey, SoftwareKeyBackend};
use admit_service::Service;
use admit_store::SqliteStore;
use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use clap::Args;
use zeroize::Zeroizing;

/// How the server logs.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Log format on stderr: `text`, or `json` (one object per event, with the fields of its
    /// spans: a review's `uid`, a request's method and path) for log pipelines. The level is
    /// ADMIT_LOG (`info`; e.g. `admit_webhook=debug,info`).
    #[arg(long, env = "ADMIT_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// Which events to log (`info`; `admit_webhook=debug,info` adds each review's decision).
    #[arg(long = "log", env = "ADMIT_LOG", default_value = "info")]
    pub(crate) log: String,
    #[command(flatten)]
    pub(crate) otlp: crate::telemetry::OtlpArgs,
    /// Address to listen on. Without access control (--token-file / --oidc-issuer) only a
    /// loopback address is accepted, since anyone who can reach the port could change the
    /// policy.
    #[arg(long, env = "ADMIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the SQLite database (and a generated master key) live.
    #[arg(long, env = "ADMIT_DATA_DIR", default_value = "./admit-data")]
    data_dir: PathBuf,
    /// Use PostgreSQL (`postgres://…`) instead of SQLite under --data-dir, so several replicas
    /// serve one fleet. Needs a shared master key (--master-key-file or ADMIT_MASTER_KEY).
    #[arg(long, env = "ADMIT_DATABASE_URL")]
    database_url: Option<String>,
    /// A file holding the 32-byte KMS master key, base64-encoded. Without it (and without
    /// ADMIT_MASTER_KEY) a key is generated into DATA_DIR/master.key on first run.
    #[arg(long, env = "ADMIT_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Also serve the same APIs over gRPC (Binary Authorization v1/v1beta1, Grafeas v1,
    /// Container Analysis v1, Cloud KMS v1, IAM) on this address: cleartext HTTP/2 on
    /// loopback, TLS with --tls-cert/--tls-key elsewhere.
    #[arg(long, env = "ADMIT_GRPC_LISTEN")]
    grpc_listen: Option<SocketAddr>,
    /// Also serve the Kubernetes admission webhook (HTTPS, `POST /validate`) on this address.
    #[arg(long, env = "ADMIT_WEBHOOK_LISTEN", requires_all = ["tls_cert", "tls_key", "project"])]
    webhook_listen: Option<SocketAddr>,
    /// PEM certificate chain for the webhook (reloaded every 30 s, for rotation).
    #[arg(long, env = "ADMIT_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for the webhook.
    #[arg(long, env = "ADMIT_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PEM CA bundle: the webhook then accepts only clients presenting a certificate it
    /// issued (configure the API server's AdmissionConfiguration kubeConfigFile with that
    /// client certificate). Reloaded with the serving certificate.
    #[arg(long, env = "ADMIT_WEBHOOK_CLIENT_CA", requires = "webhook_listen")]
    webhook_client_ca: Option<PathBuf>,
    /// Also serve `/healthz` and `/readyz` over plain HTTP here, for the kubelet's probes
    /// (which cannot present a client certificate when --webhook-client-ca is set).
    #[arg(long, env = "ADMIT_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Reviews decided at once; beyond it the webhook answers 503 at once instead of queueing
    /// without bound (the API server then applies the failurePolicy).
    #[arg(long, env = "ADMIT_WEBHOOK_MAX_IN_FLIGHT", default_value_t = 256)]
    webhook_max_in_flight: usize,
    /// The project whose policy the webhook enforces.
    #[arg(long, env = "ADMIT_PROJECT")]
    project: Option<String>,
    /// This cluster as `location.name` (selects clusterAdmissionRules).
    #[arg(long, env = "ADMIT_CLUSTER")]
    cluster: Option<String>,
    /// Require this annotation, non-empty, next to the breakglass annotation.
    #[arg(long, env = "ADMIT_BREAKGLASS_JUSTIFICATION_ANNOTATION")]
    breakglass_justification_annotation: Option<String>,
    /// SPIFFE trust domain for Istio identities.
    #[arg(
        long,
        env = "ADMIT_ISTIO_TRUST_DOMAIN",
        default_value = "cluster.local"
    )]
    istio_trust_domain: String,
    /// Verify every attestation on every review (no verified-result cache).
    #[arg(long, env = "ADMIT_NO_ADMISSION_CACHE")]
    no_admission_cache: bool,
    /// Allow listening on a non-loopback address although nothing authenticates callers.
    #[arg(long, env = "ADMIT_ALLOW_UNAUTHENTICATED_NETWORK")]
    allow_unauthenticated_network: bool,
    #[command(flatten)]
    access: crate::access::AccessArgs,
    /// A directory of Kritis manifests (ImageSecurityPolicy, GenericAttestationPolicy,
    /// AttestationAuthority; `*.yaml`, `*.yml`, `*.json`) the webhook enforces next to the
    /// project policy. Namespaces without a Kritis policy are then denied.
    #[arg(
        long,
        env = "ADMIT_KRITIS_POLICY_DIR",
        requires = "webhook_listen",
        conflicts_with = "watch_kubernetes"
    )]
    kritis_policy_dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) kube: crate::cluster::KubeArgs,
    #[command(flatten)]
    pub(crate) registry: crate::registry::RegistryArgs,
    #[command(flatten)]
    sigstore: crate::sigstore::SigstoreArgs,
    /// On SIGTERM or SIGINT: stop accepting, answer what is in flight for at most this long,
    /// then exit (0 when everything in flight was answered). Keep it below the pod's
    /// terminationGracePeriodSeconds (30 by default).
    #[arg(long, env = "ADMIT_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    shutdown_grace_seconds: u64,
    /// Audit records (admission decisions and admin changes) older than this many days are
    /// deleted, checked at start and hourly, so the log cannot grow without bound; 0 keeps
    /// them forever (as Cloud Logging's _Default bucket, the default is 30).
    #[arg(long, env = "ADMIT_AUDIT_RETENTION_DAYS", default_value_t = 30)]
    audit_retention_days: u64,
    /// The on-disk audit log (DATA_DIR/audit: hash-chained, signed, fsynced per group commit
    /// before a review is answered; `admit audit verify` checks it) keeps at most this many
    /// bytes, dropping whole old segments.
    #[arg(long, env = "ADMIT_AUDIT_LOG_MAX_BYTES", default_value_t = 1 << 30)]
    audit_log_max_bytes: u64,
    /// ... and segments whose newest record is older than this many days.
    #[arg(long, env = "ADMIT_AUDIT_LOG_MAX_AGE_DAYS", default_value_t = 30)]
    audit_log_max_age_days: u64,
    /// The on-disk audit log's segment size (what retention drops at a time).
    #[arg(long, env = "ADMIT_AUDIT_LOG_SEGMENT_BYTES", default_value_t = 16 << 20)]
    audit_log_segment_bytes: u64,
    /// Keep no on-disk audit log: each group commit of records goes straight to the database
    /// before its reviews are answered (for replicas without a persistent disk; slower).
    #[arg(long, env = "ADMIT_NO_AUDIT_LOG")]
    no_audit_log: bool,
    /// How often audit log retention runs (the log may outgrow its bound by what is written
    /// in between).
    #[arg(long, env = "ADMIT_AUDIT_LOG_RETENTION_SECONDS", default_value_t = 10)]
    audit_log_retention_seconds: u64,
}

/// Applies the audit retention at start and then hourly.
fn prune_audit_log(service: Arc<Service>, days: u64) {
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match service.prune_audit(days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "audit retention applied"),
                Err(e) => tracing::error!(error = %e, "cannot apply the audit retention"),
            }
        }
    });
}

/// Resolves when the process is asked to stop (SIGTERM from the kubelet, or SIGINT).
async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops gracefully");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Decodes the base64 master key; the text and the decoded bytes are zeroed when dropped.
/// The on-disk audit log under DATA_DIR/audit, signed with the key derived from `master`.
fn open_audit_log(args: &ServeArgs, master: &MasterKey) -> Result<admit_auditlog::AuditLog> {
    let audit_dir = args.data_dir.join("audit");
    let audit_log = admit_auditlog::AuditLog::open(
        &audit_dir,
        admit_auditlog::Signer::from_master(master.expose_bytes())?,
        admit_auditlog::Limits {
            segment_bytes: args.audit_log_segment_bytes,
            max_bytes: args.audit_log_max_bytes,
            max_age_secs: args.audit_log_max_age_days.saturating_mul(86_400),
        },
    )
    .with_context(|| format!("cannot open the audit log in {}", audit_dir.display()))?;
    tracing::info!(
        dir = %audit_dir.display(),
        log_id = audit_log.log_id(),
        public_key = %admit_auditlog::Signer::from_master(master.expose_bytes())?.verifier().to_base64(),
        "audit log: each decision is durable here before it is answered (admit audit verify checks it)"
    );
    Ok(audit_log)
}

pub(crate) fn decode_key(text: &Zeroizing<String>, origin: &str) -> Result<MasterKey> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .with_context(|| format!("{origin}: the master key must be base64"))?,
    );
    MasterKey::from_bytes(&bytes).with_context(|| origin.to_owned())
}

fn master_key(args: &ServeArgs) -> Result<MasterKey> {
    if let Ok(v) = std::env::var("ADMIT_MASTER_KEY") {
        return decode_key(&Zeroizing::new(v), "ADMIT_MASTER_KEY");
    }
    let read = |p: &Path| -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ))
    };
    if let Some(f) = &args.master_key_file {
        return decode_key(&read(f)?, &f.display().to_string());
    }
    let path = args.data_dir.join("master.key");
    if path.exists() {
        return decode_key(&read(&path)?, &path.display().to_string());
    }
    let key = MasterKey::generate()?;
    write_private(
        &path,
        &Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.expose_bytes())),
    )?;
    tracing::warn!(
        path = %path.display(),
        "GENERATED A NEW KMS MASTER KEY next to the database. Every KMS private key is wrapped under it: \
         back it up and move it out of the data directory (--master-key-file or ADMIT_MASTER_KEY) for production"
    );
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let access = args.access.load()?;
    // Every configuration file is read before anything listens.
    let client = args.kube.client().await?;
    let kritis = match &args.kritis_policy_dir {
        Some(dir) => Some(admit_webhook::fixed_kritis(crate::kritis::load(dir)?)),
        None => args.kube.watch_kritis(client.as_ref()),
    };
    if access.is_none() && !args.listen.ip().is_loopback() && !args.allow_unauthenticated_network {
        bail!(
            "refusing to listen on {} without authentication; configure --token-file or --oidc-issuer, bind to 127.0.0.1, or pass --allow-unauthenticated-network",
            args.listen
        );
    }
    let store: Arc<dyn admit_store::Store> = match &args.database_url {
        Some(url) => {
            if std::env::var("ADMIT_MASTER_KEY").is_err() && args.master_key_file.is_none() {
                bail!(
                    "with --database-url every replica must share the KMS master key: pass --master-key-file or set ADMIT_MASTER_KEY"
                );
            }
            Arc::new(
                admit_store::PostgresStore::connect(url)
                    .await
                    .context("cannot prepare the PostgreSQL database")?,
            )
        }
        None => {
            Arc::new(SqliteStore::open(&args.data_dir).await.with_context(|| {
                format!("cannot open the database in {}", args.data_dir.display())
            })?)
        }
    };
    let master = master_key(&args)?;
    let audit_log = if args.no_audit_log {
        None
    } else {
        Some(open_audit_log(&args, &master)?)
    };
    let keys = SoftwareKeyBackend::new(master);
    let clock: admit_service::Clock = Arc::new(|| {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs(), d.subsec_nanos())
    });
    // Read now (its CA file too), so a bad setting stops the start.
    let registry = args.registry.client()?;
    let mut service = Service::new(store, keys, clock).with_registry(registry.clone());
    if let Some(log) = audit_log {
        service = service.with_audit_log(log);
    }
    if let Some(root) = args.sigstore.trust_root()? {
        tracing::info!(trust_root = %root.summary(), "keyless cosign signatures are verified against this Sigstore trust root");
        service = service.with_sigstore_root(Arc::new(root));
    }
    if args.no_admission_cache {
        service = service.without_admission_cache();
    }
    match access {
        Some(a) => {
            tracing::info!(
                tokens = a.token_count(),
                oidc_issuers = a.oidc.len(),
                owners = a.owners.len(),
                "access control on: every API call is authenticated and checked against IAM"
            );
            service = service.with_access(a);
        }
        None => tracing::warn!("access control off: every caller holds every permission"),
    }
    let (watched, pods) = args.kube.pods(client.as_ref());
    let service =
        Arc::new(service.with_cluster(args.cluster.clone(), args.istio_trust_domain.clone(), pods));
    service.follow_changes();
    service.start_audit_log(std::time::Duration::from_secs(
        args.audit_log_retention_seconds.max(1),
    ));
    prune_audit_log(service.clone(), args.audit_retention_days);
    let cv_config = args
        .project
        .as_deref()
        .map(|p| webhook_config(&args, p, kritis.clone(), None));
    args.kube
        .start_continuous_validation(watched, service.clone(), cv_config)?;
    // The console's pages first (they authenticate themselves), then every API.
    let app = traced(
        &args,
        admit_console::routes(service.clone(), args.project.clone())
            .fallback_service(admit_api::app(service.clone())),
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The one line scripts and tests wait for.
    crate::offline::stdout_line(&format!("admit listening on http://{addr}"))?;
    tracing::info!(%addr, data_dir = %args.data_dir.display(), "serving");
    // One stop signal for both listeners: each stops accepting and finishes what it has.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_requested().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let grace = std::time::Duration::from_secs(args.shutdown_grace_seconds);
    let api = axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()));
    let api_stop = stop_rx.clone();
    let api = async move {
        // Serving ends only after the stop signal; then the grace period bounds the drain.
        tokio::select! {
            r = api.into_future() => r.map_err(anyhow::Error::from),
            () = async {
                stopped(api_stop).await;
                tokio::time::sleep(grace).await;
            } => bail!("requests still in flight after the {}s grace period", grace.as_secs()),
        }
    };
    if let Some(addr) = args.health_listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let health = admit_webhook::health_router(service.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, health).await {
                tracing::error!(error = %e, "the health listener stopped");
            }
        });
    }
    let grpc = grpc(&args, service.clone(), stopped(stop_rx.clone())).await?;
    let served = match &args.webhook_listen {
        None => {
            grpc();
            api.await
        }
        Some(wl) => {
            let handle = axum_server::Handle::new();
            let webhook = webhook(
                &args,
                *wl,
                service.clone(),
                kritis,
                registry,
                handle.clone(),
            )
            .await?;
            grpc();
            let rx = stop_rx.clone();
            tokio::spawn(async move {
                stopped(rx).await;
                handle.graceful_shutdown(Some(grace));
            });
            tokio::try_join!(api, webhook).map(|_| ())
        }
    };
    // Every review awaited its own audit record before it was answered, so once both
    // listeners have drained nothing is left to write; copy what the on-disk log holds into
    // the database (a few seconds at most; the next start would otherwise), and flush what
    // went to stdout.
    service.audit_caught_up().await;
    admit_webhook::flush_stdout();
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    if served.is_ok() {
        tracing::info!("stopped: every request in flight was answered");
    }
    served
}

/// With OTLP export on, each request gets a server span continuing its caller's trace.
fn traced(args: &ServeArgs, app: axum::Router) -> axum::Router {
    if args.otlp.enabled() {
        app.layer(axum::middleware::from_fn(crate::telemetry::server_span))
    } else {
        app
    }
}

/// Binds the gRPC listener (when asked for) and returns what announces and starts it, so its
/// line comes after the API's and the webhook's.
async fn grpc(
    args: &ServeArgs,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<impl FnOnce()> {
    let mut ready = None;
    if let Some(addr) = args.grpc_listen {
        let tls = if addr.ip().is_loopback() {
            None
        } else {
            let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
                bail!("--grpc-listen on {addr} (not loopback) needs --tls-cert and --tls-key");
            };
            Some(admit_grpc::Tls {
                cert_pem: std::fs::read(cert).with_context(|| cert.display().to_string())?,
                key_pem: std::fs::read(key).with_context(|| key.display().to_string())?,
            })
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let gateway = admit_grpc::Gateway::new(traced(args, admit_api::app(service)))?;
        ready = Some((gateway, listener, tls, bound));
    }
    Ok(move || {
        let Some((gateway, listener, tls, bound)) = ready else {
            return;
        };
        let scheme = if tls.is_some() { "grpcs" } else { "grpc" };
        if let Err(e) =
            crate::offline::stdout_line(&format!("admit grpc listening on {scheme}://{bound}"))
        {
            tracing::error!(error = %e, "cannot print the gRPC address");
        }
        tracing::info!(addr = %bound, methods = gateway.methods(), "serving gRPC");
        tokio::spawn(async move {
            if let Err(e) = admit_grpc::serve(gateway, listener, tls, shutdown).await {
                tracing::error!(error = %e, "the gRPC listener stopped");
            }
        });
    })
}

/// How the webhook (and continuous validation, which decides as it does) is configured.
pub(crate) fn webhook_config(
    args: &ServeArgs,
    project: &str,
    kritis: Option<admit_webhook::KritisFeed>,
    registry: Option<Arc<admit_registry::Registry>>,
) -> admit_webhook::WebhookConfig {
    admit_webhook::WebhookConfig {
        registry,
        mutate_templates: args.registry.mutate_templates,
        project: project.to_owned(),
        cluster: args.cluster.clone(),
        breakglass_justification_annotation: args.breakglass_justification_annotation.clone(),
        istio_trust_domain: args.istio_trust_domain.clone(),
        kritis,
        max_in_flight: args.webhook_max_in_flight.max(1),
    }
}

/// Binds the webhook listener and returns the future that serves it.
async fn webhook(
    args: &ServeArgs,
    addr: SocketAddr,
    service: Arc<Service>,
    kritis: Option<admit_webhook::KritisFeed>,
    registry: Arc<admit_registry::Registry>,
    handle: axum_server::Handle<SocketAddr>,
) -> Result<impl std::future::Future<Output = Result<()>>> {
    use axum_server::tls_rustls::RustlsConfig;
    let (Some(cert), Some(key), Some(project)) = (&args.tls_cert, &args.tls_key, &args.project)
    else {
        bail!("--webhook-listen needs --tls-cert, --tls-key and --project");
    };
    let files = crate::webhook_tls::TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: args.webhook_client_ca.clone(),
    };
    let tls = RustlsConfig::from_config(files.config()?);
    if files.client_ca.is_none() {
        tracing::warn!(
            "the webhook accepts any TLS client: pass --webhook-client-ca so only the API server can ask for decisions"
        );
    }
    // Reload the certificates regularly so a rotated Secret is picked up without a restart.
    let reload = tls.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            match files.config() {
                Ok(c) => reload.reload_from_config(c),
                Err(e) => tracing::error!(
                    error = %format!("{e:#}"),
                    "cannot reload the webhook TLS material; keeping the previous one"
                ),
            }
        }
    });
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let config = webhook_config(args, project, kritis, Some(registry));
    let app = traced(args, admit_webhook::router(service, config));
    crate::offline::stdout_line(&format!("admit webhook listening on https://{bound}"))?;
    tracing::info!(addr = %bound, "serving the admission webhook");
    // TCP_NODELAY: a response written in two segments must not wait for a delayed ACK.
    let server = axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle)
        .map(|a| a.acceptor(axum_server::accept::NoDelayAcceptor::new()));
    Ok(async move {
        server
            .serve(app.into_make_service())
            .await
            .map_err(anyhow::Error::from)
    })
}

/// `admit migrate`: apply pending migrations to a PostgreSQL database and exit (run it once
/// before rolling out new replicas; `serve` also migrates, serialised by an advisory lock).
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[arg(long, env = "ADMIT_DATABASE_URL")]
    database_url: String,
}

pub(crate) async fn migrate(args: MigrateArgs) -> Result<()> {
    admit_store::PostgresStore::connect(&args.database_url)
        .await
        .context("migration failed")?;
    crate::offline::stdout_line("migrations applied")
}
