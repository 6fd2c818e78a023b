"""Backup plans and selections through boto3 and the aws cli: versions as
AWS keeps them, rules checked as `apply` checks them, the stack's plan
left alone, every write in the ledger and the object history with the
key's principal as actor."""

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from shapes import check


def code(error):
    return error.value.response["Error"]["Code"]


def message(error):
    return error.value.response["Error"]["Message"]


def rule(name="nightly", vault="primary", **extra):
    return {"RuleName": name, "TargetBackupVaultName": vault, **extra}


def test_plan_versions_list_get_update_delete(client, model, raw, region, account, coffer):
    created = client.create_backup_plan(
        BackupPlan={"BackupPlanName": "api-plan", "Rules": [rule(
            ScheduleExpression="cron(0 3 * * ? *)", Lifecycle={"DeleteAfterDays": 30})]},
        BackupPlanTags={"team": "ops"},
    )
    check(model, "CreateBackupPlan", raw)
    assert created["BackupPlanId"] == "api-plan"
    assert created["BackupPlanArn"] == f"arn:coffer:backup:{region}:{account}:backup-plan:api-plan"
    first = created["VersionId"]

    got = client.get_backup_plan(BackupPlanId="api-plan")
    check(model, "GetBackupPlan", raw)
    assert got["VersionId"] == first
    got_rule = got["BackupPlan"]["Rules"][0]
    assert got_rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert got_rule["Lifecycle"] == {"DeleteAfterDays": 30}
    # AWS's defaults for what the rule left out.
    assert got_rule["StartWindowMinutes"] == 480
    assert got_rule["CompletionWindowMinutes"] == 10080

    updated = client.update_backup_plan(
        BackupPlanId="api-plan",
        BackupPlan={"BackupPlanName": "api-plan", "Rules": [rule(
            ScheduleExpression="cron(0 4 * * ? *)", Lifecycle={"DeleteAfterDays": 60})]},
    )
    check(model, "UpdateBackupPlan", raw)
    second = updated["VersionId"]
    assert second != first
    assert client.get_backup_plan(BackupPlanId="api-plan")["BackupPlan"]["Rules"][0][
        "ScheduleExpression"] == "cron(0 4 * * ? *)"
    # The old version is kept and answered by its ID.
    old = client.get_backup_plan(BackupPlanId="api-plan", VersionId=first)
    assert old["VersionId"] == first
    assert old["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 3 * * ? *)"
    with pytest.raises(ClientError) as no_version:
        client.get_backup_plan(BackupPlanId="api-plan", VersionId="999")
    assert code(no_version) == "ResourceNotFoundException"

    versions = client.list_backup_plan_versions(BackupPlanId="api-plan")
    check(model, "ListBackupPlanVersions", raw)
    ids = [v["VersionId"] for v in versions["BackupPlanVersionsList"]]
    assert ids == [second, first]
    paged = client.list_backup_plan_versions(BackupPlanId="api-plan", MaxResults=1)
    assert [v["VersionId"] for v in paged["BackupPlanVersionsList"]] == [second]
    rest = client.list_backup_plan_versions(
        BackupPlanId="api-plan", MaxResults=1, NextToken=paged["NextToken"])
    assert [v["VersionId"] for v in rest["BackupPlanVersionsList"]] == [first]

    listed = client.list_backup_plans()
    check(model, "ListBackupPlans", raw)
    mine = [p for p in listed["BackupPlansList"] if p["BackupPlanId"] == "api-plan"]
    assert len(mine) == 1 and mine[0]["VersionId"] == second
    assert "DeletionDate" not in mine[0]

    # Renaming is refused: a plan's ID is its name.
    with pytest.raises(ClientError) as rename:
        client.update_backup_plan(BackupPlanId="api-plan",
                                  BackupPlan={"BackupPlanName": "other", "Rules": [rule()]})
    assert code(rename) == "InvalidParameterValueException"

    # The object history holds both versions, each by the key's principal.
    history = json.dumps(coffer("get", "plans", "api-plan", "--history", "-o", "json"))
    for change in ("CREATED", "UPDATED", "user/ops", "cron(0 3 * * ? *)"):
        assert change in history, history

    deleted = client.delete_backup_plan(BackupPlanId="api-plan")
    check(model, "DeleteBackupPlan", raw)
    assert deleted["VersionId"] == second
    assert "DeletionDate" in deleted
    with pytest.raises(ClientError) as gone:
        client.get_backup_plan(BackupPlanId="api-plan")
    assert code(gone) == "ResourceNotFoundException"
    live = [p["BackupPlanId"] for p in client.list_backup_plans()["BackupPlansList"]]
    assert "api-plan" not in live
    with_deleted = client.list_backup_plans(IncludeDeleted=True)
    check(model, "ListBackupPlans", raw)
    dead = [p for p in with_deleted["BackupPlansList"] if p["BackupPlanId"] == "api-plan"]
    assert len(dead) == 1 and dead[0]["VersionId"] == second and "DeletionDate" in dead[0]
    # A deleted plan's versions stay readable, as AWS keeps them.
    assert client.get_backup_plan(BackupPlanId="api-plan", VersionId=first)[
        "BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 3 * * ? *)"

    # Every write is in the ledger with the key's principal, and in the
    # object history.
    entries = coffer("evidence", "log", "--kind", "backup plan", "-o", "json")["Entries"]
    mine = [e for e in entries if "api-plan" in json.dumps(e)]
    assert len(mine) == 3, mine
    assert all("user/ops" in json.dumps(e) for e in mine), mine
    verified = subprocess.run(
        [os.environ["COFFER_BIN"], "--home", os.environ["COFFER_TEST_HOME"], "evidence", "verify"],
        capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_plan_errors_name_the_rule_and_the_stack(client, model, raw):
    with pytest.raises(ClientError) as bad_cron:
        client.create_backup_plan(BackupPlan={"BackupPlanName": "bad-cron", "Rules": [
            rule(ScheduleExpression="cron(every day)")]})
    assert code(bad_cron) == "InvalidParameterValueException"
    assert "BackupPlan.Rules[0].ScheduleExpression" in message(bad_cron)
    with pytest.raises(ClientError) as bad_lifecycle:
        client.create_backup_plan(BackupPlan={"BackupPlanName": "bad-lifecycle", "Rules": [
            rule(Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 40})]})
    assert code(bad_lifecycle) == "InvalidParameterValueException"
    assert "BackupPlan.Rules[0].Lifecycle" in message(bad_lifecycle)
    with pytest.raises(ClientError) as no_vault:
        client.create_backup_plan(BackupPlan={"BackupPlanName": "no-vault", "Rules": [
            rule(vault="primery")]})
    assert code(no_vault) == "InvalidParameterValueException"
    assert "BackupPlan.Rules[0].TargetBackupVaultName" in message(no_vault)
    assert "primary" in message(no_vault)  # did you mean
    names = [p["BackupPlanId"] for p in client.list_backup_plans()["BackupPlansList"]]
    assert not {"bad-cron", "bad-lifecycle", "no-vault"} & set(names)

    with pytest.raises(ClientError) as missing:
        client.get_backup_plan(BackupPlanId="nowhere")
    assert code(missing) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as taken:
        client.create_backup_plan(BackupPlan={"BackupPlanName": "stack-plan", "Rules": [rule()]})
    assert code(taken) == "AlreadyExistsException"
    # The stack's plan is the stack's: refused, naming the stack.
    assert client.get_backup_plan(BackupPlanId="stack-plan")["BackupPlanId"] == "stack-plan"
    for call in (
        lambda: client.update_backup_plan(
            BackupPlanId="stack-plan",
            BackupPlan={"BackupPlanName": "stack-plan", "Rules": [rule()]}),
        lambda: client.delete_backup_plan(BackupPlanId="stack-plan"),
        lambda: client.create_backup_selection(
            BackupPlanId="stack-plan",
            BackupSelection={"SelectionName": "s",
                             "IamRoleArn": "arn:coffer:iam::210987654321:role/backup"}),
    ):
        with pytest.raises(ClientError) as conflict:
            call()
        assert code(conflict) == "ConflictException"
        assert '"docs"' in message(conflict)


def test_selections_are_kept_listed_and_deleted(client, model, raw, region, account):
    client.create_backup_plan(BackupPlan={"BackupPlanName": "with-selections",
                                          "Rules": [rule()]})
    selection = {
        "SelectionName": "gold",
        "IamRoleArn": f"arn:coffer:iam::{account}:role/backup",
        "Resources": [f"arn:coffer:fs:{region}:{account}:filesystem/*"],
        "NotResources": [f"arn:coffer:fs:{region}:{account}:filesystem/scratch"],
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "tier",
                        "ConditionValue": "gold"}],
        "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/env",
                                         "ConditionValue": "prod"}]},
    }
    created = client.create_backup_selection(BackupPlanId="with-selections",
                                             BackupSelection=selection)
    check(model, "CreateBackupSelection", raw)
    assert created["SelectionId"] == "gold" and created["BackupPlanId"] == "with-selections"
    got = client.get_backup_selection(BackupPlanId="with-selections", SelectionId="gold")
    check(model, "GetBackupSelection", raw)
    kept = got["BackupSelection"]
    for member in ("SelectionName", "IamRoleArn", "Resources", "NotResources", "ListOfTags"):
        assert kept[member] == selection[member], member
    assert kept["Conditions"]["StringEquals"] == selection["Conditions"]["StringEquals"]
    with pytest.raises(ClientError) as twice:
        client.create_backup_selection(BackupPlanId="with-selections", BackupSelection=selection)
    assert code(twice) == "AlreadyExistsException"
    with pytest.raises(ClientError) as bad:
        client.create_backup_selection(
            BackupPlanId="with-selections",
            BackupSelection={**selection, "SelectionName": "bad",
                             "ListOfTags": [{"ConditionType": "STRINGLIKE",
                                             "ConditionKey": "tier", "ConditionValue": "g"}]})
    assert code(bad) == "InvalidParameterValueException"
    assert "BackupSelection.ListOfTags[0]" in message(bad)
    listed = client.list_backup_selections(BackupPlanId="with-selections")
    check(model, "ListBackupSelections", raw)
    assert [s["SelectionId"] for s in listed["BackupSelectionsList"]] == ["gold"]
    # A plan with selections is not deleted.
    with pytest.raises(ClientError) as busy:
        client.delete_backup_plan(BackupPlanId="with-selections")
    assert code(busy) == "InvalidRequestException"
    assert "gold" in message(busy)
    client.delete_backup_selection(BackupPlanId="with-selections", SelectionId="gold")
    check(model, "DeleteBackupSelection", raw)
    with pytest.raises(ClientError) as gone:
        client.get_backup_selection(BackupPlanId="with-selections", SelectionId="gold")
    assert code(gone) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_plan:
        client.list_backup_selections(BackupPlanId="nowhere")
    assert code(no_plan) == "ResourceNotFoundException"
    client.delete_backup_plan(BackupPlanId="with-selections")


