"""Restore testing plans and selections through boto3: the stack's listed
and described but left alone, the API's own checked as a template's,
kept, changed, deleted (a plan only once its selections are gone) and
tested by the engine as a stack's are, every write in the ledger with the
key's principal as actor; an external validator's result taken while a
test validates; the scratch target a test would restore a point to."""

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from shapes import check
from test_tokens_and_tags import wait_for


def code(error):
    return error.value.response["Error"]["Code"]


def message(error):
    return error.value.response["Error"]["Message"]


def point_selection(**extra):
    return {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"],
            "RecoveryPointTypes": ["SNAPSHOT"], **extra}


def test_the_stack_plan_and_selection_are_listed_and_described(client, model, raw, region,
                                                                 account):
    listed = client.list_restore_testing_plans()
    check(model, "ListRestoreTestingPlans", raw)
    mine = [p for p in listed["RestoreTestingPlans"]
            if p["RestoreTestingPlanName"] == "stack_drills"]
    assert len(mine) == 1, listed
    arn = f"arn:coffer:backup:{region}:{account}:restore-testing-plan:stack_drills"
    assert mine[0]["RestoreTestingPlanArn"] == arn
    assert mine[0]["ScheduleExpression"] == "cron(0 5 1 1 ? *)"

    got = client.get_restore_testing_plan(RestoreTestingPlanName="stack_drills")
    check(model, "GetRestoreTestingPlan", raw)
    plan = got["RestoreTestingPlan"]
    assert plan["RestoreTestingPlanArn"] == arn
    # AWS's defaults for what the template left out.
    assert plan["StartWindowHours"] == 24
    assert plan["RecoveryPointSelection"] == point_selection(SelectionWindowDays=30)

    selections = client.list_restore_testing_selections(RestoreTestingPlanName="stack_drills")
    check(model, "ListRestoreTestingSelections", raw)
    assert [s["RestoreTestingSelectionName"] for s in selections["RestoreTestingSelections"]] == [
        "stack_docs"]
    selection = client.get_restore_testing_selection(
        RestoreTestingPlanName="stack_drills", RestoreTestingSelectionName="stack_docs")
    check(model, "GetRestoreTestingSelection", raw)
    selection = selection["RestoreTestingSelection"]
    assert selection["ProtectedResourceType"] == "FileSystem"
    assert selection["ProtectedResourceArns"] == ["*"]
    assert selection["IamRoleArn"] == f"arn:coffer:iam::{account}:role/restore"

    with pytest.raises(ClientError) as no_plan:
        client.get_restore_testing_plan(RestoreTestingPlanName="nowhere")
    assert code(no_plan) == "ResourceNotFoundException"
    assert "stack_drills" in message(no_plan)  # the plans there
    with pytest.raises(ClientError) as no_selection:
        client.get_restore_testing_selection(
            RestoreTestingPlanName="stack_drills", RestoreTestingSelectionName="nothing")
    assert code(no_selection) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_plan_selections:
        client.list_restore_testing_selections(RestoreTestingPlanName="nowhere")
    assert code(no_plan_selections) == "ResourceNotFoundException"


def test_the_stack_plan_and_selection_are_the_stack_s(client, account):
    role = f"arn:coffer:iam::{account}:role/restore"
    for call in (
        lambda: client.update_restore_testing_plan(
            RestoreTestingPlanName="stack_drills",
            RestoreTestingPlan={"StartWindowHours": 2}),
        lambda: client.delete_restore_testing_plan(RestoreTestingPlanName="stack_drills"),
        lambda: client.create_restore_testing_selection(
            RestoreTestingPlanName="stack_drills",
            RestoreTestingSelection={"RestoreTestingSelectionName": "more",
                                     "ProtectedResourceType": "FileSystem",
                                     "IamRoleArn": role, "ProtectedResourceArns": ["*"]}),
        lambda: client.update_restore_testing_selection(
            RestoreTestingPlanName="stack_drills", RestoreTestingSelectionName="stack_docs",
            RestoreTestingSelection={"ValidationWindowHours": 2}),
        lambda: client.delete_restore_testing_selection(
            RestoreTestingPlanName="stack_drills", RestoreTestingSelectionName="stack_docs"),
    ):
        with pytest.raises(ClientError) as conflict:
            call()
        assert code(conflict) == "ConflictException"
        assert '"docs"' in message(conflict)
    # Nothing changed.
    assert client.get_restore_testing_plan(RestoreTestingPlanName="stack_drills")[
        "RestoreTestingPlan"]["StartWindowHours"] == 24
    selection = client.get_restore_testing_selection(
        RestoreTestingPlanName="stack_drills", RestoreTestingSelectionName="stack_docs")
    assert "ValidationWindowHours" not in selection["RestoreTestingSelection"]


