"""Every implemented operation through boto3, each answer checked against
the model's output shape, and what it says checked against the home."""

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from shapes import check

RESOURCE = "arn:coffer:fs:{region}:{account}:filesystem/docs"


def code(error):
    return error.value.response["Error"]["Code"]


def test_list_and_describe_vaults(client, model, raw, region, account):
    answer = client.list_backup_vaults()
    body = check(model, "ListBackupVaults", raw)
    names = [v["BackupVaultName"] for v in body["BackupVaultList"]]
    assert "primary" in names
    primary = next(v for v in answer["BackupVaultList"] if v["BackupVaultName"] == "primary")
    assert primary["BackupVaultArn"] == f"arn:coffer:backup:{region}:{account}:backup-vault:primary"
    assert primary["NumberOfRecoveryPoints"] == 1
    described = client.describe_backup_vault(BackupVaultName="primary")
    check(model, "DescribeBackupVault", raw)
    assert described["NumberOfRecoveryPoints"] == 1
    assert described["VaultState"] == "AVAILABLE"
    with pytest.raises(ClientError) as missing:
        client.describe_backup_vault(BackupVaultName="nowhere")
    assert code(missing) == "ResourceNotFoundException"
    assert "primary" in missing.value.response["Error"]["Message"]


def test_vaults_created_through_the_api_belong_to_no_stack(client, model, raw, coffer):
    created = client.create_backup_vault(BackupVaultName="api-made", BackupVaultTags={"team": "ops"})
    check(model, "CreateBackupVault", raw)
    assert created["BackupVaultName"] == "api-made"
    with pytest.raises(ClientError) as again:
        client.create_backup_vault(BackupVaultName="api-made")
    assert code(again) == "AlreadyExistsException"
    with pytest.raises(ClientError) as bad:
        client.create_backup_vault(BackupVaultName="no spaces allowed")
    assert code(bad) == "InvalidParameterValueException"
    # The stack's vault cannot be deleted here; the error names the stack.
    with pytest.raises(ClientError) as conflict:
        client.delete_backup_vault(BackupVaultName="primary")
    assert code(conflict) == "ConflictException"
    assert "docs" in conflict.value.response["Error"]["Message"]
    # The ledger names the key's principal as the creator.
    entries = coffer("evidence", "log", "--kind", "backup vault", "-o", "json")["Entries"]
    actors = [json.dumps(e) for e in entries if "api-made" in json.dumps(e)]
    assert any("user/ops" in a for a in actors), actors
    client.delete_backup_vault(BackupVaultName="api-made")
    check(model, "DeleteBackupVault", raw)
    names = [v["BackupVaultName"] for v in client.list_backup_vaults()["BackupVaultList"]]
    assert "api-made" not in names


