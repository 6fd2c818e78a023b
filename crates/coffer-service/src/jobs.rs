//! Jobs as the catalog records them (ListBackupJobs, ListCopyJobs,
//! ListRestoreJobs, Describe*Job) and stopping a backup job
//! (StopBackupJob).

use coffer_catalog::Condition;
use coffer_engine::exec;
use coffer_model::{BackupJob, BackupJobState, CopyJob, RestoreJob};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::paging::{record_token, PageRequest, Paged};
use crate::scope::AccountScope;
use crate::Service;

/// Which backup jobs a listing shows (ListBackupJobs' filters); each
/// absent one lets every job through.
#[derive(Clone, Debug, Default)]
pub struct BackupJobFilter {
    pub resource_arn: Option<String>,
    pub state: Option<BackupJobState>,
    pub vault_name: Option<String>,
    pub created_before: Option<jiff::Timestamp>,
    pub created_after: Option<jiff::Timestamp>,
    pub resource_type: Option<String>,
    pub account_id: Option<String>,
    pub completed_before: Option<jiff::Timestamp>,
    pub completed_after: Option<jiff::Timestamp>,
    /// Coffer's jobs have no parent: a job named here selects nothing.
    pub parent_job_id: Option<String>,
    /// Coffer's jobs carry no message category: one named selects nothing.
    pub message_category: Option<String>,
}

/// The jobs of an account and region, each kind oldest first.
#[derive(Clone, Debug, Default)]
pub struct Jobs {
    pub backups: Vec<BackupJob>,
    pub copies: Vec<CopyJob>,
    pub restores: Vec<RestoreJob>,
}

/// Which restore jobs a listing shows (ListRestoreJobs' filters); each
/// absent one lets every job through.
#[derive(Clone, Debug, Default)]
pub struct RestoreJobFilter {
    pub account_id: Option<String>,
    pub resource_type: Option<String>,
    pub status: Option<coffer_model::RestoreJobStatus>,

    pub created_before: Option<jiff::Timestamp>,
    pub created_after: Option<jiff::Timestamp>,
    pub completed_before: Option<jiff::Timestamp>,
    pub completed_after: Option<jiff::Timestamp>,
    /// The restore tests a restore testing plan created (`CreatedBy`).
    pub restore_testing_plan_arn: Option<String>,
    /// Parent jobs are not Coffer's yet: naming one selects nothing.
    pub parent_job_id: Option<String>,
}

/// One job of any kind.
#[derive(Clone, Debug)]
pub enum AnyJob {
    Backup(BackupJob),
    Copy(CopyJob),
    Restore(RestoreJob),
}

/// What StopBackupJob did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing ran it: it ended ABORTED now.
    Aborted,
    /// It runs: ABORTING; the scheduler running it (this runner) stops it
    /// and records ABORTED.
    Aborting { runner: String },
    /// It was being stopped already.
    AlreadyStopping,
}

impl Service {
    /// The backup, copy and restore jobs of the caller's region in the
    /// accounts `accounts` asks for ([`Service::account_scope`]: `None`,
    /// the caller's account; `*`; an account ID).
    ///
    /// # Errors
    /// `AccessDenied` as [`Service::account_scope`]; catalog errors.
    pub async fn list_jobs(&self, caller: &Caller, accounts: Option<&str>) -> Result<Jobs> {
        self.authorize(caller, Action::ListJobs, Target::Account)?;
        let scope = self.account_scope(caller, accounts).await?;
        let region = caller.region.as_str();
        let here = |a: &str, r: &str| scope.covers(a) && r == region;
        Ok(Jobs {
            backups: self
                .records(|j: &BackupJob| here(&j.account_id, &j.region))
                .await?,
            copies: self
                .records(|j: &CopyJob| here(&j.account_id, &j.region))
                .await?,
            restores: self
                .records(|j: &RestoreJob| here(&j.account_id, &j.region))
                .await?,
        })
    }

