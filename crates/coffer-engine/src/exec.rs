//! Carrying out jobs: a backup attempt, a copy, a recovery point's removal.
//! The CLI runs them on demand, the daemon's workers on schedule; both
//! record the same job states.
//!
//! A job is recorded before any data moves, and a recovery point's row is
//! written only after its snapshot is complete, so nothing a reader counts
//! as a recovery point is ever half-written. A backup stopped midway (its
//! future dropped) stops its tool; what it wrote is unreferenced data that
//! a prune frees, or an orphan snapshot that reconciliation removes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use coffer_catalog::{Claim, Record};
use coffer_model::{
    Arn, BackupJob, BackupJobState, BackupPlan, BackupVault, CalculatedLifecycle, CopyJob,
    CopyJobState, JobAttempt, Lifecycle, RecoveryPoint, RecoveryPointStatus, Resource,
    StorageClass,
};
use coffer_vault::{Observer, StorageError};
use jiff::{SignedDuration, Timestamp};

use crate::env::Env;
use crate::error::{Error, Result};

/// A new job ID, shaped like AWS's (an upper-case UUID).
pub fn new_job_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// This process, as a job's runner: `PID@HOST`.
pub fn this_runner() -> String {
    format!("{}@{}", std::process::id(), host_name())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether the process that ran a job is gone: no runner recorded, or one
/// on this host whose process no longer exists (or is this very process,
/// restarted under the same PID, which cannot be running the old job).
/// A runner on another host is presumed alive.
pub fn runner_is_gone(runner: Option<&str>) -> bool {
    let Some((pid, host)) = runner.and_then(|r| r.split_once('@')) else {
        return true;
    };
    if host != host_name() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return true;
    };
    pid == std::process::id() || !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Why `vault`'s lock refuses a new recovery point with `lifecycle` (the
/// reason names both numbers), if it does.
pub fn lock_refusal(vault: &BackupVault, lifecycle: &Lifecycle) -> Option<Error> {
    let lock = vault.lock_configuration.as_ref()?;
    let reason = lock.check_retention(lifecycle.delete_after_days).err()?;
    Some(Error::Locked {
        vault: vault.backup_vault_name.clone(),
        reason: reason.to_string(),
    })
}

/// A record by ID, or `NotFound`.
///
/// # Errors
/// `NotFound`, catalog errors.
pub async fn fetch<R: Record>(env: &Env, id: &str) -> Result<coffer_catalog::Stored<R>> {
    Ok(env
        .catalog
        .get::<R>(id)
        .await?
        .ok_or_else(|| coffer_catalog::Error::NotFound {
            what: R::WHAT,
            id: id.to_string(),
        })?)
}

/// Reads a record, changes it and writes it back at the version read.
///
/// # Errors
/// `NotFound`, `Conflict` (someone else wrote it), catalog errors.
pub async fn modify<R: Record>(env: &Env, id: &str, change: impl FnOnce(&mut R)) -> Result<R> {
    let stored = fetch::<R>(env, id).await?;
    let mut record = stored.record;
    change(&mut record);
    env.catalog
        .update(&record, stored.version, env.now())
        .await?;
    Ok(record)
}

/// A job with a state machine and a completion date.
pub trait Job: Record {
    type State: Copy + PartialEq + std::fmt::Debug;
    fn state(&self) -> Self::State;
    fn allows(from: Self::State, to: Self::State) -> bool;
    fn enter(&mut self, state: Self::State, now: Timestamp);
}

macro_rules! job_with_states {
    ($job:ty, $state:ty) => {
        impl Job for $job {
            type State = $state;
            fn state(&self) -> $state {
                self.state
            }
            fn allows(from: $state, to: $state) -> bool {
                from.can_transition_to(to)
            }
            fn enter(&mut self, state: $state, now: Timestamp) {
                self.state = state;
                if state.is_terminal() {
                    self.completion_date = Some(now);
                }
            }
        }
    };
}

job_with_states!(BackupJob, BackupJobState);
job_with_states!(CopyJob, CopyJobState);

/// Moves a job to `next` (checked against its state machine; staying in
/// a state is allowed), changing it with `change` in the same write.
///
/// # Errors
/// `InvalidTransition`, `Conflict`, catalog errors.
pub async fn set_state<J: Job>(
    env: &Env,
    id: &str,
    next: J::State,
    change: impl FnOnce(&mut J),
) -> Result<J> {
    transition(env, id, next, |_| true, change).await
}

/// [`set_state`], only from a state `from` accepts (read and written at
/// one version, so nobody moves the job in between); a refused change
/// writes nothing.
///
/// # Errors
/// `InvalidTransition` when the job is in another state; `Conflict`,
/// catalog errors.
pub async fn transition<J: Job>(
    env: &Env,
    id: &str,
    next: J::State,
    from: impl Fn(J::State) -> bool,
    change: impl FnOnce(&mut J),
) -> Result<J> {
    let stored = fetch::<J>(env, id).await?;
    let mut job = stored.record;
    let current = job.state();
    if !from(current) || (current != next && !J::allows(current, next)) {
        return Err(coffer_catalog::Error::InvalidTransition {
            what: J::WHAT,
            id: id.to_string(),
            from: format!("{current:?}").to_uppercase(),
            to: format!("{next:?}").to_uppercase(),
        }
        .into());
    }
    job.enter(next, env.now());
    change(&mut job);
    env.catalog.update(&job, stored.version, env.now()).await?;
    Ok(job)
}

/// The claim: only a waiting job starts, in one write at the version read
/// (two processes never both run one job), and only while no other job of
/// its resource runs (one backup of a resource at a time, across processes
/// and across on-demand and scheduled jobs). A job that must wait is left
/// PENDING, naming the job it waits behind, and `WaitsBehind` returns.
///
/// # Errors
/// `WaitsBehind`; `InvalidTransition` when the job is not waiting;
/// `Conflict` when someone else wrote it; catalog errors.
pub async fn claim(env: &Env, id: &str, started_at: Timestamp) -> Result<BackupJob> {
    let stored = fetch::<BackupJob>(env, id).await?;
    let mut job = stored.record;
    let current = job.state;
    if !matches!(current, BackupJobState::Created | BackupJobState::Pending) {
        return Err(coffer_catalog::Error::InvalidTransition {
            what: BackupJob::WHAT,
            id: id.to_string(),
            from: current.as_str().to_string(),
            to: BackupJobState::Running.as_str().to_string(),
        }
        .into());
    }
    let waiting = job.clone();
    job.enter(BackupJobState::Running, started_at);
    job.started_at.get_or_insert(started_at);
    job.runner = Some(this_runner());
    job.attempts.push(JobAttempt {
        started_at,
        ended_at: None,
        error: None,
    });
    match env
        .catalog
        .claim_backup_job(&job, stored.version, env.now())
        .await?
    {
        Claim::Claimed(_) => Ok(job),
        Claim::Busy { job_id: behind } => {
            let message = format!(
                "waiting behind backup job {behind}, which is backing up the same resource"
            );
            // Said once: a job already waiting behind that job is not
            // rewritten (nor its ledger grown) at every look.
            if waiting.state != BackupJobState::Pending
                || waiting.status_message.as_deref() != Some(message.as_str())
            {
                let mut pending = waiting;
                pending.enter(BackupJobState::Pending, env.now());
                pending.status_message = Some(message);
                // The command that waits on an on-demand job owns it while
                // it waits (settled as interrupted if the command dies).
                if pending.start_by.is_none() {
                    pending.runner = Some(this_runner());
                }
                // Only a note: if someone else wrote the job meanwhile
                // (an abort), their change stands and the claim is refused
                // all the same.
                if let Err(error) = env
                    .catalog
                    .update(&pending, stored.version, env.now())
                    .await
                {
                    tracing::debug!(job = id, %error, "the waiting job was not marked PENDING");
                }
            }
            Err(Error::WaitsBehind {
                job_id: id.to_string(),
                behind,
            })
        }
    }
}

/// [`set_state`] for a backup job.
///
/// # Errors
/// As [`set_state`].
pub async fn set_backup_state(
    env: &Env,
    id: &str,
    next: BackupJobState,
    change: impl FnOnce(&mut BackupJob),
) -> Result<BackupJob> {
    set_state(env, id, next, change).await
}

/// [`set_state`] for a copy job.
///
/// # Errors
/// As [`set_state`].
pub async fn set_copy_state(
    env: &Env,
    id: &str,
    next: CopyJobState,
    change: impl FnOnce(&mut CopyJob),
) -> Result<CopyJob> {
    set_state(env, id, next, change).await
}

/// The error of an attempt whose process stopped (a crash or kill).
/// The states of a backup job whose process writes to its vault (the
/// catalog's state column values).
pub const WRITING_STATES: [&str; 2] = [
    BackupJobState::Running.as_str(),
    BackupJobState::Aborting.as_str(),
];

pub const INTERRUPTED: &str = "interrupted: the process running it stopped (a crash or kill) during this attempt; no recovery point was recorded, and its partial data is removed by the vault's reconciliation";

/// When the next attempt of a job whose last attempt failed may start:
/// `base` doubled after each failed attempt, at most an hour apart; at
/// once after an interrupted attempt (the resource was not at fault).
pub fn next_attempt_at(job: &BackupJob, base: SignedDuration) -> Option<Timestamp> {
    let last = job.attempts.last()?;
    let ended = last.ended_at?;
    if last.error.as_deref() == Some(INTERRUPTED) {
        return Some(ended);
    }
    let failed = u32::try_from(job.attempts.len()).unwrap_or(u32::MAX);
    let factor = 2_i32.saturating_pow(failed.saturating_sub(1).min(16));
    let delay = base
        .checked_mul(factor)
        .unwrap_or(SignedDuration::from_hours(1))
        .min(SignedDuration::from_hours(1));
    ended.checked_add(delay).ok()
}

/// How one attempt of a backup job is run.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// Progress of the data moved.
    pub observer: Option<Arc<dyn Observer>>,
    /// Retry a failed attempt this long after it (doubling each time) while
    /// the start window allows; `None`: a failed attempt fails the job.
    pub retry_backoff: Option<SignedDuration>,
    /// The job's vault and resource as the caller already read them: used
    /// instead of reading them again when they are the job's.
    pub resolved: Option<(BackupVault, Resource)>,
}

