//! The scheduler daemon (`coffer serve`): one loop over the catalog on a
//! [`Clock`](crate::clock::Clock).
//!
//! Each tick it finishes what ended (recording results, starting copy
//! actions, sending notifications), looks for new resources when due, plans
//! the jobs whose fire times came since the last tick (inserting each under
//! its derived ID, so a fire time never runs twice), ends jobs whose start
//! or completion window is over, and starts ready jobs on bounded workers:
//! at most `workers` at once, never two backups of one resource. The
//! lifecycle sweep and the vault checks run when due.
//!
//! A test drives it with a `ManualClock`: [`Daemon::tick`] and
//! [`Daemon::settle`] run a month of schedules in seconds; the real daemon
//! calls [`Daemon::run`] on the system clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use coffer_catalog::{JobRecord, ObjectKind};
use coffer_model::{
    AccountId, BackupJob, BackupJobState, BackupPlan, BackupSelection, BackupVault, CopyJob,
    CopyJobState, RecoveryPoint, Region, Resource, RestoreJob, ServeSettings, ValidationStatus,
    VaultCheck,
};
use jiff::{SignedDuration, Timestamp};
use tokio::task::{AbortHandle, JoinError, JoinSet};

use crate::env::Env;
use crate::error::Result;
use crate::exec::{self, BackupOptions};
use crate::jobs;
use crate::maintenance::{self, Reconciliation, SweepReport};
use crate::notify::{Event, Notifier};
use crate::planning::{planned_jobs, PlanInScope, PlannedJob};
use crate::restore_testing;
use crate::scheduling::{derived_id, scheduled_job};
use crate::windows::{ended_windows, WindowEnd};

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// Backups and copies running at once.
    pub workers: usize,
    pub discover_every: SignedDuration,
    pub sweep_every: SignedDuration,
    pub check_every: SignedDuration,
    /// Each vault check reads back one part in this many of the data.
    pub check_parts: u32,
    /// First retry delay of a failed attempt (doubling each time).
    pub retry_backoff: SignedDuration,
    /// At start, backups that completed this far back get the copy jobs
    /// their copy actions ask for, if a dead process never made them.
    /// (Planning needs no such bound: it resumes where the catalog says
    /// the last scheduler stopped.)
    pub lookback: SignedDuration,
    /// The longest span planned in one step.
    pub plan_slice: SignedDuration,
    /// Copy jobs tried per copy action of a recovery point.
    pub copy_attempts: u32,
    /// Real time between ticks of [`Daemon::run`].
    pub tick_every: Duration,
    /// At shutdown, how long running jobs may take to finish before they
    /// are stopped and recorded as such.
    pub grace: Duration,
}

impl DaemonOptions {
    pub fn from_settings(settings: &ServeSettings) -> DaemonOptions {
        DaemonOptions {
            workers: usize::try_from(settings.workers).unwrap_or(1).max(1),
            discover_every: SignedDuration::from_mins(i64::from(settings.discover_minutes)),
            sweep_every: SignedDuration::from_mins(i64::from(settings.sweep_minutes)),
            check_every: SignedDuration::from_hours(i64::from(settings.check_hours)),
            check_parts: settings.check_parts.max(1),
            retry_backoff: SignedDuration::from_mins(i64::from(settings.retry_minutes)),
            lookback: SignedDuration::from_hours(24),
            plan_slice: SignedDuration::from_hours(1),
            copy_attempts: 3,
            tick_every: Duration::from_secs(1),
            grace: Duration::from_secs(30),
        }
    }
}

/// What the daemon is doing, for `/healthz`.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub started_at: Option<Timestamp>,
    pub last_tick: Option<Timestamp>,
    pub running_jobs: usize,
    pub last_error: Option<String>,
}

/// One unit of background work.
#[derive(Clone, Debug)]
enum Work {
    Backup {
        job_id: String,
        resource_arn: String,
    },
    Copy {
        job_id: String,
    },
    Sweep,
    Checks,
}

/// How a unit of work ended.
enum Done {
    Backup(Result<BackupJob>),
    Copy(Result<CopyJob>),
    Sweep(Result<SweepReport>, Vec<(BackupVault, Reconciliation)>),
    Checks(Vec<(BackupVault, Result<VaultCheck>)>),
}

struct Running {
    work: Work,
    handle: AbortHandle,
    /// Why it is being stopped, once it is.
    stopping: Option<Stop>,
    /// Held by the backup's storage while it works (see [`Tracker`]).
    tracker: Option<Weak<Tracker>>,
}

/// Why a job is being stopped.
struct Stop {
    reason: String,
    /// A window's end or a request: ABORTED. A shutdown: interrupted.
    abort: bool,
}

impl Stop {
    fn abort(reason: String) -> Option<Stop> {
        Some(Stop {
            reason,
            abort: true,
        })
    }
}

/// An observer a backup's storage holds while it works, on whatever thread:
/// a stopped backup's blocking work (a tree or SQLite snapshot cannot be
/// interrupted midway) may outlive its task, and the resource stays busy
/// until the last clone is dropped.
#[derive(Debug, Default)]
pub struct Tracker;

impl coffer_vault::Observer for Tracker {
    fn phase(&self, _title: &str, _total: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn done(&self) {}
}

/// The scheduler.
/// The backup jobs this process runs beside the daemon, shared; a job is
/// registered while its [`BesideGuard`] lives.
#[derive(Clone, Debug, Default)]
pub struct JobsBeside(Arc<Mutex<BTreeSet<String>>>);

impl JobsBeside {
    /// Registers job `id` until the guard is dropped.
    pub fn register(&self, id: &str) -> BesideGuard {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string());
        BesideGuard {
            jobs: self.clone(),
            id: id.to_string(),
        }
    }

    fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// A job registered in [`JobsBeside`]; dropping it unregisters the job.
#[derive(Debug)]
pub struct BesideGuard {
    jobs: JobsBeside,
    id: String,
}

impl Drop for BesideGuard {
    fn drop(&mut self) {
        self.jobs
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

pub struct Daemon {
    env: Env,
    options: DaemonOptions,
    notifier: Notifier,
    tasks: JoinSet<Done>,
    running: HashMap<tokio::task::Id, Running>,
    /// Stopped backups whose storage work may still run, by resource.
    lingering: Vec<(String, Weak<Tracker>)>,
    resources: Vec<Resource>,
    /// The resources, shared with the HTTP endpoints (next fire times).
    shared_resources: Arc<Mutex<Vec<Resource>>>,
    /// Backup jobs this process runs beside the daemon's workers (the
    /// catalog's own backup): alive, whatever their runner says.
    beside: JobsBeside,
    planned_through: Option<Timestamp>,
    /// While a backlog is planned: where it began and when planning resumed.
    catching_up: Option<(Timestamp, Timestamp)>,
    /// The planned-through mark last written to the catalog.
    mark_written: Option<Timestamp>,
    /// When each known resource first existed (refreshed at discovery).
    resources_since: BTreeMap<String, Timestamp>,
    next_discover: Option<Timestamp>,
    next_sweep: Option<Timestamp>,
    next_check: Option<Timestamp>,
    health: Arc<Mutex<Health>>,
    /// Restore tests running (their jobs' IDs), beside the workers.
    tests: JoinSet<(String, Result<RestoreJob>)>,
    testing: BTreeSet<String>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("running", &self.running.len())
            .field("planned_through", &self.planned_through)
            .finish_non_exhaustive()
    }
}

fn after(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(at)
}

impl Daemon {
    pub fn new(env: Env, options: DaemonOptions, notifier: Notifier) -> Daemon {
        Daemon {
            env,
            options,
            notifier,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            lingering: Vec::new(),
            resources: Vec::new(),
            shared_resources: Arc::new(Mutex::new(Vec::new())),
            beside: JobsBeside::default(),
            planned_through: None,
            catching_up: None,
            mark_written: None,
            resources_since: BTreeMap::new(),
            next_discover: None,
            next_sweep: None,
            next_check: None,
            health: Arc::new(Mutex::new(Health::default())),
            tests: JoinSet::new(),
            testing: BTreeSet::new(),
        }
    }

    /// The daemon's health, shared with the HTTP endpoints.
    pub fn health(&self) -> Arc<Mutex<Health>> {
        Arc::clone(&self.health)
    }

    /// The resources known at the last discovery, shared.
    pub fn shared_resources(&self) -> Arc<Mutex<Vec<Resource>>> {
        Arc::clone(&self.shared_resources)
    }

    /// Where work run in this process beside the daemon registers the
    /// backup jobs it runs, so the daemon never settles them as left by a
    /// dead process (their runner is this process, whose own jobs it
    /// otherwise knows only from its workers).
    pub fn jobs_beside(&self) -> JobsBeside {
        self.beside.clone()
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Jobs and maintenance running now.
    pub fn busy(&self) -> usize {
        self.running.len()
    }

    /// What a previous daemon left behind, put right: jobs it was running
    /// end (a backup returns to PENDING when a retry fits in its start
    /// window, else FAILED; a stopping one ABORTED; a copy FAILED, to be
    /// retried by its copy action), each with the reason; orphan snapshots
    /// are removed from every vault; copy actions of recent backups that
    /// never got their copy jobs get them.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn recover(&mut self) -> Result<()> {
        let now = self.env.now();
        self.settle_dead_runners().await?;
        for vault in self
            .env
            .objects::<BackupVault>(ObjectKind::BackupVault)
            .await?
        {
            // Orphans out, then a prune: what an interrupted backup, copy or
            // prune left is freed (a prune is itself safe to interrupt).
            match maintenance::reconcile(&self.env, &vault, true).await {
                Ok(found) => self.notify_unaccounted(&vault, &found, now),
                Err(error) => {
                    tracing::error!(vault = %vault.backup_vault_name, %error, "cannot reconcile the vault");
                    continue;
                }
            }
            if let Err(error) = maintenance::prune(&self.env, &vault).await {
                tracing::error!(vault = %vault.backup_vault_name, %error, "cannot prune the vault");
            }
        }
        let since = now.checked_sub(self.options.lookback).unwrap_or(now);
        // Jobs that ended since, by the completion date's index.
        for job in self
            .env
            .catalog
            .jobs_for_report::<BackupJob>(since, now)
            .await?
            .into_iter()
            .filter(|j| {
                j.state == BackupJobState::Completed
                    && j.completion_date.is_some_and(|t| t >= since)
            })
        {
            self.ensure_copies(&job).await;
        }
        Ok(())
    }

    /// An interrupted or stopped attempt ends: back to PENDING when a retry
    /// fits in the job's start window, else FAILED.
    async fn end_interrupted(&self, id: &str, now: Timestamp, reason: &str) -> Result<BackupJob> {
        let job = exec::modify::<BackupJob>(&self.env, id, |j| end_attempt(j, now, reason)).await?;
        let retry = exec::next_attempt_at(&job, self.options.retry_backoff)
            .zip(job.start_by)
            .is_some_and(|(at, start_by)| at < start_by);
        if retry {
            let n = job.attempts.len();
            exec::set_backup_state(&self.env, id, BackupJobState::Pending, |j| {
                j.status_message = Some(format!("attempt {n} {reason}; it is retried"));
            })
            .await
        } else {
            exec::set_backup_state(&self.env, id, BackupJobState::Failed, |j| {
                j.status_message = Some(reason.to_string());
            })
            .await
        }
    }

    /// The recovery point a job wrote of `resource`, if it wrote one (a
    /// seek by resource, whose points are few).
    async fn point_of_job(&self, resource: &str, id: &str) -> Result<Option<RecoveryPoint>> {
        Ok(self
            .env
            .records_where("resource_arn", &[resource], |p: &RecoveryPoint| {
                p.created_by_job_id.as_deref() == Some(id)
            })
            .await?
            .into_iter()
            .next())
    }

    /// Settles a backup job nobody runs any more (its task ended without
    /// recording an end, or its process died): a job whose recovery point
    /// was written completes (the point is kept, never written twice); a
    /// job being stopped (`abort`, or ABORTING) ends ABORTED with the
    /// reason; otherwise the attempt ends interrupted (PENDING to retry, or
    /// FAILED). A job already at rest is left alone.
    async fn settle_backup(
        &self,
        id: &str,
        reason: &str,
        abort: bool,
    ) -> Result<Option<BackupJob>> {
        let now = self.env.now();
        let Some(stored) = self.env.catalog.get::<BackupJob>(id).await? else {
            return Ok(None);
        };
        let state = stored.record.state;
        if !matches!(state, BackupJobState::Running | BackupJobState::Aborting) {
            return Ok(None);
        }
        let running_or_stopping =
            |s| matches!(s, BackupJobState::Running | BackupJobState::Aborting);
        let job = if let Some(point) = self.point_of_job(&stored.record.resource_arn, id).await? {
            exec::transition(
                &self.env,
                id,
                BackupJobState::Completed,
                running_or_stopping,
                |j: &mut BackupJob| {
                    j.recovery_point_arn = Some(point.recovery_point_arn.clone());
                    j.backup_size_in_bytes = point.backup_size_in_bytes;
                    j.percent_done = 100;
                    if let Some(last) = j.attempts.last_mut() {
                        last.ended_at.get_or_insert(now);
                        last.error = None;
                    }
                },
            )
            .await?
        } else if abort || state == BackupJobState::Aborting {
            if state == BackupJobState::Running {
                exec::transition(
                    &self.env,
                    id,
                    BackupJobState::Aborting,
                    |s| s == BackupJobState::Running,
                    |_: &mut BackupJob| {},
                )
                .await?;
            }
            exec::set_backup_state(&self.env, id, BackupJobState::Aborted, |j| {
                end_attempt(j, now, reason);
                j.status_message = Some(reason.to_string());
            })
            .await?
        } else {
            self.end_interrupted(id, now, reason).await?
        };
        Ok(Some(job))
    }

