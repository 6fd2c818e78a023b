//! The deployment's own disaster recovery, end to end: a catalog lost with
//! its whole home comes back from the keyring export and the vaults; an
//! older copy of the catalog put back and recovered keeps every point made
//! since and declares the ledger entries it lost in a signed cut, which
//! `evidence verify` and `verify` honour while an undeclared gap fails;
//! and `coffer serve` backs the catalog up on schedule into a copy that
//! restores and opens.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::jobs::{keys_with_passphrase, point_arn};
use crate::report::{delivered, file_with};
use crate::{ok, Home, Run};

const STACK: &str = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Dr:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: dr
  Jobs:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: jobs_daily
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [CSV]
      ReportSetting:
        ReportTemplate: BACKUP_JOB_REPORT
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
const CATALOG: &str = "arn:coffer:sqlite:eu-west-1:210987654321:database/coffer-catalog";

/// A place outside any home: the vaults, the data backed up and the keys'
/// export live here, so a home can be lost and another take its place.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(site.docs()).unwrap();
        std::fs::write(site.docs().join("a.txt"), "alpha").unwrap();
        site
    }

    fn docs(&self) -> std::path::PathBuf {
        self.dir.path().join("docs")
    }

    /// A home keeping its vaults on the site and its catalog's backups in
    /// vault `dr`, with the stack applied.
    fn home(&self) -> Home {
        let home = self.bare_home();
        apply(&home);
        home
    }

    /// [`Site::home`] before anything is applied.
    fn bare_home(&self) -> Home {
        self.bare_home_with("")
    }

    /// [`Site::bare_home`] with more of config.toml (another catalog).
    fn bare_home_with(&self, config: &str) -> Home {
        let home = Home::new();
        std::fs::write(
            home.path().join("config.toml"),
            format!(
                "[vaults]\nurl = \"file://{}/vaults/{{account}}/{{region}}/{{name}}\"\n\n[self_backup]\nvault = \"dr\"\naccount = \"210987654321\"\nregion = \"eu-west-1\"\n\n{config}",
                self.dir.path().display()
            ),
        )
        .unwrap();
        home.write("stack.yaml", STACK);
        home.write(
            "inventory.yaml",
            &format!(
                "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
                self.docs().display()
            ),
        );
        home
    }
}

fn apply(home: &Home) {
    let file = |name: &str| home.path().join("files").join(name).display().to_string();
    ok(&home.run(&[
        "apply",
        "--stack",
        "dr",
        &file("stack.yaml"),
        &file("inventory.yaml"),
    ]));
}

fn backup_docs(home: &Home) -> String {
    let run = home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]);
    ok(&run);
    point_arn(&run)
}

fn points(home: &Home) -> Vec<Value> {
    let listed = home.run(&["recovery-points", "list", "-o", "json"]);
    ok(&listed);
    serde_json::from_str::<Value>(&listed.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn has_point(home: &Home, arn: &str) -> bool {
    points(home)
        .iter()
        .any(|p| p["RecoveryPointArn"] == arn && p["Status"] == "COMPLETED")
}

fn restore_docs(home: &Home, arn: &str) -> std::path::PathBuf {
    let target = home.path().join("restored");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        arn,
        "--target-dir",
        &target.display().to_string(),
    ]));
    target
}

fn remove_catalog(home: &Home) {
    for name in ["catalog.db", "catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(home.path().join(name));
    }
}

fn failed_with(run: &Run, needle: &str) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        run.stderr
    );
}

