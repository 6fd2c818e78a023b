-- The newest entry of a row's own kind, which the catalog's agreement with
-- the ledger seeks once per row: one index seek on (subject, kind). With
-- only (subject, seq) and (kind, seq), SQLite's planner takes the kind's
-- index for MAX(seq) and walks every entry of the kind for each row.
CREATE INDEX ledger_by_subject_kind ON ledger (subject, kind, seq);
