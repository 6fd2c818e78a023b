"""Request tokens (CreatorRequestId, IdempotencyToken): a retry answers
the first result and creates nothing new. Tags of vaults, plans and
recovery points by ARN, in the ledger; a stack's vault's tags are its
template's."""

import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from shapes import check

RESOURCE = "arn:coffer:fs:{region}:{account}:filesystem/docs"


def code(error):
    return error.value.response["Error"]["Code"]


def wait_for(describe, done, what):
    # A hang guard, not a performance bound.
    deadline = time.monotonic() + 300
    while True:
        state = describe()
        if done(state):
            return state
        assert time.monotonic() < deadline, f"{what} did not end: {state}"
        time.sleep(0.5)


def test_a_retried_create_answers_the_first_result(client, region, account):
    rule = {"RuleName": "nightly", "TargetBackupVaultName": "primary"}
    first = client.create_backup_plan(
        BackupPlan={"BackupPlanName": "once", "Rules": [rule]}, CreatorRequestId="req-plan-1")
    again = client.create_backup_plan(
        BackupPlan={"BackupPlanName": "once", "Rules": [rule]}, CreatorRequestId="req-plan-1")
    assert again["BackupPlanId"] == first["BackupPlanId"]
    assert again["VersionId"] == first["VersionId"]
    assert again["CreationDate"] == first["CreationDate"]
    # Without the token the same request is a second create: refused.
    with pytest.raises(ClientError) as twice:
        client.create_backup_plan(BackupPlan={"BackupPlanName": "once", "Rules": [rule]})
    assert code(twice) == "AlreadyExistsException"
    versions = client.list_backup_plan_versions(BackupPlanId="once")["BackupPlanVersionsList"]
    assert len(versions) == 1

    selection = {"SelectionName": "all", "IamRoleArn": f"arn:coffer:iam::{account}:role/backup",
                 "Resources": [RESOURCE.format(region=region, account=account)]}
    made = client.create_backup_selection(BackupPlanId="once", BackupSelection=selection,
                                          CreatorRequestId="req-sel-1")
    remade = client.create_backup_selection(BackupPlanId="once", BackupSelection=selection,
                                            CreatorRequestId="req-sel-1")
    assert remade["SelectionId"] == made["SelectionId"]
    assert remade["CreationDate"] == made["CreationDate"]

    vault = client.create_backup_vault(BackupVaultName="once-vault", CreatorRequestId="req-v-1")
    vault_again = client.create_backup_vault(BackupVaultName="once-vault",
                                             CreatorRequestId="req-v-1")
    del vault["ResponseMetadata"], vault_again["ResponseMetadata"]
    assert vault_again == vault
    # The same token with other parameters is refused and creates nothing.
    with pytest.raises(ClientError) as reused:
        client.create_backup_vault(BackupVaultName="once-vault-other", CreatorRequestId="req-v-1")
    assert code(reused) == "InvalidParameterValueException"
    assert "other parameters" in reused.value.response["Error"]["Message"]
    names = [v["BackupVaultName"] for v in client.list_backup_vaults()["BackupVaultList"]]
    assert "once-vault-other" not in names
    with pytest.raises(ClientError) as reused_plan:
        client.create_backup_plan(
            BackupPlan={"BackupPlanName": "once-other", "Rules": [rule]},
            CreatorRequestId="req-plan-1")
    assert code(reused_plan) == "InvalidParameterValueException"
    plans = [p["BackupPlanName"] for p in client.list_backup_plans()["BackupPlansList"]]
    assert "once-other" not in plans
    # A failed request keeps no token: its retry acts.
    with pytest.raises(ClientError) as bad:
        client.create_backup_vault(BackupVaultName="no spaces", CreatorRequestId="req-v-2")
    assert code(bad) == "InvalidParameterValueException"
    fixed = client.create_backup_vault(BackupVaultName="once-vault-2", CreatorRequestId="req-v-2")
    assert fixed["BackupVaultName"] == "once-vault-2"

    client.delete_backup_selection(BackupPlanId="once", SelectionId="all")
    client.delete_backup_plan(BackupPlanId="once")
    client.delete_backup_vault(BackupVaultName="once-vault")
    client.delete_backup_vault(BackupVaultName="once-vault-2")


