-- Admission decisions: every allow, deny, dry-run and breakglass, queryable by what operators
-- ask first (denials, dry runs, breakglass) without scanning.
CREATE TABLE audit_records (
    seq        BIGSERIAL PRIMARY KEY,
    time       TEXT    NOT NULL,
    project    TEXT    NOT NULL,
    cluster    TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    verdict    TEXT    NOT NULL,
    breakglass BOOLEAN NOT NULL,
    dry_run    BOOLEAN NOT NULL,
    body       TEXT    NOT NULL
);
CREATE INDEX audit_by_project ON audit_records (project, seq);
CREATE INDEX audit_by_verdict ON audit_records (project, verdict, seq);
CREATE INDEX audit_by_namespace ON audit_records (project, namespace, seq);
