//! What admission keeps in memory, and how it stays true.
//!
//! Held: each project's compiled policy, each compiled attestor, the attestations found per
//! (note, digest) (parsed once, "none" included), each verification's result, and each
//! cross-project access decision. While the store's change feed is live, an entry is used
//! without asking the database: every commit, by this process or another, removes what it
//! touches (this process's own writes before they are acknowledged, others' within the feed's
//! delay). While the feed is down, entries are checked against the database on every use, as if
//! there were no feed. An entry read from the database is kept only if nothing was invalidated
//! while it was being read (the generation), so a read racing a write never caches the past.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use admit_policy::{CompiledAttestor, CompiledPolicy, Satisfied};
use admit_store::{Change, Kind};

pub(crate) type Verified = Result<Satisfied, Vec<String>>;
/// (attestor, attestor version, occurrence, occurrence update time, canonical image), each
/// part prefixed by its length, in one buffer: one allocation per lookup instead of five, and
/// no two different tuples share a key.
pub(crate) type VerifyKey = Vec<u8>;

/// The [`VerifyKey`] of its parts, in that order.
pub(crate) fn verify_key(parts: [&str; 5]) -> VerifyKey {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for p in parts {
        key.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_le_bytes());
        key.extend_from_slice(p.as_bytes());
    }
    key
}
/// A cached compiled attestor: etag, KMS-backed keys, their states' fingerprint, compiled.
pub(crate) type CachedAttestor = (
    String,
    Arc<Vec<(String, String)>>,
    String,
    Result<Arc<CompiledAttestor>, String>,
);
/// (deployer project, attestor, note): why the deployer may not use the attestor, if so.
type AccessKey = (String, String, String);

/// One stored attestation, parsed once.
#[derive(Debug)]
pub(crate) struct Attestation {
    pub(crate) name: String,
    pub(crate) update_time: String,
    pub(crate) occurrence: Result<admit_model::Occurrence, String>,
}

/// The attestations of one (note, digest), oldest first (one more than admission accepts when
/// there are too many).
pub(crate) type Found = Arc<Vec<Attestation>>;

/// Bounds each map; past it the map is cleared (entries are cheap to rebuild).
const MAX_ENTRIES: usize = 100_000;
/// Bounds the parsed attestations held in all (an image may have up to 10,000 of them).
const MAX_HELD_ATTESTATIONS: usize = 200_000;

#[derive(Debug, Default)]
struct Maps {
    /// Bumped by every invalidation: a reader keeps what it read only if it did not move.
    generation: u64,
    policies: HashMap<String, (String, Arc<CompiledPolicy>)>,
    attestors: HashMap<String, CachedAttestor>,
    attestations: HashMap<(String, String), Found>,
    /// Attestations put in `attestations` since it was last cleared (removals not subtracted:
    /// an over-count only clears it sooner).
    held: usize,
    verified: HashMap<VerifyKey, Verified>,
    access: HashMap<AccessKey, Option<String>>,
}

impl Maps {
    fn clear_derived(&mut self) {
        self.generation += 1;
        self.policies.clear();
        self.attestors.clear();
        self.attestations.clear();
        self.held = 0;
        self.access.clear();
        // Verifications are keyed by the versions they were made at: never stale.
    }
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

#[derive(Debug, Default)]
pub(crate) struct AdmissionState {
    enabled: AtomicBool,
    /// The change feed follows every commit: entries need no check against the database.
    live: AtomicBool,
    maps: Mutex<Maps>,
}

impl AdmissionState {
    pub(crate) fn new(enabled: bool) -> Self {
        AdmissionState {
            enabled: AtomicBool::new(enabled),
            ..Default::default()
        }
    }

