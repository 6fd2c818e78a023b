-- Each vault's repository secret, only as wrapped by a keyring key
-- (opaque JSON written by coffer-vault), and where its storage lives.
CREATE TABLE vault_secrets (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    vault_name  TEXT NOT NULL,
    location    TEXT NOT NULL,
    wrapped     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (account_id, region, vault_name)
);
