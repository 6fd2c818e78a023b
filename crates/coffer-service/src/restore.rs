//! Restore jobs (StartRestoreJob) and restore validations: a recovery
//! point restored to a new place, or read back into a scratch target and
//! compared with what was recorded.

use coffer_drivers::{RestoreOutcome, RestoreTarget, Validation};
use coffer_model::{
    RecoveryPoint, RecoveryPointStatus, RestoreJob, RestoreJobStatus, ValidationStatus,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// What StartRestoreJob asks.
#[derive(Clone, Debug)]
pub struct StartRestore {
    /// The recovery point's ARN or ID.
    pub recovery_point: String,
    pub target: RestoreTarget,
    /// Replace an existing target (files, database or table).
    pub force: bool,
}

/// A restore job's end.
#[derive(Debug)]
pub enum RestoreEnd {
    Completed(RestoreOutcome),
    /// FAILED, with the reason recorded on the job.
    Failed(String),
}

/// A validation job's end.
#[derive(Debug)]
pub enum ValidationEnd {
    /// The data was read back: what was checked and what was wrong.
    Checked(Validation),
    /// The job FAILED before it could compare, with the reason.
    Failed(String),
}

/// How a target is described in messages and records.
pub fn describe_target(target: &RestoreTarget) -> String {
    match target {
        RestoreTarget::Directory { path, select } => match select {
            Some(select) => format!("{} (only {select})", path.display()),
            None => path.display().to_string(),
        },
        RestoreTarget::File { path } => path.display().to_string(),
        RestoreTarget::Database { name, table } => match table {
            Some(table) => format!("database {name} (only table {table})"),
            None => format!("database {name}"),
        },
    }
}

/// A restore job being carried out: every change goes through one state
/// setter, checked against the restore state machine.
#[derive(Debug)]
pub struct RestoreRun<'a> {
    service: &'a Service,
    pub job: RestoreJob,
    pub point: RecoveryPoint,
}

impl RestoreRun<'_> {
    async fn set(
        &mut self,
        status: RestoreJobStatus,
        change: impl FnOnce(&mut RestoreJob),
    ) -> Result<()> {
        let catalog = self.service.catalog();
        let id = self.job.restore_job_id.clone();
        let stored = catalog.get::<RestoreJob>(&id).await?.ok_or_else(|| {
            Error::not_found(format!("restore job {id} vanished from the catalog"))
        })?;
        let mut job = stored.record;
        let before = job.status;
        job.status = status;
        change(&mut job);
        if job.status != before {
            if !before.can_transition_to(job.status) {
                return Err(Error::conflict(format!(
                    "restore job {id} cannot go from {before:?} to {:?}",
                    job.status
                )));
            }
            if job.status.is_terminal() {
                job.completion_date = Some(self.service.now());
            }
        }
        catalog
            .update(&job, stored.version, self.service.now())
            .await?;
        self.job = job;
        Ok(())
    }

    async fn fail(&mut self, message: String) -> Result<()> {
        self.set(RestoreJobStatus::Failed, |job| {
            job.status_message = Some(message);
        })
        .await
    }
}

