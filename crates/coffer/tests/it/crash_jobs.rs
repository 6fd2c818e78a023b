//! Crash safety of restores, validations and report deliveries: each is
//! killed with SIGKILL at its named failpoint (the binary `cargo test`
//! builds has them, `coffer_engine::failpoints`), then `coffer serve`
//! starts (its `recover` settles what dead processes left) and stops on
//! SIGTERM. No job is left RUNNING; the restore's reason names its target,
//! the validation's its scratch place, and the half delivery is FAILED,
//! named in its reason, and refused by `coffer verify` (no manifest).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Home, Run};

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Jobs:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: jobs_daily
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [CSV, JSON]
      ReportSetting:
        ReportTemplate: BACKUP_JOB_REPORT
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
const QUEUE: &str = "arn:coffer:sqlite:eu-west-1:210987654321:database/queue";

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// Runs `coffer ARGS` with the failpoint `name` armed, waits until the
/// process reports reaching it, and kills it there with SIGKILL.
pub(crate) fn kill_at(home: &Home, name: &str, args: &[&str]) {
    let mut child = crate::spawn_to_failpoint(home, name, name, args);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");
}

/// Restore and report jobs in `status`, read straight from the catalog.
pub(crate) fn jobs_in(home: &Home, table: &str, status: &str) -> Vec<Value> {
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut statement = conn
        .prepare(&format!("SELECT doc FROM {table} WHERE status = ?1"))
        .unwrap();
    statement
        .query_map([status], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|doc| serde_json::from_str(&doc.unwrap()).unwrap())
        .collect()
}

fn point_of(home: &Home, resource: &str) -> String {
    let run = home.run(&["recovery-points", "list", "--all", "-o", "json"]);
    ok(&run);
    let points: Value = serde_json::from_str(&run.stdout).unwrap();
    points
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ResourceArn"] == resource && p["Status"] == "COMPLETED")
        .and_then(|p| p["RecoveryPointId"].as_str())
        .unwrap_or_else(|| panic!("no recovery point of {resource}: {points:#}"))
        .to_string()
}

pub(crate) fn serve(home: &Home) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--grace-seconds", "30"])
        .env_remove("COFFER_HOME")
        .env_remove("COFFER_FAILPOINTS")
        .env("COFFER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs `coffer ARGS` (running a restore test) killed with SIGKILL at the
/// failpoint after the test restored; the one test left RUNNING: its ID
/// and the value of its `RestoreMetadata` key `scratch_key`.
pub(crate) fn killed_after_restore(
    home: &Home,
    args: &[&str],
    scratch_key: &str,
) -> (String, String) {
    kill_at(
        home,
        coffer_engine::failpoints::RESTORE_TEST_AFTER_RESTORE,
        args,
    );
    let running = jobs_in(home, "restore_jobs", "RUNNING");
    let [job] = &running[..] else {
        panic!("one test restored: {running:#?}")
    };
    assert!(job["DeletionStatus"].is_null(), "{job:#}");
    let scratch = job["RestoreMetadata"][scratch_key]
        .as_str()
        .unwrap_or_else(|| panic!("no {scratch_key}: {job:#}"))
        .to_string();
    (job["RestoreJobId"].as_str().unwrap().to_string(), scratch)
}

/// Starts `coffer serve` and waits (at most a minute) until restore test
/// `id`'s scratch target is removed (`DeletionStatus` SUCCESSFUL), then
/// stops it with SIGTERM; the job as then recorded, `None` when it never
/// was.
pub(crate) fn serve_until_scratch_removed(home: &Home, id: &str) -> Option<Value> {
    let mut serve = serve(home);
    let cleaned = (0..600).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let conn = rusqlite::Connection::open(home.path().join("catalog.db")).ok()?;
        let doc: String = conn
            .query_row("SELECT doc FROM restore_jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .ok()?;
        let job: Value = serde_json::from_str(&doc).ok()?;
        (job["DeletionStatus"] == "SUCCESSFUL").then_some(job)
    });
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
    cleaned
}

fn message(job: &Value) -> &str {
    job["StatusMessage"].as_str().unwrap_or_default()
}