def test_a_retried_start_starts_one_job(client, region, account):
    resource = RESOURCE.format(region=region, account=account)
    before = len(client.list_backup_jobs()["BackupJobs"])
    args = dict(BackupVaultName="primary", ResourceArn=resource,
                IamRoleArn=f"arn:coffer:iam::{account}:role/backup",
                Lifecycle={"DeleteAfterDays": 7}, IdempotencyToken="tok-backup-1")
    first = client.start_backup_job(**args)
    again = client.start_backup_job(**args)
    assert again["BackupJobId"] == first["BackupJobId"]
    assert len(client.list_backup_jobs()["BackupJobs"]) == before + 1
    # Let it end, so later tests see a settled home.
    wait_for(lambda: client.describe_backup_job(BackupJobId=first["BackupJobId"])["State"],
             lambda s: s in ("COMPLETED", "FAILED", "ABORTED", "EXPIRED"), "the backup")

    hold_args = dict(Title="once", Description="held once",
                     RecoveryPointSelection={"VaultNames": ["primary"]},
                     IdempotencyToken="tok-hold-1")
    hold = client.create_legal_hold(**hold_args)
    hold_again = client.create_legal_hold(**hold_args)
    assert hold_again["LegalHoldId"] == hold["LegalHoldId"]
    titles = [h["Title"] for h in client.list_legal_holds()["LegalHolds"]]
    assert titles.count("once") == 1
    client.cancel_legal_hold(LegalHoldId=hold["LegalHoldId"], CancelDescription="done")

    point = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary")["RecoveryPoints"][0]
    target = os.environ["COFFER_RESTORE_DIR"] + "-once"
    restore_args = dict(RecoveryPointArn=point["RecoveryPointArn"],
                        Metadata={"TargetDirectory": target}, IdempotencyToken="tok-restore-1")
    restore = client.start_restore_job(**restore_args)
    restore_again = client.start_restore_job(**restore_args)
    assert restore_again["RestoreJobId"] == restore["RestoreJobId"]
    wait_for(lambda: client.describe_restore_job(RestoreJobId=restore["RestoreJobId"])["Status"],
             lambda s: s in ("COMPLETED", "FAILED", "ABORTED"), "the restore")
    ids = [j["RestoreJobId"] for j in client.list_restore_jobs()["RestoreJobs"]]
    assert ids.count(restore["RestoreJobId"]) == 1


def test_tags_of_vaults_plans_and_points(client, model, raw, region, account, coffer):
    vault = client.create_backup_vault(BackupVaultName="tagged", BackupVaultTags={"team": "ops"})
    arn = vault["BackupVaultArn"]
    assert client.list_tags(ResourceArn=arn)["Tags"] == {"team": "ops"}
    check(model, "ListTags", raw)
    client.tag_resource(ResourceArn=arn, Tags={"env": "prod", "team": "dba"})
    check(model, "TagResource", raw)
    assert client.list_tags(ResourceArn=arn)["Tags"] == {"env": "prod", "team": "dba"}
    client.untag_resource(ResourceArn=arn, TagKeyList=["team"])
    check(model, "UntagResource", raw)
    assert client.list_tags(ResourceArn=arn)["Tags"] == {"env": "prod"}
    entries = coffer("evidence", "log", "--subject", arn, "-o", "json")["Entries"]
    assert [e["Event"] for e in entries if e["Kind"] == "backup vault"].count("UPDATED") == 2, entries
    with pytest.raises(ClientError) as bad:
        client.tag_resource(ResourceArn=arn, Tags={"aws:reserved": "x"})
    assert code(bad) == "InvalidParameterValueException"
    client.delete_backup_vault(BackupVaultName="tagged")

    plan = client.create_backup_plan(
        BackupPlan={"BackupPlanName": "tagged-plan",
                    "Rules": [{"RuleName": "r", "TargetBackupVaultName": "primary"}]},
        BackupPlanTags={"a": "1"})
    client.tag_resource(ResourceArn=plan["BackupPlanArn"], Tags={"b": "2"})
    assert client.list_tags(ResourceArn=plan["BackupPlanArn"])["Tags"] == {"a": "1", "b": "2"}
    client.delete_backup_plan(BackupPlanId="tagged-plan")

    point = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary")["RecoveryPoints"][0]["RecoveryPointArn"]
    client.tag_resource(ResourceArn=point, Tags={"case": "42"})
    assert client.list_tags(ResourceArn=point)["Tags"].get("case") == "42"
    client.untag_resource(ResourceArn=point, TagKeyList=["case"])
    assert "case" not in client.list_tags(ResourceArn=point)["Tags"]

    # The stack's vault: tags read, changes refused naming the stack.
    primary = f"arn:coffer:backup:{region}:{account}:backup-vault:primary"
    client.list_tags(ResourceArn=primary)
    with pytest.raises(ClientError) as conflict:
        client.tag_resource(ResourceArn=primary, Tags={"x": "y"})
    assert code(conflict) == "ConflictException"
    assert '"docs"' in conflict.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        client.list_tags(ResourceArn=f"arn:coffer:backup:{region}:{account}:backup-vault:nowhere")
    assert code(missing) == "ResourceNotFoundException"


