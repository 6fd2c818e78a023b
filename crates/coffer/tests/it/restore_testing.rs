//! Restore testing plans end to end, in process on a manual clock: a
//! simulated month of two plans (one LATEST, one RANDOM) over a directory,
//! a SQLite file and a PostgreSQL database, each fire time tested once from
//! the included vaults only, validated, its scratch target removed, and the
//! restore-time control judged by the recorded durations; validation hooks
//! that fail and that hang past the validation window.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use coffer_engine::clock::Clock as _;
use coffer_engine::restore_testing::test_job_id;
use coffer_model::{DeletionStatus, RecoveryPoint, RestoreJob, RestoreJobStatus, ValidationStatus};
use coffer_policy::LoadConfig as _;
use jiff::{civil, SignedDuration, Timestamp};

use crate::daemon::{all, daemon_at};
use crate::Home;

const ACCOUNT: &str = "210987654321";
const PRIMARY: &str = "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary";
const OTHER: &str = "arn:coffer:backup:eu-west-1:210987654321:backup-vault:other";
const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
const QUEUE: &str = "arn:coffer:sqlite:eu-west-1:210987654321:database/queue";
const LATEST_ARN: &str = "arn:coffer:backup:eu-west-1:210987654321:restore-testing-plan:latest";
const RANDOM_ARN: &str = "arn:coffer:backup:eu-west-1:210987654321:restore-testing-plan:random";

fn ok(run: &crate::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// The month's stack: nightly backups into `primary` and, two hours later,
/// into `other`; a LATEST plan on Mondays that includes `primary` only,
/// and a RANDOM plan on Thursdays that includes every vault but `other`;
/// each with selections of the directory, the SQLite file (by tag) and the
/// database; a framework judging restore times.
fn month_stack(pg_arn: &str) -> String {
    let selections = |plan: &str| {
        format!(
            r#"
  {plan}Docs:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref {plan}
      RestoreTestingSelectionName: docs
      ProtectedResourceType: FileSystem
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: [{DOCS}]
      ValidationWindowHours: 1
  {plan}Queue:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref {plan}
      RestoreTestingSelectionName: queue
      ProtectedResourceType: SQLite
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: ["*"]
      ProtectedResourceConditions:
        StringEquals:
          - Key: aws:ResourceTag/tier
            Value: gold
      CofferValidationHook:
        Sql: SELECT count(*), max(body) FROM q
        Expect: "1|one"
  {plan}Database:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref {plan}
      RestoreTestingSelectionName: database
      ProtectedResourceType: PostgreSQL
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: [{pg_arn}]
      CofferValidationHook:
        Sql: SELECT sum(amount) FROM accounts
        Expect: "60"
"#
        )
    };
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Other:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: other
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: nightly
        BackupPlanRule:
          - RuleName: primary
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            StartWindowMinutes: 60
            CompletionWindowMinutes: 180
            Lifecycle:
              DeleteAfterDays: 20
          - RuleName: other
            TargetBackupVault: other
            ScheduleExpression: cron(0 5 * * ? *)
            StartWindowMinutes: 60
            CompletionWindowMinutes: 180
            Lifecycle:
              DeleteAfterDays: 20
  Gold:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: gold
        IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/backup-service
        ListOfTags:
          - ConditionType: STRINGEQUALS
            ConditionKey: tier
            ConditionValue: gold
  Latest:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: latest
      ScheduleExpression: cron(0 6 ? * MON *)
      StartWindowHours: 2
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: [{PRIMARY}]
        RecoveryPointTypes: [SNAPSHOT]
        SelectionWindowDays: 7
  Random:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: random
      ScheduleExpression: cron(0 7 ? * THU *)
      ScheduleExpressionTimezone: Europe/Paris
      StartWindowHours: 2
      RecoveryPointSelection:
        Algorithm: RANDOM_WITHIN_WINDOW
        IncludeVaults: ["*"]
        ExcludeVaults: ["arn:coffer:backup:*:*:backup-vault:oth*"]
        RecoveryPointTypes: [SNAPSHOT]
        SelectionWindowDays: 3
{}{}
  RestoreTimes:
    Type: AWS::Backup::Framework
    Properties:
      FrameworkName: restore_times
      FrameworkControls:
        - ControlName: RESTORE_TIME_FOR_RESOURCES_MEET_TARGET
          ControlInputParameters:
            - ParameterName: maxRestoreTime
              ParameterValue: "1"
"#,
        selections("Latest"),
        selections("Random"),
    )
}

