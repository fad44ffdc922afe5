-- Deployments: agents that receive a secret set as environment variables. Each deploy
-- records a revision whose env is an immutable snapshot of the set's sealed values
-- (the ciphertexts are copied as they are: they stay bound to their set and key).
CREATE TABLE deployments (
    id                 INTEGER PRIMARY KEY,
    org_id             INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    image              TEXT NOT NULL,
    secret_set         TEXT,
    pull_secret        TEXT,
    region             TEXT NOT NULL,
    min_agents         INTEGER NOT NULL,
    max_agents         INTEGER NOT NULL,
    revision           INTEGER NOT NULL,
    -- The set's revision at the time of the current deploy; differs once the set changes.
    set_revision       INTEGER,
    runtime_token_hash BLOB NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    deployed_at        INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE deployment_env (
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    key           TEXT NOT NULL,
    set_name      TEXT NOT NULL,
    sealed        BLOB NOT NULL,
    fingerprint   TEXT NOT NULL,
    PRIMARY KEY (deployment_id, revision, key)
);
