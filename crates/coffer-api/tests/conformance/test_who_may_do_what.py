"""The authorization matrix through the real API: the principals of
`examples/iam-principals.yaml` (auditor, operator, administrator), each with
its own access key (COFFER_PRINCIPALS: {"name": [key ID, secret]})."""

import json
import os

import pytest
from botocore.exceptions import ClientError

from conftest import make_client

RESOURCE = "arn:coffer:fs:{region}:{account}:filesystem/docs"


@pytest.fixture(scope="module")
def as_user():
    keys = json.loads(os.environ["COFFER_PRINCIPALS"])
    return {name: make_client(key_id, secret) for name, (key_id, secret) in keys.items()}


def denied(call, *args, **kwargs):
    """The call is refused as AccessDenied; returns the message."""
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    return error["Message"]


def vault_names(client):
    return sorted(v["BackupVaultName"] for v in client.list_backup_vaults()["BackupVaultList"])


def point_of(client):
    return client.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"][0]


def test_the_auditor_reads_everything_and_changes_nothing(as_user, client, region, account):
    auditor = as_user["auditor"]
    vaults = vault_names(auditor)
    assert "primary" in vaults
    auditor.describe_backup_vault(BackupVaultName="primary")
    point = point_of(auditor)
    auditor.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    auditor.list_backup_jobs()
    auditor.list_restore_jobs()
    auditor.list_legal_holds()
    auditor.list_protected_resources()
    auditor.get_supported_resource_types()
    jobs_before = len(client.list_backup_jobs()["BackupJobs"])
    message = denied(auditor.create_backup_vault, BackupVaultName="auditor-made")
    assert "backup:CreateBackupVault" in message and "attach a policy" in message, message
    denied(auditor.start_backup_job, BackupVaultName="primary",
           ResourceArn=RESOURCE.format(region=region, account=account),
           IamRoleArn=f"arn:coffer:iam::{account}:role/backup")
    denied(auditor.start_restore_job, RecoveryPointArn=point["RecoveryPointArn"],
           Metadata={"TargetDirectory": os.path.join(os.environ["COFFER_RESTORE_DIR"], "auditor")})
    denied(auditor.delete_backup_vault, BackupVaultName="primary")
    denied(auditor.put_backup_vault_lock_configuration, BackupVaultName="primary", MinRetentionDays=7, MaxRetentionDays=3650)
    denied(auditor.create_legal_hold, Title="audit", Description="no",
           RecoveryPointSelection={"VaultNames": ["primary"]})
    # Nothing changed.
    assert vault_names(client) == vaults
    assert len(client.list_backup_jobs()["BackupJobs"]) == jobs_before
    assert not os.path.exists(os.path.join(os.environ["COFFER_RESTORE_DIR"], "auditor"))


def test_the_operator_starts_backups_and_restores_but_deletes_nothing_and_changes_no_policy(
        as_user, client, region, account):
    import time
    operator = as_user["operator"]
    started = operator.start_backup_job(
        BackupVaultName="primary", ResourceArn=RESOURCE.format(region=region, account=account),
        IamRoleArn=f"arn:coffer:iam::{account}:role/backup", Lifecycle={"DeleteAfterDays": 7})
    assert client.describe_backup_job(BackupJobId=started["BackupJobId"])["BackupVaultName"] == "primary"
    point = point_of(operator)
    target = os.path.join(os.environ["COFFER_RESTORE_DIR"], "operator")
    restore = operator.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"],
                                         Metadata={"TargetDirectory": target})
    # A hang guard, not a performance bound.
    deadline = time.monotonic() + 300
    while (job := operator.describe_restore_job(RestoreJobId=restore["RestoreJobId"]))["Status"] not in (
            "COMPLETED", "FAILED", "ABORTED"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["Status"] == "COMPLETED", job
    # No point is deleted by the operator, nor its retention shortened.
    message = denied(operator.delete_recovery_point, BackupVaultName="primary",
                     RecoveryPointArn=point["RecoveryPointArn"])
    assert "backup:DeleteRecoveryPoint" in message, message
    denied(operator.update_recovery_point_lifecycle, BackupVaultName="primary",
           RecoveryPointArn=point["RecoveryPointArn"], Lifecycle={"DeleteAfterDays": 1})
    kept = client.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    assert kept["Status"] == "COMPLETED", kept
    assert kept.get("Lifecycle", {}).get("DeleteAfterDays") != 1, kept
    client.create_backup_vault(BackupVaultName="operator-target")
    message = denied(operator.delete_backup_vault, BackupVaultName="operator-target")
    assert "never-delete-or-change-policy" in message and "backup:DeleteBackupVault" in message, message
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
              "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]}
    denied(operator.put_backup_vault_access_policy, BackupVaultName="operator-target", Policy=json.dumps(policy))
    denied(operator.put_backup_vault_lock_configuration, BackupVaultName="operator-target", MinRetentionDays=7, MaxRetentionDays=3650)
    # Nothing changed: the vault is there, with no policy and no lock.
    described = client.describe_backup_vault(BackupVaultName="operator-target")
    assert not described.get("Locked"), described
    with pytest.raises(ClientError) as none:
        client.get_backup_vault_access_policy(BackupVaultName="operator-target")
    assert none.value.response["Error"]["Code"] == "ResourceNotFoundException"
    client.delete_backup_vault(BackupVaultName="operator-target")


def test_a_vault_policy_deny_stops_even_the_administrators_delete(as_user, client):
    admin = as_user["administrator"]
    admin.create_backup_vault(BackupVaultName="guarded")
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "keep-this-vault", "Effect": "Deny",
              "Principal": "*", "Action": "backup:DeleteBackupVault", "Resource": "*"}]}
    admin.put_backup_vault_access_policy(BackupVaultName="guarded", Policy=json.dumps(policy))
    message = denied(admin.delete_backup_vault, BackupVaultName="guarded")
    assert "keep-this-vault" in message and "access policy" in message, message
    assert "guarded" in vault_names(client)
    # The Deny was the reason: without it the administrator deletes.
    admin.delete_backup_vault_access_policy(BackupVaultName="guarded")
    admin.delete_backup_vault(BackupVaultName="guarded")
    assert "guarded" not in vault_names(client)