/// A PostgreSQL database of three accounts (amounts summing to 60),
/// dropped at the end.
struct Database(String);

impl Database {
    fn create() -> Database {
        let name = format!("rtest_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        coffer_testkit::psql(&format!("CREATE DATABASE {name}"));
        coffer_testkit::psql_in(
            &name,
            "CREATE TABLE accounts (id int PRIMARY KEY, amount int); INSERT INTO accounts VALUES (1, 10), (2, 20), (3, 30);",
        );
        Database(name)
    }

    fn arn(&self) -> String {
        format!(
            "arn:coffer:postgres:eu-west-1:{ACCOUNT}:database/local/{}",
            self.0
        )
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        coffer_testkit::drop_database(&self.0);
    }
}

/// A home with `stack` applied over a directory, a SQLite file (both
/// tagged gold) and the database.
fn home_with(stack: &str, db: &Database) -> Home {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let queue = home.path().join("data/queue.db");
    let conn = rusqlite::Connection::open(&queue).unwrap();
    conn.execute_batch(
        "CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO q (body) VALUES ('one');",
    )
    .unwrap();
    drop(conn);
    let inventory = format!(
        r#"
defaults:
  account: "{ACCOUNT}"
  region: eu-west-1
filesystems:
  - name: docs
    path: {}
    tags: {{tier: gold}}
sqlite:
  - name: queue
    path: {}
    tags: {{tier: gold}}
postgres:
  - name: local
    host: 127.0.0.1
    port: 5432
    user: postgres
    databases: [{}]
    exclude_databases: ["template*"]
    database_tags:
      {}:
        tier: gold
"#,
        docs.display(),
        queue.display(),
        db.0,
        db.0
    );
    let stack = home.write("stack.yaml", stack);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "drills", &stack, &inv]));
    home
}

fn database_exists(name: &str) -> bool {
    !coffer_testkit::psql_in(
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    )
    .trim()
    .is_empty()
}

