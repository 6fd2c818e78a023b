-- Coffer catalog, version 1. Portable SQL: runs unchanged on SQLite and
-- PostgreSQL. Timestamps are UTC RFC 3339 text with millisecond precision
-- (fixed width, so they sort as text); documents are JSON text in the AWS
-- field names of the model.

-- Policy objects (vaults, plans, selections, frameworks, report plans) and
-- inventory declarations (servers, S3 endpoints), keyed by kind and name.
CREATE TABLE objects (
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    id          TEXT NOT NULL,
    arn         TEXT NOT NULL,
    stack       TEXT NOT NULL,
    doc         TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (kind, account_id, region, name)
);
CREATE INDEX objects_by_stack ON objects (stack);
CREATE INDEX objects_by_arn ON objects (arn);

-- Protected resources. `stack` is the stack whose inventory declared it
-- (discovered resources carry the stack of the server they came from).
CREATE TABLE resources (
    arn           TEXT NOT NULL PRIMARY KEY,
    resource_type TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    region        TEXT NOT NULL,
    name          TEXT NOT NULL,
    stack         TEXT NOT NULL,
    doc           TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX resources_by_type ON resources (resource_type, account_id, region);
CREATE INDEX resources_by_stack ON resources (stack);

-- Stacks: what was last applied under each name.
CREATE TABLE stacks (
    name        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    files       TEXT NOT NULL,
    applied_at  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (name)
);

CREATE TABLE recovery_points (
    id               TEXT NOT NULL PRIMARY KEY,
    arn              TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL,
    region           TEXT NOT NULL,
    vault_name       TEXT NOT NULL,
    resource_arn     TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    status           TEXT NOT NULL,
    storage_class    TEXT NOT NULL,
    creation_date    TEXT NOT NULL,
    delete_at        TEXT,
    move_to_cold_at  TEXT,
    size_bytes       BIGINT NOT NULL,
    doc              TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX recovery_points_by_vault ON recovery_points (account_id, region, vault_name);
CREATE INDEX recovery_points_by_resource ON recovery_points (resource_arn, creation_date);

CREATE TABLE backup_jobs (
    id                 TEXT NOT NULL PRIMARY KEY,
    account_id         TEXT NOT NULL,
    region             TEXT NOT NULL,
    vault_name         TEXT NOT NULL,
    resource_arn       TEXT NOT NULL,
    resource_type      TEXT NOT NULL,
    state              TEXT NOT NULL,
    plan_name          TEXT,
    rule_name          TEXT,
    creation_date      TEXT NOT NULL,
    completion_date    TEXT,
    recovery_point_arn TEXT,
    doc                TEXT NOT NULL,
    version            BIGINT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX backup_jobs_by_state ON backup_jobs (state);
CREATE INDEX backup_jobs_by_resource ON backup_jobs (resource_arn, creation_date);
CREATE INDEX backup_jobs_by_creation ON backup_jobs (creation_date);

CREATE TABLE copy_jobs (
    id                         TEXT NOT NULL PRIMARY KEY,
    account_id                 TEXT NOT NULL,
    region                     TEXT NOT NULL,
    resource_arn               TEXT NOT NULL,
    state                      TEXT NOT NULL,
    source_recovery_point_arn  TEXT NOT NULL,
    destination_vault_arn      TEXT NOT NULL,
    creation_date              TEXT NOT NULL,
    completion_date            TEXT,
    doc                        TEXT NOT NULL,
    version                    BIGINT NOT NULL,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);
CREATE INDEX copy_jobs_by_state ON copy_jobs (state);
CREATE INDEX copy_jobs_by_creation ON copy_jobs (creation_date);

CREATE TABLE restore_jobs (
    id                  TEXT NOT NULL PRIMARY KEY,
    account_id          TEXT NOT NULL,
    region              TEXT NOT NULL,
    recovery_point_arn  TEXT NOT NULL,
    status              TEXT NOT NULL,
    creation_date       TEXT NOT NULL,
    completion_date     TEXT,
    doc                 TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX restore_jobs_by_status ON restore_jobs (status);

CREATE TABLE legal_holds (
    id          TEXT NOT NULL PRIMARY KEY,
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
