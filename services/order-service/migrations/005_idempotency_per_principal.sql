-- An Idempotency-Key belongs to the principal that sent it (SPEC 7): another
-- principal's same key is another key. Keys made before have no principal
-- (''): a retry of such a request after the upgrade is a new request. The
-- fingerprint is now the SHA-256 of the canonical body (64 hex digits).
-- Keys are kept IDEMPOTENCY_KEY_RETENTION_H hours (at least 24), then the
-- retention job removes them (by created_at).
ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ALTER COLUMN principal DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (principal, key);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
