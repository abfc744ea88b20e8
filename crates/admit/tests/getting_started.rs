//! Issue 14, part 4: the install works and the guide cannot rot. `docs/getting-started.md` is
//! run block by block against a real kube-apiserver (tools/kapi): every ```` ```sh ```` block
//! through bash, in order, sharing its environment, and every ```` ```text ```` block after it
//! checked against what the commands printed (a block whose text says "denied the request" must
//! fail). The one block marked `needs-a-node` cannot run on an API server without nodes; the
//! test does what that pod would: it reads the StatefulSet `deploy/install.sh sqlite` created,
//! runs its container's arguments and environment (ConfigMap, master-key Secret) as a local
//! `admit serve`, and points the installed webhook configuration's clientConfig at it (a URL
//! instead of the Service, which only kube-proxy could route). So `kubectl run` and `kubectl
//! create deployment` are decided by admit through the webhook the overlay registered.
//!
//! Both overlays also pass `kubectl apply --dry-run=server`. Left out against Kubernetes 1.20:
//! the postgres overlay's `policy/v1` PodDisruptionBudget (served from 1.21), and RBAC (kapi
//! authorizes everything, so `deploy/base/rbac.yaml` is checked by schema only).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{path_str, relative_to};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fenced block: its info string, its text, and the ```text block that follows it.
struct Block {
    info: String,
    code: String,
    expect: Option<String>,
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut lines = md.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for l in lines.by_ref() {
            if l == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if info.trim() == "text" {
            let last = out.last_mut().expect("a text block follows a sh block");
            assert!(last.expect.is_none(), "two text blocks after one sh block");
            last.expect = Some(body);
        } else {
            assert!(info.starts_with("sh"), "unexpected block ```{info}");
            out.push(Block {
                info: info.to_owned(),
                code: body,
                expect: None,
            });
        }
    }
    out
}

/// Runs `code` with bash in `dir`, starting from and saving to the environment file `env`.
fn bash(dir: &Path, env: &Path, code: &str) -> Output {
    let script = dir.join("block.sh");
    std::fs::write(&script, code).unwrap();
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            // allexport: a variable the guide sets stays set for its later blocks, as in the
            // reader's one shell session.
            "set -a; source {env}; trap 'export -p > {env}' EXIT; set -eo pipefail; source {script}",
            env = path_str(env),
            script = path_str(&script)
        ))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The installed StatefulSet's container, run here: its arguments with the paths and listen
