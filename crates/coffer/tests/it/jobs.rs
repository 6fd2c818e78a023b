//! On-demand jobs end to end: back up a directory, a SQLite file and a
//! PostgreSQL database, restore and validate them, and try to delete or
//! shorten locked and held recovery points in every way the CLI offers.

use serde_json::Value;

use crate::{ok, refused, DropMysqlDatabases, Home, Run};

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  OpenVault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: open
      AccessPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: interns-never-delete
            Effect: Deny
            Principal: '*'
            Action: backup:DeleteRecoveryPoint
            Resource: '*'
            Condition:
              StringEquals:
                aws:PrincipalArn: arn:coffer:iam::210987654321:user/intern
  ComplianceVault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: compliance
      LockConfiguration:
        MinRetentionDays: 7
        MaxRetentionDays: 100
        ChangeableForDays: 3
  GovernanceVault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: governance
      LockConfiguration:
        MinRetentionDays: 7
        MaxRetentionDays: 100
"#;

fn inventory(source: &str, sqlite: &str) -> String {
    format!(
        r#"
defaults:
  account: "210987654321"
  region: eu-west-1
filesystems:
  - name: docs
    path: {source}
    exclude: ["*.tmp"]
sqlite:
  - name: queue
    path: {sqlite}
postgres:
  - name: local
    host: 127.0.0.1
    port: 5432
    user: postgres
    exclude_databases: ["template*"]
"#
    )
}

pub(crate) fn point_arn(run: &Run) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("recovery point"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no recovery point in {}", run.stdout))
}

fn setup() -> (Home, std::path::PathBuf) {
    let home = Home::new();
    let source = home.path().join("data/docs");
    std::fs::create_dir_all(source.join("sub")).unwrap();
    std::fs::write(source.join("a.txt"), "alpha").unwrap();
    std::fs::write(source.join("sub/b.txt"), "beta").unwrap();
    std::fs::write(source.join("scratch.tmp"), "skip me").unwrap();
    let sqlite = home.path().join("data/queue.db");
    let conn = rusqlite::Connection::open(&sqlite).unwrap();
    conn.execute_batch("CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO q (body) VALUES ('one'), ('two');")
        .unwrap();
    drop(conn);
    let stack = home.write("stack.yaml", STACK);
    let inv = home.write(
        "inventory.yaml",
        &inventory(&source.display().to_string(), &sqlite.display().to_string()),
    );
    ok(&home.run(&["apply", "--stack", "jobs", &stack, &inv]));
    (home, source)
}

/// Drops test databases even when the test fails.
struct DropDatabases(Vec<String>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        for db in &self.0 {
            coffer_testkit::drop_database(db);
        }
    }
}

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";