    /// Settles a copy job nobody runs any more: COMPLETED if its recovery
    /// point was written, else FAILED (its copy action tries again).
    async fn settle_copy(&self, id: &str, reason: &str) -> Result<()> {
        let Some(stored) = self.env.catalog.get::<CopyJob>(id).await? else {
            return Ok(());
        };
        if stored.record.state != CopyJobState::Running {
            return Ok(());
        }
        match self.point_of_job(&stored.record.resource_arn, id).await? {
            Some(point) => {
                exec::set_copy_state(&self.env, id, CopyJobState::Completed, |j| {
                    j.destination_recovery_point_arn = Some(point.recovery_point_arn.clone());
                    j.backup_size_in_bytes = point.backup_size_in_bytes;
                })
                .await?;
            }
            None => self.fail_copy(id, reason).await,
        }
        Ok(())
    }

    /// Jobs whose process is gone (a crash, a killed command) are settled;
    /// so are on-demand jobs a command created and never started (no
    /// start window, an hour old). Jobs this daemon runs are not touched.
    async fn settle_dead_runners(&self) -> Result<()> {
        let now = self.env.now();
        let mut ours: BTreeSet<String> = self
            .running
            .values()
            .filter_map(|r| match &r.work {
                Work::Backup { job_id, .. } | Work::Copy { job_id } => Some(job_id.clone()),
                _ => None,
            })
            .collect();
        ours.extend(self.beside.ids());
        let dead =
            |runner: Option<&str>, id: &str| !ours.contains(id) && exec::runner_is_gone(runner);
        for job in self
            .env
            .records_where("state", &exec::WRITING_STATES, |j: &BackupJob| {
                dead(j.runner.as_deref(), &j.backup_job_id)
            })
            .await?
        {
            let id = job.backup_job_id.clone();
            let reason = if job.state == BackupJobState::Aborting {
                "interrupted while it was being stopped"
            } else {
                exec::INTERRUPTED
            };
            match self.settle_backup(&id, reason, false).await {
                Ok(Some(job)) => {
                    tracing::warn!(job = %id, state = job.state.as_str(), "interrupted job settled");
                    self.notify_backup(&job).await;
                    if job.state == BackupJobState::Completed {
                        self.ensure_copies(&job).await;
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(job = %id, %error, "cannot settle an interrupted job")
                }
            }
        }
        let stale = now
            .checked_sub(SignedDuration::from_hours(1))
            .unwrap_or(now);
        for job in self
            .env
            .records_where(
                "state",
                &[BackupJobState::Created.as_str()],
                |j: &BackupJob| j.start_by.is_none() && j.creation_date < stale,
            )
            .await?
        {
            let _ = exec::transition(
                &self.env,
                &job.backup_job_id,
                BackupJobState::Failed,
                |s| s == BackupJobState::Created,
                |j: &mut BackupJob| {
                    j.status_message = Some(
                        "the command that created this on-demand job stopped before starting it; start it again with `coffer backup start`"
                            .into(),
                    );
                },
            )
            .await;
        }
        // An on-demand job whose command died while it waited behind
        // another backup of its resource.
        for job in self
            .env
            .records_where(
                "state",
                &[BackupJobState::Pending.as_str()],
                |j: &BackupJob| j.start_by.is_none() && dead(j.runner.as_deref(), &j.backup_job_id),
            )
            .await?
        {
            let _ = exec::transition(
                &self.env,
                &job.backup_job_id,
                BackupJobState::Failed,
                |s| s == BackupJobState::Pending,
                |j: &mut BackupJob| {
                    j.status_message = Some(
                        "the command that started this on-demand job stopped while it waited behind another backup of the resource; start it again with `coffer backup start`"
                            .into(),
                    );
                },
            )
            .await;
        }
        for job in self
            .env
            .records_where("state", &[CopyJobState::Running.as_str()], |j: &CopyJob| {
                dead(j.runner.as_deref(), &j.copy_job_id)
            })
            .await?
        {
            if let Err(error) = self.settle_copy(&job.copy_job_id, exec::INTERRUPTED).await {
                tracing::error!(job = %job.copy_job_id, %error, "cannot settle an interrupted copy");
            }
        }
        // Restores, validations and report deliveries of dead processes end
        // FAILED, naming what they may have left.
        jobs::settle_dead_jobs(&self.env).await?;
        // Scratch targets of restore tests a dead process left (or whose
        // deletion failed) are removed, each job saying why.
        restore_testing::remove_leftovers(&self.env).await?;
        Ok(())
    }

    /// One pass of the loop at the clock's time.
    ///
    /// # Errors
    /// Catalog errors (the loop logs them and tries again next tick).
    pub async fn tick(&mut self) -> Result<()> {
        let now = self.env.now();
        self.reap().await;
        if self.next_discover.is_none_or(|at| at <= now) {
            match self.env.discover_dated().await {
                Ok((found, since)) => {
                    self.resources = found;
                    self.resources_since = since;
                }
                // Plan with what was known: one unreadable record must not
                // stop every schedule.
                Err(error) => {
                    tracing::error!(%error, "discovery failed; the resources found before are kept")
                }
            }
            *self
                .shared_resources
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = self.resources.clone();
            self.next_discover = Some(after(now, self.options.discover_every));
        }
        self.plan(now).await?;
        // One read of the live jobs serves both: what end_windows changes
        // (expired, stopping) start_ready does not start anyway, and a
        // stale row only makes a claim be refused.
        let live = self.live_jobs().await?;
        self.end_windows(&live, now).await?;
        self.start_ready(&live, now).await?;
        self.start_tests().await?;
        if self.next_sweep.is_none_or(|at| at <= now) {
            self.settle_dead_runners().await?;
            self.spawn_maintenance(Work::Sweep);
            self.next_sweep = Some(after(now, self.options.sweep_every));
        }
        if self.next_check.is_none_or(|at| at <= now) {
            self.spawn_maintenance(Work::Checks);
            self.next_check = Some(after(now, self.options.check_every));
        }
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        health.last_tick = Some(now);
        health.running_jobs = self.running.len();
        Ok(())
    }

    /// Ticks until nothing runs, nothing is ready and every fire time is
    /// planned at the clock's time (for tests on a manual clock).
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn settle(&mut self) -> Result<()> {
        loop {
            self.tick().await?;
            if self.running.is_empty() && self.tests.is_empty() && !self.planning_behind() {
                return Ok(());
            }
            if self.running.is_empty() && self.tests.is_empty() {
                continue;
            }
            self.wait_one().await;
        }
    }

    /// Waits until one running task ends (recorded at the next tick).
    async fn wait_one(&mut self) {
        tokio::select! {
            Some(ended) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                self.finish(ended).await;
            }
            Some(ended) = self.tests.join_next(), if !self.tests.is_empty() => {
                self.test_ended(ended).await;
            }
        }
    }

