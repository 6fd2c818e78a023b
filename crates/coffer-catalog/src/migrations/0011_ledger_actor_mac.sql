-- Ledger entry format 2: each entry names its actor (principal ARN,
-- account, operating-system user) and carries a MAC under a key kept
-- outside the catalog. Entries written before keep format 1 and verify as
-- they always did.
ALTER TABLE ledger ADD COLUMN format BIGINT NOT NULL DEFAULT 1;
ALTER TABLE ledger ADD COLUMN actor_principal TEXT;
ALTER TABLE ledger ADD COLUMN actor_account TEXT;
ALTER TABLE ledger ADD COLUMN actor_os_user TEXT;
ALTER TABLE ledger ADD COLUMN mac TEXT;

-- What `evidence log` filters on, newest first.
CREATE INDEX ledger_by_actor ON ledger (actor_principal, seq);
CREATE INDEX ledger_by_kind ON ledger (kind, seq);
CREATE INDEX ledger_by_time ON ledger (time, seq);