def test_plans_are_checked_as_templates_are(client):
    def refused(plan):
        with pytest.raises(ClientError) as error:
            client.create_restore_testing_plan(RestoreTestingPlan={
                "RestoreTestingPlanName": "refused", "ScheduleExpression": "cron(0 5 1 1 ? *)",
                "RecoveryPointSelection": point_selection(), **plan})
        assert code(error) == "InvalidParameterValueException"
        return message(error)

    assert "RestoreTestingPlanName" in refused({"RestoreTestingPlanName": "bad-name"})
    assert "ScheduleExpression" in refused({"ScheduleExpression": "cron(every day)"})
    assert "StartWindowHours" in refused({"StartWindowHours": 169})
    assert "LATEST_WITHIN_WINDOW" in refused(
        {"RecoveryPointSelection": point_selection(Algorithm="LATEST")})
    assert "IncludeVaults" in refused(
        {"RecoveryPointSelection": point_selection(IncludeVaults=[])})
    names = [p["RestoreTestingPlanName"]
             for p in client.list_restore_testing_plans()["RestoreTestingPlans"]]
    assert "refused" not in names and "bad-name" not in names
    with pytest.raises(ClientError) as taken:
        client.create_restore_testing_plan(RestoreTestingPlan={
            "RestoreTestingPlanName": "stack_drills", "ScheduleExpression": "cron(0 5 1 1 ? *)",
            "RecoveryPointSelection": point_selection()})
    assert code(taken) == "AlreadyExistsException"
    assert '"docs"' in message(taken)


