//! The scheduler daemon end to end, in process on a manual clock: a month
//! of schedules with time zones, overlapping rules, copy actions,
//! lifecycles and vault checks, compared job by job with an independent
//! computation; and a hanging database stopped by its completion window
//! while other jobs go on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use coffer_catalog::Catalog;
use coffer_engine::clock::ManualClock;
use coffer_engine::daemon::{Daemon, DaemonOptions};
use coffer_engine::env::Env;
use coffer_engine::notify::Notifier;
use coffer_model::{
    BackupJob, BackupJobState, CopyJob, CopyJobState, RecoveryPoint, RecoveryPointStatus,
    VaultCheck,
};
use coffer_policy::LoadConfig as _;
use jiff::{civil, tz::TimeZone, SignedDuration, Timestamp};

use crate::Home;

const MONTH_STACK: &str = r#"
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
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: month
        BackupPlanRule:
          - RuleName: nightly-berlin
            TargetBackupVault: primary
            ScheduleExpression: cron(0 3 * * ? *)
            ScheduleExpressionTimezone: Europe/Berlin
            StartWindowMinutes: 60
            CompletionWindowMinutes: 180
            Lifecycle:
              DeleteAfterDays: 7
            CopyActions:
              - DestinationBackupVaultArn: arn:coffer:backup:eu-west-1:210987654321:backup-vault:second
                Lifecycle:
                  DeleteAfterDays: 14
          - RuleName: weekly-newyork
            TargetBackupVault: primary
            ScheduleExpression: cron(0 22 ? * SUN *)
            ScheduleExpressionTimezone: America/New_York
            StartWindowMinutes: 60
            CompletionWindowMinutes: 180
            Lifecycle:
              MoveToColdStorageAfterDays: 7
              DeleteAfterDays: 97
  Gold:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: gold
        IamRoleArn: arn:coffer:iam::210987654321:role/backup-service
        ListOfTags:
          - ConditionType: STRINGEQUALS
            ConditionKey: tier
            ConditionValue: gold
"#;

const DOCS: &str = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
const QUEUE: &str = "arn:coffer:sqlite:eu-west-1:210987654321:database/queue";

fn ok(run: &crate::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// A home with the month's policy applied: two gold resources and an
/// untagged one.
fn month_home() -> Home {
    let home = Home::new();
    // The vaults' cold tier is another folder.
    std::fs::write(
        home.path().join("config.toml"),
        "[vaults]\ncold_url = \"file://{home}/cold/{name}\"\n",
    )
    .unwrap();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let scratch = home.path().join("data/scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("junk.txt"), "junk").unwrap();
    let queue = queue_database(&home);
    let inventory = format!(
        r#"
defaults:
  account: "210987654321"
  region: eu-west-1
filesystems:
  - name: docs
    path: {}
    tags: {{tier: gold}}
  - name: scratch
    path: {}
sqlite:
  - name: queue
    path: {}
    tags: {{tier: gold}}
"#,
        docs.display(),
        scratch.display(),
        queue.display()
    );
    let stack = home.write("stack.yaml", MONTH_STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "month", &stack, &inv]));
    home
}

/// `apply` ran on the real clock, but the tests simulate earlier times: the
/// home's policy is made to have existed since New Year 2026 (objects and
/// their history, declared resources, rules), and a scheduler to have
/// planned up to `start`, so the simulation begins with nothing missed.
async fn simulated_from(home: &Home, catalog: &Catalog, start: Timestamp) {
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let path = config
        .catalog_url()
        .strip_prefix("sqlite://")
        .unwrap()
        .to_string();
    let db = rusqlite::Connection::open(path).unwrap();
    let since = "2026-01-01T00:00:00.000Z";
    db.execute("UPDATE objects SET created_at = ?1", [since])
        .unwrap();
    db.execute("UPDATE object_versions SET time = ?1", [since])
        .unwrap();
    db.execute("UPDATE resources SET created_at = ?1", [since])
        .unwrap();
    db.execute("UPDATE schedule_marks SET at = ?1", [since])
        .unwrap();
    catalog.set_planned_through(start).await.unwrap();
}

/// The SQLite file `data/queue.db` of `home`: a table `q` of one row,
/// `(1, 'one')`.
pub(crate) fn queue_database(home: &Home) -> std::path::PathBuf {
    let queue = home.path().join("data/queue.db");
    let conn = rusqlite::Connection::open(&queue).unwrap();
    conn.execute_batch(
        "CREATE TABLE q (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO q (body) VALUES ('one');",
    )
    .unwrap();
    queue
}

