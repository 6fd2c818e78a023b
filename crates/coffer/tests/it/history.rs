//! Object history through the binary: a plan applied by one user, changed
//! by two others and deleted by a fourth reads back with `get --at` at each
//! moment as it was, naming who changed it and the ledger entry;
//! `get --history` lists every version; a historic version edited with SQL
//! fails `evidence verify`, named; on SQLite and on PostgreSQL.

use serde_json::Value;

use crate::agreement::{Database, Postgres, Sqlite};
use crate::{Home, Run};

const ARN: &str = "arn:coffer:backup:eu-west-1:210987654321:backup-plan:daily";

fn stack(days: Option<u32>) -> String {
    let mut text = String::from(
        "Resources:\n  Primary:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: primary\n",
    );
    if let Some(days) = days {
        text.push_str(&format!(
            "  Plan:\n    Type: AWS::Backup::BackupPlan\n    Properties:\n      BackupPlan:\n        BackupPlanName: daily\n        BackupPlanRule:\n          - RuleName: nightly\n            TargetBackupVault: primary\n            ScheduleExpression: cron(0 3 * * ? *)\n            Lifecycle:\n              DeleteAfterDays: {days}\n"
        ));
    }
    text
}

/// `coffer ARGS` in `home`, run by the operating-system user `user`.
fn run_as(home: &Home, user: &str, args: &[&str]) -> Run {
    let mut full = vec!["--account", "210987654321", "--region", "eu-west-1"];
    full.extend_from_slice(args);
    home.run_with(&full, |command| {
        command.env_remove("LOGNAME").env("USER", user)
    })
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "{run:?}");
    run
}

fn json(run: Run) -> Value {
    serde_json::from_str(&ok(run).stdout).unwrap()
}

#[test]
fn get_at_shows_a_plan_as_it_was_and_history_lists_who_changed_it() {
    let home = Home::new();
    the_history_reads_back(&home, &Sqlite(&home));
}

#[test]
fn on_a_postgresql_catalog_get_at_and_history_read_back_and_edits_are_named() {
    let database = crate::postgres::Database::create();
    let home = database.home();
    the_history_reads_back(&home, &Postgres(database.url()));
}

