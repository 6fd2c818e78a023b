"""SigV4 refusals: a request changed after signing (a byte of the
signature, the body, a signed header or the date), an Inactive or unknown
key, a request 16 minutes old, the wrong service or region, no signature
at all, a pre-signed URL. Each is refused with AWS's exception, changes
nothing, and is counted where an auditor reads it."""

import datetime
import json
import urllib.error
import urllib.request

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import make_client


def signed(url, key_id, secret, method, path, body=b"", region="eu-west-1",
           service="backup", now=None):
    """A request signed as botocore signs it: (method, url, headers, body)."""
    request = AWSRequest(method=method, url=url + path, data=body,
                         headers={"Content-Type": "application/json"})
    auth = botocore.auth.SigV4Auth(Credentials(key_id, secret), service, region)
    if now is None:
        auth.add_auth(request)
    else:
        saved = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: now
        try:
            auth.add_auth(request)
        finally:
            botocore.auth.get_current_datetime = saved
    prepared = request.prepare()
    return method, prepared.url, dict(prepared.headers), body


def send(method, url, headers, body):
    """Sends a request as given: (status, JSON body, x-amzn-ErrorType)."""
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text.strip() else {}, None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text.strip() else {}, error.headers.get("x-amzn-ErrorType")


def vault_names(client):
    return sorted(v["BackupVaultName"] for v in client.list_backup_vaults()["BackupVaultList"])


CREATE = ("PUT", "/backup-vaults/forged", b'{"BackupVaultTags": {"by": "nobody"}}')


def refused(expected, status, body, header):
    assert status == 403, (status, body)
    assert body["__type"] == expected, body
    assert header == expected
    assert body["message"] and body["Message"] == body["message"]


def test_a_good_signature_is_accepted(url, credentials, client):
    key_id, secret = credentials
    method, path, body = CREATE
    status, answer, _ = send(*signed(url, key_id, secret, method, path.replace("forged", "signed-ok"), body))
    assert status == 200, answer
    client.delete_backup_vault(BackupVaultName="signed-ok")


@pytest.mark.parametrize("tamper", ["signature", "body", "signed_header", "date"])
def test_a_request_changed_after_signing_is_refused_and_changes_nothing(url, credentials, client, tamper):
    key_id, secret = credentials
    before = vault_names(client)
    method, full, headers, body = signed(url, key_id, secret, *CREATE)
    if tamper == "signature":
        auth = headers["Authorization"]
        last = auth[-1]
        headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    elif tamper == "body":
        body = body.replace(b"nobody", b"nobodz")
    elif tamper == "signed_header":
        headers["Content-Type"] = "application/jsoN"
    elif tamper == "date":
        date = headers["X-Amz-Date"]
        headers["X-Amz-Date"] = date[:-2] + ("00" if date[-3:-1] != "00" else "01") + "Z"
    status, answer, header = send(method, full, headers, body)
    refused("InvalidSignatureException", status, answer, header)
    assert vault_names(client) == before


def test_an_inactive_key_is_refused(url, disabled_credentials, client):
    key_id, secret = disabled_credentials
    before = vault_names(client)
    status, answer, header = send(*signed(url, key_id, secret, *CREATE))
    refused("UnrecognizedClientException", status, answer, header)
    assert "Inactive" in answer["message"]
    assert vault_names(client) == before
    with pytest.raises(ClientError) as error:
        make_client(key_id, secret).list_backup_vaults()
    assert error.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_an_unknown_key_is_refused(url, client):
    before = vault_names(client)
    status, answer, header = send(*signed(url, "AKCFNOSUCHKEY0000000", "secret", *CREATE))
    refused("UnrecognizedClientException", status, answer, header)
    assert vault_names(client) == before


def test_a_request_16_minutes_old_is_refused_and_14_minutes_is_not(url, credentials, client):
    key_id, secret = credentials
    before = vault_names(client)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    old = now - datetime.timedelta(minutes=16)
    status, answer, header = send(*signed(url, key_id, secret, *CREATE, now=old))
    refused("InvalidSignatureException", status, answer, header)
    assert "Signature expired" in answer["message"]
    assert vault_names(client) == before
    recent = now - datetime.timedelta(minutes=14)
    status, answer, _ = send(*signed(url, key_id, secret, "GET", "/backup-vaults/", now=recent))
    assert status == 200, answer