    /// Turns every cache off (each review reads and verifies everything: the "cold" benchmark).
    pub(crate) fn disable(&self) {
        self.enabled.store(false, Ordering::Release);
        self.maps().clear_derived();
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Whether an entry may be used without asking the database.
    pub(crate) fn trusted(&self) -> bool {
        self.enabled() && self.live.load(Ordering::Acquire)
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Taken before reading the database for an entry; see `Maps::generation`.
    pub(crate) fn generation(&self) -> u64 {
        self.maps().generation
    }

    /// The feed follows every commit from now on: forget everything (commits may have been
    /// missed before), then trust.
    pub(crate) fn feed_live(&self) {
        self.maps().clear_derived();
        self.live.store(true, Ordering::Release);
    }

    /// The feed stopped: check every entry against the database until it is live again.
    pub(crate) fn feed_down(&self) {
        self.live.store(false, Ordering::Release);
        self.maps().clear_derived();
    }

    /// Forgets what `changes` touch.
    pub(crate) fn apply(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut m = self.maps();
        m.generation += 1;
        for c in changes {
            match c {
                Change::Resource { kind, name } => match kind {
                    Kind::Policy => {
                        let project = crate::project_of(name).to_owned();
                        m.policies.remove(&project);
                    }
                    Kind::Attestor => {
                        m.attestors.remove(name);
                    }
                    // A key version's state decides whether the attestor keys it backs vouch.
                    Kind::CryptoKey | Kind::CryptoKeyVersion => m.attestors.clear(),
                    Kind::IamPolicy | Kind::CustomRole | Kind::ServiceAccount => m.access.clear(),
                    _ => {}
                },
                Change::Occurrence { note, digest } => {
                    m.attestations.remove(&(note.clone(), digest.clone()));
                }
            }
        }
    }

    /// Forgets every (note, digest) whose attestations include the occurrence `name` (written
    /// or deleted by name, where its note and digest are not at hand).
    pub(crate) fn forget_occurrence(&self, name: &str) {
        let mut m = self.maps();
        m.generation += 1;
        m.attestations
            .retain(|_, found| !found.iter().any(|a| a.name == name));
    }

    pub(crate) fn policy(&self, project: &str) -> Option<(String, Arc<CompiledPolicy>)> {
        self.maps().policies.get(project).cloned()
    }

    pub(crate) fn keep_policy(
        &self,
        generation: u64,
        project: &str,
        etag: String,
        compiled: Arc<CompiledPolicy>,
    ) {
        let mut m = self.maps();
        if self.enabled() && m.generation == generation {
            bounded(&mut m.policies, project.to_owned(), (etag, compiled));
        }
    }

    pub(crate) fn attestor(&self, name: &str) -> Option<CachedAttestor> {
        self.maps().attestors.get(name).cloned()
    }

    pub(crate) fn keep_attestor(&self, generation: u64, name: &str, entry: CachedAttestor) {
        let mut m = self.maps();
        if self.enabled() && m.generation == generation {
            bounded(&mut m.attestors, name.to_owned(), entry);
        }
    }

    /// The cached attestations of each pair (`None` where not cached).
    pub(crate) fn attestations(&self, pairs: &[(String, String)]) -> Vec<Option<Found>> {
        let m = self.maps();
        pairs
            .iter()
            .map(|p| m.attestations.get(p).cloned())
            .collect()
    }

    pub(crate) fn keep_attestations(&self, generation: u64, found: &[((String, String), Found)]) {
        let mut m = self.maps();
        if self.enabled() && m.generation == generation {
            for (pair, f) in found {
                m.held += f.len();
                if m.held > MAX_HELD_ATTESTATIONS {
                    m.attestations.clear();
                    m.held = f.len();
                }
                bounded(&mut m.attestations, pair.clone(), f.clone());
            }
        }
    }

    pub(crate) fn verified(&self, key: &VerifyKey) -> Option<Verified> {
        if !self.enabled() {
            return None;
        }
        self.maps().verified.get(key).cloned()
    }

    pub(crate) fn keep_verified(&self, key: VerifyKey, result: Verified) {
        if self.enabled() {
            bounded(&mut self.maps().verified, key, result);
        }
    }

    pub(crate) fn access(&self, key: &AccessKey) -> Option<Option<String>> {
        self.maps().access.get(key).cloned()
    }

    pub(crate) fn keep_access(&self, generation: u64, key: AccessKey, denial: Option<String>) {
        let mut m = self.maps();
        if self.enabled() && m.generation == generation {
            bounded(&mut m.access, key, denial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(n: usize) -> Found {
        Arc::new(
            (0..n)
                .map(|i| Attestation {
                    name: format!("projects/p/occurrences/{i}"),
                    update_time: String::new(),
                    occurrence: Err("unparsed".into()),
                })
                .collect(),
        )
    }

    #[test]
    fn verify_keys_of_different_parts_differ() {
        let a = verify_key(["ab", "c", "d", "e", "f"]);
        assert_ne!(a, verify_key(["a", "bc", "d", "e", "f"]));
        assert_ne!(a, verify_key(["ab", "c", "d", "e", "g"]));
        assert_eq!(a, verify_key(["ab", "c", "d", "e", "f"]));
        assert_ne!(
            verify_key(["", "", "", "", "x"]),
            verify_key(["x", "", "", "", ""])
        );
    }

    #[test]
    fn the_attestations_held_in_memory_are_bounded() {
        let state = AdmissionState::new(true);
        let pair = |i: usize| (format!("projects/p/notes/n{i}"), format!("sha256:{i}"));
        // 10,000 attestations per (note, digest), as many pairs as fit under the bound.
        let per = 10_000;
        let fit = MAX_HELD_ATTESTATIONS / per;
        for i in 0..fit {
            state.keep_attestations(state.generation(), &[(pair(i), found(per))]);
        }
        let all: Vec<_> = (0..fit).map(pair).collect();
        assert!(state.attestations(&all).iter().all(Option::is_some));
        // One more: the map starts over rather than grow past the bound.
        state.keep_attestations(state.generation(), &[(pair(fit), found(per))]);
        assert!(state.attestations(&all).iter().all(Option::is_none));
        assert!(state.attestations(&[pair(fit)])[0].is_some());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let state = AdmissionState::new(true);
        let pair = ("projects/p/notes/n".to_owned(), "sha256:1".to_owned());
        let before = state.generation();
        state.apply(&[Change::Occurrence {
            note: pair.0.clone(),
            digest: pair.1.clone(),
        }]);
        state.keep_attestations(before, &[(pair.clone(), found(1))]);
        assert!(state.attestations(&[pair])[0].is_none());
    }
}