#[test]
fn a_directory_backs_up_restores_validates_and_deletes() {
    let (home, _source) = setup();
    let backup = home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]);
    ok(&backup);
    assert!(backup.stdout.contains("COMPLETED"), "{}", backup.stdout);
    let rp = point_arn(&backup);

    let listed = home.run(&["recovery-points", "list", "-o", "json"]);
    ok(&listed);
    let points: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(points.as_array().unwrap().len(), 1);
    assert_eq!(points[0]["Status"], "COMPLETED");
    assert_eq!(points[0]["ContentSha256"].as_str().unwrap().len(), 64);
    assert!(points[0]["SnapshotId"].is_string());
    assert!(points[0]["StoredBytes"].as_u64().unwrap() > 0);
    assert!(points[0]["DurationMs"].is_u64());
    assert_ne!(points[0]["RecoveryPointId"], points[0]["SnapshotId"]);

    let target = home.path().join("restored");
    let target_text = target.display().to_string();
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &target_text,
    ]));
    assert_eq!(
        std::fs::read_to_string(target.join("sub/b.txt")).unwrap(),
        "beta"
    );
    assert!(
        !target.join("scratch.tmp").exists(),
        "excluded by the inventory"
    );
    // The same target again: refused, and the job says so.
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-dir",
            &target_text,
        ]),
        "is not empty",
    );
    // One path alone.
    let one = home.path().join("one");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &one.display().to_string(),
        "--path",
        "sub/b.txt",
    ]));
    assert!(one.join("sub/b.txt").is_file() && !one.join("a.txt").exists());
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-dir",
            &home.path().join("x").display().to_string(),
            "--path",
            "../../etc/passwd",
        ]),
        "refusing to restore",
    );

    let validated = home.run(&["restore", "validate", "--recovery-point", &rp]);
    ok(&validated);
    let jobs = home.run(&["jobs", "list", "-o", "json"]);
    ok(&jobs);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    let kinds: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["Type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"BACKUP") && kinds.contains(&"RESTORE") && kinds.contains(&"VALIDATE"),
        "{kinds:?}"
    );
    let backup_job = &jobs.as_array().unwrap()[0]["Job"];
    assert_eq!(backup_job["State"], "COMPLETED");
    assert_eq!(backup_job["Attempts"].as_array().unwrap().len(), 1);
    assert!(backup_job["StartedAt"].is_string());
    let refused_restore = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["Job"]["Status"] == "FAILED")
        .expect("the refused restore is recorded FAILED");
    assert!(refused_restore["Job"]["StatusMessage"]
        .as_str()
        .unwrap()
        .contains("not empty"));
    let id = refused_restore["Job"]["RestoreJobId"].as_str().unwrap();
    let described = home.run(&["jobs", "describe", id, "-o", "json"]);
    ok(&described);
    assert!(
        validated.stdout.contains("Validation SUCCESSFUL"),
        "{}",
        validated.stdout
    );

    // The intern is denied by the vault's access policy; the admin is not.
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("[defaults]\nprincipal = \"arn:coffer:iam::210987654321:user/intern\"\n{text}"),
    )
    .unwrap();
    refused(
        &home.run(&["recovery-points", "delete", &rp]),
        "\"interns-never-delete\"",
    );
    std::fs::write(&config, text).unwrap();

    // A legal hold pins it; cancelled, the delete goes through.
    let hold = home.run(&[
        "legal-holds",
        "create",
        "--title",
        "case 17",
        "--description",
        "litigation",
        "--vault",
        "open",
    ]);
    ok(&hold);
    let hold_id = hold.stdout.split_whitespace().nth(2).unwrap().to_string();
    refused(&home.run(&["recovery-points", "delete", &rp]), "legal hold");
    refused(
        &home.run(&[
            "recovery-points",
            "update-lifecycle",
            &rp,
            "--delete-after-days",
            "1",
        ]),
        "legal hold",
    );
    ok(&home.run(&["legal-holds", "cancel", &hold_id, "--reason", "case closed"]));
    // The cancellation is a weakening of protection, in the ledger as one.
    let weakened = home.run(&[
        "evidence",
        "log",
        "--kind",
        "weakening",
        "--subject",
        &hold_id,
        "-o",
        "json",
    ]);
    ok(&weakened);
    let weakened: Value = serde_json::from_str(&weakened.stdout).unwrap();
    assert_eq!(
        weakened["Entries"][0]["Event"],
        "WEAKENED legal hold cancelled: case closed"
    );
    ok(&home.run(&["recovery-points", "delete", &rp]));
    let listed = home.run(&["recovery-points", "list", "--all", "-o", "json"]);
    let points: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(points[0]["Status"], "DELETED");
    // Its data is no longer needed: the prune marks it.
    let pruned = home.run(&["vault", "prune", "open"]);
    ok(&pruned);
    assert!(
        !pruned.stdout.contains(": 0 pack(s) marked"),
        "{}",
        pruned.stdout
    );
    let listed = home.run(&["recovery-points", "list", "-o", "json"]);
    assert_eq!(listed.stdout.trim(), "[]");
}

