-- Every resource but occurrences: policies, attestors, notes, IAM policies, KMS key rings,
-- keys and versions, continuous-validation configs. `seq` orders pages stably.
CREATE TABLE resources (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    parent      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    secret      BLOB,
    version     INTEGER NOT NULL,
    create_time TEXT    NOT NULL,
    update_time TEXT    NOT NULL,
    UNIQUE (kind, name)
);
CREATE INDEX resources_by_parent ON resources (kind, parent, seq);

-- Grafeas occurrences, with the columns filters test broken out and indexed, so a lookup by
-- resource (gcloud's has_suffix(resourceUrl, "sha256:…")) never scans.
CREATE TABLE occurrences (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    project          TEXT NOT NULL,
    note_name        TEXT NOT NULL,
    note_project     TEXT NOT NULL,
    note_id          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    resource_uri     TEXT NOT NULL,
    resource_uri_rev TEXT NOT NULL,
    resource_digest  TEXT NOT NULL,
    body             TEXT NOT NULL,
    version          INTEGER NOT NULL,
    create_time      TEXT NOT NULL,
    update_time      TEXT NOT NULL
);
CREATE INDEX occurrences_by_project ON occurrences (project, seq);
CREATE INDEX occurrences_by_note ON occurrences (note_name, seq);
CREATE INDEX occurrences_by_project_digest ON occurrences (project, resource_digest);
CREATE INDEX occurrences_by_note_digest ON occurrences (note_name, resource_digest);
CREATE INDEX occurrences_by_resource ON occurrences (resource_uri);
CREATE INDEX occurrences_by_resource_rev ON occurrences (resource_uri_rev);