pub(crate) async fn daemon_at(
    home: &Home,
    start: Timestamp,
) -> (Daemon, Arc<ManualClock>, Catalog) {
    daemon_at_with(home, start, |_| {}, Notifier::new(&[])).await
}

/// [`daemon_at`] with its options changed by `configure`, notifying
/// `notifier`.
pub(crate) async fn daemon_at_with(
    home: &Home,
    start: Timestamp,
    configure: impl FnOnce(&mut DaemonOptions),
    notifier: Notifier,
) -> (Daemon, Arc<ManualClock>, Catalog) {
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let catalog = Catalog::open(config.catalog_url(), start).await.unwrap();
    simulated_from(home, &catalog, start).await;
    daemon_with(home, start, configure, notifier).await
}

/// A daemon over the home's catalog as it stands, on a manual clock at
/// `start` (a second scheduler, or a restarted one).
pub(crate) async fn daemon_on(
    home: &Home,
    start: Timestamp,
) -> (Daemon, Arc<ManualClock>, Catalog) {
    daemon_with(home, start, |_| {}, Notifier::new(&[])).await
}

async fn daemon_with(
    home: &Home,
    start: Timestamp,
    configure: impl FnOnce(&mut DaemonOptions),
    notifier: Notifier,
) -> (Daemon, Arc<ManualClock>, Catalog) {
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let catalog = Catalog::open(config.catalog_url(), start).await.unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let env = Env::new(catalog.clone(), config, clock.clone());
    let mut options = DaemonOptions::from_settings(&coffer_policy::ServeSettings::default());
    options.lookback = SignedDuration::ZERO;
    options.retry_backoff = SignedDuration::from_mins(5);
    configure(&mut options);
    (Daemon::new(env, options, notifier), clock, catalog)
}

/// The month's expected jobs, computed without the engine: each rule's
/// wall-clock time converted with jiff in its zone, then AWS's merge of
/// one plan's overlapping rules (longer retention wins; equal retention:
/// earlier time, then rule name).
fn expected_jobs(from: Timestamp, to: Timestamp) -> BTreeSet<(String, String, Timestamp)> {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let new_york = TimeZone::get("America/New_York").unwrap();
    let mut candidates: Vec<(&str, Timestamp, u32)> = Vec::new();
    let mut day = civil::date(2026, 2, 27);
    while day <= civil::date(2026, 4, 2) {
        let nightly = berlin
            .to_ambiguous_timestamp(day.at(3, 0, 0, 0))
            .compatible()
            .unwrap();
        candidates.push(("nightly-berlin", nightly, 7));
        if day.weekday() == jiff::civil::Weekday::Sunday {
            let weekly = new_york
                .to_ambiguous_timestamp(day.at(22, 0, 0, 0))
                .compatible()
                .unwrap();
            candidates.push(("weekly-newyork", weekly, 35));
        }
        day = day.tomorrow().unwrap();
    }
    let hour = SignedDuration::from_hours(1);
    let mut out = BTreeSet::new();
    for resource in [DOCS, QUEUE] {
        for (rule, at, days) in &candidates {
            if !(*at > from && *at <= to) {
                continue;
            }
            let beaten = candidates.iter().any(|(r2, at2, days2)| {
                let overlap =
                    *at < at2.checked_add(hour).unwrap() && *at2 < at.checked_add(hour).unwrap();
                (r2, at2) != (rule, at)
                    && overlap
                    && (days2 > days || (days2 == days && (at2, r2) < (at, rule)))
            });
            if !beaten {
                out.insert((rule.to_string(), resource.to_string(), *at));
            }
        }
    }
    out
}

