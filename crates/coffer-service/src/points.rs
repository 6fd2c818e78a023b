//! Recovery points: listing, describing, deleting and changing their
//! lifecycle. Every delete and lifecycle change goes through
//! `coffer_vault::check` as the caller: legal holds, the vault lock and the
//! vault's access policy are all decided there, for every caller.

use coffer_catalog::Condition;
use coffer_model::{CalculatedLifecycle, Lifecycle, RecoveryPoint, RecoveryPointStatus};
use coffer_vault::Operation;

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::paging::{record_token, PageRequest, Paged};
use crate::Service;

/// Which recovery points of a vault a listing shows
/// (ListRecoveryPointsByBackupVault's filters); each absent one lets
/// every point through. DELETED points are never shown.
#[derive(Clone, Debug, Default)]
pub struct VaultPointFilter {
    /// The vault's account, when the caller names it: another account's
    /// vault is not the caller's to list.
    pub vault_account_id: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    /// The plan (its BackupPlanId, which is its name) that made the point.
    pub backup_plan_id: Option<String>,
    pub created_before: Option<jiff::Timestamp>,
    pub created_after: Option<jiff::Timestamp>,
    /// Coffer's points have no parent: one named selects nothing.
    pub parent_recovery_point_arn: Option<String>,
}

/// Which recovery points a listing shows.
#[derive(Clone, Debug, Default)]
pub struct PointFilter {
    /// The accounts asked for ([`Service::account_scope`]): `None` for the
    /// caller's, `*`, or an account ID.
    pub accounts: Option<String>,
    pub vault_name: Option<String>,
    pub resource_arn: Option<String>,
    /// DELETED points too.
    pub include_deleted: bool,
}

impl Service {
    /// The recovery points of the caller's region in the accounts the
    /// filter asks for (the caller's by default).
    ///
    /// # Errors
    /// `AccessDenied` as [`Service::account_scope`]; catalog errors.
    pub async fn list_recovery_points(
        &self,
        caller: &Caller,
        filter: &PointFilter,
    ) -> Result<Vec<RecoveryPoint>> {
        self.authorize(caller, Action::ListRecoveryPoints, Target::Account)?;
        let scope = self
            .account_scope(caller, filter.accounts.as_deref())
            .await?;
        let mut filters: Vec<(&str, &str)> = Vec::new();
        if let Some(vault) = &filter.vault_name {
            filters.push(("vault_name", vault));
        }
        if let Some(resource) = &filter.resource_arn {
            filters.push(("resource_arn", resource));
        }
        Ok(self
            .catalog()
            .list::<RecoveryPoint>(&filters)
            .await?
            .into_iter()
            .map(|s| s.record)
            .filter(|p| {
                coffer_model::Arn::parse(&p.recovery_point_arn).is_ok_and(|a| {
                    scope.covers(a.account()) && a.region() == caller.region.as_str()
                })
            })
            .filter(|p| filter.include_deleted || p.status != RecoveryPointStatus::Deleted)
            .collect())
    }