#[test]
fn locked_recovery_points_cannot_be_deleted_or_shortened_in_either_mode() {
    let (home, _source) = setup();
    for vault in ["compliance", "governance"] {
        // A lifecycle outside the lock's bounds fails the job, naming both numbers.
        refused(
            &home.run(&[
                "backup",
                "start",
                "--resource",
                DOCS,
                "--vault",
                vault,
                "--delete-after-days",
                "3",
            ]),
            "retention of 3 days is below the vault lock's MinRetentionDays (7)",
        );
        refused(
            &home.run(&["backup", "start", "--resource", DOCS, "--vault", vault]),
            "MaxRetentionDays (100)",
        );
        // The failed job is recorded with its reason.
        let failed = home.run(&[
            "jobs", "list", "--kind", "backup", "--state", "failed", "-o", "json",
        ]);
        ok(&failed);
        let failed: Value = serde_json::from_str(&failed.stdout).unwrap();
        assert!(
            failed
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["Job"]["StatusMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("MinRetentionDays (7)")),
            "{failed}"
        );
        let backup = home.run(&[
            "backup",
            "start",
            "--resource",
            DOCS,
            "--vault",
            vault,
            "--delete-after-days",
            "30",
        ]);
        ok(&backup);
        let rp = point_arn(&backup);
        refused(
            &home.run(&["recovery-points", "delete", &rp]),
            &format!("locked in {vault} mode: it cannot be deleted"),
        );
        refused(
            &home.run(&[
                "recovery-points",
                "update-lifecycle",
                &rp,
                "--delete-after-days",
                "10",
            ]),
            "cannot be shortened (DeleteAfterDays 30 -> 10)",
        );
        refused(
            &home.run(&["recovery-points", "update-lifecycle", &rp]),
            "exceeds the vault lock's MaxRetentionDays (100)",
        );
        refused(
            &home.run(&[
                "recovery-points",
                "update-lifecycle",
                &rp,
                "--delete-after-days",
                "101",
            ]),
            "retention of 101 days is above the vault lock's MaxRetentionDays (100)",
        );
        ok(&home.run(&[
            "recovery-points",
            "update-lifecycle",
            &rp,
            "--delete-after-days",
            "60",
        ]));
        let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
        let point: Value = serde_json::from_str(&described.stdout).unwrap();
        assert_eq!(point["Lifecycle"]["DeleteAfterDays"], 60);
        assert_eq!(point["Status"], "COMPLETED");
    }
}

#[test]
fn a_sqlite_file_and_a_discovered_postgres_database_round_trip() {
    let (home, _source) = setup();
    let queue = "arn:coffer:sqlite:eu-west-1:210987654321:database/queue";
    let backup = home.run(&["backup", "start", "--resource", queue, "--vault", "open"]);
    ok(&backup);
    assert!(
        backup.stdout.contains("1 table(s), 2 row(s)"),
        "{}",
        backup.stdout
    );
    let rp = point_arn(&backup);
    let file = home.path().join("restored/queue.db");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-file",
        &file.display().to_string(),
    ]));
    let conn = rusqlite::Connection::open(&file).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM q", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    ok(&home.run(&["restore", "validate", "--recovery-point", &rp]));

    // A database the inventory does not list is found on its server.
    let db = format!(
        "coffer_cli_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let psql = coffer_testkit::psql;
    psql(&format!("CREATE DATABASE {db}"));
    let _dropped_first = DropDatabases(vec![db.clone()]);
    psql(&format!("COMMENT ON DATABASE {db} IS 'coffer: tier=gold'"));
    let arn = format!("arn:coffer:postgres:eu-west-1:210987654321:database/local/{db}");
    let discovered = home.run(&["discover", "-o", "json"]);
    ok(&discovered);
    let discovered: Value = serde_json::from_str(&discovered.stdout).unwrap();
    let mine = discovered
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ResourceArn"] == arn.as_str())
        .unwrap_or_else(|| panic!("{arn} not discovered: {discovered}"));
    assert_eq!(mine["Tags"]["tier"], "gold");
    let backup = home.run(&["backup", "start", "--resource", &arn, "--vault", "open"]);
    let restored = format!("{db}_r");
    let _cleanup = DropDatabases(vec![db.clone(), restored.clone()]);
    ok(&backup);
    let rp = point_arn(&backup);
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-database",
        &restored,
    ]));
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-database",
            &restored,
        ]),
        "--force",
    );
    ok(&home.run(&["restore", "validate", "--recovery-point", &rp]));
}

