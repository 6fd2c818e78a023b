//! The AWS Backup API end to end: a real `coffer serve` on a loopback
//! port, driven by boto3 and the aws cli (the conformance suite in
//! `crates/coffer-api/tests/conformance/`, run by pytest from the venv
//! `.ci/run` prepares, `COFFER_TEST_VENV`): every implemented operation
//! checked against the service model's output shapes, SigV4 refusals that
//! change nothing and are counted, and every operation of the model
//! answered (implemented, or `NotImplementedException`); the authorization
//! matrix of `examples/iam-principals.yaml`'s principals. The server runs
//! with a report delivery's failpoint armed ([`REPORT_PAUSE`]), so the
//! suite can hold a StartReportJob's report mid-delivery.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::crash::free_port;
use crate::{docs_backed_up_in, repo, Home};

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  StackFramework:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: stack_core
      FrameworkControls:
        - ControlName: BACKUP_LAST_RECOVERY_POINT_CREATED
  StackReports:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: stack_reports
      ReportDeliveryChannel:
        S3BucketName: stack-bucket
        Formats: [JSON]
      ReportSetting:
        ReportTemplate: BACKUP_JOB_REPORT
  StackPlan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: stack-plan
        BackupPlanRule:
          - RuleName: nightly
            TargetBackupVault: !Ref Primary
  StackDrills:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: stack_drills
      ScheduleExpression: cron(0 5 1 1 ? *)
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: ['*']
        RecoveryPointTypes: [SNAPSHOT]
  StackDrillDocs:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref StackDrills
      RestoreTestingSelectionName: stack_docs
      ProtectedResourceType: FileSystem
      IamRoleArn: arn:coffer:iam::210987654321:role/restore
      ProtectedResourceArns: ['*']
  HookedDrills:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: hooked_drills
      ScheduleExpression: cron(0 5 1 1 ? *)
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: ['*']
        RecoveryPointTypes: [SNAPSHOT]
  HookedDocs:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref HookedDrills
      RestoreTestingSelectionName: hooked_docs
      ProtectedResourceType: FileSystem
      IamRoleArn: arn:coffer:iam::210987654321:role/restore
      ProtectedResourceArns: ['*']
      CofferValidationHook:
        # Holds the test in VALIDATING until the suite releases it.
        Command: [sh, -c, 'while [ -n "$COFFER_RELEASE" ] && [ ! -e "$COFFER_RELEASE" ]; do sleep 0.1; done']
  Ops:
    Type: AWS::IAM::User
    Properties:
      UserName: ops
      Policies:
        - PolicyName: everything
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ['backup:*', 'coffer:*']
                Resource: '*'
  Retired:
    Type: AWS::IAM::User
    Properties:
      UserName: retired
"#;

/// `coffer serve` on `port`, killed when dropped.
struct Served(Child);

/// The failpoint the conformance suite pauses a report's delivery at
/// (the test binary has failpoints, `coffer_engine::failpoints`): armed as
/// `report-before-manifest@RELEASE`, so a delivery goes on while the file
/// RELEASE exists and waits (all its files but the manifest written)
/// while it does not. The harness creates the file, so nothing waits
/// until a test removes it (`test_reports.py`).
const REPORT_PAUSE: &str = coffer_engine::failpoints::REPORT_BEFORE_MANIFEST;

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `coffer serve` over `home` on `port`, with the failpoints
/// `failpoints` armed (`COFFER_FAILPOINTS`; none when empty).
fn serve(home: &Home, port: u16, failpoints: &str) -> Served {
    let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--grace-seconds",
            "5",
        ])
        .env_remove("COFFER_HOME")
        .env("COFFER_FAILPOINTS", failpoints)
        .env("COFFER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "coffer serve did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    served
}

