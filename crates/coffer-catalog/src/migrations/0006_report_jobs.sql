-- Report jobs: each run of a report plan, with its state and destination.
CREATE TABLE report_jobs (
    id                 TEXT NOT NULL PRIMARY KEY,
    account_id         TEXT NOT NULL,
    region             TEXT NOT NULL,
    report_plan_name   TEXT NOT NULL,
    status             TEXT NOT NULL,
    creation_time      TEXT NOT NULL,
    doc                TEXT NOT NULL,
    version            BIGINT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX report_jobs_by_plan ON report_jobs (report_plan_name, creation_time);
