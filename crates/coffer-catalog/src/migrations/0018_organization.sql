-- The organization of the deployment, as last applied (one row at most):
-- its model document (units, accounts, the management account and the
-- backup delegated administrator, the policies and their attachments),
-- the files it was read from with their SHA-256, and its version. The
-- plans and selections it makes in each account are objects owned by the
-- organization (objects.stack = '@organization').
CREATE TABLE organization (
    id          TEXT NOT NULL PRIMARY KEY,
    doc         TEXT NOT NULL,
    files       TEXT NOT NULL,
    applied_at  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