/// Creates an access key for `user`: (ID, secret).
fn access_key(home: &Home, user: &str) -> (String, String) {
    let run = home.run(&["access-keys", "create", "--user", user, "-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let key = &value["AccessKey"];
    (
        key["AccessKeyId"].as_str().unwrap().to_string(),
        key["SecretAccessKey"].as_str().unwrap().to_string(),
    )
}

/// Accounts as scopes: a backup in member account 333333333333, the
/// example's principals declared there and in the backup delegated
/// administrator's account 222222222222, each account's auditor with a key,
/// and an organization (no backup policies) whose management account is
/// the CLI's. Returns `{"member": [ID, secret], "administrator": [ID,
/// secret], "member_account": ...}` for the suite.
fn accounts_as_scopes(home: &Home) -> serde_json::Value {
    let member = "333333333333";
    let data = home.path().join("data/docs");
    let stack = home.write(
        "member/stack.yaml",
        "Resources:\n  Primary:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: primary\n",
    );
    let inventory = home.write(
        "member/inventory.yaml",
        &format!(
            "defaults:\n  account: \"{member}\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
            data.display()
        ),
    );
    let in_account = |account: &str, args: &[&str]| -> crate::Run {
        let mut full = vec!["--account", account, "--region", "eu-west-1"];
        full.extend_from_slice(args);
        let run = home.run_bare(&full);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run
    };
    let principals = repo("examples/iam-principals.yaml");
    in_account(member, &["apply", "--stack", "member", &stack, &inventory]);
    in_account(
        member,
        &[
            "backup",
            "start",
            "--resource",
            &format!("arn:coffer:fs:eu-west-1:{member}:filesystem/docs"),
            "--vault",
            "primary",
        ],
    );
    let mut keys = serde_json::Map::new();
    for (role, account) in [("member", member), ("administrator", "222222222222")] {
        let stack = format!("principals-{account}");
        in_account(account, &["apply", "--stack", &stack, &principals]);
        let created = in_account(
            account,
            &["access-keys", "create", "--user", "auditor", "-o", "json"],
        );
        let value: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
        let key = &value["AccessKey"];
        keys.insert(
            role.to_string(),
            serde_json::json!([key["AccessKeyId"], key["SecretAccessKey"]]),
        );
    }
    keys.insert("member_account".into(), serde_json::json!(member));
    let org = home.write(
        "org/organization.yaml",
        "organization:\n  management_account: \"000000000000\"\n  backup_delegated_administrator: \"222222222222\"\n  root:\n    accounts:\n      - {id: \"000000000000\", name: management}\n      - {id: \"222222222222\", name: backup-admin}\n      - {id: \"210987654321\", name: docs}\n      - {id: \"333333333333\", name: member}\n",
    );
    in_account("000000000000", &["org", "apply", &org]);
    serde_json::Value::Object(keys)
}

#[test]
fn boto3_and_the_aws_cli_work_against_coffer_serve() {
    let venv = std::path::PathBuf::from(std::env::var("COFFER_TEST_VENV").unwrap_or_else(|_| {
        panic!("COFFER_TEST_VENV is not set: run the tests through .ci/run, which creates a venv with boto3, pytest and awscli (or create one and point COFFER_TEST_VENV at it)")
    }));
    let model = repo("../shared/reference/aws-backup-service-2.json");
    assert!(
        std::path::Path::new(&model).exists(),
        "the AWS Backup service model is not at {model}; CI has ../shared beside the clone"
    );
    let home = docs_backed_up_in(Home::new(), STACK, "35");
    // A validation of the point: a restore job for the API to list.
    let points = home.run(&["recovery-points", "list", "-o", "json"]);
    assert_eq!(points.code, 0, "{points:?}");
    let points: serde_json::Value = serde_json::from_str(&points.stdout).unwrap();
    let point = points[0]["RecoveryPointArn"].as_str().unwrap().to_string();
    let validated = home.run(&["restore", "validate", "--recovery-point", &point]);
    assert_eq!(validated.code, 0, "{validated:?}");
    // A key only for a declared user, saying how to declare one.
    let undeclared = home.run(&["access-keys", "create", "--user", "auditor"]);
    assert_eq!(undeclared.code, 1, "{undeclared:?}");
    assert!(
        undeclared.stderr.contains("not declared") && undeclared.stderr.contains("AWS::IAM::User"),
        "{undeclared:?}"
    );
    let (key_id, secret) = access_key(&home, "ops");
    let (disabled_id, disabled_secret) = access_key(&home, "retired");
    // The example's principals, applied as a stack of their own.
    let principals = home.run(&[
        "apply",
        "--stack",
        "principals",
        &repo("examples/iam-principals.yaml"),
    ]);
    assert_eq!(principals.code, 0, "{principals:?}");
    // IAM objects are account-wide objects with history, in the ledger.
    let history = home.run(&["get", "users", "auditor", "--history", "-o", "json"]);
    assert_eq!(history.code, 0, "{history:?}");
    let versions: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(
        versions[0]["Arn"],
        "arn:coffer:iam::210987654321:user/auditor"
    );
    assert_eq!(versions[0]["StackName"], "principals");
    let policies = home.run(&["get", "managed-policies", "-o", "json"]);
    assert_eq!(policies.code, 0, "{policies:?}");
    let policies: serde_json::Value = serde_json::from_str(&policies.stdout).unwrap();
    let names: Vec<&str> = policies
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ManagedPolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["backup-full-access", "backup-read-only"]);
    let verified = home.run(&["evidence", "verify"]);
    assert_eq!(verified.code, 0, "{verified:?}");
    let keys: serde_json::Map<String, serde_json::Value> = ["auditor", "operator", "administrator"]
        .into_iter()
        .map(|user| {
            let (id, secret) = access_key(&home, user);
            (user.to_string(), serde_json::json!([id, secret]))
        })
        .collect();
    let run = home.run(&[
        "access-keys",
        "update",
        "--access-key-id",
        &disabled_id,
        "--status",
        "Inactive",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    // The secret is never in the catalog in clear.
    for file in ["catalog.db", "catalog.db-wal"] {
        let bytes = std::fs::read(home.path().join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "the secret is in {file}"
        );
    }

    let scoped = accounts_as_scopes(&home);

    // A webhook standing for an SNS topic: the suite listens on its port
    // and sets a vault's notifications to the topic.
    let hook_port = free_port();
    let config = home.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[notifications]]\nurl = \"http://127.0.0.1:{hook_port}/hook\"\nsns_topic = \"arn:coffer:sns:eu-west-1:210987654321:backup-events\"\n"
    ));
    std::fs::write(&config, text).unwrap();

    let release = home.path().join("report-delivery-release");
    std::fs::write(&release, b"").unwrap();
    let port = free_port();
    let _served = serve(
        &home,
        port,
        &format!("{REPORT_PAUSE}@{}", release.display()),
    );
    let output = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo("crates/coffer-api/tests/conformance"))
        .env("COFFER_API_URL", format!("http://127.0.0.1:{port}"))
        .env("COFFER_KEY_ID", &key_id)
        .env("COFFER_SECRET", &secret)
        .env("COFFER_DISABLED_KEY_ID", &disabled_id)
        .env("COFFER_DISABLED_SECRET", &disabled_secret)
        .env(
            "COFFER_PRINCIPALS",
            serde_json::Value::Object(keys).to_string(),
        )
        .env("COFFER_SCOPED", scoped.to_string())
        .env("COFFER_REGION", "eu-west-1")
        .env("COFFER_ACCOUNT", "210987654321")
        .env("COFFER_MODEL", &model)
        .env("COFFER_BIN", env!("CARGO_BIN_EXE_coffer"))
        .env("COFFER_TEST_HOME", home.path())
        .env("COFFER_AWS", venv.join("bin/aws"))
        .env("COFFER_RESTORE_DIR", home.path().join("restored"))
        .env("COFFER_HOOK_PORT", hook_port.to_string())
        .env("COFFER_REPORT_RELEASE", &release)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the conformance suite failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "{stdout}");
}