/// Runs one attempt of the backup job `id` (CREATED or PENDING).
///
/// The job goes RUNNING; a snapshot is taken; the recovery point is
/// written, then the job COMPLETED. A failed attempt is recorded with the
/// resource's own words and the job returns to PENDING when a retry fits
/// in its start window, else ends FAILED. A lifecycle outside the vault
/// lock's bounds fails the job at once (a retry cannot fix it).
///
/// # Errors
/// `WaitsBehind` when another job of the resource is running (the job is
/// left PENDING, to be started again when that one ends); otherwise only
/// when the catalog itself fails: a failed backup is a FAILED (or PENDING)
/// job, returned.
pub async fn run_backup(env: &Env, id: &str, options: &BackupOptions) -> Result<BackupJob> {
    let job = fetch::<BackupJob>(env, id).await?.record;
    let known = options
        .resolved
        .as_ref()
        .map(|(vault, _)| vault)
        .filter(|v| {
            v.account_id.as_str() == job.account_id
                && v.region.as_str() == job.region
                && v.backup_vault_name == job.backup_vault_name
        });
    let vault = match known {
        Some(vault) => vault.clone(),
        None => match env
            .vault_named(&job.account_id, &job.region, &job.backup_vault_name)
            .await
        {
            Ok(vault) => vault,
            Err(error) => return fail_backup(env, id, &error.to_string()).await,
        },
    };
    if let Some(error) = lock_refusal(&vault, &job.lifecycle) {
        return fail_backup(env, id, &error.to_string()).await;
    }
    let started_at = env.now();
    let running = claim(env, id, started_at).await?;
    tracing::info!(job = id, resource = %job.resource_arn, vault = %vault.backup_vault_name, attempt = running.attempts.len(), "backup started");
    let started = Instant::now();
    match backup_attempt(env, &running, &vault, options).await {
        Ok((point, warnings)) => {
            let finished = env.now();
            env.catalog.insert(&point, finished).await?;
            if !warnings.is_empty() {
                tracing::warn!(job = id, warnings = ?warnings, "backup completed with warnings");
            }
            let done = set_backup_state(env, id, BackupJobState::Completed, |j| {
                // What the point left out is the completed job's message, as
                // AWS reports a job that completed with issues.
                if !warnings.is_empty() {
                    j.status_message = Some(warnings.join("; "));
                }
                j.recovery_point_arn = Some(point.recovery_point_arn.clone());
                j.backup_size_in_bytes = point.backup_size_in_bytes;
                j.percent_done = 100;
                if let Some(last) = j.attempts.last_mut() {
                    last.ended_at = Some(finished);
                }
            })
            .await?;
            tracing::info!(job = id, recovery_point = %point.recovery_point_id, bytes = point.backup_size_in_bytes, seconds = started.elapsed().as_secs_f64(), "backup completed");
            Ok(done)
        }
        Err(error) => {
            let message = error.to_string();
            tracing::warn!(job = id, error = %message, "backup attempt failed");
            let ended = env.now();
            let mut retry = None;
            let job = modify::<BackupJob>(env, id, |j| {
                if let Some(last) = j.attempts.last_mut() {
                    last.ended_at = Some(ended);
                    last.error = Some(message.clone());
                }
                if let (Some(base), Some(start_by)) = (options.retry_backoff, j.start_by) {
                    retry = next_attempt_at(j, base).filter(|at| *at < start_by);
                }
            })
            .await?;
            if job.state == BackupJobState::Aborting {
                return set_backup_state(env, id, BackupJobState::Aborted, |j| {
                    j.status_message.get_or_insert_with(|| message.clone());
                })
                .await;
            }
            match retry {
                Some(at) => {
                    let n = job.attempts.len();
                    set_backup_state(env, id, BackupJobState::Pending, |j| {
                        j.status_message = Some(format!(
                            "attempt {n} failed: {message}; the next attempt starts at {at}"
                        ));
                    })
                    .await
                }
                None => fail_backup(env, id, &message).await,
            }
        }
    }
}