fn public_key(home: &Home) -> String {
    let public = home.run(&["keys", "public"]);
    ok(&public);
    public
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_deleted_catalog_comes_back_in_a_fresh_home_from_the_keyring_export_and_the_vaults() {
    let site = Site::new();
    let home = site.home();
    let point = backup_docs(&home);
    ok(&home.run(&["catalog", "backup"]));
    let export = site.dir.path().join("keys.export").display().to_string();
    ok(&keys_with_passphrase(&home, &["export", "--to", &export]));
    // The machine is lost, its home and catalog with it.
    drop(home);

    let fresh = site.bare_home();
    ok(&keys_with_passphrase(
        &fresh,
        &["import", "--from", &export],
    ));
    // The vaults open again with the imported keys.
    apply(&fresh);
    assert!(!has_point(&fresh, &point));
    let recovered = fresh.run(&["catalog", "recover"]);
    ok(&recovered);
    assert!(recovered.stdout.contains(&point), "{}", recovered.stdout);
    // The new ledger does not hold the old one's entries: the checkpoint
    // kept beside the self-backup vault says how far it had gone.
    assert!(
        recovered.stdout.contains("Ledger cut declared at entry"),
        "{}",
        recovered.stdout
    );
    assert!(has_point(&fresh, &point));
    let target = restore_docs(&fresh, &point);
    assert_eq!(
        std::fs::read_to_string(target.join("a.txt")).unwrap(),
        "alpha"
    );
    let verified = fresh.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(
        verified.stdout.contains("Declared cut at entry"),
        "{}",
        verified.stdout
    );
}

#[test]
fn an_older_catalog_put_back_and_recovered_keeps_every_point_since_and_declares_the_cut() {
    let site = Site::new();
    let home = site.home();
    let first = backup_docs(&home);
    // The day-old copy.
    let copy = home.run(&["catalog", "backup"]);
    ok(&copy);
    assert!(copy.stdout.contains("Catalog backed up"), "{}", copy.stdout);

    // Since the copy: another backup, and a report delivered to an auditor.
    std::fs::write(site.docs().join("b.txt"), "beta").unwrap();
    let second = backup_docs(&home);
    let report = home.run(&["report", "run", "jobs_daily"]);
    ok(&report);
    let delivery = delivered(&report).display().to_string();
    let key = public_key(&home);
    ok(&home.run(&["verify", &delivery, "--public-key", &key]));

    // The catalog is lost and the copy put back: never over a live one.
    failed_with(&home.run(&["catalog", "restore"]), "--force");
    remove_catalog(&home);
    let restored = home.run(&["catalog", "restore", "--from-vault", "dr"]);
    ok(&restored);
    assert!(has_point(&home, &first));
    assert!(!has_point(&home, &second));

    // The copy's ledger is behind the checkpoint kept beside the signing
    // key, and nothing declares it yet: an undeclared gap fails.
    failed_with(&home.run(&["evidence", "verify"]), "no declared cut");
    failed_with(
        &home.run(&["verify", &delivery, "--public-key", &key]),
        "no declared cut",
    );
    failed_with(&home.run(&["evidence", "checkpoint"]), "no declared cut");

    // Recovery brings back every point made since and declares the cut.
    let recovered = home.run(&["catalog", "recover"]);
    ok(&recovered);
    assert!(recovered.stdout.contains(&second), "{}", recovered.stdout);
    assert!(
        recovered.stdout.contains("Ledger cut declared at entry"),
        "{}",
        recovered.stdout
    );
    assert!(has_point(&home, &first) && has_point(&home, &second));
    assert!(
        points(&home).iter().any(|p| p["ResourceArn"] == CATALOG),
        "the copy's own point is recorded"
    );
    let verified = home.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(
        verified.stdout.contains("Declared cut at entry")
            && verified.stdout.contains("1 declared cut(s)"),
        "{}",
        verified.stdout
    );
    let cut_entry = home.run(&["evidence", "log", "--kind", "ledger cut", "-o", "json"]);
    ok(&cut_entry);
    let entries: Value = serde_json::from_str(&cut_entry.stdout).unwrap();
    assert_eq!(
        entries["Entries"].as_array().unwrap().len(),
        1,
        "{entries:#}"
    );

    // The report delivered before the cut lies within it, and says so.
    let within = home.run(&["verify", &delivery, "--public-key", &key]);
    ok(&within);
    assert!(
        within.stdout.contains("lie in the cut declared at entry"),
        "{}",
        within.stdout
    );
    // Any other disagreement still fails.
    let csv = file_with(Path::new(&delivery), "csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    assert_eq!(
        home.run(&["verify", &delivery, "--public-key", &key]).code,
        1
    );

    // Checkpoints are signed again, and the recovered point restores.
    ok(&home.run(&["evidence", "checkpoint"]));
    ok(&home.run(&["evidence", "verify"]));
    let target = restore_docs(&home, &second);
    assert_eq!(
        std::fs::read_to_string(target.join("b.txt")).unwrap(),
        "beta"
    );
}

#[test]
fn coffer_serve_backs_the_catalog_up_on_schedule_into_a_copy_that_opens() {
    let site = Site::new();
    let home = site.home();
    let point = backup_docs(&home);
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--grace-seconds", "30"])
        .env_remove("COFFER_HOME")
        .env("COFFER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(site.dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let backed_up = |home: &Home| {
        let jobs = home.run(&["jobs", "list", "-o", "json"]);
        jobs.code == 0
            && serde_json::from_str::<Value>(&jobs.stdout)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .any(|j| j["Job"]["ResourceArn"] == CATALOG && j["Job"]["State"] == "COMPLETED")
    };
    // Generous: a loaded machine runs the first backup late; only a hang fails.
    let deadline = Instant::now() + Duration::from_secs(600);
    while !backed_up(&home) {
        assert!(
            Instant::now() < deadline,
            "coffer serve did not back the catalog up:\n{}",
            std::fs::read_to_string(site.dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let term = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(daemon.wait().unwrap().success());

    remove_catalog(&home);
    ok(&home.run(&["catalog", "restore"]));
    // The copy opens, holds what was there, and its own point.
    assert!(has_point(&home, &point));
    assert!(points(&home).iter().any(|p| p["ResourceArn"] == CATALOG));
    ok(&home.run(&["catalog", "recover"]));
    ok(&home.run(&["evidence", "verify"]));
}

#[test]
fn a_postgresql_catalog_backs_up_with_pg_dump_and_an_older_copy_recovers_behind_a_declared_cut() {
    let database = crate::postgres::Database::create();
    let site = Site::new();
    let home = site.bare_home_with(&format!("[catalog]\nurl = \"{}\"\n", database.url()));
    apply(&home);
    let first = backup_docs(&home);
    ok(&home.run(&["catalog", "backup"]));
    let second = backup_docs(&home);
    ok(&home.run(&["evidence", "checkpoint"]));

    // The older copy replaces the live database only when asked to.
    failed_with(&home.run(&["catalog", "restore"]), "--force");
    ok(&home.run(&["catalog", "restore", "--force"]));
    assert!(has_point(&home, &first) && !has_point(&home, &second));
    failed_with(&home.run(&["evidence", "verify"]), "no declared cut");

    let recovered = home.run(&["catalog", "recover"]);
    ok(&recovered);
    assert!(
        recovered.stdout.contains("Ledger cut declared at entry"),
        "{}",
        recovered.stdout
    );
    assert!(has_point(&home, &first) && has_point(&home, &second));
    let verified = home.run(&["evidence", "verify"]);
    ok(&verified);
    assert!(
        verified.stdout.contains("Declared cut at entry"),
        "{}",
        verified.stdout
    );
}
