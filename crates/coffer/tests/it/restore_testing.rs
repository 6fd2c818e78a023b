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

use crate::daemon::{all, daemon_at, daemon_at_with, Webhook};
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
    let queue = crate::daemon::queue_database(&home);
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
    // One test at a time, so the slow restore below is the only one that
    // spans the clock's jump.
    let (mut daemon, clock, catalog) = daemon_at_with(
        &home,
        start,
        |options| options.workers = 1,
        coffer_engine::notify::Notifier::new(&[]),
    )
    .await;
    // The database's last test (Monday 30 March, 06:00) restores slowly:
    // two minutes pass on the month's clock while it restores, longer than
    // the framework's one-minute target.
    let last_monday: Timestamp = "2026-03-30T06:00:00Z".parse().unwrap();
    let slow = test_job_id(LATEST_ARN, "database", &db.arn(), last_monday);
    fail::cfg_callback(
        coffer_engine::failpoints::RESTORE_TEST_RESTORING,
        slow_restore(&clock, &slow, SignedDuration::from_mins(2)),
    )
    .unwrap();
    let mut now = start;
    let step = SignedDuration::from_hours(1);
    while now < end {
        now = now.checked_add(step).unwrap();
        clock.set(now);
        daemon.settle().await.unwrap();
    }
    fail::remove(coffer_engine::failpoints::RESTORE_TEST_RESTORING);
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
            let millis = job.restore_duration_millis.unwrap();
            if id == slow {
                assert!(millis >= 120_000, "{job:#?}");
            } else {
                assert!(millis > 0 && millis < 60_000, "{job:#?}");
            }
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
        // The database's last test took two minutes; the others, moments.
        let expected = if resource == &db.arn() {
            assert_eq!(latest.restore_job_id, slow);
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
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

/// A callback for the failpoint a restore test reaches while restoring:
/// on the thread of the test `job_id` only (each test runs on a thread
/// named after it), `clock` moves `by`, as if that restore took so long.
fn slow_restore(
    clock: &std::sync::Arc<coffer_engine::clock::ManualClock>,
    job_id: &str,
    by: SignedDuration,
) -> impl Fn() + Send + Sync + 'static {
    let clock = std::sync::Arc::clone(clock);
    let thread = format!("restore test {job_id}");
    move || {
        if std::thread::current().name() == Some(thread.as_str()) {
            clock.advance(by);
        }
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
    // Notification targets get failed tests by default.
    let webhook = Webhook::start().await;
    let notifier = coffer_engine::notify::Notifier::new(&[coffer_policy::NotificationTarget {
        url: webhook.url.clone(),
        events: coffer_policy::DEFAULT_NOTIFICATION_EVENTS
            .iter()
            .map(|e| e.to_string())
            .collect(),
        sns_topic: None,
    }]);
    let (mut daemon, clock, catalog) = daemon_at_with(&home, start, |_| {}, notifier).await;
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
    let mut events = webhook.events();
    for _ in 0..100 {
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        events = webhook.events();
    }
    let [event] = &events[..] else {
        panic!("one notification: {events:#?}")
    };
    assert_eq!(event["EventType"], "RESTORE_TEST_FAILED", "{event:#}");
    assert_eq!(event["JobId"], job.restore_job_id.as_str(), "{event:#}");
    assert_eq!(event["ResourceArn"], DOCS, "{event:#}");
    assert_eq!(event["State"], "FAILED", "{event:#}");
    assert!(
        event["Message"]
            .as_str()
            .unwrap()
            .contains("ledger rows missing"),
        "{event:#}"
    );

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

/// A plan testing the directory every minute, with no hook.
const MINUTELY: &str = r#"
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

/// `coffer serve` killed (SIGKILL) at the failpoint after a test restored
/// into its scratch directory: the next start removes the directory and
/// records why on the job.
#[test]
fn a_scratch_target_left_by_a_killed_process_is_removed_at_the_next_start() {
    let home = docs_home(MINUTELY);
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

    // `restore-testing list` shows the tests with their results.
    let listed = home.run(&["restore-testing", "list", "--plan", "daily", "-o", "json"]);
    ok(&listed);
    let tests: Vec<RestoreJob> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(tests, vec![job.clone()]);
    let table = home.run(&["restore-testing", "list"]);
    ok(&table);
    assert!(
        table.stdout.contains(&job.restore_job_id)
            && table.stdout.contains("daily")
            && table.stdout.contains("SUCCESSFUL"),
        "{}",
        table.stdout
    );
    let unknown = home.run(&["restore-testing", "list", "--plan", "weekly"]);
    assert_eq!(unknown.code, 1, "{}{}", unknown.stdout, unknown.stderr);
    assert!(unknown.stderr.contains("weekly"), "{}", unknown.stderr);
}

/// A test chooses its point when it starts, as AWS does: a point that
/// completed while the test waited (after it was planned) is the newest
/// one, and the one restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_chooses_its_point_when_it_starts_not_when_it_was_planned() {
    let home = docs_home(MINUTELY);
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]));
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let now = Timestamp::now();
    let catalog = coffer_catalog::Catalog::open(config.catalog_url(), now)
        .await
        .unwrap();
    let env = coffer_engine::env::Env::new(
        catalog.clone(),
        config,
        std::sync::Arc::new(coffer_engine::clock::SystemClock),
    );
    let resources = env.discover().await.unwrap();
    let minute = SignedDuration::from_mins(1);
    let planned = coffer_engine::restore_testing::planned_tests(
        &env,
        &resources,
        now.checked_sub(minute).unwrap(),
        now.checked_add(minute).unwrap(),
        now,
    )
    .await
    .unwrap();
    let first: Vec<RecoveryPoint> = all(&catalog).await;
    let [planned_point] = &first[..] else {
        panic!("one point: {first:#?}")
    };
    // The next minute's test, planned with the only point there is.
    let test = planned.last().unwrap().clone();
    assert_eq!(test.recovery_point_arn, planned_point.recovery_point_arn);
    catalog
        .insert_new(std::slice::from_ref(&test), now)
        .await
        .unwrap();

    // A newer point completes while it waits.
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]));
    let points: Vec<RecoveryPoint> = all(&catalog).await;
    let newest = points
        .iter()
        .max_by_key(|p| p.creation_date)
        .unwrap()
        .recovery_point_arn
        .clone();
    assert_ne!(newest, planned_point.recovery_point_arn);

    let ended = coffer_engine::restore_testing::run_test(&env, &test.restore_job_id)
        .await
        .unwrap();
    assert_eq!(ended.recovery_point_arn, newest, "{ended:#?}");
    assert!(
        ended
            .status_message
            .as_deref()
            .unwrap()
            .contains(&format!("chosen when it started: {newest}")),
        "{ended:#?}"
    );
    assert_eq!(ended.status, RestoreJobStatus::Completed, "{ended:#?}");
    assert_eq!(
        ended.validation_status,
        Some(ValidationStatus::Successful),
        "{ended:#?}"
    );
    assert_scratch_removed(&ended);
}

