"""Audit Manager's operations through boto3: frameworks and report plans
created, described, listed, changed and deleted through the API (a
stack's refused with a ConflictException naming the stack), report jobs
started, described and listed with the delivered objects' keys (a job
answered while its report's delivery is held, RUNNING until it is let
go), and a framework created through the API evaluated like a stack's."""

import datetime
import json
import os
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

from shapes import check


def code(error):
    return error.value.response["Error"]["Code"]


def message(error):
    return error.value.response["Error"]["Message"]


def report_job_ended(client, job_id):
    """The report job once it left RUNNING (a hang guard, not a bound)."""
    deadline = time.monotonic() + 300
    while True:
        job = client.describe_report_job(ReportJobId=job_id)["ReportJob"]
        if job["Status"] != "RUNNING":
            return job
        assert time.monotonic() < deadline, f"report job {job_id} did not end: {job}"
        time.sleep(0.2)


CONTROLS = [
    {"ControlName": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN"},
    {
        "ControlName": "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
        "ControlInputParameters": [{"ParameterName": "requiredRetentionDays", "ParameterValue": "30"}],
    },
]


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
    return json.loads(run.stdout)


def test_frameworks_of_no_stack_are_created_changed_listed_and_deleted(
        client, model, raw, region, account, coffer):
    created = client.create_framework(
        FrameworkName="api_core", FrameworkDescription="made through the API",
        FrameworkControls=CONTROLS)
    check(model, "CreateFramework", raw)
    assert created["FrameworkArn"] == f"arn:coffer:backup:{region}:{account}:framework:api_core"
    with pytest.raises(ClientError) as again:
        client.create_framework(FrameworkName="api_core", FrameworkControls=CONTROLS)
    assert code(again) == "AlreadyExistsException"
    with pytest.raises(ClientError) as taken:
        client.create_framework(FrameworkName="stack_core", FrameworkControls=CONTROLS)
    assert code(taken) == "AlreadyExistsException" and '"docs"' in message(taken)
    with pytest.raises(ClientError) as bad:
        client.create_framework(FrameworkName="api_bad",
                                FrameworkControls=[{"ControlName": "BACKUP_EVERYTHING_FINE"}])
    assert code(bad) == "InvalidParameterValueException"
    assert "BACKUP_EVERYTHING_FINE" in message(bad)
    with pytest.raises(ClientError) as missing:
        client.describe_framework(FrameworkName="api_bad")
    assert code(missing) == "ResourceNotFoundException"

    described = client.describe_framework(FrameworkName="api_core")
    check(model, "DescribeFramework", raw)
    assert described["FrameworkControls"] == CONTROLS
    assert described["FrameworkDescription"] == "made through the API"
    assert described["DeploymentStatus"] == "COMPLETED"

    listed = client.list_frameworks()
    check(model, "ListFrameworks", raw)
    by_name = {f["FrameworkName"]: f for f in listed["Frameworks"]}
    assert {"api_core", "stack_core"} <= set(by_name)
    assert by_name["api_core"]["NumberOfControls"] == 2
    first = client.list_frameworks(MaxResults=1)
    assert len(first["Frameworks"]) == 1 and first["NextToken"]
    rest = client.list_frameworks(NextToken=first["NextToken"])["Frameworks"]
    assert first["Frameworks"][0]["FrameworkName"] not in [f["FrameworkName"] for f in rest]

    client.update_framework(FrameworkName="api_core", FrameworkDescription="changed")
    check(model, "UpdateFramework", raw)
    changed = client.describe_framework(FrameworkName="api_core")
    assert changed["FrameworkDescription"] == "changed" and changed["FrameworkControls"] == CONTROLS
    with pytest.raises(ClientError) as bad_update:
        client.update_framework(FrameworkName="api_core",
                                FrameworkControls=[{"ControlName": "NOT_A_CONTROL"}])
    assert code(bad_update) == "InvalidParameterValueException"
    assert client.describe_framework(FrameworkName="api_core")["FrameworkControls"] == CONTROLS

    # A stack's framework is its template's to change.
    for call in (
        lambda: client.update_framework(FrameworkName="stack_core", FrameworkDescription="x"),
        lambda: client.delete_framework(FrameworkName="stack_core"),
    ):
        with pytest.raises(ClientError) as conflict:
            call()
        assert code(conflict) == "ConflictException"
        assert '"docs"' in message(conflict) and "template" in message(conflict)

    # The ledger names the key's principal as the creator.
    entries = coffer("evidence", "log", "--kind", "framework", "-o", "json")["Entries"]
    actors = [json.dumps(e) for e in entries if "api_core" in json.dumps(e)]
    assert any("user/ops" in a for a in actors), actors

    client.create_framework(FrameworkName="api_gone", FrameworkControls=CONTROLS)
    client.delete_framework(FrameworkName="api_gone")
    check(model, "DeleteFramework", raw)
    with pytest.raises(ClientError) as gone:
        client.describe_framework(FrameworkName="api_gone")
    assert code(gone) == "ResourceNotFoundException"


def test_report_plans_and_jobs_deliver_and_list_their_keys(
        client, model, raw, region, account, url, credentials):
    framework_arn = f"arn:coffer:backup:{region}:{account}:framework:api_core"
    created = client.create_report_plan(
        ReportPlanName="api_compliance",
        ReportDeliveryChannel={"S3BucketName": "api-reports", "Formats": ["JSON"]},
        ReportSetting={"ReportTemplate": "CONTROL_COMPLIANCE_REPORT",
                       "FrameworkArns": [framework_arn]})
    check(model, "CreateReportPlan", raw)
    assert created["ReportPlanArn"] == f"arn:coffer:backup:{region}:{account}:report-plan:api_compliance"
    with pytest.raises(ClientError) as bad_template:
        client.create_report_plan(
            ReportPlanName="api_bad", ReportDeliveryChannel={"S3BucketName": "api-reports"},
            ReportSetting={"ReportTemplate": "EVERYTHING_REPORT"})
    assert code(bad_template) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as no_framework:
        client.create_report_plan(
            ReportPlanName="api_bad", ReportDeliveryChannel={"S3BucketName": "api-reports"},
            ReportSetting={"ReportTemplate": "CONTROL_COMPLIANCE_REPORT",
                           "FrameworkArns": [framework_arn + "_missing"]})
    assert code(no_framework) == "InvalidParameterValueException"

    job_id = client.start_report_job(ReportPlanName="api_compliance")["ReportJobId"]
    check(model, "StartReportJob", raw)
    # Answered at once; the report is made in the background.
    first = client.describe_report_job(ReportJobId=job_id)["ReportJob"]
    check(model, "DescribeReportJob", raw)
    assert first["Status"] in ("RUNNING", "COMPLETED"), first
    job = report_job_ended(client, job_id)
    check(model, "DescribeReportJob", raw)
    assert job["Status"] == "COMPLETED", job
    assert job["ReportPlanArn"] == created["ReportPlanArn"]
    destination = job["ReportDestination"]
    assert destination["S3BucketName"] == "api-reports"
    keys = destination["S3Keys"]
    assert any(k.endswith("/manifest.json") for k in keys), keys
    assert all(f"/{job_id}/" in k for k in keys), keys
    # The keys are where the objects are: the bucket's folder in the home.
    bucket = os.path.join(os.environ["COFFER_TEST_HOME"], "buckets", "api-reports")
    for key in keys:
        assert os.path.isfile(os.path.join(bucket, key)), key
    data = next(k for k in keys if k.endswith(".json") and "manifest" not in k)
    with open(os.path.join(bucket, data)) as f:
        rows = json.load(f)["reportItems"]
    # The framework made through the API was evaluated: each control has
    # a result over the home's file system.
    ours = {r["controlName"]: r for r in rows if r["frameworkName"] == "api_core"}
    assert set(ours) == {c["ControlName"] for c in CONTROLS}, rows
    for row in ours.values():
        assert row["controlComplianceStatus"] in ("COMPLIANT", "NON_COMPLIANT"), row
        assert row["lastEvaluationTime"], row
        assert int(row["numResourcesCompliant"]) + int(row["numResourcesNonCompliant"]) >= 1, row

    described = client.describe_report_plan(ReportPlanName="api_compliance")["ReportPlan"]
    check(model, "DescribeReportPlan", raw)
    assert described["ReportSetting"]["FrameworkArns"] == [framework_arn]
    assert described["ReportDeliveryChannel"]["Formats"] == ["JSON"]
    assert described["LastSuccessfulExecutionTime"] >= described["CreationTime"]
    listed = client.list_report_plans()
    check(model, "ListReportPlans", raw)
    assert {"api_compliance", "stack_reports"} <= {p["ReportPlanName"] for p in listed["ReportPlans"]}

    client.update_report_plan(
        ReportPlanName="api_compliance",
        ReportDeliveryChannel={"S3BucketName": "api-reports", "Formats": ["CSV", "JSON"]})
    check(model, "UpdateReportPlan", raw)
    changed = client.describe_report_plan(ReportPlanName="api_compliance")["ReportPlan"]
    assert changed["ReportDeliveryChannel"]["Formats"] == ["CSV", "JSON"]
    assert changed["ReportSetting"]["FrameworkArns"] == [framework_arn]
    for call in (
        lambda: client.update_report_plan(ReportPlanName="stack_reports", ReportPlanDescription="x"),
        lambda: client.delete_report_plan(ReportPlanName="stack_reports"),
    ):
        with pytest.raises(ClientError) as conflict:
            call()
        assert code(conflict) == "ConflictException"
        assert '"docs"' in message(conflict) and "template" in message(conflict)

    # A stack's report plan runs through the API as well.
    stack_job = client.start_report_job(ReportPlanName="stack_reports")["ReportJobId"]
    assert report_job_ended(client, stack_job)["Status"] == "COMPLETED"
    with pytest.raises(ClientError) as no_plan:
        client.start_report_job(ReportPlanName="nothing_here")
    assert code(no_plan) == "ResourceNotFoundException"

    jobs = client.list_report_jobs()
    check(model, "ListReportJobs", raw)
    assert {job_id, stack_job} <= {j["ReportJobId"] for j in jobs["ReportJobs"]}
    mine = client.list_report_jobs(ByReportPlanName="api_compliance")["ReportJobs"]
    assert job_id in [j["ReportJobId"] for j in mine]
    assert all(j["ReportPlanArn"] == created["ReportPlanArn"] for j in mine)
    assert next(j for j in mine if j["ReportJobId"] == job_id)["ReportDestination"]["S3Keys"] == keys
    failed = client.list_report_jobs(ByStatus="FAILED")["ReportJobs"]
    assert job_id not in [j["ReportJobId"] for j in failed]
    assert all(j["Status"] == "FAILED" for j in failed)
    second = datetime.timedelta(seconds=1)
    later = client.list_report_jobs(ByCreationAfter=job["CreationTime"] + second)["ReportJobs"]
    assert job_id not in [j["ReportJobId"] for j in later]
    with pytest.raises(ClientError) as bad_status:
        client.list_report_jobs(ByStatus="SNOOZING")
    assert code(bad_status) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as no_job:
        client.describe_report_job(ReportJobId="no-such-job")
    assert code(no_job) == "ResourceNotFoundException"

    # The aws cli sees the same.
    frameworks = aws(url, region, credentials, "list-frameworks")["Frameworks"]
    assert "api_core" in [f["FrameworkName"] for f in frameworks]
    by_cli = aws(url, region, credentials, "describe-report-job", "--report-job-id", job_id)
    assert by_cli["ReportJob"]["ReportDestination"]["S3Keys"] == keys

    client.delete_report_plan(ReportPlanName="api_compliance")
    check(model, "DeleteReportPlan", raw)
    with pytest.raises(ClientError) as gone:
        client.describe_report_plan(ReportPlanName="api_compliance")
    assert code(gone) == "ResourceNotFoundException"
    # Its job and delivery stay.
    assert client.describe_report_job(ReportJobId=job_id)["ReportJob"]["Status"] == "COMPLETED"
    client.delete_framework(FrameworkName="api_core")


def paused_delivery(bucket):
    """The folder of the delivery waiting at its failpoint in `bucket`:
    files written, none of them the manifest (a hang guard, not a bound)."""
    deadline = time.monotonic() + 300
    while True:
        for folder, _, files in os.walk(bucket):
            if files and "manifest.json" not in files:
                return folder
        assert time.monotonic() < deadline, f"no delivery reached its pause in {bucket}"
        time.sleep(0.2)


def test_start_report_job_answers_while_the_report_is_still_delivered(client, model, raw):
    """StartReportJob answers before the report is made and delivered: with
    the delivery held at the failpoint before its manifest (the server's
    COFFER_REPORT_RELEASE file removed), the job has answered, is RUNNING
    with no destination, and completes with its keys once let go. A
    StartReportJob that made the report before answering would never
    answer while the delivery is held."""
    release = os.environ["COFFER_REPORT_RELEASE"]
    assert os.path.exists(release), "the harness creates the release file"
    client.create_report_plan(
        ReportPlanName="api_held",
        ReportDeliveryChannel={"S3BucketName": "held-reports", "Formats": ["JSON"]},
        ReportSetting={"ReportTemplate": "BACKUP_JOB_REPORT"})
    bucket = os.path.join(os.environ["COFFER_TEST_HOME"], "buckets", "held-reports")
    answered = {}

    def start():
        try:
            answered["job"] = client.start_report_job(ReportPlanName="api_held")
        except Exception as error:  # reported by the assertions below
            answered["error"] = error

    os.remove(release)
    caller = threading.Thread(target=start, daemon=True)
    try:
        caller.start()
        held = paused_delivery(bucket)
        # The delivery is held: StartReportJob must answer all the same.
        caller.join(timeout=300)  # a hang guard, not a bound
        assert not caller.is_alive(), \
            "StartReportJob did not answer while its report's delivery was held"
        assert "error" not in answered, answered
        check(model, "StartReportJob", raw)
        job_id = answered["job"]["ReportJobId"]
        assert os.path.basename(held) == job_id, (held, job_id)
        job = client.describe_report_job(ReportJobId=job_id)["ReportJob"]
        check(model, "DescribeReportJob", raw)
        assert job["Status"] == "RUNNING", job
        assert not job.get("ReportDestination", {}).get("S3Keys"), job
        assert "CompletionTime" not in job, job
        running = client.list_report_jobs(ByStatus="RUNNING")["ReportJobs"]
        assert job_id in [j["ReportJobId"] for j in running]
        assert not os.path.exists(os.path.join(held, "manifest.json"))
    finally:
        with open(release, "w"):
            pass
        caller.join(timeout=300)
    job = report_job_ended(client, job_id)
    assert job["Status"] == "COMPLETED", job
    keys = job["ReportDestination"]["S3Keys"]
    assert any(k.endswith("/manifest.json") for k in keys), keys
    assert all(f"/{job_id}/" in k for k in keys), keys
    for key in keys:
        assert os.path.isfile(os.path.join(bucket, key)), key
    client.delete_report_plan(ReportPlanName="api_held")
