"""Copy jobs, recovery points and protected resources through boto3:
StartCopyJob/DescribeCopyJob/ListCopyJobs with their filters, a copied
point's lifecycle changed and the point deleted (refused under a legal
hold and under a vault lock), the resource operations, restore metadata,
vault notifications and StopBackupJob. Runs after test_operations.py,
whose counts it would change."""

import datetime
import http.server
import json
import os
import queue
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

from shapes import check

RESOURCE = "arn:coffer:fs:{region}:{account}:filesystem/docs"


def code(error):
    return error.value.response["Error"]["Code"]


def message(error):
    return error.value.response["Error"]["Message"]


def settled(read, done, what):
    """Polls `read` until `done` holds (a hang guard, not a performance bound)."""
    deadline = time.monotonic() + 300
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what} did not end: {value}"
        time.sleep(0.2)


def vault_arn(region, account, name):
    return f"arn:coffer:backup:{region}:{account}:backup-vault:{name}"


def first_point(client, vault):
    points = client.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
    return min(points, key=lambda p: p["CreationDate"])


@pytest.fixture(scope="module")
def copied(client, model, raw, region, account):
    """A point of `primary` copied through the API into vault `copies`."""
    client.create_backup_vault(BackupVaultName="copies")
    source = first_point(client, "primary")
    role = f"arn:coffer:iam::{account}:role/backup"
    started = client.start_copy_job(
        RecoveryPointArn=source["RecoveryPointArn"], SourceBackupVaultName="primary",
        DestinationBackupVaultArn=vault_arn(region, account, "copies"), IamRoleArn=role,
        Lifecycle={"DeleteAfterDays": 30})
    check(model, "StartCopyJob", raw)
    job = settled(
        lambda: client.describe_copy_job(CopyJobId=started["CopyJobId"])["CopyJob"],
        lambda j: j["State"] in ("COMPLETED", "FAILED", "PARTIAL"), "the copy job")
    check(model, "DescribeCopyJob", raw)
    assert job["State"] == "COMPLETED", job
    return source, job


