//! Vaults as AWS Backup's vault operations see them: listed a page at a
//! time (ListBackupVaults), described (DescribeBackupVault), created and
//! deleted one at a time (CreateBackupVault, DeleteBackupVault), and the
//! resources Coffer protects (ListProtectedResources,
//! GetSupportedResourceTypes).
//!
//! A vault created here belongs to no stack: `apply` never changes or
//! deletes it, and a stack's vault is never deleted here (Conflict, naming
//! the stack: change the stack's files instead).

use coffer_catalog::{DesiredObject, ObjectKind, StoredObject, NO_STACK};
use coffer_model::{
    Arn, BackupVault, LockMode, NameKind, RecoveryPoint, ResourceType, Tags, VaultLockConfiguration,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::paging::{name_token, PageRequest, Paged};
use crate::requests::Life;
use crate::Service;

/// A vault with what the catalog knows about it besides its declaration.
#[derive(Clone, Debug)]
pub struct VaultSummary {
    pub vault: BackupVault,
    /// When the catalog first recorded it.
    pub creation_date: jiff::Timestamp,
    /// Its live (not DELETED) recovery points.
    pub number_of_recovery_points: i64,
    /// The stack that declares it; `None` when it was created through the
    /// API.
    pub stack: Option<String>,
    /// The `CreatorRequestId` of the CreateBackupVault request that
    /// created it, if that carried one (filled by the vault reads).
    pub creator_request_id: Option<String>,
}

/// What CreateBackupVault asks.
#[derive(Clone, Debug, Default)]
pub struct CreateVault {
    pub name: String,
    pub tags: Tags,
    /// The keyring key that wraps the vault's secret (its ARN, or a name).
    pub encryption_key_arn: Option<String>,
}

/// A resource Coffer holds a completed recovery point of
/// (ListProtectedResources).
#[derive(Clone, Debug)]
pub struct ProtectedResource {
    pub resource_arn: String,
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub last_backup_time: jiff::Timestamp,
    pub last_backup_vault_arn: String,
    pub last_recovery_point_arn: String,
}

/// A stored vault with its count of live recovery points.
fn summary_of(stored: StoredObject, number_of_recovery_points: i64) -> Result<VaultSummary> {
    Ok(VaultSummary {
        vault: serde_json::from_value(stored.doc)?,
        creation_date: stored.created_at,
        number_of_recovery_points,
        stack: (stored.stack != NO_STACK).then_some(stored.stack),
        creator_request_id: None,
    })
}

/// The life of a vault of no stack, whose creation may have carried a
/// `CreatorRequestId`.
fn vault_life(summary: &VaultSummary) -> Option<Life> {
    summary.stack.is_none().then(|| Life {
        arn: summary.vault.backup_vault_arn.to_string(),
        created: summary.creation_date,
        deleted: None,
    })
}

fn set_vault_token(summary: &mut VaultSummary, token: String) {
    summary.creator_request_id = Some(token);
}

impl Service {
    async fn summary(&self, stored: StoredObject) -> Result<VaultSummary> {
        let number_of_recovery_points = self
            .catalog()
            .recovery_points_in_vault(&stored.account_id, &stored.region, &stored.name)
            .await?;
        summary_of(stored, number_of_recovery_points)
    }

    async fn stored_vault(&self, caller: &Caller, name: &str) -> Result<StoredObject> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        match self
            .catalog()
            .stored_object(ObjectKind::BackupVault, account, region, name)
            .await?
        {
            Some(stored) => Ok(stored),
            // The same words (and the vaults there) as every lookup.
            None => self
                .vault(account, region, name)
                .await
                .and_then(|_| Err(Error::not_found(format!("vault {name:?} is gone")))),
        }
    }

    /// The vaults of the caller's account and region in name order, a
    /// page at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_backup_vaults(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<VaultSummary>> {
        self.authorize(caller, Action::ListBackupVaults, Target::Account)?;
        let listing = "ListBackupVaults";
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        let found = self
            .catalog()
            .objects_page(
                ObjectKind::BackupVault,
                caller.account.as_str(),
                caller.region.as_str(),
                after.as_deref(),
                limit,
            )
            .await?;
        // The page's points counted in one grouped query.
        let names: Vec<&str> = found.items.iter().map(|o| o.name.as_str()).collect();
        let counts = self
            .catalog()
            .recovery_points_in_vaults(caller.account.as_str(), caller.region.as_str(), &names)
            .await?;
        let mut items = found
            .items
            .into_iter()
            .map(|stored| {
                let points = counts.get(&stored.name).copied().unwrap_or(0);
                summary_of(stored, points)
            })
            .collect::<Result<Vec<_>>>()?;
        self.fill_creator_request_ids(&mut items, vault_life, set_vault_token)
            .await?;
        Ok(Paged {
            items,
            next_token: found.next.map(|name| name_token(listing, &name)),
        })
    }

    /// One vault of the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound`, `AccessDenied`.
    pub async fn describe_backup_vault(&self, caller: &Caller, name: &str) -> Result<VaultSummary> {
        let mut summary = self.summary(self.stored_vault(caller, name).await?).await?;
        self.authorize(
            caller,
            Action::DescribeBackupVault,
            Target::Vault(&summary.vault),
        )?;
        self.fill_creator_request_ids(
            std::slice::from_mut(&mut summary),
            vault_life,
            set_vault_token,
        )
        .await?;
        Ok(summary)
    }

    /// Creates a vault in the caller's account and region that belongs to
    /// no stack, and its storage where config.toml puts it.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad name, key or tags;
    /// `AlreadyExists`; storage and keyring failures (the vault is then
    /// recorded, and its storage is made by the next apply or create).
    pub async fn create_backup_vault(
        &self,
        caller: &Caller,
        args: &CreateVault,
    ) -> Result<VaultSummary> {
        self.authorize(caller, Action::CreateBackupVault, Target::Account)?;
        NameKind::BackupVault
            .check(&args.name)
            .map_err(|e| Error::invalid_parameter(e.to_string()))?;
        let problems = coffer_model::check_tags(&args.tags);
        if let Some(problem) = problems.first() {
            return Err(Error::invalid_parameter(format!(
                "BackupVaultTags: {problem}"
            )));
        }
        let (account, region) = (&caller.account, &caller.region);
        let encryption_key_arn = match &args.encryption_key_arn {
            None => None,
            Some(text) => Some(Arn::parse(text).map_err(|e| {
                Error::invalid_parameter(format!(
                    "EncryptionKeyArn {text:?} is not an ARN ({e}); name a keyring key as arn:coffer:kms:REGION:ACCOUNT:key/NAME"
                ))
            })?),
        };
        let vault = BackupVault {
            backup_vault_name: args.name.clone(),
            backup_vault_arn: Arn::backup_vault(region, account, &args.name),
            account_id: account.clone(),
            region: region.clone(),
            encryption_key_arn,
            access_policy: None,
            lock_configuration: None,
            lock_date: None,
            notifications: None,
            backup_vault_tags: args.tags.clone(),
        };
        if let Some(existing) = self
            .catalog()
            .stored_object(
                ObjectKind::BackupVault,
                account.as_str(),
                region.as_str(),
                &args.name,
            )
            .await?
        {
            let owner = if existing.stack == NO_STACK {
                "created through the API".to_string()
            } else {
                format!("declared by stack {:?}", existing.stack)
            };
            return Err(Error::new(
                crate::ErrorKind::AlreadyExists,
                format!(
                    "vault {:?} already exists in account {account}, region {region} ({owner}); choose another name",
                    args.name
                ),
            ));
        }
        let desired = DesiredObject {
            kind: ObjectKind::BackupVault,
            account_id: account.to_string(),
            region: region.to_string(),
            name: args.name.clone(),
            arn: vault.backup_vault_arn.to_string(),
            doc: serde_json::to_value(&vault)?,
        };
        let catalog = self.catalog_for(caller);
        catalog
            .create_unowned_object(&desired, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Conflict { .. } => Error::new(
                    crate::ErrorKind::AlreadyExists,
                    format!(
                        "vault {:?} was created meanwhile; choose another name",
                        args.name
                    ),
                ),
                other => other.into(),
            })?;
        self.acting_as(caller).provision_vault(&vault).await?;
        self.describe_backup_vault(caller, &args.name).await
    }

    /// Deletes a vault created through the API that holds no recovery
    /// points. Its storage is left where it is (a vault's data is never
    /// deleted with its record).
    ///
    /// # Errors
    /// `ResourceNotFound`; `Conflict` for a stack's vault (naming the
    /// stack) or one that changed meanwhile; `InvalidRequest` while it
    /// holds recovery points; `AccessDenied`.
    pub async fn delete_backup_vault(&self, caller: &Caller, name: &str) -> Result<VaultSummary> {
        let summary = self.summary(self.stored_vault(caller, name).await?).await?;
        self.authorize(
            caller,
            Action::DeleteBackupVault,
            Target::Vault(&summary.vault),
        )?;
        if let Some(stack) = &summary.stack {
            return Err(Error::conflict(format!(
                "vault {name:?} belongs to stack {stack:?}; change that stack's files and apply them to delete it"
            )));
        }
        if summary.number_of_recovery_points > 0 {
            return Err(Error::invalid_request(format!(
                "vault {name:?} holds {} recovery point(s); delete them first",
                summary.number_of_recovery_points
            )));
        }
        let stored = self.stored_vault(caller, name).await?;
        self.catalog_for(caller)
            .delete_unowned_object(&stored, self.now())
            .await
            .map_err(|error| match error {
                coffer_catalog::Error::Blocked { reasons, .. } => {
                    Error::invalid_request(reasons.join("; "))
                }
                other => other.into(),
            })?;
        Ok(summary)
    }

    /// A vault of no stack, to change: its stored row and declaration,
    /// after the hook allowed `action` on it. A stack's vault is a
    /// Conflict naming the stack (its files say what it is).
    pub(crate) async fn changeable_vault(
        &self,
        caller: &Caller,
        name: &str,
        action: Action,
    ) -> Result<(StoredObject, BackupVault)> {
        let stored = self.stored_vault(caller, name).await?;
        let vault: BackupVault = serde_json::from_value(stored.doc.clone())?;
        self.authorize(caller, action, Target::Vault(&vault))?;
        if stored.stack != NO_STACK {
            return Err(Error::conflict(format!(
                "vault {name:?} belongs to stack {:?}; change it in that stack's files and apply them",
                stored.stack
            )));
        }
        Ok((stored, vault))
    }

    /// Writes a changed declaration of a vault of no stack; the weakenings
    /// it makes are recorded as their own ledger entries.
    pub(crate) async fn rewrite_vault(
        &self,
        caller: &Caller,
        stored: &StoredObject,
        vault: &BackupVault,
    ) -> Result<Vec<String>> {
        let doc = serde_json::to_value(vault)?;
        let weakenings = self
            .catalog_for(caller)
            .update_unowned_object(stored, &doc, self.now())
            .await?;
        for what in &weakenings {
            tracing::warn!(vault = %vault.backup_vault_name, principal = %caller.principal, weakening = %what, "protection weakened");
        }
        Ok(weakenings)
    }

    /// A vault's access policy (GetBackupVaultAccessPolicy), as written.
    ///
    /// # Errors
    /// `ResourceNotFound` for the vault or when it has no policy;
    /// `AccessDenied`.
    pub async fn vault_access_policy(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(BackupVault, serde_json::Value)> {
        let summary = self.summary(self.stored_vault(caller, name).await?).await?;
        self.authorize(
            caller,
            Action::GetBackupVaultAccessPolicy,
            Target::Vault(&summary.vault),
        )?;
        match summary.vault.access_policy.clone() {
            Some(policy) => Ok((summary.vault, policy)),
            None => Err(Error::not_found(format!(
                "vault {name:?} has no access policy"
            ))),
        }
    }

    /// Sets the access policy of a vault of no stack
    /// (PutBackupVaultAccessPolicy); the policy in force decides whether
    /// the caller may. Returns the weakenings recorded (Deny statements
    /// dropped or changed).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a policy Coffer cannot evaluate;
    /// `Conflict` for a stack's vault; `AccessDenied`; `ResourceNotFound`.
    pub async fn put_vault_access_policy(
        &self,
        caller: &Caller,
        name: &str,
        policy: &str,
    ) -> Result<Vec<String>> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::PutBackupVaultAccessPolicy)
            .await?;
        let value: serde_json::Value = serde_json::from_str(policy)
            .map_err(|e| Error::invalid_parameter(format!("the access policy is not JSON: {e}")))?;
        coffer_vault::AccessPolicy::from_json(&value).map_err(|e| {
            Error::invalid_parameter(format!("the access policy cannot be evaluated: {e}"))
        })?;
        vault.access_policy = Some(value);
        self.rewrite_vault(caller, &stored, &vault).await
    }

    /// Removes the access policy of a vault of no stack
    /// (DeleteBackupVaultAccessPolicy), a weakening when it denied
    /// anything.
    ///
    /// # Errors
    /// As [`Service::put_vault_access_policy`].
    pub async fn delete_vault_access_policy(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Vec<String>> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::DeleteBackupVaultAccessPolicy)
            .await?;
        if vault.access_policy.take().is_none() {
            return Ok(Vec::new());
        }
        self.rewrite_vault(caller, &stored, &vault).await
    }

    /// Refuses a change to the lock of a vault whose compliance lock is
    /// immutable (its LockDate has passed).
    fn lock_changeable(&self, vault: &BackupVault) -> Result<()> {
        let immutable = vault
            .lock_configuration
            .as_ref()
            .is_some_and(|l| l.mode() == LockMode::Compliance)
            && vault.lock_date.is_some_and(|date| date <= self.now());
        if immutable {
            return Err(Error::invalid_request(format!(
                "vault {:?} has a compliance-mode lock that is immutable since {}; it can be neither changed nor removed",
                vault.backup_vault_name,
                vault.lock_date.map(|d| d.to_string()).unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Locks a vault of no stack (PutBackupVaultLockConfiguration): with
    /// ChangeableForDays in compliance mode, immutable from its LockDate
    /// (now plus those days); without, in governance mode.
    ///
    /// # Errors
    /// `InvalidParameterValue` for bounds AWS refuses; `InvalidRequest`
    /// for an immutable lock; `Conflict` for a stack's vault;
    /// `AccessDenied`.
    pub async fn put_vault_lock(
        &self,
        caller: &Caller,
        name: &str,
        lock: VaultLockConfiguration,
    ) -> Result<Vec<String>> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::PutBackupVaultLockConfiguration)
            .await?;
        if let Some(finding) = lock.validate().into_iter().next() {
            return Err(Error::invalid_parameter(format!(
                "the lock configuration is not valid: {finding}"
            )));
        }
        self.lock_changeable(&vault)?;
        vault.lock_date = match lock.changeable_for_days {
            Some(days) => Some(
                self.now()
                    .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
                    .map_err(|e| {
                        Error::invalid_parameter(format!("ChangeableForDays {days}: {e}"))
                    })?,
            ),
            None => None,
        };
        vault.lock_configuration = Some(lock);
        self.rewrite_vault(caller, &stored, &vault).await
    }

    /// Removes the lock of a vault of no stack
    /// (DeleteBackupVaultLockConfiguration), a weakening recorded as such.
    ///
    /// # Errors
    /// As [`Service::put_vault_lock`].
    pub async fn delete_vault_lock(&self, caller: &Caller, name: &str) -> Result<Vec<String>> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::DeleteBackupVaultLockConfiguration)
            .await?;
        self.lock_changeable(&vault)?;
        if vault.lock_configuration.take().is_none() {
            return Ok(Vec::new());
        }
        vault.lock_date = None;
        self.rewrite_vault(caller, &stored, &vault).await
    }

    /// The resource types Coffer backs up.
    pub fn supported_resource_types(&self) -> Vec<ResourceType> {
        ResourceType::ALL.to_vec()
    }

    /// The resources of the caller's account and region that have a
    /// completed recovery point, with their newest, in ARN order, a page
    /// at a time.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog failures.
    pub async fn list_protected_resources(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<ProtectedResource>> {
        self.authorize(caller, Action::ListProtectedResources, Target::Account)?;
        let listing = "ListProtectedResources";
        let limit = page.limit()?;
        let after = page.after_name(listing)?;
        let mut newest: Vec<RecoveryPoint> = self
            .catalog()
            .newest_point_records()
            .await?
            .into_iter()
            .filter(|p| {
                Arn::parse(&p.resource_arn).is_ok_and(|a| {
                    a.account() == caller.account.as_str() && a.region() == caller.region.as_str()
                })
            })
            .filter(|p| after.as_deref().is_none_or(|a| p.resource_arn.as_str() > a))
            .collect();
        newest.sort_by(|a, b| a.resource_arn.cmp(&b.resource_arn));
        let more = newest.len() > limit;
        newest.truncate(limit);
        let next_token = more
            .then(|| newest.last().map(|p| name_token(listing, &p.resource_arn)))
            .flatten();
        let mut items = Vec::with_capacity(newest.len());
        for point in newest {
            // The name is the ARN's part after its kind (`<server>/<database>`
            // for a server's database), so no server is asked.
            let resource_name = point
                .resource_arn
                .split_once('/')
                .map(|(_, name)| name.to_string());
            items.push(ProtectedResource {
                resource_type: point.resource_type,
                resource_name,
                last_backup_time: point.creation_date,
                last_backup_vault_arn: point.backup_vault_arn,
                last_recovery_point_arn: point.recovery_point_arn,
                resource_arn: point.resource_arn,
            });
        }
        Ok(Paged { items, next_token })
    }
}
