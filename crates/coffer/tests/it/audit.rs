//! Controls end to end: a framework over a plan, vaults and resources; an
//! untagged resource is NON_COMPLIANT with the reason, and turns COMPLIANT
//! once tagged and backed up; results are kept with history and appended
//! to the evidence ledger.

use serde_json::Value;

use crate::{Home, Run};

const STACK: &str = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
      AccessPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: nobody-deletes
            Effect: Deny
            Principal: '*'
            Action:
              - backup:DeleteRecoveryPoint
              - backup:UpdateRecoveryPointLifecycle
              - backup:PutBackupVaultAccessPolicy
            Resource: '*'
  DeleteOnly:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: delete-only
      AccessPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: nobody-deletes
            Effect: Deny
            Principal: '*'
            Action: backup:DeleteRecoveryPoint
            Resource: '*'
  Open:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: open
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: critical-daily-35d
        BackupPlanRule:
          - RuleName: daily
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            Lifecycle:
              DeleteAfterDays: 35
            CopyActions:
              - DestinationBackupVaultArn: arn:coffer:backup:eu-central-1:210987654321:backup-vault:dr
                Lifecycle:
                  DeleteAfterDays: 35
  Critical:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: critical
        IamRoleArn: arn:coffer:iam::210987654321:role/backup
        ListOfTags:
          - ConditionType: STRINGEQUALS
            ConditionKey: backup-tier
            ConditionValue: critical
  Core:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: core
      FrameworkControls:
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN
        - ControlName: BACKUP_LAST_RECOVERY_POINT_CREATED
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION
        - ControlName: BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED
        - ControlName: BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK
        - ControlName: BACKUP_RECOVERY_POINT_ENCRYPTED
        - ControlName: BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK
          ControlInputParameters:
            - ParameterName: requiredRetentionDays
              ParameterValue: '30'
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK
        - ControlName: RESTORE_TIME_FOR_RESOURCES_MEET_TARGET
  Scoped:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: scoped
      FrameworkControls:
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT
          ControlInputParameters:
            - ParameterName: crossAccountList
              ParameterValue: '111122223333'
        - ControlName: BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN
          ControlScope:
            Tags:
              env: staging
        - ControlName: BACKUP_LAST_RECOVERY_POINT_CREATED
          ControlScope:
            ComplianceResourceTypes: [SQLite]
        - ControlName: BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK
          ControlInputParameters:
            - ParameterName: requiredFrequencyValue
              ParameterValue: '1'
            - ParameterName: requiredFrequencyUnit
              ParameterValue: hours
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
const STAGING: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/staging";

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn inventory(home: &Home, staging_tags: &str) -> String {
    let docs = home.path().join("data/docs");
    let staging = home.path().join("data/staging");
    for dir in [&docs, &staging] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("a.txt"), "alpha").unwrap();
    }
    home.write(
        "inventory.yaml",
        &format!(
            "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n    tags: {{backup-tier: critical}}\n  - name: staging\n    path: {}\n    tags: {staging_tags}\n",
            docs.display(),
            staging.display()
        ),
    )
}

/// (status, reason) of a control's result for one resource, newest run.
fn verdict(home: &Home, control: &str, resource: &str) -> (String, String) {
    let run = home.run(&["audit", "evaluate", "-o", "json"]);
    ok(&run);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let core = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["FrameworkName"] == "core")
        .unwrap();
    let result = core["Results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ControlName"] == control && r["ResourceId"] == resource)
        .unwrap_or_else(|| panic!("no {control} result for {resource}: {doc:#}"))
        .clone();
    (
        result["Status"].as_str().unwrap().to_string(),
        result["Reason"].as_str().unwrap().to_string(),
    )
}

fn backup(home: &Home, resource: &str) {
    ok(&home.run(&[
        "backup",
        "start",
        "--resource",
        resource,
        "--vault",
        "primary",
        "--delete-after-days",
        "35",
    ]));
}

