//! Durability: 10,000 attestation writes over REST from concurrent clients while the server is
//! killed with SIGKILL at random moments and restarted on the same data, on SQLite and on
//! PostgreSQL. Afterwards every write that was acknowledged is there, byte for byte, and no
//! batch is half-written. Bounded: the writes stop at 10,000 attempts or 120 s.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests abort loudly and print the seed and figures of the run"
)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{PgDatabase, Server};

const WRITES: usize = 10_000;
const CLIENTS: usize = 16;
/// Every fourth write is a batchCreate of this many occurrences: all or none must survive.
const BATCH: usize = 3;

/// A tiny xorshift: random kill moments without another dependency; seeded from the clock and
/// printed, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn occurrence(project: &str, write: usize, part: usize) -> Value {
    json!({
        "resourceUri": format!("https://r.example/app@sha256:{:064x}", write * 8 + part),
        "noteName": format!("projects/{project}/notes/ci"),
        "remediation": format!("write {write} part {part}"),
        "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "AAAA"}]},
    })
}

/// What one acknowledged write returned: (write, part) → the stored occurrence.
type Acked = HashMap<(usize, usize), Value>;

async fn write(
    client: &reqwest::Client,
    url: &RwLock<String>,
    project: &str,
    i: usize,
) -> Option<Vec<((usize, usize), Value)>> {
    let batch = i.is_multiple_of(4);
    let (path, body) = if batch {
        let occs: Vec<Value> = (0..BATCH).map(|p| occurrence(project, i, p)).collect();
        ("/occurrences:batchCreate", json!({"occurrences": occs}))
    } else {
        ("/occurrences", occurrence(project, i, 0))
    };
    // A connection refused while the server restarts never reached it: try again; any other
    // failure (reset, timeout mid-request) leaves the write unacknowledged.
    let mut tries = 0;
    let resp = loop {
        let base = url.read().unwrap().clone();
        let target = format!("{base}/v1/projects/{project}{path}");
        match client.post(target).json(&body).send().await {
            Ok(r) => break r,
            Err(e) if e.is_connect() && tries < 200 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(_) => return None,
        }
    };
    if !resp.status().is_success() {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    Some(if batch {
        v["occurrences"]
            .as_array()?
            .iter()
            .enumerate()
            .map(|(p, o)| ((i, p), o.clone()))
            .collect()
    } else {
        vec![((i, 0), v)]
    })
}

fn run(mut s: Server) {
    let project = s.project.clone();
    s.curl(
        "POST",
        &format!("/v1/projects/{project}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("durability seed {seed}");
    let url = Arc::new(RwLock::new(s.url.clone()));
    let next = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Mutex<Acked>> = Arc::new(Mutex::new(HashMap::new()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let writers = rt.spawn({
        let (url, next, acked, project) =
            (url.clone(), next.clone(), acked.clone(), project.clone());
        async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut tasks = Vec::new();
            for _ in 0..CLIENTS {
                let (client, url, next, acked, project) = (
                    client.clone(),
                    url.clone(),
                    next.clone(),
                    acked.clone(),
                    project.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= WRITES || Instant::now() > deadline {
                            return;
                        }
                        if let Some(done) = write(&client, &url, &project, i).await {
                            acked.lock().unwrap().extend(done);
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    // The killer: SIGKILL at random moments (50–800 ms apart), restart on the same data.
    let mut rng = Rng(seed);
    let mut kills = 0;
    while !writers.is_finished() {
        std::thread::sleep(Duration::from_millis(50 + rng.next() % 750));
        if writers.is_finished() {
            break;
        }
        s.kill_and_restart();
        kills += 1;
        *url.write().unwrap() = s.url.clone();
    }
    rt.block_on(writers).unwrap();
    let attempted = next.load(Ordering::Relaxed).min(WRITES);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    eprintln!(
        "{attempted} writes attempted, {} occurrences acknowledged, {kills} kills",
        acked.len()
    );
    assert!(kills >= 3, "the server was killed only {kills} times");
    assert!(!acked.is_empty());

    // One last unannounced kill, then read everything back.
    s.kill_and_restart();
    let mut stored: HashMap<String, Value> = HashMap::new();
    let mut token = String::new();
    loop {
        let (code, page) = s.call(
            "GET",
            &format!("/v1/projects/{project}/occurrences?pageSize=1000&pageToken={token}"),
            None,
        );
        assert_eq!(code, 200, "{page}");
        for o in page["occurrences"].as_array().cloned().unwrap_or_default() {
            stored.insert(o["name"].as_str().unwrap().to_owned(), o);
        }
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => break,
        }
    }
    // Every acknowledged write is there, exactly as acknowledged.
    for ((i, p), a) in &acked {
        let name = a["name"].as_str().unwrap();
        let got = stored
            .get(name)
            .unwrap_or_else(|| panic!("acknowledged write {i}/{p} ({name}) is lost"));
        assert_eq!(got, a, "write {i}/{p} changed");
    }
    // Nothing is half-written: every stored occurrence is whole, and a batch is all or none.
    let mut parts: HashMap<usize, HashSet<usize>> = HashMap::new();
    for o in stored.values() {
        let r = o["remediation"].as_str().expect("a whole occurrence");
        let (i, p) = r
            .strip_prefix("write ")
            .and_then(|r| r.split_once(" part "))
            .map(|(i, p)| (i.parse::<usize>().unwrap(), p.parse::<usize>().unwrap()))
            .unwrap_or_else(|| panic!("unexpected occurrence {o}"));
        assert_eq!(o, &{
            let mut want = occurrence(&project, i, p);
            for k in ["name", "kind", "createTime", "updateTime"] {
                want[k] = o[k].clone();
            }
            want
        });
        assert_eq!(o["kind"], "ATTESTATION");
        parts.entry(i).or_default().insert(p);
    }
    for (i, ps) in &parts {
        let want = if i.is_multiple_of(4) { BATCH } else { 1 };
        assert_eq!(ps.len(), want, "write {i} is half-written: parts {ps:?}");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_on_sqlite() {
    run(Server::start());
}

#[test]
fn acknowledged_writes_survive_sigkill_on_postgres() {
    let db = PgDatabase::create();
    run(Server::start_postgres(&db.url, &[]));
}
