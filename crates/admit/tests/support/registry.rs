//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) with TLS and
//! htpasswd authentication, on a port picked at run time; images built as OCI layouts and
//! pushed with Debian's `skopeo`, which also reports the digest the registry serves.

#![allow(dead_code, reason = "each test binary uses part of the support module")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const USER: &str = "ci-bot";
pub(crate) const PASSWORD: &str = "s3cret-pass";

pub(crate) struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) host: String,
    dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sha256_file(p: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(p));
    String::from_utf8(out).unwrap()[..64].to_owned()
}

impl Registry {
    /// Starts the registry: TLS from `admit webhook-cert` (its CA is `ca_file()`), htpasswd
    /// with [`USER`] / [`PASSWORD`].
    pub(crate) fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        run(Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
            .arg(d));
        let htpasswd = run(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
        std::fs::write(d.join("htpasswd"), htpasswd).unwrap();
        // A free port: bound and released (docker-registry cannot report a port it picked).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  tls:\n    certificate: {cert}\n    key: {key}\nauth:\n  htpasswd:\n    realm: admit-tests\n    path: {pw}\n",
            root = d.join("storage").display(),
            cert = d.join("tls.crt").display(),
            key = d.join("tls.key").display(),
            pw = d.join("htpasswd").display(),
        );
        std::fs::write(d.join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is on PATH (apt-get install -y docker-registry)");
        let start = Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on {host}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // skopeo reads the CA from a directory of `*.crt`.
        let certs = d.join("certs.d");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(d.join("ca.crt"), certs.join("ca.crt")).unwrap();
        Registry { child, host, dir }
    }

    /// `admit serve` (with the webhook when `webhook`) trusting this registry's CA and taking
    /// credentials from the docker config directory `docker`, plus `extra` flags.
    pub(crate) fn serve(&self, docker: &Path, webhook: bool, extra: &[&str]) -> super::Server {
        let ca = self.ca_file();
        let mut flags = vec![
            "--registry-ca-file",
            super::path_str(&ca),
            "--docker-config",
            super::path_str(docker),
        ];
        flags.extend_from_slice(extra);
        if webhook {
            super::Server::start_webhook(&flags)
        } else {
            super::Server::start_args(&flags)
        }
    }

    /// The CA the registry's certificate chains to.
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A docker config directory whose `config.json` holds `user:password` for this registry.
    pub(crate) fn docker_config(&self, user: &str, password: &str) -> tempfile::TempDir {
        use base64::Engine as _;
        let d = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let config = serde_json::json!({"auths": {self.host.clone(): {"auth": auth}}});
        std::fs::write(d.path().join("config.json"), config.to_string()).unwrap();
        d
    }

    /// Builds a one-layer image whose only file says `content`, pushes it as `repo:tag` with
    /// skopeo, and returns the digest the registry serves for it (from `skopeo inspect`).
    pub(crate) fn push(&self, repo: &str, tag: &str, content: &str) -> String {
        self.push_created(repo, tag, content, "2026-11-30T12:00:00Z")
    }

