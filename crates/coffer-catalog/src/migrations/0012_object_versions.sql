-- Object history: every version of each ledgered policy object (vaults,
-- plans, selections, frameworks, report plans) as it was written, and
-- each deletion as a tombstone (an empty document), with the ledger entry
-- that commits to it: the entry's doc_sha256 is the SHA-256 of `doc`, and
-- its time, event and actor are the version's. Written in the transaction
-- of the change. Versions of a name are numbered 1, 2, ... across
-- deletions and re-creations.
CREATE TABLE object_versions (
    kind             TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    region           TEXT NOT NULL,
    name             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    arn              TEXT NOT NULL,
    change_kind      TEXT NOT NULL,
    doc              TEXT NOT NULL,
    time             TEXT NOT NULL,
    stack            TEXT NOT NULL,
    actor_principal  TEXT,
    actor_account    TEXT,
    actor_os_user    TEXT,
    ledger_seq       BIGINT NOT NULL,
    PRIMARY KEY (kind, account_id, region, name, version)
);

-- The version in force at a time: the newest of a name at or before it.
CREATE INDEX object_versions_by_time ON object_versions (kind, account_id, region, name, time);

-- Evidence verify walks the versions in ledger order; an entry commits to
-- one version.
CREATE UNIQUE INDEX object_versions_by_seq ON object_versions (ledger_seq);

-- Where the history begins: every ledger entry from this position on that
-- creates, updates, deletes or records a ledgered object has its version.
CREATE TABLE object_history_start (
    first_seq  BIGINT NOT NULL
);
INSERT INTO object_history_start (first_seq) SELECT COALESCE(MAX(seq) + 1, 0) FROM ledger;
