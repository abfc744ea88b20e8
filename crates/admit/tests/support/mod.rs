//! A real `admit serve` on a free loopback port with a private data directory, and the real
//! gcloud pointed at it through a private configuration (contract §5).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) data: tempfile::TempDir,
    gcloud_config: tempfile::TempDir,
    pub(crate) project: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start() -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("ADMIT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start admit serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read address line");
        let url = line
            .trim()
            .strip_prefix("admit listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server {
            child,
            url,
            data,
            gcloud_config: tempfile::tempdir().expect("tempdir"),
            project: "my-proj".into(),
        }
    }

    /// Runs gcloud against this server; returns the output (not asserting success).
    pub(crate) fn gcloud_raw(&self, args: &[&str]) -> Output {
        let endpoint = format!("{}/", self.url);
        Command::new("gcloud")
            .args(args)
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
            .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
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

    /// gcloud with `--format=json`, parsed.
    pub(crate) fn gcloud_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--format=json");
        let text = self.gcloud(&a);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("gcloud {args:?} printed non-JSON ({e}): {text}"))
    }

    /// The real curl, as the seeds use it.
    pub(crate) fn curl(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        let mut c = Command::new("curl");
        c.args(["-sS", "-X", method, "-H", "Content-Type: application/json"]);
        if let Some(b) = body {
            c.args(["--data-binary", b]);
        }
        let out = c
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("cannot run curl: apt-get install -y curl");
        assert!(
            out.status.success(),
            "curl {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("curl {path}: {e}: {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    /// curl returning the HTTP status and the JSON body, whatever the status.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
        ]);
        if let Some(b) = body {
            c.args(["--data-binary", b]);
        }
        let out = c
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("cannot run curl: apt-get install -y curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (json, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        let v =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{method} {path}: {e}: {json}"));
        (code.trim().parse().unwrap_or(0), v)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.data.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
