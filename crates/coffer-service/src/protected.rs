//! Protected resources as AWS Backup's resource operations see them: one
//! resource (DescribeProtectedResource), its recovery points
//! (ListRecoveryPointsByResource) and its restores
//! (ListRestoreJobsByProtectedResource), the resources of one vault
//! (ListProtectedResourcesByBackupVault), and what a restore of a point
//! or a restore job was given (GetRecoveryPointRestoreMetadata,
//! GetRestoreJobMetadata).

use std::collections::{BTreeMap, HashSet};

use coffer_catalog::Condition;
use coffer_model::{Arn, RecoveryPoint, ResourceType, RestoreJob};

use crate::backup_vaults::ProtectedResource;
use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::paging::{name_token, record_token, PageRequest, Paged};
use crate::Service;

/// A protected resource with its latest restore (DescribeProtectedResource).
#[derive(Clone, Debug)]
pub struct ProtectedResourceDetail {
    pub resource: ProtectedResource,
    /// The newest restore job of one of its points, with that point's
    /// creation time.
    pub latest_restore: Option<(RestoreJob, jiff::Timestamp)>,
}

/// Which restore jobs of a resource a listing shows
/// (ListRestoreJobsByProtectedResource's filters).
#[derive(Clone, Debug, Default)]
pub struct ResourceRestoreFilter {
    pub status: Option<coffer_model::RestoreJobStatus>,
    pub point_created_after: Option<jiff::Timestamp>,
    pub point_created_before: Option<jiff::Timestamp>,
}

/// Rows read at a time when a listing scans a table.
const SCAN_PAGE: usize = 1000;

fn resource_name(arn: &str) -> Option<String> {
    arn.split_once('/').map(|(_, name)| name.to_string())
}

fn protected(point: RecoveryPoint) -> ProtectedResource {
    ProtectedResource {
        resource_type: point.resource_type,
        resource_name: resource_name(&point.resource_arn),
        last_backup_time: point.creation_date,
        last_backup_vault_arn: point.backup_vault_arn,
        last_recovery_point_arn: point.recovery_point_arn,
        resource_arn: point.resource_arn,
    }
}

impl Service {
    /// The live (not DELETED) recovery points of a resource of the
    /// caller's account and region, oldest first.
    /// The account of the resource `arn` names, when the caller's scope
    /// covers it: its own, or a member's for the management account and the
    /// backup delegated administrator.
    async fn resource_account(&self, caller: &Caller, arn: &str) -> Result<String> {
        let account = Arn::parse(arn)
            .ok()
            .map(|a| a.account().to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| caller.account.to_string());
        if account != caller.account.as_str()
            && !self
                .account_scope(caller, Some(&account))
                .await?
                .covers(&account)
        {
            return Err(Error::access_denied(format!(
                "resource {arn} belongs to account {account}; {} sees only its own account's resources (the management account and the backup delegated administrator see members')",
                caller.principal
            )));
        }
        Ok(account)
    }

