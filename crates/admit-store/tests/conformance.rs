//! The storage contract: one suite, run against every backend — SQLite (a temporary file) and
//! PostgreSQL (a fresh database on the server at `ADMIT_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `.ci/run` starts it).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use std::sync::Arc;

use admit_model::{Attestor, AttestorName, Filter};
use admit_store::{
    Change, FeedEvent, Kind, OccurrenceScope, Page, PostgresStore, Precondition, SqliteStore,
    Store, StoreError, repo,
};
use serde_json::json;

const NOW: &str = "2026-11-22T00:00:00.000000000Z";
const LATER: &str = "2026-11-22T00:00:01.000000000Z";
const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn occ(id: &str, note: &str, resource: &str, kind: &str) -> serde_json::Value {
    json!({"name": format!("projects/p/occurrences/{id}"), "noteName": note, "resourceUri": resource, "kind": kind, "extra": {"kept": true}})
}

macro_rules! conformance_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

        #[tokio::test]
        async fn resources_create_get_update_with_etags_and_delete() {
            let (_guard, s) = $make().await;
            let name = "projects/p/attestors/a";
            let created = s
                .put(
                    Kind::Attestor,
                    name,
                    "projects/p",
                    &json!({"name": name}),
                    None,
                    Precondition::MustNotExist,
                    NOW,
                )
                .await
                .unwrap();
            assert!(matches!(
                s.put(
                    Kind::Attestor,
                    name,
                    "projects/p",
                    &json!({}),
                    None,
                    Precondition::MustNotExist,
                    NOW
                )
                .await,
                Err(StoreError::AlreadyExists(_))
            ));
            let got = s.get(Kind::Attestor, name).await.unwrap().unwrap();
            assert_eq!(got, created);

            let updated = s
                .put(
                    Kind::Attestor,
                    name,
                    "projects/p",
                    &json!({"name": name, "description": "x"}),
                    None,
                    Precondition::MustExist {
                        etag: Some(created.etag.clone()),
                    },
                    LATER,
                )
                .await
                .unwrap();
            assert_ne!(updated.etag, created.etag);
            assert_eq!(updated.create_time, NOW);
            assert_eq!(updated.update_time, LATER);
            // The old etag is now stale.
            assert!(matches!(
                s.put(
                    Kind::Attestor,
                    name,
                    "projects/p",
                    &json!({}),
                    None,
                    Precondition::MustExist {
                        etag: Some(created.etag.clone())
                    },
                    LATER
                )
                .await,
                Err(StoreError::Aborted(_))
            ));
            // A stale write changed nothing.
            assert_eq!(
                s.get(Kind::Attestor, name).await.unwrap().unwrap().body["description"],
                "x"
            );

            // A delete at a stale etag is ABORTED and deletes nothing; at the current one, it
            // goes ahead.
            assert!(matches!(
                s.delete(Kind::Attestor, name, Some(&created.etag)).await,
                Err(StoreError::Aborted(_))
            ));
            let current = s.etag(Kind::Attestor, name).await.unwrap().unwrap();
            s.delete(Kind::Attestor, name, Some(&current)).await.unwrap();
            assert!(s.get(Kind::Attestor, name).await.unwrap().is_none());
            assert!(matches!(
                s.delete(Kind::Attestor, name, None).await,
                Err(StoreError::NotFound(_))
            ));
            assert!(matches!(
                s.put(
                    Kind::Attestor,
                    name,
                    "projects/p",
                    &json!({}),
                    None,
                    Precondition::MustExist { etag: None },
                    NOW
                )
                .await,
                Err(StoreError::NotFound(_))
            ));
        }

        #[tokio::test]
        async fn typed_repositories_round_trip_with_versions_and_preconditions() {
            let (_guard, s) = $make().await;
            let attestors = repo::<Attestor>(s.as_ref());
            let name = AttestorName::parse("projects/p/attestors/typed").unwrap();
            let mut a: Attestor = serde_json::from_value(json!({
                "name": name.to_string(),
                "description": "first",
                "etag": "echoed",
                "updateTime": "echoed too"
            }))
            .unwrap();
            let created = attestors
                .write(&name, a.clone(), Precondition::MustNotExist, NOW)
                .await
                .unwrap();
            assert_eq!((created.create_time.as_str(), created.update_time.as_str()), (NOW, NOW));
            // Output-only fields are never stored: the columns say them.
            let raw = s.get(Kind::Attestor, &name.to_string()).await.unwrap().unwrap();
            assert!(raw.body.get("etag").is_none() && raw.body.get("updateTime").is_none(), "{raw:?}");
            assert_eq!(
                attestors.version(&name).await.unwrap().as_deref(),
                Some(created.version.as_str())
            );
            let got = attestors.get(&name).await.unwrap().unwrap();
            assert_eq!(got.value.description, "first");
            assert_eq!(got.version, created.version);

            a.description = "second".into();
            let updated = attestors
                .write(
                    &name,
                    a.clone(),
                    Precondition::MustExist { etag: Some(created.version.clone()) },
                    LATER,
                )
                .await
                .unwrap();
            assert_ne!(updated.version, created.version);
            assert_eq!((updated.create_time.as_str(), updated.update_time.as_str()), (NOW, LATER));
            // The version read before is stale now: neither a write nor a delete goes ahead.
            assert!(matches!(
                attestors
                    .write(&name, a.clone(), Precondition::MustExist { etag: Some(created.version.clone()) }, LATER)
                    .await,
                Err(StoreError::Aborted(_))
            ));
            assert!(matches!(
                attestors.delete(&name, Some(&created.version)).await,
                Err(StoreError::Aborted(_))
            ));
            // Read-modify-write: "still as I read it" is ABORTED when it changed, including
            // from absent to present (two first writes: one wins, the other reads again).
            for read in [Some(created.version.clone()), None] {
                assert!(matches!(
                    attestors
                        .write(&name, a.clone(), Precondition::Unchanged { etag: read }, LATER)
                        .await,
                    Err(StoreError::Aborted(_))
                ));
            }
            let fresh = AttestorName::parse("projects/p/attestors/fresh").unwrap();
            let first = attestors
                .write(&fresh, a.clone(), Precondition::Unchanged { etag: None }, NOW)
                .await
                .unwrap();
            assert!(matches!(
                attestors
                    .write(&fresh, a.clone(), Precondition::Unchanged { etag: None }, NOW)
                    .await,
                Err(StoreError::Aborted(_))
            ));
            attestors
                .write(&fresh, a.clone(), Precondition::Unchanged { etag: Some(first.version) }, LATER)
                .await
                .unwrap();
            let listed = attestors.list("projects/p", &Page::default()).await.unwrap();
            assert_eq!(listed.items.len(), 2);
            assert_eq!(listed.items[0].0, name.to_string());
            assert_eq!(listed.items[0].1.value.description, "second");

            // A body that no longer reads as its type is an error naming it, not a default.
            let broken = AttestorName::parse("projects/p/attestors/broken").unwrap();
            s.put(Kind::Attestor, &broken.to_string(), "projects/p", &json!({"description": 7}), None, Precondition::MustNotExist, NOW)
                .await
                .unwrap();
            match attestors.get(&broken).await {
                Err(StoreError::Unreadable { name, .. }) => assert_eq!(name, broken.to_string()),
                other => panic!("{other:?}"),
            }

            attestors.delete(&name, Some(&updated.version)).await.unwrap();
            assert!(attestors.get(&name).await.unwrap().is_none());
            assert!(attestors.version(&name).await.unwrap().is_none());
        }

        #[tokio::test]
        async fn lists_page_stably_within_their_parent() {
            let (_guard, s) = $make().await;
            for i in 0..5 {
                let name = format!("projects/p/attestors/a{i}");
                s.put(
                    Kind::Attestor,
                    &name,
                    "projects/p",
                    &json!({"i": i}),
                    None,
                    Precondition::MustNotExist,
                    NOW,
                )
                .await
                .unwrap();
            }
            s.put(
                Kind::Attestor,
                "projects/q/attestors/x",
                "projects/q",
                &json!({}),
                None,
                Precondition::MustNotExist,
                NOW,
            )
            .await
            .unwrap();
            let mut page = Page {
                size: 2,
                token: None,
            };
            let mut seen = Vec::new();
            loop {
                let l = s.list(Kind::Attestor, "projects/p", &page).await.unwrap();
                seen.extend(l.items.iter().map(|d| d.name.clone()));
                match l.next_page_token {
                    Some(t) => page.token = Some(t),
                    None => break,
                }
            }
            assert_eq!(
                seen,
                (0..5)
                    .map(|i| format!("projects/p/attestors/a{i}"))
                    .collect::<Vec<_>>()
            );
            assert!(matches!(
                s.list(
                    Kind::Attestor,
                    "projects/p",
                    &Page {
                        size: 2,
                        token: Some("garbage!".into())
                    }
                )
                .await,
                Err(StoreError::InvalidArgument(_))
            ));
        }

        #[tokio::test]
        async fn secrets_are_kept_beside_the_body_and_survive_updates() {
            let (_guard, s) = $make().await;
            let n = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
            s.put(
                Kind::CryptoKeyVersion,
                n,
                "k",
                &json!({}),
                Some(b"wrapped"),
                Precondition::MustNotExist,
                NOW,
            )
            .await
            .unwrap();
            s.put(
                Kind::CryptoKeyVersion,
                n,
                "k",
                &json!({"state": "DESTROYED"}),
                None,
                Precondition::MustExist { etag: None },
                NOW,
            )
            .await
            .unwrap();
            assert_eq!(
                s.secret(Kind::CryptoKeyVersion, n)
                    .await
                    .unwrap()
                    .as_deref(),
                Some(&b"wrapped"[..])
            );
        }


        #[tokio::test]
        async fn the_etag_read_follows_every_write_without_the_body() {
            let (_guard, s) = $make().await;
            let name = "projects/p/policy";
            assert_eq!(s.etag(Kind::Policy, name).await.unwrap(), None);
            let first = s
                .put(Kind::Policy, name, "projects/p", &json!({"v": 1}), None, Precondition::Any { etag: None }, NOW)
                .await
                .unwrap();
            assert_eq!(s.etag(Kind::Policy, name).await.unwrap(), Some(first.etag.clone()));
            let second = s
                .put(Kind::Policy, name, "projects/p", &json!({"v": 2}), None, Precondition::Any { etag: Some(first.etag.clone()) }, LATER)
                .await
                .unwrap();
            assert_ne!(second.etag, first.etag);
            assert_eq!(s.etag(Kind::Policy, name).await.unwrap(), Some(second.etag));
            assert_eq!(s.etag(Kind::Attestor, name).await.unwrap(), None, "kinds are apart");
            s.delete(Kind::Policy, name, None).await.unwrap();
            assert_eq!(s.etag(Kind::Policy, name).await.unwrap(), None);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_writers_with_one_etag_let_exactly_one_win() {
            let (_guard, s) = $make().await;
            let name = "projects/p/attestors/raced";
            let created = s
                .put(Kind::Attestor, name, "projects/p", &json!({"name": name, "v": 0}), None, Precondition::MustNotExist, NOW)
                .await
                .unwrap();
            let writers: Vec<_> = (1..=8)
                .map(|i| {
                    let (s, etag) = (s.clone(), created.etag.clone());
                    tokio::spawn(async move {
                        let body = json!({"name": name, "v": i});
                        let pre = Precondition::MustExist { etag: Some(etag) };
                        (i, s.put(Kind::Attestor, name, "projects/p", &body, None, pre, LATER).await)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for w in writers {
                match w.await.unwrap() {
                    (i, Ok(_)) => winners.push(i),
                    (_, Err(StoreError::Aborted(_))) => {}
                    (_, Err(e)) => panic!("a losing writer must be ABORTED, not {e}"),
                }
            }
            assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
            let stored = s.get(Kind::Attestor, name).await.unwrap().unwrap();
            assert_eq!(stored.body["v"], winners[0], "and its write is the one stored");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_first_grants_create_the_iam_policy_once() {
            let (_guard, s) = $make().await;
            let name = "projects/p/attestors/a";
            let writers: Vec<_> = (1..=8)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        let body = json!({"bindings": [{"role": "roles/viewer", "members": [format!("user:u{i}@example.com")]}]});
                        (i, s.put(Kind::IamPolicy, name, "projects/p", &body, None, Precondition::MustNotExist, NOW).await)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for w in writers {
                match w.await.unwrap() {
                    (i, Ok(_)) => winners.push(i),
                    (_, Err(StoreError::AlreadyExists(_))) => {}
                    (_, Err(e)) => panic!("a second first grant must be ALREADY_EXISTS, not {e}"),
                }
            }
            assert_eq!(winners.len(), 1, "one first grant: {winners:?}");
            let stored = s.get(Kind::IamPolicy, name).await.unwrap().unwrap();
            assert_eq!(
                stored.body["bindings"][0]["members"][0],
                format!("user:u{}@example.com", winners[0])
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_overlapping_batches_are_each_all_or_nothing() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            let batch = |from: usize, to: usize| -> Vec<serde_json::Value> {
                (from..to)
                    .map(|i| occ(&format!("o{i}"), a, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION"))
                    .collect()
            };
            // Two batches sharing o40..o49, written at the same time, many times over.
            for round in 0..5 {
                let (s1, s2) = (s.clone(), s.clone());
                let (first, second) = (batch(round * 100, round * 100 + 50), batch(round * 100 + 40, round * 100 + 90));
                let t1 = tokio::spawn(async move { s1.create_occurrences(&first, NOW).await });
                let t2 = tokio::spawn(async move { s2.create_occurrences(&second, NOW).await });
                let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
                let ok = [r1.is_ok(), r2.is_ok()];
                assert_eq!(ok.iter().filter(|x| **x).count(), 1, "round {round}: one batch wins, {ok:?}");
                for r in [&r1, &r2] {
                    if let Err(e) = r {
                        assert!(matches!(e, StoreError::AlreadyExists(_)), "round {round}: {e}");
                    }
                }
                let stored = s
                    .attestations(a, D1, 10_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|d| {
                        d.name["projects/p/occurrences/o".len()..]
                            .parse::<usize>()
                            .is_ok_and(|n| n / 100 == round)
                    })
                    .count();
                assert_eq!(stored, 50, "round {round}: the winner's 50, none of the loser's own");
            }
        }

        #[tokio::test]
        async fn the_admission_lookup_finds_a_notes_attestations_of_one_digest() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            let b = "projects/p/notes/b";
            s.create_occurrences(
                &[
                    occ("1", a, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION"),
                    occ("2", b, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION"),
                    occ("3", a, &format!("https://gcr.io/p/app@{D2}"), "ATTESTATION"),
                    occ("4", a, &format!("https://gcr.io/p/app@{D1}"), "VULNERABILITY"),
                    occ("5", a, &format!("https://gcr.io/p/other@{D1}"), "ATTESTATION"),
                    // The digest as a suffix, but not pinned with `@`: not about that image.
                    occ("6", a, &format!("https://gcr.io/p/app:{D1}"), "ATTESTATION"),
                ],
                NOW,
            )
            .await
            .unwrap();
            let names = |d: Vec<admit_store::Doc>| d.into_iter().map(|d| d.name).collect::<Vec<_>>();
            assert_eq!(
                names(s.attestations(a, D1, 10).await.unwrap()),
                ["projects/p/occurrences/1", "projects/p/occurrences/5"],
                "note a, digest D1, ATTESTATION only, oldest first, whatever the repository"
            );
            assert_eq!(
                names(s.attestations(a, D1, 1).await.unwrap()),
                ["projects/p/occurrences/1"],
                "the limit holds"
            );
            assert_eq!(names(s.attestations(b, D1, 10).await.unwrap()), ["projects/p/occurrences/2"]);
            assert!(s.attestations(b, D2, 10).await.unwrap().is_empty());
            let doc = s.attestations(a, D2, 10).await.unwrap().remove(0);
            assert_eq!(doc.body["extra"]["kept"], true, "the body comes back whole");
        }

        #[tokio::test]
        async fn occurrences_filter_by_suffix_equality_and_boolean_logic() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            let b = "projects/other/notes/b";
            s.create_occurrences(
                &[
                    occ("1", a, &format!("gcr.io/p/app@{D1}"), "ATTESTATION"),
                    occ("2", a, &format!("https://gcr.io/p/app@{D2}"), "ATTESTATION"),
                    occ("3", b, &format!("gcr.io/p/app@{D1}"), "VULNERABILITY"),
                ],
                NOW,
            )
            .await
            .unwrap();
            let names = |l: admit_store::Listed<admit_store::Doc>| {
                l.items.into_iter().map(|d| d.name).collect::<Vec<_>>()
            };
            let run = |f: &str| {
                let f = Filter::parse(f).unwrap();
                let s = s.clone();
                async move {
                    s.list_occurrences(
                        &OccurrenceScope::Project("p".into()),
                        f.as_ref(),
                        &Page::default(),
                    )
                    .await
                }
            };
            let ids = |v: &[&str]| {
                v.iter()
                    .map(|i| format!("projects/p/occurrences/{i}"))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                names(
                    run(&format!("has_suffix(resourceUrl, \"{D1}\")"))
                        .await
                        .unwrap()
                ),
                ids(&["1", "3"])
            );
            assert_eq!(
                names(
                    run(&format!(
                        "has_suffix(resourceUrl, \"{D1}\") AND kind = \"ATTESTATION\""
                    ))
                    .await
                    .unwrap()
                ),
                ids(&["1"])
            );
            assert_eq!(
                names(
                    run("noteProjectId = \"other\" OR noteId = \"a\"")
                        .await
                        .unwrap()
                ),
                ids(&["1", "2", "3"])
            );
            assert_eq!(
                names(run("NOT kind = \"ATTESTATION\"").await.unwrap()),
                ids(&["3"])
            );
            assert_eq!(
                names(run("has_prefix(resourceUri, \"https://\")").await.unwrap()),
                ids(&["2"])
            );
            assert_eq!(names(run("").await.unwrap()), ids(&["1", "2", "3"]));

            let by_note = s
                .list_occurrences(&OccurrenceScope::Note(b.into()), None, &Page::default())
                .await
                .unwrap();
            assert_eq!(names(by_note), ids(&["3"]));
            // Unknown fields are preserved verbatim.
            let got = s
                .get_occurrence("projects/p/occurrences/3")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.body["extra"]["kept"], true);
        }

        #[tokio::test]
        async fn audit_copies_are_idempotent_and_show_their_holes() {
            let (_guard, s) = $make().await;
            let entries = |from: u64, to: u64| {
                (from..=to)
                    .map(|i| admit_store::AuditEntry::new(&json!({"time": NOW, "project": "p", "name": format!("r{i}"), "verdict": "ALLOWED"})))
                    .collect::<Vec<_>>()
            };
            assert_eq!(s.audit_copied("log-a").await.unwrap(), admit_store::AuditCopied::default());
            s.ingest_audit("log-a", 1, &entries(1, 5)).await.unwrap();
            s.ingest_audit("log-a", 8, &entries(8, 10)).await.unwrap();
            let c = s.audit_copied("log-a").await.unwrap();
            assert_eq!((c.records, c.lowest, c.highest), (8, 1, 10));
            assert!(c.has_holes(), "6 and 7 are missing");
            assert_eq!(s.audit_copied("log-a").await.unwrap().highest, 10);
            // Copying the whole log again fills the holes and stores nothing twice.
            s.ingest_audit("log-a", 1, &entries(1, 10)).await.unwrap();
            let c = s.audit_copied("log-a").await.unwrap();
            assert_eq!((c.records, c.lowest, c.highest), (10, 1, 10));
            assert!(!c.has_holes());
            assert_eq!(s.list_audit("p", &admit_store::AuditFilter::default(), &Page::default()).await.unwrap().items.len(), 10);
            // Another log's copy is counted apart.
            assert_eq!(s.audit_copied("log-b").await.unwrap().records, 0);
        }

        #[tokio::test]
        async fn audit_records_append_and_filter() {
            let (_guard, s) = $make().await;
            for (i, (verdict, ns, bg, dry)) in [("ALLOWED", "prod", false, false), ("DENIED", "prod", false, false), ("BREAKGLASS", "dev", true, false), ("DRY_RUN", "prod", false, true)].iter().enumerate() {
                let r = json!({"time": NOW, "project": "p", "cluster": "c", "namespace": ns, "kind": "Pod", "name": format!("n{i}"), "user": "alice", "verdict": verdict, "breakglass": bg, "dryRun": dry});
                s.append_audit(&r).await.unwrap();
            }
            s.append_audit(&json!({"time": NOW, "project": "other", "verdict": "DENIED"})).await.unwrap();
            let names = |f: admit_store::AuditFilter| {
                let s = s.clone();
                async move {
                    s.list_audit("p", &f, &Page::default()).await.unwrap().items.iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
                }
            };
            use admit_store::AuditFilter as F;
            assert_eq!(names(F::default()).await, ["n0", "n1", "n2", "n3"]);
            assert_eq!(names(F { verdict: Some("DENIED".into()), ..F::default() }).await, ["n1"]);
            assert_eq!(names(F { breakglass: Some(true), ..F::default() }).await, ["n2"]);
            assert_eq!(names(F { dry_run: Some(true), namespace: Some("prod".into()), ..F::default() }).await, ["n3"]);
            assert_eq!(names(F { user: Some("alice".into()), namespace: Some("dev".into()), ..F::default() }).await, ["n2"]);
            let page = s.list_audit("p", &F::default(), &Page { size: 3, token: None }).await.unwrap();
            assert_eq!(page.items.len(), 3);
            let rest = s.list_audit("p", &F::default(), &Page { size: 3, token: page.next_page_token }).await.unwrap();
            assert_eq!(rest.items[0]["name"], "n3");
        }

        #[tokio::test]
        async fn create_all_is_all_or_nothing() {
            let (_guard, s) = $make().await;
            let item = |id: &str| (format!("projects/p/notes/{id}"), "projects/p".to_owned(), json!({"name": format!("projects/p/notes/{id}")}));
            s.create_all(Kind::Note, &[item("a"), item("b")], NOW).await.unwrap();
            // `b` exists: the batch fails as a whole and `c` is not written.
            let e = s.create_all(Kind::Note, &[item("c"), item("b")], NOW).await.unwrap_err();
            assert!(matches!(e, admit_store::StoreError::AlreadyExists(_)), "{e}");
            assert!(s.get(Kind::Note, "projects/p/notes/c").await.unwrap().is_none());
            assert_eq!(s.list(Kind::Note, "projects/p", &Page::default()).await.unwrap().items.len(), 2);
        }

        #[tokio::test]
        async fn audit_retention_deletes_only_older_records() {
            let (_guard, s) = $make().await;
            for (i, t) in ["2020-01-01T00:00:00Z", "2020-06-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z"].iter().enumerate() {
                s.append_audit(&json!({"time": t, "project": "p", "name": format!("n{i}"), "verdict": "ALLOWED"})).await.unwrap();
            }
            assert_eq!(s.prune_audit("2026-01-01T00:00:00Z", 1).await.unwrap(), 1);
            assert_eq!(s.prune_audit("2026-01-01T00:00:00Z", 100).await.unwrap(), 1);
            assert_eq!(s.prune_audit("2026-01-01T00:00:00Z", 100).await.unwrap(), 0);
            let left: Vec<String> = s.list_audit("p", &admit_store::AuditFilter::default(), &Page::default()).await.unwrap()
                .items.iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
            assert_eq!(left, ["n2", "n3"]);
        }

        #[tokio::test]
        async fn batch_create_is_all_or_nothing() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            s.create_occurrences(&[occ("1", a, "gcr.io/x", "ATTESTATION")], NOW)
                .await
                .unwrap();
            let r = s
                .create_occurrences(
                    &[
                        occ("2", a, "gcr.io/x", "ATTESTATION"),
                        occ("1", a, "gcr.io/x", "ATTESTATION"),
                    ],
                    NOW,
                )
                .await;
            assert!(matches!(r, Err(StoreError::AlreadyExists(_))));
            assert!(
                s.get_occurrence("projects/p/occurrences/2")
                    .await
                    .unwrap()
                    .is_none()
            );
        }

        #[tokio::test]
        async fn occurrence_update_with_a_stale_etag_is_aborted() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            let name = "projects/p/occurrences/1";
            let created = s
                .create_occurrences(
                    &[occ("1", a, &format!("gcr.io/p/app@{D1}"), "ATTESTATION")],
                    NOW,
                )
                .await
                .unwrap()
                .remove(0);
            // Two writers read the same version; the first to write wins.
            let mut first = created.body.clone();
            first["remediation"] = json!("first");
            let won = s
                .update_occurrence(name, &first, LATER, Some(&created.etag))
                .await
                .unwrap();
            assert_ne!(won.etag, created.etag);
            let mut second = created.body.clone();
            second["remediation"] = json!("second");
            assert!(matches!(
                s.update_occurrence(name, &second, LATER, Some(&created.etag))
                    .await,
                Err(StoreError::Aborted(_))
            ));
            assert!(matches!(
                s.update_occurrence(name, &second, LATER, Some("not an etag"))
                    .await,
                Err(StoreError::Aborted(_))
            ));
            let stored = s.get_occurrence(name).await.unwrap().unwrap();
            assert_eq!(stored.body["remediation"], "first", "nothing was half-written");
            // With the current etag it goes ahead; an occurrence that is gone is NotFound.
            let last = s
                .update_occurrence(name, &second, LATER, Some(&won.etag))
                .await
                .unwrap();
            // A delete at a stale (or foreign) etag is ABORTED and deletes nothing.
            for stale in [won.etag.as_str(), "not an etag"] {
                assert!(matches!(
                    s.delete_occurrence(name, Some(stale)).await,
                    Err(StoreError::Aborted(_))
                ));
            }
            assert!(s.get_occurrence(name).await.unwrap().is_some());
            s.delete_occurrence(name, Some(&last.etag)).await.unwrap();
            assert!(matches!(
                s.delete_occurrence(name, Some(&last.etag)).await,
                Err(StoreError::NotFound(_))
            ));
            assert!(matches!(
                s.update_occurrence(name, &second, LATER, Some(&won.etag))
                    .await,
                Err(StoreError::NotFound(_))
            ));
        }

        #[tokio::test]
        async fn occurrence_update_reindexes_and_delete_removes() {
            let (_guard, s) = $make().await;
            let a = "projects/p/notes/a";
            s.create_occurrences(
                &[occ("1", a, &format!("gcr.io/p/app@{D1}"), "ATTESTATION")],
                NOW,
            )
            .await
            .unwrap();
            let mut body = occ("1", a, &format!("gcr.io/p/app@{D2}"), "ATTESTATION");
            body["extra"] = json!("changed");
            let d = s
                .update_occurrence("projects/p/occurrences/1", &body, LATER, None)
                .await
                .unwrap();
            assert_eq!(d.update_time, LATER);
            let f = Filter::parse(&format!("has_suffix(resourceUrl, \"{D2}\")")).unwrap();
            let l = s
                .list_occurrences(
                    &OccurrenceScope::Project("p".into()),
                    f.as_ref(),
                    &Page::default(),
                )
                .await
                .unwrap();
            assert_eq!(l.items.len(), 1);
            s.delete_occurrence("projects/p/occurrences/1", None)
                .await
                .unwrap();
            assert!(matches!(
                s.delete_occurrence("projects/p/occurrences/1", None).await,
                Err(StoreError::NotFound(_))
            ));
        }

        #[tokio::test]
        async fn the_admission_lookup_fetches_many_pairs_at_once() {
            let (_guard, s) = $make().await;
            let (a, b) = ("projects/p/notes/a", "projects/p/notes/b");
            s.create_occurrences(
                &[
                    occ("1", a, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION"),
                    occ("2", b, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION"),
                    occ("3", a, &format!("https://gcr.io/p/app@{D2}"), "ATTESTATION"),
                    occ("4", a, &format!("https://gcr.io/p/other@{D1}"), "ATTESTATION"),
                    occ("5", a, &format!("https://gcr.io/p/app@{D1}"), "VULNERABILITY"),
                ],
                NOW,
            )
            .await
            .unwrap();
            let pair = |n: &str, d: &str| (n.to_owned(), d.to_owned());
            let pairs = [pair(a, D1), pair(b, D2), pair(b, D1), pair(a, D2), pair(a, D1)];
            let names = async |limit| {
                s.attestations_of(&pairs, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|docs| docs.into_iter().map(|d| d.name["projects/p/occurrences/".len()..].to_owned()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                names(10).await,
                [vec!["1", "4"], vec![], vec!["2"], vec!["3"], vec!["1", "4"]],
                "each pair's attestations, oldest first, in the order asked (a pair asked twice answered twice)"
            );
            assert_eq!(
                names(1).await,
                [vec!["1"], vec![], vec!["2"], vec!["3"], vec!["1"]],
                "the limit holds per pair"
            );
            let many: Vec<(String, String)> = (0..450).map(|i| pair(a, &format!("sha256:{i:064}"))).chain([pair(b, D1)]).collect();
            let found = s.attestations_of(&many, 10).await.unwrap();
            assert_eq!(found.len(), 451, "more pairs than one statement takes");
            assert_eq!(found[450].len(), 1);
            assert!(found[..450].iter().all(Vec::is_empty));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_change_feed_reports_commits_by_any_writer() {
            let (guard, s) = $make().await;
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let follower = s.clone();
            let feed = tokio::spawn(async move { follower.follow_changes(tx).await });
            assert_eq!(next(&mut rx).await, FeedEvent::Live, "the feed starts live");
            // Another writer of the same database: another process, or another replica.
            let other = reopen(&guard).await;
            let attestor = "projects/p/attestors/a";
            other
                .put(Kind::Attestor, attestor, "projects/p", &json!({}), None, Precondition::MustNotExist, NOW)
                .await
                .unwrap();
            let a = "projects/p/notes/a";
            other
                .create_occurrences(&[occ("1", a, &format!("https://gcr.io/p/app@{D1}"), "ATTESTATION")], NOW)
                .await
                .unwrap();
            other
                .update_occurrence("projects/p/occurrences/1", &occ("1", a, &format!("https://gcr.io/p/app@{D2}"), "ATTESTATION"), LATER, None)
                .await
                .unwrap();
            other.delete(Kind::Attestor, attestor, None).await.unwrap();
            // Audit records are not state admission keeps: not reported.
            other.append_audit(&json!({"time": NOW, "project": "p", "cluster": "", "namespace": "n", "kind": "Pod", "name": "x", "user": "u", "verdict": "ALLOWED", "breakglass": false, "dryRun": false})).await.unwrap();
            let res = |k| Change::Resource { kind: k, name: attestor.to_owned() };
            let occurrence = |d: &str| Change::Occurrence { note: a.to_owned(), digest: d.to_owned() };
            let expected = vec![
                res(Kind::Attestor),
                occurrence(D1),
                occurrence(D1),
                occurrence(D2),
                res(Kind::Attestor),
            ];
            let mut seen = Vec::new();
            while seen.len() < expected.len() {
                match next(&mut rx).await {
                    FeedEvent::Changes(c) => seen.extend(c),
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(seen, expected, "every commit, in commit order");
            drop(rx);
            // The feed ends once nobody listens.
            tokio::time::timeout(std::time::Duration::from_secs(10), feed).await.expect("the feed stops").unwrap();
        }
        }
    };
}

/// Removes a per-test PostgreSQL database.
struct PgDatabase {
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
            ])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// The feed's next event, within 10 s.
async fn next(rx: &mut tokio::sync::mpsc::Receiver<FeedEvent>) -> FeedEvent {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a feed event within 10 s")
        .expect("the feed runs")
}

/// Another store on the same database (another writer: a process, or a replica).
trait Reopen {
    async fn reopen(&self) -> Arc<dyn Store>;
}

impl Reopen for PgDatabase {
    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(PostgresStore::connect(&db_url(&self.name)).await.unwrap())
    }
}

impl Reopen for tempfile::TempDir {
    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(self.path()).await.unwrap())
    }
}

async fn reopen(guard: &impl Reopen) -> Arc<dyn Store> {
    guard.reopen().await
}

fn db_url(name: &str) -> String {
    match admin_url().rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("bad ADMIT_TEST_DATABASE_URL"),
    }
}

fn admin_url() -> String {
    std::env::var("ADMIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database for one test.
async fn postgres() -> (PgDatabase, Arc<dyn Store>) {
    use sqlx::Executor as _;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "admit_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let admin = sqlx::PgPool::connect(&admin_url())
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (start it: pg_ctlcluster 15 main start)");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    admin.close().await;
    let s = PostgresStore::connect(&db_url(&name)).await.unwrap();
    (PgDatabase { name }, Arc::new(s))
}

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).await.unwrap();
    (dir, Arc::new(s))
}

conformance_suite!(sqlite_backend, sqlite);
conformance_suite!(postgres_backend, postgres);

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path()).await.unwrap();
        s.put(
            Kind::Policy,
            "projects/p/policy",
            "projects/p",
            &json!({"x": 1}),
            None,
            Precondition::Any { etag: None },
            NOW,
        )
        .await
        .unwrap();
    }
    let s = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(
        s.get(Kind::Policy, "projects/p/policy")
            .await
            .unwrap()
            .unwrap()
            .body["x"],
        1
    );
}

/// A PostgreSQL listener whose connection is killed says `Down`, reconnects and says `Live`
/// (notifications sent while it was away are lost, so whoever caches must start over), and then
/// hears commits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_postgres_listener_is_noticed_and_resumed() {
    let (guard, s) = postgres().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let follower = s.clone();
    tokio::spawn(async move { follower.follow_changes(tx).await });
    assert_eq!(next(&mut rx).await, FeedEvent::Live);
    let admin = sqlx::PgPool::connect(&db_url(&guard.name)).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listener connection");
    match next(&mut rx).await {
        FeedEvent::Down(why) => assert!(why.contains("listener"), "{why}"),
        other => panic!("expected Down, got {other:?}"),
    }
    assert_eq!(next(&mut rx).await, FeedEvent::Live, "resumed");
    s.put(
        Kind::Policy,
        "projects/p/policy",
        "projects/p",
        &json!({}),
        None,
        Precondition::Any { etag: None },
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut rx).await,
        FeedEvent::Changes(vec![Change::Resource {
            kind: Kind::Policy,
            name: "projects/p/policy".into()
        }]),
        "heard again"
    );
}
