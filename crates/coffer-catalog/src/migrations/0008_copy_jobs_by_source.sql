-- A backup's copy actions look up their copy jobs by source point and
-- destination vault (each completed job, at start-up and as copies run).
CREATE INDEX copy_jobs_by_source ON copy_jobs (source_recovery_point_arn, destination_vault_arn);