def test_recovery_points_list_filter_and_describe(client, model, raw, region, account):
    resource = RESOURCE.format(region=region, account=account)
    listed = client.list_recovery_points_by_backup_vault(BackupVaultName="primary")
    check(model, "ListRecoveryPointsByBackupVault", raw)
    assert len(listed["RecoveryPoints"]) == 1
    point = listed["RecoveryPoints"][0]
    assert point["ResourceArn"] == resource
    assert point["Status"] == "COMPLETED"
    assert point["CalculatedLifecycle"]["DeleteAt"] > point["CreationDate"]
    by_resource = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary", ByResourceArn=resource)
    assert len(by_resource["RecoveryPoints"]) == 1
    by_other = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary", ByResourceArn=resource + "-other")
    assert by_other["RecoveryPoints"] == []
    before = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary", ByCreatedBefore=point["CreationDate"])
    assert before["RecoveryPoints"] == []
    described = client.describe_recovery_point(
        BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    check(model, "DescribeRecoveryPoint", raw)
    assert described["StorageClass"] == "WARM"
    with pytest.raises(ClientError) as missing:
        client.list_recovery_points_by_backup_vault(BackupVaultName="nowhere")
    assert code(missing) == "ResourceNotFoundException"


def test_backup_jobs_start_describe_list_and_page_stably(client, model, raw, region, account):
    resource = RESOURCE.format(region=region, account=account)
    role = f"arn:coffer:iam::{account}:role/backup"

    def start():
        started = client.start_backup_job(
            BackupVaultName="primary", ResourceArn=resource, IamRoleArn=role,
            Lifecycle={"DeleteAfterDays": 7})
        check(model, "StartBackupJob", raw)
        return started["BackupJobId"]

    started = start()
    job = client.describe_backup_job(BackupJobId=started)
    check(model, "DescribeBackupJob", raw)
    assert job["ResourceArn"] == resource
    assert job["State"] in ("CREATED", "PENDING", "RUNNING", "COMPLETED")
    first = client.list_backup_jobs(MaxResults=1)
    check(model, "ListBackupJobs", raw)
    assert len(first["BackupJobs"]) == 1 and first["NextToken"]
    # A job started between pages: the rest of the listing shows it once,
    # and nothing shows twice or goes missing.
    later = start()
    seen = [first["BackupJobs"][0]["BackupJobId"]]
    token = first.get("NextToken")
    while token:
        page = client.list_backup_jobs(MaxResults=1, NextToken=token)
        seen += [j["BackupJobId"] for j in page["BackupJobs"]]
        token = page.get("NextToken")
    assert len(seen) == len(set(seen)) == 3, seen
    assert started in seen and later in seen
    paginator = client.get_paginator("list_backup_jobs")
    all_jobs = [j["BackupJobId"] for p in paginator.paginate(PaginationConfig={"PageSize": 1}) for j in p["BackupJobs"]]
    assert sorted(all_jobs) == sorted(seen)
    completed = client.list_backup_jobs(ByState="COMPLETED")["BackupJobs"]
    assert all(j["State"] == "COMPLETED" for j in completed) and completed
    assert client.list_backup_jobs(ByBackupVaultName="nowhere")["BackupJobs"] == []
    with pytest.raises(ClientError) as bad_state:
        client.list_backup_jobs(ByState="SLEEPING")
    assert code(bad_state) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as bad_token:
        client.list_backup_jobs(NextToken="not-a-token")
    assert code(bad_token) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        client.describe_backup_job(BackupJobId="no-such-job")
    assert code(missing) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as nothing_there:
        client.start_backup_job(
            BackupVaultName="nowhere", ResourceArn=resource,
            IamRoleArn=f"arn:coffer:iam::{account}:role/backup")
    assert code(nothing_there) == "ResourceNotFoundException"


def test_supported_types_and_protected_resources(client, model, raw, region, account):
    types = client.get_supported_resource_types()["ResourceTypes"]
    check(model, "GetSupportedResourceTypes", raw)
    assert {"PostgreSQL", "MySQL", "FileSystem", "SQLite", "S3"} <= set(types)
    protected = client.list_protected_resources()["Results"]
    check(model, "ListProtectedResources", raw)
    assert [r["ResourceArn"] for r in protected] == [RESOURCE.format(region=region, account=account)]
    assert protected[0]["LastBackupVaultArn"].endswith(":backup-vault:primary")


def test_the_aws_cli_lists_vaults(url, region, credentials):
    key_id, secret = credentials
    run = subprocess.run(
        [os.environ["COFFER_AWS"], "backup", "list-backup-vaults", "--endpoint-url", url,
         "--region", region, "--output", "json"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
    )
    assert run.returncode == 0, run.stderr
    names = [v["BackupVaultName"] for v in json.loads(run.stdout)["BackupVaultList"]]
    assert "primary" in names


def test_access_policy_and_lock_of_a_vault_of_no_stack(client, model, raw, coffer, account):
    client.create_backup_vault(BackupVaultName="api-locked")
    deny = {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "no-deletes", "Effect": "Deny", "Principal": "*",
            "Action": ["backup:DeleteRecoveryPoint", "backup:DeleteBackupVault"], "Resource": "*",
        }],
    }
    client.put_backup_vault_access_policy(BackupVaultName="api-locked", Policy=json.dumps(deny))
    check(model, "PutBackupVaultAccessPolicy", raw)
    got = client.get_backup_vault_access_policy(BackupVaultName="api-locked")
    check(model, "GetBackupVaultAccessPolicy", raw)
    assert json.loads(got["Policy"]) == deny
    # The policy in force decides: the vault cannot be deleted now.
    with pytest.raises(ClientError) as denied:
        client.delete_backup_vault(BackupVaultName="api-locked")
    assert code(denied) == "AccessDeniedException"
    assert "no-deletes" in denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as bad:
        client.put_backup_vault_access_policy(BackupVaultName="api-locked", Policy="{not json")
    assert code(bad) == "InvalidParameterValueException"
    # A stack's vault is changed by its files only.
    with pytest.raises(ClientError) as conflict:
        client.put_backup_vault_access_policy(BackupVaultName="primary", Policy=json.dumps(deny))
    assert code(conflict) == "ConflictException"
    client.put_backup_vault_lock_configuration(
        BackupVaultName="api-locked", MinRetentionDays=7, MaxRetentionDays=3650, ChangeableForDays=3)
    check(model, "PutBackupVaultLockConfiguration", raw)
    described = client.describe_backup_vault(BackupVaultName="api-locked")
    assert described["Locked"] and described["MinRetentionDays"] == 7 and "LockDate" in described
    with pytest.raises(ClientError) as bounds:
        client.put_backup_vault_lock_configuration(
            BackupVaultName="api-locked", MinRetentionDays=30, MaxRetentionDays=7)
    assert code(bounds) == "InvalidParameterValueException"
    # Removing the lock and the Deny weakens protection: each is its own ledger entry.
    client.delete_backup_vault_lock_configuration(BackupVaultName="api-locked")
    check(model, "DeleteBackupVaultLockConfiguration", raw)
    client.delete_backup_vault_access_policy(BackupVaultName="api-locked")
    check(model, "DeleteBackupVaultAccessPolicy", raw)
    weakenings = coffer("evidence", "log", "--kind", "weakening", "-o", "json")["Entries"]
    assert len([e for e in weakenings if "api-locked" in json.dumps(e)]) >= 2, weakenings
    with pytest.raises(ClientError) as none:
        client.get_backup_vault_access_policy(BackupVaultName="api-locked")
    assert code(none) == "ResourceNotFoundException"
    client.delete_backup_vault(BackupVaultName="api-locked")


