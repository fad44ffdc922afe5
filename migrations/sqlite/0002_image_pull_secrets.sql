-- Image pull secrets: credentials for private container registries. Immutable: a
-- change is a delete and a create. sealed_auth = sealed base64("username:password").
CREATE TABLE image_pull_secrets (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    registry    TEXT NOT NULL,
    username    TEXT NOT NULL,
    sealed_auth BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, name)
);
