//! Finding what a request names: vaults, resources (declared, or
//! discovered on a declared server), recovery points and legal holds.

use coffer_catalog::{Record, Stored};
use coffer_model::{Arn, BackupVault, LegalHold, RecoveryPoint, Resource};

use crate::error::{Error, Result};
use crate::Service;

impl Service {
    /// A vault's declaration by name, in an account and region.
    ///
    /// # Errors
    /// `ResourceNotFound`, naming the vaults that are there.
    pub async fn vault(&self, account: &str, region: &str, name: &str) -> Result<BackupVault> {
        let catalog = self.catalog();
        let kind = coffer_catalog::ObjectKind::BackupVault;
        if let Some(vault) = catalog
            .object::<BackupVault>(kind, account, region, name)
            .await?
        {
            return Ok(vault);
        }
        let known = catalog.names_in(kind, account, region).await?;
        Err(Error::not_found(format!(
            "vault {name:?} is not declared in account {account}, region {region}{}; apply the stack that declares it, or check the account and region",
            if known.is_empty() {
                String::new()
            } else {
                format!(" (vaults there: {})", known.join(", "))
            }
        )))
    }

    /// A vault by name (in the caller's account and region) or by ARN.
    ///
    /// # Errors
    /// `InvalidParameterValue` for an ARN that is not a vault's;
    /// `ResourceNotFound`.
    pub async fn vault_by_name_or_arn(
        &self,
        caller: &crate::Caller,
        name_or_arn: &str,
    ) -> Result<BackupVault> {
        match Arn::parse(name_or_arn) {
            Ok(arn) => match arn.backup_vault_name() {
                Some(name) => self.vault(arn.account(), arn.region(), name).await,
                None => Err(Error::invalid_parameter(format!(
                    "{name_or_arn} is not a backup vault ARN; give a vault name, or arn:coffer:backup:REGION:ACCOUNT:backup-vault:NAME"
                ))),
            },
            Err(_) => {
                self.vault(caller.account.as_str(), caller.region.as_str(), name_or_arn)
                    .await
            }
        }
    }

    /// The vault a recovery point is in.
    ///
    /// # Errors
    /// `ResourceNotFound` when the vault is gone.
    pub async fn vault_of_point(&self, point: &RecoveryPoint) -> Result<BackupVault> {
        let arn = Arn::parse(&point.backup_vault_arn).map_err(|e| {
            Error::dependency(format!(
                "vault ARN of recovery point {}: {e}",
                point.recovery_point_id
            ))
        })?;
        self.vault(arn.account(), arn.region(), &point.backup_vault_name)
            .await
    }

    /// A resource by ARN: declared in an applied inventory, or a database a
    /// declared server holds (found by asking the server).
    ///
    /// # Errors
    /// `ResourceNotFound`; the server's failure.
    pub async fn resource(&self, arn: &str) -> Result<Resource> {
        Ok(self.env().resource(arn).await?)
    }

    /// A recovery point by ARN or ID, with its version.
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn recovery_point(&self, arn_or_id: &str) -> Result<Stored<RecoveryPoint>> {
        let id = RecoveryPoint::id_of(arn_or_id);
        self.catalog()
            .get::<RecoveryPoint>(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("there is no recovery point {arn_or_id}")))
    }

    /// Every legal hold (the guard decides which pin a point).
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn legal_holds(&self) -> Result<Vec<LegalHold>> {
        Ok(self.env().legal_holds().await?)
    }

    /// Every record of a kind that `keep` keeps, oldest first.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn records<R: Record>(&self, keep: impl Fn(&R) -> bool) -> Result<Vec<R>> {
        Ok(self.env().records(keep).await?)
    }
}
