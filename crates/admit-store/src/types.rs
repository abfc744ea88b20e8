use admit_model::Filter;
use async_trait::async_trait;
use serde_json::Value;

use crate::StoreError;

/// The resource collections kept in the generic resource table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Policy,
    Attestor,
    Note,
    IamPolicy,
    KeyRing,
    CryptoKey,
    CryptoKeyVersion,
    ContinuousValidationConfig,
    PlatformPolicy,
    /// Service Usage: an API's state in a project.
    Service,
    /// IAM: a Google service account.
    ServiceAccount,
    /// IAM: a custom role defined in a project.
    CustomRole,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Policy,
        Kind::Attestor,
        Kind::Note,
        Kind::IamPolicy,
        Kind::KeyRing,
        Kind::CryptoKey,
        Kind::CryptoKeyVersion,
        Kind::ContinuousValidationConfig,
        Kind::PlatformPolicy,
        Kind::Service,
        Kind::ServiceAccount,
        Kind::CustomRole,
    ];

    /// The kind stored as `s` (the inverse of `as_str`).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::Attestor => "attestor",
            Kind::Note => "note",
            Kind::IamPolicy => "iam",
            Kind::KeyRing => "keyring",
            Kind::CryptoKey => "cryptokey",
            Kind::CryptoKeyVersion => "cryptokeyversion",
            Kind::ContinuousValidationConfig => "cvconfig",
            Kind::PlatformPolicy => "platformpolicy",
            Kind::Service => "service",
            Kind::ServiceAccount => "serviceaccount",
            Kind::CustomRole => "customrole",
        }
    }
}

/// A stored resource: its JSON body (as the API returns it, minus output-only fields the
/// service fills from the columns) and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub name: String,
    pub body: Value,
    /// Opaque, padded base64 (valid as an IAM etag too).
    pub etag: String,
    pub create_time: String,
    pub update_time: String,
}

/// What must hold for a write to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Create: fail with AlreadyExists if present.
    MustNotExist,
    /// Update: fail with NotFound if absent; with an etag, ABORTED if it differs.
    MustExist { etag: Option<String> },
    /// Upsert (singletons such as a project's policy); with an etag, ABORTED if it differs.
    Any { etag: Option<String> },
    /// Read-modify-write: the resource is still as it was read, at `etag`, or still absent
    /// when `None`; ABORTED otherwise (so the caller reads again and redoes its change).
    Unchanged { etag: Option<String> },
}

/// A page request. `size` 0 means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub size: u32,
    pub token: Option<String>,
}

impl Page {
    pub const DEFAULT_SIZE: u32 = 100;
    pub const MAX_SIZE: u32 = 1000;

    pub(crate) fn limit(&self) -> u32 {
        match self.size {
            0 => Self::DEFAULT_SIZE,
            n => n.min(Self::MAX_SIZE),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// Which occurrences a list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OccurrenceScope {
    /// `projects/{p}/occurrences`.
    Project(String),
    /// `projects/{p}/notes/{n}/occurrences` (the note's full name).
    Note(String),
}

/// One audit record as it is stored: the fields lists filter on, and the whole record as JSON
/// text, serialized once and shared (the on-disk log and stdout write the same text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub time: String,
    pub project: String,
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub user: String,
    pub verdict: String,
    pub breakglass: bool,
    pub dry_run: bool,
    /// The record, compact JSON (one line).
    pub body: std::sync::Arc<str>,
}

impl AuditEntry {
    /// The entry of `record` (a JSON object with `time`, `project`, `cluster`, `namespace`,
    /// `kind`, `name`, `user`, `verdict`, `breakglass`, `dryRun`; missing ones are empty or
    /// false), whose text is `body`.
    pub fn with_body(record: &Value, body: std::sync::Arc<str>) -> Self {
        let s = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let b = |k: &str| record.get(k).and_then(Value::as_bool).unwrap_or(false);
        AuditEntry {
            time: s("time"),
            project: s("project"),
            cluster: s("cluster"),
            namespace: s("namespace"),
            kind: s("kind"),
            name: s("name"),
            user: s("user"),
            verdict: s("verdict"),
            breakglass: b("breakglass"),
            dry_run: b("dryRun"),
            body,
        }
    }

