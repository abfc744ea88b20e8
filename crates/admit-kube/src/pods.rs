//! Continuous validation's Kubernetes side: every pod of the cluster kept in memory by a
//! reflector, a wake-up on every change, Events recorded on pods and pods labelled and
//! annotated — [`admit_webhook::continuous::Cluster`] over kube-rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use admit_webhook::continuous::{Cluster, PodKey};
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The cluster's pods, watched.
pub struct KubeCluster {
    client: Client,
    pods: Store<Pod>,
    listed: Arc<AtomicBool>,
    changed: Arc<Notify>,
    /// This process, as the Events' reporting instance.
    instance: String,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("listed", &self.listed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Starts watching every pod of the cluster.
pub fn watch_pods(client: Client) -> Arc<KubeCluster> {
    let (reader, writer) = reflector::store::<Pod>();
    let listed = Arc::new(AtomicBool::new(false));
    let changed = Arc::new(Notify::new());
    let api: Api<Pod> = Api::all(client.clone());
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let (l, c) = (listed.clone(), changed.clone());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitDone) => {
                    l.store(true, Ordering::Release);
                    c.notify_one();
                }
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => c.notify_one(),
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "watching pods failed; retrying (may admit list and watch pods?)");
                }
            }
        }
    });
    let instance = std::env::var("HOSTNAME").unwrap_or_else(|_| "admit".to_owned());
    Arc::new(KubeCluster {
        client,
        pods: reader,
        listed,
        changed,
        instance,
    })
}

fn patch_map(entries: &[(&str, Option<String>)]) -> Value {
    let m: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                v.clone().map_or(Value::Null, Value::String),
            )
        })
        .collect();
    Value::Object(m)
}

#[async_trait::async_trait]
impl Cluster for KubeCluster {
    fn pods(&self) -> Option<Vec<Arc<Value>>> {
        if !self.listed.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.pods
                .state()
                .iter()
                .filter_map(|p| serde_json::to_value(&**p).ok().map(Arc::new))
                .collect(),
        )
    }

    async fn pods_changed(&self) {
        self.changed.notified().await;
    }

    async fn event(
        &self,
        pod: &PodKey,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> Result<(), String> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", pod.name)),
                namespace: Some(pod.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_owned()),
            // The API server caps an Event's message at 1 KiB.
            message: Some(message.chars().take(1024).collect()),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_owned()),
            source: Some(EventSource {
                component: Some("admit".into()),
                host: None,
            }),
            reporting_component: Some("admit.dev/continuous-validation".into()),
            reporting_instance: Some(self.instance.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            action: Some("Validate".into()),
            count: Some(1),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &pod.namespace);
        api.create(&PostParams::default(), &event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn mark(
        &self,
        pod: &PodKey,
        labels: &[(&str, Option<String>)],
        annotations: &[(&str, Option<String>)],
    ) -> Result<(), String> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let patch = json!({"metadata": {
            "labels": patch_map(labels),
            "annotations": patch_map(annotations),
        }});
        api.patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The cluster's pods for the policy simulator: the watched ones when continuous validation
/// keeps them, else a fresh list from the API server.
pub struct ClusterPods {
    client: Client,
    watched: Option<Arc<KubeCluster>>,
}

impl std::fmt::Debug for ClusterPods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterPods")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

impl ClusterPods {
    pub fn new(client: Client, watched: Option<Arc<KubeCluster>>) -> Self {
        ClusterPods { client, watched }
    }
}

#[async_trait::async_trait]
impl admit_service::RunningPods for ClusterPods {
    async fn running_pods(&self) -> Result<Vec<Value>, String> {
        if let Some(pods) = self.watched.as_ref().and_then(|w| w.pods()) {
            return Ok(pods.iter().map(|p| (**p).clone()).collect());
        }
        let api: Api<Pod> = Api::all(self.client.clone());
        let mut out = Vec::new();
        let mut params = kube::api::ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await.map_err(|e| e.to_string())?;
            for p in &page.items {
                out.push(serde_json::to_value(p).map_err(|e| e.to_string())?);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => params = params.continue_token(&c),
                None => return Ok(out),
            }
        }
    }
}
