//! Restore jobs (StartRestoreJob) and restore validations: a recovery
//! point restored to a new place, or read back into a scratch target and
//! compared with what was recorded.

pub use coffer_drivers::RestoreTarget;
use coffer_drivers::{RestoreOutcome, Validation};
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
    /// FAILED, with the reason recorded on the job; `target_exists` when
    /// it was refused because its target exists (a forced restore
    /// replaces it).
    Failed {
        message: String,
        target_exists: bool,
    },
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
        RestoreTarget::Bucket(bucket) => {
            let mut words = format!("s3://{}/{}", bucket.bucket, bucket.prefix);
            if let Some(endpoint) = &bucket.endpoint {
                words.push_str(&format!(" on endpoint {endpoint}"));
            }
            if let Some(select) = &bucket.select {
                words.push_str(&format!(" (only keys starting with {select})"));
            }
            words
        }
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
    /// Every change goes through the engine's state setter: checked
    /// against the restore state machine, written at the version read,
    /// the runner recorded when it starts.
    async fn set(
        &mut self,
        status: RestoreJobStatus,
        change: impl FnOnce(&mut RestoreJob),
    ) -> Result<()> {
        self.job = coffer_engine::jobs::set_restore_state(
            self.service.env(),
            &self.job.restore_job_id,
            status,
            change,
        )
        .await?;
        Ok(())
    }

    async fn fail(&mut self, message: String) -> Result<()> {
        self.set(RestoreJobStatus::Failed, |job| {
            if job.validation_status.is_some() {
                job.validation_status = Some(ValidationStatus::Failed);
                job.validation_status_message = Some(message.clone());
            }
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
        target: Option<String>,
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
        let job = coffer_engine::jobs::create_restore_job(
            &self.env_for(caller),
            &point,
            validating,
            target,
        )
        .await?;
        Ok(RestoreRun {
            service: self,
            job,
            point,
        })
    }

    /// Where validations restore to: the home's `tmp/`.
    fn scratch(&self) -> std::path::PathBuf {
        self.config().home().join("tmp")
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
        target: &RestoreTarget,
    ) -> Result<RestoreRun<'_>> {
        let point = self.recovery_point(recovery_point).await?.record;
        if point.status != RecoveryPointStatus::Completed {
            return Err(Error::invalid_request(format!(
                "recovery point {} is {:?}; only a completed recovery point can be restored",
                point.recovery_point_id, point.status
            )));
        }
        self.create_restore_job(caller, point, false, Some(describe_target(target)))
            .await
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
        let prepared = match self.opened(&run.point).await {
            Ok((resource, opened)) => self
                .resolved_target(&resource, &args.target)
                .await
                .map(|target| (resource, opened, target)),
            Err(error) => Err(error),
        };
        let (resource, mut opened, target) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                return Ok(RestoreEnd::Failed {
                    message,
                    target_exists: false,
                });
            }
        };
        run.set(RestoreJobStatus::Running, |_| {}).await?;
        if let Some(observer) = observer {
            opened.storage = opened.storage.with_observer(observer);
        }
        match coffer_drivers::restore(&run.point, &resource, &opened, &target, args.force).await {
            Ok(outcome) => {
                // AWS's CreatedResourceArn: the target's ARN when it has
                // one (a bucket), else the restored place in words.
                let created = target
                    .created_resource_arn()
                    .unwrap_or_else(|| outcome.created.clone());
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
                Ok(RestoreEnd::Failed {
                    message,
                    target_exists: error.is_target_exists(),
                })
            }
        }
    }

    /// Starts a restore job and carries it out in the background of this
    /// process, as the caller (what `coffer serve` does for
    /// StartRestoreJob): returns the job as recorded (PENDING); it goes
    /// RUNNING, then COMPLETED or FAILED, as [`Service::run_restore_job`]
    /// takes it. A process that stops meanwhile leaves it RUNNING, and the
    /// next start settles it FAILED naming its target.
    ///
    /// # Errors
    /// As [`Service::start_restore_job`]; `ServiceUnavailable` when no
    /// thread can be started for it (the job is then FAILED).
    pub async fn start_restore_job_in_background(
        &self,
        caller: &Caller,
        args: StartRestore,
    ) -> Result<RestoreJob> {
        let mut run = self
            .start_restore_job(caller, &args.recovery_point, &args.target)
            .await?;
        let (job, point) = (run.job.clone(), run.point.clone());
        let service = self.acting_as(caller);
        let handle = tokio::runtime::Handle::current();
        // Its own thread, driven by this runtime: the restore's future is
        // made and run there, so it need not be sendable between threads.
        let spawned = std::thread::Builder::new()
            .name(format!("restore {}", job.restore_job_id))
            .spawn({
                let job = job.clone();
                move || handle.block_on(restore_detached(service, job, point, args))
            });
        if let Err(error) = spawned {
            let message = format!("no thread could be started for the restore: {error}");
            run.fail(message.clone()).await?;
            return Err(Error::new(crate::ErrorKind::ServiceUnavailable, message));
        }
        Ok(job)
    }

    /// The target with what the driver needs resolved: a bucket on
    /// another S3 endpoint gets that endpoint's settings and credentials,
    /// from config.toml's `[s3_endpoints]` or, failing that, from the
    /// inventory's `s3_endpoints` of the resource's account and region.
    async fn resolved_target(
        &self,
        resource: &coffer_model::Resource,
        target: &RestoreTarget,
    ) -> Result<RestoreTarget> {
        let RestoreTarget::Bucket(bucket) = target else {
            return Ok(target.clone());
        };
        let Some(name) = &bucket.endpoint else {
            return Ok(target.clone());
        };
        if bucket.access.is_some()
            || resource.connection.get("endpoint").map(String::as_str) == Some(name.as_str())
        {
            return Ok(target.clone());
        }
        let declared = match self.config().s3_endpoint(name) {
            Some(endpoint) => Some(endpoint.clone()),
            None => {
                self.catalog()
                    .object::<coffer_model::S3Endpoint>(
                        coffer_catalog::ObjectKind::S3Endpoint,
                        resource.account_id.as_str(),
                        resource.region.as_str(),
                        name,
                    )
                    .await?
            }
        };
        let Some(endpoint) = declared else {
            return Err(Error::invalid_parameter(format!(
                "S3 endpoint {name:?} is declared neither in config.toml's [s3_endpoints] nor in the inventory's s3_endpoints of {} {}; declare it (or restore on the source's endpoint {})",
                resource.account_id,
                resource.region,
                resource.connection.get("endpoint").map_or("", String::as_str)
            )));
        };
        let access = coffer_engine::env::s3_access(name, &endpoint)?;
        let mut resolved = bucket.clone();
        resolved.access = Some(access);
        Ok(RestoreTarget::Bucket(resolved))
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
        // Where it restores to, when the resource is known now (named by
        // the reason if the validation is interrupted).
        let place = match self.resource(&point.resource_arn).await {
            Ok(resource) => coffer_drivers::validation_scratch(&point, &resource, &self.scratch()),
            Err(_) => None,
        };
        self.create_restore_job(caller, point, true, place).await
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
        let validation =
            match coffer_drivers::validate(&run.point, &resource, &opened, &self.scratch()).await {
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

/// Carries out a restore job started by
/// [`Service::start_restore_job_in_background`], logging how it ended.
async fn restore_detached(
    service: Service,
    job: RestoreJob,
    point: RecoveryPoint,
    args: StartRestore,
) {
    let id = job.restore_job_id.clone();
    let mut run = RestoreRun {
        service: &service,
        job,
        point,
    };
    match service.run_restore_job(&mut run, &args, None).await {
        Ok(RestoreEnd::Completed(outcome)) => {
            tracing::info!(restore_job_id = %id, created = %outcome.created, "restore completed");
        }
        Ok(RestoreEnd::Failed { message, .. }) => {
            tracing::warn!(restore_job_id = %id, reason = %message, "restore failed");
        }
        Err(error) => {
            tracing::error!(restore_job_id = %id, %error, "the restore's end could not be recorded");
        }
    }
}
