//! Tags of vaults, plans and recovery points by ARN, as AWS Backup's
//! TagResource, UntagResource and ListTags see them. A vault's tags are its
//! `BackupVaultTags`, a plan's its `BackupPlanTags`, a point's its `Tags`:
//! each change is a write of that object or record, so it is in the ledger
//! (and for vaults and plans in the object history) with the caller as
//! actor.
//!
//! **A stack's vault or plan:** its tags are what its template declares
//! (`BackupVaultTags`, `BackupPlanTags`), and the next apply would put
//! them back, so changing them here is refused with Conflict naming the
//! stack (as any other change of a stack's object); ListTags reads them.
//! AWS tags a CloudFormation stack's resources outside the stack too, but
//! CloudFormation then reports drift and overwrites them at its next update:
//! Coffer refuses instead of accepting a change it would silently undo.
//! Recovery points belong to no stack and take tags freely.

use coffer_catalog::{ObjectKind, StoredObject};
use coffer_model::{Arn, BackupPlan, BackupVault, Tags};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// What an ARN names, for tags.
#[allow(clippy::large_enum_variant)] // one lives for a request, on the stack
enum Tagged {
    Vault(StoredObject, BackupVault),
    Plan(StoredObject, BackupPlan),
    Point(Box<coffer_catalog::Stored<coffer_model::RecoveryPoint>>),
}

/// A change of tags.
#[derive(Clone, Copy, Debug)]
pub enum TagChange<'a> {
    Add(&'a Tags),
    Remove(&'a [String]),
}

impl Service {
    async fn tagged(&self, caller: &Caller, arn: &str, action: Action) -> Result<Tagged> {
        let parsed = Arn::parse(arn).map_err(|e| {
            Error::invalid_parameter(format!(
                "ResourceArn {arn:?} is not an ARN ({e}); name a vault, plan or recovery point by its ARN"
            ))
        })?;
        if parsed.account() != caller.account.as_str() || parsed.region() != caller.region.as_str()
        {
            return Err(Error::not_found(format!(
                "{arn} is not in account {}, region {} where this request acts",
                caller.account, caller.region
            )));
        }
        let resource = parsed.resource();
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let object = |kind: ObjectKind, name: &str| {
            let name = name.to_string();
            async move {
                self.catalog()
                    .stored_object(kind, account, region, &name)
                    .await?
                    .ok_or_else(|| {
                        Error::not_found(format!("{} {name:?} does not exist", kind.label()))
                    })
            }
        };
        if let Some(name) = resource.strip_prefix("backup-vault:") {
            let stored = object(ObjectKind::BackupVault, name).await?;
            let vault: BackupVault = serde_json::from_value(stored.doc.clone())?;
            self.authorize(caller, action, Target::Vault(&vault))?;
            return Ok(Tagged::Vault(stored, vault));
        }
        if let Some(name) = resource.strip_prefix("backup-plan:") {
            if name.contains(':') {
                return Err(Error::invalid_parameter(format!(
                    "{arn} names a selection; tags are kept on vaults, plans and recovery points"
                )));
            }
            self.authorize(caller, action, Target::Account)?;
            let stored = object(ObjectKind::BackupPlan, name).await?;
            let plan: BackupPlan = serde_json::from_value(stored.doc.clone())?;
            return Ok(Tagged::Plan(stored, plan));
        }
        if resource.starts_with("recovery-point:") {
            let stored = self.recovery_point(arn).await?;
            let vault = self.vault_of_point(&stored.record).await?;
            self.authorize(
                caller,
                action,
                Target::Point {
                    arn: &stored.record.recovery_point_arn,
                    vault: &vault,
                },
            )?;
            return Ok(Tagged::Point(Box::new(stored)));
        }
        Err(Error::invalid_parameter(format!(
            "{arn} is not a vault, plan or recovery point ARN; Coffer keeps tags on those"
        )))
    }

    /// The tags of a vault, plan or recovery point (ListTags).
    ///
    /// # Errors
    /// `InvalidParameterValue` for an ARN of another kind;
    /// `ResourceNotFound`; `AccessDenied`.
    pub async fn list_tags(&self, caller: &Caller, arn: &str) -> Result<Tags> {
        Ok(match self.tagged(caller, arn, Action::ListTags).await? {
            Tagged::Vault(_, vault) => vault.backup_vault_tags,
            Tagged::Plan(_, plan) => plan.backup_plan_tags,
            Tagged::Point(stored) => stored.record.tags,
        })
    }

    /// Adds or replaces tags (TagResource), or removes keys
    /// (UntagResource), of a vault or plan of no stack or a recovery point;
    /// returns the tags after.
    ///
    /// # Errors
    /// `InvalidParameterValue` for tags AWS refuses; `Conflict` for a
    /// stack's vault or plan (naming the stack) or a change meanwhile;
    /// `ResourceNotFound`; `AccessDenied`.
    pub async fn change_tags(
        &self,
        caller: &Caller,
        arn: &str,
        change: TagChange<'_>,
    ) -> Result<Tags> {
        let action = match change {
            TagChange::Add(_) => Action::TagResource,
            TagChange::Remove(_) => Action::UntagResource,
        };
        let apply = |tags: &mut Tags| -> Result<()> {
            match &change {
                TagChange::Add(added) => {
                    tags.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                TagChange::Remove(keys) => {
                    for key in keys.iter() {
                        tags.remove(key);
                    }
                }
            }
            if let Some(problem) = coffer_model::check_tags(tags).first() {
                return Err(Error::invalid_parameter(format!("Tags: {problem}")));
            }
            Ok(())
        };
        let of_stack = |stored: &StoredObject, what: &str| -> Result<()> {
            match stored.owner() {
                coffer_catalog::Owner::Api => Ok(()),
                coffer_catalog::Owner::Stack(stack) => Err(Error::conflict(format!(
                    "{what} {:?} belongs to stack {stack:?}, whose template declares its tags; change them in that stack's files and apply them",
                    stored.name
                ))),
                owner => Err(Error::conflict(format!(
                    "{what} {:?} belongs to {owner}, which declares its tags; {}",
                    stored.name,
                    owner.remedy()
                ))),
            }
        };
        match self.tagged(caller, arn, action).await? {
            Tagged::Vault(stored, mut vault) => {
                of_stack(&stored, "vault")?;
                apply(&mut vault.backup_vault_tags)?;
                self.catalog_for(caller)
                    .update_unowned_object(&stored, &serde_json::to_value(&vault)?, self.now())
                    .await?;
                Ok(vault.backup_vault_tags)
            }
            Tagged::Plan(stored, mut plan) => {
                of_stack(&stored, "backup plan")?;
                apply(&mut plan.backup_plan_tags)?;
                self.catalog_for(caller)
                    .update_unowned_object(&stored, &serde_json::to_value(&plan)?, self.now())
                    .await?;
                Ok(plan.backup_plan_tags)
            }
            Tagged::Point(stored) => {
                let mut point = stored.record.clone();
                apply(&mut point.tags)?;
                self.catalog_for(caller)
                    .update(&point, stored.version, self.now())
                    .await?;
                Ok(point.tags)
            }
        }
    }
}
