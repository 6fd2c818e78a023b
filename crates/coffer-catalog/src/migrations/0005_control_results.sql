-- Control results, kept with history: one row per (evaluation, control,
-- resource).
CREATE TABLE control_results (
    id              TEXT NOT NULL PRIMARY KEY,
    account_id      TEXT NOT NULL,
    region          TEXT NOT NULL,
    framework_name  TEXT NOT NULL,
    control_name    TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    evaluated_at    TEXT NOT NULL,
    doc             TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX control_results_by_framework ON control_results (framework_name, evaluated_at);