def test_audit_and_copy_tokens_answer_the_first_result(client):
    controls = [{"ControlName": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN"}]
    first = client.create_framework(FrameworkName="once_fw", FrameworkControls=controls,
                                    IdempotencyToken="req-fw-1")
    again = client.create_framework(FrameworkName="once_fw", FrameworkControls=controls,
                                    IdempotencyToken="req-fw-1")
    assert again["FrameworkArn"] == first["FrameworkArn"]
    # Without the token the same request is a second create: refused.
    with pytest.raises(ClientError) as twice:
        client.create_framework(FrameworkName="once_fw", FrameworkControls=controls)
    assert code(twice) == "AlreadyExistsException"
    # The token with other parameters: refused, nothing created.
    with pytest.raises(ClientError) as reused:
        client.create_framework(FrameworkName="once_fw_other", FrameworkControls=controls,
                                IdempotencyToken="req-fw-1")
    assert code(reused) == "InvalidParameterValueException"
    names = [f["FrameworkName"] for f in client.list_frameworks()["Frameworks"]]
    assert "once_fw" in names and "once_fw_other" not in names
    client.delete_framework(FrameworkName="once_fw")


def test_reads_echo_the_creator_request_id_of_the_create(client, tokenless_client, model, raw,
                                                         region, account):
    """Each read whose output has CreatorRequestId answers the token the
    create carried; an object created without one (or by a stack, or
    deleted and created again without one) has none, never an empty
    string. `bare` sends no token unless given one (boto3 itself fills
    CreateBackupVault's, CreateBackupPlan's and CreateBackupSelection's
    with a UUID, which is then echoed)."""
    bare = tokenless_client
    rule = {"RuleName": "nightly", "TargetBackupVaultName": "primary"}
    role = f"arn:coffer:iam::{account}:role/backup"
    docs = RESOURCE.format(region=region, account=account)

    def member(items, key, name):
        found = [i for i in items if i[key] == name]
        assert len(found) == 1, (name, items)
        return found[0]

    # Vaults: DescribeBackupVault, ListBackupVaults.
    client.create_backup_vault(BackupVaultName="crid-vault", CreatorRequestId="crid-v-1")
    bare.create_backup_vault(BackupVaultName="crid-vault-bare")
    client.create_backup_vault(BackupVaultName="crid-vault-auto")
    described = client.describe_backup_vault(BackupVaultName="crid-vault")
    check(model, "DescribeBackupVault", raw)
    assert described["CreatorRequestId"] == "crid-v-1"
    assert "CreatorRequestId" not in client.describe_backup_vault(BackupVaultName="crid-vault-bare")
    check(model, "DescribeBackupVault", raw)
    assert "CreatorRequestId" not in raw.last["DescribeBackupVault"][1]
    assert "CreatorRequestId" not in client.describe_backup_vault(BackupVaultName="primary")
    vaults = client.list_backup_vaults()["BackupVaultList"]
    check(model, "ListBackupVaults", raw)
    assert member(vaults, "BackupVaultName", "crid-vault")["CreatorRequestId"] == "crid-v-1"
    assert "CreatorRequestId" not in member(vaults, "BackupVaultName", "crid-vault-bare")
    assert "CreatorRequestId" not in member(vaults, "BackupVaultName", "primary")
    assert member(vaults, "BackupVaultName", "crid-vault-auto")["CreatorRequestId"]
    # A page of one answers the same.
    first = client.list_backup_vaults(MaxResults=1)["BackupVaultList"]
    expected = {v["BackupVaultName"]: v.get("CreatorRequestId") for v in vaults}
    assert first[0].get("CreatorRequestId") == expected[first[0]["BackupVaultName"]]
    # Deleted and created again without a token: the first token is not
    # this vault's.
    client.delete_backup_vault(BackupVaultName="crid-vault")
    bare.create_backup_vault(BackupVaultName="crid-vault")
    assert "CreatorRequestId" not in client.describe_backup_vault(BackupVaultName="crid-vault")
    vaults = client.list_backup_vaults()["BackupVaultList"]
    assert "CreatorRequestId" not in member(vaults, "BackupVaultName", "crid-vault")

    # Plans: GetBackupPlan, ListBackupPlans, ListBackupPlanVersions.
    client.create_backup_plan(BackupPlan={"BackupPlanName": "crid-plan", "Rules": [rule]},
                              CreatorRequestId="crid-p-1")
    bare.create_backup_plan(BackupPlan={"BackupPlanName": "crid-plan-bare", "Rules": [rule]})
    got = client.get_backup_plan(BackupPlanId="crid-plan")
    check(model, "GetBackupPlan", raw)
    assert got["CreatorRequestId"] == "crid-p-1"
    # A new version keeps the plan's token; the old version has it too.
    client.update_backup_plan(
        BackupPlanId="crid-plan",
        BackupPlan={"BackupPlanName": "crid-plan",
                    "Rules": [{**rule, "ScheduleExpression": "cron(0 3 * * ? *)"}]})
    assert client.get_backup_plan(BackupPlanId="crid-plan")["CreatorRequestId"] == "crid-p-1"
    old = client.get_backup_plan(BackupPlanId="crid-plan", VersionId=got["VersionId"])
    assert old["CreatorRequestId"] == "crid-p-1"
    assert "CreatorRequestId" not in client.get_backup_plan(BackupPlanId="crid-plan-bare")
    check(model, "GetBackupPlan", raw)
    assert "CreatorRequestId" not in client.get_backup_plan(BackupPlanId="stack-plan")
    plans = client.list_backup_plans()["BackupPlansList"]
    check(model, "ListBackupPlans", raw)
    assert member(plans, "BackupPlanName", "crid-plan")["CreatorRequestId"] == "crid-p-1"
    assert "CreatorRequestId" not in member(plans, "BackupPlanName", "crid-plan-bare")
    assert "CreatorRequestId" not in member(plans, "BackupPlanName", "stack-plan")
    versions = client.list_backup_plan_versions(BackupPlanId="crid-plan")["BackupPlanVersionsList"]
    check(model, "ListBackupPlanVersions", raw)
    assert len(versions) == 2 and all(v["CreatorRequestId"] == "crid-p-1" for v in versions)
    bare_versions = client.list_backup_plan_versions(
        BackupPlanId="crid-plan-bare")["BackupPlanVersionsList"]
    assert bare_versions and all("CreatorRequestId" not in v for v in bare_versions)

    # Selections: GetBackupSelection, ListBackupSelections.
    selection = {"IamRoleArn": role, "Resources": [docs]}
    client.create_backup_selection(BackupPlanId="crid-plan", CreatorRequestId="crid-s-1",
                                   BackupSelection={"SelectionName": "tokened", **selection})
    bare.create_backup_selection(BackupPlanId="crid-plan",
                                 BackupSelection={"SelectionName": "bare", **selection})
    got = client.get_backup_selection(BackupPlanId="crid-plan", SelectionId="tokened")
    check(model, "GetBackupSelection", raw)
    assert got["CreatorRequestId"] == "crid-s-1"
    assert "CreatorRequestId" not in client.get_backup_selection(BackupPlanId="crid-plan",
                                                                 SelectionId="bare")
    check(model, "GetBackupSelection", raw)
    selections = client.list_backup_selections(BackupPlanId="crid-plan")["BackupSelectionsList"]
    check(model, "ListBackupSelections", raw)
    assert member(selections, "SelectionName", "tokened")["CreatorRequestId"] == "crid-s-1"
    assert "CreatorRequestId" not in member(selections, "SelectionName", "bare")

    # Restore testing plans and selections: GetRestoreTestingPlan,
    # GetRestoreTestingSelection (their lists' shapes have no such member).
    points = {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"],
              "RecoveryPointTypes": ["SNAPSHOT"]}
    for name, token in (("crid_drills", "crid-rtp-1"), ("crid_drills_bare", None)):
        extra = {"CreatorRequestId": token} if token else {}
        client.create_restore_testing_plan(RestoreTestingPlan={
            "RestoreTestingPlanName": name, "ScheduleExpression": "cron(0 5 1 1 ? *)",
            "RecoveryPointSelection": points}, **extra)
    plan = client.get_restore_testing_plan(RestoreTestingPlanName="crid_drills")
    check(model, "GetRestoreTestingPlan", raw)
    assert plan["RestoreTestingPlan"]["CreatorRequestId"] == "crid-rtp-1"
    without = client.get_restore_testing_plan(RestoreTestingPlanName="crid_drills_bare")
    check(model, "GetRestoreTestingPlan", raw)
    assert "CreatorRequestId" not in without["RestoreTestingPlan"]
    stack = client.get_restore_testing_plan(RestoreTestingPlanName="stack_drills")
    assert "CreatorRequestId" not in stack["RestoreTestingPlan"]
    client.list_restore_testing_plans()
    check(model, "ListRestoreTestingPlans", raw)
    for name, token in (("tokened", "crid-rts-1"), ("bare", None)):
        extra = {"CreatorRequestId": token} if token else {}
        client.create_restore_testing_selection(
            RestoreTestingPlanName="crid_drills",
            RestoreTestingSelection={"RestoreTestingSelectionName": name,
                                     "ProtectedResourceType": "FileSystem",
                                     "IamRoleArn": role, "ProtectedResourceArns": [docs]},
            **extra)
    got = client.get_restore_testing_selection(RestoreTestingPlanName="crid_drills",
                                               RestoreTestingSelectionName="tokened")
    check(model, "GetRestoreTestingSelection", raw)
    assert got["RestoreTestingSelection"]["CreatorRequestId"] == "crid-rts-1"
    without = client.get_restore_testing_selection(RestoreTestingPlanName="crid_drills",
                                                   RestoreTestingSelectionName="bare")
    check(model, "GetRestoreTestingSelection", raw)
    assert "CreatorRequestId" not in without["RestoreTestingSelection"]
    stack = client.get_restore_testing_selection(RestoreTestingPlanName="stack_drills",
                                                 RestoreTestingSelectionName="stack_docs")
    assert "CreatorRequestId" not in stack["RestoreTestingSelection"]
    client.list_restore_testing_selections(RestoreTestingPlanName="crid_drills")
    check(model, "ListRestoreTestingSelections", raw)

    for name in ("tokened", "bare"):
        client.delete_restore_testing_selection(RestoreTestingPlanName="crid_drills",
                                                RestoreTestingSelectionName=name)
    for name in ("crid_drills", "crid_drills_bare"):
        client.delete_restore_testing_plan(RestoreTestingPlanName=name)
    for name in ("tokened", "bare"):
        client.delete_backup_selection(BackupPlanId="crid-plan", SelectionId=name)
    for name in ("crid-plan", "crid-plan-bare"):
        client.delete_backup_plan(BackupPlanId=name)
    # A deleted plan listed with IncludeDeleted keeps its token.
    deleted = client.list_backup_plans(IncludeDeleted=True)["BackupPlansList"]
    assert member(deleted, "BackupPlanName", "crid-plan")["CreatorRequestId"] == "crid-p-1"
    assert "CreatorRequestId" not in member(deleted, "BackupPlanName", "crid-plan-bare")
    for name in ("crid-vault", "crid-vault-bare", "crid-vault-auto"):
        client.delete_backup_vault(BackupVaultName=name)
