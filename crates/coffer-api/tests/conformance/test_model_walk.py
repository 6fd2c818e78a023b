"""Every operation of the service model gets an answer: carried out, or
Coffer's NotImplementedException naming it (501); never an unknown
operation, a 404 page or a server error."""

import pytest
from botocore.exceptions import ClientError
from botocore import xform_name

IMPLEMENTED = {
    "ListBackupVaults", "DescribeBackupVault", "CreateBackupVault", "DeleteBackupVault",
    "ListRecoveryPointsByBackupVault", "DescribeRecoveryPoint", "ListBackupJobs",
    "DescribeBackupJob", "StartBackupJob", "GetSupportedResourceTypes", "ListProtectedResources",
    "GetBackupVaultAccessPolicy", "PutBackupVaultAccessPolicy", "DeleteBackupVaultAccessPolicy",
    "PutBackupVaultLockConfiguration", "DeleteBackupVaultLockConfiguration",
    "CreateLegalHold", "GetLegalHold", "ListLegalHolds", "CancelLegalHold",
    "ListRecoveryPointsByLegalHold", "ListRestoreJobs", "DescribeRestoreJob",
    "StartRestoreJob",
    "CreateFramework", "DescribeFramework", "ListFrameworks", "UpdateFramework", "DeleteFramework",
    "CreateReportPlan", "DescribeReportPlan", "ListReportPlans", "UpdateReportPlan",
    "DeleteReportPlan", "StartReportJob", "DescribeReportJob", "ListReportJobs",
    "StartCopyJob", "DescribeCopyJob", "ListCopyJobs",
    "StopBackupJob", "DeleteRecoveryPoint", "UpdateRecoveryPointLifecycle",
    "GetRecoveryPointRestoreMetadata", "ListRecoveryPointsByResource", "DescribeProtectedResource",
    "ListProtectedResourcesByBackupVault", "ListRestoreJobsByProtectedResource",
    "GetRestoreJobMetadata", "PutBackupVaultNotifications", "GetBackupVaultNotifications",
    "DeleteBackupVaultNotifications",
    "CreateBackupPlan", "GetBackupPlan", "ListBackupPlans", "UpdateBackupPlan",
    "DeleteBackupPlan", "ListBackupPlanVersions", "GetBackupPlanFromJSON",
    "CreateBackupSelection", "GetBackupSelection", "ListBackupSelections",
    "DeleteBackupSelection", "TagResource", "UntagResource", "ListTags",
    "ListRestoreTestingPlans", "GetRestoreTestingPlan", "CreateRestoreTestingPlan",
    "UpdateRestoreTestingPlan", "DeleteRestoreTestingPlan", "ListRestoreTestingSelections",
    "GetRestoreTestingSelection", "CreateRestoreTestingSelection",
    "UpdateRestoreTestingSelection", "DeleteRestoreTestingSelection",
    "PutRestoreValidationResult", "GetRestoreTestingInferredMetadata",
}


def sample(model, shape_name, depth=0):
    """A value of the shape that botocore's own checks accept."""
    shape = model["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = shape.get("members", {})
        return {name: sample(model, members[name]["shape"], depth + 1)
                for name in shape.get("required", [])}
    if kind == "list":
        return [sample(model, shape["member"]["shape"], depth + 1)] * max(shape.get("min", 0), 1)
    if kind == "map":
        return {"k": sample(model, shape["value"]["shape"], depth + 1)}
    if kind == "string":
        if "enum" in shape:
            return shape["enum"][0]
        return "walk-" + "x" * max(shape.get("min", 0), 1)
    if kind in ("integer", "long"):
        return max(shape.get("min", 1), 1)
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return 1765101234
    if kind in ("double", "float"):
        return 1.0
    if kind == "blob":
        return b"x"
    raise AssertionError(f"{shape_name}: {kind}")


def test_every_operation_of_the_model_answers(model, client):
    names = sorted(model["operations"])
    assert len(names) == 115
    not_implemented = []
    for name in names:
        op = model["operations"][name]
        params = sample(model, op["input"]["shape"]) if "input" in op else {}
        # The walk must not change the served home: nothing it names exists.
        for key in list(params):
            if isinstance(params[key], str) and key.endswith("VaultName"):
                params[key] = "walk-vault"
        try:
            answer = getattr(client, xform_name(name))(**params)
            assert name in IMPLEMENTED, f"{name} answered as if implemented"
            if name == "CreateLegalHold":
                # Its sample selects every point: it must not pin them.
                client.cancel_legal_hold(LegalHoldId=answer["LegalHoldId"],
                                         CancelDescription="made by the model walk")
        except ClientError as error:
            response = error.response
            status = response["ResponseMetadata"]["HTTPStatusCode"]
            code = response["Error"]["Code"]
            assert code != "UnknownOperationException", f"{name}: routed nowhere"
            assert status < 500 or status == 501, f"{name}: {status} {code}"
            if name in IMPLEMENTED:
                assert code != "NotImplementedException", name
            else:
                assert (status, code) == (501, "NotImplementedException"), f"{name}: {status} {code}"
                assert f"Coffer does not implement {name}" in response["Error"]["Message"]
                not_implemented.append(name)
    assert len(not_implemented) == len(names) - len(IMPLEMENTED)