/// Everything a test left is gone: its scratch directory, its database.
fn assert_scratch_removed(job: &RestoreJob) {
    if let Some(dir) = job.restore_metadata.get("ScratchDirectory") {
        assert!(!Path::new(dir).exists(), "{dir} was left: {job:#?}");
    }
    if let Some(db) = job.restore_metadata.get("TargetDatabase") {
        assert!(!database_exists(db), "database {db} was left: {job:#?}");
    }
    assert_eq!(
        job.deletion_status,
        Some(DeletionStatus::Successful),
        "{job:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_month_of_restore_tests_runs_each_fire_time_once_from_included_vaults() {
    let db = Database::create();
    let home = home_with(&month_stack(&db.arn()), &db);
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let (mut daemon, clock, catalog) = daemon_at(&home, start).await;
    let mut now = start;
    let step = SignedDuration::from_hours(1);
    while now < end {
        now = now.checked_add(step).unwrap();
        clock.set(now);
        daemon.settle().await.unwrap();
    }
    // A second scheduler over the same catalog, from a mark a week old,
    // plans the same tests again and records none twice.
    catalog
        .set_planned_through("2026-03-24T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let (mut again, again_clock, _) = crate::daemon::daemon_on(&home, end).await;
    again_clock.set(end);
    again.settle().await.unwrap();

    let jobs: Vec<RestoreJob> = all(&catalog).await;
    let points: Vec<RecoveryPoint> = all(&catalog).await;
    let resources = [DOCS.to_string(), QUEUE.to_string(), db.arn()];
    let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    // Mondays 06:00 UTC and Thursdays 07:00 in Paris, March 2026.
    let mut fires: Vec<(&str, Timestamp)> = Vec::new();
    let mut day = civil::date(2026, 3, 1);
    while day <= civil::date(2026, 3, 31) {
        match day.weekday() {
            civil::Weekday::Monday => fires.push((
                LATEST_ARN,
                jiff::tz::TimeZone::UTC
                    .to_ambiguous_timestamp(day.at(6, 0, 0, 0))
                    .compatible()
                    .unwrap(),
            )),
            civil::Weekday::Thursday => fires.push((
                RANDOM_ARN,
                paris
                    .to_ambiguous_timestamp(day.at(7, 0, 0, 0))
                    .compatible()
                    .unwrap(),
            )),
            _ => {}
        }
        day = day.tomorrow().unwrap();
    }
    assert_eq!(fires.len(), 5 + 4);
    let mut expected = BTreeSet::new();
    for (plan, at) in &fires {
        for (selection, resource) in ["docs", "queue", "database"].iter().zip(&resources) {
            expected.insert(test_job_id(plan, selection, resource, *at));
        }
    }
    let tests: Vec<&RestoreJob> = jobs.iter().filter(|j| j.created_by.is_some()).collect();
    let got: BTreeSet<String> = tests.iter().map(|j| j.restore_job_id.clone()).collect();
    assert_eq!(got.len(), tests.len());
    assert_eq!(
        got, expected,
        "each fire time once, for each selected resource"
    );

    for (plan, at) in &fires {
        for (selection, resource) in ["docs", "queue", "database"].iter().zip(&resources) {
            let id = test_job_id(plan, selection, resource, *at);
            let job = jobs.iter().find(|j| j.restore_job_id == id).unwrap();
            assert_eq!(job.status, RestoreJobStatus::Completed, "{job:#?}");
            assert_eq!(
                job.validation_status,
                Some(ValidationStatus::Successful),
                "{job:#?}"
            );
            assert!(job.restore_duration_millis.is_some_and(|ms| ms > 0));
            assert_scratch_removed(job);
            let point = points
                .iter()
                .find(|p| p.recovery_point_arn == job.recovery_point_arn)
                .unwrap();
            assert_eq!(&point.resource_arn, resource);
            // From the included vaults only, inside the window.
            assert_eq!(point.backup_vault_arn, PRIMARY, "{job:#?}");
            let days = if *plan == LATEST_ARN { 7 } else { 3 };
            let earliest = at
                .checked_sub(SignedDuration::from_hours(24 * days))
                .unwrap();
            assert!(
                point.creation_date >= earliest && point.creation_date <= *at,
                "{} outside the window before {at}",
                point.creation_date
            );
            if *plan == LATEST_ARN {
                let newest = points
                    .iter()
                    .filter(|p| {
                        &p.resource_arn == resource
                            && p.backup_vault_arn == PRIMARY
                            && p.creation_date <= *at
                    })
                    .map(|p| p.creation_date)
                    .max()
                    .unwrap();
                assert_eq!(point.creation_date, newest, "the latest point");
            }
        }
    }
    // The other vault held newer points at every Monday: never tested.
    assert!(points.iter().any(|p| p.backup_vault_arn == OTHER));
    let scratch = home.path().join("tmp/restore-tests");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "scratch left: {left:?}");

    // The restore-time control reads the tests' recorded durations.
    let run = home.run(&["audit", "evaluate", "-o", "json"]);
    ok(&run);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results = doc[0]["Results"].as_array().unwrap();
    for resource in &resources {
        let result = results
            .iter()
            .find(|r| r["ResourceId"] == resource.as_str())
            .unwrap_or_else(|| panic!("no result for {resource}: {doc:#}"));
        let latest = tests
            .iter()
            .filter(|j| {
                points.iter().any(|p| {
                    p.recovery_point_arn == j.recovery_point_arn && &p.resource_arn == resource
                })
            })
            .max_by_key(|j| j.creation_date)
            .unwrap();
        let minutes = latest.restore_duration_millis.unwrap() as f64 / 60_000.0;
        let expected = if minutes <= 1.0 {
            "COMPLIANT"
        } else {
            "NON_COMPLIANT"
        };
        assert_eq!(result["Status"], expected, "{result:#}");
        assert!(
            result["Reason"]
                .as_str()
                .unwrap()
                .contains(&format!("{minutes:.1} minutes")),
            "{result:#}"
        );
    }
}

/// One directory backed up nightly and tested daily at 06:00 with `hook`
/// (a command) and a one-hour validation window.
fn hook_stack(hook: &str) -> String {
    format!(
        r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: nightly
        BackupPlanRule:
          - RuleName: primary
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            StartWindowMinutes: 60
  Gold:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: gold
        IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/backup-service
        Resources: [{DOCS}]
  Daily:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: daily
      ScheduleExpression: cron(0 6 * * ? *)
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: ["*"]
        RecoveryPointTypes: [SNAPSHOT]
  Docs:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Daily
      RestoreTestingSelectionName: docs
      ProtectedResourceType: FileSystem
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: ["*"]
      ValidationWindowHours: 1
      CofferValidationHook:
        Command: {hook}
"#
    )
}

/// Moves the clock an hour at a time to `until`, the daemon settling at
/// each step (so a backup completes before a later test chooses a point).
async fn step_to(
    daemon: &mut coffer_engine::daemon::Daemon,
    clock: &coffer_engine::clock::ManualClock,
    until: &str,
) {
    let until: Timestamp = until.parse().unwrap();
    let mut now = clock.now();
    while now < until {
        now = now
            .checked_add(SignedDuration::from_hours(1))
            .unwrap()
            .min(until);
        clock.set(now);
        daemon.settle().await.unwrap();
    }
}

fn docs_home(stack: &str) -> Home {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"{ACCOUNT}\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
        docs.display()
    );
    let stack = home.write("stack.yaml", stack);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "drills", &stack, &inv]));
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_fails_the_test_with_its_output_and_the_target_is_removed() {
    let home = docs_home(&hook_stack(
        r#"[sh, -c, 'test -f "$COFFER_RESTORED/a.txt" && echo "ledger rows missing in $COFFER_RESTORE_JOB_ID" >&2; exit 3']"#,
    ));
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let (mut daemon, clock, catalog) = daemon_at(&home, start).await;
    step_to(&mut daemon, &clock, "2026-03-01T07:00:00Z").await;
    let jobs: Vec<RestoreJob> = all(&catalog).await;
    let [job] = &jobs[..] else {
        panic!("one test: {jobs:#?}")
    };
    assert_eq!(job.status, RestoreJobStatus::Completed, "{job:#?}");
    assert_eq!(job.validation_status, Some(ValidationStatus::Failed));
    let message = job.validation_status_message.as_deref().unwrap();
    assert!(
        message.contains(&format!("ledger rows missing in {}", job.restore_job_id))
            && message.contains("exited with"),
        "{message}"
    );
    assert_scratch_removed(job);

    // ListRestoreJobs' ByRestoreTestingPlanArn finds the plan's tests.
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let service = coffer_service::Service::open(config.clone(), clock.clone())
        .await
        .unwrap();
    let caller = coffer_service::Caller::new(
        config.principal(),
        coffer_model::AccountId::new(ACCOUNT).unwrap(),
        coffer_model::Region::new("eu-west-1").unwrap(),
    );
    let by_plan = |arn: &str| coffer_service::jobs::RestoreJobFilter {
        restore_testing_plan_arn: Some(arn.to_string()),
        ..Default::default()
    };
    let page = coffer_service::paging::PageRequest::default();
    let daily = "arn:coffer:backup:eu-west-1:210987654321:restore-testing-plan:daily";
    let found = service
        .list_restore_jobs(&caller, &by_plan(daily), &page)
        .await
        .unwrap();
    assert_eq!(found.items, vec![job.clone()]);
    let none = service
        .list_restore_jobs(&caller, &by_plan(LATEST_ARN), &page)
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_hanging_past_the_validation_window_times_out() {
    let marker = tempfile::tempdir().unwrap();
    let started = marker.path().join("hook-started");
    let home = docs_home(&hook_stack(&format!(
        "[sh, -c, 'touch {}; sleep 3600']",
        started.display()
    )));
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let (mut daemon, clock, catalog) = daemon_at(&home, start).await;
    step_to(&mut daemon, &clock, "2026-03-01T05:00:00Z").await;
    let test_time: Timestamp = "2026-03-01T06:00:00Z".parse().unwrap();
    clock.set(test_time);
    // Once the hook runs, the clock moves past its one-hour window.
    let mover = {
        let clock = clock.clone();
        let started = started.clone();
        tokio::spawn(async move {
            while !started.exists() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            clock.set(
                test_time
                    .checked_add(SignedDuration::from_mins(61))
                    .unwrap(),
            );
        })
    };
    daemon.settle().await.unwrap();
    mover.await.unwrap();
    daemon.settle().await.unwrap();
    let jobs: Vec<RestoreJob> = all(&catalog).await;
    let [job] = &jobs[..] else {
        panic!("one test: {jobs:#?}")
    };
    assert_eq!(job.status, RestoreJobStatus::Completed, "{job:#?}");
    assert_eq!(
        job.validation_status,
        Some(ValidationStatus::TimedOut),
        "{job:#?}"
    );
    assert!(job
        .validation_status_message
        .as_deref()
        .unwrap()
        .contains("validation window closed"));
    assert_scratch_removed(job);
}

/// `coffer serve` killed (SIGKILL) at the failpoint after a test restored
/// into its scratch directory: the next start removes the directory and
/// records why on the job.
#[test]
fn a_scratch_target_left_by_a_killed_process_is_removed_at_the_next_start() {
    let stack = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Minutely:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: minutely
      ScheduleExpression: cron(* * * * ? *)
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: ["*"]
        RecoveryPointTypes: [SNAPSHOT]
  Docs:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Minutely
      RestoreTestingSelectionName: docs
      ProtectedResourceType: FileSystem
      IamRoleArn: arn:coffer:iam::210987654321:role/restore
      ProtectedResourceArns: ["*"]
"#;
    let home = docs_home(stack);
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]));
    let (id, scratch) = crate::crash_jobs::killed_after_restore(
        &home,
        &["serve", "--listen", "127.0.0.1:0"],
        "ScratchDirectory",
    );
    assert!(
        Path::new(&scratch).join("restored/a.txt").exists(),
        "the test restored into {scratch}"
    );

    let job = crate::crash_jobs::serve_until_scratch_removed(&home, &id)
        .expect("the next start removed the scratch target");
    assert!(!Path::new(&scratch).exists(), "{scratch} was removed");
    let why = job["DeletionStatusMessage"].as_str().unwrap();
    assert!(
        why.contains("stopped before it removed its scratch target")
            && why.contains(&format!("removed the scratch directory {scratch}")),
        "{why}"
    );
    assert_eq!(job["ValidationStatus"], "FAILED", "{job:#}");
}

