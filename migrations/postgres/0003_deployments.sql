-- Deployments: agents that receive a secret set as environment variables. Each deploy
-- records a revision whose env is an immutable snapshot of the set's sealed values
-- (the ciphertexts are copied as they are: they stay bound to their set and key).
CREATE TABLE deployments (
    id                 BIGSERIAL PRIMARY KEY,
    org_id             BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    image              TEXT NOT NULL,
    secret_set         TEXT,
    pull_secret        TEXT,
    region             TEXT NOT NULL,
    min_agents         BIGINT NOT NULL,
    max_agents         BIGINT NOT NULL,
    revision           BIGINT NOT NULL,
    -- The set's revision at the time of the current deploy; differs once the set changes.
    set_revision       BIGINT,
    runtime_token_hash BYTEA NOT NULL UNIQUE,
    created_at         BIGINT NOT NULL,
    deployed_at        BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE deployment_env (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    revision      BIGINT NOT NULL,
    key           TEXT NOT NULL,
    set_name      TEXT NOT NULL,
    sealed        BYTEA NOT NULL,
    fingerprint   TEXT NOT NULL,
    PRIMARY KEY (deployment_id, revision, key)
);