impl Service {
    async fn create_restore_job(
        &self,
        caller: &Caller,
        point: RecoveryPoint,
        validating: bool,
    ) -> Result<RestoreRun<'_>> {
        let vault = self.vault_of_point(&point).await?;
        self.authorize(
            caller,
            Action::StartRestoreJob,
            Target::Point {
                arn: &point.recovery_point_arn,
                vault: &vault,
            },
        )?;
        let arn = coffer_model::Arn::parse(&point.recovery_point_arn).map_err(|e| {
            Error::dependency(format!(
                "recovery point {}: its ARN cannot be read: {e}",
                point.recovery_point_id
            ))
        })?;
        let now = self.now();
        let job = RestoreJob {
            restore_job_id: coffer_engine::exec::new_job_id(),
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
        };
        self.catalog().insert(&job, now).await?;
        Ok(RestoreRun {
            service: self,
            job,
            point,
        })
    }

    /// The point's resource and its vault, opened (the cold tier's
    /// location for a point in cold storage).
    async fn opened(
        &self,
        point: &RecoveryPoint,
    ) -> Result<(coffer_model::Resource, coffer_drivers::Vault)> {
        let resource = self.resource(&point.resource_arn).await?;
        let vault = self.vault_of_point(point).await?;
        let opened = self.env().open_point(&vault, point).await?;
        Ok((resource, opened))
    }

    /// Records a restore job of a completed recovery point (PENDING).
    ///
    /// # Errors
    /// `ResourceNotFound`, `AccessDenied`, `InvalidRequest` for a point that
    /// is not completed.
    pub async fn start_restore_job(
        &self,
        caller: &Caller,
        recovery_point: &str,
    ) -> Result<RestoreRun<'_>> {
        let point = self.recovery_point(recovery_point).await?.record;
        if point.status != RecoveryPointStatus::Completed {
            return Err(Error::invalid_request(format!(
                "recovery point {} is {:?}; only a completed recovery point can be restored",
                point.recovery_point_id, point.status
            )));
        }
        self.create_restore_job(caller, point, false).await
    }

    /// Carries out a restore job made by [`Service::start_restore_job`]:
    /// RUNNING, then COMPLETED with what it created, or FAILED with the
    /// reason. `observer` hears the bytes as they are restored.
    ///
    /// # Errors
    /// Catalog failures only; a failed restore is a [`RestoreEnd::Failed`].
    pub async fn run_restore_job(
        &self,
        run: &mut RestoreRun<'_>,
        args: &StartRestore,
        observer: Option<std::sync::Arc<dyn coffer_vault::Observer>>,
    ) -> Result<RestoreEnd> {
        let (resource, mut opened) = match self.opened(&run.point).await {
            Ok(found) => found,
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                return Ok(RestoreEnd::Failed(message));
            }
        };
        run.set(RestoreJobStatus::Running, |_| {}).await?;
        if let Some(observer) = observer {
            opened.storage = opened.storage.with_observer(observer);
        }
        match coffer_drivers::restore(&run.point, &resource, &opened, &args.target, args.force)
            .await
        {
            Ok(outcome) => {
                let created = outcome.created.clone();
                run.set(RestoreJobStatus::Completed, |job| {
                    job.percent_done = 100;
                    job.created_resource_arn = Some(created);
                })
                .await?;
                Ok(RestoreEnd::Completed(outcome))
            }
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                Ok(RestoreEnd::Failed(message))
            }
        }
    }

    /// Records a validation job of a recovery point (PENDING, validating).
    ///
    /// # Errors
    /// `ResourceNotFound`, `AccessDenied`.
    pub async fn start_validation_job(
        &self,
        caller: &Caller,
        recovery_point: &str,
    ) -> Result<RestoreRun<'_>> {
        let point = self.recovery_point(recovery_point).await?.record;
        self.create_restore_job(caller, point, true).await
    }

    /// Carries out a validation job: the point read back into a scratch
    /// target under the home's `tmp/` (dropped afterwards) and compared with
    /// what was recorded; COMPLETED with ValidationStatus SUCCESSFUL or
    /// FAILED, or FAILED when it could not compare.
    ///
    /// # Errors
    /// Catalog failures only.
    pub async fn run_validation_job(&self, run: &mut RestoreRun<'_>) -> Result<ValidationEnd> {
        let (resource, opened) = match self.opened(&run.point).await {
            Ok(found) => found,
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                return Ok(ValidationEnd::Failed(message));
            }
        };
        run.set(RestoreJobStatus::Running, |_| {}).await?;
        let scratch = self.config().home().join("tmp");
        let validation =
            match coffer_drivers::validate(&run.point, &resource, &opened, &scratch).await {
                Ok(validation) => validation,
                Err(error) => {
                    let message = error.to_string();
                    run.fail(message.clone()).await?;
                    return Ok(ValidationEnd::Failed(message));
                }
            };
        let passed = validation.passed();
        let message = if passed {
            validation.checked.join("; ")
        } else {
            validation.problems.join("; ")
        };
        run.set(RestoreJobStatus::Completed, |job| {
            job.percent_done = 100;
            job.validation_status = Some(if passed {
                ValidationStatus::Successful
            } else {
                ValidationStatus::Failed
            });
            job.validation_status_message = Some(message);
        })
        .await?;
        Ok(ValidationEnd::Checked(validation))
    }
}