/// addresses of this machine, its environment from the ConfigMap and the master-key Secret.
fn run_the_pod(k: &Kapi, work: &Path) -> (Child, String) {
    let kubectl_json = |args: &[&str]| -> Value {
        let out = k.kubectl(args);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let sts = kubectl_json(&[
        "-n",
        "admit-system",
        "get",
        "statefulset",
        "admit",
        "-o",
        "json",
    ]);
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    let config = kubectl_json(&[
        "-n",
        "admit-system",
        "get",
        "configmap",
        "admit-config",
        "-o",
        "json",
    ]);
    let key = kubectl_json(&[
        "-n",
        "admit-system",
        "get",
        "secret",
        "admit-master-key",
        "-o",
        "json",
    ]);
    let certs = work.join("certs");
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "webhook-cert",
            "--san",
            "127.0.0.1",
            "--out-dir",
            path_str(&certs),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut args = Vec::new();
    for a in c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
    {
        let (flag, _) = a.split_once('=').unwrap_or((a, ""));
        args.push(match flag {
            "--listen" | "--webhook-listen" | "--health-listen" => format!("{flag}=127.0.0.1:0"),
            "--data-dir" => format!("--data-dir={}", path_str(&work.join("data"))),
            "--tls-cert" => format!("--tls-cert={}", path_str(&certs.join("tls.crt"))),
            "--tls-key" => format!("--tls-key={}", path_str(&certs.join("tls.key"))),
            _ => a.to_owned(),
        });
    }
    args.extend([
        "--kubeconfig".to_owned(),
        path_str(&k.kubeconfig).to_owned(),
    ]);
    std::fs::create_dir_all(work.join("data")).unwrap();
    let master = base64::engine::general_purpose::STANDARD
        .decode(key["data"]["master.key"].as_str().unwrap())
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_admit"));
    cmd.args(&args)
        .env(
            "ADMIT_MASTER_KEY",
            String::from_utf8(master).unwrap().trim(),
        )
        .env("ADMIT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in config["data"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let api = line
        .trim()
        .strip_prefix("admit listening on ")
        .unwrap()
        .to_owned();
    line.clear();
    reader.read_line(&mut line).unwrap();
    let webhook = line
        .trim()
        .strip_prefix("admit webhook listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    // The webhook the overlay registered, pointed at this process.
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let patch = json!([{"op": "replace", "path": "/webhooks/0/clientConfig", "value": {
        "url": format!("{webhook}/validate"),
        "caBundle": base64::engine::general_purpose::STANDARD.encode(ca)}}]);
    let out = k.kubectl(&[
        "patch",
        "validatingwebhookconfiguration",
        "admit",
        "--type=json",
        "-p",
        &patch.to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    (child, api)
}

#[test]
fn the_getting_started_guide_runs_as_written() {
    let k = Kapi::start("");
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("deploy"), work.path().join("deploy")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_admit")).parent().unwrap();
    let env = work.path().join("env.sh");
    std::fs::write(
        &env,
        format!(
            "export KUBECONFIG={}\nexport PATH={}:$PATH\n",
            path_str(&k.kubeconfig),
            path_str(bin)
        ),
    )
    .unwrap();
    let guide = std::fs::read_to_string(repo().join("docs/getting-started.md")).unwrap();
    let mut pod: Option<Child> = None;
    let all = blocks(&guide);
    assert!(all.len() >= 8, "the guide's blocks: {}", all.len());
    for (i, b) in all.iter().enumerate() {
        if b.info.contains("needs-a-node") {
            let (child, api) = run_the_pod(&k, work.path());
            pod = Some(child);
            let mut e = std::fs::read_to_string(&env).unwrap();
            e.push_str(&format!("export ADMIT_SERVER={api}\n"));
            std::fs::write(&env, e).unwrap();
            // A new webhook configuration takes effect after a moment (tools/kapi/README).
            let start = Instant::now();
            loop {
                let out = k.kubectl(&[
                    "run",
                    "probe",
                    "--dry-run=server",
                    "--restart=Never",
                    "--image=registry.example.com/probe@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                ]);
                if out.status.success() {
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(30), "{}", text(&out));
                std::thread::sleep(Duration::from_millis(200));
            }
            continue;
        }
        let out = bash(work.path(), &env, &b.code);
        let printed = text(&out);
        let expect_denial = b
            .expect
            .as_deref()
            .is_some_and(|e| e.contains("denied the request"));
        assert_eq!(
            out.status.success(),
            !expect_denial,
            "block {i} ({}):\n{}\nprinted:\n{printed}",
            b.info,
            b.code
        );
        if let Some(expect) = &b.expect {
            for line in expect.lines().map(str::trim).filter(|l| !l.is_empty()) {
                assert!(
                    printed.contains(line),
                    "block {i}: `{line}` not in what it printed:\n{printed}"
                );
            }
        }
    }
    assert!(pod.is_some(), "the guide has its needs-a-node block");
    // The audit log holds what the guide showed: the pod as admitted too.
    let out = bash(
        work.path(),
        &env,
        "admit audit list --filter 'verdict=ALLOWED AND kind=Pod' --table",
    );
    assert!(text(&out).contains("app"), "{}", text(&out));
    if let Some(mut p) = pod {
        let _ = p.kill();
        let _ = p.wait();
    }
}

#[test]
fn both_overlays_pass_a_server_side_dry_run() {
    let k = Kapi::start("");
    // The CRDs and the namespace exist first, as install.sh applies them.
    let out = k.kubectl(&[
        "apply",
        "-f",
        path_str(&repo().join("deploy/crds/kritis.yaml")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = k.kubectl(&[
        "apply",
        "-f",
        path_str(&repo().join("deploy/base/namespace.yaml")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // The sqlite overlay with the tag-resolving component, from a kustomization beside it.
    let with_component = tempfile::tempdir().unwrap();
    std::fs::write(
        with_component.path().join("kustomization.yaml"),
        format!(
            "resources: [{}]\ncomponents: [{}]\n",
            relative_to(
                with_component.path(),
                &repo().join("deploy/overlays/sqlite")
            )
            .display(),
            relative_to(
                with_component.path(),
                &repo().join("deploy/components/resolve-tags")
            )
            .display()
        ),
    )
    .unwrap();
    for overlay in ["sqlite", "postgres", "sqlite+resolve-tags"] {
        let root = if overlay == "sqlite+resolve-tags" {
            with_component.path().to_path_buf()
        } else {
            repo().join(format!("deploy/overlays/{overlay}"))
        };
        let built = k.kubectl(&["kustomize", path_str(&root)]);
        assert!(built.status.success(), "{}", text(&built));
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&String::from_utf8(built.stdout).unwrap()).unwrap();
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        for want in [
            "ValidatingWebhookConfiguration",
            "ClusterRole",
            "ConfigMap",
            "Service",
        ] {
            assert!(kinds.contains(&want), "{overlay}: {want} in {kinds:?}");
        }
        let workload = if overlay.starts_with("sqlite") {
            "StatefulSet"
        } else {
            "Deployment"
        };
        assert!(kinds.contains(&workload), "{overlay}: {kinds:?}");
        // Served from Kubernetes 1.21 only: left out against this 1.20 API server.
        let kept: Vec<&Value> = docs
            .iter()
            .filter(|d| !(d["apiVersion"] == "policy/v1" && d["kind"] == "PodDisruptionBudget"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifests.json");
        std::fs::write(
            &file,
            json!({"apiVersion": "v1", "kind": "List", "items": kept}).to_string(),
        )
        .unwrap();
        let out = k.kubectl(&["apply", "--dry-run=server", "-f", path_str(&file)]);
        assert!(out.status.success(), "{overlay}: {}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "{} (server dry run)",
                if overlay.starts_with("sqlite") {
                    "statefulset.apps/admit created"
                } else {
                    "deployment.apps/admit created"
                }
            )),
            "{}",
            text(&out)
        );
        if overlay == "sqlite+resolve-tags" {
            assert!(
                text(&out).contains(
                    "mutatingwebhookconfiguration.admissionregistration.k8s.io/admit-resolve-tags created (server dry run)"
                ),
                "{}",
                text(&out)
            );
        }
    }
}
