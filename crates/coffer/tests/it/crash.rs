//! Crash safety: `coffer serve` is killed with SIGKILL at random moments
//! while it backs up, copies and prunes, and restarted, in a loop. Then a
//! last daemon finishes the work and stops on SIGTERM, and the vaults are
//! checked against the catalog and by restic.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Home;

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Second:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: second
  Core:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: core
      FrameworkControls:
        - ControlName: BACKUP_LAST_RECOVERY_POINT_CREATED
"#;

const BULK: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/bulk";
const LEDGER: &str = "arn:coffer:sqlite:eu-west-1:210987654321:database/ledger";

/// xorshift64*: reproducible randomness from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn ok(run: &crate::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn json(home: &Home, args: &[&str]) -> Value {
    let run = home.run(args);
    ok(&run);
    serde_json::from_str(&run.stdout).unwrap()
}

fn serve(home: &Home) -> Child {
    serve_on(home, "127.0.0.1:0")
}

fn serve_on(home: &Home, listen: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--listen", listen, "--grace-seconds", "60"])
        .env_remove("COFFER_HOME")
        .env("COFFER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The jobs of one kind (`BACKUP`, `COPY`) as `coffer jobs list` shows them.
fn jobs(home: &Home, kind: &str) -> Vec<Value> {
    json(home, &["jobs", "list", "-o", "json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["Type"] == kind)
        .map(|j| j["Job"].clone())
        .collect()
}

fn points(home: &Home) -> Vec<Value> {
    json(home, &["recovery-points", "list", "--all", "-o", "json"])
        .as_array()
        .unwrap()
        .clone()
}

/// Backup and copy jobs RUNNING now, read straight from the catalog.
fn running_jobs(home: &Home) -> i64 {
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT (SELECT count(*) FROM backup_jobs WHERE state = 'RUNNING') + (SELECT count(*) FROM copy_jobs WHERE state = 'RUNNING')",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn killing_the_daemon_at_random_moments_loses_nothing_and_leaves_no_half_written_point() {
    let seed = std::env::var("COFFER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("crash loop seed {seed} (rerun with COFFER_CRASH_SEED={seed})");
    let mut rng = Rng(seed);

    let home = Home::new();
    let bulk = home.path().join("data/bulk");
    std::fs::create_dir_all(&bulk).unwrap();
    let ledger = home.path().join("data/ledger.db");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    conn.execute_batch("CREATE TABLE entries (id INTEGER PRIMARY KEY, body BLOB);")
        .unwrap();
    let inventory = format!(
        r#"
defaults:
  account: "210987654321"
  region: eu-west-1
filesystems:
  - name: bulk
    path: {}
sqlite:
  - name: ledger
    path: {}
"#,
        bulk.display(),
        ledger.display()
    );
    let stack = home.write("stack.yaml", STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "crash", &stack, &inv]));

    let iterations = 8;
    let mut copied: BTreeSet<String> = BTreeSet::new();
    for round in 0..iterations {
        // New data every round, so every backup writes new packs.
        std::fs::write(bulk.join(format!("part-{round}.bin")), rng.bytes(12 << 20)).unwrap();
        conn.execute(
            "INSERT INTO entries (body) VALUES (?1)",
            [rng.bytes(2 << 20)],
        )
        .unwrap();
        for resource in [BULK, LEDGER] {
            ok(&home.run(&[
                "backup",
                "start",
                "--resource",
                resource,
                "--vault",
                "primary",
                "--no-wait",
            ]));
        }
        let live: Vec<Value> = points(&home)
            .into_iter()
            .filter(|p| p["Status"] == "COMPLETED" && p["BackupVaultName"] == "primary")
            .collect();
        if let Some(point) = live
            .iter()
            .find(|p| !copied.contains(p["RecoveryPointId"].as_str().unwrap()))
        {
            let id = point["RecoveryPointId"].as_str().unwrap().to_string();
            ok(&home.run(&[
                "copy",
                "start",
                "--recovery-point",
                &id,
                "--destination-vault",
                "second",
                "--no-wait",
            ]));
            copied.insert(id);
        }
        // Deleted points give the next daemon's start-up prune work.
        // (A point no copy job reads: copies of deleted points fail, rightly.)
        if round % 3 == 2 {
            if let Some(point) = live
                .iter()
                .find(|p| !copied.contains(p["RecoveryPointId"].as_str().unwrap()))
            {
                let id = point["RecoveryPointId"].as_str().unwrap();
                ok(&home.run(&["recovery-points", "delete", id]));
            }
        }
        let mut daemon = serve(&home);
        if round % 2 == 0 {
            // While it moves data: once a backup or copy runs, soon after.
            let seen = Instant::now();
            while running_jobs(&home) == 0 && seen.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(rng.between(0, 300)));
        } else {
            // Anywhere: start-up (reconciliation, prune), jobs, or idle.
            std::thread::sleep(Duration::from_millis(rng.between(50, 2500)));
        }
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }

    // A last daemon finishes the work; SIGTERM stops it cleanly.
    let mut daemon = serve(&home);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let backups = jobs(&home, "BACKUP");
        let copies = jobs(&home, "COPY");
        let busy = backups.iter().any(|j| {
            ["CREATED", "PENDING", "RUNNING", "ABORTING"].contains(&j["State"].as_str().unwrap())
        }) || copies
            .iter()
            .any(|j| ["CREATED", "RUNNING"].contains(&j["State"].as_str().unwrap()));
        if !busy {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not finish: {backups:#?}\n{copies:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
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

    // Every backup job ran to completion, interrupted attempts retried.
    let backups = jobs(&home, "BACKUP");
    assert_eq!(backups.len(), 2 * iterations);
    let mut interrupted = 0;
    for job in &backups {
        assert_eq!(job["State"], "COMPLETED", "{job:#}");
        for attempt in job["Attempts"].as_array().unwrap() {
            match attempt["Error"].as_str() {
                Some(error) => {
                    assert!(error.starts_with("interrupted"), "{job:#}");
                    interrupted += 1;
                }
                None => assert!(attempt["EndedAt"].is_string(), "{job:#}"),
            }
        }
    }
    for job in jobs(&home, "COPY") {
        match job["State"].as_str().unwrap() {
            "COMPLETED" => {}
            "FAILED" => {
                assert!(job["StatusMessage"]
                    .as_str()
                    .unwrap()
                    .starts_with("interrupted"));
                interrupted += 1;
            }
            other => panic!("copy job left {other}: {job:#}"),
        }
    }
    println!("{interrupted} job(s) interrupted by the kills");
    assert!(
        interrupted > 0,
        "half the kills land while data moves; none interrupted a job"
    );

    // The vaults hold exactly the live points, and restic finds no fault.
    let all = points(&home);
    for vault in ["primary", "second"] {
        let key = json(
            &home,
            &["vault", "export-key", vault, "--yes", "-o", "json"],
        );
        let (repo, password) = (
            key["repository"].as_str().unwrap(),
            key["password"].as_str().unwrap(),
        );
        coffer_testkit::restic_ok(repo, password, &["check", "--read-data"]);
        let listed = coffer_testkit::restic_snapshot_ids(repo, password);
        let live: BTreeSet<String> = all
            .iter()
            .filter(|p| p["BackupVaultName"] == vault && p["Status"] == "COMPLETED")
            .map(|p| p["SnapshotId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            listed, live,
            "vault {vault}: snapshots are exactly the live points"
        );
        assert!(all
            .iter()
            .filter(|p| p["BackupVaultName"] == vault)
            .all(|p| ["COMPLETED", "DELETED"].contains(&p["Status"].as_str().unwrap())));
    }

    // The newest backup of the tree restores to the data as it is now.
    let newest = all
        .iter()
        .filter(|p| {
            p["ResourceArn"] == BULK
                && p["Status"] == "COMPLETED"
                && p["BackupVaultName"] == "primary"
        })
        .max_by_key(|p| p["CreationDate"].as_str().unwrap().to_string())
        .unwrap();
    let target = home.path().join("restored");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        newest["RecoveryPointId"].as_str().unwrap(),
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        coffer_testkit::tree_contents(&target),
        coffer_testkit::tree_contents(&bulk)
    );
}

fn queue_backup(home: &Home) -> crate::Run {
    home.run(&[
        "backup",
        "start",
        "--resource",
        BULK,
        "--vault",
        "primary",
        "--no-wait",
    ])
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on loopback: (status code, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

#[test]
fn serve_answers_metrics_and_healthz_runs_once_per_home_and_aborts_on_request() {
    let home = Home::new();
    let data = home.path().join("data/bulk");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: bulk\n    path: {}\n",
        data.display()
    );
    let stack = home.write("stack.yaml", STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "crash", &stack, &inv]));

    // A queued job nobody ran yet is aborted at once; a finished one cannot be.
    let queued = queue_backup(&home);
    ok(&queued);
    let id = queued
        .stdout
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let aborted = home.run(&["jobs", "abort", &id]);
    ok(&aborted);
    assert!(aborted.stdout.contains("ABORTED"), "{}", aborted.stdout);
    let again = home.run(&["jobs", "abort", &id]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("is ABORTED already"),
        "{}",
        again.stderr
    );

    ok(&queue_backup(&home));
    let port = coffer_testkit::free_port();
    let mut daemon = serve_on(&home, &format!("127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        if let Some((200, body)) = get(port, "/metrics") {
            // The queued job ran, and each vault had its first check.
            if body.contains("coffer_backup_jobs{state=\"COMPLETED\"} 1")
                && body.contains("vault=\"second\"} 1")
            {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "the queued job did not complete");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        metrics.contains(
            "coffer_vault_check_passed{account=\"210987654321\",region=\"eu-west-1\",vault=\"primary\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("coffer_backup_jobs{state=\"ABORTED\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("coffer_last_successful_backup"),
        "{metrics}"
    );
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(line.starts_with("coffer_"), "unprefixed series: {line}");
    }
    // The scheduler evaluated the controls once the backup changed things.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let compliant: i64 = conn
            .query_row(
                "SELECT count(*) FROM control_results WHERE resource_id = ?1 AND status = 'COMPLIANT'",
                [BULK],
                |r| r.get(0),
            )
            .unwrap();
        if compliant > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the controls were not evaluated");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, health) = get(port, "/healthz").unwrap();
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["Status"], "OK");

    // A second scheduler on the same home is refused and changes nothing.
    let second = home.run_bare(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("another `coffer serve` holds"),
        "{}",
        second.stderr
    );

    Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(daemon.wait().unwrap().success());
    assert!(
        get(port, "/healthz").is_none(),
        "the endpoints stop with it"
    );
}