    /// The backup jobs of the caller's account and region that `filter`
    /// keeps, oldest first, a page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_backup_jobs(
        &self,
        caller: &Caller,
        filter: &BackupJobFilter,
        page: &PageRequest,
    ) -> Result<Paged<BackupJob>> {
        self.authorize(caller, Action::ListJobs, Target::Account)?;
        let listing = "ListBackupJobs";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let scope = self
            .account_scope(caller, filter.account_id.as_deref())
            .await?;
        let Some(mut conditions) = job_conditions(
            caller,
            &scope,
            &CommonJobFilter {
                parent_job_id: filter.parent_job_id.as_deref(),
                message_category: filter.message_category.as_deref(),
                resource_arn: filter.resource_arn.as_deref(),
                state: filter.state.map(BackupJobState::as_str),
                created: (filter.created_after, filter.created_before),
                completed: (filter.completed_after, filter.completed_before),
            },
        ) else {
            return Ok(Paged {
                items: Vec::new(),
                next_token: None,
            });
        };
        if let Some(vault) = &filter.vault_name {
            conditions.push(Condition::eq("vault_name", vault.as_str()));
        }
        if let Some(kind) = &filter.resource_type {
            conditions.push(Condition::eq("resource_type", kind.as_str()));
        }
        let found = self
            .catalog()
            .records_page::<BackupJob>(&conditions, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(|s| s.record)
                .filter(|j| scope.covers(&j.account_id))
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// The restore and validation jobs of the caller's account and region
    /// that `filter` keeps, oldest first, a page at a time (a page may hold
    /// fewer than asked when a resource type is named).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_restore_jobs(
        &self,
        caller: &Caller,
        filter: &RestoreJobFilter,
        page: &PageRequest,
    ) -> Result<Paged<RestoreJob>> {
        self.authorize(caller, Action::ListJobs, Target::Account)?;
        let listing = "ListRestoreJobs";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let scope = self
            .account_scope(caller, filter.account_id.as_deref())
            .await?;
        if filter.parent_job_id.is_some() || scope.accounts.is_empty() {
            return Ok(Paged {
                items: Vec::new(),
                next_token: None,
            });
        }
        let mut conditions = vec![Condition::eq("region", caller.region.as_str())];
        if let [account] = scope.accounts.as_slice() {
            conditions.push(Condition::eq("account_id", account.as_str()));
        }
        if let Some(status) = filter.status {
            // The column holds the status as the model spells it.
            let text = serde_json::to_value(status)?;
            conditions.push(Condition::eq("status", text.as_str().unwrap_or_default()));
        }
        conditions.extend(Condition::within(
            "creation_date",
            filter.created_after,
            filter.created_before,
        ));
        conditions.extend(Condition::within(
            "completion_date",
            filter.completed_after,
            filter.completed_before,
        ));
        let found = self
            .catalog()
            .records_page::<RestoreJob>(&conditions, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(|s| s.record)
                .filter(|j| scope.covers(&j.account_id))
                .filter(|j| {
                    filter
                        .resource_type
                        .as_deref()
                        .is_none_or(|t| j.resource_type.as_str() == t)
                })
                // Restore tests of one plan (`CreatedBy`), as a resource
                // type is kept: a page may hold fewer than asked.
                .filter(|j| {
                    filter
                        .restore_testing_plan_arn
                        .as_deref()
                        .is_none_or(|arn| {
                            j.created_by
                                .as_ref()
                                .is_some_and(|c| c.restore_testing_plan_arn == arn)
                        })
                })
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// One restore job of the caller's account and region (DescribeRestoreJob).
    ///
    /// # Errors
    /// `ResourceNotFound` (a backup or copy job's ID too).
    pub async fn describe_restore_job(&self, caller: &Caller, id: &str) -> Result<RestoreJob> {
        self.authorize(caller, Action::ListJobs, Target::Account)?;
        match self.find_job(caller, id).await? {
            AnyJob::Restore(job) => Ok(job),
            _ => Err(Error::not_found(format!(
                "{id} is not a restore job; describe it as the backup or copy job it is"
            ))),
        }
    }

    /// One backup job of the caller's account and region (DescribeBackupJob).
    ///
    /// # Errors
    /// `ResourceNotFound` (a copy or restore job's ID too).
    pub async fn describe_backup_job(&self, caller: &Caller, id: &str) -> Result<BackupJob> {
        self.authorize(caller, Action::DescribeBackupJob, Target::Account)?;
        match self.find_job(caller, id).await? {
            AnyJob::Backup(job) => Ok(job),
            _ => Err(Error::not_found(format!(
                "{id} is not a backup job; describe it as the copy or restore job it is"
            ))),
        }
    }

    /// One job of the caller's account and region, by ID (any case).
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn describe_job(&self, caller: &Caller, id: &str) -> Result<AnyJob> {
        self.authorize(caller, Action::ListJobs, Target::Account)?;
        self.find_job(caller, id).await
    }

    /// The job `id` (any case) of the caller's region, in the caller's
    /// account or, for the management account and the backup delegated
    /// administrator, any account of the organization, for an operation
    /// that has authorized its own action.
    async fn find_job(&self, caller: &Caller, id: &str) -> Result<AnyJob> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let scope = self.account_scope(caller, Some("*")).await?;
        let catalog = &self.catalog_for(caller);
        let upper = id.to_ascii_uppercase();
        for candidate in [id, upper.as_str()] {
            if let Some(j) = catalog.get::<BackupJob>(candidate).await? {
                if scope.covers(&j.record.account_id) && j.record.region == region {
                    return Ok(AnyJob::Backup(j.record));
                }
            }
            if let Some(j) = catalog.get::<CopyJob>(candidate).await? {
                if scope.covers(&j.record.account_id) && j.record.region == region {
                    return Ok(AnyJob::Copy(j.record));
                }
            }
            if let Some(j) = catalog.get::<RestoreJob>(candidate).await? {
                if scope.covers(&j.record.account_id) && j.record.region == region {
                    return Ok(AnyJob::Restore(j.record));
                }
            }
        }
        Err(Error::not_found(format!(
            "there is no job {id} in account {account}, region {region}"
        )))
    }

    /// Stops a backup job: one that waits (or whose process is gone) goes
    /// through ABORTING to ABORTED now; a running one goes ABORTING and the
    /// scheduler running it stops it and records ABORTED.
    ///
    /// # Errors
    /// `ResourceNotFound`; `InvalidRequest` for a copy job, a job that
    /// ended, or one a command runs in its own process; `Conflict` when the
    /// job moved meanwhile (try again).
    pub async fn stop_backup_job(&self, caller: &Caller, id: &str) -> Result<Stopped> {
        use BackupJobState::*;
        let catalog = &self.catalog_for(caller);
        let Some(stored) = catalog.get::<BackupJob>(id).await? else {
            if catalog.get::<CopyJob>(id).await?.is_some() {
                return Err(Error::invalid_request(format!(
                    "{id} is a copy job; copy jobs cannot be stopped (as in AWS Backup), they end by themselves"
                )));
            }
            return Err(Error::not_found(format!("there is no backup job {id}")));
        };
        let job = stored.record;
        let vault = self
            .vault(&job.account_id, &job.region, &job.backup_vault_name)
            .await;
        match &vault {
            Ok(vault) => self.authorize(caller, Action::StopBackupJob, Target::Vault(vault))?,
            Err(_) => self.authorize(caller, Action::StopBackupJob, Target::Account)?,
        }
        let reason = format!("aborted on request by {}", caller.describe());
        let nobody_runs = matches!(job.state, Created | Pending)
            || (matches!(job.state, Running | Aborting)
                && exec::runner_is_gone(job.runner.as_deref()));
        // Only a job that runs now can be running in a command's process;
        // one that ended is refused below as ended.
        if !nobody_runs && matches!(job.state, Running | Aborting) && job.start_by.is_none() {
            return Err(Error::invalid_request(format!(
                "backup job {id} runs in a `coffer backup start` command (process {}), not in the scheduler; stop that command instead",
                job.runner.as_deref().unwrap_or("unknown")
            )));
        }
        // Each write requires the state this decision was made on: a job
        // that moved meanwhile (the scheduler started it) is not aborted
        // blindly.
        let seen = job.state;
        let moved = |error: coffer_engine::Error| {
            Error::conflict(format!(
                "backup job {id} changed while it was being stopped ({error}); stop it again"
            ))
        };
        let next = match seen {
            _ if nobody_runs => {
                if seen != Aborting {
                    exec::transition(
                        &self.env_for(caller),
                        id,
                        Aborting,
                        |s| s == seen,
                        |j: &mut BackupJob| j.status_message = Some(reason.clone()),
                    )
                    .await
                    .map_err(moved)?;
                }
                Aborted
            }
            Running => Aborting,
            Aborting => return Ok(Stopped::AlreadyStopping),
            done => {
                return Err(Error::invalid_request(format!(
                    "backup job {id} is {} already; only a job that waits or runs can be stopped",
                    done.as_str()
                )))
            }
        };
        let from = if nobody_runs { Aborting } else { seen };
        let stopped = exec::transition(
            &self.env_for(caller),
            id,
            next,
            |s| s == from,
            |j: &mut BackupJob| j.status_message = Some(reason.clone()),
        )
        .await
        .map_err(moved)?;
        Ok(match stopped.state {
            Aborted => Stopped::Aborted,
            _ => Stopped::Aborting {
                runner: stopped.runner.unwrap_or_else(|| "unknown".into()),
            },
        })
    }
}

/// The members every job listing filters alike, as AWS names them.
pub(crate) struct CommonJobFilter<'a> {
    pub parent_job_id: Option<&'a str>,
    pub message_category: Option<&'a str>,
    pub resource_arn: Option<&'a str>,
    pub state: Option<&'static str>,
    /// Created after, before.
    pub created: (Option<jiff::Timestamp>, Option<jiff::Timestamp>),
    /// Completed after, before.
    pub completed: (Option<jiff::Timestamp>, Option<jiff::Timestamp>),
}

