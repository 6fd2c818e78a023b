//! Copy jobs as AWS Backup's copy operations see them: described one at a
//! time (DescribeCopyJob) and listed a page at a time with ListCopyJobs'
//! filters. They are started by [`Service::start_copy_job`] (StartCopyJob,
//! `coffer copy start`) and by a rule's copy actions.

use coffer_catalog::Condition;
use coffer_model::{CopyJob, CopyJobState};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::jobs::{job_conditions, CommonJobFilter};
use crate::paging::{record_token, PageRequest, Paged};
use crate::Service;

/// Which copy jobs a listing shows (ListCopyJobs' filters); each absent
/// one lets every job through.
#[derive(Clone, Debug, Default)]
pub struct CopyJobFilter {
    pub resource_arn: Option<String>,
    pub state: Option<CopyJobState>,
    pub created_before: Option<jiff::Timestamp>,
    pub created_after: Option<jiff::Timestamp>,
    pub resource_type: Option<String>,
    pub destination_vault_arn: Option<String>,
    pub source_recovery_point_arn: Option<String>,
    pub account_id: Option<String>,
    pub completed_before: Option<jiff::Timestamp>,
    pub completed_after: Option<jiff::Timestamp>,
    /// Coffer's copy jobs have no parent: one named selects nothing.
    pub parent_job_id: Option<String>,
    /// Coffer's jobs carry no message category: one named selects nothing.
    pub message_category: Option<String>,
}

impl Service {
    /// One copy job of the caller's account and region (DescribeCopyJob).
    ///
    /// # Errors
    /// `ResourceNotFound` (a backup or restore job's ID too).
    pub async fn describe_copy_job(&self, caller: &Caller, id: &str) -> Result<CopyJob> {
        self.authorize(caller, Action::DescribeCopyJob, Target::Account)?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let catalog = self.catalog_for(caller);
        let upper = id.to_ascii_uppercase();
        for candidate in [id, upper.as_str()] {
            if let Some(job) = catalog.get::<CopyJob>(candidate).await? {
                if job.record.account_id == account && job.record.region == region {
                    return Ok(job.record);
                }
            }
        }
        Err(Error::not_found(format!(
            "there is no copy job {id} in account {account}, region {region}"
        )))
    }

    /// The copy jobs of the caller's account and region that `filter`
    /// keeps, oldest first, a page at a time (a page may hold fewer than
    /// asked when a resource type is named; its token still says where the
    /// next starts).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_copy_jobs(
        &self,
        caller: &Caller,
        filter: &CopyJobFilter,
        page: &PageRequest,
    ) -> Result<Paged<CopyJob>> {
        self.authorize(caller, Action::ListCopyJobs, Target::Account)?;
        let listing = "ListCopyJobs";
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
                state: filter.state.map(CopyJobState::as_str),
                created: (filter.created_after, filter.created_before),
                completed: (filter.completed_after, filter.completed_before),
            },
        ) else {
            return Ok(Paged {
                items: Vec::new(),
                next_token: None,
            });
        };
        if let Some(arn) = &filter.destination_vault_arn {
            conditions.push(Condition::eq("destination_vault_arn", arn.as_str()));
        }
        if let Some(arn) = &filter.source_recovery_point_arn {
            conditions.push(Condition::eq("source_recovery_point_arn", arn.as_str()));
        }
        let found = self
            .catalog()
            .records_page::<CopyJob>(&conditions, after.as_ref(), limit)
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
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }
}