def test_a_plan_document_is_checked_and_echoed(client, model, raw):
    document = {"BackupPlanName": "from-json", "Rules": [rule(
        ScheduleExpression="cron(0 2 * * ? *)", ScheduleExpressionTimezone="Europe/Berlin",
        CopyActions=[{"DestinationBackupVaultArn":
                      "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary",
                      "Lifecycle": {"DeleteAfterDays": 10}}])]}
    echoed = client.get_backup_plan_from_json(BackupPlanTemplateJson=json.dumps(document))
    check(model, "GetBackupPlanFromJSON", raw)
    plan = echoed["BackupPlan"]
    assert plan["BackupPlanName"] == "from-json"
    assert plan["Rules"][0]["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert plan["Rules"][0]["CopyActions"][0]["Lifecycle"] == {"DeleteAfterDays": 10}
    # Nothing is kept.
    names = [p["BackupPlanId"] for p in client.list_backup_plans()["BackupPlansList"]]
    assert "from-json" not in names
    for bad, path in (
        ("{not json", "BackupPlanTemplateJson"),
        (json.dumps({"BackupPlanName": "x", "Rules": [rule(StartWindowMinutes=5)]}),
         "BackupPlan.Rules[0].StartWindowMinutes"),
        (json.dumps({"BackupPlanName": "x", "Rules": [rule(StartWindowMinutes="soon")]}),
         "BackupPlan.Rules[0].StartWindowMinutes"),
        (json.dumps({"BackupPlanName": "x", "Rules": [{"RuleName": "r"}]}),
         "BackupPlan.Rules[0].TargetBackupVaultName"),
    ):
        with pytest.raises(ClientError) as refused:
            client.get_backup_plan_from_json(BackupPlanTemplateJson=bad)
        assert code(refused) in ("InvalidParameterValueException",
                                 "MissingParameterValueException"), bad
        assert path in message(refused), message(refused)


def aws(url, region, credentials, *args):
    key_id, secret = credentials
    run = subprocess.run(
        [os.environ["COFFER_AWS"], "backup", *args, "--endpoint-url", url,
         "--region", region, "--output", "json"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.strip() else {}


def test_the_aws_cli_creates_gets_and_lists_plans(url, region, credentials):
    plan = {"BackupPlanName": "cli-plan", "Rules": [rule(ScheduleExpression="cron(0 1 * * ? *)")]}
    created = aws(url, region, credentials, "create-backup-plan", "--backup-plan", json.dumps(plan))
    assert created["BackupPlanId"] == "cli-plan"
    got = aws(url, region, credentials, "get-backup-plan", "--backup-plan-id", "cli-plan")
    assert got["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 1 * * ? *)"
    listed = aws(url, region, credentials, "list-backup-plans")
    assert "cli-plan" in [p["BackupPlanName"] for p in listed["BackupPlansList"]]
    aws(url, region, credentials, "delete-backup-plan", "--backup-plan-id", "cli-plan")
