//! The server's logs and traces: events on stderr (text or JSON, filtered by `--log`) and, with
//! `--otlp-endpoint`, every span exported over OTLP/gRPC to a collector (Jaeger, Tempo, the
//! OpenTelemetry Collector…), continuing the caller's W3C trace context (`traceparent`) so a
//! review appears inside the kube-apiserver's own trace.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_otlp::WithTonicConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

use crate::serve::LogFormat;

/// OTLP trace export. The exporter also honours the standard `OTEL_EXPORTER_OTLP_HEADERS`,
/// `…_TIMEOUT` and `…_COMPRESSION` variables, and the resource `OTEL_SERVICE_NAME` (default
/// `admit`) and `OTEL_RESOURCE_ATTRIBUTES`.
#[derive(Debug, Args)]
pub(crate) struct OtlpArgs {
    /// Export spans over OTLP/gRPC to this collector (`http://collector:4317`, or `https://…`
    /// verified against the system's roots and --otlp-ca-file). Off by default.
    #[arg(long = "otlp-endpoint", env = "ADMIT_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// PEM CA certificates the collector's TLS certificate may chain to, besides the system's.
    #[arg(
        long = "otlp-ca-file",
        env = "ADMIT_OTLP_CA_FILE",
        requires = "otlp_endpoint"
    )]
    otlp_ca_file: Option<PathBuf>,
    /// Which spans are exported, in `--log` syntax. The default covers each request, each
    /// review (`admission_review`) and its stages (decide, evaluate_admission, verify_for, record).
    #[arg(
        long = "otlp-filter",
        env = "ADMIT_OTLP_FILTER",
        default_value = "info,admit_webhook=debug,admit_service=debug"
    )]
    otlp_filter: String,
    /// The share of new traces sampled (0.0–1.0). A request carrying a sampled `traceparent`
    /// follows its caller's decision.
    #[arg(
        long = "otlp-sample-ratio",
        env = "ADMIT_OTLP_SAMPLE_RATIO",
        default_value_t = 1.0
    )]
    otlp_sample_ratio: f64,
}

impl OtlpArgs {
    pub(crate) fn enabled(&self) -> bool {
        self.otlp_endpoint.is_some()
    }
}

/// What must outlive serving: the span pipeline, flushed on shutdown.
pub(crate) struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is still queued (bounded by the exporter's timeout).
    pub(crate) fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "spans still queued for OTLP export were lost");
        }
    }
}

/// Installs the global subscriber. The OTLP exporter is built inside `rt`, whose reactor its
/// gRPC channel uses.
pub(crate) fn init(
    log: &str,
    format: LogFormat,
    otlp: &OtlpArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<Telemetry> {
    let filter =
        EnvFilter::try_new(log).map_err(|e| anyhow::anyhow!("--log / ADMIT_LOG `{log}`: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let mut layers: Vec<Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>> = Vec::new();
    match format {
        // Each span's close is an event too, with its fields and time: per-stage latency of a
        // review (decide, evaluate_admission, verify_for, record) when their level is on.
        LogFormat::Json => layers.push(
            fmt.json()
                .with_current_span(true)
                .with_span_list(true)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_filter(filter)
                .boxed(),
        ),
        LogFormat::Text => layers.push(fmt.with_filter(filter).boxed()),
    }
    let provider = match &otlp.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let provider = provider(endpoint, otlp, rt)?;
            let filter = EnvFilter::try_new(&otlp.otlp_filter).map_err(|e| {
                anyhow::anyhow!(
                    "--otlp-filter / ADMIT_OTLP_FILTER `{}`: {e}",
                    otlp.otlp_filter
                )
            })?;
            layers.push(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("admit"))
                    .with_filter(filter)
                    .boxed(),
            );
            Some(provider)
        }
    };
    tracing_subscriber::registry().with(layers).try_init()?;
    if let Some(endpoint) = &otlp.otlp_endpoint {
        tracing::info!(%endpoint, "exporting spans over OTLP/gRPC");
    }
    Ok(Telemetry { provider })
}

fn provider(
    endpoint: &str,
    otlp: &OtlpArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<SdkTracerProvider> {
    if !(0.0..=1.0).contains(&otlp.otlp_sample_ratio) {
        bail!(
            "--otlp-sample-ratio {}: must be between 0.0 and 1.0",
            otlp.otlp_sample_ratio
        );
    }
    let https = match endpoint.split_once("://") {
        Some(("http", _)) => false,
        Some(("https", _)) => true,
        _ => bail!("--otlp-endpoint `{endpoint}`: must start with http:// or https://"),
    };
    if otlp.otlp_ca_file.is_some() && !https {
        bail!("--otlp-ca-file needs an https:// --otlp-endpoint");
    }
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint);
    if https {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some(file) = &otlp.otlp_ca_file {
            let pem = std::fs::read(file)
                .with_context(|| format!("--otlp-ca-file {}", file.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        exporter = exporter.with_tls_config(tls);
    }
    let _entered = rt.enter();
    let exporter = exporter
        .build()
        .with_context(|| format!("--otlp-endpoint `{endpoint}`"))?;
    let mut resource = opentelemetry_sdk::Resource::builder().with_attribute(
        opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
    );
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("admit");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            otlp.otlp_sample_ratio,
        ))))
        .with_resource(resource.build())
        .build())
}

/// Reads W3C trace-context headers.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// Middleware giving each request a server span that continues the caller's `traceparent`
/// (kube-apiserver sends one to webhooks when its tracing is on), so the request's own spans
/// (the API's `request`, the webhook's `admission_review` and its stages) are its children.
pub(crate) async fn server_span(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let parent = TraceContextPropagator::new().extract(&Headers(req.headers()));
    let span = tracing::info_span!(
        "http",
        otel.name = %format!("{} {}", req.method(), req.uri().path()),
        otel.kind = "server",
        http.request.method = %req.method(),
        url.path = %req.uri().path(),
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    // Only fails when no OpenTelemetry layer sees the span (filtered out): then nothing is
    // exported, so there is no parent to keep.
    let _ = span.set_parent(parent);
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    resp
}