def test_plans_and_selections_of_no_stack_are_kept_changed_tested_and_deleted(
        client, model, raw, region, account, coffer):
    created = client.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "api_drills", "ScheduleExpression": "cron(0 5 1 1 ? *)",
        "RecoveryPointSelection": point_selection(SelectionWindowDays=7)})
    check(model, "CreateRestoreTestingPlan", raw)
    arn = f"arn:coffer:backup:{region}:{account}:restore-testing-plan:api_drills"
    assert created["RestoreTestingPlanArn"] == arn
    assert created["RestoreTestingPlanName"] == "api_drills"

    updated = client.update_restore_testing_plan(
        RestoreTestingPlanName="api_drills", RestoreTestingPlan={"StartWindowHours": 4})
    check(model, "UpdateRestoreTestingPlan", raw)
    assert updated["UpdateTime"] >= updated["CreationTime"]
    plan = client.get_restore_testing_plan(RestoreTestingPlanName="api_drills")[
        "RestoreTestingPlan"]
    assert plan["StartWindowHours"] == 4
    assert plan["RecoveryPointSelection"]["SelectionWindowDays"] == 7
    with pytest.raises(ClientError) as bad_update:
        client.update_restore_testing_plan(
            RestoreTestingPlanName="api_drills", RestoreTestingPlan={"StartWindowHours": 500})
    assert code(bad_update) == "InvalidParameterValueException"

    role = f"arn:coffer:iam::{account}:role/restore"
    docs = f"arn:coffer:fs:{region}:{account}:filesystem/docs"
    made = client.create_restore_testing_selection(
        RestoreTestingPlanName="api_drills",
        RestoreTestingSelection={"RestoreTestingSelectionName": "api_docs",
                                 "ProtectedResourceType": "FileSystem", "IamRoleArn": role,
                                 "ProtectedResourceArns": [docs], "ValidationWindowHours": 1})
    check(model, "CreateRestoreTestingSelection", raw)
    assert made["RestoreTestingPlanArn"] == arn
    assert made["RestoreTestingSelectionName"] == "api_docs"
    with pytest.raises(ClientError) as taken:
        client.create_restore_testing_selection(
            RestoreTestingPlanName="api_drills",
            RestoreTestingSelection={"RestoreTestingSelectionName": "api_docs",
                                     "ProtectedResourceType": "FileSystem", "IamRoleArn": role,
                                     "ProtectedResourceArns": [docs]})
    assert code(taken) == "AlreadyExistsException"
    with pytest.raises(ClientError) as both:
        client.create_restore_testing_selection(
            RestoreTestingPlanName="api_drills",
            RestoreTestingSelection={"RestoreTestingSelectionName": "both",
                                     "ProtectedResourceType": "FileSystem", "IamRoleArn": role,
                                     "ProtectedResourceArns": ["*", docs]})
    assert code(both) == "InvalidParameterValueException"
    assert "ProtectedResourceArns" in message(both)
    # An override naming the test's target is refused: a test deletes it.
    with pytest.raises(ClientError) as not_scratch:
        client.create_restore_testing_selection(
            RestoreTestingPlanName="api_drills",
            RestoreTestingSelection={"RestoreTestingSelectionName": "in_place",
                                     "ProtectedResourceType": "FileSystem", "IamRoleArn": role,
                                     "ProtectedResourceArns": [docs],
                                     "RestoreMetadataOverrides": {"TargetDirectory": "/srv/docs"}})
    assert code(not_scratch) == "InvalidParameterValueException"
    assert "TargetDirectory" in message(not_scratch)
    assert "deletes its target" in message(not_scratch)

    with pytest.raises(ClientError) as bad_override:
        client.update_restore_testing_selection(
            RestoreTestingPlanName="api_drills", RestoreTestingSelectionName="api_docs",
            RestoreTestingSelection={"RestoreMetadataOverrides": {"TargetServer": "standby"}})
    assert code(bad_override) == "InvalidParameterValueException"
    assert "TargetServer" in message(bad_override)
    assert "NotApplied" in message(bad_override)
    changed = client.update_restore_testing_selection(
        RestoreTestingPlanName="api_drills", RestoreTestingSelectionName="api_docs",
        RestoreTestingSelection={"ValidationWindowHours": 2,
                                 "RestoreMetadataOverrides": {"DBInstanceClass": "db.t3.micro"}})
    check(model, "UpdateRestoreTestingSelection", raw)
    assert changed["RestoreTestingPlanArn"] == arn
    listed = client.list_restore_testing_selections(RestoreTestingPlanName="api_drills")
    check(model, "ListRestoreTestingSelections", raw)
    assert [(s["RestoreTestingSelectionName"], s["ValidationWindowHours"])
            for s in listed["RestoreTestingSelections"]] == [("api_docs", 2)]
    got = client.get_restore_testing_selection(
        RestoreTestingPlanName="api_drills", RestoreTestingSelectionName="api_docs")
    check(model, "GetRestoreTestingSelection", raw)
    assert got["RestoreTestingSelection"]["ProtectedResourceArns"] == [docs]

    # The engine tests an API plan's selections as a stack's.
    jobs = coffer("restore-testing", "start", "--plan", "api_drills", "-o", "json")
    assert len(jobs) == 1, jobs
    assert jobs[0]["Status"] == "COMPLETED", jobs
    by_plan = client.list_restore_jobs(ByRestoreTestingPlanArn=arn)["RestoreJobs"]
    assert [j["RestoreJobId"] for j in by_plan] == [jobs[0]["RestoreJobId"]]

    # A plan with selections is not deleted, as AWS refuses it.
    with pytest.raises(ClientError) as busy:
        client.delete_restore_testing_plan(RestoreTestingPlanName="api_drills")
    assert code(busy) == "InvalidRequestException"
    assert "api_docs" in message(busy)
    client.delete_restore_testing_selection(
        RestoreTestingPlanName="api_drills", RestoreTestingSelectionName="api_docs")
    check(model, "DeleteRestoreTestingSelection", raw)
    client.delete_restore_testing_plan(RestoreTestingPlanName="api_drills")
    check(model, "DeleteRestoreTestingPlan", raw)
    with pytest.raises(ClientError) as gone:
        client.get_restore_testing_plan(RestoreTestingPlanName="api_drills")
    assert code(gone) == "ResourceNotFoundException"

    # Every write is in the ledger with the key's principal.
    for kind, count in (("restore testing plan", 3), ("restore testing selection", 3)):
        entries = coffer("evidence", "log", "--kind", kind, "-o", "json")["Entries"]
        mine = [e for e in entries if "api_drills" in json.dumps(e)]
        assert len(mine) == count, mine
        assert all("user/ops" in json.dumps(e) for e in mine), mine


