-- Nothing is ever lost (issue 13): every version of every set, recently deleted sets,
-- and each deployment revision's settings. Never a plaintext value.

-- One row per version of a set: who made it, when, from where, and what it changed
-- against the version before (keys only, one per line).
CREATE TABLE secret_versions (
    set_id  BIGINT NOT NULL,
    org_id  BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    source  TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    added   TEXT NOT NULL DEFAULT '',
    changed TEXT NOT NULL DEFAULT '',
    removed TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (set_id, version)
);

-- The values of every kept version: a row holds one key's value from version `since`
-- up to (not including) version `until`, NULL while it is current. `sealed` is sealed
-- for the set name `sealed_for` (the name the set had when the value was written).
CREATE TABLE secret_history (
    set_id      BIGINT NOT NULL,
    org_id      BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    since       BIGINT NOT NULL,
    until       BIGINT,
    sealed_for  TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    fingerprint TEXT NOT NULL,
    value_len   BIGINT NOT NULL,
    PRIMARY KEY (set_id, key, since)
);
CREATE INDEX secret_history_until ON secret_history (set_id, until);
-- Finding a value by fingerprint (issue 14) and purging read these.
CREATE INDEX secret_history_org ON secret_history (org_id, fingerprint);

-- A deleted set, recoverable until it is purged. `id` is the set's id, which its
-- versions and history keep.
CREATE TABLE deleted_sets (
    id         BIGINT PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    protected  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    key_count  BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    deleted_by TEXT NOT NULL
);
CREATE INDEX deleted_sets_org ON deleted_sets (org_id, deleted_at);

-- Each kept revision of a deployment: its settings, and which set version its
-- environment (in deployment_env) was taken from.
CREATE TABLE deployment_revisions (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    revision      BIGINT NOT NULL,
    image         TEXT NOT NULL,
    secret_set    TEXT,
    set_id        BIGINT,
    set_version   BIGINT,
    pull_secret   TEXT,
    region        TEXT NOT NULL,
    min_agents    BIGINT NOT NULL,
    max_agents    BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    rollback_of   BIGINT,
    PRIMARY KEY (deployment_id, revision)
);
CREATE INDEX deployment_revisions_set ON deployment_revisions (set_id, set_version);

-- What existed before history: each set's current keys become its current version.
INSERT INTO secret_versions (set_id, org_id, version, at, actor, source, action, detail, added)
    SELECT s.id, s.org_id, s.revision, s.updated_at, 'cloakroom', 'migration', 'baseline',
           'recorded when history began',
           COALESCE((SELECT string_agg(k.key, E'\n' ORDER BY k.key COLLATE "C") FROM secrets k
                     WHERE k.set_id = s.id), '')
    FROM secret_sets s WHERE s.revision > 0;
INSERT INTO secret_history (set_id, org_id, key, since, until, sealed_for, sealed, fingerprint, value_len)
    SELECT k.set_id, k.org_id, k.key, s.revision, NULL, s.name, k.sealed, k.fingerprint, k.value_len
    FROM secrets k JOIN secret_sets s ON s.id = k.set_id WHERE s.revision > 0;
-- Each deployment's current revision is listed with its settings. Older revisions'
-- settings were never recorded, so they are not offered for rollback (their
-- environments stay until newer revisions push them out). The set version is known
-- only when the set has not changed since the deploy (the baseline version above).
INSERT INTO deployment_revisions (deployment_id, revision, image, secret_set, set_id, set_version,
        pull_secret, region, min_agents, max_agents, at, actor)
    SELECT d.id, d.revision, d.image, d.secret_set, s.id,
           CASE WHEN d.set_revision = s.revision THEN s.revision END,
           d.pull_secret, d.region, d.min_agents, d.max_agents, d.deployed_at,
           'cloakroom (before history)'
    FROM deployments d
    LEFT JOIN secret_sets s ON s.org_id = d.org_id AND s.name = d.secret_set;

-- Finding where a value lives goes through fingerprints (an index, never a scan that
-- decrypts everything).
CREATE INDEX secrets_org_fingerprint ON secrets (org_id, fingerprint);
CREATE INDEX deployment_env_fingerprint ON deployment_env (fingerprint);
