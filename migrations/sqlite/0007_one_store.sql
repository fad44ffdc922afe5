-- One storage layer over both databases: the same ids and indexes as PostgreSQL.

-- Sign-in attempts get an id column (PostgreSQL's has one) instead of the rowid.
CREATE TABLE login_failures_new (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    at    INTEGER NOT NULL
);
INSERT INTO login_failures_new (scope, at) SELECT scope, at FROM login_failures ORDER BY rowid;
DROP TABLE login_failures;
ALTER TABLE login_failures_new RENAME TO login_failures;
CREATE INDEX login_failures_scope ON login_failures (scope, at);

-- Expired sessions are deleted by time, as on PostgreSQL.
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
