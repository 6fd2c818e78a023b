//! Backup and copy jobs on demand (StartBackupJob, StartCopyJob), run by
//! the engine as the scheduler runs scheduled ones, or queued for it.

use coffer_engine::exec::{self, BackupOptions};
use coffer_model::{
    BackupJob, BackupJobState, BackupVault, CopyJob, Lifecycle, RecoveryPoint, Resource,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// AWS's default StartWindowMinutes for StartBackupJob.
pub const DEFAULT_START_WINDOW_MINUTES: i64 = 8 * 60;

/// How often a job waiting behind another backup of its resource looks
/// again.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// A lifecycle as a request gives it: both fields optional.
///
/// # Errors
/// `InvalidParameterValue` when AWS's rules refuse it, saying what to change.
pub fn requested_lifecycle(
    cold_after_days: Option<u32>,
    delete_after_days: Option<u32>,
) -> Result<Lifecycle> {
    let lifecycle = Lifecycle {
        move_to_cold_storage_after_days: cold_after_days,
        delete_after_days,
        ..Lifecycle::default()
    };
    if let Some(finding) = lifecycle.validate().into_iter().next() {
        return Err(Error::invalid_parameter(format!(
            "the lifecycle is not valid: {finding}"
        )));
    }
    Ok(lifecycle)
}

/// What StartBackupJob asks.
#[derive(Clone, Debug)]
pub struct StartBackup {
    pub resource_arn: String,
    pub vault_name: String,
    pub lifecycle: Lifecycle,
    /// Queue the job for the scheduler (with AWS's default start window)
    /// instead of running it in the caller's process.
    pub queue: bool,
}

/// A backup job just created, with what it acts on.
#[derive(Clone, Debug)]
pub struct StartedBackup {
    pub job: BackupJob,
    pub resource: Resource,
    pub vault: BackupVault,
}

/// A backup job's end, with its recovery point when it completed.
#[derive(Clone, Debug)]
pub struct BackupDone {
    pub job: BackupJob,
    pub point: Option<RecoveryPoint>,
}

impl Service {
    /// Records an on-demand backup job (CREATED). A queued job gets AWS's
    /// default start window, and the scheduler starts it; one that is not
    /// queued has none, so only [`Service::run_backup_job`] runs it.
    ///
    /// # Errors
    /// `ResourceNotFound` for the resource or vault, `AccessDenied` (also
    /// for a resource of another account than the caller's).
    pub async fn start_backup_job(
        &self,
        caller: &Caller,
        args: StartBackup,
    ) -> Result<StartedBackup> {
        let resource = self.resource(&args.resource_arn).await?;
        if resource.account_id != caller.account {
            return Err(Error::access_denied(format!(
                "{} acts in account {}; resource {} is in account {}",
                caller.principal, caller.account, args.resource_arn, resource.account_id
            )));
        }
        let (account, region) = (resource.account_id.clone(), resource.region.clone());
        let vault = self
            .vault(account.as_str(), region.as_str(), &args.vault_name)
            .await?;
        self.authorize(caller, Action::StartBackupJob, Target::Vault(&vault))?;
        self.record_backup_job(caller, resource, vault, args.lifecycle, args.queue)
            .await
    }

    /// Records a backup job (CREATED) of `resource` into `vault`, both
    /// resolved and the caller authorized; see [`Service::start_backup_job`].
    ///
    /// # Errors
    /// Catalog failures.
    pub(crate) async fn record_backup_job(
        &self,
        caller: &Caller,
        resource: Resource,
        vault: BackupVault,
        lifecycle: Lifecycle,
        queue: bool,
    ) -> Result<StartedBackup> {
        let (account, region) = (resource.account_id.clone(), resource.region.clone());
        let now = self.now();
        let job = BackupJob {
            start_by: queue.then(|| {
                now.checked_add(jiff::SignedDuration::from_mins(
                    DEFAULT_START_WINDOW_MINUTES,
                ))
                .unwrap_or(now)
            }),
            lifecycle,
            ..BackupJob::created(
                exec::new_job_id(),
                account.as_str(),
                region.as_str(),
                &vault.backup_vault_name,
                &resource.resource_arn.to_string(),
                resource.resource_type,
                now,
            )
        };
        self.catalog_for(caller).insert(&job, now).await?;
        Ok(StartedBackup {
            job,
            resource,
            vault,
        })
    }

    /// Runs a backup job just started in this process, waiting (PENDING)
    /// while another job backs up the same resource (one backup of a
    /// resource at a time, as AWS does); `waits_behind` hears each job it
    /// waits behind, once; `observer` hears the bytes as they move. The
    /// vault and resource already resolved are passed on, not read again.
    ///
    /// # Errors
    /// Catalog and engine failures; a job that ends FAILED or ABORTED is
    /// returned, not an error.
    pub async fn run_backup_job(
        &self,
        started: &StartedBackup,
        observer: Option<std::sync::Arc<dyn coffer_vault::Observer>>,
        mut waits_behind: impl FnMut(&str),
    ) -> Result<BackupDone> {
        let job_id = started.job.backup_job_id.as_str();
        let options = BackupOptions {
            observer,
            retry_backoff: None,
            resolved: Some((started.vault.clone(), started.resource.clone())),
        };
        let mut shown: Option<String> = None;
        let job = loop {
            match exec::run_backup(self.env(), job_id, &options).await {
                Err(coffer_engine::Error::WaitsBehind { behind, .. }) => {
                    if shown.as_deref() != Some(behind.as_str()) {
                        waits_behind(&behind);
                        shown = Some(behind);
                    }
                    tokio::time::sleep(WAIT_POLL).await;
                    // Stopped while it waited (StopBackupJob).
                    let job = exec::fetch::<BackupJob>(self.env(), job_id).await?.record;
                    if job.state.is_terminal() {
                        break job;
                    }
                }
                other => break other?,
            }
        };
        let point = match (&job.state, &job.recovery_point_arn) {
            (BackupJobState::Completed, Some(arn)) => {
                let id = RecoveryPoint::id_of(arn);
                Some(
                    self.catalog()
                        .get::<RecoveryPoint>(id)
                        .await?
                        .ok_or_else(|| {
                            Error::dependency(format!(
                                "recovery point {id} of backup job {job_id} vanished from the catalog"
                            ))
                        })?
                        .record,
                )
            }
            _ => None,
        };
        Ok(BackupDone { job, point })
    }
}

/// What StartCopyJob asks.
#[derive(Clone, Debug)]
pub struct StartCopy {
    /// The source recovery point's ARN or ID.
    pub recovery_point: String,
    /// The destination vault: a name in the caller's account and region,
    /// or an ARN.
    pub destination_vault: String,
    pub lifecycle: Lifecycle,
    /// Queue the job for the scheduler instead of running it here.
    pub queue: bool,
}

/// A copy job just created.
#[derive(Clone, Debug)]
pub struct StartedCopy {
    pub job: CopyJob,
    pub source_point: RecoveryPoint,
    pub source_vault: BackupVault,
    pub destination_vault: BackupVault,
}

impl Service {
    /// Records a copy job of a recovery point into another vault, as a
    /// copy action does after a backup.
    ///
    /// # Errors
    /// `ResourceNotFound`, `InvalidParameterValue` for a destination that
    /// is not a vault, `InvalidRequest` for a point that cannot be copied,
    /// `AccessDenied` (StartCopyJob on the source, CopyIntoBackupVault on
    /// the destination).
    pub async fn start_copy_job(&self, caller: &Caller, args: StartCopy) -> Result<StartedCopy> {
        let source_point = self.recovery_point(&args.recovery_point).await?.record;
        let source_vault = self.vault_of_point(&source_point).await?;
        let destination_vault = self
            .vault_by_name_or_arn(caller, &args.destination_vault)
            .await?;
        self.authorize(
            caller,
            Action::StartCopyJob,
            Target::Point {
                arn: &source_point.recovery_point_arn,
                vault: &source_vault,
            },
        )?;
        self.authorize(
            caller,
            Action::CopyIntoBackupVault,
            Target::Vault(&destination_vault),
        )?;
        let job = exec::create_copy_job(
            &self.env_for(caller),
            exec::new_job_id(),
            &source_point,
            &destination_vault,
            args.lifecycle,
            !args.queue,
        )
        .await?;
        Ok(StartedCopy {
            job,
            source_point,
            source_vault,
            destination_vault,
        })
    }

    /// Runs a copy job in this process.
    ///
    /// # Errors
    /// Catalog and engine failures; a job that ends FAILED is returned.
    pub async fn run_copy_job(&self, job_id: &str) -> Result<CopyJob> {
        Ok(exec::run_copy(self.env(), job_id).await?)
    }
}