async fn fail_backup(env: &Env, id: &str, message: &str) -> Result<BackupJob> {
    set_backup_state(env, id, BackupJobState::Failed, |j| {
        j.status_message = Some(message.to_string());
    })
    .await
}

/// The snapshot of one attempt, as the recovery point to record, and
/// what the driver left out of it (the job's warnings).
async fn backup_attempt(
    env: &Env,
    job: &BackupJob,
    vault: &BackupVault,
    options: &BackupOptions,
) -> Result<(RecoveryPoint, Vec<String>)> {
    let known = options
        .resolved
        .as_ref()
        .map(|(_, resource)| resource)
        .filter(|r| r.resource_arn.to_string() == job.resource_arn);
    let resource = match known {
        Some(resource) => resource.clone(),
        None => env.resource(&job.resource_arn).await?,
    };
    let mut opened = env.open_vault(vault).await?;
    if let Some(observer) = &options.observer {
        opened.storage = opened.storage.with_observer(Arc::clone(observer));
    }
    let rule = scheduled_rule(env, job).await?;
    let point_id = uuid::Uuid::new_v4().to_string();
    let plan_rule = job
        .backup_plan_name
        .as_deref()
        .zip(job.backup_rule_name.as_deref());
    let tags =
        coffer_drivers::snapshot_tags(&job.resource_arn, &point_id, &job.backup_job_id, plan_rule);
    let created = env.now();
    let started = Instant::now();
    let scratch: PathBuf = env.config.home().join("tmp");
    let outcome = coffer_drivers::backup(&resource, &opened, tags, &scratch).await;
    if let Some(observer) = &options.observer {
        observer.done();
    }
    let outcome = outcome?;
    let mut tags = resource.tags.clone();
    if let Some(rule) = &rule {
        for (key, value) in rule.recovery_point_tags.iter() {
            tags.insert(key.clone(), value.clone());
        }
    }
    let lifecycle = job.lifecycle;
    let point = RecoveryPoint {
        recovery_point_id: point_id.clone(),
        recovery_point_arn: Arn::recovery_point(&vault.region, &vault.account_id, &point_id)
            .to_string(),
        backup_vault_name: vault.backup_vault_name.clone(),
        backup_vault_arn: vault.backup_vault_arn.to_string(),
        resource_arn: job.resource_arn.clone(),
        resource_type: resource.resource_type,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: created,
        completion_date: Some(env.now()),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(created, &lifecycle),
        lifecycle,
        backup_size_in_bytes: outcome.bytes,
        is_encrypted: true,
        encryption_key_arn: vault.encryption_key_arn.as_ref().map(ToString::to_string),
        created_by_job_id: Some(job.backup_job_id.clone()),
        created_by_backup_plan_name: job.backup_plan_name.clone(),
        created_by_backup_rule_name: job.backup_rule_name.clone(),
        source_recovery_point_arn: None,
        content_sha256: Some(outcome.content_sha256.clone()),
        tags,
        snapshot_id: Some(outcome.snapshot_id.clone()),
        storage_location: None,
        bytes_added: outcome.bytes_added,
        stored_bytes: outcome.stored_bytes,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        manifest: outcome.manifest,
    };
    Ok((describe_in_snapshot(&opened, point).await, outcome.warnings))
}

