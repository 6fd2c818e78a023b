-- The object a create request with a CreatorRequestId made (its ARN),
-- kept with the token when the answer is recorded, so the reads of that
-- object echo the token (DescribeBackupVault, GetBackupPlan, ...). Rows
-- from before, and tokens of other operations, have none.
ALTER TABLE request_tokens ADD COLUMN created_arn TEXT;

-- The tokens of the objects a read answers with, by their ARNs.
CREATE INDEX request_tokens_by_created_arn ON request_tokens (created_arn);