    /// The entry of `record`, serializing it.
    pub fn new(record: &Value) -> Self {
        Self::with_body(record, record.to_string().into())
    }
}

/// The stored copy of one on-disk audit log ([`Store::audit_copied`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditCopied {
    pub records: u64,
    pub lowest: u64,
    pub highest: u64,
}

impl AuditCopied {
    /// Whether records are missing between the lowest and the highest stored.
    pub fn has_holes(&self) -> bool {
        self.records > 0 && self.records < self.highest - self.lowest + 1
    }
}

/// Which audit records to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub verdict: Option<String>,
    pub namespace: Option<String>,
    pub cluster: Option<String>,
    pub kind: Option<String>,
    pub user: Option<String>,
    pub breakglass: Option<bool>,
    pub dry_run: Option<bool>,
    /// Records at or after this time (RFC 3339 as `admit_model::rfc3339` writes it).
    pub since: Option<String>,
    /// Records at or before this time (same form).
    pub until: Option<String>,
    /// Newest first (page tokens then walk backwards).
    pub newest_first: bool,
}

/// A committed change to something admission keeps in memory, as the change feed reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A resource (policy, attestor, key version, IAM policy, …) was created, written or deleted.
    Resource { kind: Kind, name: String },
    /// An occurrence under `note` about `digest` (empty when its resource is not pinned to one)
    /// was created, written or deleted.
    Occurrence { note: String, digest: String },
}

/// What a change feed says, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// The feed follows every commit from now on. Whatever was cached before may be stale:
    /// sent first and again after every interruption.
    Live,
    /// Commits seen since the last event.
    Changes(Vec<Change>),
    /// The feed stopped following commits (why). Until the next `Live`, nothing cached may be
    /// trusted without asking the database.
    Down(String),
}