/// Writes the point's record (JSON; a point holds no secret) into its
/// snapshot's description, so the vault alone can rebuild it; the point
/// returned names the rewritten snapshot. The record is written before
/// the catalog's row, so a crash in between leaves a snapshot of a job
/// that ended without it. A failure leaves the snapshot as it was, and
/// adoption then rebuilds the point from its tags.
pub async fn describe_in_snapshot(
    opened: &coffer_drivers::Vault,
    mut point: RecoveryPoint,
) -> RecoveryPoint {
    let Some(snapshot) = point.snapshot_id.clone() else {
        return point;
    };
    let record = RecoveryPoint {
        snapshot_id: None,
        ..point.clone()
    };
    let text = match serde_json::to_string(&record) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!(recovery_point = %point.recovery_point_id, %error, "cannot write the point's record into its snapshot");
            return point;
        }
    };
    let opened = opened.clone();
    match tokio::task::spawn_blocking(move || {
        opened
            .storage
            .describe_snapshot(&opened.secret, &snapshot, &text)
    })
    .await
    {
        Ok(Ok(id)) => point.snapshot_id = Some(id),
        Ok(Err(error)) => {
            tracing::warn!(recovery_point = %point.recovery_point_id, %error, "cannot write the point's record into its snapshot")
        }
        Err(error) => {
            tracing::warn!(recovery_point = %point.recovery_point_id, %error, "cannot write the point's record into its snapshot")
        }
    }
    point
}

