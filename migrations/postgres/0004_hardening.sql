-- Sessions end after a period without use as well as at their absolute expiry.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen = created_at;

-- Failed sign-ins per account and per client address, for rate limiting. Shared by
-- every instance that uses this database. Scopes are hashes, never typed text.
CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures (scope, at);