/// `coffer restore-testing start` runs a plan's drills now: restored,
/// validated with the hook, the scratch target removed; an unknown plan is
/// named.
#[test]
fn restore_testing_start_runs_a_plans_drills_now() {
    let home = docs_home(&hook_stack(
        r#"[sh, -c, 'test -f "$COFFER_RESTORED/a.txt"']"#,
    ));
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]));
    let jobs = drills_now(&home, "daily");
    let [job] = &jobs[..] else {
        panic!("one test: {jobs:#?}")
    };
    assert_eq!(job.status, RestoreJobStatus::Completed, "{job:#?}");
    assert_eq!(
        job.validation_status,
        Some(ValidationStatus::Successful),
        "{job:#?}"
    );
    assert_eq!(
        job.created_by.as_ref().unwrap().restore_testing_plan_arn,
        "arn:coffer:backup:eu-west-1:210987654321:restore-testing-plan:daily"
    );
    assert_scratch_removed(job);

    let missing = home.run(&["restore-testing", "start", "--plan", "weekly"]);
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(
        missing.stderr.contains("restore testing plan \"weekly\""),
        "{}",
        missing.stderr
    );
}

/// Runs restore testing plan `plan`'s drills now (`coffer restore-testing
/// start`) and returns the tests as they ended.
pub(crate) fn drills_now(home: &Home, plan: &str) -> Vec<RestoreJob> {
    let run = home.run(&["restore-testing", "start", "--plan", plan, "-o", "json"]);
    ok(&run);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}