#[test]
fn restores_validations_and_deliveries_killed_midway_are_settled_at_the_next_start() {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    for n in 0..40 {
        std::fs::write(
            docs.join(format!("file-{n:02}.txt")),
            format!("{n}").repeat(4096),
        )
        .unwrap();
    }
    let queue = home.path().join("data/queue.db");
    let conn = rusqlite::Connection::open(&queue).unwrap();
    conn.execute_batch("CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO q (body) VALUES ('one'), ('two');")
        .unwrap();
    drop(conn);
    let stack = home.write("stack.yaml", STACK);
    let inventory = home.write(
        "inventory.yaml",
        &format!(
            "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\nsqlite:\n  - name: queue\n    path: {}\n",
            docs.display(),
            queue.display()
        ),
    );
    ok(&home.run(&["apply", "--stack", "jobs", &stack, &inventory]));
    for resource in [DOCS, QUEUE] {
        ok(&home.run(&[
            "backup",
            "start",
            "--resource",
            resource,
            "--vault",
            "primary",
        ]));
    }
    let docs_point = point_of(&home, DOCS);
    let queue_point = point_of(&home, QUEUE);

    // Killed midway: a restore with part of its target written, a
    // validation with its scratch copy made, a delivery without manifest.
    let target = home.path().join("restored");
    let target_text = target.display().to_string();
    kill_at(
        &home,
        "restore-after-file",
        &[
            "restore",
            "start",
            "--recovery-point",
            &docs_point,
            "--target-dir",
            &target_text,
        ],
    );
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_some(),
        "part of the target is written"
    );
    kill_at(
        &home,
        "validate-after-scratch",
        &["restore", "validate", "--recovery-point", &queue_point],
    );
    kill_at(
        &home,
        "report-before-manifest",
        &["report", "run", "jobs_daily"],
    );
    assert_eq!(jobs_in(&home, "restore_jobs", "RUNNING").len(), 2);
    let delivering = jobs_in(&home, "report_jobs", "RUNNING");
    assert_eq!(delivering.len(), 1);
    let report_id = delivering[0]["ReportJobId"].as_str().unwrap().to_string();
    let half = delivering[0]["ReportDestination"]
        .as_str()
        .expect("the destination is recorded before files are written")
        .to_string();
    assert!(Path::new(&half).is_dir() && !Path::new(&half).join("manifest.json").exists());

    // The next start settles them; SIGTERM then stops the daemon cleanly.
    let mut daemon = serve(&home);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !jobs_in(&home, "restore_jobs", "RUNNING").is_empty()
        || jobs_in(&home, "report_jobs", "FAILED").is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the daemon did not settle the interrupted jobs"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let its own daily delivery (if it is past 01:00 UTC) finish.
    while !jobs_in(&home, "report_jobs", "RUNNING").is_empty() {
        assert!(Instant::now() < deadline, "a delivery did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let term = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = daemon.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM ends the daemon cleanly: {status}"
    );

    for table in ["restore_jobs", "report_jobs"] {
        assert!(jobs_in(&home, table, "RUNNING").is_empty(), "{table}");
    }
    // What the daemon settled, the ledger says the scheduler did.
    let log = home.run(&[
        "evidence",
        "log",
        "--actor",
        "coffer:scheduler",
        "-o",
        "json",
    ]);
    ok(&log);
    let log: Value = serde_json::from_str(&log.stdout).unwrap();
    let settled: Vec<&Value> = log["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["Kind"] == "restore job" && e["Event"].as_str().unwrap_or("").contains("FAILED")
        })
        .collect();
    assert_eq!(settled.len(), 2, "{log:#}");
    let failed = jobs_in(&home, "restore_jobs", "FAILED");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    let restore = failed
        .iter()
        .find(|j| j.get("ValidationStatus").is_none())
        .unwrap();
    assert!(
        message(restore).contains(&format!("{target_text} may hold a partial restore")),
        "{restore:#}"
    );
    assert!(restore["CompletionDate"].is_string(), "{restore:#}");
    let validation = failed
        .iter()
        .find(|j| j.get("ValidationStatus").is_some())
        .unwrap();
    assert_eq!(validation["ValidationStatus"], "FAILED");
    let scratch = home.path().join("tmp");
    assert!(
        message(validation).contains(&format!(
            "a scratch directory sqlite-validate-* in {} may be left behind",
            scratch.display()
        )),
        "{validation:#}"
    );

    let run = home.run(&["report", "jobs", "--plan", "jobs_daily", "-o", "json"]);
    ok(&run);
    let jobs: Value = serde_json::from_str(&run.stdout).unwrap();
    let killed = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["ReportJobId"] == report_id.as_str())
        .unwrap();
    assert_eq!(killed["Status"], "FAILED", "{killed:#}");
    assert!(
        message(killed).contains(&format!(
            "{half} may hold part of the delivery without manifest.json"
        )),
        "{killed:#}"
    );
    let verify = home.run(&["verify", &half]);
    assert_eq!(verify.code, 1, "{verify:?}");
    assert!(
        format!("{}{}", verify.stdout, verify.stderr).contains("manifest.json"),
        "{verify:?}"
    );
}