#[test]
fn the_api_is_served_over_tls_with_the_configured_certificate() {
    let venv = std::path::PathBuf::from(std::env::var("COFFER_TEST_VENV").unwrap_or_else(|_| {
        panic!("COFFER_TEST_VENV is not set: run the tests through .ci/run, which creates a venv with boto3")
    }));
    let home = Home::new();
    let stack = home.write("stack.yaml", STACK);
    let applied = home.run(&["apply", "--stack", "tls", &stack]);
    assert_eq!(applied.code, 0, "{applied:?}");
    let (key_id, secret) = access_key(&home, "ops");
    let tls = home.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(tls.join("key.pem"))
        .arg("-out")
        .arg(tls.join("cert.pem"))
        .output()
        .expect("openssl (Debian's openssl package) makes the test certificate");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let config = home.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[serve]\ntls_certificate = \"{home}/tls/cert.pem\"\ntls_key = \"{home}/tls/key.pem\"\n",
    );
    std::fs::write(&config, text).unwrap();

    let port = free_port();
    let _served = serve(&home, port, "");
    let script = format!(
        r#"
import boto3, http.client, urllib.request, urllib.error
from botocore.config import Config
client = boto3.client("backup", endpoint_url="https://127.0.0.1:{port}", region_name="eu-west-1",
    aws_access_key_id="{key_id}", aws_secret_access_key="{secret}", verify="{cert}",
    config=Config(retries={{"total_max_attempts": 1}}))
names = [v["BackupVaultName"] for v in client.list_backup_vaults()["BackupVaultList"]]
assert names == ["primary"], names
try:
    urllib.request.urlopen("http://127.0.0.1:{port}/backup-vaults/", timeout=15)
    raise SystemExit("plain HTTP was answered on the TLS port")
except (urllib.error.URLError, http.client.HTTPException, OSError):
    pass
print("ok")
"#,
        cert = tls.join("cert.pem").display()
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