/// The conditions of a job listing in the accounts of `scope` and the
/// caller's region with `filter`'s common members, or `None` when it
/// selects nothing: a parent job or a message category (Coffer's jobs have
/// neither), or no account in scope. A scope of several accounts is not a
/// condition: the listing keeps the rows [`AccountScope::covers`].
pub(crate) fn job_conditions(
    caller: &Caller,
    scope: &AccountScope,
    filter: &CommonJobFilter<'_>,
) -> Option<Vec<Condition>> {
    if filter.parent_job_id.is_some()
        || filter.message_category.is_some()
        || scope.accounts.is_empty()
    {
        return None;
    }
    let mut conditions = vec![Condition::eq("region", caller.region.as_str())];
    if let [account] = scope.accounts.as_slice() {
        conditions.push(Condition::eq("account_id", account.as_str()));
    }
    if let Some(arn) = filter.resource_arn {
        conditions.push(Condition::eq("resource_arn", arn));
    }
    if let Some(state) = filter.state {
        conditions.push(Condition::eq("state", state));
    }
    conditions.extend(Condition::within(
        "creation_date",
        filter.created.0,
        filter.created.1,
    ));
    conditions.extend(Condition::within(
        "completion_date",
        filter.completed.0,
        filter.completed.1,
    ));
    Some(conditions)
}
