//! Backup vaults: encryption key, access-policy document and vault lock.

use serde::{Deserialize, Serialize};

use crate::finding::Findings;
use crate::names::{AccountId, NameKind, Region};
use crate::resource::{check_tags, Tags};
use crate::Arn;

/// Vault lock bounds as AWS defines them.
pub const LOCK_MIN_RETENTION_FLOOR: u32 = 1;
pub const LOCK_MAX_RETENTION_CEILING: u32 = 36_500;
pub const LOCK_CHANGEABLE_FOR_DAYS_MIN: u32 = 3;
pub const LOCK_CHANGEABLE_FOR_DAYS_MAX: u32 = 36_500;

/// A named, encrypted recovery-point store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupVault {
    pub backup_vault_name: String,
    pub backup_vault_arn: Arn,
    pub account_id: AccountId,
    pub region: Region,
    /// The keyring key that wraps this vault's repository secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_arn: Option<Arn>,
    /// The resource-based access policy (IAM JSON), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_policy: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_configuration: Option<VaultLockConfiguration>,
    /// When a compliance-mode lock becomes immutable (the time it was set
    /// plus ChangeableForDays). Set by the catalog when the lock is applied,
    /// never by policy files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_date: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<VaultNotifications>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub backup_vault_tags: Tags,
}

/// `PutBackupVaultLockConfiguration` input. Setting `ChangeableForDays`
/// selects compliance mode; without it the lock is in governance mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultLockConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changeable_for_days: Option<u32>,
}

/// Vault lock mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    /// The mode as AWS and S3 spell it (`GOVERNANCE`, `COMPLIANCE`).
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// The mode AWS and S3 spell `name`, if any.
    pub fn from_name(name: &str) -> Option<LockMode> {
        [LockMode::Governance, LockMode::Compliance]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

impl VaultLockConfiguration {
    pub fn mode(&self) -> LockMode {
        if self.changeable_for_days.is_some() {
            LockMode::Compliance
        } else {
            LockMode::Governance
        }
    }

    /// Whether a retention of `days` (None = kept forever) is inside the
    /// lock's bounds; the error names both numbers.
    ///
    /// # Errors
    /// A sentence naming the retention and the bound it violates.
    pub fn check_retention(&self, days: Option<u32>) -> Result<(), String> {
        match (days, self.min_retention_days, self.max_retention_days) {
            (Some(days), Some(min), _) if days < min => Err(format!(
                "retention of {days} days is below the vault lock's MinRetentionDays ({min})"
            )),
            (Some(days), _, Some(max)) if days > max => Err(format!(
                "retention of {days} days is above the vault lock's MaxRetentionDays ({max})"
            )),
            (None, _, Some(max)) => Err(format!(
                "a recovery point kept forever exceeds the vault lock's MaxRetentionDays ({max}); set DeleteAfterDays"
            )),
            _ => Ok(()),
        }
    }

    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Some(min) = self.min_retention_days {
            if min < LOCK_MIN_RETENTION_FLOOR {
                findings.error(
                    "MinRetentionDays",
                    format!("MinRetentionDays ({min}) must be at least {LOCK_MIN_RETENTION_FLOOR}"),
                );
            }
        }
        if let Some(max) = self.max_retention_days {
            if max > LOCK_MAX_RETENTION_CEILING {
                findings.error(
                    "MaxRetentionDays",
                    format!(
                        "MaxRetentionDays ({max}) must be at most {LOCK_MAX_RETENTION_CEILING}"
                    ),
                );
            }
        }
        if let (Some(min), Some(max)) = (self.min_retention_days, self.max_retention_days) {
            if min > max {
                findings
                    .error(
                        "MaxRetentionDays",
                        format!(
                            "MaxRetentionDays ({max}) must be at least MinRetentionDays ({min})"
                        ),
                    )
                    .hint(format!("use {min} or more, or lower MinRetentionDays"));
            }
        }
        if let Some(days) = self.changeable_for_days {
            if !(LOCK_CHANGEABLE_FOR_DAYS_MIN..=LOCK_CHANGEABLE_FOR_DAYS_MAX).contains(&days) {
                findings
                    .error(
                        "ChangeableForDays",
                        format!(
                            "ChangeableForDays ({days}) must be between {LOCK_CHANGEABLE_FOR_DAYS_MIN} and {LOCK_CHANGEABLE_FOR_DAYS_MAX}: it is the cooling-off time before a compliance-mode lock becomes immutable"
                        ),
                    )
                    .hint("use 3 or more, or omit it for a governance-mode lock");
            }
        }
        findings
    }
}

/// Vault event notifications (`PutBackupVaultNotifications`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultNotifications {
    #[serde(rename = "SNSTopicArn")]
    pub sns_topic_arn: String,
    pub backup_vault_events: Vec<String>,
}

