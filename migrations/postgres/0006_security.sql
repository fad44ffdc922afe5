-- Security review (issue 10).

-- Each sign-in attempt is counted before its password is checked; a successful one
-- removes exactly its own rows again.
ALTER TABLE login_failures ADD COLUMN id BIGSERIAL PRIMARY KEY;

-- Protected sets: only admins may deploy them, redeploy or rotate the runtime token of
-- a deployment that uses them.
ALTER TABLE secret_sets ADD COLUMN protected BOOLEAN NOT NULL DEFAULT FALSE;

-- Who last saw a deployment's runtime token (it is shown once, to whoever created or
-- rotated it), and whether it must be rotated because that person lost access.
ALTER TABLE deployments ADD COLUMN token_seen_by BIGINT;
ALTER TABLE deployments ADD COLUMN rotate_token BOOLEAN NOT NULL DEFAULT FALSE;
