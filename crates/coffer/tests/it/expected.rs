//! Scheduled report plans and the expected-backup report over a simulated
//! month (March 2026, manual clock), in process: the scheduler runs every
//! night's backup but is down from 10 to 13 March, one night the source
//! is gone, one job is recorded late, one point's lifecycle is cut short.
//! On 1 April at 09:00 the monthly plans run once each: the jobs report
//! covers exactly March under `year=2026/month=03`, and the expected-backup
//! report shows the outage's three nights as MISSED and nothing else
//! missing, the late job LATE, the failed night FAILED, the short point
//! RETENTION_SHORT, every other night ON_TIME; its PDF opens with the
//! per-account summary. A fire time the scheduler never planned is MISSED
//! too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use coffer_catalog::Catalog;
use coffer_model::{BackupJob, Lifecycle, ReportJob, ReportJobStatus};
use coffer_policy::LoadConfig as _;
use coffer_service::{Caller, Service};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::Home;

const STACK: &str = r#"
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
          - RuleName: nightly
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            StartWindowMinutes: 60
            CompletionWindowMinutes: 120
            Lifecycle:
              DeleteAfterDays: 35
  Docs:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: docs
        IamRoleArn: arn:coffer:iam::210987654321:role/backup
        Resources: ['arn:coffer:fs:eu-west-1:210987654321:filesystem/docs']
  MonthlyJobs:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: monthly_jobs
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [CSV, JSON]
      ReportSetting:
        ReportTemplate: BACKUP_JOB_REPORT
      ReportSchedule:
        ScheduleExpression: cron(0 9 1 * ? *)
  MonthlyExpected:
    Type: AWS::Backup::ReportPlan
    Properties:
      ReportPlanName: monthly_expected
      ReportDeliveryChannel:
        S3BucketName: audit
        Formats: [CSV, JSON, PDF]
      ReportSetting:
        ReportTemplate: BACKUP_EXPECTATION_REPORT
        Accounts: ['*']
        Regions: ['*']
      ReportSchedule:
        ScheduleExpression: cron(0 9 1 * ? *)
        ScheduleExpressionTimezone: UTC
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn home() -> Home {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n",
        docs.display()
    );
    let stack = home.write("stack.yaml", STACK);
    let inv = home.write("inventory.yaml", &inventory);
    crate::ok(&home.run(&["apply", "--stack", "month", &stack, &inv]));
    home
}

/// The report jobs of `plan`, oldest first.
fn report_jobs(jobs: &[ReportJob], plan: &str) -> Vec<ReportJob> {
    let mut found: Vec<ReportJob> = jobs
        .iter()
        .filter(|j| j.report_plan_name == plan)
        .cloned()
        .collect();
    found.sort_by_key(|j| j.creation_time);
    found
}

fn file_with(dir: &Path, ext: &str) -> PathBuf {
    crate::report::file_with(dir, ext)
}

fn items(dir: &Path) -> Vec<Value> {
    let json: Value =
        serde_json::from_slice(&std::fs::read(file_with(dir, "json")).unwrap()).unwrap();
    json["reportItems"].as_array().unwrap().clone()
}

/// The row of the night of `day` March.
fn night<'r>(rows: &'r [Value], day: &str) -> &'r Value {
    rows.iter()
        .find(|r| r["expectedTime"] == format!("2026-03-{day}T03:00:00.000Z"))
        .unwrap_or_else(|| panic!("no row for {day} March"))
}

