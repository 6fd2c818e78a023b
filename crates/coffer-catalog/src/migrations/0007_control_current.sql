-- The current result of each (framework, control, resource). An evaluation
-- records a result (in control_results, and so in the ledger) only when it
-- differs from the current one, and retires the current result of what it
-- no longer evaluates (an expired recovery point, a resource that is
-- gone): an evaluation of an unchanged estate writes one row.
CREATE TABLE control_current (
    account_id      TEXT NOT NULL,
    region          TEXT NOT NULL,
    framework_name  TEXT NOT NULL,
    control_name    TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    -- SHA-256 of control and resource, 128 bits as hex: what an evaluation
    -- compares, read from the index below alone.
    key_hash        TEXT NOT NULL,
    status          TEXT NOT NULL,
    digest          TEXT NOT NULL,
    result_id       TEXT NOT NULL,
    PRIMARY KEY (account_id, region, framework_name, control_name, resource_id)
);
CREATE UNIQUE INDEX control_current_by_key
    ON control_current (account_id, region, framework_name, key_hash, digest);

-- Each evaluation of a framework: when, the roll-up, what changed.
CREATE TABLE framework_evaluations (
    id              TEXT NOT NULL PRIMARY KEY,
    account_id      TEXT NOT NULL,
    region          TEXT NOT NULL,
    framework_name  TEXT NOT NULL,
    status          TEXT NOT NULL,
    evaluated_at    TEXT NOT NULL,
    doc             TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX framework_evaluations_by_framework
    ON framework_evaluations (account_id, region, framework_name, evaluated_at);

-- What controls read of recovery points, as index seeks: completed points
-- of an account and region in ID order (a page at a time), and each
-- resource's newest completed point (a grouped scan of the index alone).
CREATE INDEX recovery_points_by_place_status_id
    ON recovery_points (account_id, region, status, id);
CREATE INDEX recovery_points_by_status_resource
    ON recovery_points (status, resource_arn, creation_date);

-- What reports read: jobs that ended in a window, and the newest ledger
-- entry of each record a row shows.
CREATE INDEX backup_jobs_by_completion ON backup_jobs (completion_date);
CREATE INDEX copy_jobs_by_completion ON copy_jobs (completion_date);
CREATE INDEX restore_jobs_by_completion ON restore_jobs (completion_date);
CREATE INDEX ledger_by_subject ON ledger (subject, seq);
