//! Test support shared by every crate's integration tests: keys and signatures produced by the
//! real `openssl` and `gpg` programs (never by our own code, so a bug cannot hide on both
//! sides). A missing program fails the test with the package to install.
//!
//! Must not be a dependency of anything but tests and benches.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failed helper must abort the test loudly"
)]

mod jwt;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

fn run(program: &str, package: &str, args: &[&str], stdin: &[u8], home: Option<&Path>) -> Vec<u8> {
    let mut cmd = Command::new(program);
    if let Some(h) = home {
        cmd.arg("--homedir").arg(h);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}); install it: apt-get install -y {package}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `openssl` with `args`.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    run("openssl", "openssl", args, b"", None)
}

/// How `openssl` signs.
#[derive(Debug, Clone, Copy)]
pub enum SigMode {
    /// `openssl dgst -<hash> -sign` (ECDSA DER, RSA PKCS#1 v1.5).
    Dgst(&'static str),
    /// RSA-PSS with salt length = digest length, MGF1 with the same hash (as KMS does).
    Pss(&'static str),
    /// `openssl pkeyutl -sign -rawin` (Ed25519).
    Raw,
}

/// A private key made by `openssl genpkey`, with its PEM public key.
#[derive(Debug)]
pub struct OpensslKey {
    dir: tempfile::TempDir,
    pub kind: &'static str,
    pub public_pem: String,
    public_der: Vec<u8>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl OpensslKey {
    /// `kind` is one of p256, p384, p521, ed25519, rsa2048, rsa3072, rsa4096.
    pub fn generate(kind: &'static str) -> OpensslKey {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key.pem");
        let opts: &[&str] = match kind {
            "p256" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "p384" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "p521" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
            "ed25519" => &["-algorithm", "ed25519"],
            "rsa2048" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "rsa3072" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
            "rsa4096" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
            other => panic!("unknown key kind {other}"),
        };
        let mut args = vec!["genpkey", "-out", key.to_str().expect("utf8")];
        args.extend_from_slice(opts);
        openssl(&args);
        let public_pem = String::from_utf8(openssl(&[
            "pkey",
            "-in",
            key.to_str().expect("utf8"),
            "-pubout",
        ]))
        .expect("utf8 pem");
        let pub_path = dir.path().join("pub.pem");
        std::fs::write(&pub_path, &public_pem).expect("write");
        let public_der = openssl(&[
            "pkey",
            "-pubin",
            "-in",
            pub_path.to_str().expect("utf8"),
            "-outform",
            "DER",
        ]);
        OpensslKey {
            dir,
            kind,
            public_pem,
            public_der,
        }
    }

    pub fn private_key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// DER SubjectPublicKeyInfo, as openssl encodes it.
    pub fn public_der(&self) -> Vec<u8> {
        self.public_der.clone()
    }

    /// Signs `message` with openssl.
    pub fn sign(&self, mode: SigMode, message: &[u8]) -> Vec<u8> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let msg = self.dir.path().join(format!("msg-{n}"));
        std::fs::write(&msg, message).expect("write message");
        let key = self.private_key_path();
        let (k, m) = (key.to_str().expect("utf8"), msg.to_str().expect("utf8"));
        match mode {
            SigMode::Dgst(h) => openssl(&["dgst", &format!("-{h}"), "-sign", k, m]),
            SigMode::Pss(h) => openssl(&[
                "dgst",
                &format!("-{h}"),
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-sign",
                k,
                m,
            ]),
            SigMode::Raw => openssl(&["pkeyutl", "-sign", "-inkey", k, "-rawin", "-in", m]),
        }
    }
}

/// A throw-away GnuPG home with unprotected keys.
#[derive(Debug)]
pub struct Gpg {
    home: tempfile::TempDir,
}

impl Default for Gpg {
    fn default() -> Self {
        Self::new()
    }
}

impl Gpg {
    pub fn new() -> Gpg {
        Gpg {
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs `gpg --batch` in this home with `args`, feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut all = vec![
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ];
        all.extend_from_slice(args);
        run("gpg", "gnupg", &all, stdin, Some(self.home.path()))
    }

    /// `gpg --quick-gen-key UID ALGO USAGE never`.
    pub fn generate(&self, uid: &str, algo: &str, usage: &str) {
        self.run(&["--quick-gen-key", uid, algo, usage, "never"], b"");
    }

    /// A key made at a faked time (`20200101T000000`) that expires `expire` later (`1d`).
    pub fn generate_at(&self, time: &str, uid: &str, algo: &str, usage: &str, expire: &str) {
        self.run(
            &[
                "--faked-system-time",
                time,
                "--quick-gen-key",
                uid,
                algo,
                usage,
                expire,
            ],
            b"",
        );
    }

    /// [`Gpg::sign`] at a faked time.
    pub fn sign_at(&self, time: &str, uid: &str, how: &[&str], payload: &[u8]) -> Vec<u8> {
        let mut args = vec!["--faked-system-time", time, "--local-user", uid];
        args.extend_from_slice(how);
        self.run(&args, payload)
    }

    /// Revokes the key of `uid` by importing the revocation certificate gpg wrote when it made
    /// the key (`openpgp-revocs.d/FPR.rev`, whose armour line gpg guards with a leading `:`).
    pub fn revoke(&self, uid: &str) {
        let fpr = self.fingerprint(uid);
        let path = self.home.path().join(format!("openpgp-revocs.d/{fpr}.rev"));
        let text = std::fs::read_to_string(&path).expect("revocation certificate");
        let armored = text.replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        self.run(&["--import"], armored.as_bytes());
    }

    /// Adds a subkey to the key of `uid`.
    pub fn add_subkey(&self, uid: &str, algo: &str, usage: &str) {
        let fpr = self.fingerprint(uid);
        self.run(&["--quick-add-key", &fpr, algo, usage, "never"], b"");
    }

    /// The primary key's fingerprint as gpg prints it (40 upper-case hex characters).
    pub fn fingerprint(&self, uid: &str) -> String {
        let out =
            String::from_utf8(self.run(&["--with-colons", "--list-keys", uid], b"")).expect("utf8");
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("fpr line")
            .to_owned()
    }

    /// `gpg --armor --export UID`.
    pub fn export(&self, uid: &str) -> String {
        String::from_utf8(self.run(&["--armor", "--export", uid], b"")).expect("utf8")
    }

    /// `gpg --armor --export-secret-keys UID` (the keys have no passphrase).
    pub fn export_secret(&self, uid: &str) -> String {
        String::from_utf8(self.run(&["--armor", "--export-secret-keys", uid], b"")).expect("utf8")
    }

    /// `gpg --verify` of an armored signed message; returns the signed content.
    pub fn verify_message(&self, armored: &[u8]) -> Vec<u8> {
        self.run(&["--decrypt"], armored)
    }

    /// Signs `payload` as `uid` with extra gpg arguments (`--armor --sign`, `--clearsign`, …).
    pub fn sign(&self, uid: &str, how: &[&str], payload: &[u8]) -> Vec<u8> {
        let mut args = vec!["--local-user", uid];
        args.extend_from_slice(how);
        self.run(&args, payload)
    }
}
