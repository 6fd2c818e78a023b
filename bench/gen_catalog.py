#!/usr/bin/env python3
"""Fills a Coffer SQLite catalog with a synthetic estate for the audit
benchmark: resources of four types, their backup jobs, recovery points and
restore jobs, as the catalog stores them (indexed columns plus the model's
JSON document), generated inside SQLite so ten million rows take minutes.

    gen_catalog.py CATALOG RESOURCES JOBS POINTS [RESTORES]
    gen_catalog.py CATALOG --change PERCENT     (a day later: new points,
                                                 oldest points expired,
                                                 resources retagged)

The estate, for the payments_core framework of
shared/examples/cloudformation/backup-stack.yaml (account 210987654321,
region eu-west-1):
- resources cycle through PostgreSQL, MySQL, FileSystem and SQLite; 55%
  are tagged backup-tier=critical, 40% standard, 5% untagged;
- points are spread evenly, one a day per resource, newest first; 2% of
  resources stopped being backed up three days ago; every tenth point is
  kept 14 days (short of the 35 the control wants);
- jobs are spread evenly, hourly per resource; 3% FAILED;
- restores are completed drills of the newest points.
"""
import hashlib
import hmac
import os
import sqlite3
import sys
import time

ACCOUNT = "210987654321"
REGION = "eu-west-1"
NOW = time.time()


def ts(expr):
    """SQL for an RFC 3339 UTC text at millisecond precision."""
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {expr}, 'unixepoch')"


def RESOURCE_NAME(v):
    """SQL for resource number `v`'s name."""
    return f"""
CASE {v} % 4
  WHEN 0 THEN 'pg-' || ({v} / 400) || '/db' || {v}
  WHEN 1 THEN 'maria-' || ({v} / 400) || '/db' || {v}
  WHEN 2 THEN CASE WHEN {v} % 40 = 2 THEN 'scratch-' ELSE 'fs-' END || {v}
  ELSE 'sq-' || {v}
END"""


def RESOURCE_ARN(v):
    return f"""
CASE {v} % 4
  WHEN 0 THEN 'arn:coffer:postgres:{REGION}:{ACCOUNT}:database/'
  WHEN 1 THEN 'arn:coffer:mysql:{REGION}:{ACCOUNT}:database/'
  WHEN 2 THEN 'arn:coffer:fs:{REGION}:{ACCOUNT}:filesystem/'
  ELSE 'arn:coffer:sqlite:{REGION}:{ACCOUNT}:database/'
END || {RESOURCE_NAME(v)}"""


def RESOURCE_TYPE(v):
    return f"CASE {v} % 4 WHEN 0 THEN 'PostgreSQL' WHEN 1 THEN 'MySQL' WHEN 2 THEN 'FileSystem' ELSE 'SQLite' END"


def TAGS(v):
    return f"""
CASE WHEN {v} % 20 = 7 THEN json_object()
     WHEN {v} % 20 < 12 THEN json_object('backup-tier', 'critical', 'team', 'payments')
     ELSE json_object('backup-tier', 'standard', 'team', 'payments') END"""


def series(n, body):
    return f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) {body}"


