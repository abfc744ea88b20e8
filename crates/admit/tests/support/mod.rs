//! A real `admit serve` on a free loopback port with a private data directory (optionally
//! with its TLS admission webhook), and the real gcloud pointed at it through a private
//! configuration (contract §5).

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub(crate) mod kapi;
pub(crate) mod registry;
pub(crate) mod sigstore;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    /// `https://127.0.0.1:PORT` of the webhook, when started with one.
    pub(crate) webhook: Option<String>,
    pub(crate) data: tempfile::TempDir,
    gcloud_config: tempfile::TempDir,
    pub(crate) project: String,
    /// Every line the server printed on stdout after its address lines (audit records).
    pub(crate) stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Every line the server logged on stderr.
    pub(crate) stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    _certs: Option<tempfile::TempDir>,
}

type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `admit serve` on `data` with `extra` flags: the process, its API URL, its webhook
/// URL (when asked for) and the lines it prints after those.
fn spawn(
    data: &Path,
    extra: &[String],
    env: &[(String, String)],
) -> (Child, String, Option<String>, Lines, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .env("ADMIT_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        // Replicas on one database must share the KMS master key.
        .env(
            "ADMIT_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start admit serve");
    // stderr (the log) is kept too, for tests that read it, and drained so it never blocks.
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink_errors = errors.clone();
    let mut err_reader = BufReader::new(child.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        let mut line = String::new();
        while err_reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink_errors.lock().unwrap().push(line.trim_end().to_owned());
            line.clear();
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read address line");
    let url = line
        .trim()
        .strip_prefix("admit listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let webhook = if extra.iter().any(|a| a == "--webhook-listen") {
        let mut l = String::new();
        reader.read_line(&mut l).expect("read webhook line");
        Some(
            l.trim()
                .strip_prefix("admit webhook listening on ")
                .unwrap_or_else(|| panic!("unexpected line: {l:?}"))
                .to_owned(),
        )
    } else {
        None
    };
    // Keep draining stdout (audit JSON lines) so the server never blocks on a full pipe.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink_lines = lines.clone();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink_lines.lock().unwrap().push(sink.trim_end().to_owned());
            sink.clear();
        }
    });
    (child, url, webhook, lines, errors)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Runs `sql` on the server's SQLite database with the real sqlite3 shell; its output.
    /// The shell waits for the server's writer (an audit copy, the change feed's trim) to
    /// commit, as an operator's would with `.timeout`, instead of failing at once.
    pub(crate) fn sqlite3(&self, sql: &str) -> String {
        let out = Command::new("sqlite3")
            .args(["-cmd", ".timeout 10000"])
            .arg(self.data.path().join("admit.db"))
            .arg(sql)
            .output()
            .expect("sqlite3 is on PATH (apt-get install -y sqlite3)");
        assert!(out.status.success(), "sqlite3: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Sends `signal` (`TERM`, `KILL`, …) to the server process.
    pub(crate) fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit; its status, or `None` if it still runs.
    pub(crate) fn wait_exit(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub(crate) fn start() -> Server {
        Self::start_with(&[], None)
    }

    /// Starts with the webhook on a free port, TLS from `admit webhook-cert`.
    pub(crate) fn start_webhook(extra: &[&str]) -> Server {
        Self::start_webhook_env(extra, &[])
    }

    /// [`Server::start_webhook`] with extra environment variables for the process.
    pub(crate) fn start_webhook_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let certs = tempfile::tempdir().expect("tempdir");
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
            .arg(certs.path())
            .output()
            .expect("webhook-cert");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cert = certs.path().join("tls.crt");
        let key = certs.path().join("tls.key");
        let mut args = vec![
            "--webhook-listen".to_owned(),
            "127.0.0.1:0".into(),
            "--tls-cert".into(),
            path_str(&cert).into(),
            "--tls-key".into(),
            path_str(&key).into(),
            "--project".into(),
            "my-proj".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::start_with_env(&refs, Some(certs), env)
    }

    /// Starts against PostgreSQL at `url` (replicas share `url` and the master key).
    pub(crate) fn start_postgres(url: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--database-url", url];
        args.extend_from_slice(extra);
        if extra.contains(&"--webhook-listen") {
            panic!("use start_postgres_webhook");
        }
        Self::start_with(&args, None)
    }

    /// PostgreSQL-backed, with the webhook.
    pub(crate) fn start_postgres_webhook(url: &str) -> Server {
        Self::start_webhook(&["--database-url", url])
    }

    /// Starts with extra `admit serve` flags (no webhook).
    pub(crate) fn start_args(extra: &[&str]) -> Server {
        Self::start_with(extra, None)
    }

    fn start_with(extra: &[&str], certs: Option<tempfile::TempDir>) -> Server {
        Self::start_with_env(extra, certs, &[])
    }

    fn start_with_env(
        extra: &[&str],
        certs: Option<tempfile::TempDir>,
        env: &[(&str, &str)],
    ) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        if let Some(c) = &certs {
            std::fs::copy(c.path().join("ca.crt"), data.path().join("ca.crt")).expect("copy ca");
        }
        let args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (child, url, webhook, stdout, stderr) = spawn(data.path(), &args, &env);
        Server {
            child,
            url,
            webhook,
            data,
            gcloud_config: tempfile::tempdir().expect("tempdir"),
            project: "my-proj".into(),
            stdout,
            stderr,
            args,
            env,
            _certs: certs,
        }
    }

    /// Kills the process with SIGKILL (no chance to clean up) and starts it again on the same
    /// data directory with the same flags; the URLs change (new ports).
    pub(crate) fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, url, webhook, stdout, stderr) = spawn(self.data.path(), &self.args, &self.env);
        self.child = child;
        self.url = url;
        self.webhook = webhook;
        self.stdout = stdout;
        self.stderr = stderr;
    }

    /// Runs gcloud against this server; returns the output (not asserting success).
    pub(crate) fn gcloud_raw(&self, args: &[&str]) -> Output {
        self.gcloud_raw_as(None, args)
    }

    /// gcloud sending `Authorization: Bearer <contents of token_file>` (contract §5), or no
    /// credentials at all when `token_file` is `None`.
    pub(crate) fn gcloud_raw_as(&self, token_file: Option<&Path>, args: &[&str]) -> Output {
        let endpoint = format!("{}/", self.url);
        let mut c = Command::new("gcloud");
        match token_file {
            Some(f) => c.env("CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", f),
            None => c.env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true"),
        };
        c.args(args)
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER",
                &endpoint,
            )
            .env("CLOUDSDK_CONFIG", self.gcloud_config.path())
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_BINARYAUTHORIZATION",
                &endpoint,
            )
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINERANALYSIS",
                &endpoint,
            )
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS", &endpoint)
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING", &endpoint)
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE", &endpoint)
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", &endpoint)
            .env("CLOUDSDK_CORE_PROJECT", &self.project)
            .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
            .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gcloud: install the Google Cloud CLI 528 and put it on PATH")
    }

    /// Runs gcloud and asserts it succeeded; returns stdout.
    pub(crate) fn gcloud(&self, args: &[&str]) -> String {
        let out = self.gcloud_raw(args);
        assert!(
            out.status.success(),
            "gcloud {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// gcloud as the holder of `token_file`, asserting success; returns stdout.
    pub(crate) fn gcloud_as(&self, token_file: &Path, args: &[&str]) -> String {
        let out = self.gcloud_raw_as(Some(token_file), args);
        assert!(
            out.status.success(),
            "gcloud {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// gcloud with `--format=json`, parsed.
    pub(crate) fn gcloud_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--format=json");
        let text = self.gcloud(&a);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("gcloud {args:?} printed non-JSON ({e}): {text}"))
    }

    /// The real curl, as the seeds use it.
    /// GET `path` as text (e.g. `/metrics`), as a scraper reads it.
    pub(crate) fn curl_text(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-sS", "--fail", &format!("{}{path}", self.url)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {path}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn curl(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        let (code, v) = self.call(method, path, body);
        assert!(
            (200..300).contains(&code),
            "curl {method} {path}: HTTP {code}: {v}"
        );
        v
    }

    /// curl returning the HTTP status and the JSON body, whatever the status.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        self.call_as(None, method, path, body)
    }

    /// [`Server::call`] with `Authorization: Bearer TOKEN`.
    pub(crate) fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut c = Command::new("curl");
        if let Some(t) = token {
            c.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        c.args([
            "-sS",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
        ]);
        // The body goes through stdin: large bodies do not fit on a command line.
        if body.is_some() {
            c.args(["--data-binary", "@-"]);
        }
        let mut child = c
            .arg(format!("{}{path}", self.url))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run curl: apt-get install -y curl");
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(b) = body {
            use std::io::Write as _;
            stdin
                .write_all(b.as_bytes())
                .expect("write the body to curl");
        }
        drop(stdin);
        let out = child.wait_with_output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (json, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        let v =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{method} {path}: {e}: {json}"));
        (code.trim().parse().unwrap_or(0), v)
    }

    /// POSTs an AdmissionReview to the webhook over TLS, verifying the server certificate
    /// against the CA `admit webhook-cert` made, and returns the parsed response.
    pub(crate) fn review(&self, review: &serde_json::Value) -> serde_json::Value {
        let (code, body) = self.webhook_call("/validate?timeout=10s", &review.to_string());
        assert_eq!(code, 200, "webhook: {body}");
        serde_json::from_str(&body).expect("AdmissionReview JSON")
    }

    /// POSTs `body` to the webhook listener at `path` (TLS, the server's CA): the HTTP status
    /// and the body.
    pub(crate) fn webhook_call(&self, path: &str, body: &str) -> (u16, String) {
        use std::io::Write as _;
        let url = self.webhook.as_ref().expect("started with a webhook");
        let mut child = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.data.path().join("ca.crt"))
            .args([
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
            ])
            .arg(format!("{url}{path}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("status line");
        (code.trim().parse().expect("status"), body.to_owned())
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.data.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }
}

/// `sha256:<hex>` of `seed`: a stable, valid image digest for tests.
pub(crate) fn digest(seed: &str) -> String {
    use std::fmt::Write as _;
    admit_crypto::sha256(seed.as_bytes())
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh PostgreSQL database, dropped (connections and all) when this guard goes.
pub(crate) struct PgDatabase {
    pub(crate) name: String,
    pub(crate) url: String,
}

pub(crate) fn psql(sql: &str) -> Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql (PostgreSQL client) is on PATH")
}

impl PgDatabase {
    pub(crate) fn create() -> PgDatabase {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "admit_it_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = psql(&format!("CREATE DATABASE {name}"));
        assert!(
            out.status.success(),
            "PostgreSQL on 127.0.0.1:5432 is needed: {}",
            stderr(&out)
        );
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        PgDatabase { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs a conformance test `fn NAME(s: &Server)` against both storage backends, as
/// `NAME::on_sqlite` and `NAME::on_postgres` (a fresh database each).
#[allow(unused_macros, reason = "not every test binary runs conformance tests")]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[test]
            fn on_sqlite() {
                super::$name(&super::support::Server::start());
            }

            #[test]
            fn on_postgres() {
                let db = super::support::PgDatabase::create();
                super::$name(&super::support::Server::start_postgres(&db.url, &[]));
            }
        }
    };
}
#[allow(
    unused_imports,
    reason = "not every test binary runs conformance tests"
)]
pub(crate) use both_backends;

