//! Restore jobs (restores and validations) and report jobs as engine jobs:
//! recorded through the state setter backup and copy jobs use (checked
//! transitions, written at the version read, the completion time from the
//! environment's clock), with the process running them (`PID@HOST`), and
//! settled when that process is gone: a RUNNING restore, validation or
//! delivery whose process died ends FAILED, its reason naming what it may
//! have left (a partial restore target, a scratch copy, a delivery without
//! `manifest.json`).

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use coffer_model::{
    RecoveryPoint, ReportJob, ReportJobStatus, ReportPlan, RestoreJob, RestoreJobStatus,
    ValidationStatus,
};
use jiff::Timestamp;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::exec::{self, Job};

/// The restore and report jobs this process is running: never settled as
/// dead by it (its runner is this very process, which `runner_is_gone`
/// takes for a restarted PID).
static IN_FLIGHT: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Mutex::default);

fn in_flight() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps the set of this process's jobs in step with a job's state.
pub(crate) fn track(id: &str, terminal: bool) {
    if terminal {
        in_flight().remove(id);
    } else {
        in_flight().insert(id.to_string());
    }
}

impl Job for RestoreJob {
    type State = RestoreJobStatus;
    fn state(&self) -> RestoreJobStatus {
        self.status
    }
    fn allows(from: RestoreJobStatus, to: RestoreJobStatus) -> bool {
        from.can_transition_to(to)
    }
    fn enter(&mut self, state: RestoreJobStatus, now: Timestamp) {
        self.status = state;
        if state.is_terminal() {
            self.completion_date = Some(now);
        }
    }
}

impl Job for ReportJob {
    type State = ReportJobStatus;
    fn state(&self) -> ReportJobStatus {
        self.status
    }
    fn allows(from: ReportJobStatus, to: ReportJobStatus) -> bool {
        from.can_transition_to(to)
    }
    fn enter(&mut self, state: ReportJobStatus, now: Timestamp) {
        self.status = state;
        if state.is_terminal() {
            self.completion_time = Some(now);
        }
    }
}

/// A new PENDING restore job of `point` (a validation when `validating`,
/// with ValidationStatus VALIDATING), recorded before anything is
/// restored; `target` says in words where it restores (for a validation,
/// its scratch place), so a crash's reason can name it.
///
/// # Errors
/// A recovery point whose ARN cannot be read; catalog errors.
pub async fn create_restore_job(
    env: &Env,
    point: &RecoveryPoint,
    validating: bool,
    target: Option<String>,
    metadata: std::collections::BTreeMap<String, String>,
) -> Result<RestoreJob> {
    let arn = coffer_model::Arn::parse(&point.recovery_point_arn).map_err(|e| Error::PointArn {
        arn: point.recovery_point_arn.clone(),
        message: e.to_string(),
    })?;
    let now = env.now();
    let job = RestoreJob {
        restore_job_id: exec::new_job_id(),
        account_id: arn.account().to_string(),
        region: arn.region().to_string(),
        recovery_point_arn: point.recovery_point_arn.clone(),
        status: RestoreJobStatus::Pending,
        status_message: None,
        creation_date: now,
        completion_date: None,
        created_resource_arn: None,
        resource_type: point.resource_type,
        percent_done: 0,
        validation_status: validating.then_some(ValidationStatus::Validating),
        validation_status_message: None,
        restore_target: target,
        restore_metadata: metadata,
        runner: None,
        created_by: None,
        deletion_status: None,
        deletion_status_message: None,
        restore_duration_millis: None,
    };
    env.catalog.insert(&job, now).await?;
    Ok(job)
}

/// Moves a restore job to `to` (checked against its state machine;
/// staying in a state is allowed) with `change` in the same write, at the
/// version read; going RUNNING records this process as its runner, and a
/// terminal state its completion date from the environment's clock.
///
/// # Errors
/// `InvalidTransition`, `Conflict`, `NotFound`, catalog errors.
pub async fn set_restore_state(
    env: &Env,
    id: &str,
    to: RestoreJobStatus,
    change: impl FnOnce(&mut RestoreJob),
) -> Result<RestoreJob> {
    let job = exec::set_state(env, id, to, |j: &mut RestoreJob| {
        if to == RestoreJobStatus::Running {
            j.runner = Some(exec::this_runner());
        }
        change(j);
    })
    .await?;
    track(id, to.is_terminal());
    Ok(job)
}

/// A new report job of `plan` in an account and region, RUNNING in this
/// process (its runner) from the start: a delivery is recorded before any
/// file is written.
///
/// # Errors
/// Catalog errors.
pub async fn create_report_job(
    env: &Env,
    plan: &ReportPlan,
    account_id: &str,
    region: &str,
) -> Result<ReportJob> {
    create_report_job_with_id(env, plan, account_id, region, exec::new_job_id()).await
}