@pytest.mark.parametrize("service,region", [("s3", "eu-west-1"), ("backup", "us-gov-west-9")])
def test_the_wrong_service_or_region_is_refused(url, credentials, client, service, region):
    key_id, secret = credentials
    before = vault_names(client)
    status, answer, header = send(*signed(url, key_id, secret, *CREATE, service=service, region=region))
    refused("InvalidSignatureException", status, answer, header)
    assert vault_names(client) == before


def test_unsigned_and_presigned_requests_are_refused(url, credentials, client):
    before = vault_names(client)
    status, answer, header = send("PUT", url + "/backup-vaults/forged", {"Content-Type": "application/json"}, b"{}")
    refused("MissingAuthenticationTokenException", status, answer, header)
    key_id, _ = credentials
    presigned = (url + "/backup-vaults/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                 + key_id + "%2F20261207%2Feu-west-1%2Fbackup%2Faws4_request&X-Amz-Signature=00")
    status, answer, header = send("GET", presigned, {}, b"")
    refused("InvalidSignatureException", status, answer, header)
    assert vault_names(client) == before


def test_refusals_are_counted_where_an_auditor_reads_them(url, credentials, coffer):
    key_id, secret = credentials
    counted = lambda: sum(r["Count"] for r in coffer("access-keys", "refusals", "-o", "json")
                          if r["Source"] == key_id and r["Reason"] == "InvalidSignatureException")
    start = counted()
    method, full, headers, body = signed(url, key_id, secret, *CREATE)
    headers["Authorization"] = headers["Authorization"][:-1] + ("0" if headers["Authorization"][-1] != "0" else "1")
    for _ in range(5):
        send(method, full, headers, body)
    assert counted() == start + 5
    rows = [r for r in coffer("access-keys", "refusals", "-o", "json") if r["Source"] == key_id]
    # One row per source, reason and hour: a flood increments, it does not grow.
    assert len({(r["Reason"], r["Hour"]) for r in rows}) == len(rows)
    log = coffer("evidence", "log", "--kind", "auth refusal", "-o", "json")["Entries"]
    assert any(key_id in json.dumps(e) for e in log)


CACHE_STACK = """
Resources:
  Checked:
    Type: AWS::IAM::User
    Properties:
      UserName: cache-check
      Policies:
        - PolicyName: reads
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ['{action}']
                Resource: '*'
"""


def test_a_key_or_policy_changed_by_another_process_counts_from_the_next_request(coffer, tmp_path):
    # The server keeps what authentication reads (the key, the user's
    # policies, the regions) between requests; a change made by the CLI,
    # another process, must hold from the very next request.
    stack = tmp_path / "cache-check.yaml"
    stack.write_text(CACHE_STACK.format(action="backup:List*"))
    coffer("apply", "--stack", "cache-check", str(stack))
    key = coffer("access-keys", "create", "--user", "cache-check", "-o", "json")["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    checked = make_client(key_id, secret)

    def answer():
        try:
            checked.list_backup_vaults()
            return "ok"
        except ClientError as error:
            return error.response["Error"]["Code"]

    assert answer() == "ok"
    assert answer() == "ok"
    coffer("access-keys", "update", "--access-key-id", key_id, "--status", "Inactive")
    assert answer() == "UnrecognizedClientException"
    coffer("access-keys", "update", "--access-key-id", key_id, "--status", "Active")
    assert answer() == "ok"
    # The user's policy no longer allows listing.
    stack.write_text(CACHE_STACK.format(action="backup:Describe*"))
    coffer("apply", "--stack", "cache-check", str(stack))
    assert answer() == "AccessDeniedException"
    stack.write_text(CACHE_STACK.format(action="backup:List*"))
    coffer("apply", "--stack", "cache-check", str(stack))
    assert answer() == "ok"
    coffer("access-keys", "delete", "--access-key-id", key_id)
    assert answer() == "UnrecognizedClientException"