def generate(db, resources, jobs, points, restores):
    now = ts(NOW)
    db.execute(
        series(
            resources,
            f"""INSERT INTO resources
            SELECT arn, rtype, '{ACCOUNT}', '{REGION}', name, 'bench-inventory',
              json_object('ResourceArn', arn, 'ResourceType', rtype, 'ResourceName', name,
                          'AccountId', '{ACCOUNT}', 'Region', '{REGION}', 'Tags', json(tags),
                          'Connection', json_object()),
              1, {now}, {now}
            FROM (SELECT {RESOURCE_ARN('i')} AS arn, {RESOURCE_TYPE('i')} AS rtype, {RESOURCE_NAME('i')} AS name,
                         {TAGS('i')} AS tags FROM s)""",
        )
    )
    print(f"  {resources} resources", flush=True)
    # Point p: resource p % R, p / R days old (+3 for the 2% stopped).
    db.execute(
        series(
            points,
            f"""INSERT INTO recovery_points
            SELECT id, 'arn:coffer:backup:{REGION}:{ACCOUNT}:recovery-point:' || id, '{ACCOUNT}', '{REGION}',
              'payments-primary', arn, rtype, 'COMPLETED', 'WARM', created, deleted, NULL, 1048576,
              json_object('RecoveryPointId', id,
                'RecoveryPointArn', 'arn:coffer:backup:{REGION}:{ACCOUNT}:recovery-point:' || id,
                'BackupVaultName', 'payments-primary',
                'BackupVaultArn', 'arn:coffer:backup:{REGION}:{ACCOUNT}:backup-vault:payments-primary',
                'ResourceArn', arn, 'ResourceType', rtype, 'Status', 'COMPLETED', 'StorageClass', 'WARM',
                'CreationDate', created, 'CompletionDate', created,
                'Lifecycle', json_object('DeleteAfterDays', keep),
                'CalculatedLifecycle', json_object('DeleteAt', deleted),
                'BackupSizeInBytes', 1048576, 'IsEncrypted', json('true'),
                'ContentSha256', lower(hex(randomblob(32))), 'Tags', json(tags),
                'SnapshotId', lower(hex(randomblob(4)))),
              1, created, created
            FROM (SELECT printf('%08x-0000-4000-8000-%012x', i / {resources}, i % {resources}) AS id,
                         {RESOURCE_ARN('r')} AS arn, {RESOURCE_TYPE('r')} AS rtype,
                         {TAGS('r')} AS tags, keep,
                         {ts(f"{NOW} - 3600 - 86400 * (i / {resources} + CASE WHEN r % 50 = 9 THEN 3 ELSE 0 END)")} AS created,
                         {ts(f"{NOW} - 3600 - 86400 * (i / {resources}) + 86400 * keep")} AS deleted
                  FROM (SELECT i, i % {resources} AS r, CASE WHEN i % 10 = 5 THEN 14 ELSE 35 END AS keep FROM s))""",
        )
    )
    print(f"  {points} recovery points", flush=True)
    db.execute(
        series(
            jobs,
            f"""INSERT INTO backup_jobs
            SELECT id, '{ACCOUNT}', '{REGION}', 'payments-primary', arn, rtype, state,
              'critical-daily-35d', 'nightly', created, created, NULL,
              json_object('BackupJobId', id, 'AccountId', '{ACCOUNT}', 'Region', '{REGION}',
                'BackupVaultName', 'payments-primary', 'ResourceArn', arn, 'ResourceType', rtype,
                'State', state, 'CreationDate', created, 'CompletionDate', created,
                'Lifecycle', json_object('DeleteAfterDays', 35), 'BackupSizeInBytes', 1048576,
                'PercentDone', 100, 'BackupPlanName', 'critical-daily-35d', 'BackupRuleName', 'nightly',
                'CreatedBy', json_object('BackupPlanName', 'critical-daily-35d', 'BackupRuleName', 'nightly')),
              3, created, created
            FROM (SELECT printf('%08X-0000-4000-8000-%012X', i / {resources}, i % {resources}) AS id,
                         {RESOURCE_ARN('r')} AS arn, {RESOURCE_TYPE('r')} AS rtype,
                         CASE WHEN i % 33 = 0 THEN 'FAILED' ELSE 'COMPLETED' END AS state,
                         {ts(f"{NOW} - 3600 * (i / {resources})")} AS created
                  FROM (SELECT i, i % {resources} AS r FROM s))""",
        )
    )
    print(f"  {jobs} backup jobs", flush=True)
    db.execute(
        series(
            restores,
            f"""INSERT INTO restore_jobs
            SELECT id, '{ACCOUNT}', '{REGION}', point, 'COMPLETED', started, ended,
              json_object('RestoreJobId', id, 'AccountId', '{ACCOUNT}', 'Region', '{REGION}',
                'RecoveryPointArn', point, 'Status', 'COMPLETED', 'CreationDate', started,
                'CompletionDate', ended, 'ResourceType', rtype, 'PercentDone', 100),
              3, started, ended, NULL
            FROM (SELECT printf('RESTORE-%012d', i) AS id,
                         'arn:coffer:backup:{REGION}:{ACCOUNT}:recovery-point:' || printf('%08x-0000-4000-8000-%012x', 0, i % {resources}) AS point,
                         {RESOURCE_TYPE(f'(i % {resources})')} AS rtype,
                         {ts(f"{NOW} - 7200")} AS started,
                         {ts(f"{NOW} - 7200 + 60 * (1 + i % 900)")} AS ended FROM s)""",
        )
    )
    print(f"  {restores} restore jobs", flush=True)