    /// Starts the restore tests waiting to run, as many as workers are
    /// free beside the backups (at least one at a time).
    async fn start_tests(&mut self) -> Result<()> {
        let free = self
            .options
            .workers
            .saturating_sub(self.workers_busy())
            .max(1)
            .saturating_sub(self.tests.len());
        if free == 0 {
            return Ok(());
        }
        for job in restore_testing::waiting_tests(&self.env, &self.testing)
            .await?
            .into_iter()
            .take(free)
        {
            let env = self.env.clone();
            let id = job.restore_job_id.clone();
            self.testing.insert(id.clone());
            tracing::info!(job = %id, "restore test starting");
            self.tests
                .spawn(restore_testing::run_test_on_thread(env, id));
        }
        Ok(())
    }

    /// Records what a restore test's end means: its metrics are read from
    /// the catalog; a test that failed is notified.
    async fn test_ended(
        &mut self,
        ended: std::result::Result<(String, Result<RestoreJob>), JoinError>,
    ) {
        let (id, outcome) = match ended {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, "a restore test's task ended abnormally");
                return;
            }
        };
        self.testing.remove(&id);
        match outcome {
            Ok(job) => self.notify_test(&job).await,
            Err(error) => {
                tracing::error!(job = %id, %error, "a restore test could not be recorded")
            }
        }
    }

    async fn notify_test(&self, job: &RestoreJob) {
        let failed = job.status != coffer_model::RestoreJobStatus::Completed
            || matches!(
                job.validation_status,
                Some(ValidationStatus::Failed | ValidationStatus::TimedOut)
            );
        if !failed {
            return;
        }
        let message = match job.validation_status {
            Some(status @ (ValidationStatus::Failed | ValidationStatus::TimedOut))
                if job.status == coffer_model::RestoreJobStatus::Completed =>
            {
                format!(
                    "validation {}: {}",
                    status.as_str(),
                    job.validation_status_message.as_deref().unwrap_or_default()
                )
            }
            _ => job.status_message.clone().unwrap_or_default(),
        };
        let point = self
            .env
            .catalog
            .list::<RecoveryPoint>(&[("arn", &job.recovery_point_arn)])
            .await
            .ok()
            .and_then(|found| found.into_iter().next())
            .map(|s| s.record);
        let vault_name = point
            .as_ref()
            .map(|p| p.backup_vault_name.clone())
            .unwrap_or_default();
        let vault = match &point {
            Some(p) => {
                self.vault_of(&job.account_id, &job.region, &p.backup_vault_name)
                    .await
            }
            None => None,
        };
        self.notifier.send(
            Event {
                event_type: "RESTORE_TEST_FAILED".into(),
                time: self.env.now(),
                account_id: job.account_id.clone(),
                region: job.region.clone(),
                backup_vault_name: vault_name,
                job_id: Some(job.restore_job_id.clone()),
                resource_arn: point.map(|p| p.resource_arn),
                state: Some(
                    job.validation_status
                        .map_or(format!("{:?}", job.status).to_uppercase(), |v| {
                            v.as_str().to_string()
                        }),
                ),
                message: Some(message),
            },
            vault.as_ref(),
        );
    }

