"""Accounts are scopes: with an organization applied, a member account's
principal sees only its own account's jobs (`ByAccountId` naming another
account selects nothing, `*` is its own), and the backup delegated
administrator's sees any member's, or every account's with `*`
(COFFER_SCOPED: {"member": [key ID, secret], "administrator": [...],
"member_account": ID})."""

import json
import os

import pytest

from conftest import make_client


@pytest.fixture(scope="module")
def scoped():
    return json.loads(os.environ["COFFER_SCOPED"])


def accounts(jobs):
    return sorted({job["AccountId"] for job in jobs})


def test_a_member_account_sees_only_its_own_jobs(scoped, account):
    member_account = scoped["member_account"]
    member = make_client(*scoped["member"])
    assert accounts(member.list_backup_jobs()["BackupJobs"]) == [member_account]
    assert accounts(member.list_backup_jobs(ByAccountId="*")["BackupJobs"]) == [member_account]
    assert member.list_backup_jobs(ByAccountId=account)["BackupJobs"] == []
    assert member.list_copy_jobs(ByAccountId=account)["CopyJobs"] == []
    assert member.list_restore_jobs(ByAccountId=account)["RestoreJobs"] == []
    points = member.list_recovery_points_by_backup_vault(BackupVaultName="primary")["RecoveryPoints"]
    assert points and all(f":{member_account}:" in p["RecoveryPointArn"] for p in points)


def test_the_delegated_administrator_sees_any_member_or_every_account(scoped, account):
    member_account = scoped["member_account"]
    administrator = make_client(*scoped["administrator"])
    # Its own account has no jobs; every account's are the members'.
    assert administrator.list_backup_jobs()["BackupJobs"] == []
    assert accounts(administrator.list_backup_jobs(ByAccountId=member_account)["BackupJobs"]) == [member_account]
    everyone = accounts(administrator.list_backup_jobs(ByAccountId="*")["BackupJobs"])
    assert member_account in everyone and account in everyone, everyone
    restores = administrator.list_restore_jobs(ByAccountId="*")["RestoreJobs"]
    assert account in accounts(restores), restores


def test_protected_resources_of_a_member_are_the_administrators_to_see(scoped, account, region):
    from botocore.exceptions import ClientError
    resource = f"arn:coffer:fs:{region}:{account}:filesystem/docs"
    member = make_client(*scoped["member"])
    with pytest.raises(ClientError) as refused:
        member.describe_protected_resource(ResourceArn=resource)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    administrator = make_client(*scoped["administrator"])
    described = administrator.describe_protected_resource(ResourceArn=resource)
    assert described["ResourceArn"] == resource
    points = administrator.list_recovery_points_by_resource(ResourceArn=resource)["RecoveryPoints"]
    assert points and all(f":{account}:" in p["RecoveryPointArn"] for p in points)
