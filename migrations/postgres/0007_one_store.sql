-- One storage layer over both databases: emails are stored case-folded by the
-- application (the same rule on both databases), so the unique index is on the
-- stored address itself.
DROP INDEX IF EXISTS users_email_lower;
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email);
