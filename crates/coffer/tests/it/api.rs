//! The AWS Backup API end to end: a real `coffer serve` on a loopback
//! port, driven by boto3 and the aws cli (the conformance suite in
//! `crates/coffer-api/tests/conformance/`, run by pytest from the venv
//! `.ci/run` prepares, `COFFER_TEST_VENV`): every implemented operation
//! checked against the service model's output shapes, SigV4 refusals that
//! change nothing and are counted, and every operation of the model
//! answered (implemented, or `NotImplementedException`).

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
"#;

/// `coffer serve` on `port`, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(home: &Home, port: u16) -> Served {
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
    let (key_id, secret) = access_key(&home, "ops");
    let (disabled_id, disabled_secret) = access_key(&home, "retired");
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

    let port = free_port();
    let _served = serve(&home, port);
    let output = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo("crates/coffer-api/tests/conformance"))
        .env("COFFER_API_URL", format!("http://127.0.0.1:{port}"))
        .env("COFFER_KEY_ID", &key_id)
        .env("COFFER_SECRET", &secret)
        .env("COFFER_DISABLED_KEY_ID", &disabled_id)
        .env("COFFER_DISABLED_SECRET", &disabled_secret)
        .env("COFFER_REGION", "eu-west-1")
        .env("COFFER_ACCOUNT", "210987654321")
        .env("COFFER_MODEL", &model)
        .env("COFFER_BIN", env!("CARGO_BIN_EXE_coffer"))
        .env("COFFER_TEST_HOME", home.path())
        .env("COFFER_AWS", venv.join("bin/aws"))
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