pub(crate) async fn all<R: coffer_catalog::Record>(catalog: &Catalog) -> Vec<R> {
    catalog
        .list::<R>(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.record)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_month_runs_every_job_copy_expiry_and_check() {
    let home = month_home();
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let (mut daemon, clock, catalog) = daemon_at(&home, start).await;
    let step = SignedDuration::from_mins(30);
    let mut now = start;
    let mut last_sweeps = Vec::new();
    while now < end {
        now = now.checked_add(step).unwrap();
        clock.set(now);
        daemon.settle().await.unwrap();
        last_sweeps.push(now);
    }

    // Every job the month asks for ran, once, and nothing else ran.
    let jobs: Vec<BackupJob> = all(&catalog).await;
    let expected = expected_jobs(start, end);
    let window = SignedDuration::from_mins(60);
    let got: BTreeSet<(String, String, Timestamp)> = jobs
        .iter()
        .map(|j| {
            (
                j.backup_rule_name.clone().unwrap(),
                j.resource_arn.clone(),
                j.start_by.unwrap().checked_sub(window).unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), jobs.len(), "a fire time ran twice");
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    // 31 nights and 5 Sundays for two resources; 3 Sundays fall on a
    // night (New York's summer time began on 8 March, Berlin's on 29
    // March) and merge into the weekly rule's job.
    assert_eq!(expected.len(), 2 * (31 + 5 - 3), "{expected:#?}");
    for job in &jobs {
        assert_eq!(
            job.state,
            BackupJobState::Completed,
            "{job:#?} should have completed"
        );
        let started = job.started_at.unwrap();
        assert!(started < job.start_by.unwrap(), "started in its window");
    }
    assert!(
        !jobs.iter().any(|j| j.resource_arn.contains("scratch")),
        "the untagged resource is not selected"
    );

    // Each nightly point got its copy in the second vault, with the copy
    // action's own lifecycle.
    let points: Vec<RecoveryPoint> = all(&catalog).await;
    let copies: Vec<CopyJob> = all(&catalog).await;
    let nightly: Vec<&BackupJob> = jobs
        .iter()
        .filter(|j| j.backup_rule_name.as_deref() == Some("nightly-berlin"))
        .collect();
    let unfinished: Vec<(&str, &str)> = copies
        .iter()
        .filter(|c| c.state != coffer_model::CopyJobState::Completed)
        .map(|c| {
            (
                c.copy_job_id.as_str(),
                c.status_message.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        copies.len(),
        nightly.len(),
        "one copy per nightly job; not completed: {unfinished:#?}"
    );
    for job in &nightly {
        let source = job.recovery_point_arn.as_deref().unwrap();
        let copy = copies
            .iter()
            .find(|c| c.source_recovery_point_arn == source)
            .unwrap_or_else(|| panic!("no copy of {source}"));
        assert_eq!(copy.state, CopyJobState::Completed, "{copy:#?}");
        assert!(copy.destination_backup_vault_arn.ends_with(":second"));
        let dest = points
            .iter()
            .find(|p| Some(&p.recovery_point_arn) == copy.destination_recovery_point_arn.as_ref())
            .unwrap();
        assert_eq!(dest.lifecycle.delete_after_days, Some(14));
        assert_eq!(dest.source_recovery_point_arn.as_deref(), Some(source));
    }

    // The sweeper expired what was due (it runs hourly) and nothing early.
    let last_tick = *last_sweeps.last().unwrap();
    for point in &points {
        let delete_at = point.calculated_lifecycle.delete_at.unwrap();
        if delete_at
            <= last_tick
                .checked_sub(SignedDuration::from_hours(1))
                .unwrap()
        {
            assert_eq!(point.status, RecoveryPointStatus::Deleted, "{point:#?}");
        } else if delete_at > last_tick {
            assert_eq!(point.status, RecoveryPointStatus::Completed, "{point:#?}");
        }
    }
    // Weekly points outlive the month; after 7 days they live in the cold
    // tier's own repository.
    let weekly: Vec<&RecoveryPoint> = points
        .iter()
        .filter(|p| p.created_by_backup_rule_name.as_deref() == Some("weekly-newyork"))
        .collect();
    assert!(!weekly.is_empty());
    for point in &weekly {
        assert_eq!(point.status, RecoveryPointStatus::Completed);
        let cold_at = point.calculated_lifecycle.move_to_cold_storage_at.unwrap();
        let cold = point.storage_location.is_some();
        if cold_at
            <= last_tick
                .checked_sub(SignedDuration::from_hours(1))
                .unwrap()
        {
            assert!(cold, "{point:#?}");
            assert_eq!(point.storage_class, coffer_model::StorageClass::Cold);
        } else if cold_at > last_tick {
            assert!(!cold, "{point:#?}");
        }
    }

    // The vaults agree with the catalog and pass restic's own check.
    for vault in ["primary", "second"] {
        let export = home.run(&["vault", "export-key", vault, "--yes", "-o", "json"]);
        ok(&export);
        let key: serde_json::Value = serde_json::from_str(&export.stdout).unwrap();
        let (repo, password) = (
            key["repository"].as_str().unwrap(),
            key["password"].as_str().unwrap(),
        );
        coffer_testkit::restic_ok(repo, password, &["check"]);
        let listed = coffer_testkit::restic_snapshot_ids(repo, password);
        let live = |cold: bool| -> BTreeSet<String> {
            points
                .iter()
                .filter(|p| {
                    p.backup_vault_name == vault
                        && p.status == RecoveryPointStatus::Completed
                        && p.storage_location.is_some() == cold
                })
                .map(|p| p.snapshot_id.clone().unwrap())
                .collect()
        };
        let extra: Vec<String> = listed
            .difference(&live(false))
            .map(|id| {
                let holder = points
                    .iter()
                    .find(|p| p.snapshot_id.as_deref() == Some(id.as_str()));
                format!(
                    "{id}: {:?}",
                    holder.map(|p| (&p.recovery_point_id, p.status, &p.storage_location))
                )
            })
            .collect();
        assert_eq!(
            listed,
            live(false),
            "vault {vault}: snapshots are exactly the live warm points; extra: {extra:#?}"
        );
        let cold_repo = format!("{}/cold/{vault}", home.path().display());
        if std::path::Path::new(&cold_repo).exists() {
            coffer_testkit::restic_ok(&cold_repo, password, &["check"]);
            let listed = coffer_testkit::restic_snapshot_ids(&cold_repo, password);
            assert_eq!(listed, live(true), "vault {vault}: its cold tier");
        } else {
            assert!(live(true).is_empty());
        }
    }

    // A point in the cold tier restores like any other.
    let cold_docs = weekly
        .iter()
        .find(|p| p.storage_location.is_some() && p.resource_arn == DOCS)
        .unwrap();
    let target = home.path().join("restored-cold");
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &cold_docs.recovery_point_id,
        "--target-dir",
        &target.display().to_string(),
    ]));
    assert_eq!(
        coffer_testkit::tree_contents(&target),
        coffer_testkit::tree_contents(&home.path().join("data/docs"))
    );

    // Each vault was checked daily, reading a rotating tenth of its data.
    let checks: Vec<VaultCheck> = all(&catalog).await;
    let mut by_vault: BTreeMap<String, Vec<&VaultCheck>> = BTreeMap::new();
    for check in &checks {
        by_vault
            .entry(check.backup_vault_name.clone())
            .or_default()
            .push(check);
    }
    for (vault, checks) in &by_vault {
        assert!(checks.len() >= 31, "{vault}: {} checks", checks.len());
        assert!(checks.iter().all(|c| c.passed), "{vault}: {checks:#?}");
        let parts: BTreeSet<&str> = checks
            .iter()
            .filter_map(|c| c.read_data.as_deref())
            .collect();
        assert_eq!(
            parts.len(),
            10,
            "{vault} rotates through 1/10..10/10: {parts:?}"
        );
    }
    catalog.close().await;
}

const HANG_STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: noon
        BackupPlanRule:
          - RuleName: noon
            TargetBackupVault: primary
            ScheduleExpression: cron(0 12 * * ? *)
            StartWindowMinutes: 60
            CompletionWindowMinutes: 120
            Lifecycle:
              DeleteAfterDays: 30
  Gold:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: gold
        IamRoleArn: arn:coffer:iam::210987654321:role/backup-service
        ListOfTags:
          - ConditionType: STRINGEQUALS
            ConditionKey: tier
            ConditionValue: gold
"#;

/// Receives webhook posts on loopback and keeps their bodies.
pub(crate) struct Webhook {
    pub(crate) url: String,
    bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    pub(crate) async fn start() -> Webhook {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook?token=secret",
            listener.local_addr().unwrap()
        );
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() < length {
                            continue;
                        }
                        sink.lock()
                            .unwrap()
                            .push(serde_json::from_str(body).unwrap());
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                });
            }
        });
        Webhook { url, bodies }
    }

    pub(crate) fn events(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Kills the process holding the table lock, and drops the database.
struct Locker {
    child: std::process::Child,
    db: String,
}

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        coffer_testkit::drop_database(&self.db);
    }
}

