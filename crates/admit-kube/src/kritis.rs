//! Kritis' custom resources from the API server: one reflector per kind, and a loop that
//! compiles every object of the three stores (with the Secrets they name) into a fresh
//! [`KritisPolicies`] whenever one of them changes, publishing it on a watch channel. Until all
//! three initial lists have completed the channel holds `None`, and the webhook fails closed.
//! Secrets are read when the policies are compiled and again every `resync`, so a rotated key
//! is picked up without a watch on every Secret of the cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use admit_policy::{KritisPolicies, SecretKeys, Secrets};
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

/// The group and version Kritis' resources are served under.
const GROUP: &str = "kritis.grafeas.io";
const VERSION: &str = "v1beta1";
/// (kind, plural) of every watched resource.
const KINDS: [(&str, &str); 3] = [
    ("AttestationAuthority", "attestationauthorities"),
    ("GenericAttestationPolicy", "genericattestationpolicies"),
    ("ImageSecurityPolicy", "imagesecuritypolicies"),
];

/// The running watch: the compiled policies, `None` until the first lists have completed.
#[derive(Debug)]
pub struct KritisWatch {
    pub policies: watch::Receiver<Option<Arc<KritisPolicies>>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts watching Kritis' resources in every namespace. `resync` bounds how stale a Secret's
/// key can be.
pub fn watch_kritis(client: Client, resync: Duration) -> KritisWatch {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(run(client, resync, tx));
    KritisWatch { policies: rx, task }
}

async fn run(client: Client, resync: Duration, tx: watch::Sender<Option<Arc<KritisPolicies>>>) {
    let mut readers = Vec::new();
    let mut streams = Vec::new();
    for (i, (kind, plural)) in KINDS.iter().enumerate() {
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let writer = Writer::new(ar);
        readers.push((*kind, writer.as_reader()));
        let events = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .map(move |e| (i, e));
        streams.push(events.boxed());
    }
    let mut merged = futures_util::stream::select_all(streams);
    let mut listed = [false; KINDS.len()];
    let mut tick = tokio::time::interval(resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let changed = tokio::select! {
            event = merged.next() => match event {
                None => return,
                Some((i, Ok(e))) => match e {
                    watcher::Event::InitDone => {
                        listed[i] = true;
                        true
                    }
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) => true,
                    watcher::Event::Init | watcher::Event::InitApply(_) => false,
                },
                Some((i, Err(e))) => {
                    tracing::warn!(
                        kind = KINDS[i].0,
                        error = %e,
                        "watching Kritis resources failed; retrying (is deploy/crds/ applied, and may admit list them?)"
                    );
                    false
                }
            },
            _ = tick.tick() => true,
        };
        if !changed || !listed.iter().all(|l| *l) {
            continue;
        }
        let mut objects = Vec::new();
        for (kind, reader) in &readers {
            for o in reader.state() {
                let origin = format!(
                    "{kind} {}/{}",
                    o.metadata.namespace.as_deref().unwrap_or("default"),
                    o.metadata.name.as_deref().unwrap_or_default()
                );
                match serde_json::to_value(&*o) {
                    Ok(v) => objects.push((origin, v)),
                    Err(e) => {
                        tracing::error!(%origin, error = %e, "cannot re-encode a watched object");
                    }
                }
            }
        }
        objects.sort_by(|a, b| a.0.cmp(&b.0));
        let secrets = read_secrets(&client, &KritisPolicies::secret_refs(&objects)).await;
        let compiled = KritisPolicies::from_objects(&objects, &secrets);
        let (isp, gap, aa) = compiled.counts();
        for (ns, e) in compiled.broken() {
            tracing::warn!(
                namespace = ns,
                error = e,
                "a Kritis object does not compile; its namespace is denied"
            );
        }
        tracing::debug!(
            image_security_policies = isp,
            generic_attestation_policies = gap,
            attestation_authorities = aa,
            "Kritis policies compiled from the API server"
        );
        if tx.send(Some(Arc::new(compiled))).is_err() {
            return;
        }
    }
}

/// Reads the named Secrets; one that cannot be read is left out (the object naming it then
/// says the Secret was not found) and the reason logged.
async fn read_secrets(client: &Client, refs: &[(String, String)]) -> Secrets {
    let mut out = BTreeMap::new();
    for (ns, name) in refs {
        let api: Api<Secret> = Api::namespaced(client.clone(), ns);
        match api.get_opt(name).await {
            Ok(Some(s)) => {
                let data = s.data.unwrap_or_default();
                let text = |k: &str| {
                    data.get(k)
                        .and_then(|b| String::from_utf8(b.0.clone()).ok())
                };
                out.insert(
                    (ns.clone(), name.clone()),
                    SecretKeys {
                        public: text("public"),
                        private: text("private").map(zeroize::Zeroizing::new),
                        passphrase: zeroize::Zeroizing::new(text("passphrase").unwrap_or_default()),
                    },
                );
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(namespace = %ns, secret = %name, error = %e, "cannot read a Secret a Kritis object names");
            }
        }
    }
    out
}