#[test]
fn a_discovered_mysql_database_backs_up_restores_and_validates() {
    let (home, _source) = setup();
    let inventory = home.write(
        "maria.yaml",
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nmysql:\n  - name: maria\n    host: 127.0.0.1\n    port: 3306\n    user: root\n",
    );
    ok(&home.run(&["apply", "--stack", "maria", &inventory]));
    let db = format!(
        "coffer_cli_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let restored = format!("{db}_r");
    let _cleanup = DropMysqlDatabases(vec![db.clone(), restored.clone()]);
    let mariadb = coffer_testkit::mariadb_in;
    mariadb(
        None,
        &format!("CREATE DATABASE {db} COMMENT 'coffer: tier=gold'"),
    );
    mariadb(
        Some(&db),
        "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (1, 'it''s'), (2, NULL), (3, 'ünï');",
    );

    let arn = format!("arn:coffer:mysql:eu-west-1:210987654321:database/maria/{db}");
    let discovered = home.run(&["discover", "-o", "json"]);
    ok(&discovered);
    let discovered: Value = serde_json::from_str(&discovered.stdout).unwrap();
    let mine = discovered
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ResourceArn"] == arn.as_str())
        .unwrap_or_else(|| panic!("{arn} not discovered: {discovered}"));
    assert_eq!(mine["Tags"]["tier"], "gold");
    assert_eq!(mine["ResourceType"], "MySQL");

    let backup = home.run(&["backup", "start", "--resource", &arn, "--vault", "open"]);
    ok(&backup);
    assert!(
        backup.stdout.contains("1 table(s), 3 row(s)"),
        "{}",
        backup.stdout
    );
    let rp = point_arn(&backup);
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-database",
        &restored,
    ]));
    assert_eq!(
        mariadb(Some(&restored), "SELECT id, note FROM orders ORDER BY id"),
        "1\tit's\n2\tNULL\n3\tünï"
    );
    refused(
        &home.run(&[
            "restore",
            "start",
            "--recovery-point",
            &rp,
            "--target-database",
            &restored,
        ]),
        "--force",
    );
    mariadb(Some(&db), "DROP TABLE orders");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-database",
        &db,
        "--table",
        "orders",
    ]));
    assert_eq!(mariadb(Some(&db), "SELECT count(*) FROM orders"), "3");
    let validated = home.run(&["restore", "validate", "--recovery-point", &rp]);
    ok(&validated);
}

#[test]
fn unknown_resources_vaults_and_points_are_explained() {
    let (home, _source) = setup();
    refused(
        &home.run(&[
            "backup",
            "start",
            "--resource",
            "arn:coffer:fs:eu-west-1:210987654321:filesystem/nope",
            "--vault",
            "open",
        ]),
        "is not in the catalog",
    );
    refused(
        &home.run(&["backup", "start", "--resource", DOCS, "--vault", "nope"]),
        "vault \"nope\" is not declared",
    );
    refused(
        &home.run(&["recovery-points", "describe", "nope"]),
        "no recovery point nope",
    );
    refused(
        &home.run(&["restore", "start", "--recovery-point", "x"]),
        "give exactly one of --target-dir",
    );
}

#[test]
fn a_vault_on_s3_takes_backups_and_restic_opens_it_with_export_key() {
    let moto = coffer_testkit::Moto::start();
    moto.create_bucket("coffer-cli");
    let (home, source) = setup();
    let key = home.write("s3.key", coffer_testkit::KEY);
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "[[vaults.rules]]\nmatch = \"remote\"\nurl = \"s3://coffer-cli/vaults/{{name}}\"\nendpoint = \"moto\"\n\n[s3_endpoints.moto]\nurl = \"{}\"\naccess_key_id = {{ file = \"{key}\" }}\nsecret_access_key = {{ file = \"{key}\" }}\npath_style = true\n\n{text}",
            moto.url
        ),
    )
    .unwrap();
    let stack = home.write(
        "remote.yaml",
        "Resources:\n  Remote:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: remote\n",
    );
    let apply = home.run(&["apply", "--stack", "remote", &stack]);
    ok(&apply);
    assert!(
        apply.stdout.contains("Created storage of vault \"remote\""),
        "{}",
        apply.stdout
    );

    let backup = home.run(&["backup", "start", "--resource", DOCS, "--vault", "remote"]);
    ok(&backup);
    let rp = point_arn(&backup);
    let target = home.path().join("from-s3");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        std::fs::read(target.join("a.txt")).unwrap(),
        std::fs::read(source.join("a.txt")).unwrap()
    );

    let exported = home.run(&["vault", "export-key", "remote", "--yes", "-o", "json"]);
    ok(&exported);
    let exported: Value = serde_json::from_str(&exported.stdout).unwrap();
    let repository = exported["repository"].as_str().unwrap();
    assert_eq!(
        repository,
        format!("s3:{}/coffer-cli/vaults/remote", moto.url)
    );
    let listed = std::process::Command::new("restic")
        .args(["--no-cache", "--repo", repository, "snapshots", "--json"])
        .env("RESTIC_PASSWORD", exported["password"].as_str().unwrap())
        .env("AWS_ACCESS_KEY_ID", coffer_testkit::KEY)
        .env("AWS_SECRET_ACCESS_KEY", coffer_testkit::KEY)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("coffer-recovery-point:"));
}

