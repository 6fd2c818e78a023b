-- Idempotency of the AWS Backup API: a request's CreatorRequestId or
-- IdempotencyToken, by account, region and operation, with the answer of
-- the first request that carried it. A row without an answer is a request
-- in progress (reserved before it acts, so two retries at once cannot both
-- act); a failed request removes its row, so a retry acts again.
CREATE TABLE request_tokens (
    account_id  TEXT NOT NULL,
    region      TEXT NOT NULL,
    operation   TEXT NOT NULL,
    token       TEXT NOT NULL,
    principal   TEXT NOT NULL,
    answer      TEXT,
    created_at  TEXT NOT NULL,
    answered_at TEXT,
    PRIMARY KEY (account_id, region, operation, token)
);