async fn job_of(catalog: &Catalog, resource: &str) -> BackupJob {
    all::<BackupJob>(catalog)
        .await
        .into_iter()
        .find(|j| j.resource_arn == resource)
        .unwrap_or_else(|| panic!("no job for {resource}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_is_stopped_by_its_completion_window_while_others_run() {
    let db = format!("coffer_hang_{}", std::process::id());
    coffer_testkit::drop_database(&db);
    coffer_testkit::psql(&format!("CREATE DATABASE \"{db}\""));
    coffer_testkit::psql_in(
        &db,
        "CREATE TABLE ledger (id int PRIMARY KEY, amount int); INSERT INTO ledger SELECT g, g FROM generate_series(1, 100) g",
    );
    // Another session holds an exclusive lock: pg_dump waits for it.
    let child = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &db, "-qc"])
        .arg("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _locker = Locker {
        child,
        db: db.clone(),
    };
    let granted = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = '{db}' AND l.mode = 'AccessExclusiveLock' AND l.granted"
    );
    for _ in 0..100 {
        if coffer_testkit::psql_in("postgres", &granted) != "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let gone = home.path().join("data/unmounted");
    let inventory = format!(
        r#"
defaults:
  account: "210987654321"
  region: eu-west-1
filesystems:
  - name: docs
    path: {}
    tags: {{tier: gold}}
  - name: unmounted
    path: {}
    tags: {{tier: gold}}
postgres:
  - name: local
    host: 127.0.0.1
    port: 5432
    user: postgres
    databases: ["{db}"]
    database_tags:
      {db}: {{tier: gold}}
"#,
        docs.display(),
        gone.display()
    );
    let stack = home.write("stack.yaml", HANG_STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "noon", &stack, &inv]));

    let start: Timestamp = "2026-06-01T11:59:00Z".parse().unwrap();
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let catalog = Catalog::open(config.catalog_url(), start).await.unwrap();
    simulated_from(&home, &catalog, start).await;
    let clock = Arc::new(ManualClock::new(start));
    let env = Env::new(catalog.clone(), config, clock.clone());
    let webhook = Webhook::start().await;
    let mut events: Vec<String> = coffer_policy::DEFAULT_NOTIFICATION_EVENTS
        .iter()
        .map(|e| e.to_string())
        .collect();
    events.push("BACKUP_JOB_ABORTED".into());
    let notifier = Notifier::new(&[coffer_policy::NotificationTarget {
        url: webhook.url.clone(),
        events,
        sns_topic: None,
    }]);
    let mut options = DaemonOptions::from_settings(&coffer_policy::ServeSettings::default());
    options.lookback = SignedDuration::ZERO;
    options.workers = 4;
    let mut daemon = Daemon::new(env, options, notifier);
    daemon.tick().await.unwrap();

    let docs_arn = "arn:coffer:fs:eu-west-1:210987654321:filesystem/docs";
    let gone_arn = "arn:coffer:fs:eu-west-1:210987654321:filesystem/unmounted";
    let pg_arn = format!("arn:coffer:postgres:eu-west-1:210987654321:database/local/{db}");
    clock.set("2026-06-01T12:00:30Z".parse().unwrap());
    daemon.tick().await.unwrap();
    // The docs backup completes while pg_dump waits for the lock.
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE public.ledger IN ACCESS SHARE MODE%' AND wait_event_type = 'Lock'";
    let mut seen_waiting = false;
    for _ in 0..300 {
        daemon.tick().await.unwrap();
        seen_waiting |= coffer_testkit::psql_in("postgres", waiting) != "0";
        if seen_waiting && job_of(&catalog, docs_arn).await.state == BackupJobState::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen_waiting,
        "pg_dump never waited for the lock: {:#?}\n{}",
        all::<BackupJob>(&catalog).await,
        coffer_testkit::psql_in(
            "postgres",
            "SELECT application_name, state, wait_event_type, left(query, 60) FROM pg_stat_activity"
        )
    );
    assert_eq!(
        job_of(&catalog, docs_arn).await.state,
        BackupJobState::Completed
    );
    assert_eq!(
        job_of(&catalog, &pg_arn).await.state,
        BackupJobState::Running
    );

    // Minute by minute: the unmounted path is retried with backoff inside
    // its start window, then fails; at 14:00:30 the database's completion
    // window (120 minutes from its start) ends and it is stopped.
    let mut now: Timestamp = "2026-06-01T12:00:30Z".parse().unwrap();
    let until: Timestamp = "2026-06-01T14:05:00Z".parse().unwrap();
    while now < until {
        now = now.checked_add(SignedDuration::from_mins(1)).unwrap();
        clock.set(now);
        daemon.tick().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..100 {
        daemon.tick().await.unwrap();
        if daemon.busy() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let hung = job_of(&catalog, &pg_arn).await;
    assert_eq!(hung.state, BackupJobState::Aborted, "{hung:#?}");
    let reason = hung.status_message.clone().unwrap();
    assert!(
        reason.contains("completion window of 120 minutes") && reason.contains("stopped"),
        "{reason}"
    );
    assert_eq!(hung.attempts.len(), 1);
    assert!(hung.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("completion window"));
    assert!(hung.recovery_point_arn.is_none());
    // pg_dump was stopped with the job, and the server let go of the
    // backup's sessions though the lock is still held.
    let mut dump_left = String::new();
    for _ in 0..100 {
        dump_left = coffer_testkit::psql_in(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'coffer'"),
        );
        if dump_left == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        dump_left, "0",
        "pg_dump still runs after the job was stopped"
    );

    let failed = job_of(&catalog, gone_arn).await;
    assert_eq!(failed.state, BackupJobState::Failed, "{failed:#?}");
    // Attempts at 12:00, +5, +10, +20 minutes; the next (+40) would start
    // after the window closes at 13:00.
    assert_eq!(failed.attempts.len(), 4, "{failed:#?}");
    let message = failed.status_message.clone().unwrap();
    assert!(
        message.contains("unmounted"),
        "the resource's own words: {message}"
    );

    // Failures and the stop were sent to the webhook, once each.
    for _ in 0..50 {
        if webhook.events().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = webhook.events();
    let kinds: BTreeMap<String, String> = events
        .iter()
        .map(|e| {
            (
                e["EventType"].as_str().unwrap().to_string(),
                e["ResourceArn"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds.get("BACKUP_JOB_FAILED").map(String::as_str),
        Some(gone_arn),
        "{events:#?}"
    );
    assert_eq!(
        kinds.get("BACKUP_JOB_ABORTED"),
        Some(&pg_arn),
        "{events:#?}"
    );
    assert_eq!(events.len(), 2, "{events:#?}");
    catalog.close().await;
}

/// A CREATED job with a start window, for `resource`, recorded now.
async fn queued_job(catalog: &Catalog, id: &str, resource: &str, now: Timestamp) {
    let resource_type = if resource == QUEUE {
        coffer_model::ResourceType::SQLite
    } else {
        coffer_model::ResourceType::FileSystem
    };
    let job = BackupJob {
        start_by: Some(now.checked_add(SignedDuration::from_hours(8)).unwrap()),
        ..BackupJob::created(
            id,
            "210987654321",
            "eu-west-1",
            "primary",
            resource,
            resource_type,
            now,
        )
    };
    catalog.insert(&job, now).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_once_and_a_resource_another_process_backs_up_waits() {
    let home = month_home();
    let start: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
    let (mut daemon, _clock, catalog) = daemon_at(&home, start).await;

    // Two workers race for one job: one claims it, the other is refused,
    // and there is one recovery point.
    queued_job(&catalog, "RACE", DOCS, start).await;
    let env = daemon.env().clone();
    let options = coffer_engine::exec::BackupOptions::default();
    let (a, b) = tokio::join!(
        coffer_engine::exec::run_backup(&env, "RACE", &options),
        coffer_engine::exec::run_backup(&env, "RACE", &options)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one claims the job: {a:?} / {b:?}"
    );
    let points: Vec<RecoveryPoint> = all(&catalog).await;
    assert_eq!(
        points
            .iter()
            .filter(|p| p.created_by_job_id.as_deref() == Some("RACE"))
            .count(),
        1
    );

    // A worker working from an older listing finds the job running
    // already: it is refused, not run a second time.
    queued_job(&catalog, "STALE", DOCS, start).await;
    let mut running = catalog
        .get::<BackupJob>("STALE")
        .await
        .unwrap()
        .unwrap()
        .record;
    running.state = BackupJobState::Running;
    catalog.update(&running, 1, start).await.unwrap();
    let refused = coffer_engine::exec::run_backup(&env, "STALE", &options).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(all::<RecoveryPoint>(&catalog)
        .await
        .iter()
        .all(|p| p.created_by_job_id.as_deref() != Some("STALE")));

    // Another live process (PID 1 here) is backing up the queue: the
    // daemon leaves the queue's waiting job alone, and runs the other one.
    let mut theirs: BackupJob = {
        queued_job(&catalog, "THEIRS", QUEUE, start).await;
        catalog
            .get::<BackupJob>("THEIRS")
            .await
            .unwrap()
            .unwrap()
            .record
    };
    theirs.state = BackupJobState::Running;
    theirs.runner = Some(format!(
        "1@{}",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    ));
    catalog.update(&theirs, 1, start).await.unwrap();
    queued_job(&catalog, "WAITS", QUEUE, start).await;
    queued_job(&catalog, "RUNS", DOCS, start).await;
    daemon.settle().await.unwrap();
    let state = |id: &'static str| {
        let catalog = catalog.clone();
        async move {
            catalog
                .get::<BackupJob>(id)
                .await
                .unwrap()
                .unwrap()
                .record
                .state
        }
    };
    assert_eq!(state("WAITS").await, BackupJobState::Created);
    assert_eq!(state("RUNS").await, BackupJobState::Completed);
    assert_eq!(
        state("THEIRS").await,
        BackupJobState::Running,
        "a live process's job is not settled"
    );
    catalog.close().await;
}

const HOURLY_STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: hourly
        BackupPlanRule:
          # The default start window (8 hours) is longer than the interval.
          - RuleName: hourly
            TargetBackupVault: primary
            ScheduleExpression: cron(0 * * * ? *)
            Lifecycle:
              DeleteAfterDays: 7
  Gold:
    Type: AWS::Backup::BackupSelection
    Properties:
      BackupPlanId: !Ref Plan
      BackupSelection:
        SelectionName: gold
        IamRoleArn: arn:coffer:iam::210987654321:role/backup-service
        ListOfTags:
          - ConditionType: STRINGEQUALS
            ConditionKey: tier
            ConditionValue: gold
"#;

/// The fire time a scheduled job stands for (its start window is 8 hours).
fn fire_time(job: &BackupJob) -> Timestamp {
    job.start_by
        .unwrap()
        .checked_sub(SignedDuration::from_hours(8))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_serve_plans_nothing_before_the_policy_and_a_downtime_is_looked_back_over_whole() {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n    tags: {{tier: gold}}\n",
        docs.display()
    );
    let stack = home.write("stack.yaml", HOURLY_STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "hourly", &stack, &inv]));
    let applied = Timestamp::now();

    // The first serve, 2 hours and some minutes after the apply: every
    // fire time since the plan exists is a job, none from before.
    let hour = |t: Timestamp| {
        Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(3600)).unwrap()
    };
    let first = hour(applied)
        .checked_add(SignedDuration::from_mins(2 * 60 + 10))
        .unwrap();
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let catalog = Catalog::open(config.catalog_url(), first).await.unwrap();
    let new_daemon = |at: Timestamp| {
        let clock = Arc::new(ManualClock::new(at));
        let env = Env::new(catalog.clone(), config.clone(), clock);
        let options = DaemonOptions::from_settings(&coffer_policy::ServeSettings::default());
        Daemon::new(env, options, Notifier::new(&[]))
    };
    let mut daemon = new_daemon(first);
    daemon.settle().await.unwrap();
    let jobs: Vec<BackupJob> = all(&catalog).await;
    assert_eq!(jobs.len(), 2, "fire times since the apply: {jobs:#?}");
    assert!(jobs.iter().all(|j| fire_time(j) > applied));
    // One backup of the resource at a time: the two ran one after the other.
    assert!(
        jobs.iter().all(|j| j.state == BackupJobState::Completed),
        "{jobs:#?}"
    );
    drop(daemon);

    // Down for three days: on restart, every missed fire time is a job;
    // those whose start window ended are EXPIRED saying why, the 8 whose
    // window is still open run, queued one after the other.
    let second = first.checked_add(SignedDuration::from_hours(72)).unwrap();
    let mut daemon = new_daemon(second);
    daemon.settle().await.unwrap();
    let jobs: Vec<BackupJob> = all(&catalog).await;
    let missed: Vec<&BackupJob> = jobs.iter().filter(|j| fire_time(j) > first).collect();
    assert_eq!(missed.len(), 72);
    let expired: Vec<&&BackupJob> = missed
        .iter()
        .filter(|j| j.state == BackupJobState::Expired)
        .collect();
    assert_eq!(expired.len(), 64);
    assert!(expired.iter().all(
        |j| j.status_message.as_deref().unwrap().starts_with(&format!(
            "missed: no scheduler ran from {first} until {second}"
        ))
    ));
    assert_eq!(
        missed
            .iter()
            .filter(|j| j.state == BackupJobState::Completed)
            .count(),
        8
    );
    assert_eq!(catalog.planned_through().await.unwrap(), Some(second));
    // A third start at the same time plans nothing again.
    drop(daemon);
    let mut daemon = new_daemon(second);
    daemon.settle().await.unwrap();
    assert_eq!(all::<BackupJob>(&catalog).await.len(), jobs.len());
    catalog.close().await;
}

/// A catch-up over several slices writes its mark at its end, even when
/// the last slice is under a minute and plans no job: a restart then says
/// the downtime began where this scheduler really stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_marks_its_end_even_when_the_last_slice_plans_nothing() {
    let home = Home::new();
    let docs = home.path().join("data/docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    let inventory = format!(
        "defaults:\n  account: \"210987654321\"\n  region: eu-west-1\nfilesystems:\n  - name: docs\n    path: {}\n    tags: {{tier: gold}}\n",
        docs.display()
    );
    let stack = home.write("stack.yaml", HOURLY_STACK);
    let inv = home.write("inventory.yaml", &inventory);
    ok(&home.run(&["apply", "--stack", "hourly", &stack, &inv]));
    let start: Timestamp = "2026-05-01T00:10:00Z".parse().unwrap();
    let (mut daemon, clock, catalog) = daemon_at(&home, start).await;
    // Two slices: [00:10, 01:10] plans the 01:00 job, [01:10, 01:10:20]
    // plans nothing, 20 seconds after the previous mark.
    let now = start.checked_add(SignedDuration::from_secs(3620)).unwrap();
    clock.set(now);
    daemon.settle().await.unwrap();
    assert_eq!(all::<BackupJob>(&catalog).await.len(), 1);
    assert_eq!(catalog.planned_through().await.unwrap(), Some(now));
    catalog.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_backups_of_one_resource_at_once_run_one_after_the_other() {
    let home = month_home();
    let start: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
    let (daemon, _clock, catalog) = daemon_at(&home, start).await;
    let env = daemon.env().clone();
    let options = coffer_engine::exec::BackupOptions::default();
    queued_job(&catalog, "FIRST", QUEUE, start).await;
    queued_job(&catalog, "SECOND", QUEUE, start).await;
    let (a, b) = tokio::join!(
        coffer_engine::exec::run_backup(&env, "FIRST", &options),
        coffer_engine::exec::run_backup(&env, "SECOND", &options)
    );
    // One ran; the other waits PENDING behind it, naming it.
    let (ran, waited, behind) = match (&a, &b) {
        (Ok(_), Err(coffer_engine::Error::WaitsBehind { behind, .. })) => {
            ("FIRST", "SECOND", behind)
        }
        (Err(coffer_engine::Error::WaitsBehind { behind, .. }), Ok(_)) => {
            ("SECOND", "FIRST", behind)
        }
        other => panic!("one backup runs and the other waits: {other:?}"),
    };
    assert_eq!(behind, ran);
    let waiting = catalog
        .get::<BackupJob>(waited)
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(waiting.state, BackupJobState::Pending);
    assert_eq!(
        waiting.status_message.as_deref(),
        Some(
            format!("waiting behind backup job {ran}, which is backing up the same resource")
                .as_str()
        )
    );
    // Once the first ended, the second runs.
    let done = coffer_engine::exec::run_backup(&env, waited, &options)
        .await
        .unwrap();
    assert_eq!(done.state, BackupJobState::Completed);
    let points: Vec<RecoveryPoint> = all(&catalog).await;
    assert_eq!(points.iter().filter(|p| p.resource_arn == QUEUE).count(), 2);
    catalog.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_start_waits_behind_a_running_backup_of_the_resource_and_says_which() {
    use std::io::{BufRead, BufReader};

    let home = month_home();
    let now = Timestamp::now();
    let config = coffer_policy::Config::load_or_create(home.path()).unwrap();
    let catalog = Catalog::open(config.catalog_url(), now).await.unwrap();
    // Another live process (PID 1 here) is backing up the queue.
    queued_job(&catalog, "THEIRS", QUEUE, now).await;
    let mut theirs = catalog.get::<BackupJob>("THEIRS").await.unwrap().unwrap();
    theirs.record.state = BackupJobState::Running;
    theirs.record.runner = Some(format!(
        "1@{}",
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
    ));
    catalog
        .update(&theirs.record, theirs.version, now)
        .await
        .unwrap();

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("--home")
        .arg(home.path())
        .args(["--account", "210987654321", "--region", "eu-west-1"])
        .args(["backup", "start", "--resource", QUEUE, "--vault", "primary"])
        .env_remove("COFFER_HOME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(command.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        said.push(line.clone());
        if line.contains("PENDING") {
            break;
        }
    }
    assert!(
        said.last()
            .unwrap()
            .contains("PENDING: waits behind backup job THEIRS"),
        "{said:?}"
    );
    let ours: Vec<BackupJob> = all::<BackupJob>(&catalog)
        .await
        .into_iter()
        .filter(|j| j.backup_job_id != "THEIRS")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].state, BackupJobState::Pending);

    // Theirs ends: ours runs and completes.
    let mut done = catalog.get::<BackupJob>("THEIRS").await.unwrap().unwrap();
    done.record.state = BackupJobState::Completed;
    catalog
        .update(&done.record, done.version, Timestamp::now())
        .await
        .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = command.wait().unwrap();
    assert!(status.success(), "{said:?} {rest:?}");
    assert!(rest.iter().any(|l| l.contains("COMPLETED")), "{rest:?}");
    catalog.close().await;
}
