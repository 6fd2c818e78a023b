//! `coffer quickstart`, as a new user runs it: twice on one home.

use serde_json::Value;

use crate::Home;

/// Drops the quickstart's PostgreSQL and MariaDB databases even when the
/// test fails.
struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        coffer_testkit::drop_database(&self.0);
        coffer_testkit::drop_mysql_database(&self.0);
    }
}

fn points(home: &Home) -> Vec<Value> {
    let run = home.run_bare(&["recovery-points", "list", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str::<Value>(&run.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The restore jobs restore testing plans created.
fn restore_tests(home: &Home) -> Vec<Value> {
    let run = home.run_bare(&["jobs", "list", "--kind", "restore", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str::<Vec<Value>>(&run.stdout)
        .unwrap()
        .into_iter()
        .map(|row| row["Job"].clone())
        .filter(|job| !job["CreatedBy"].is_null())
        .collect()
}

/// A drill of the quickstart's plan: restored, validated SUCCESSFUL, and
/// its scratch target (a directory, or a database on the source's server)
/// gone.
fn assert_drill_passed(job: &Value) {
    assert_eq!(
        job["CreatedBy"]["RestoreTestingPlanArn"],
        "arn:coffer:backup:local:000000000000:restore-testing-plan:quickstart_drills",
        "{job:#}"
    );
    assert_eq!(job["Status"], "COMPLETED", "{job:#}");
    assert_eq!(job["ValidationStatus"], "SUCCESSFUL", "{job:#}");
    assert_eq!(job["DeletionStatus"], "SUCCESSFUL", "{job:#}");
    assert!(job["RestoreDurationMillis"].is_u64(), "{job:#}");
    let metadata = &job["RestoreMetadata"];
    if let Some(dir) = metadata["ScratchDirectory"].as_str() {
        assert!(!std::path::Path::new(dir).exists(), "{dir} was left");
    } else if let Some(prefix) = metadata["ScratchPrefix"].as_str() {
        // A bucket's: removed as its DeletionStatus says (the bucket
        // tests check the versions left under it).
        assert!(prefix.starts_with("coffer-restore-test-"), "{job:#}");
    } else {
        let db = metadata["TargetDatabase"]
            .as_str()
            .unwrap_or_else(|| panic!("no scratch target: {job:#}"));
        assert!(db.starts_with("coffer_restore_test_"), "{db}");
        let left = if job["ResourceType"] == "PostgreSQL" {
            coffer_testkit::psql_in(
                "postgres",
                &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
            )
        } else {
            coffer_testkit::mariadb_in(
                None,
                &format!("SELECT 1 FROM information_schema.schemata WHERE schema_name = '{db}'"),
            )
        };
        assert!(left.trim().is_empty(), "database {db} was left: {left}");
    }
}

#[test]
fn quickstart_runs_everything_and_a_second_run_adds_a_round() {
    let home = Home::new();
    let digest = coffer_catalog::ledger::sha256_hex(home.path().display().to_string().as_bytes());
    let _db = DropDatabase(format!("coffer_quickstart_{}", &digest[..8]));

    let first = home.run_bare(&["quickstart"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let out = &first.stdout;
    for step in 1..=8 {
        assert!(
            out.contains(&format!("[{step}/8]")),
            "step {step} missing:\n{out}"
        );
    }
    assert_eq!(
        out.matches("Report verified: 3 file(s)").count(),
        3,
        "CSV, JSON and PDF: {out}"
    );
    assert!(
        out.contains("PostgreSQL on 127.0.0.1:5432: database coffer_quickstart_"),
        "{out}"
    );
    assert!(
        out.contains("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN arn:coffer:fs:local:000000000000:filesystem/scratch: no backup plan selects this resource: its tags are {env=staging}; plan quickstart-daily-35d selects backup=daily"),
        "{out}"
    );
    assert!(
        out.contains("MariaDB on 127.0.0.1:3306: database coffer_quickstart_"),
        "{out}"
    );
    // The restore testing plan ran once over every tagged folder and
    // database: each restored to a scratch target, validated, the target
    // deleted.
    let tested = [
        "arn:coffer:fs:local:000000000000:filesystem/documents",
        "arn:coffer:fs:local:000000000000:filesystem/photos",
        "arn:coffer:sqlite:local:000000000000:database/orders",
        "arn:coffer:sqlite:local:000000000000:database/sessions",
    ];
    for arn in tested {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(arn))
            .unwrap_or_else(|| panic!("no drill of {arn}:\n{out}"));
        assert!(
            line.contains(" SUCCESSFUL ")
                && line.contains(" restored in ")
                && line.ends_with("scratch target deleted: SUCCESSFUL"),
            "{line}"
        );
    }
    let drills = restore_tests(&home);
    let mut resources: Vec<&str> = drills
        .iter()
        .map(|j| {
            j["RestoreMetadata"]["RestoreTestingSelectionName"]
                .as_str()
                .unwrap()
        })
        .collect();
    resources.sort_unstable();
    assert_eq!(
        resources,
        [
            "tagged_folders",
            "tagged_folders",
            "tagged_mysql",
            "tagged_postgres",
            "tagged_sqlite",
            "tagged_sqlite"
        ],
        "one test per selected resource: {drills:#?}"
    );
    for job in &drills {
        assert_drill_passed(job);
    }
    assert!(
        out.contains("(no S3 bucket protected: config.toml declares no [s3_endpoints] entry"),
        "{out}"
    );
    // Six resources backed up, one copied.
    let first_points = points(&home);
    assert_eq!(first_points.len(), 7, "{first_points:#?}");
    let maria: Vec<&Value> = first_points
        .iter()
        .filter(|p| p["ResourceType"] == "MySQL")
        .collect();
    assert_eq!(maria.len(), 1, "{first_points:#?}");
    // The restore drill restored the documents.
    let drills = home.path().join("quickstart/restore-drills");
    let drill = std::fs::read_dir(&drills)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    assert!(drill.join("contract.txt").is_file());

    let second = home.run_bare(&["quickstart"]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("No changes") || second.stdout.contains("unchanged"),
        "{}",
        second.stdout
    );
    assert_eq!(points(&home).len(), 14, "a new round of backups and a copy");
    let again = restore_tests(&home);
    assert_eq!(again.len(), 12, "the plan ran once more: {again:#?}");
    for job in &again {
        assert_drill_passed(job);
    }
    let evidence = home.run_bare(&["evidence", "verify"]);
    assert_eq!(evidence.code, 0, "{}\n{}", evidence.stdout, evidence.stderr);
}

#[test]
fn quickstart_protects_a_bucket_on_the_configured_s3_endpoint() {
    let home = Home::new();
    let digest = coffer_catalog::ledger::sha256_hex(home.path().display().to_string().as_bytes());
    let _db = DropDatabase(format!("coffer_quickstart_{}", &digest[..8]));
    let moto = coffer_testkit::Moto::start();
    let key = home.write("s3.key", coffer_testkit::KEY);
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[s3_endpoints.quickstart]\nurl = \"{}\"\naccess_key_id = {{ file = \"{key}\" }}\nsecret_access_key = {{ file = \"{key}\" }}\npath_style = true\n",
            moto.url
        ),
    )
    .unwrap();

    let run = home.run_bare(&["quickstart"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let bucket = format!("coffer-quickstart-{}", &digest[..8]);
    assert!(
        run.stdout.contains(&format!(
            "S3 endpoint quickstart ({}): bucket {bucket}, 5 object(s)",
            moto.url
        )),
        "{}",
        run.stdout
    );
    let arn = "arn:coffer:s3:local:000000000000:bucket/quickstart";
    // The drill tested the bucket in a scratch prefix, removed after.
    assert!(
        run.stdout.lines().any(|l| l.trim_start().starts_with(arn)
            && l.contains("SUCCESSFUL")
            && l.contains("scratch target deleted: SUCCESSFUL")),
        "the drill tests the bucket:\n{}",
        run.stdout
    );
    let all_points = points(&home);
    let drill = restore_tests(&home)
        .into_iter()
        .find(|j| {
            all_points
                .iter()
                .any(|p| p["RecoveryPointArn"] == j["RecoveryPointArn"] && p["ResourceArn"] == arn)
        })
        .unwrap_or_else(|| panic!("no drill of {arn}"));
    assert_drill_passed(&drill);
    let point = points(&home)
        .into_iter()
        .find(|p| p["ResourceArn"] == arn)
        .unwrap_or_else(|| panic!("no point of {arn}"));
    assert_eq!(point["Status"], "COMPLETED");
    let validated = home.run_bare(&[
        "restore",
        "validate",
        "--recovery-point",
        point["RecoveryPointArn"].as_str().unwrap(),
    ]);
    assert_eq!(
        validated.code, 0,
        "{}\n{}",
        validated.stdout, validated.stderr
    );
}
