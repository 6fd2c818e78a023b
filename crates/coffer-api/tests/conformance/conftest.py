"""Fixtures of the AWS Backup API conformance suite.

`crates/coffer/tests/it/api.rs` starts a real `coffer serve` over a home
with a stack (vault `primary`, one file system backed up once) and two
access keys (one Inactive), then runs this suite with:

COFFER_API_URL, COFFER_REGION, COFFER_ACCOUNT, COFFER_KEY_ID, COFFER_SECRET,
COFFER_DISABLED_KEY_ID, COFFER_DISABLED_SECRET, COFFER_MODEL (the service
model JSON), COFFER_BIN and COFFER_TEST_HOME (the CLI and its home),
COFFER_AWS (the aws cli), COFFER_REPORT_RELEASE (a file that exists:
while it does not, a report delivery of the server waits before writing
its manifest, the failpoint `report-before-manifest` of the test build).
"""

import json
import os
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.handlers import generate_idempotent_uuid

ENV = os.environ


def env(name):
    value = ENV.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run this suite through `cargo test -p coffer --test it api`")
    return value


@pytest.fixture(scope="session")
def model():
    with open(env("COFFER_MODEL")) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def url():
    return env("COFFER_API_URL")


@pytest.fixture(scope="session")
def region():
    return env("COFFER_REGION")


@pytest.fixture(scope="session")
def account():
    return env("COFFER_ACCOUNT")


def make_client(key_id, secret, region=None, service="backup"):
    return boto3.client(
        service,
        endpoint_url=env("COFFER_API_URL"),
        region_name=region or env("COFFER_REGION"),
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


class RawBodies:
    """The raw JSON of each answer, by operation, as it came off the wire
    (boto3 drops members outside the shape, so shapes are checked here)."""

    def __init__(self):
        self.last = {}

    def __call__(self, operation_model, response_dict, **_):
        body = response_dict.get("body") or b""
        self.last[operation_model.name] = (
            response_dict.get("status_code"),
            json.loads(body) if body.strip() else {},
        )


@pytest.fixture(scope="session")
def raw():
    return RawBodies()


@pytest.fixture(scope="session")
def client(raw):
    c = make_client(env("COFFER_KEY_ID"), env("COFFER_SECRET"))
    c.meta.events.register("before-parse.backup.*", raw)
    return c


@pytest.fixture(scope="session")
def tokenless_client():
    """A client that sends a request token only when given one: boto3
    fills the model's idempotency tokens (CreateBackupVault's, ...) with a
    new UUID otherwise, as the aws cli does."""
    c = make_client(env("COFFER_KEY_ID"), env("COFFER_SECRET"))
    c.meta.events.unregister("before-parameter-build", generate_idempotent_uuid)
    return c


@pytest.fixture(scope="session")
def credentials():
    return env("COFFER_KEY_ID"), env("COFFER_SECRET")


@pytest.fixture(scope="session")
def disabled_credentials():
    return env("COFFER_DISABLED_KEY_ID"), env("COFFER_DISABLED_SECRET")


@pytest.fixture(scope="session")
def coffer():
    """Runs the coffer CLI on the served home; returns its parsed JSON."""

    def run(*args):
        out = subprocess.run(
            [env("COFFER_BIN"), "--home", env("COFFER_TEST_HOME"), "--account",
             env("COFFER_ACCOUNT"), "--region", env("COFFER_REGION"), *args],
            capture_output=True, text=True, check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if "-o" in args else out.stdout

    return run