/// Runs restore testing plan `plan`'s drills now (`coffer restore-testing
/// start`) and returns the tests as they ended.
pub(crate) fn drills_now(home: &Home, plan: &str) -> Vec<RestoreJob> {
    let run = home.run(&["restore-testing", "start", "--plan", plan, "-o", "json"]);
    ok(&run);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// A selection whose `RestoreMetadataOverrides` are refused (one applied
/// before overrides were checked; here written into the catalog as such a
/// version left it) still has its test recorded: it fails at once, naming
/// the key, restores nothing, and leaves nothing to clean up.
#[test]
fn a_selection_with_refused_overrides_has_its_test_fail_saying_why() {
    let home = docs_home(MINUTELY);
    ok(&home.run(&["backup", "start", "--resource", DOCS, "--vault", "primary"]));
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    let changed = conn
        .execute(
            "UPDATE objects SET doc = json_set(doc, '$.RestoreMetadataOverrides', json('{\"TargetDirectory\": \"/srv/www\"}')) WHERE kind = 'restore-testing-selection'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let run = home.run(&[
        "restore-testing",
        "start",
        "--plan",
        "minutely",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let jobs: Vec<RestoreJob> = serde_json::from_str(&run.stdout).unwrap();
    let [job] = &jobs[..] else {
        panic!("one test: {}", run.stdout)
    };
    assert_eq!(job.status, RestoreJobStatus::Failed, "{job:#?}");
    let message = job.status_message.as_deref().unwrap();
    assert!(
        message.contains("RestoreMetadataOverrides are refused")
            && message.contains("TargetDirectory")
            && message.contains("deletes its target"),
        "{message}"
    );
    assert_eq!(job.deletion_status, Some(DeletionStatus::Successful));
    assert!(job.created_resource_arn.is_none(), "{job:#?}");
    assert!(
        !home.path().join("tmp/restore-tests").exists()
            || std::fs::read_dir(home.path().join("tmp/restore-tests"))
                .unwrap()
                .next()
                .is_none()
    );
}
