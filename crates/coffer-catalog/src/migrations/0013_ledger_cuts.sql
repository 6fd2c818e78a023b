-- Declared cuts of the evidence ledger: when the catalog was restored from
-- an older copy or recreated, the entries it lost are named by a signed
-- record, appended as a ledger entry of kind 'ledger cut' whose doc_sha256
-- is the SHA-256 of doc. seq is that entry's position.
CREATE TABLE ledger_cuts (
    seq        BIGINT NOT NULL PRIMARY KEY,
    doc        TEXT NOT NULL,
    signature  TEXT NOT NULL
);