/// The rule a scheduled job was created for, if it still exists.
///
/// # Errors
/// Catalog errors.
pub async fn scheduled_rule(
    env: &Env,
    job: &BackupJob,
) -> Result<Option<coffer_model::BackupRule>> {
    let (Some(plan_name), Some(rule_name)) = (&job.backup_plan_name, &job.backup_rule_name) else {
        return Ok(None);
    };
    // Plan names are unique per account and region only.
    let Some(plan) = env
        .catalog
        .object::<BackupPlan>(
            coffer_catalog::ObjectKind::BackupPlan,
            &job.account_id,
            &job.region,
            plan_name,
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(plan.rules.into_iter().find(|r| &r.rule_name == rule_name))
}

/// A new copy job of `source` into the vault `destination`: CREATED, for
/// the daemon to run, or with `run_here` already RUNNING in this process
/// (the daemon never takes it), for [`run_copy`] to carry out now.
///
/// # Errors
/// A source that is not a completed point, the point's own vault, a
/// lifecycle the destination's lock refuses... are errors before any job
/// is recorded; catalog errors.
pub async fn create_copy_job(
    env: &Env,
    id: String,
    source: &RecoveryPoint,
    destination: &BackupVault,
    lifecycle: Lifecycle,
    run_here: bool,
) -> Result<CopyJob> {
    if source.status != RecoveryPointStatus::Completed {
        return Err(Error::NotCopyable {
            id: source.recovery_point_id.clone(),
            status: format!("{:?}", source.status).to_uppercase(),
        });
    }
    if destination.backup_vault_arn.to_string() == source.backup_vault_arn {
        return Err(Error::SameVault {
            vault: destination.backup_vault_name.clone(),
        });
    }
    let job = CopyJob {
        copy_job_id: id,
        account_id: destination.account_id.to_string(),
        region: destination.region.to_string(),
        source_backup_vault_arn: source.backup_vault_arn.clone(),
        source_recovery_point_arn: source.recovery_point_arn.clone(),
        destination_backup_vault_arn: destination.backup_vault_arn.to_string(),
        destination_recovery_point_arn: None,
        resource_arn: source.resource_arn.clone(),
        resource_type: source.resource_type,
        state: if run_here {
            CopyJobState::Running
        } else {
            CopyJobState::Created
        },
        status_message: None,
        creation_date: env.now(),
        completion_date: None,
        created_by_backup_job_id: source.created_by_job_id.clone(),
        lifecycle,
        backup_size_in_bytes: 0,
        runner: run_here.then(this_runner),
    };
    env.catalog.insert(&job, env.now()).await?;
    Ok(job)
}

/// Runs the copy job `id` (CREATED, or RUNNING in this process): the source point's snapshot is copied
/// into the destination vault (only missing chunks, re-encrypted) and
/// recorded as a recovery point of its own there.
///
/// # Errors
/// Only when the catalog fails; a failed copy is a FAILED job, returned.
pub async fn run_copy(env: &Env, id: &str) -> Result<CopyJob> {
    let job = fetch::<CopyJob>(env, id).await?.record;
    // The claim: a CREATED job, or one this process created RUNNING.
    let mine = this_runner();
    transition(
        env,
        id,
        CopyJobState::Running,
        |s| {
            s == CopyJobState::Created
                || (s == CopyJobState::Running && job.runner.as_deref() == Some(mine.as_str()))
        },
        |j: &mut CopyJob| j.runner = Some(mine.clone()),
    )
    .await?;
    tracing::info!(job = id, source = %job.source_recovery_point_arn, destination = %job.destination_backup_vault_arn, "copy started");
    match copy_attempt(env, &job).await {
        Ok(point) => {
            env.catalog.insert(&point, env.now()).await?;
            let done = set_copy_state(env, id, CopyJobState::Completed, |j| {
                j.destination_recovery_point_arn = Some(point.recovery_point_arn.clone());
                j.backup_size_in_bytes = point.backup_size_in_bytes;
            })
            .await?;
            tracing::info!(job = id, recovery_point = %point.recovery_point_id, "copy completed");
            Ok(done)
        }
        Err(error) => {
            tracing::warn!(job = id, error = %error, "copy failed");
            set_copy_state(env, id, CopyJobState::Failed, |j| {
                j.status_message = Some(error.to_string());
            })
            .await
        }
    }
}

async fn copy_attempt(env: &Env, job: &CopyJob) -> Result<RecoveryPoint> {
    let point_id_of_source = RecoveryPoint::id_of(&job.source_recovery_point_arn);
    let source = env
        .catalog
        .get::<RecoveryPoint>(point_id_of_source)
        .await?
        .ok_or_else(|| Error::Missing {
            what: "recovery point",
            name: job.source_recovery_point_arn.clone(),
            hint:
                "; it was deleted before the copy ran: copy a newer recovery point of the resource"
                    .into(),
        })?
        .record;
    if source.status != RecoveryPointStatus::Completed {
        return Err(Error::NotCopyable {
            id: source.recovery_point_id.clone(),
            status: format!("{:?}", source.status).to_uppercase(),
        });
    }
    let source_vault = env.vault_by_arn(&job.source_backup_vault_arn).await?;
    let dest_vault = env.vault_by_arn(&job.destination_backup_vault_arn).await?;
    if let Some(error) = lock_refusal(&dest_vault, &job.lifecycle) {
        return Err(error);
    }
    let from = env.open_point(&source_vault, &source).await?;
    let to = env.open_vault(&dest_vault).await?;
    let described = to.clone();
    let snapshot = source
        .snapshot_id
        .clone()
        .ok_or_else(|| Error::NoSnapshot {
            id: source.recovery_point_id.clone(),
        })?;
    let point_id = uuid::Uuid::new_v4().to_string();
    let mut tags =
        coffer_drivers::snapshot_tags(&source.resource_arn, &point_id, &job.copy_job_id, None);
    tags.push(format!("coffer-copied-from:{}", source.recovery_point_id));
    let created = env.now();
    let started = Instant::now();
    let (info, stored_bytes) = tokio::task::spawn_blocking(move || {
        let info =
            from.storage
                .copy_snapshot(&from.secret, &snapshot, &to.storage, &to.secret, &tags)?;
        let stored = to.storage.stored_bytes(&to.secret, &info.id)?;
        Ok::<_, StorageError>((info, stored))
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    let lifecycle = job.lifecycle;
    let point = RecoveryPoint {
        recovery_point_id: point_id.clone(),
        recovery_point_arn: Arn::recovery_point(
            &dest_vault.region,
            &dest_vault.account_id,
            &point_id,
        )
        .to_string(),
        backup_vault_name: dest_vault.backup_vault_name.clone(),
        backup_vault_arn: dest_vault.backup_vault_arn.to_string(),
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: created,
        completion_date: Some(env.now()),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(created, &lifecycle),
        lifecycle,
        encryption_key_arn: dest_vault
            .encryption_key_arn
            .as_ref()
            .map(ToString::to_string),
        created_by_job_id: Some(job.copy_job_id.clone()),
        source_recovery_point_arn: Some(source.recovery_point_arn.clone()),
        snapshot_id: Some(info.id.clone()),
        storage_location: None,
        bytes_added: info.bytes_added,
        stored_bytes,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        ..source
    };
    Ok(describe_in_snapshot(&described, point).await)
}

/// Removes a recovery point's data: the point is marked DELETING, its
/// snapshot deleted, and the record kept as DELETED with `reason`. The
/// caller has had the guard allow it.
///
/// # Errors
/// When the vault cannot be opened or the snapshot not deleted: the point
/// then stays DELETING, and the error says so.
pub async fn remove_data(
    env: &Env,
    mut point: RecoveryPoint,
    version: i64,
    vault: &BackupVault,
    reason: Option<String>,
) -> Result<()> {
    point.status = RecoveryPointStatus::Deleting;
    let version = env.catalog.update(&point, version, env.now()).await?;
    if let Some(snapshot) = point.snapshot_id.clone() {
        let stays = |message: String| Error::StaysDeleting {
            id: point.recovery_point_id.clone(),
            message,
        };
        let opened = env
            .open_point(vault, &point)
            .await
            .map_err(|e| stays(e.to_string()))?;
        let deleted = tokio::task::spawn_blocking(move || {
            opened.storage.delete_snapshot(&opened.secret, &snapshot)
        })
        .await
        .map_err(|e| stays(e.to_string()))?;
        match deleted {
            Ok(()) | Err(StorageError::NoSnapshot { .. }) => {}
            Err(e) => return Err(stays(e.to_string())),
        }
    }
    point.status = RecoveryPointStatus::Deleted;
    point.storage_class = StorageClass::Deleted;
    point.status_message = reason;
    env.catalog.update(&point, version, env.now()).await?;
    Ok(())
}