    /// [`Registry::push`] of an image whose config says it was `created` then.
    pub(crate) fn push_created(
        &self,
        repo: &str,
        tag: &str,
        content: &str,
        created: &str,
    ) -> String {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        std::fs::create_dir_all(w.join("root")).unwrap();
        std::fs::write(w.join("root/content.txt"), content).unwrap();
        run(Command::new("tar")
            .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
            .arg(w.join("layer.tar"))
            .arg("-C")
            .arg(w.join("root"))
            .arg("content.txt"));
        let diff_id = sha256_file(&w.join("layer.tar"));
        run(Command::new("gzip")
            .args(["-n", "-k"])
            .arg(w.join("layer.tar")));
        let layer = std::fs::read(w.join("layer.tar.gz")).unwrap();
        let config = serde_json::json!({
            "created": created, "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": ["/content.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}
        });
        self.push_manifest(
            repo,
            tag,
            &config,
            &[Layer {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
                data: layer,
                annotations: serde_json::Map::new(),
            }],
        )
    }

    /// Stores cosign signatures for `repo@digest` exactly as cosign lays them out (sigstore's
    /// `specs/SIGNATURE_SPEC.md`): an OCI image manifest tagged `sha256-HEX.sig` whose layers
    /// are the payloads (`application/vnd.dev.cosign.simplesigning.v1+json`) with the
    /// signature (and certificate, bundle …) as layer annotations. Returns the manifest digest.
    pub(crate) fn push_cosign(
        &self,
        repo: &str,
        digest: &str,
        signatures: &[(Vec<u8>, serde_json::Map<String, serde_json::Value>)],
    ) -> String {
        self.push_tag_layout(
            repo,
            &format!("{}.sig", digest.replace(':', "-")),
            "application/vnd.dev.cosign.simplesigning.v1+json",
            signatures,
        )
    }

    /// Stores attestations for `repo@digest` as `cosign attest` does in the tag layout: the
    /// `sha256-HEX.att` manifest, one DSSE envelope layer
    /// (`application/vnd.dsse.envelope.v1+json`) per attestation, with its `predicateType`,
    /// certificate and Rekor bundle as layer annotations.
    pub(crate) fn push_cosign_attestations(
        &self,
        repo: &str,
        digest: &str,
        attestations: &[(Vec<u8>, serde_json::Map<String, serde_json::Value>)],
    ) -> String {
        self.push_tag_layout(
            repo,
            &format!("{}.att", digest.replace(':', "-")),
            "application/vnd.dsse.envelope.v1+json",
            attestations,
        )
    }

    fn push_tag_layout(
        &self,
        repo: &str,
        tag: &str,
        media_type: &'static str,
        items: &[(Vec<u8>, serde_json::Map<String, serde_json::Value>)],
    ) -> String {
        let layers: Vec<Layer> = items
            .iter()
            .map(|(payload, annotations)| Layer {
                media_type,
                data: payload.clone(),
                annotations: annotations.clone(),
            })
            .collect();
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_bytes(&l.data)))
            .collect();
        // The config cosign writes: empty but for the layers' diff ids.
        let config = serde_json::json!({
            "architecture": "", "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}
        });
        self.push_manifest(repo, tag, &config, &layers)
    }

    /// Stores cosign signatures for `repo@digest` as OCI 1.1 referrers, as cosign's
    /// `--registry-referrers-mode=oci-1-1` does on a registry without the referrers API: a
    /// manifest with `artifactType` `application/vnd.dev.cosign.artifact.sig.v1+json`, an empty
    /// config, the payload layers and a `subject` naming the image, listed in the referrers
    /// tag-schema index `sha256-HEX` (distribution spec v1.1, "Referrers Tag Schema").
    pub(crate) fn push_cosign_referrer(
        &self,
        repo: &str,
        digest: &str,
        signatures: &[(Vec<u8>, serde_json::Map<String, serde_json::Value>)],
    ) {
        let layers: Vec<Layer> = signatures
            .iter()
            .map(|(payload, annotations)| Layer {
                media_type: "application/vnd.dev.cosign.simplesigning.v1+json",
                data: payload.clone(),
                annotations: annotations.clone(),
            })
            .collect();
        self.push_referrer(
            repo,
            digest,
            "application/vnd.dev.cosign.artifact.sig.v1+json",
            &layers,
            &serde_json::Map::new(),
        );
    }

    /// Stores a Sigstore bundle for `repo@digest` as cosign's `--new-bundle-format` does
    /// (`pkg/oci/remote/write.go`, `WriteAttestationNewBundleFormat`): a referrer of artifact
    /// type `application/vnd.dev.sigstore.bundle.v0.3+json` whose one layer is the bundle,
    /// annotated with its predicate type.
    pub(crate) fn push_bundle(&self, repo: &str, digest: &str, bundle: &[u8], predicate: &str) {
        const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
        let mut annotations = serde_json::Map::new();
        annotations.insert("dev.sigstore.bundle.content".into(), "dsse-envelope".into());
        annotations.insert("dev.sigstore.bundle.predicateType".into(), predicate.into());
        self.push_referrer(
            repo,
            digest,
            BUNDLE,
            &[Layer {
                media_type: BUNDLE,
                data: bundle.to_vec(),
                annotations: serde_json::Map::new(),
            }],
            &annotations,
        );
    }

    /// Pushes a referrer manifest of `artifact_type` for `repo@digest` and adds it to the
    /// referrers tag-schema index.
    fn push_referrer(
        &self,
        repo: &str,
        digest: &str,
        artifact_type: &str,
        layers: &[Layer],
        annotations: &serde_json::Map<String, serde_json::Value>,
    ) {
        let certs = self.dir.path().join("certs.d");
        let creds = format!("{USER}:{PASSWORD}");
        let subject = run(Command::new("skopeo")
            .args(["inspect", "--raw", "--cert-dir"])
            .arg(&certs)
            .args(["--creds", &creds])
            .arg(format!("docker://{}/{repo}@{digest}", self.host)));
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let blobs = w.join("layout/blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = sha256_bytes(data);
            std::fs::write(blobs.join(&d), data).unwrap();
            format!("sha256:{d}")
        };
        let empty = put(b"{}");
        let layers: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                serde_json::json!({"mediaType": l.media_type,
                    "digest": put(&l.data), "size": l.data.len(), "annotations": l.annotations})
            })
            .collect();
        let mut manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": layers,
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": subject.len()}
        });
        let mut entry = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type});
        if !annotations.is_empty() {
            manifest["annotations"] = serde_json::Value::Object(annotations.clone());
            entry["annotations"] = serde_json::Value::Object(annotations.clone());
        }
        let manifest = manifest.to_string();
        let manifest_digest = put(manifest.as_bytes());
        entry["digest"] = manifest_digest.clone().into();
        entry["size"] = manifest.len().into();
        // The tag-schema index as it stands (none yet: an empty one), plus this referrer.
        let index_url = format!(
            "https://{}/v2/{repo}/manifests/{}",
            self.host,
            digest.replace(':', "-")
        );
        let existing = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(self.ca_file())
            .args([
                "-u",
                &creds,
                "-H",
                "Accept: application/vnd.oci.image.index.v1+json",
            ])
            .arg(&index_url)
            .output()
            .unwrap();
        let mut referrers: serde_json::Value = serde_json::from_slice(&existing.stdout)
            .ok()
            .filter(|_| existing.status.success())
            .unwrap_or_else(|| {
                serde_json::json!({"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
            });
        referrers["manifests"].as_array_mut().unwrap().push(entry);
        let referrers = referrers.to_string();
        // skopeo 1.9 will not copy an index it thinks it must convert while preserving digests,
        // so: the referrer manifest through skopeo (under a tag of its own), then the referrers
        // index straight to the registry's API, as cosign writes it.
        let tag = format!("referrer-{}", &manifest_digest[7..19]);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": tag}}]
        });
        std::fs::write(w.join("layout/index.json"), index.to_string()).unwrap();
        std::fs::write(
            w.join("layout/oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        self.copy_layout(&w.join("layout"), repo, &tag);
        let body = w.join("referrers.json");
        std::fs::write(&body, &referrers).unwrap();
        run(Command::new("curl")
            .args(["-sS", "--fail-with-body", "--cacert"])
            .arg(self.ca_file())
            .args(["-u", &creds, "-X", "PUT"])
            .args([
                "-H",
                "Content-Type: application/vnd.oci.image.index.v1+json",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .arg(&index_url));
    }

    /// `skopeo copy` of the layout's `tag` to `repo:tag`, byte for byte.
    fn copy_layout(&self, layout: &Path, repo: &str, tag: &str) {
        run(Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--quiet",
                "--preserve-digests",
                "--dest-cert-dir",
            ])
            .arg(self.dir.path().join("certs.d"))
            .args(["--dest-creds", &format!("{USER}:{PASSWORD}")])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host)));
    }

    /// Writes an OCI layout holding one manifest (config + layers) and pushes it byte for byte
    /// (`--preserve-digests`) as `repo:tag`; returns the digest the registry serves.
    fn push_manifest(
        &self,
        repo: &str,
        tag: &str,
        config: &serde_json::Value,
        layers: &[Layer],
    ) -> String {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let blobs = w.join("layout/blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = sha256_bytes(data);
            std::fs::write(blobs.join(&d), data).unwrap();
            format!("sha256:{d}")
        };
        let config = config.to_string();
        let config_digest = put(config.as_bytes());
        let layer_descriptors: Vec<serde_json::Value> = layers
            .iter()
            .map(|l| {
                let mut d = serde_json::json!({"mediaType": l.media_type, "digest": put(&l.data), "size": l.data.len()});
                if !l.annotations.is_empty() {
                    d["annotations"] = serde_json::Value::Object(l.annotations.clone());
                }
                d
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layer_descriptors
        })
        .to_string();
        let manifest_digest = put(manifest.as_bytes());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": tag}}]
        });
        std::fs::write(w.join("layout/index.json"), index.to_string()).unwrap();
        std::fs::write(
            w.join("layout/oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let certs = self.dir.path().join("certs.d");
        let creds = format!("{USER}:{PASSWORD}");
        self.copy_layout(&w.join("layout"), repo, tag);
        let digest = run(Command::new("skopeo")
            .args(["inspect", "--raw", "--cert-dir"])
            .arg(&certs)
            .args(["--creds", &creds])
            .arg(format!("docker://{}/{repo}:{tag}", self.host)));
        // The manifest as served, hashed: the digest clients see.
        format!("sha256:{}", sha256_bytes(&digest))
    }
}

/// One layer of a pushed manifest.
pub(crate) struct Layer {
    pub(crate) media_type: &'static str,
    pub(crate) data: Vec<u8>,
    pub(crate) annotations: serde_json::Map<String, serde_json::Value>,
}

fn sha256_bytes(data: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
