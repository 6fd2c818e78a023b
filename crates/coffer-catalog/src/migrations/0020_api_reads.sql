-- A protected resource's restores, found through its points' ARNs
-- (DescribeProtectedResource) instead of a scan of the region's restores.
CREATE INDEX restore_jobs_by_point ON restore_jobs (recovery_point_arn, creation_date);

-- The SHA-256 of the parameters of the request that first carried a
-- token: a retry with the same token and other parameters is refused and
-- changes nothing. Rows from before have none and are not compared.
ALTER TABLE request_tokens ADD COLUMN request_sha256 TEXT;

-- A plan's last execution (GetBackupPlan's LastExecutionDate): its newest
-- job that ran, walked back from the newest.
CREATE INDEX backup_jobs_by_plan ON backup_jobs (account_id, region, plan_name, creation_date);