/// Events a vault can notify about: the `BackupVaultEvent` enum of the
/// service model (documented, deprecated and newer values; AWS accepts all).
pub const VAULT_EVENTS: &[&str] = &[
    "BACKUP_JOB_STARTED",
    "BACKUP_JOB_COMPLETED",
    "BACKUP_JOB_SUCCESSFUL",
    "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED",
    "RESTORE_JOB_STARTED",
    "RESTORE_JOB_COMPLETED",
    "RESTORE_JOB_SUCCESSFUL",
    "RESTORE_JOB_FAILED",
    "COPY_JOB_STARTED",
    "COPY_JOB_SUCCESSFUL",
    "COPY_JOB_FAILED",
    "RECOVERY_POINT_MODIFIED",
    "BACKUP_PLAN_CREATED",
    "BACKUP_PLAN_MODIFIED",
    "S3_BACKUP_OBJECT_FAILED",
    "S3_RESTORE_OBJECT_FAILED",
    "CONTINUOUS_BACKUP_INTERRUPTED",
    "RECOVERY_POINT_INDEX_COMPLETED",
    "RECOVERY_POINT_INDEX_DELETED",
    "RECOVERY_POINT_INDEXING_FAILED",
    "EKS_RESTORE_OBJECT_FAILED",
    "EKS_RESTORE_OBJECT_SKIPPED",
    "EKS_BACKUP_OBJECT_FAILED",
    "EKS_RESTORE_MODIFICATION_SUCCESS",
    "EKS_RESTORE_MODIFICATION_FAILED",
    "ACCESS_POINT_AVAILABLE",
    "ACCESS_POINT_CREATION_FAILED",
    "ACCESS_POINT_DELETED",
    "ACCESS_POINT_DELETION_FAILED",
    "ACCESS_POINT_EXPIRED",
    "ACCESS_POINT_DISASSOCIATED",
];

/// Events about features Coffer does not have (indexing, EKS, access
/// points, continuous backup): accepted, but they never happen here.
fn event_never_happens(event: &str) -> bool {
    event.starts_with("EKS_")
        || event.starts_with("ACCESS_POINT_")
        || event.starts_with("RECOVERY_POINT_INDEX")
        || event == "CONTINUOUS_BACKUP_INTERRUPTED"
}

impl BackupVault {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::BackupVault.check(&self.backup_vault_name) {
            findings.error("BackupVaultName", err.to_string());
        }
        if let Some(lock) = &self.lock_configuration {
            findings.extend_under("LockConfiguration", lock.validate());
        }
        if let Some(policy) = &self.access_policy {
            findings.extend_under(
                "AccessPolicy",
                crate::access_policy::validate_document(policy),
            );
        }
        if let Some(notifications) = &self.notifications {
            findings
                .warning(
                    "Notifications",
                    format!(
                        "Coffer cannot publish to SNS topics such as {:?}, so these vault notifications are not sent",
                        notifications.sns_topic_arn
                    ),
                )
                .hint("remove Notifications, or keep them for the day this template runs on AWS");
            for (idx, event) in notifications.backup_vault_events.iter().enumerate() {
                if event_never_happens(event) {
                    findings.warning(
                        format!("Notifications.BackupVaultEvents[{idx}]"),
                        format!("{event} is about a feature Coffer does not have; it never happens here"),
                    );
                }
                if !VAULT_EVENTS.contains(&event.as_str()) {
                    let finding = findings.error(
                        format!("Notifications.BackupVaultEvents[{idx}]"),
                        format!("{event:?} is not a backup vault event"),
                    );
                    if let Some(s) =
                        crate::finding::did_you_mean(event, VAULT_EVENTS.iter().copied())
                    {
                        finding.hint(format!("did you mean {s:?}?"));
                    }
                }
            }
        }
        for problem in check_tags(&self.backup_vault_tags) {
            findings.error("BackupVaultTags", problem);
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(min: Option<u32>, max: Option<u32>, changeable: Option<u32>) -> VaultLockConfiguration {
        VaultLockConfiguration {
            min_retention_days: min,
            max_retention_days: max,
            changeable_for_days: changeable,
        }
    }

    #[test]
    fn lock_bounds_follow_aws() {
        assert!(lock(Some(14), Some(2555), Some(3)).validate().is_empty());
        assert!(lock(Some(0), None, None).validate().has_errors());
        assert!(lock(None, Some(36_501), None).validate().has_errors());
        assert!(lock(Some(30), Some(10), None).validate().has_errors());
        assert!(lock(None, None, Some(2)).validate().has_errors());
        assert_eq!(lock(None, None, Some(3)).mode(), LockMode::Compliance);
        assert_eq!(lock(Some(7), None, None).mode(), LockMode::Governance);
    }

    #[test]
    fn retention_outside_lock_names_both_numbers() {
        let err = lock(Some(35), Some(400), None)
            .check_retention(Some(14))
            .unwrap_err();
        assert!(err.contains("14") && err.contains("35"), "{err}");
        let err = lock(Some(35), Some(400), None)
            .check_retention(Some(500))
            .unwrap_err();
        assert!(err.contains("500") && err.contains("400"), "{err}");
        assert!(lock(Some(35), None, None).check_retention(None).is_ok());
    }
}
