//! A real kube-apiserver and etcd (`tools/kapi`: Kubernetes 1.20 built from Debian's source,
//! once, cached under `KAPI_HOME`), one private instance per test: its own home (the cached
//! binary linked in), PKI, free ports and extra flags; stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) struct Kapi {
    home: tempfile::TempDir,
    tools: PathBuf,
    pub(crate) kubeconfig: PathBuf,
}

fn cached_home() -> PathBuf {
    if let Ok(h) = std::env::var("KAPI_HOME") {
        return PathBuf::from(h);
    }
    let cache = std::env::var("XDG_CACHE_HOME").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache"),
        PathBuf::from,
    );
    cache.join("kapi-home")
}

impl Kapi {
    /// Starts an API server with `flags` added (e.g. admission plugins).
    pub(crate) fn start(flags: &str) -> Kapi {
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/kapi");
        let bin = cached_home().join("bin/kube-apiserver");
        assert!(
            bin.exists(),
            "{} is missing: run tools/kapi/build.sh once (.ci/run does; about 8 minutes)",
            bin.display()
        );
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(home.path().join("bin")).expect("mkdir");
        std::os::unix::fs::symlink(&bin, home.path().join("bin/kube-apiserver")).expect("link");
        let run = |script: &str| {
            let out = Command::new("bash")
                .arg(tools.join(script))
                .env("KAPI_HOME", home.path())
                .env("KAPI_PORT", "auto")
                .env("KAPI_ETCD_PORT", "auto")
                .env("KAPI_ETCD_PEER_PORT", "auto")
                .env("KAPI_APISERVER_FLAGS", flags)
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "{script} failed:\n{}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(home.path().join("run/apiserver.log")).unwrap_or_default()
            );
        };
        run("pki.sh");
        run("up.sh");
        let kubeconfig = home.path().join("kubeconfig");
        Kapi {
            home,
            tools,
            kubeconfig,
        }
    }

    /// kubectl against this server.
    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("kubectl")
    }

    /// The API server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("run/apiserver.log")).unwrap_or_default()
    }
}

impl Drop for Kapi {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.tools.join("down.sh"))
            .env("KAPI_HOME", self.home.path())
            .output();
    }
}