def test_legal_holds_create_list_get_cover_and_cancel(client, model, raw):
    created = client.create_legal_hold(
        Title="litigation-42", Description="keep everything in primary",
        RecoveryPointSelection={"VaultNames": ["primary"]})
    check(model, "CreateLegalHold", raw)
    hold_id = created["LegalHoldId"]
    assert created["Status"] == "ACTIVE"
    listed = client.list_legal_holds()
    check(model, "ListLegalHolds", raw)
    assert hold_id in [h["LegalHoldId"] for h in listed["LegalHolds"]]
    got = client.get_legal_hold(LegalHoldId=hold_id)
    check(model, "GetLegalHold", raw)
    assert got["RecoveryPointSelection"]["VaultNames"] == ["primary"]
    covered = client.list_recovery_points_by_legal_hold(LegalHoldId=hold_id)
    check(model, "ListRecoveryPointsByLegalHold", raw)
    assert covered["RecoveryPoints"] and all(p["BackupVaultName"] == "primary" for p in covered["RecoveryPoints"])
    with pytest.raises(ClientError) as missing:
        client.get_legal_hold(LegalHoldId="no-such-hold")
    assert code(missing) == "ResourceNotFoundException"
    client.cancel_legal_hold(LegalHoldId=hold_id, CancelDescription="case closed")
    check(model, "CancelLegalHold", raw)
    assert client.get_legal_hold(LegalHoldId=hold_id)["Status"] == "CANCELED"
    with pytest.raises(ClientError) as again:
        client.cancel_legal_hold(LegalHoldId=hold_id, CancelDescription="twice")
    assert code(again) == "InvalidRequestException"


def test_restore_jobs_list_and_describe(client, model, raw, coffer):
    listed = client.list_restore_jobs()
    check(model, "ListRestoreJobs", raw)
    jobs = listed["RestoreJobs"]
    assert jobs, "the home's validation job is listed"
    described = client.describe_restore_job(RestoreJobId=jobs[0]["RestoreJobId"])
    check(model, "DescribeRestoreJob", raw)
    assert described["RecoveryPointArn"] == jobs[0]["RecoveryPointArn"]
    assert client.list_restore_jobs(ByStatus="ABORTED")["RestoreJobs"] == []
    with pytest.raises(ClientError) as bad:
        client.list_restore_jobs(ByStatus="NAPPING")
    assert code(bad) == "InvalidParameterValueException"


def test_a_restore_started_through_the_api_completes(client, model, raw):
    import time
    target = os.environ["COFFER_RESTORE_DIR"]
    point = client.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"][0]
    with pytest.raises(ClientError) as relative:
        client.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"],
                                 Metadata={"TargetDirectory": "relative/dir"})
    assert code(relative) == "InvalidParameterValueException"
    # A key of no meaning anywhere is refused by name.
    with pytest.raises(ClientError) as unknown:
        client.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"],
                                 Metadata={"TargetDirectory": target, "Colour": "blue"})
    assert code(unknown) == "InvalidParameterValueException"
    assert "Colour" in unknown.value.response["Error"]["Message"]
    # An AWS key that cannot apply here is recorded as not applied and listed back.
    started = client.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"],
                                       Metadata={"TargetDirectory": target,
                                                 "KmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"})
    check(model, "StartRestoreJob", raw)
    job_id = started["RestoreJobId"]
    listed = client.get_restore_job_metadata(RestoreJobId=job_id)["Metadata"]
    assert listed["TargetDirectory"] == target, listed
    assert listed["NotApplied.KmsKeyId"] == "arn:aws:kms:eu-west-1:111122223333:key/k", listed
    # A hang guard, not a performance bound.
    deadline = time.monotonic() + 300
    while True:
        job = client.describe_restore_job(RestoreJobId=job_id)
        if job["Status"] in ("COMPLETED", "FAILED", "ABORTED"):
            break
        assert time.monotonic() < deadline, f"the restore did not end: {job}"
        time.sleep(0.2)
    assert job["Status"] == "COMPLETED", job
    with open(os.path.join(target, "a.txt")) as f:
        assert f.read() == "alpha"