/// A Python virtualenv under `target/NAME` with `pins` installed (made on first use; a marker
/// file records the pins, so a change of pins remakes it). Tests in one binary run in parallel
/// threads: one makes it, the others wait.
pub(crate) fn python_venv(name: &str, pins: &[&str]) -> PathBuf {
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name);
    let python = dir.join("bin/python");
    let marker = dir.join("pins.txt");
    let want = pins.join("\n");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str()) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("python3");
    assert!(made.success(), "python3 -m venv");
    let out = Command::new(dir.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .args(pins)
        .output()
        .expect("pip");
    assert!(out.status.success(), "pip install: {}", stderr(&out));
    std::fs::write(&marker, want).expect("marker");
    python
}

/// `to` as a path relative to `from` (kustomize takes relative roots only).
pub(crate) fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let from = from.canonicalize().expect("from exists");
    let to = to.canonicalize().expect("to exists");
    let mut up = PathBuf::new();
    for _ in from.components().skip(1) {
        up.push("..");
    }
    up.join(to.strip_prefix("/").expect("absolute"))
}

/// `POST …/platforms/gke/policies/{policy}:evaluate` of a Pod running `image` in project
/// my-proj: the first check's verdict and explanation.
pub(crate) fn platform_check(s: &Server, policy: &str, image: &str) -> (String, String) {
    let r = s.curl(
        "POST",
        &format!("/v1/projects/my-proj/platforms/gke/policies/{policy}:evaluate"),
        Some(
            &serde_json::json!({"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "c", "image": image}]}}})
            .to_string(),
        ),
    );
    let c = &r["results"][0]["imageResults"][0]["checkSetResult"]["checkResults"]["results"][0];
    (
        c["evaluationResult"]["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned(),
        c["explanation"].as_str().unwrap_or("").to_owned(),
    )
}