/// The text of the PDF by Debian's `pdftotext` (poppler-utils), page by page.
fn pdf_pages(path: &Path) -> Vec<String> {
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils) reads the PDF in this test");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The job of 15 March recorded as started 20 minutes after its start
/// window ended (through the catalog, with its ledger entry, as a job run
/// late by hand would be), and the point of 28 March given a 7-day
/// lifecycle where its rule declares 35 (UpdateRecoveryPointLifecycle).
async fn late_and_short(catalog: &Catalog, service: &Service, caller: &Caller, now: Timestamp) {
    let backups: Vec<BackupJob> = catalog
        .list::<BackupJob>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    let late_job = backups
        .iter()
        .find(|j| j.start_by == Some(at("2026-03-15T04:00:00Z")))
        .unwrap();
    let stored = catalog
        .get::<BackupJob>(&late_job.backup_job_id)
        .await
        .unwrap()
        .unwrap();
    let mut late = stored.record;
    late.started_at = Some(at("2026-03-15T04:20:00Z"));
    late.completion_date = Some(at("2026-03-15T04:30:00Z"));
    catalog.update(&late, stored.version, now).await.unwrap();
    let short = backups
        .iter()
        .find(|j| j.start_by == Some(at("2026-03-28T04:00:00Z")))
        .unwrap();
    service
        .update_recovery_point_lifecycle(
            caller,
            short.recovery_point_arn.as_deref().unwrap(),
            Lifecycle {
                delete_after_days: Some(7),
                ..Lifecycle::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_expected_backups_shows_an_outage_as_missed_and_nothing_else() {
    let home = home();
    let start = at("2026-03-01T00:00:00Z");
    // The policy existed since New Year; the scheduler and the report
    // plans have run up to the start.
    let (mut daemon, clock, catalog) = crate::daemon::daemon_at(&home, start).await;
    for plan in ["monthly_jobs", "monthly_expected"] {
        catalog
            .set_reported_through("210987654321", "eu-west-1", plan, start)
            .await
            .unwrap();
    }
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let service = Service::open(config.clone(), clock.clone()).await.unwrap();
    let principal = config.principal().to_string();
    let caller = Caller::new(
        principal.clone(),
        coffer_model::AccountId::new("210987654321").unwrap(),
        coffer_model::Region::new("eu-west-1").unwrap(),
    );

    let docs = home.path().join("data/docs");
    let gone = home.path().join("data/docs-gone");
    let (outage_from, outage_to) = (at("2026-03-10T00:00:00Z"), at("2026-03-13T00:00:00Z"));
    let end = at("2026-04-01T09:30:00Z");
    let mut now = start;
    let mut delivered = 0;
    while now < end {
        now = now.checked_add(SignedDuration::from_mins(30)).unwrap();
        if now > outage_from && now < outage_to {
            // No scheduler ran.
            continue;
        }
        // On the night of 5 March the source is gone for the whole start
        // window.
        if now == at("2026-03-05T02:30:00Z") {
            std::fs::rename(&docs, &gone).unwrap();
        }
        if now == at("2026-03-05T05:00:00Z") {
            std::fs::rename(&gone, &docs).unwrap();
        }
        clock.set(now);
        daemon.settle().await.unwrap();
        if now == at("2026-03-31T12:00:00Z") {
            late_and_short(&catalog, &service, &caller, now).await;
        }
        delivered += service.run_due_reports(&principal).await.unwrap();
    }
    // Each monthly plan ran once a month: on 1 March at 09:00 (over
    // February) and on 1 April at 09:00 (over March).
    assert_eq!(delivered, 4);
    let jobs: Vec<ReportJob> = service.list_report_jobs(&caller, None).await.unwrap();
    for plan in ["monthly_jobs", "monthly_expected"] {
        let runs = report_jobs(&jobs, plan);
        let times: Vec<Timestamp> = runs.iter().map(|j| j.creation_time).collect();
        assert_eq!(
            times,
            [at("2026-03-01T09:00:00Z"), at("2026-04-01T09:00:00Z")],
            "{plan}: {runs:#?}"
        );
        assert!(runs.iter().all(|j| j.status == ReportJobStatus::Completed));
    }
    // Each fire time once, across restarts: a process that stopped before
    // its mark moved runs nothing twice.
    assert_eq!(service.run_due_reports(&principal).await.unwrap(), 0);
    for plan in ["monthly_jobs", "monthly_expected"] {
        let db =
            rusqlite::Connection::open(config.catalog_url().strip_prefix("sqlite://").unwrap())
                .unwrap();
        db.execute(
            "UPDATE schedule_marks SET at = ?1 WHERE kind = 'report' AND mark LIKE ?2",
            ["2026-04-01T08:00:00.000Z", &format!("% {plan}")],
        )
        .unwrap();
    }
    assert_eq!(service.run_due_reports(&principal).await.unwrap(), 0);
    let again: Vec<ReportJob> = service.list_report_jobs(&caller, None).await.unwrap();
    assert_eq!(again.len(), jobs.len());

    // The jobs report covers exactly March, under year=2026/month=03.
    let backups: Vec<BackupJob> = catalog
        .list::<BackupJob>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect();
    let jobs_run = &report_jobs(&jobs, "monthly_jobs")[1];
    let dir = PathBuf::from(jobs_run.report_destination.clone().unwrap());
    assert!(
        dir.to_string_lossy()
            .contains("/BACKUP_JOB_REPORT/year=2026/month=03/"),
        "{}",
        dir.display()
    );
    let rows = items(&dir);
    let march: Vec<&str> = backups
        .iter()
        .filter(|j| {
            j.completion_date
                .is_some_and(|t| t >= start && t < at("2026-04-01T00:00:00Z"))
        })
        .map(|j| j.backup_job_id.as_str())
        .collect();
    let mut reported: Vec<&str> = rows
        .iter()
        .map(|r| r["backupJobId"].as_str().unwrap())
        .collect();
    reported.sort_unstable();
    let mut march_sorted = march.clone();
    march_sorted.sort_unstable();
    assert_eq!(reported, march_sorted);
    assert_eq!(march.len(), 31, "one job a night");
    assert!(
        backups.iter().any(|j| j
            .completion_date
            .is_some_and(|t| t >= at("2026-04-01T00:00:00Z"))),
        "1 April's job ran, and is not in March's report"
    );
    for row in &rows {
        assert_eq!(row["reportTimePeriodStart"], "2026-03-01T00:00:00.000Z");
        assert_eq!(row["reportTimePeriodEnd"], "2026-04-01T00:00:00.000Z");
    }

    let run = &report_jobs(&jobs, "monthly_expected")[1];
    let dir = PathBuf::from(run.report_destination.clone().unwrap());
    assert!(
        dir.to_string_lossy()
            .contains("/BACKUP_EXPECTATION_REPORT/year=2026/month=03/"),
        "{}",
        dir.display()
    );
    let rows = items(&dir);
    {
        let mut verdicts: BTreeMap<String, String> = BTreeMap::new();
        for row in &rows {
            assert_eq!(row["resourceArn"], DOCS);
            let expected = row["expectedTime"].as_str().unwrap().to_string();
            assert!(
                verdicts
                    .insert(expected.clone(), row["verdict"].as_str().unwrap().into())
                    .is_none(),
                "{expected} twice"
            );
        }
        assert_eq!(verdicts.len(), 31, "{verdicts:#?}");
        let missed: Vec<&String> = verdicts
            .iter()
            .filter(|(_, v)| *v == "MISSED")
            .map(|(t, _)| t)
            .collect();
        assert_eq!(
            missed,
            [
                "2026-03-10T03:00:00.000Z",
                "2026-03-11T03:00:00.000Z",
                "2026-03-12T03:00:00.000Z"
            ],
            "{verdicts:#?}"
        );
        assert_eq!(verdicts["2026-03-05T03:00:00.000Z"], "FAILED");
    }
    let verdict = |day: &str| night(&rows, day)["verdict"].as_str().unwrap().to_string();
    assert_eq!(verdict("15"), "LATE");
    assert_eq!(verdict("28"), "RETENTION_SHORT");
    let short_row = night(&rows, "28");
    assert_eq!(short_row["declaredDeleteAfterDays"], "35");
    assert_eq!(short_row["recordedDeleteAfterDays"], "7");
    let late_row = night(&rows, "15");
    assert_eq!(late_row["startedInStartWindow"], "false");
    assert_eq!(late_row["completedInCompletionWindow"], "true");
    assert_eq!(
        night(&rows, "11")["reason"],
        "no job ran: the job EXPIRED before it started"
    );
    let on_time = rows.iter().filter(|r| r["verdict"] == "ON_TIME").count();
    assert_eq!(on_time, 31 - 3 - 1 - 1 - 1);
    let missed_row = night(&rows, "11");
    assert_eq!(missed_row["jobStatus"], "EXPIRED");

    // A fire time with no job at all: the next day, no scheduler has run
    // since 1 April 09:30, and a report over the last 24 hours shows 2
    // April's fire time MISSED, saying no job was created.
    clock.set(at("2026-04-02T09:30:00Z"));
    let ad_hoc = service
        .start_report_job(&caller, "monthly_expected", 24)
        .await
        .unwrap();
    let unplanned = items(Path::new(&ad_hoc.destination));
    assert_eq!(unplanned.len(), 1, "{unplanned:#?}");
    assert_eq!(unplanned[0]["expectedTime"], "2026-04-02T03:00:00.000Z");
    assert_eq!(unplanned[0]["verdict"], "MISSED");
    assert_eq!(unplanned[0]["backupJobId"], "");
    assert_eq!(
        unplanned[0]["reason"],
        "no job ran: no backup job was created for this fire time"
    );

    // The PDF opens with the summary: per account, with the chart's legend.
    let pages = pdf_pages(&file_with(&dir, "pdf"));
    let first_page = &pages[0];
    for part in [
        "Expected backup report",
        "Summary",
        "210987654321",
        "On time",
        "Missed",
        "Retention short",
        "RETENTION_SHORT",
    ] {
        assert!(first_page.contains(part), "{part} in {first_page}");
    }
    let text = pages
        .concat()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("not as declared (late 1, failed 1, missed 3, retention short 1)"),
        "{text}"
    );
    // The rows not as declared, each with why.
    assert!(
        text.contains("LATE (job") && text.contains("started at 2026-03-15T04:20:00Z, after its start window ended at 2026-03-15T04:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("the recovery point is kept 7 day(s); the rule declares 35"),
        "{text}"
    );
    // Signed like the others.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["reportTemplate"], "BACKUP_EXPECTATION_REPORT");
    let public = home.run(&["keys", "public"]);
    let fingerprint = public
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint"))
        .unwrap()
        .trim()
        .to_string();
    crate::ok(&home.run(&[
        "verify",
        &dir.display().to_string(),
        "--fingerprint",
        &fingerprint,
    ]));
}
