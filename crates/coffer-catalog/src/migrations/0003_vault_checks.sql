-- Scheduled checks of vault storage (structure plus a rotating subset of
-- data read back) and their results.
CREATE TABLE vault_checks (
    id            TEXT NOT NULL PRIMARY KEY,
    account_id    TEXT NOT NULL,
    region        TEXT NOT NULL,
    vault_name    TEXT NOT NULL,
    passed        BIGINT NOT NULL,
    completed_at  TEXT NOT NULL,
    doc           TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX vault_checks_by_vault ON vault_checks (account_id, region, vault_name, completed_at);