/// [`create_report_job`] with the job's ID given: a scheduled run's is
/// derived from the plan and fire time, so the catalog refuses a second
/// job for one fire time (as it refuses a second scheduled backup job).
///
/// # Errors
/// Catalog errors, a job with this ID already recorded among them.
pub async fn create_report_job_with_id(
    env: &Env,
    plan: &ReportPlan,
    account_id: &str,
    region: &str,
    id: String,
) -> Result<ReportJob> {
    let now = env.now();
    let job = ReportJob {
        report_job_id: id,
        account_id: account_id.to_string(),
        region: region.to_string(),
        report_plan_name: plan.report_plan_name.clone(),
        report_template: plan.report_setting.report_template.clone(),
        status: ReportJobStatus::Running,
        status_message: None,
        creation_time: now,
        completion_time: None,
        report_destination: None,
        manifest_sha256: None,
        s3_bucket_name: None,
        s3_keys: Vec::new(),
        runner: Some(exec::this_runner()),
    };
    env.catalog.insert(&job, now).await?;
    track(&job.report_job_id, false);
    Ok(job)
}

/// Moves a report job to `to` (checked; staying RUNNING is allowed, to
/// record its destination before files are written) with `change` in the
/// same write, at the version read; a terminal state gets its completion
/// time from the environment's clock.
///
/// # Errors
/// `InvalidTransition`, `Conflict`, `NotFound`, catalog errors.
pub async fn set_report_state(
    env: &Env,
    id: &str,
    to: ReportJobStatus,
    change: impl FnOnce(&mut ReportJob),
) -> Result<ReportJob> {
    let job = exec::set_state(env, id, to, change).await?;
    track(id, to.is_terminal());
    Ok(job)
}

/// Why a restore or validation whose process died ends FAILED, naming
/// the process and what it may have left.
pub fn restore_interrupted(job: &RestoreJob) -> String {
    let process = job.runner.as_deref().unwrap_or("unknown");
    if job.validation_status.is_some() {
        let left = match &job.restore_target {
            Some(scratch) => format!("{scratch} may be left behind: remove it"),
            None => "a scratch copy may be left behind".into(),
        };
        format!(
            "interrupted: the process running this validation ({process}) stopped (a crash or kill) before it finished; {left}, then validate again"
        )
    } else {
        let target = job
            .restore_target
            .as_deref()
            .unwrap_or("the restore target");
        format!(
            "interrupted: the process running this restore ({process}) stopped (a crash or kill) before it finished; {target} may hold a partial restore: check it or remove it, then restore again (a forced restore writes over it)"
        )
    }
}

/// Why a report delivery whose process died ends FAILED, naming the
/// process and what the delivery may have left.
pub fn report_interrupted(job: &ReportJob) -> String {
    let process = job.runner.as_deref().unwrap_or("unknown");
    let left = match &job.report_destination {
        Some(destination) => format!(
            "{destination} may hold part of the delivery without manifest.json (`coffer verify` reports it): remove it"
        ),
        None => "no file was known to be written".into(),
    };
    format!(
        "interrupted: the process delivering this report ({process}) stopped (a crash or kill) before the delivery was complete; {left}, then run the report again"
    )
}

/// Whether a restore or report job is left by a dead process: RUNNING,
/// not run by this process, and its runner gone.
pub(crate) fn left_by_dead(id: &str, runner: Option<&str>) -> bool {
    !in_flight().contains(id) && exec::runner_is_gone(runner)
}

/// Ends FAILED every RUNNING restore, validation and report job whose
/// process is gone (each with the reason saying what it may have left);
/// returns the jobs settled. A job this process runs is never touched.
///
/// # Errors
/// Catalog errors reading the jobs; a job that cannot be settled (someone
/// else wrote it meanwhile) is logged and left for the next pass.
pub async fn settle_dead_jobs(env: &Env) -> Result<Vec<String>> {
    let mut settled = Vec::new();
    let running = RestoreJobStatus::Running;
    for stored in env
        .catalog
        .list::<RestoreJob>(&[("status", "RUNNING")])
        .await?
    {
        let job = stored.record;
        if job.status != running || !left_by_dead(&job.restore_job_id, job.runner.as_deref()) {
            continue;
        }
        let reason = restore_interrupted(&job);
        let validating = job.validation_status.is_some();
        let id = job.restore_job_id.clone();
        match exec::transition(
            env,
            &id,
            RestoreJobStatus::Failed,
            |s| s == running,
            |j: &mut RestoreJob| {
                j.status_message = Some(reason.clone());
                if validating {
                    j.validation_status = Some(ValidationStatus::Failed);
                    j.validation_status_message = Some(reason.clone());
                }
            },
        )
        .await
        {
            Ok(_) => {
                tracing::warn!(job = %id, reason = %reason, "interrupted restore job settled");
                settled.push(id);
            }
            Err(error) => {
                tracing::error!(job = %id, %error, "cannot settle an interrupted restore job")
            }
        }
    }
    for stored in env
        .catalog
        .list::<ReportJob>(&[("status", ReportJobStatus::Running.as_str())])
        .await?
    {
        let job = stored.record;
        if job.status != ReportJobStatus::Running
            || !left_by_dead(&job.report_job_id, job.runner.as_deref())
        {
            continue;
        }
        let reason = report_interrupted(&job);
        let id = job.report_job_id.clone();
        match exec::transition(
            env,
            &id,
            ReportJobStatus::Failed,
            |s| s == ReportJobStatus::Running,
            |j: &mut ReportJob| j.status_message = Some(reason.clone()),
        )
        .await
        {
            Ok(_) => {
                tracing::warn!(job = %id, reason = %reason, "interrupted report job settled");
                settled.push(id);
            }
            Err(error) => {
                tracing::error!(job = %id, %error, "cannot settle an interrupted report job")
            }
        }
    }
    Ok(settled)
}
