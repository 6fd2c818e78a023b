//! A vault's event notifications (PutBackupVaultNotifications,
//! GetBackupVaultNotifications, DeleteBackupVaultNotifications): kept in
//! the vault's declaration, as a stack's `Notifications` are, and read by
//! the engine's notifier, which posts the vault's chosen events to the
//! `[[notifications]]` webhook that stands for the topic (`sns_topic`).
//! Only a vault of no stack is changed here.

use coffer_model::{BackupVault, VaultNotifications, VAULT_EVENTS};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

impl Service {
    /// Sets the notifications of a vault of no stack.
    ///
    /// # Errors
    /// `InvalidParameterValue` for an event that is not a vault event or
    /// a topic that is not an ARN; `Conflict` for a stack's vault;
    /// `ResourceNotFound`; `AccessDenied`.
    pub async fn put_vault_notifications(
        &self,
        caller: &Caller,
        name: &str,
        notifications: VaultNotifications,
    ) -> Result<()> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::PutBackupVaultNotifications)
            .await?;
        coffer_model::Arn::parse(&notifications.sns_topic_arn).map_err(|e| {
            Error::invalid_parameter(format!(
                "SNSTopicArn {:?} is not an ARN ({e})",
                notifications.sns_topic_arn
            ))
        })?;
        if let Some(event) = notifications
            .backup_vault_events
            .iter()
            .find(|e| !VAULT_EVENTS.contains(&e.as_str()))
        {
            return Err(Error::invalid_parameter(format!(
                "{event:?} is not a backup vault event; use one of {}",
                VAULT_EVENTS.join(", ")
            )));
        }
        if self
            .config()
            .notifications()
            .iter()
            .all(|t| t.sns_topic.as_deref() != Some(notifications.sns_topic_arn.as_str()))
        {
            tracing::warn!(vault = %name, topic = %notifications.sns_topic_arn, "no [[notifications]] target of config.toml stands for this topic (sns_topic); its events are not posted until one does");
        }
        vault.notifications = Some(notifications);
        self.rewrite_vault(caller, &stored, &vault).await?;
        Ok(())
    }

    /// The notifications of a vault of the caller's account and region.
    ///
    /// # Errors
    /// `ResourceNotFound` for the vault or when it has none;
    /// `AccessDenied`.
    pub async fn vault_notifications(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(BackupVault, VaultNotifications)> {
        let summary = self.describe_backup_vault(caller, name).await?;
        self.authorize(
            caller,
            Action::GetBackupVaultNotifications,
            Target::Vault(&summary.vault),
        )?;
        match summary.vault.notifications.clone() {
            Some(n) => Ok((summary.vault, n)),
            None => Err(Error::not_found(format!(
                "vault {name:?} has no notifications"
            ))),
        }
    }

    /// Removes the notifications of a vault of no stack.
    ///
    /// # Errors
    /// `Conflict` for a stack's vault; `ResourceNotFound`; `AccessDenied`.
    pub async fn delete_vault_notifications(&self, caller: &Caller, name: &str) -> Result<()> {
        let (stored, mut vault) = self
            .changeable_vault(caller, name, Action::DeleteBackupVaultNotifications)
            .await?;
        if vault.notifications.take().is_none() {
            return Ok(());
        }
        self.rewrite_vault(caller, &stored, &vault).await?;
        Ok(())
    }
}