def test_copy_jobs_start_describe_and_list_with_filters(client, model, raw, region, account, copied):
    source, job = copied
    assert job["SourceRecoveryPointArn"] == source["RecoveryPointArn"]
    assert job["DestinationBackupVaultArn"] == vault_arn(region, account, "copies")
    assert job["DestinationRecoveryPointLifecycle"] == {"DeleteAfterDays": 30}
    copies = client.list_recovery_points_by_backup_vault(BackupVaultName="copies")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in copies] == [job["DestinationRecoveryPointArn"]]

    listed = client.list_copy_jobs()
    check(model, "ListCopyJobs", raw)
    ids = lambda answer: [j["CopyJobId"] for j in answer["CopyJobs"]]
    assert job["CopyJobId"] in ids(listed)
    resource = RESOURCE.format(region=region, account=account)
    assert job["CopyJobId"] in ids(client.list_copy_jobs(ByState="COMPLETED"))
    assert job["CopyJobId"] not in ids(client.list_copy_jobs(ByState="FAILED"))
    assert job["CopyJobId"] in ids(client.list_copy_jobs(ByResourceArn=resource))
    assert client.list_copy_jobs(ByResourceArn=resource + "-other")["CopyJobs"] == []
    assert job["CopyJobId"] in ids(client.list_copy_jobs(
        ByDestinationVaultArn=vault_arn(region, account, "copies")))
    assert client.list_copy_jobs(
        ByDestinationVaultArn=vault_arn(region, account, "primary"))["CopyJobs"] == []
    assert job["CopyJobId"] in ids(client.list_copy_jobs(
        BySourceRecoveryPointArn=source["RecoveryPointArn"]))
    second = datetime.timedelta(seconds=1)
    assert job["CopyJobId"] not in ids(client.list_copy_jobs(ByCreatedAfter=job["CreationDate"] + second))
    assert job["CopyJobId"] in ids(client.list_copy_jobs(ByCreatedBefore=job["CreationDate"] + second))
    assert job["CopyJobId"] in ids(client.list_copy_jobs(ByResourceType="FileSystem"))
    assert client.list_copy_jobs(ByResourceType="MySQL")["CopyJobs"] == []
    assert client.list_copy_jobs(ByAccountId="111122223333")["CopyJobs"] == []
    with pytest.raises(ClientError) as bad_state:
        client.list_copy_jobs(ByState="SLEEPING")
    assert code(bad_state) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        client.describe_copy_job(CopyJobId="no-such-job")
    assert code(missing) == "ResourceNotFoundException"
    role = f"arn:coffer:iam::{account}:role/backup"
    with pytest.raises(ClientError) as wrong_vault:
        client.start_copy_job(
            RecoveryPointArn=source["RecoveryPointArn"], SourceBackupVaultName="copies",
            DestinationBackupVaultArn=vault_arn(region, account, "copies"), IamRoleArn=role)
    assert code(wrong_vault) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_vault:
        client.start_copy_job(
            RecoveryPointArn=source["RecoveryPointArn"], SourceBackupVaultName="primary",
            DestinationBackupVaultArn=vault_arn(region, account, "nowhere"), IamRoleArn=role)
    assert code(no_vault) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad_lifecycle:
        client.start_copy_job(
            RecoveryPointArn=source["RecoveryPointArn"], SourceBackupVaultName="primary",
            DestinationBackupVaultArn=vault_arn(region, account, "copies"), IamRoleArn=role,
            Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 40})
    assert code(bad_lifecycle) == "InvalidParameterValueException"
    # The aws cli lists the same job.
    key_id, secret = os.environ["COFFER_KEY_ID"], os.environ["COFFER_SECRET"]
    run = subprocess.run(
        [os.environ["COFFER_AWS"], "backup", "list-copy-jobs", "--by-state", "COMPLETED",
         "--endpoint-url", os.environ["COFFER_API_URL"], "--region", region, "--output", "json"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
    )
    assert run.returncode == 0, run.stderr
    assert job["CopyJobId"] in [j["CopyJobId"] for j in json.loads(run.stdout)["CopyJobs"]]


def test_protected_resources_their_points_restores_and_metadata(
        client, model, raw, region, account, copied):
    resource = RESOURCE.format(region=region, account=account)
    source, job = copied
    by_resource = client.list_recovery_points_by_resource(ResourceArn=resource)
    check(model, "ListRecoveryPointsByResource", raw)
    arns = [p["RecoveryPointArn"] for p in by_resource["RecoveryPoints"]]
    assert source["RecoveryPointArn"] in arns and job["DestinationRecoveryPointArn"] in arns
    assert {p["BackupVaultName"] for p in by_resource["RecoveryPoints"]} >= {"primary", "copies"}
    paged = client.list_recovery_points_by_resource(ResourceArn=resource, MaxResults=1)
    assert len(paged["RecoveryPoints"]) == 1 and paged["NextToken"]
    assert client.list_recovery_points_by_resource(
        ResourceArn=resource + "-other")["RecoveryPoints"] == []

    described = client.describe_protected_resource(ResourceArn=resource)
    check(model, "DescribeProtectedResource", raw)
    assert described["ResourceType"] == "FileSystem" and described["ResourceName"] == "docs"
    # test_operations.py restored a point through the API.
    assert "LatestRestoreJobCreationDate" in described, described
    with pytest.raises(ClientError) as missing:
        client.describe_protected_resource(ResourceArn=resource + "-other")
    assert code(missing) == "ResourceNotFoundException"

    in_vault = client.list_protected_resources_by_backup_vault(BackupVaultName="copies")
    check(model, "ListProtectedResourcesByBackupVault", raw)
    assert [(r["ResourceArn"], r["LastRecoveryPointArn"]) for r in in_vault["Results"]] == [
        (resource, job["DestinationRecoveryPointArn"])]
    with pytest.raises(ClientError) as no_vault:
        client.list_protected_resources_by_backup_vault(BackupVaultName="nowhere")
    assert code(no_vault) == "ResourceNotFoundException"

    restores = client.list_restore_jobs_by_protected_resource(ResourceArn=resource)
    check(model, "ListRestoreJobsByProtectedResource", raw)
    assert restores["RestoreJobs"], "the home's validation and the API's restore are listed"
    assert client.list_restore_jobs_by_protected_resource(
        ResourceArn=resource, ByStatus="ABORTED")["RestoreJobs"] == []
    assert client.list_restore_jobs_by_protected_resource(
        ResourceArn=resource + "-other")["RestoreJobs"] == []
    with pytest.raises(ClientError) as bad_status:
        client.list_restore_jobs_by_protected_resource(ResourceArn=resource, ByStatus="NAPPING")
    assert code(bad_status) == "InvalidParameterValueException"

    restore = restores["RestoreJobs"][0]
    meta = client.get_restore_job_metadata(RestoreJobId=restore["RestoreJobId"])
    check(model, "GetRestoreJobMetadata", raw)
    assert meta["Metadata"]["RecoveryPointArn"] == restore["RecoveryPointArn"]
    # The restore test_operations.py started lists back the Metadata it was given.
    asked = [client.get_restore_job_metadata(RestoreJobId=j["RestoreJobId"])["Metadata"]
             for j in restores["RestoreJobs"]]
    assert {"TargetDirectory": os.environ["COFFER_RESTORE_DIR"]}.items() <= next(
        m for m in asked if "Validation" not in m).items(), asked
    assert any(m.get("Validation") == "true" for m in asked), asked
    with pytest.raises(ClientError) as no_job:
        client.get_restore_job_metadata(RestoreJobId="no-such-job")
    assert code(no_job) == "ResourceNotFoundException"

    point_meta = client.get_recovery_point_restore_metadata(
        BackupVaultName="primary", RecoveryPointArn=source["RecoveryPointArn"])
    check(model, "GetRecoveryPointRestoreMetadata", raw)
    docs = os.path.join(os.environ["COFFER_TEST_HOME"], "data", "docs")
    assert point_meta["RestoreMetadata"] == {"TargetDirectory": docs}
    assert point_meta["ResourceType"] == "FileSystem"
    with pytest.raises(ClientError) as wrong_vault:
        client.get_recovery_point_restore_metadata(
            BackupVaultName="copies", RecoveryPointArn=source["RecoveryPointArn"])
    assert code(wrong_vault) == "ResourceNotFoundException"


def test_a_copied_point_is_kept_by_a_policy_a_hold_and_a_lock_then_changed_and_deleted(
        client, model, raw, copied):
    _, job = copied
    point = job["DestinationRecoveryPointArn"]
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "keep-copies", "Effect": "Deny", "Principal": "*",
                       "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}],
    }
    client.put_backup_vault_access_policy(BackupVaultName="copies", Policy=json.dumps(deny))
    with pytest.raises(ClientError) as denied:
        client.delete_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    assert code(denied) == "AccessDeniedException" and "keep-copies" in message(denied)
    client.delete_backup_vault_access_policy(BackupVaultName="copies")
    hold = client.create_legal_hold(
        Title="copies-hold", Description="keep the copies",
        RecoveryPointSelection={"VaultNames": ["copies"]})
    with pytest.raises(ClientError) as held:
        client.delete_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    assert code(held) == "InvalidRequestException"
    assert "copies-hold" in message(held)
    with pytest.raises(ClientError) as held_lifecycle:
        client.update_recovery_point_lifecycle(
            BackupVaultName="copies", RecoveryPointArn=point, Lifecycle={"DeleteAfterDays": 60})
    assert code(held_lifecycle) == "InvalidRequestException"
    client.cancel_legal_hold(LegalHoldId=hold["LegalHoldId"], CancelDescription="released")

    client.put_backup_vault_lock_configuration(
        BackupVaultName="copies", MinRetentionDays=7, MaxRetentionDays=365, ChangeableForDays=3)
    with pytest.raises(ClientError) as locked:
        client.delete_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    assert code(locked) == "InvalidRequestException"
    assert "compliance" in message(locked)
    # Under the lock retention may grow within its bounds, never shrink.
    updated = client.update_recovery_point_lifecycle(
        BackupVaultName="copies", RecoveryPointArn=point, Lifecycle={"DeleteAfterDays": 60})
    check(model, "UpdateRecoveryPointLifecycle", raw)
    assert updated["Lifecycle"] == {"DeleteAfterDays": 60}
    described = client.describe_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    assert described["CalculatedLifecycle"]["DeleteAt"] == updated["CalculatedLifecycle"]["DeleteAt"]
    kept = described["CalculatedLifecycle"]["DeleteAt"] - described["CreationDate"]
    assert kept == datetime.timedelta(days=60), kept
    with pytest.raises(ClientError) as shorter:
        client.update_recovery_point_lifecycle(
            BackupVaultName="copies", RecoveryPointArn=point, Lifecycle={"DeleteAfterDays": 10})
    assert code(shorter) == "InvalidRequestException"
    with pytest.raises(ClientError) as bad:
        client.update_recovery_point_lifecycle(
            BackupVaultName="copies", RecoveryPointArn=point,
            Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 40})
    assert code(bad) == "InvalidParameterValueException"
    client.delete_backup_vault_lock_configuration(BackupVaultName="copies")

    with pytest.raises(ClientError) as wrong_vault:
        client.delete_recovery_point(BackupVaultName="primary", RecoveryPointArn=point)
    assert code(wrong_vault) == "ResourceNotFoundException"
    client.delete_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    check(model, "DeleteRecoveryPoint", raw)
    assert client.list_recovery_points_by_backup_vault(BackupVaultName="copies")["RecoveryPoints"] == []
    with pytest.raises(ClientError) as again:
        client.delete_recovery_point(BackupVaultName="copies", RecoveryPointArn=point)
    assert code(again) == "InvalidRequestException"


