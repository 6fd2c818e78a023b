-- The evidence ledger: an append-only, hash-chained log of every change
-- that matters to an auditor, written in the transaction of the change.
CREATE TABLE ledger (
    seq         BIGINT NOT NULL PRIMARY KEY,
    time        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    event       TEXT NOT NULL,
    doc_sha256  TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    entry_hash  TEXT NOT NULL
);

-- Signed checkpoints of the ledger's Merkle tree.
CREATE TABLE ledger_checkpoints (
    tree_size        BIGINT NOT NULL,
    root_hash        TEXT NOT NULL,
    time             TEXT NOT NULL,
    key_fingerprint  TEXT NOT NULL,
    signature        TEXT NOT NULL,
    PRIMARY KEY (tree_size, time)
);
