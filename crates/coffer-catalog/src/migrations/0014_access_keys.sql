-- Access keys for the AWS Backup API (SigV4), one row per key. The secret
-- is kept only wrapped by the keyring (JSON of the wrapped form, bound to
-- the key ID); the catalog never holds it in clear.
CREATE TABLE access_keys (
    key_id            TEXT NOT NULL PRIMARY KEY,
    user_name         TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    principal         TEXT NOT NULL,
    status            TEXT NOT NULL,
    wrapped           TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    last_used_at      TEXT,
    last_used_region  TEXT,
    version           BIGINT NOT NULL
);
CREATE INDEX access_keys_by_user ON access_keys (account_id, user_name);

-- Refused API requests, counted: one row per (source, reason, hour), so a
-- flood of bad requests increments counts instead of growing the table.
-- The source is the access key named when Coffer knows it, else the
-- peer's address; past a cap of rows in an hour, the rest count in one.
CREATE TABLE auth_refusals (
    source    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    hour      TEXT NOT NULL,
    count     BIGINT NOT NULL,
    first_at  TEXT NOT NULL,
    last_at   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    PRIMARY KEY (source, reason, hour)
);
CREATE INDEX auth_refusals_by_hour ON auth_refusals (hour);