def test_vault_notifications_are_kept_on_vaults_of_no_stack(client, model, raw, region, account):
    topic = f"arn:coffer:sns:{region}:{account}:backup-events"
    events = ["BACKUP_JOB_FAILED", "COPY_JOB_FAILED"]
    client.create_backup_vault(BackupVaultName="notified")
    client.put_backup_vault_notifications(
        BackupVaultName="notified", SNSTopicArn=topic, BackupVaultEvents=events)
    check(model, "PutBackupVaultNotifications", raw)
    got = client.get_backup_vault_notifications(BackupVaultName="notified")
    check(model, "GetBackupVaultNotifications", raw)
    assert got["SNSTopicArn"] == topic and got["BackupVaultEvents"] == events
    assert got["BackupVaultArn"] == vault_arn(region, account, "notified")
    with pytest.raises(ClientError) as bad_event:
        client.put_backup_vault_notifications(
            BackupVaultName="notified", SNSTopicArn=topic, BackupVaultEvents=["COFFEE_READY"])
    assert code(bad_event) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as conflict:
        client.put_backup_vault_notifications(
            BackupVaultName="primary", SNSTopicArn=topic, BackupVaultEvents=events)
    assert code(conflict) == "ConflictException" and '"docs"' in message(conflict)
    client.delete_backup_vault_notifications(BackupVaultName="notified")
    check(model, "DeleteBackupVaultNotifications", raw)
    with pytest.raises(ClientError) as none:
        client.get_backup_vault_notifications(BackupVaultName="notified")
    assert code(none) == "ResourceNotFoundException"
    client.delete_backup_vault(BackupVaultName="notified")


