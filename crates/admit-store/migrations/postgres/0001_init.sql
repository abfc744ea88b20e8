-- Every resource but occurrences; `seq` orders pages stably.
CREATE TABLE resources (
    seq         BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    parent      TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    secret      BYTEA,
    version     BIGINT NOT NULL,
    create_time TEXT   NOT NULL,
    update_time TEXT   NOT NULL,
    UNIQUE (kind, name)
);
CREATE INDEX resources_by_parent ON resources (kind, parent, seq);

-- Occurrences with the filter columns broken out. The URI columns use the "C" collation so
-- prefix ranges (has_prefix, and has_suffix on the reversed URI) compare bytes and use the index.
CREATE TABLE occurrences (
    seq              BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    project          TEXT NOT NULL,
    note_name        TEXT NOT NULL,
    note_project     TEXT NOT NULL,
    note_id          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    resource_uri     TEXT COLLATE "C" NOT NULL,
    resource_uri_rev TEXT COLLATE "C" NOT NULL,
    resource_digest  TEXT NOT NULL,
    body             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    create_time      TEXT NOT NULL,
    update_time      TEXT NOT NULL
);
CREATE INDEX occurrences_by_project ON occurrences (project, seq);
CREATE INDEX occurrences_by_note ON occurrences (note_name, seq);
CREATE INDEX occurrences_by_project_digest ON occurrences (project, resource_digest);
CREATE INDEX occurrences_by_note_digest ON occurrences (note_name, resource_digest);
CREATE INDEX occurrences_by_resource ON occurrences (resource_uri);
CREATE INDEX occurrences_by_resource_rev ON occurrences (resource_uri_rev);