def test_an_external_validator_reports_while_a_test_validates(client, model, raw, region,
                                                              account, tmp_path):
    arn = f"arn:coffer:backup:{region}:{account}:restore-testing-plan:hooked_drills"
    release = tmp_path / "release"
    # The stack's hook holds the test in VALIDATING until `release` exists.
    running = subprocess.Popen(
        [os.environ["COFFER_BIN"], "--home", os.environ["COFFER_TEST_HOME"], "--account",
         account, "--region", region, "restore-testing", "start", "--plan", "hooked_drills",
         "-o", "json"],
        env=dict(os.environ, COFFER_RELEASE=str(release)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        validating = wait_for(
            lambda: [j for j in client.list_restore_jobs(ByRestoreTestingPlanArn=arn)[
                "RestoreJobs"] if j.get("ValidationStatus") == "VALIDATING"],
            bool, "the restore test's validation")
        job_id = validating[0]["RestoreJobId"]
        with pytest.raises(ClientError) as not_a_result:
            client.put_restore_validation_result(RestoreJobId=job_id,
                                                 ValidationStatus="VALIDATING")
        assert code(not_a_result) == "InvalidParameterValueException"
        client.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="FAILED",
                                             ValidationStatusMessage="rows missing")
        check(model, "PutRestoreValidationResult", raw)
        reported = client.describe_restore_job(RestoreJobId=job_id)
        assert reported["ValidationStatus"] == "FAILED"
        assert "rows missing" in reported["ValidationStatusMessage"]
        assert "user/ops" in reported["ValidationStatusMessage"]
    finally:
        release.touch()
        out, err = running.communicate(timeout=600)
    # Coffer's own checks passed: the reported failure stands, with both
    # messages, and the test took no second result.
    ended = json.loads(out)
    assert [j["RestoreJobId"] for j in ended] == [job_id], out + err
    final = client.describe_restore_job(RestoreJobId=job_id)
    assert final["ValidationStatus"] == "FAILED", final
    assert "hook sh passed" in final["ValidationStatusMessage"], final
    assert "rows missing" in final["ValidationStatusMessage"], final
    with pytest.raises(ClientError) as too_late:
        client.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus="SUCCESSFUL")
    assert code(too_late) == "InvalidRequestException"
    assert "VALIDATING" in message(too_late)

    # A restore job no restore testing plan made takes no result.
    tests = {j["RestoreJobId"] for j in client.list_restore_jobs(
        ByRestoreTestingPlanArn=arn)["RestoreJobs"]}
    other = [j["RestoreJobId"] for j in client.list_restore_jobs()["RestoreJobs"]
             if j["RestoreJobId"] not in tests and "ValidationStatus" in j]
    with pytest.raises(ClientError) as not_a_test:
        client.put_restore_validation_result(RestoreJobId=other[0], ValidationStatus="FAILED")
    assert code(not_a_test) == "InvalidRequestException"
    with pytest.raises(ClientError) as missing:
        client.put_restore_validation_result(RestoreJobId="no-such-job",
                                             ValidationStatus="FAILED")
    assert code(missing) == "ResourceNotFoundException"


def test_inferred_metadata_names_a_new_scratch_target(client, model, raw):
    point = client.list_recovery_points_by_backup_vault(
        BackupVaultName="primary")["RecoveryPoints"][0]
    inferred = client.get_restore_testing_inferred_metadata(
        BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    check(model, "GetRestoreTestingInferredMetadata", raw)
    metadata = inferred["InferredMetadata"]
    assert list(metadata) == ["TargetDirectory"], metadata
    assert "/tmp/restore-tests/restore-test-" in metadata["TargetDirectory"]
    # Never the resource's own place.
    in_place = client.get_recovery_point_restore_metadata(
        BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    assert metadata["TargetDirectory"] != in_place["RestoreMetadata"].get("TargetDirectory")
    again = client.get_restore_testing_inferred_metadata(
        BackupVaultName="primary", RecoveryPointArn=point["RecoveryPointArn"])
    assert again["InferredMetadata"] != metadata  # each a new place
    with pytest.raises(ClientError) as wrong_vault:
        client.get_restore_testing_inferred_metadata(
            BackupVaultName="elsewhere", RecoveryPointArn=point["RecoveryPointArn"])
    assert code(wrong_vault) == "ResourceNotFoundException"