#[test]
fn a_copy_to_another_vault_is_its_own_restorable_recovery_point() {
    let (home, source) = setup();
    let backup = home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]);
    ok(&backup);
    let rp = point_arn(&backup);
    // Outside the destination lock's bounds: the copy job fails, naming both numbers.
    refused(
        &home.run(&[
            "copy",
            "start",
            "--recovery-point",
            &rp,
            "--destination-vault",
            "governance",
            "--delete-after-days",
            "300",
        ]),
        "retention of 300 days is above the vault lock's MaxRetentionDays (100)",
    );
    let copy = home.run(&[
        "copy",
        "start",
        "--recovery-point",
        &rp,
        "--destination-vault",
        "governance",
        "--delete-after-days",
        "30",
    ]);
    ok(&copy);
    let copy_rp = point_arn(&copy);
    assert_ne!(copy_rp, rp);
    let described = home.run(&["recovery-points", "describe", &copy_rp, "-o", "json"]);
    let point: Value = serde_json::from_str(&described.stdout).unwrap();
    assert_eq!(point["BackupVaultName"], "governance");
    assert_eq!(point["SourceRecoveryPointArn"], rp.as_str());
    assert_eq!(point["Lifecycle"]["DeleteAfterDays"], 30);
    // The source goes; the copy restores.
    ok(&home.run(&["recovery-points", "delete", &rp]));
    let target = home.path().join("from-copy");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &copy_rp,
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        std::fs::read(target.join("sub/b.txt")).unwrap(),
        std::fs::read(source.join("sub/b.txt")).unwrap()
    );
    let jobs = home.run(&["jobs", "list", "--kind", "copy", "-o", "json"]);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    let states: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["Job"]["State"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["FAILED", "COMPLETED"]);
    assert_eq!(
        jobs[1]["Job"]["DestinationRecoveryPointArn"],
        copy_rp.as_str()
    );
}

/// A completed backup of DOCS into `vault`, kept `days` days: its ARN.
fn backed_up(home: &Home, vault: &str, days: &str) -> String {
    let run = home.run(&[
        "backup",
        "start",
        "--resource",
        DOCS,
        "--vault",
        vault,
        "--delete-after-days",
        days,
    ]);
    ok(&run);
    point_arn(&run)
}

/// Moves a recovery point's DeleteAt into the past, as if it had been
/// created long ago (test setup, straight in the SQLite catalog).
fn backdate(home: &Home, rp_arn: &str) {
    // Through the catalog, as Coffer writes (with its ledger entry): a
    // point edited with SQL is one the sweeper refuses to trust.
    let url = format!("sqlite://{}", home.path().join("catalog.db").display());
    crate::postgres::block_on(async {
        let catalog = coffer_catalog::Catalog::open(&url, jiff::Timestamp::now())
            .await
            .unwrap();
        let id = rp_arn.rsplit(':').next().unwrap();
        let stored = catalog
            .get::<coffer_model::RecoveryPoint>(id)
            .await
            .unwrap()
            .unwrap();
        let mut point = stored.record;
        point.calculated_lifecycle.delete_at = Some("2020-01-01T00:00:00Z".parse().unwrap());
        catalog
            .update(&point, stored.version, jiff::Timestamp::now())
            .await
            .unwrap();
        catalog.close().await;
    });
}