    /// The live points of the resource `arn`, with its account.
    async fn points_of_resource(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> Result<(String, Vec<RecoveryPoint>)> {
        let account = self.resource_account(caller, arn).await?;
        let points = self
            .catalog_for(caller)
            .records_page::<RecoveryPoint>(
                &[
                    Condition::eq("account_id", account.as_str()),
                    Condition::eq("region", caller.region.as_str()),
                    Condition::eq("resource_arn", arn),
                    Condition::ne("status", "DELETED"),
                ],
                None,
                usize::MAX >> 1,
            )
            .await?
            .items
            .into_iter()
            .map(|s| s.record)
            .collect();
        Ok((account, points))
    }

    /// The recovery points of a resource of the caller's region (of its
    /// account, or a member's for the management account and the backup
    /// delegated administrator), oldest first, a page at a time (ListRecoveryPointsByResource).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_recovery_points_by_resource(
        &self,
        caller: &Caller,
        resource_arn: &str,
        page: &PageRequest,
    ) -> Result<Paged<RecoveryPoint>> {
        self.authorize(
            caller,
            Action::ListRecoveryPointsByResource,
            Target::Account,
        )?;
        let listing = "ListRecoveryPointsByResource";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let account = self.resource_account(caller, resource_arn).await?;
        let found = self
            .catalog_for(caller)
            .records_page::<RecoveryPoint>(
                &[
                    Condition::eq("account_id", account.as_str()),
                    Condition::eq("region", caller.region.as_str()),
                    Condition::eq("resource_arn", resource_arn),
                    Condition::ne("status", "DELETED"),
                ],
                after.as_ref(),
                limit,
            )
            .await?;
        Ok(Paged {
            items: found.items.into_iter().map(|s| s.record).collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// A resource of the caller's region (of its account, or a member's for
    /// the management account and the backup delegated administrator) with
    /// its newest completed recovery point and its latest restore.
    ///
    /// # Errors
    /// `ResourceNotFound` when Coffer holds no completed point of it.
    pub async fn describe_protected_resource(
        &self,
        caller: &Caller,
        resource_arn: &str,
    ) -> Result<ProtectedResourceDetail> {
        self.authorize(caller, Action::DescribeProtectedResource, Target::Account)?;
        // The caller's account, or a member's for the management account
        // and the backup delegated administrator.
        let account = self.resource_account(caller, resource_arn).await?;
        let region = caller.region.as_str();
        let catalog = self.catalog_for(caller);
        let Some(newest) = catalog
            .newest_completed_point(&account, region, resource_arn)
            .await?
        else {
            return Err(Error::not_found(format!(
                "Coffer holds no completed recovery point of {resource_arn} in account {}, region {}; back it up first",
                caller.account, caller.region
            )));
        };
        let latest_restore = catalog
            .latest_restore_of_resource(&account, region, resource_arn)
            .await?;
        Ok(ProtectedResourceDetail {
            resource: protected(newest),
            latest_restore,
        })
    }

    /// The resources with a completed recovery point in a vault of the
    /// caller's account and region, each with its newest there, in ARN
    /// order, a page at a time (ListProtectedResourcesByBackupVault).
    ///
    /// # Errors
    /// `ResourceNotFound` for the vault; `AccessDenied`;
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_protected_resources_in_vault(
        &self,
        caller: &Caller,
        vault_name: &str,
        page: &PageRequest,
    ) -> Result<Paged<ProtectedResource>> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let vault = self.vault(account, region, vault_name).await?;
        self.authorize(
            caller,
            Action::ListProtectedResourcesByBackupVault,
            Target::Vault(&vault),
        )?;
        let listing = "ListProtectedResourcesByBackupVault";
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        // The vault's completed points a page at a time: memory holds one
        // page and a point per resource, never the whole vault.
        let conditions = [
            Condition::eq("account_id", account),
            Condition::eq("region", region),
            Condition::eq("vault_name", vault_name),
            Condition::eq("status", "COMPLETED"),
        ];
        let catalog = self.catalog_for(caller);
        let mut newest: BTreeMap<String, RecoveryPoint> = BTreeMap::new();
        let mut cursor = None;
        loop {
            let found = catalog
                .records_page::<RecoveryPoint>(&conditions, cursor.as_ref(), SCAN_PAGE)
                .await?;
            for point in found.items.into_iter().map(|s| s.record) {
                if after
                    .as_deref()
                    .is_some_and(|a| point.resource_arn.as_str() <= a)
                {
                    continue;
                }
                match newest.get(&point.resource_arn) {
                    Some(known) if known.creation_date >= point.creation_date => {}
                    _ => {
                        newest.insert(point.resource_arn.clone(), point);
                    }
                }
            }
            match found.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let more = newest.len() > limit;
        let items: Vec<ProtectedResource> =
            newest.into_values().take(limit).map(protected).collect();
        let next_token = more
            .then(|| items.last().map(|r| name_token(listing, &r.resource_arn)))
            .flatten();
        Ok(Paged { items, next_token })
    }

    /// The restore jobs of a resource of the caller's account and region
    /// (ListRestoreJobsByProtectedResource), oldest first, a page at a
    /// time (a page may hold fewer than asked: its token still says where
    /// the next starts).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_restore_jobs_of_resource(
        &self,
        caller: &Caller,
        resource_arn: &str,
        filter: &ResourceRestoreFilter,
        page: &PageRequest,
    ) -> Result<Paged<RestoreJob>> {
        self.authorize(
            caller,
            Action::ListRestoreJobsByProtectedResource,
            Target::Account,
        )?;
        let listing = "ListRestoreJobsByProtectedResource";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let (account, points) = self.points_of_resource(caller, resource_arn).await?;
        let chosen: HashSet<&str> = points
            .iter()
            .filter(|p| {
                filter
                    .point_created_after
                    .is_none_or(|t| p.creation_date > t)
                    && filter
                        .point_created_before
                        .is_none_or(|t| p.creation_date < t)
            })
            .map(|p| p.recovery_point_arn.as_str())
            .collect();
        let mut conditions = vec![
            Condition::eq("account_id", account.as_str()),
            Condition::eq("region", caller.region.as_str()),
        ];
        let status = filter
            .status
            .map(|s| serde_json::to_value(s).map(|v| v.as_str().unwrap_or_default().to_string()))
            .transpose()?;
        if let Some(status) = &status {
            conditions.push(Condition::eq("status", status.as_str()));
        }
        let found = self
            .catalog_for(caller)
            .records_page::<RestoreJob>(&conditions, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(|s| s.record)
                .filter(|j| chosen.contains(j.recovery_point_arn.as_str()))
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// What StartRestoreJob's `Metadata` takes to put a point back where
    /// its resource is (GetRecoveryPointRestoreMetadata): `TargetDirectory`
    /// (a file system's path), `TargetFile` (a SQLite file's path) or
    /// `TargetDatabase` (a server database's name); nothing for a bucket,
    /// which the API does not restore.
    ///
    /// # Errors
    /// `ResourceNotFound` for the point, or when it is not in `vault_name`;
    /// `AccessDenied`.
    pub async fn recovery_point_restore_metadata(
        &self,
        caller: &Caller,
        vault_name: &str,
        point_arn: &str,
    ) -> Result<(RecoveryPoint, BTreeMap<String, String>)> {
        self.point_restore_metadata(
            caller,
            Action::GetRecoveryPointRestoreMetadata,
            vault_name,
            point_arn,
        )
        .await
    }

    /// [`Service::recovery_point_restore_metadata`], authorized as `action`.
    pub(crate) async fn point_restore_metadata(
        &self,
        caller: &Caller,
        action: Action,
        vault_name: &str,
        point_arn: &str,
    ) -> Result<(RecoveryPoint, BTreeMap<String, String>)> {
        let point = self.recovery_point(point_arn).await?.record;
        let vault = self.vault_of_point(&point).await?;
        self.authorize(
            caller,
            action,
            Target::Point {
                arn: &point.recovery_point_arn,
                vault: &vault,
            },
        )?;
        let here = Arn::parse(&point.recovery_point_arn).is_ok_and(|a| {
            a.account() == caller.account.as_str() && a.region() == caller.region.as_str()
        });
        if !here || point.backup_vault_name != vault_name {
            return Err(Error::not_found(format!(
                "recovery point {point_arn} is not in vault {vault_name:?} of account {}, region {}",
                caller.account, caller.region
            )));
        }
        let mut metadata = BTreeMap::new();
        let resource = self.resource(&point.resource_arn).await.ok();
        let path = resource
            .as_ref()
            .and_then(|r| r.connection.get("path").cloned());
        match point.resource_type {
            ResourceType::FileSystem => {
                if let Some(path) = path {
                    metadata.insert("TargetDirectory".to_string(), path);
                }
            }
            ResourceType::SQLite => {
                if let Some(path) = path {
                    metadata.insert("TargetFile".to_string(), path);
                }
            }
            ResourceType::PostgreSQL | ResourceType::MySQL => {
                if let Some((_, database)) = point.resource_arn.rsplit_once('/') {
                    metadata.insert("TargetDatabase".to_string(), database.to_string());
                }
            }
            ResourceType::S3 => {}
        }
        Ok((point, metadata))
    }

    /// What a restore job was given and made (GetRestoreJobMetadata): the
    /// `Metadata` keys of its target as recorded (`TargetDirectory`,
    /// `TargetDatabase`, ...), `RecoveryPointArn`, `RestoreTarget` (where
    /// it restores, in words), `CreatedResourceArn` once known, and
    /// `Validation` `true` for a validation.
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn restore_job_metadata(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(RestoreJob, BTreeMap<String, String>)> {
        self.authorize(caller, Action::GetRestoreJobMetadata, Target::Account)?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let job = match self.catalog_for(caller).get::<RestoreJob>(id).await? {
            Some(job) if job.record.account_id == account && job.record.region == region => {
                job.record
            }
            _ => {
                return Err(Error::not_found(format!(
                    "there is no restore job {id} in account {account}, region {region}"
                )))
            }
        };
        let mut metadata = job.restore_metadata.clone();
        metadata.insert(
            "RecoveryPointArn".to_string(),
            job.recovery_point_arn.clone(),
        );
        if let Some(target) = &job.restore_target {
            metadata.insert("RestoreTarget".to_string(), target.clone());
        }
        if let Some(created) = &job.created_resource_arn {
            metadata.insert("CreatedResourceArn".to_string(), created.clone());
        }
        if job.validation_status.is_some() {
            metadata.insert("Validation".to_string(), "true".to_string());
        }
        Ok((job, metadata))
    }
}