def test_stop_backup_job(client, model, raw, region, account):
    completed = client.list_backup_jobs(ByState="COMPLETED")["BackupJobs"][0]
    with pytest.raises(ClientError) as ended:
        client.stop_backup_job(BackupJobId=completed["BackupJobId"])
    assert code(ended) == "InvalidRequestException" and "COMPLETED" in message(ended)
    with pytest.raises(ClientError) as missing:
        client.stop_backup_job(BackupJobId="no-such-job")
    assert code(missing) == "ResourceNotFoundException"
    started = client.start_backup_job(
        BackupVaultName="primary", ResourceArn=RESOURCE.format(region=region, account=account),
        IamRoleArn=f"arn:coffer:iam::{account}:role/backup")["BackupJobId"]
    try:
        client.stop_backup_job(BackupJobId=started)
        check(model, "StopBackupJob", raw)
    except ClientError as error:
        # The scheduler may have finished it first: then it is refused as ended.
        assert error.response["Error"]["Code"] == "InvalidRequestException", error.response
        assert client.describe_backup_job(BackupJobId=started)["State"] == "COMPLETED"
        return
    job = settled(lambda: client.describe_backup_job(BackupJobId=started),
                  lambda j: j["State"] != "ABORTING", "the stopped job")
    assert job["State"] in ("ABORTED", "COMPLETED"), job
    if job["State"] == "ABORTED":
        assert "aborted on request by" in job["StatusMessage"]


def test_a_vaults_notifications_set_through_the_api_reach_the_topics_webhook(client, region, account):
    """`api.rs` gives config.toml a webhook standing for this topic."""
    topic = f"arn:coffer:sns:{region}:{account}:backup-events"
    received = queue.Queue()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["COFFER_HOOK_PORT"])), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client.create_backup_vault(BackupVaultName="watched")
        client.put_backup_vault_notifications(
            BackupVaultName="watched", SNSTopicArn=topic, BackupVaultEvents=["BACKUP_JOB_COMPLETED"])
        started = client.start_backup_job(
            BackupVaultName="watched", ResourceArn=RESOURCE.format(region=region, account=account),
            IamRoleArn=f"arn:coffer:iam::{account}:role/backup")["BackupJobId"]
        job = settled(lambda: client.describe_backup_job(BackupJobId=started),
                      lambda j: j["State"] in ("COMPLETED", "FAILED", "ABORTED", "EXPIRED"),
                      "the watched vault's backup")
        assert job["State"] == "COMPLETED", job
        deadline = time.monotonic() + 60
        while True:
            # A hang guard, not a performance bound.
            event = received.get(timeout=max(deadline - time.monotonic(), 0.1))
            if event.get("JobId") == started:
                break
        assert event["EventType"] == "BACKUP_JOB_SUCCESSFUL", event
        assert event["BackupVaultName"] == "watched", event
    finally:
        server.shutdown()