#[test]
fn the_sweeper_expires_due_points_and_keeps_held_ones() {
    let (home, _source) = setup();
    let due = backed_up(&home, "open", "1");
    let held = backed_up(&home, "governance", "30");
    ok(&home.run(&[
        "legal-holds",
        "create",
        "--title",
        "t",
        "--description",
        "d",
        "--vault",
        "governance",
    ]));
    backdate(&home, &due);
    backdate(&home, &held);

    let dry = home.run(&["lifecycle", "sweep", "--dry-run"]);
    ok(&dry);
    assert!(dry.stdout.contains("expire"), "{}", dry.stdout);
    let status = |rp: &str| {
        let run = home.run(&["recovery-points", "describe", rp, "-o", "json"]);
        let point: Value = serde_json::from_str(&run.stdout).unwrap();
        point["Status"].as_str().unwrap().to_string()
    };
    assert_eq!(status(&due), "COMPLETED", "a dry run changes nothing");

    let sweep = home.run(&["lifecycle", "sweep"]);
    ok(&sweep);
    assert!(sweep.stdout.contains("legal hold"), "{}", sweep.stdout);
    assert!(
        sweep.stdout.contains("pruned   vault \"open\""),
        "{}",
        sweep.stdout
    );
    assert_eq!(status(&due), "DELETED");
    assert_eq!(status(&held), "COMPLETED");
    // The snapshot is gone from the vault: restic no longer lists it.
    let key = home.run(&["vault", "export-key", "open", "--yes", "-o", "json"]);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let listed = coffer_testkit::restic_ok(
        key["repository"].as_str().unwrap(),
        key["password"].as_str().unwrap(),
        &["snapshots", "--json"],
    );
    let due_id = due.rsplit(':').next().unwrap();
    assert!(!listed.contains(due_id));
}

#[test]
fn the_schedule_preview_fires_each_rule_in_its_time_zone() {
    let home = Home::new();
    let stack = crate::repo("examples/backup-stack.yaml");
    let inventory = crate::repo("examples/inventory.yaml");
    ok(&home.run(&["apply", "--stack", "payments", &stack, &inventory]));
    let preview = home.run(&["schedule", "preview", "--hours", "48", "-o", "json"]);
    ok(&preview);
    let jobs: Value = serde_json::from_str(&preview.stdout).unwrap();
    let nightly: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| {
            j["BackupPlanName"] == "critical-daily-35d"
                && j["ResourceArn"]
                    == "arn:coffer:sqlite:eu-west-1:210987654321:database/settlement-queue"
        })
        .collect();
    assert_eq!(nightly.len(), 2, "two nights in 48 hours: {jobs}");
    let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    for job in nightly {
        let at: jiff::Timestamp = job["ScheduledAt"].as_str().unwrap().parse().unwrap();
        let wall = paris.to_datetime(at);
        assert_eq!(
            (wall.hour(), wall.minute()),
            (1, 30),
            "cron(30 1 * * ? *) in Europe/Paris"
        );
        assert_eq!(job["BackupVaultName"], "payments-primary");
    }
}

#[test]
fn vault_check_reads_data_back_and_finds_a_truncated_pack() {
    let (home, _source) = setup();
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]));
    ok(&home.run(&["vault", "check", "open"]));
    let full = home.run(&["vault", "check", "open", "--read-data", "all"]);
    ok(&full);
    assert!(
        full.stdout.contains("structure and data (all) OK"),
        "{}",
        full.stdout
    );
    refused(
        &home.run(&["vault", "check", "open", "--read-data", "lots"]),
        "use all, a percentage",
    );
    let data = home.path().join("vaults/210987654321/eu-west-1/open/data");
    assert!(coffer_testkit::truncate_files_under(&data) > 0);
    let broken = home.run(&["vault", "check", "open", "--read-data", "all"]);
    assert_eq!(broken.code, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(broken.stderr.contains("FAILED"), "{}", broken.stderr);
}

#[test]
fn metrics_show_jobs_by_state_and_the_last_success_per_resource() {
    let (home, _source) = setup();
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]));
    refused(
        &home.run(&[
            "backup",
            "start",
            "--resource",
            DOCS,
            "--vault",
            "compliance",
            "--delete-after-days",
            "1",
        ]),
        "MinRetentionDays",
    );
    let metrics = home.run(&["metrics"]);
    ok(&metrics);
    let text = metrics.stdout;
    assert!(
        text.contains("coffer_backup_jobs{state=\"COMPLETED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("coffer_backup_jobs{state=\"FAILED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "coffer_last_successful_backup_timestamp_seconds{{resource_arn=\"{DOCS}\"}}"
        )),
        "{text}"
    );
    assert!(text.contains("coffer_recovery_points{vault_arn=\"arn:coffer:backup:eu-west-1:210987654321:backup-vault:open\"} 1"), "{text}");
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.starts_with("coffer_")),
        "{text}"
    );
}