#[test]
fn an_untagged_resource_fails_with_its_reason_and_passes_once_tagged_and_backed_up() {
    let home = Home::new();
    let stack = home.write("stack.yaml", STACK);
    let inv = inventory(&home, "{env: staging}");
    ok(&home.run(&["apply", "--stack", "audit", &stack, &inv]));
    backup(&home, DOCS);

    let (status, reason) = verdict(&home, "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", STAGING);
    assert_eq!(status, "NON_COMPLIANT");
    assert_eq!(
        reason,
        "no backup plan selects this resource: its tags are {env=staging}; plan critical-daily-35d selects backup-tier=critical"
    );
    let run = home.run(&["audit", "evaluate", "--framework", "core", "-o", "json"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc.as_array().unwrap().len(),
        1,
        "only the framework asked for"
    );
    assert_eq!(doc[0]["FrameworkStatus"], "NON_COMPLIANT");
    // A framework that is not applied is refused, saying where to look.
    let typo = home.run(&["audit", "evaluate", "--framework", "core_typo"]);
    assert_eq!(typo.code, 1, "{}{}", typo.stdout, typo.stderr);
    assert!(
        typo.stderr
            .contains("framework \"core_typo\" is not applied in account")
            && typo.stderr.contains("`coffer get frameworks` lists them"),
        "{}",
        typo.stderr
    );
    let status_of = |control: &str, resource: &str| {
        doc[0]["Results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ControlName"] == control && r["ResourceId"] == resource)
            .map(|r| r["Status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {control} for {resource}"))
    };
    assert_eq!(
        status_of("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", DOCS),
        "COMPLIANT"
    );
    assert_eq!(
        status_of("BACKUP_LAST_RECOVERY_POINT_CREATED", DOCS),
        "COMPLIANT"
    );
    assert_eq!(
        status_of("BACKUP_LAST_RECOVERY_POINT_CREATED", STAGING),
        "NON_COMPLIANT"
    );
    assert_eq!(
        status_of("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", DOCS),
        "COMPLIANT"
    );
    assert_eq!(
        status_of("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK", DOCS),
        "NON_COMPLIANT"
    );
    assert_eq!(
        status_of("RESTORE_TIME_FOR_RESOURCES_MEET_TARGET", DOCS),
        "INSUFFICIENT_DATA"
    );
    assert_eq!(
        status_of(
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary"
        ),
        "COMPLIANT",
        "the real access policy denies deletion"
    );
    assert_eq!(
        status_of(
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            "arn:coffer:backup:eu-west-1:210987654321:backup-vault:open"
        ),
        "NON_COMPLIANT"
    );
    // Denying deletion alone is not enough: a one-day lifecycle expires a
    // point as surely, and a new policy lifts the Deny.
    let (status, reason) = verdict(
        &home,
        "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
        "arn:coffer:backup:eu-west-1:210987654321:backup-vault:delete-only",
    );
    assert_eq!(status, "NON_COMPLIANT", "{reason}");
    assert!(
        reason.starts_with("the vault's access policy does not deny backup:UpdateRecoveryPointLifecycle and backup:PutBackupVaultAccessPolicy to every principal"),
        "{reason}"
    );
    assert_eq!(
        status_of(
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            "critical-daily-35d"
        ),
        "COMPLIANT"
    );

    // Parameters and scopes: another account is required; only staging
    // is in the tag scope; no SQLite resource means no result; hourly
    // backups are required of a daily plan.
    let run = home.run(&["audit", "evaluate", "--framework", "scoped", "-o", "json"]);
    ok(&run);
    let scoped: Value = serde_json::from_str(&run.stdout).unwrap();
    let results = scoped[0]["Results"].as_array().unwrap();
    let of = |control: &str| -> Vec<&Value> {
        results
            .iter()
            .filter(|r| r["ControlName"] == control)
            .collect()
    };
    let cross = of("BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT");
    assert!(
        cross.iter().all(|r| r["Status"] == "NON_COMPLIANT"),
        "{cross:#?}"
    );
    assert!(cross[0]["Reason"]
        .as_str()
        .unwrap()
        .contains("another account among 111122223333"));
    let tagged = of("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN");
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0]["ResourceId"], STAGING);
    assert!(of("BACKUP_LAST_RECOVERY_POINT_CREATED").is_empty());
    let frequency = of("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK");
    assert_eq!(frequency[0]["Status"], "NON_COMPLIANT");
    assert!(
        frequency[0]["Reason"]
            .as_str()
            .unwrap()
            .contains("daily every 24 h keeping 35 days"),
        "{frequency:#?}"
    );

    // A restore drill gives the restore-time control its data.
    let points = home.run(&["recovery-points", "list", "-o", "json"]);
    let points: Value = serde_json::from_str(&points.stdout).unwrap();
    let docs_point = points
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ResourceArn"] == DOCS)
        .unwrap()["RecoveryPointId"]
        .as_str()
        .unwrap()
        .to_string();
    // The compliant vault's policy really refuses a lifecycle change.
    let shorten = home.run(&[
        "recovery-points",
        "update-lifecycle",
        &docs_point,
        "--delete-after-days",
        "1",
    ]);
    assert_eq!(shorten.code, 1, "{}\n{}", shorten.stdout, shorten.stderr);
    assert!(
        shorten
            .stderr
            .contains("may not backup:UpdateRecoveryPointLifecycle"),
        "{}",
        shorten.stderr
    );
    let target = home.path().join("restored");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &docs_point,
        "--target-dir",
        &target.display().to_string(),
    ]));
    let (status, reason) = verdict(&home, "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET", DOCS);
    assert_eq!(status, "COMPLIANT", "{reason}");
    assert!(reason.contains("(target 720)"), "{reason}");

    // Tagged and backed up: it passes.
    let inv = inventory(&home, "{env: staging, backup-tier: critical}");
    ok(&home.run(&["apply", "--stack", "audit", &stack, &inv]));
    backup(&home, STAGING);
    assert_eq!(
        verdict(&home, "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", STAGING).0,
        "COMPLIANT"
    );
    assert_eq!(
        verdict(&home, "BACKUP_LAST_RECOVERY_POINT_CREATED", STAGING).0,
        "COMPLIANT"
    );

    // Results are kept with history: recorded when they change, each in
    // the ledger; every evaluation is a record of its own.
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    let history: Vec<String> = conn
        .prepare(
            "SELECT status FROM control_results WHERE resource_id = ?1 AND framework_name = 'core' AND control_name = 'BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN' ORDER BY evaluated_at",
        )
        .unwrap()
        .query_map([STAGING], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(history, ["NON_COMPLIANT", "COMPLIANT"], "{history:?}");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let evaluations =
        count("SELECT count(*) FROM framework_evaluations WHERE framework_name = 'core'");
    assert!(evaluations >= 4, "{evaluations} evaluations of core");
    assert_eq!(
        count("SELECT count(*) FROM ledger WHERE kind = 'framework evaluation'"),
        count("SELECT count(*) FROM framework_evaluations")
    );
    assert!(
        count("SELECT count(*) FROM ledger WHERE kind = 'control result'")
            >= count("SELECT count(*) FROM control_results")
    );

    // Nothing changed: the evaluation records itself and no result.
    let again = home.run(&["audit", "evaluate", "--framework", "core", "-o", "json"]);
    ok(&again);
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again[0]["ResultsChanged"], 0, "{:#}", again[0]["Controls"]);
    assert_eq!(again[0]["ResultsRetired"], 0);

    // A recovery point deleted: its point results are retired, the rest
    // stand. (The open vault allows deleting.)
    ok(&home.run(&["backup", "start", "--resource", STAGING, "--vault", "open"]));
    ok(&home.run(&["audit", "evaluate", "--framework", "core"]));
    let staging_point = {
        let points = home.run(&["recovery-points", "list", "--vault", "open", "-o", "json"]);
        let points: Value = serde_json::from_str(&points.stdout).unwrap();
        points
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ResourceArn"] == STAGING)
            .unwrap()["RecoveryPointArn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let current_of = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM control_current WHERE resource_id = ?1",
            [&staging_point],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(current_of(&conn), 2, "encrypted and retention results");
    ok(&home.run(&["recovery-points", "delete", &staging_point]));
    let after = home.run(&["audit", "evaluate", "--framework", "core", "-o", "json"]);
    ok(&after);
    let after: Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(after[0]["ResultsRetired"], 2, "{after:#}");
    assert_eq!(current_of(&conn), 0);
    ok(&home.run(&["evidence", "verify"]));
}

#[test]
fn a_snapshot_forgotten_behind_coffers_back_fails_the_vault_check_and_its_point_controls() {
    let home = Home::new();
    let stack = home.write("stack.yaml", STACK);
    let inv = inventory(&home, "{env: staging}");
    ok(&home.run(&["apply", "--stack", "audit", &stack, &inv]));
    backup(&home, DOCS);
    let listed = home.run(&["recovery-points", "list", "-o", "json"]);
    ok(&listed);
    let points: Value = serde_json::from_str(&listed.stdout).unwrap();
    let point = &points[0];
    let arn = point["RecoveryPointArn"].as_str().unwrap().to_string();
    let point_id = point["RecoveryPointId"].as_str().unwrap().to_string();
    let snapshot = point["SnapshotId"].as_str().unwrap().to_string();
    ok(&home.run(&["vault", "check", "primary", "--read-data", "all"]));
    let (status, _) = verdict(&home, "BACKUP_RECOVERY_POINT_ENCRYPTED", &arn);
    assert_eq!(status, "COMPLIANT");
    // Someone with the exported key forgets the point's snapshot.
    let key = home.run(&["vault", "export-key", "primary", "--yes", "-o", "json"]);
    ok(&key);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let forgot = std::process::Command::new("restic")
        .args(["--no-cache", "--repo", key["repository"].as_str().unwrap()])
        .args(["forget", &snapshot])
        .env("RESTIC_PASSWORD", key["password"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        forgot.status.success(),
        "{}",
        String::from_utf8_lossy(&forgot.stderr)
    );
    let check = home.run(&["vault", "check", "primary", "--read-data", "all"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stderr.contains(&point_id) && check.stderr.contains("is gone"),
        "{}",
        check.stderr
    );
    let metrics = home.run(&["metrics"]);
    ok(&metrics);
    assert!(
        metrics
            .stdout
            .contains("coffer_vault_check_faulty_recovery_points{account=\"210987654321\",region=\"eu-west-1\",vault=\"primary\"} 1"),
        "{}",
        metrics.stdout
    );
    for control in [
        "BACKUP_RECOVERY_POINT_ENCRYPTED",
        "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
    ] {
        let (status, reason) = verdict(&home, control, &arn);
        assert_eq!(status, "NON_COMPLIANT", "{control}: {reason}");
        assert!(
            reason.contains(&snapshot) && reason.contains("is gone"),
            "{control}: {reason}"
        );
    }
}
