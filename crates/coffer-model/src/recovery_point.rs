//! Recovery points: one immutable backup of one resource in one vault.

use serde::{Deserialize, Serialize};

use crate::plan::Lifecycle;
use crate::resource::{ResourceType, Tags};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecoveryPointStatus {
    Creating,
    Completed,
    Partial,
    Deleting,
    Expired,
    Available,
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    Warm,
    Cold,
    Deleted,
}

/// Where the lifecycle puts a point: `MoveToColdStorageAt` and `DeleteAt`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CalculatedLifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_cold_storage_at: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<jiff::Timestamp>,
}

impl CalculatedLifecycle {
    /// Creation date plus the lifecycle's days (24-hour days, as AWS counts).
    pub fn from_lifecycle(created: jiff::Timestamp, lifecycle: &Lifecycle) -> Self {
        let at = |days: u32| {
            created
                .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
                .ok()
        };
        Self {
            move_to_cold_storage_at: lifecycle.move_to_cold_storage_after_days.and_then(at),
            delete_at: lifecycle.delete_after_days.and_then(at),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryPoint {
    /// Coffer's own ID, never the storage snapshot ID.
    pub recovery_point_id: String,
    pub recovery_point_arn: String,
    pub backup_vault_name: String,
    pub backup_vault_arn: String,
    pub resource_arn: String,
    pub resource_type: ResourceType,
    pub status: RecoveryPointStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub storage_class: StorageClass,
    pub creation_date: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<jiff::Timestamp>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub calculated_lifecycle: CalculatedLifecycle,
    #[serde(default)]
    pub backup_size_in_bytes: u64,
    pub is_encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_arn: Option<String>,
    /// The job that produced it (backup or copy job ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_backup_plan_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_backup_rule_name: Option<String>,
    /// For copies: the recovery point this one was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_recovery_point_arn: Option<String>,
    /// SHA-256 of the backed-up stream or canonical tree listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculated_lifecycle_adds_days() {
        let created: jiff::Timestamp = "2026-03-01T01:30:00Z".parse().unwrap();
        let calc = CalculatedLifecycle::from_lifecycle(
            created,
            &Lifecycle {
                move_to_cold_storage_after_days: Some(30),
                delete_after_days: Some(120),
                ..Default::default()
            },
        );
        assert_eq!(
            calc.move_to_cold_storage_at.unwrap().to_string(),
            "2026-03-31T01:30:00Z"
        );
        assert_eq!(calc.delete_at.unwrap().to_string(), "2026-06-29T01:30:00Z");
    }
}