    /// Runs until `shutdown` completes, then stops gracefully: no new work
    /// starts; running jobs get `grace` to finish, then are stopped and
    /// recorded (a backup returns to PENDING if its window allows a retry,
    /// else FAILED; a copy FAILED).
    ///
    /// # Errors
    /// Catalog errors at start.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        {
            let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
            health.started_at = Some(self.env.now());
        }
        self.recover().await?;
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.tick().await {
                tracing::error!(%error, "scheduler tick failed; trying again");
                self.health
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .last_error = Some(error.to_string());
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.options.tick_every) => {}
                Some(ended) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finish(ended).await;
                }
                Some(ended) = self.tests.join_next(), if !self.tests.is_empty() => {
                    self.test_ended(ended).await;
                }
            }
        }
        // A restore test stopped here leaves its scratch target recorded;
        // the next start removes it.
        self.tests.shutdown().await;
        tracing::info!(
            running = self.running.len(),
            "shutting down: no new jobs start"
        );
        let deadline = tokio::time::Instant::now() + self.options.grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(ended)) => self.finish(ended).await,
                Ok(None) => break,
                Err(_) => {
                    for running in self.running.values_mut() {
                        running.stopping.get_or_insert_with(|| Stop {
                            reason: "the scheduler was shut down before the job finished"
                                .to_string(),
                            abort: false,
                        });
                        running.handle.abort();
                    }
                    while let Some(ended) = self.tasks.join_next_with_id().await {
                        self.finish(ended).await;
                    }
                }
            }
        }
        // The home's lock is released when this returns: wait for storage
        // work of stopped backups first, so no writer outlives the daemon.
        let deadline = tokio::time::Instant::now() + self.options.grace;
        while self.lingering_any() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("scheduler stopped");
        Ok(())
    }

    /// Records every task that has ended.
    async fn reap(&mut self) {
        while let Some(ended) = self.tasks.try_join_next_with_id() {
            self.finish(ended).await;
        }
        while let Some(ended) = self.tests.try_join_next() {
            self.test_ended(ended).await;
        }
    }

    async fn finish(&mut self, ended: std::result::Result<(tokio::task::Id, Done), JoinError>) {
        let (id, outcome) = match ended {
            Ok((id, done)) => (id, Ok(done)),
            Err(error) => (error.id(), Err(error)),
        };
        let Some(running) = self.running.remove(&id) else {
            return;
        };
        let now = self.env.now();
        match (running.work, outcome) {
            (Work::Backup { .. }, Ok(Done::Backup(Ok(job)))) => {
                self.notify_backup(&job).await;
                if job.state == BackupJobState::Completed {
                    self.ensure_copies(&job).await;
                }
            }
            (
                Work::Backup { job_id, .. },
                Ok(Done::Backup(Err(crate::Error::WaitsBehind { behind, .. }))),
            ) => {
                // Another process started a backup of the resource first:
                // this job stays PENDING and is started when that one ends.
                tracing::info!(job = %job_id, %behind, "backup job waits behind another job of its resource");
            }
            (Work::Backup { job_id, .. }, Ok(Done::Backup(Err(error)))) => {
                // Refused at the claim: another process took the job, it is
                // theirs. Otherwise the catalog failed mid-job: settle it.
                tracing::error!(job = %job_id, %error, "backup job could not be carried out");
                let mine = self
                    .env
                    .catalog
                    .get::<BackupJob>(&job_id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| {
                        s.record.runner.as_deref() == Some(exec::this_runner().as_str())
                    });
                if mine {
                    let reason = format!("the catalog could not record the job: {error}");
                    match self.settle_backup(&job_id, &reason, false).await {
                        Ok(Some(job)) => self.notify_backup(&job).await,
                        Ok(None) => {}
                        Err(error) => {
                            tracing::error!(job = %job_id, %error, "cannot settle the job")
                        }
                    }
                }
            }
            (
                Work::Backup {
                    job_id,
                    resource_arn,
                },
                Err(error),
            ) => {
                let (reason, abort) = match running.stopping {
                    Some(stop) => (stop.reason, stop.abort),
                    None if error.is_panic() => (
                        format!("internal error: the backup task panicked ({error})"),
                        false,
                    ),
                    None => ("the backup task was cancelled".to_string(), false),
                };
                if let Some(tracker) = running.tracker {
                    // Its storage thread may still be writing: the resource
                    // stays busy until it ends.
                    self.lingering.push((resource_arn, tracker));
                }
                match self.settle_backup(&job_id, &reason, abort).await {
                    Ok(Some(job)) => self.notify_backup(&job).await,
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(job = %job_id, %error, "cannot record the stopped job")
                    }
                }
            }
            (Work::Copy { .. }, Ok(Done::Copy(Ok(job)))) => {
                self.notify_copy(&job).await;
                if job.state == CopyJobState::Failed {
                    if let Some(source) = self.source_backup_job(&job).await {
                        self.ensure_copies(&source).await;
                    }
                }
            }
            (Work::Copy { job_id }, Ok(Done::Copy(Err(error)))) => {
                tracing::error!(job = %job_id, %error, "copy job could not be carried out");
            }
            (Work::Copy { job_id }, Err(error)) => {
                let reason = running
                    .stopping
                    .map(|stop| stop.reason)
                    .unwrap_or_else(|| format!("the copy task ended abnormally ({error})"));
                if let Err(error) = self.settle_copy(&job_id, &reason).await {
                    tracing::error!(job = %job_id, %error, "cannot record the stopped copy");
                }
            }
            (Work::Sweep, Ok(Done::Sweep(report, reconciled))) => {
                match report {
                    Ok(report) => {
                        for error in &report.errors {
                            tracing::error!(%error, "lifecycle sweep");
                        }
                    }
                    Err(error) => tracing::error!(%error, "lifecycle sweep failed"),
                }
                for (vault, found) in &reconciled {
                    self.notify_unaccounted(vault, found, now);
                }
            }
            (Work::Checks, Ok(Done::Checks(results))) => {
                for (vault, result) in results {
                    let event = |message: String| Event {
                        event_type: "VAULT_CHECK_FAILED".into(),
                        time: now,
                        account_id: vault.account_id.to_string(),
                        region: vault.region.to_string(),
                        backup_vault_name: vault.backup_vault_name.clone(),
                        job_id: None,
                        resource_arn: None,
                        state: None,
                        message: Some(message),
                    };
                    match result {
                        Ok(check) if check.passed => {}
                        Ok(check) => self
                            .notifier
                            .send(event(check.message.unwrap_or_default()), Some(&vault)),
                        Err(error) => self.notifier.send(event(error.to_string()), Some(&vault)),
                    }
                }
            }
            (work, Err(error)) => {
                tracing::error!(?work, %error, "maintenance task ended abnormally")
            }
            (work, Ok(_)) => tracing::error!(?work, "unexpected task result"),
        }
    }

    /// Snapshots nothing in the catalog accounts for are kept; each is
    /// sent to the vault's notification targets (reconcile logs them).
    fn notify_unaccounted(&self, vault: &BackupVault, found: &Reconciliation, now: Timestamp) {
        for snapshot in &found.unaccounted {
            self.notifier.send(
                Event {
                    event_type: "VAULT_SNAPSHOT_UNACCOUNTED".into(),
                    time: now,
                    account_id: vault.account_id.to_string(),
                    region: vault.region.to_string(),
                    backup_vault_name: vault.backup_vault_name.clone(),
                    job_id: snapshot.job_id.clone(),
                    resource_arn: snapshot.resource_arn.clone(),
                    state: None,
                    message: Some(format!(
                        "snapshot {} (recovery point {}) is kept: {}; adopt it to record it as a recovery point again",
                        snapshot.snapshot_id, snapshot.recovery_point_id, snapshot.why
                    )),
                },
                Some(vault),
            );
        }
    }

    /// A copy job that was interrupted or stopped ends FAILED with `reason`
    /// (its copy action tries again, see `ensure_copies`).
    async fn fail_copy(&self, id: &str, reason: &str) {
        match exec::set_copy_state(&self.env, id, CopyJobState::Failed, |j| {
            j.status_message = Some(reason.to_string());
        })
        .await
        {
            Ok(job) => self.notify_copy(&job).await,
            Err(error) => tracing::error!(job = %id, %error, "cannot record the copy job's end"),
        }
    }

    async fn source_backup_job(&self, copy: &CopyJob) -> Option<BackupJob> {
        let id = copy.created_by_backup_job_id.as_deref()?;
        self.env
            .catalog
            .get::<BackupJob>(id)
            .await
            .ok()
            .flatten()
            .map(|s| s.record)
    }

    /// Creates the jobs of the fire times since the last planned instant
    /// (kept in the catalog, so a restart after any downtime looks back
    /// over all of it), at most one slice (`plan_slice`) a tick, so memory
    /// is bounded by one slice's jobs and a long backlog never holds up the
    /// loop. A job whose start window already ended is recorded EXPIRED,
    /// saying it was missed while no scheduler ran.
    async fn plan(&mut self, now: Timestamp) -> Result<()> {
        let from = match self.planned_through {
            Some(from) => from,
            None => self.lookback_start(now).await?,
        };
        if from >= now {
            self.planned_through = Some(from.max(now));
            return Ok(());
        }
        // One slice a tick: a long backlog is planned over several ticks,
        // so windows, starts and health go on meanwhile (and the jobs of
        // each slice run as soon as it is planned).
        let until = after(from, self.options.plan_slice).min(now);
        let down = *self.catching_up.get_or_insert((from, now));
        let planned = plan_span(
            &self.env,
            &self.resources,
            &self.resources_since,
            from,
            until,
        )
        .await?;
        let tests =
            restore_testing::planned_tests(&self.env, &self.resources, from, until, now).await?;
        let made_jobs = !planned.is_empty() || !tests.is_empty();
        self.store_planned(planned, down, now).await?;
        if !tests.is_empty() {
            let stored = self.env.catalog.insert_new(&tests, now).await?;
            for id in stored {
                tracing::info!(job = %id, "restore test recorded");
            }
        }
        // The mark is written when jobs were made, a minute has passed, or
        // a catch-up over several slices reaches its end, not every tick: a
        // restart from a mark a minute old plans that minute again, and
        // derived job IDs store nothing twice.
        let stale = self
            .mark_written
            .is_none_or(|at| until.duration_since(at) >= SignedDuration::from_mins(1));
        let caught_up = until >= now && down.0 < from;
        if made_jobs || stale || until < now || caught_up {
            self.env.catalog.set_planned_through(until).await?;
            self.mark_written = Some(until);
        }
        self.planned_through = Some(until);
        if until >= now {
            self.catching_up = None;
        }
        Ok(())
    }

    /// Whether fire times up to the clock's time are not all planned yet.
    pub fn planning_behind(&self) -> bool {
        self.planned_through.is_none_or(|at| at < self.env.now())
    }

    /// Where planning resumes at start: where the last scheduler of this
    /// catalog stopped (its mark, or for a catalog from before the mark, its
    /// newest scheduled job); for a catalog no scheduler ever served, where
    /// the first plan was created (fire times before a plan, rule,
    /// selection or resource existed are never planned).
    async fn lookback_start(&self, now: Timestamp) -> Result<Timestamp> {
        if let Some(at) = self.env.catalog.planned_through().await? {
            return Ok(at);
        }
        if let Some(at) = self.env.catalog.newest_scheduled_job().await? {
            return Ok(at);
        }
        Ok(self
            .env
            .catalog
            .list_objects(ObjectKind::BackupPlan)
            .await?
            .iter()
            .chain(
                self.env
                    .catalog
                    .list_objects(ObjectKind::RestoreTestingPlan)
                    .await?
                    .iter(),
            )
            .map(|o| o.created_at)
            .min()
            .unwrap_or(now)
            .min(now))
    }

    /// Stores planned jobs not stored yet (derived IDs: a second scheduler
    /// or a replanned span stores nothing twice).
    async fn store_planned(
        &self,
        planned: Vec<PlannedJob>,
        (down_since, restarted): (Timestamp, Timestamp),
        now: Timestamp,
    ) -> Result<()> {
        // Most ticks plan nothing: no map of the estate, no write.
        if planned.is_empty() {
            return Ok(());
        }
        let types: BTreeMap<String, coffer_model::ResourceType> = self
            .resources
            .iter()
            .map(|r| (r.resource_arn.to_string(), r.resource_type))
            .collect();
        let mut records = Vec::with_capacity(planned.len());
        for job in &planned {
            let Some(resource_type) = types.get(&job.resource_arn) else {
                continue;
            };
            let (account, region) = match coffer_model::Arn::parse(&job.resource_arn) {
                Ok(arn) => (arn.account().to_string(), arn.region().to_string()),
                Err(_) => continue,
            };
            let mut record = scheduled_job(job, &account, &region, *resource_type, now);
            if job.start_by <= now {
                record.state = BackupJobState::Expired;
                record.completion_date = Some(now);
                record.status_message = Some(format!(
                    "missed: no scheduler ran from {down_since} until {restarted}, and the start window ended at {}",
                    job.start_by
                ));
            }
            records.push(record);
        }
        drop(planned);
        let stored: BTreeSet<String> = self
            .env
            .catalog
            .insert_new(&records, now)
            .await?
            .into_iter()
            .collect();
        let mut missed = 0_usize;
        // A slice can miss a job for every resource: each vault is read once.
        let mut vaults: HashMap<(String, String, String), Option<BackupVault>> = HashMap::new();
        for record in records.iter().filter(|r| stored.contains(&r.backup_job_id)) {
            if record.state == BackupJobState::Expired {
                missed += 1;
                let key = (
                    record.account_id.clone(),
                    record.region.clone(),
                    record.backup_vault_name.clone(),
                );
                if !vaults.contains_key(&key) {
                    let vault = self.vault_of(&key.0, &key.1, &key.2).await;
                    vaults.insert(key.clone(), vault);
                }
                self.notify_backup_of(record, vaults.get(&key).and_then(Option::as_ref));
            } else {
                tracing::info!(job = %record.backup_job_id, plan = ?record.backup_plan_name, rule = ?record.backup_rule_name, resource = %record.resource_arn, "backup job created");
            }
        }
        if missed > 0 {
            tracing::warn!(missed, since = %down_since, "backup jobs missed while no scheduler ran were recorded EXPIRED");
        }
        Ok(())
    }

    async fn live_jobs(&self) -> Result<Vec<BackupJob>> {
        self.env
            .records_where("state", <BackupJob as JobRecord>::ACTIVE, |_| true)
            .await
    }

    fn running_backup(&mut self, job_id: &str) -> Option<&mut Running> {
        self.running
            .values_mut()
            .find(|r| matches!(&r.work, Work::Backup { job_id: id, .. } if id == job_id))
    }

    async fn end_windows(&mut self, live: &[BackupJob], now: Timestamp) -> Result<()> {
        for end in ended_windows(live, now) {
            match end {
                WindowEnd::Expire { job_id, reason } => {
                    if self.running_backup(&job_id).is_some() {
                        continue;
                    }
                    match exec::set_backup_state(&self.env, &job_id, BackupJobState::Expired, |j| {
                        j.status_message = Some(reason.clone());
                    })
                    .await
                    {
                        Ok(job) => {
                            tracing::warn!(job = %job_id, %reason, "backup job expired");
                            self.notify_backup(&job).await;
                        }
                        Err(error) => {
                            tracing::error!(job = %job_id, %error, "cannot expire the job")
                        }
                    }
                }
                WindowEnd::Abort { job_id, reason } => {
                    let Some(running) = self.running_backup(&job_id) else {
                        continue;
                    };
                    if running.stopping.is_none() {
                        tracing::warn!(job = %job_id, %reason, "stopping the backup");
                        running.stopping = Stop::abort(reason);
                        running.handle.abort();
                        let _ = exec::transition(
                            &self.env,
                            &job_id,
                            BackupJobState::Aborting,
                            |s| s == BackupJobState::Running,
                            |_: &mut BackupJob| {},
                        )
                        .await;
                    }
                }
            }
        }
        // Jobs someone asked to stop (`coffer jobs abort`).
        for job in live.iter().filter(|j| j.state == BackupJobState::Aborting) {
            if let Some(running) = self.running_backup(&job.backup_job_id) {
                if running.stopping.is_none() {
                    running.stopping = Stop::abort(
                        job.status_message
                            .clone()
                            .unwrap_or_else(|| "stopped on request".into()),
                    );
                    running.handle.abort();
                }
            }
        }
        Ok(())
    }

    fn lingering_any(&mut self) -> bool {
        self.lingering
            .retain(|(_, tracker)| tracker.strong_count() > 0);
        !self.lingering.is_empty()
    }

    fn workers_busy(&self) -> usize {
        self.running
            .values()
            .filter(|r| matches!(r.work, Work::Backup { .. } | Work::Copy { .. }))
            .count()
    }

    async fn start_ready(&mut self, live: &[BackupJob], now: Timestamp) -> Result<()> {
        let mut ready: Vec<&BackupJob> = live
            .iter()
            .filter(|j| matches!(j.state, BackupJobState::Created | BackupJobState::Pending))
            // Jobs the daemon runs have a start window; an on-demand job
            // without one is run by the command that created it.
            .filter(|j| j.start_by.is_some_and(|at| at > now))
            .filter(|j| {
                j.attempts.is_empty()
                    || exec::next_attempt_at(j, self.options.retry_backoff)
                        .is_none_or(|at| at <= now)
            })
            .collect();
        ready.sort_by_key(|j| (j.start_by, j.creation_date));
        self.lingering
            .retain(|(_, tracker)| tracker.strong_count() > 0);
        // Resources another process backs up now (a `backup start`
        // command, another scheduler) are busy too.
        let elsewhere: BTreeSet<&str> = live
            .iter()
            .filter(|j| matches!(j.state, BackupJobState::Running | BackupJobState::Aborting))
            .map(|j| j.resource_arn.as_str())
            .collect();
        for job in ready {
            if self.workers_busy() >= self.options.workers {
                return Ok(());
            }
            let busy = elsewhere.contains(job.resource_arn.as_str())
                || self.lingering.iter().any(|(arn, _)| *arn == job.resource_arn)
                || self.running.values().any(|r| {
                    matches!(&r.work, Work::Backup { resource_arn, .. } if *resource_arn == job.resource_arn)
                });
            if busy {
                continue;
            }
            let env = self.env.clone();
            let id = job.backup_job_id.clone();
            let tracker = Arc::new(Tracker);
            let weak = Arc::downgrade(&tracker);
            let options = BackupOptions {
                observer: Some(tracker),
                retry_backoff: Some(self.options.retry_backoff),
                resolved: None,
            };
            let handle = self
                .tasks
                .spawn(async move { Done::Backup(exec::run_backup(&env, &id, &options).await) });
            self.running.insert(
                handle.id(),
                Running {
                    work: Work::Backup {
                        job_id: job.backup_job_id.clone(),
                        resource_arn: job.resource_arn.clone(),
                    },
                    handle,
                    stopping: None,
                    tracker: Some(weak),
                },
            );
        }
        let copies = self
            .env
            .catalog
            .list::<CopyJob>(&[("state", "CREATED")])
            .await?;
        for stored in copies {
            if self.workers_busy() >= self.options.workers {
                break;
            }
            let id = stored.record.copy_job_id;
            let taken = self
                .running
                .values()
                .any(|r| matches!(&r.work, Work::Copy { job_id } if *job_id == id));
            if taken {
                continue;
            }
            let env = self.env.clone();
            let task_id = id.clone();
            let handle = self
                .tasks
                .spawn(async move { Done::Copy(exec::run_copy(&env, &task_id).await) });
            self.running.insert(
                handle.id(),
                Running {
                    work: Work::Copy { job_id: id },
                    handle,
                    stopping: None,
                    tracker: None,
                },
            );
        }
        Ok(())
    }

    fn spawn_maintenance(&mut self, work: Work) {
        let already = self
            .running
            .values()
            .any(|r| std::mem::discriminant(&r.work) == std::mem::discriminant(&work));
        if already {
            return;
        }
        let env = self.env.clone();
        let parts = self.options.check_parts;
        let handle = match work {
            Work::Sweep => self.tasks.spawn(async move {
                let report = maintenance::sweep(&env, false).await;
                // What stopped or interrupted backups left (their storage
                // work may finish after the job ended) is removed here.
                let vaults = env
                    .objects::<BackupVault>(ObjectKind::BackupVault)
                    .await
                    .unwrap_or_default();
                let mut reconciled = Vec::new();
                for vault in vaults {
                    match maintenance::reconcile(&env, &vault, true).await {
                        Ok(found) => reconciled.push((vault, found)),
                        Err(error) => {
                            tracing::error!(vault = %vault.backup_vault_name, %error, "cannot reconcile the vault")
                        }
                    }
                }
                Done::Sweep(report, reconciled)
            }),
            Work::Checks => self.tasks.spawn(async move {
                let mut results = Vec::new();
                let vaults = env
                    .objects::<BackupVault>(ObjectKind::BackupVault)
                    .await
                    .unwrap_or_default();
                for vault in vaults {
                    let result = match maintenance::next_check_part(&env, &vault, parts).await {
                        Ok(part) => maintenance::check_vault(&env, &vault, Some(part)).await,
                        Err(error) => Err(error),
                    };
                    results.push((vault, result));
                }
                Done::Checks(results)
            }),
            Work::Backup { .. } | Work::Copy { .. } => return,
        };
        self.running.insert(
            handle.id(),
            Running {
                work,
                handle,
                stopping: None,
                tracker: None,
            },
        );
    }

    /// Each copy action of the rule that made `job`'s recovery point gets a
    /// copy job, unless one is under way or done; a failed copy is tried
    /// again, `copy_attempts` times in all. IDs are derived from (backup
    /// job, destination, attempt), so a restart never copies twice.
    async fn ensure_copies(&self, job: &BackupJob) {
        if let Err(error) = self.try_ensure_copies(job).await {
            tracing::error!(job = %job.backup_job_id, %error, "cannot start the copy actions");
        }
    }

    async fn try_ensure_copies(&self, job: &BackupJob) -> Result<()> {
        let Some(point_arn) = &job.recovery_point_arn else {
            return Ok(());
        };
        let Some(rule) = exec::scheduled_rule(&self.env, job).await? else {
            return Ok(());
        };
        if rule.copy_actions.is_empty() {
            return Ok(());
        }
        let point_id = RecoveryPoint::id_of(point_arn);
        let Some(point) = self.env.catalog.get::<RecoveryPoint>(point_id).await? else {
            return Ok(());
        };
        for action in &rule.copy_actions {
            let dest = &action.destination_backup_vault_arn;
            let earlier = self
                .env
                .catalog
                .list::<CopyJob>(&[
                    ("source_recovery_point_arn", point_arn.as_str()),
                    ("destination_vault_arn", dest.as_str()),
                ])
                .await?;
            if earlier
                .iter()
                .any(|c| c.record.state != CopyJobState::Failed)
            {
                continue;
            }
            let attempt = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
            if attempt >= self.options.copy_attempts {
                continue;
            }
            let destination = match self.env.vault_by_arn(dest).await {
                Ok(vault) => vault,
                Err(error) => {
                    tracing::error!(job = %job.backup_job_id, destination = %dest, %error, "copy action names an unknown vault");
                    continue;
                }
            };
            let id = derived_id(&["copy", &job.backup_job_id, dest, &attempt.to_string()]);
            match exec::create_copy_job(
                &self.env,
                id,
                &point.record,
                &destination,
                action.lifecycle,
                false,
            )
            .await
            {
                Ok(copy) => {
                    tracing::info!(job = %copy.copy_job_id, source = %point_arn, destination = %dest, "copy job created")
                }
                Err(crate::Error::Catalog(coffer_catalog::Error::Conflict { .. })) => {}
                Err(error) => {
                    tracing::error!(job = %job.backup_job_id, destination = %dest, %error, "cannot create the copy job")
                }
            }
        }
        Ok(())
    }

    async fn vault_of(&self, account: &str, region: &str, name: &str) -> Option<BackupVault> {
        self.env.vault_named(account, region, name).await.ok()
    }

    async fn notify_backup(&self, job: &BackupJob) {
        let vault = self
            .vault_of(&job.account_id, &job.region, &job.backup_vault_name)
            .await;
        self.notify_backup_of(job, vault.as_ref());
    }

    /// [`Self::notify_backup`] with the job's vault already read.
    fn notify_backup_of(&self, job: &BackupJob, vault: Option<&BackupVault>) {
        let event_type = match job.state {
            BackupJobState::Completed => "BACKUP_JOB_SUCCESSFUL",
            BackupJobState::Failed => "BACKUP_JOB_FAILED",
            BackupJobState::Expired => "BACKUP_JOB_EXPIRED",
            BackupJobState::Aborted => "BACKUP_JOB_ABORTED",
            _ => return,
        };
        self.notifier.send(
            Event {
                event_type: event_type.into(),
                time: self.env.now(),
                account_id: job.account_id.clone(),
                region: job.region.clone(),
                backup_vault_name: job.backup_vault_name.clone(),
                job_id: Some(job.backup_job_id.clone()),
                resource_arn: Some(job.resource_arn.clone()),
                state: Some(job.state.as_str().into()),
                message: job.status_message.clone(),
            },
            vault,
        );
    }

    async fn notify_copy(&self, job: &CopyJob) {
        let event_type = match job.state {
            CopyJobState::Completed => "COPY_JOB_SUCCESSFUL",
            CopyJobState::Failed => "COPY_JOB_FAILED",
            _ => return,
        };
        let vault = self
            .env
            .vault_by_arn(&job.source_backup_vault_arn)
            .await
            .ok();
        self.notifier.send(
            Event {
                event_type: event_type.into(),
                time: self.env.now(),
                account_id: job.account_id.clone(),
                region: job.region.clone(),
                backup_vault_name: vault
                    .as_ref()
                    .map(|v| v.backup_vault_name.clone())
                    .unwrap_or_default(),
                job_id: Some(job.copy_job_id.clone()),
                resource_arn: Some(job.resource_arn.clone()),
                state: Some(format!("{:?}", job.state).to_uppercase()),
                message: job.status_message.clone(),
            },
            vault.as_ref(),
        );
    }
}