def change(db, percent):
    """A day later: the oldest points of `percent`% of resources expire, a
    new point each is made, and `percent`% of resources are retagged."""
    resources = db.execute("SELECT count(*) FROM resources WHERE stack = 'bench-inventory'").fetchone()[0]
    n = max(1, resources * percent // 100)
    arns = [r[0] for r in db.execute(
        "SELECT arn FROM resources WHERE stack = 'bench-inventory' ORDER BY arn LIMIT ?", (n,))]
    db.executemany(
        """DELETE FROM recovery_points WHERE id = (SELECT id FROM recovery_points
           WHERE resource_arn = ? ORDER BY creation_date LIMIT 1)""",
        [(a,) for a in arns],
    )
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(NOW))
    for k, arn in enumerate(arns):
        row = db.execute(
            "SELECT doc FROM recovery_points WHERE resource_arn = ? ORDER BY creation_date DESC LIMIT 1", (arn,)
        ).fetchone()
        if row is None:
            continue
        pid = f"ffffffff-0000-4000-8000-{k:012x}"
        point_arn = f"arn:coffer:backup:{REGION}:{ACCOUNT}:recovery-point:{pid}"
        db.execute(
            """INSERT INTO recovery_points SELECT ?, ?, account_id, region, vault_name, resource_arn,
               resource_type, status, storage_class, ?, delete_at, NULL, size_bytes,
               json_set(doc, '$.RecoveryPointId', ?, '$.RecoveryPointArn', ?, '$.CreationDate', ?),
               1, ?, ? FROM recovery_points WHERE resource_arn = ? ORDER BY creation_date DESC LIMIT 1""",
            (pid, point_arn, created, pid, point_arn, created, created, created, arn),
        )
    db.executemany(
        """UPDATE resources SET doc = json_set(doc, '$.Tags', json_object('backup-tier', 'critical', 'team', 'retagged'))
           WHERE arn = ?""",
        [(a,) for a in arns],
    )
    print(f"  {len(arns)} resources: oldest point expired, a new point, retagged", flush=True)


# Record tables and their ledger kind and state column, as the catalog's
# `Record` impls name them.
LEDGERED = [
    ("recovery_points", "recovery point", "status"),
    ("backup_jobs", "backup job", "state"),
    ("restore_jobs", "restore job", "status"),
]


def ledger_key():
    """The deployment's ledger key (hex in the file COFFER_LEDGER_KEY
    names), as Coffer MACs its entries with; None without one."""
    path = os.environ.get("COFFER_LEDGER_KEY")
    if not path:
        return None
    with open(path) as f:
        return bytes.fromhex(f.read().strip())


def entry_v2(seq, time, kind, subject, event, doc_sha, prev):
    """A format-2 entry's hash, as the catalog computes it: each field
    length-prefixed, the actor absent (written by the generator)."""
    h = hashlib.sha256(b"coffer ledger entry v2\n")
    for field in [str(seq), time, kind, subject, event, doc_sha, "-", "-", "-", prev]:
        data = field.encode()
        h.update(f"{len(data)}:".encode())
        h.update(data)
        h.update(b"\n")
    return h.hexdigest()


def record_in_ledger(db, where="1 = 1"):
    """Appends, as the catalog does when it inserts a record, an entry for
    each generated row (`where` chooses them): subject its ID, its
    document hashed as stored, chained to the ledger's tail; in format 2
    with the deployment's MAC when COFFER_LEDGER_KEY names its key (a
    catalog Coffer has written holds format-2 entries, after which a
    format-1 entry counts as forged)."""
    key = ledger_key()
    tail = db.execute("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (tail[0] + 1, tail[1]) if tail else (0, "0" * 64)
    insert = "INSERT INTO ledger (seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash, format, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    n = 0
    for table, kind, state in LEDGERED:
        batch = []
        for rid, doc, created, value in db.execute(
            f"SELECT id, doc, created_at, {state} FROM {table} WHERE {where} ORDER BY rowid"
        ):
            event = f"created {value}"
            doc_sha = hashlib.sha256(doc.encode()).hexdigest()
            if key is None:
                fields = [str(seq), created, kind, rid, event, doc_sha, prev]
                entry = hashlib.sha256("".join(f + "\n" for f in fields).encode()).hexdigest()
                batch.append((seq, created, kind, rid, event, doc_sha, prev, entry, 1, None))
            else:
                entry = entry_v2(seq, created, kind, rid, event, doc_sha, prev)
                mac = hmac.new(key, b"coffer ledger entry mac v2\n" + entry.encode(), hashlib.sha256).hexdigest()
                batch.append((seq, created, kind, rid, event, doc_sha, prev, entry, 2, mac))
            seq, prev, n = seq + 1, entry, n + 1
            if len(batch) >= 100_000:
                db.executemany(insert, batch)
                batch = []
        db.executemany(insert, batch)
    print(f"  {n} ledger entries", flush=True)


def main():
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    if sys.argv[2] == "--change":
        change(db, int(sys.argv[3]))
        record_in_ledger(db, "id LIKE 'ffffffff-%' AND version = 1")
    else:
        resources, jobs, points = (int(a) for a in sys.argv[2:5])
        restores = int(sys.argv[5]) if len(sys.argv) > 5 else min(20000, resources)
        generate(db, resources, jobs, points, restores)
        record_in_ledger(db)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


if __name__ == "__main__":
    main()