/// A plan applied by alice, changed by bob and carol and deleted by dave
/// reads back as it was; a historic version edited in `db` is named.
fn the_history_reads_back(home: &Home, db: &dyn Database) {
    for (user, days) in [
        ("alice", Some(35)),
        ("bob", Some(90)),
        ("carol", Some(120)),
        ("dave", None),
    ] {
        let file = home.write(&format!("stack-{user}.yaml"), &stack(days));
        ok(run_as(home, user, &["apply", "--stack", "s", &file]));
    }

    let history = json(home.run(&["get", "plans", "daily", "--history", "-o", "json"]));
    let versions = history.as_array().unwrap();
    let summary: Vec<(String, String, String)> = versions
        .iter()
        .map(|v| {
            (
                v["VersionId"].as_str().unwrap().to_string(),
                v["ChangeType"].as_str().unwrap().to_string(),
                v["LastModifiedBy"]["OsUser"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("1", "CREATED", "alice"),
        ("2", "UPDATED", "bob"),
        ("3", "UPDATED", "carol"),
        ("4", "DELETED", "dave"),
    ]
    .iter()
    .map(|(v, c, u)| (v.to_string(), c.to_string(), u.to_string()))
    .collect();
    assert_eq!(summary, expected);
    assert!(versions
        .iter()
        .all(|v| v["StackName"] == "s" && v["LastModifiedBy"]["Principal"].is_string()));

    // Each version's ledger entry is the plan's own, of the same change.
    let log = json(home.run(&["evidence", "log", "--subject", ARN, "-o", "json"]));
    for version in versions {
        let entry = log["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["Seq"] == version["LedgerSeq"])
            .unwrap_or_else(|| panic!("no entry for {version}"));
        assert_eq!(entry["Event"], version["ChangeType"]);
        assert_eq!(
            entry["Actor"]["OsUser"],
            version["LastModifiedBy"]["OsUser"]
        );
    }

    let table = ok(home.run(&["get", "plans", "daily", "--history"])).stdout;
    for needle in [
        "VERSION",
        "CHANGE",
        "OS USER",
        "LEDGER SEQ",
        "alice",
        "DELETED",
    ] {
        assert!(table.contains(needle), "{needle:?} in:\n{table}");
    }

    // At each version's own time, and after it, the plan is as it was.
    for (version, days) in versions.iter().zip([35, 90, 120]) {
        let time = version["LastModifiedDate"].as_str().unwrap();
        let at = json(home.run(&["get", "plans", "daily", "--at", time, "-o", "json"]));
        assert_eq!(at["Rules"][0]["Lifecycle"]["DeleteAfterDays"], days, "{at}");
        assert_eq!(at["BackupPlanArn"], ARN);
        assert_eq!(at["VersionId"], version["VersionId"]);
        assert_eq!(at["LastModifiedBy"], version["LastModifiedBy"]);
        assert_eq!(at["LedgerSeq"], version["LedgerSeq"]);
    }
    let bob = &versions[1];
    let shown = ok(home.run(&[
        "get",
        "plans",
        "daily",
        "--at",
        bob["LastModifiedDate"].as_str().unwrap(),
    ]))
    .stdout;
    assert!(
        shown.contains(&format!(
            "version 2, UPDATED at {} by {} (user bob), ledger entry {} (stack s)",
            bob["LastModifiedDate"].as_str().unwrap(),
            bob["LastModifiedBy"]["Principal"].as_str().unwrap(),
            bob["LedgerSeq"]
        )),
        "{shown}"
    );
    assert!(shown.contains("DeleteAfterDays: 90"), "{shown}");

    // After the deletion, and before the creation, it did not exist.
    let deleted = home.run(&[
        "get",
        "plans",
        "daily",
        "--at",
        versions[3]["LastModifiedDate"].as_str().unwrap(),
    ]);
    assert_eq!(deleted.code, 1, "{deleted:?}");
    assert!(
        deleted
            .stderr
            .contains("was deleted before then (DELETED at ")
            && deleted.stderr.contains("(user dave), ledger entry "),
        "{deleted:?}"
    );
    let before = home.run(&["get", "plans", "daily", "--at", "2001-01-01"]);
    assert_eq!(before.code, 1, "{before:?}");
    assert!(
        before
            .stderr
            .contains("did not exist yet at 2001-01-01T23:59:59.999Z"),
        "{before:?}"
    );
    let bad = home.run(&["get", "plans", "daily", "--at", "last tuesday"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr.contains("--at: \"last tuesday\" is not a time"),
        "{bad:?}"
    );
    let kept_not = home.run(&["get", "resources", "x", "--history"]);
    assert_eq!(kept_not.code, 1, "{kept_not:?}");
    assert!(
        kept_not
            .stderr
            .contains("the history of resources is not kept"),
        "{kept_not:?}"
    );

    // The vault, never changed, has its one version; as it is now too.
    let vault = json(home.run(&["get", "vaults", "primary", "--history", "-o", "json"]));
    assert_eq!(vault.as_array().unwrap().len(), 1);
    let now = json(home.run(&["get", "vaults", "primary", "-o", "json"]));
    assert_eq!(now[0]["BackupVaultName"], "primary");

    // A historic version edited behind Coffer's back is named.
    let verified = ok(home.run(&["evidence", "verify"]));
    // The plan's four versions and the vault's one.
    assert!(
        verified
            .stdout
            .contains("5 stored version(s) of policy objects with the entries that commit to them"),
        "{verified:?}"
    );
    db.exec(
        "UPDATE object_versions SET doc = REPLACE(doc, '\"DeleteAfterDays\":35', '\"DeleteAfterDays\":365') WHERE kind = 'backup-plan' AND version = 1",
    );
    let verify = home.run(&["evidence", "verify"]);
    assert_eq!(verify.code, 1, "{verify:?}");
    assert!(
        verify.stderr.contains(&format!(
            "error: backup plan {ARN}: its stored version 1 (CREATED at "
        )) && verify.stderr.contains("its document differs"),
        "{verify:?}"
    );
}