/// The jobs every applied plan (of every account and region) asks for
/// with fire times in `(from, to]`, over `resources`.
///
/// # Errors
/// Catalog errors; a rule that cannot be evaluated is logged and skipped.
pub async fn plan_span(
    env: &Env,
    resources: &[Resource],
    resources_since: &BTreeMap<String, Timestamp>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PlannedJob>> {
    let mut plans = Vec::new();
    for object in env.catalog.list_objects(ObjectKind::BackupPlan).await? {
        let (Ok(account), Ok(region)) = (
            AccountId::new(&object.account_id),
            Region::new(&object.region),
        ) else {
            continue;
        };
        match serde_json::from_value::<BackupPlan>(object.doc) {
            Ok(plan) => plans.push((account, region, plan, object.created_at)),
            Err(error) => tracing::error!(plan = %object.name, %error, "unreadable plan"),
        }
    }
    let selections: Vec<(String, String, BackupSelection, Timestamp)> = env
        .catalog
        .list_objects(ObjectKind::BackupSelection)
        .await?
        .into_iter()
        .filter_map(|o| {
            serde_json::from_value(o.doc)
                .ok()
                .map(|s| (o.account_id, o.region, s, o.created_at))
        })
        .collect();
    let rules_since = env.catalog.rules_first_seen().await?;
    let mut jobs = Vec::new();
    for (account, region, plan, created_at) in &plans {
        let (mine, mine_since): (Vec<BackupSelection>, Vec<Timestamp>) = selections
            .iter()
            .filter(|(a, r, _, _)| a == account.as_str() && r == region.as_str())
            .map(|(_, _, s, at)| (s.clone(), *at))
            .unzip();
        let rule_times: Vec<Timestamp> = plan
            .rules
            .iter()
            .map(|rule| {
                rules_since
                    .get(&(
                        account.to_string(),
                        region.to_string(),
                        plan.backup_plan_name.clone(),
                        rule.rule_name.clone(),
                    ))
                    .copied()
                    .unwrap_or(*created_at)
            })
            .collect();
        let scope = [PlanInScope {
            account,
            region,
            plan,
            selections: &mine,
            created_at: *created_at,
            rules_since: &rule_times,
            selections_since: &mine_since,
        }];
        match planned_jobs(&scope, resources, resources_since, from, to) {
            Ok(found) => jobs.extend(found),
            Err(error) => {
                tracing::error!(plan = %error.plan_name, rule = %error.rule_name, message = %error.message, "cannot plan the rule")
            }
        }
    }
    jobs.sort_by(|a, b| {
        a.fire_at
            .cmp(&b.fire_at)
            .then(a.resource_arn.cmp(&b.resource_arn))
    });
    Ok(jobs)
}

/// Ends a job's open attempt with `error`.
fn end_attempt(job: &mut BackupJob, now: Timestamp, error: &str) {
    if let Some(last) = job.attempts.last_mut().filter(|a| a.ended_at.is_none()) {
        last.ended_at = Some(now);
        last.error = Some(error.to_string());
    }
}