/// The digest an occurrence's resource is pinned to (`…@sha256:HEX`), as the store indexes it;
/// empty when there is none.
pub fn pinned_digest(resource_uri: &str) -> &str {
    resource_uri.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// The storage interface every backend implements.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Follows every commit to resources and occurrences, by this process or any other writer
    /// of the same database, sending what changed to `events` until it closes. Starts with
    /// `Live`; says `Down` (and later `Live` again) when it cannot follow.
    async fn follow_changes(&self, events: tokio::sync::mpsc::Sender<FeedEvent>);

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Doc>, StoreError>;

    /// A resource's etag, without reading its body: the cheap freshness check of a cache
    /// holding what was built from it. `None` when it does not exist.
    async fn etag(&self, kind: Kind, name: &str) -> Result<Option<String>, StoreError>;

    #[allow(
        clippy::too_many_arguments,
        reason = "one call carries a whole conditional write"
    )]
    /// Writes `body` (and, for key versions, the wrapped `secret`) under `pre`; returns the
    /// stored document with its new etag and times. `secret`: `None` keeps the stored one,
    /// `Some(b"")` erases it.
    async fn put(
        &self,
        kind: Kind,
        name: &str,
        parent: &str,
        body: &Value,
        secret: Option<&[u8]>,
        pre: Precondition,
        now: &str,
    ) -> Result<Doc, StoreError>;

    /// Creates every `(name, parent, body)` of `kind` in one transaction: all or none (the
    /// first that exists already fails the whole call with AlreadyExists).
    async fn create_all(
        &self,
        kind: Kind,
        items: &[(String, String, Value)],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError>;

    /// Deletes a resource and, in the same transaction, its IAM policy. With `etag`, only if
    /// the resource still has it (ABORTED otherwise); without, whatever is stored.
    async fn delete(&self, kind: Kind, name: &str, etag: Option<&str>) -> Result<(), StoreError>;

    async fn list(&self, kind: Kind, parent: &str, page: &Page) -> Result<Listed<Doc>, StoreError>;

    /// The wrapped secret stored with a resource.
    async fn secret(&self, kind: Kind, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Creates occurrences atomically: all or none. Each body must carry `name`,
    /// `noteName`, `resourceUri` and `kind`.
    async fn create_occurrences(&self, bodies: &[Value], now: &str)
    -> Result<Vec<Doc>, StoreError>;

    async fn get_occurrence(&self, name: &str) -> Result<Option<Doc>, StoreError>;

    /// Replaces an occurrence's body (the service applies the update mask). With `etag`, only
    /// if the stored occurrence still has it: ABORTED otherwise, so a read-modify-write never
    /// overwrites a concurrent change.
    async fn update_occurrence(
        &self,
        name: &str,
        body: &Value,
        now: &str,
        etag: Option<&str>,
    ) -> Result<Doc, StoreError>;

    /// Deletes an occurrence and, in the same transaction, its IAM policy. With `etag`, only if
    /// the occurrence still has it (ABORTED otherwise); without, whatever is stored.
    async fn delete_occurrence(&self, name: &str, etag: Option<&str>) -> Result<(), StoreError>;

    /// Appends an admission audit record (a JSON object with `time`, `project`, `cluster`,
    /// `namespace`, `kind`, `name`, `user`, `verdict`, `breakglass`, `dryRun`).
    async fn append_audit(&self, record: &Value) -> Result<(), StoreError> {
        self.append_audit_batch(&[AuditEntry::new(record)]).await
    }

    /// Appends several audit records in one transaction: all or none (group commit).
    async fn append_audit_batch(&self, records: &[AuditEntry]) -> Result<(), StoreError>;

    /// Appends records copied from the on-disk audit log `log_id`, numbered from `first_seq`,
    /// in one transaction; records of that log and number stored already are skipped, so a
    /// copy may be repeated (after a crash, a retry) without storing any twice.
    async fn ingest_audit(
        &self,
        log_id: &str,
        first_seq: u64,
        records: &[AuditEntry],
    ) -> Result<(), StoreError>;

    /// How much of the on-disk audit log `log_id` is stored: how many records, the lowest and
    /// the highest number (zeros when none). Fewer records than the span between them means
    /// rows were removed from the middle.
    async fn audit_copied(&self, log_id: &str) -> Result<AuditCopied, StoreError>;

    /// Deletes the audit records older than `before` (RFC 3339), at most `limit` of them;
    /// returns how many were deleted (retention: call again while it returns `limit`).
    async fn prune_audit(&self, before: &str, limit: u32) -> Result<u64, StoreError>;

    /// Audit records of `project`, oldest first.
    async fn list_audit(
        &self,
        project: &str,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Listed<Value>, StoreError>;

    async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: Option<&Filter>,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError>;

    /// The admission lookup: the ATTESTATION occurrences under `note` whose resource is pinned
    /// to `digest` (`…@sha256:HEX`), oldest first, at most `limit` (ask for one more than you
    /// accept to tell "too many"). One indexed query (note, digest).
    async fn attestations(
        &self,
        note: &str,
        digest: &str,
        limit: u32,
    ) -> Result<Vec<Doc>, StoreError> {
        let mut found = self
            .attestations_of(&[(note.to_owned(), digest.to_owned())], limit)
            .await?;
        Ok(found.pop().unwrap_or_default())
    }

    /// The same lookup for every `(note, digest)` pair a review needs, fetched together: for
    /// each pair, in order, its attestations (at most `limit` each). One statement for up to
    /// 200 pairs.
    async fn attestations_of(
        &self,
        pairs: &[(String, String)],
        limit: u32,
    ) -> Result<Vec<Vec<Doc>>, StoreError>;
}