/// Runs Debian's restic on the vault `name` of `home` with the key
/// `vault export-key` prints; returns its standard output.
fn restic_on(home: &Home, name: &str) -> impl Fn(&[&str]) -> String {
    let key = home.run(&["vault", "export-key", name, "--yes", "-o", "json"]);
    ok(&key);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let repository = key["repository"].as_str().unwrap().to_string();
    let password = key["password"].as_str().unwrap().to_string();
    move |args: &[&str]| {
        let out = std::process::Command::new("restic")
            .args(["--no-cache", "--repo", &repository])
            .args(args)
            .env("RESTIC_PASSWORD", &password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn catalog(home: &Home) -> rusqlite::Connection {
    rusqlite::Connection::open(home.path().join("catalog.db")).unwrap()
}

#[test]
fn reconcile_removes_only_snapshots_of_jobs_that_ended_without_them() {
    let (home, source) = setup();
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]));
    // A job that failed: its source is gone for the attempt.
    let away = home.path().join("data/docs-away");
    std::fs::rename(&source, &away).unwrap();
    let failed = home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    std::fs::rename(&away, &source).unwrap();
    let failed_job: String = catalog(&home)
        .query_row(
            "SELECT id FROM backup_jobs WHERE state = 'FAILED'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let restic = restic_on(&home, "open");
    let src = source.display().to_string();
    // What that job would leave had it died after its snapshot and before
    // its catalog row.
    let left = format!("coffer-recovery-point:lost,coffer-job:{failed_job}");
    restic(&["backup", "--tag", &left, &src]);
    // A Coffer snapshot of a job the catalog does not know (a catalog
    // restored from an older copy): kept.
    restic(&[
        "backup",
        "--tag",
        "coffer-recovery-point:stray,coffer-job:UNKNOWN-JOB",
        &src,
    ]);
    // A snapshot someone made by hand.
    restic(&["backup", "--tag", "by-hand", &src]);
    let dry = home.run(&["vault", "reconcile", "open", "--dry-run"]);
    ok(&dry);
    assert_eq!(
        dry.stdout.matches("would remove").count(),
        1,
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&failed_job), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("unaccounted snapshot") && dry.stdout.contains("recovery point stray"),
        "{}",
        dry.stdout
    );
    let done = home.run(&["vault", "reconcile", "open"]);
    ok(&done);
    let listed = restic(&["snapshots", "--json"]);
    assert!(!listed.contains("coffer-recovery-point:lost"), "{listed}");
    assert!(listed.contains("coffer-recovery-point:stray"), "{listed}");
    assert!(listed.contains("by-hand"), "{listed}");
    // A job row the ledger does not vouch for (edited in the database) is
    // not trusted to remove anything.
    restic(&["backup", "--tag", &left, &src]);
    catalog(&home)
        .execute(
            "UPDATE backup_jobs SET doc = replace(doc, '\"FAILED\"', '\"FAILED\" ') WHERE id = ?1",
            [&failed_job],
        )
        .unwrap();
    let again = home.run(&["vault", "reconcile", "open"]);
    ok(&again);
    assert!(
        again.stdout.contains("the ledger does not vouch"),
        "{}",
        again.stdout
    );
    let listed = restic(&["snapshots", "--json"]);
    assert!(listed.contains("coffer-recovery-point:lost"), "{listed}");
}

