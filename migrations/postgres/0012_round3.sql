-- Security round 3 (issue 30). A value's stored digest becomes its full HMAC under the
-- organization's key (64 hex characters; rows from before hold 12 and are recomputed
-- from their sealed values at start-up): it decides equality and is never shown.
-- What pages show is a fingerprint bound to the value's place, derived when shown.
ALTER TABLE secrets RENAME COLUMN fingerprint TO value_mac;
ALTER TABLE secret_history RENAME COLUMN fingerprint TO value_mac;
ALTER TABLE deployment_env RENAME COLUMN fingerprint TO value_mac;

-- Quotas: the bytes of sealed values each organization keeps in its history (each
-- value's length and 40 bytes of nonce and tag), kept current by every change that
-- adds or removes history, and the set versions it made on UTC day `day` (days since
-- 1970): the change that makes a version reads both back from this one row.
CREATE TABLE org_usage (
    org_id        BIGINT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    history_bytes BIGINT NOT NULL DEFAULT 0,
    day           BIGINT NOT NULL DEFAULT 0,
    versions      BIGINT NOT NULL DEFAULT 0
);
INSERT INTO org_usage (org_id, history_bytes)
    SELECT org_id, SUM(value_len + 40) FROM secret_history GROUP BY org_id;