    /// The recovery points of one vault of the caller's account and region
    /// that `filter` keeps, oldest first, a page at a time (a page may hold
    /// fewer than asked when a plan is named; its token still says where
    /// the next starts).
    ///
    /// # Errors
    /// `ResourceNotFound` for the vault; `AccessDenied`;
    /// `InvalidParameterValue` for a bad page request.
    pub async fn list_vault_recovery_points(
        &self,
        caller: &Caller,
        vault_name: &str,
        filter: &VaultPointFilter,
        page: &PageRequest,
    ) -> Result<Paged<RecoveryPoint>> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let vault = self.vault(account, region, vault_name).await?;
        self.authorize(caller, Action::ListRecoveryPoints, Target::Vault(&vault))?;
        let listing = "ListRecoveryPointsByBackupVault";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        if filter.parent_recovery_point_arn.is_some()
            || filter
                .vault_account_id
                .as_deref()
                .is_some_and(|a| a != account)
        {
            return Ok(Paged {
                items: Vec::new(),
                next_token: None,
            });
        }
        let mut conditions = vec![
            Condition::eq("account_id", account),
            Condition::eq("region", region),
            Condition::eq("vault_name", vault_name),
            Condition::ne("status", "DELETED"),
        ];
        if let Some(arn) = &filter.resource_arn {
            conditions.push(Condition::eq("resource_arn", arn.as_str()));
        }
        if let Some(kind) = &filter.resource_type {
            conditions.push(Condition::eq("resource_type", kind.as_str()));
        }
        conditions.extend(Condition::within(
            "creation_date",
            filter.created_after,
            filter.created_before,
        ));
        let found = self
            .catalog()
            .records_page::<RecoveryPoint>(&conditions, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(|s| s.record)
                .filter(|p| {
                    filter
                        .backup_plan_id
                        .as_deref()
                        .is_none_or(|plan| p.created_by_backup_plan_name.as_deref() == Some(plan))
                })
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// One recovery point (DescribeRecoveryPoint).
    ///
    /// # Errors
    /// `ResourceNotFound`, `AccessDenied`.
    pub async fn describe_recovery_point(
        &self,
        caller: &Caller,
        arn_or_id: &str,
    ) -> Result<RecoveryPoint> {
        let point = self.recovery_point(arn_or_id).await?.record;
        let vault = self.vault_of_point(&point).await?;
        let account = vault.account_id.as_str();
        if !self
            .account_scope(caller, Some(account))
            .await?
            .covers(account)
        {
            return Err(Error::access_denied(format!(
                "recovery point {} belongs to account {account}; {} sees only its own account's (the management account and the backup delegated administrator see members')",
                point.recovery_point_arn, caller.principal
            )));
        }
        self.authorize(
            caller,
            Action::DescribeRecoveryPoint,
            Target::Point {
                arn: &point.recovery_point_arn,
                vault: &vault,
            },
        )?;
        Ok(point)
    }

    /// The guard's decision for `operation` on `point`, as the caller:
    /// holds, the lock and the vault's access policy.
    async fn guard(
        &self,
        caller: &Caller,
        point: &RecoveryPoint,
        operation: &Operation,
        action: Action,
    ) -> Result<coffer_model::BackupVault> {
        let vault = self.vault_of_point(point).await?;
        let holds = self.legal_holds().await?;
        // The rows the decision reads must be the ones the ledger recorded:
        // an edited DeleteAt, lock or hold decides nothing.
        let disagreements = coffer_engine::agreement::protection_disagreements(
            self.catalog(),
            &[point],
            &[&vault],
            &holds,
        )
        .await?;
        if !disagreements.is_empty() {
            return Err(Error::invalid_request(coffer_engine::agreement::refusal(
                operation_words(operation),
                &disagreements,
            )));
        }
        if let Err(refusal) = coffer_vault::check(
            operation,
            coffer_vault::Caller::Principal(&caller.principal),
            point,
            &vault,
            &holds,
            self.now(),
        ) {
            let message = format!("refused: {refusal}");
            return Err(if refusal.access_denied {
                Error::access_denied(message)
            } else {
                Error::invalid_request(message)
            });
        }
        // The hook sees every operation, including those the guard allowed.
        self.authorize(
            caller,
            action,
            Target::Point {
                arn: &point.recovery_point_arn,
                vault: &vault,
            },
        )?;
        Ok(vault)
    }

    /// Deletes a recovery point (DeleteRecoveryPoint): DELETING, its
    /// snapshot removed, then DELETED (the record is kept). Returns it.
    ///
    /// # Errors
    /// `ResourceNotFound`, `InvalidRequest` (already deleted, a hold, a
    /// lock), `AccessDenied`, storage failures (the point stays DELETING).
    pub async fn delete_recovery_point(
        &self,
        caller: &Caller,
        arn_or_id: &str,
    ) -> Result<RecoveryPoint> {
        let stored = self.recovery_point(arn_or_id).await?;
        let point = stored.record;
        if point.status == RecoveryPointStatus::Deleted {
            return Err(Error::invalid_request(format!(
                "recovery point {} is already deleted",
                point.recovery_point_id
            )));
        }
        let vault = self
            .guard(
                caller,
                &point,
                &Operation::Delete,
                Action::DeleteRecoveryPoint,
            )
            .await?;
        coffer_engine::exec::remove_data(
            &self.env_for(caller),
            point.clone(),
            stored.version,
            &vault,
            None,
        )
        .await?;
        Ok(point)
    }

    /// Changes a recovery point's lifecycle (UpdateRecoveryPointLifecycle);
    /// a locked vault allows only lengthening within its bounds.
    ///
    /// # Errors
    /// `ResourceNotFound`, `InvalidRequest`, `AccessDenied`, `Conflict`
    /// when the point changed meanwhile.
    pub async fn update_recovery_point_lifecycle(
        &self,
        caller: &Caller,
        arn_or_id: &str,
        lifecycle: Lifecycle,
    ) -> Result<RecoveryPoint> {
        let stored = self.recovery_point(arn_or_id).await?;
        let mut point = stored.record;
        if point.status == RecoveryPointStatus::Deleted {
            return Err(Error::invalid_request(format!(
                "recovery point {} is deleted",
                point.recovery_point_id
            )));
        }
        self.guard(
            caller,
            &point,
            &Operation::UpdateLifecycle(lifecycle),
            Action::UpdateRecoveryPointLifecycle,
        )
        .await?;
        point.calculated_lifecycle =
            CalculatedLifecycle::from_lifecycle(point.creation_date, &lifecycle);
        point.lifecycle = lifecycle;
        self.catalog_for(caller)
            .update(&point, stored.version, self.now())
            .await?;
        Ok(point)
    }
}

/// An operation in words, for a refusal.
fn operation_words(operation: &Operation) -> &'static str {
    match operation {
        Operation::Delete => "deletion",
        Operation::Expire => "expiry",
        Operation::UpdateLifecycle(_) => "lifecycle change",
    }
}