#[test]
fn a_point_whose_row_is_deleted_keeps_its_snapshot_and_is_adopted_back() {
    let (home, _source) = setup();
    let backup = home.run(&["backup", "start", "--resource", DOCS, "--vault", "open"]);
    ok(&backup);
    let rp = point_arn(&backup);
    let point_id = rp.rsplit(':').next().unwrap().to_string();
    let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
    ok(&described);
    let before: Value = serde_json::from_str(&described.stdout).unwrap();
    assert_eq!(
        catalog(&home)
            .execute("DELETE FROM recovery_points WHERE id = ?1", [&point_id])
            .unwrap(),
        1
    );
    // Reconciliation, by hand and as `serve` runs it, keeps the snapshot
    // and names it.
    let found = home.run(&["vault", "reconcile", "open"]);
    ok(&found);
    assert!(
        found.stdout.contains("unaccounted snapshot") && found.stdout.contains(&point_id),
        "{}",
        found.stdout
    );
    assert!(!found.stdout.contains("removed"), "{}", found.stdout);
    let restic = restic_on(&home, "open");
    let tag = format!("coffer-recovery-point:{point_id}");
    assert!(restic(&["snapshots", "--json"]).contains(&tag));
    // Adoption records it again, with what the snapshot carries.
    let adopted = home.run(&["vault", "reconcile", "open", "--adopt"]);
    ok(&adopted);
    assert!(adopted.stdout.contains(&point_id), "{}", adopted.stdout);
    let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
    ok(&described);
    let after: Value = serde_json::from_str(&described.stdout).unwrap();
    for field in [
        "ResourceArn",
        "SnapshotId",
        "ContentSha256",
        "CreatedByJobId",
    ] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    assert_eq!(after["Status"], "COMPLETED");
    let target = home.path().join("restored");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        std::fs::read_to_string(target.join("sub/b.txt")).unwrap(),
        "beta"
    );
    let clean = home.run(&["vault", "reconcile", "open"]);
    assert!(
        clean
            .stdout
            .contains("every Coffer snapshot is a recorded recovery point"),
        "{}",
        clean.stdout
    );
}

pub(crate) fn keys_with_passphrase(home: &Home, args: &[&str]) -> crate::Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .arg("keys")
        .args(args)
        .env_remove("COFFER_HOME")
        .env("COFFER_KEYS_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    crate::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_lost_catalog_is_rebuilt_from_the_keyring_export_and_the_vaults() {
    let (home, _source) = setup();
    let backup = home.run(&[
        "backup",
        "start",
        "--resource",
        DOCS,
        "--vault",
        "open",
        "--delete-after-days",
        "40",
    ]);
    ok(&backup);
    let rp = point_arn(&backup);
    let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
    ok(&described);
    let before: Value = serde_json::from_str(&described.stdout).unwrap();
    let export = home.path().join("keys.export").display().to_string();
    ok(&keys_with_passphrase(&home, &["export", "--to", &export]));
    // The vault keeps its wrapped secret beside the repository, and each
    // snapshot the record of its point.
    let beside = home
        .path()
        .join("vaults/210987654321/eu-west-1/open/coffer-vault-secret.json");
    assert!(beside.is_file());
    assert!(!std::fs::read_to_string(&beside)
        .unwrap()
        .contains(&restic_key(&home, "open")));
    // The machine loses its catalog and its keyring.
    for name in ["catalog.db", "catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(home.path().join(name));
    }
    std::fs::remove_dir_all(home.path().join("keyring")).unwrap();
    ok(&keys_with_passphrase(&home, &["import", "--from", &export]));
    let stack = home.path().join("files/stack.yaml").display().to_string();
    let inventory = home
        .path()
        .join("files/inventory.yaml")
        .display()
        .to_string();
    let applied = home.run(&["apply", "--stack", "jobs", &stack, &inventory]);
    ok(&applied);
    assert!(
        applied.stdout.contains("recorded again"),
        "{}",
        applied.stdout
    );
    let recovered = home.run(&["catalog", "recover"]);
    ok(&recovered);
    assert!(recovered.stdout.contains(&rp), "{}", recovered.stdout);
    let described = home.run(&["recovery-points", "describe", &rp, "-o", "json"]);
    ok(&described);
    let after: Value = serde_json::from_str(&described.stdout).unwrap();
    for field in [
        "ResourceArn",
        "SnapshotId",
        "ContentSha256",
        "Lifecycle",
        "CalculatedLifecycle",
        "CreationDate",
        "BackupSizeInBytes",
        "StoredBytes",
    ] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    let target = home.path().join("restored");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &rp,
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        std::fs::read_to_string(target.join("sub/b.txt")).unwrap(),
        "beta"
    );
    // Recovering again finds nothing more.
    let again = home.run(&["catalog", "recover"]);
    ok(&again);
    assert!(
        again.stdout.contains("0 recovery point(s) recovered"),
        "{}",
        again.stdout
    );
}

/// The vault's restic password, as `vault export-key` prints it.
fn restic_key(home: &Home, name: &str) -> String {
    let key = home.run(&["vault", "export-key", name, "--yes", "-o", "json"]);
    ok(&key);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    key["password"].as_str().unwrap().to_string()
}
