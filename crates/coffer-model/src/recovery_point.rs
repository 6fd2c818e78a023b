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
    /// Deleted by a principal or expired by the lifecycle; the record stays
    /// as evidence, the data is gone from the vault.
    Deleted,
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
    /// Storage snapshot that holds the data (restic ID). It changes if
    /// someone edits the snapshot by hand, which is why it is not the ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Where the snapshot lives when not in the vault's own storage: the
    /// vault's cold tier (a recorded location, `file://...` or
    /// `s3://...?endpoint=NAME`), once the point moved there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// Bytes added to the vault by this backup, after dedup and compression.
    #[serde(default)]
    pub bytes_added: u64,
    /// Bytes the point's data occupies in the vault (each distinct chunk
    /// once, compressed and encrypted, shared with other points or not).
    #[serde(default)]
    pub stored_bytes: u64,
    /// How long the backup took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// What validation compares a restore with (databases: tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ContentManifest>,
}

impl RecoveryPoint {
    /// The recovery point ID in an ARN (`...:recovery-point:ID`); anything
    /// else is taken as the ID itself.
    pub fn id_of(arn_or_id: &str) -> &str {
        arn_or_id
            .rsplit_once("recovery-point:")
            .map_or(arn_or_id, |(_, id)| id)
    }
}

/// Row counts and checksums of a database's tables, taken from the same
/// snapshot of the data as the backup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContentManifest {
    pub tables: Vec<TableManifest>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableManifest {
    /// Schema-qualified for PostgreSQL (`public.orders`), bare for SQLite.
    pub name: String,
    pub rows: u64,
    /// Order-independent checksum of the rows' text (hex).
    pub checksum: String,
}

impl ContentManifest {
    /// What differs between `self` (recorded) and `other` (found), one
    /// line per table; empty when they agree.
    pub fn differences(&self, other: &ContentManifest) -> Vec<String> {
        let mut out = Vec::new();
        for expected in &self.tables {
            match other.tables.iter().find(|t| t.name == expected.name) {
                None => out.push(format!("table {} is missing", expected.name)),
                Some(found) if found.rows != expected.rows => out.push(format!(
                    "table {}: {} rows, the recovery point recorded {}",
                    expected.name, found.rows, expected.rows
                )),
                Some(found) if found.checksum != expected.checksum => out.push(format!(
                    "table {}: checksum {} differs from the recorded {} (same row count, {})",
                    expected.name, found.checksum, expected.checksum, expected.rows
                )),
                Some(_) => {}
            }
        }
        for found in &other.tables {
            if !self.tables.iter().any(|t| t.name == found.name) {
                out.push(format!(
                    "table {} is not in the recovery point's manifest",
                    found.name
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_differences_name_the_table_and_both_numbers() {
        let table = |name: &str, rows, checksum: &str| TableManifest {
            name: name.into(),
            rows,
            checksum: checksum.into(),
        };
        let recorded = ContentManifest {
            tables: vec![table("public.a", 3, "x"), table("public.b", 1, "y")],
        };
        assert!(recorded.differences(&recorded).is_empty());
        let found = ContentManifest {
            tables: vec![table("public.a", 2, "x"), table("public.c", 0, "z")],
        };
        assert_eq!(
            recorded.differences(&found),
            vec![
                "table public.a: 2 rows, the recovery point recorded 3",
                "table public.b is missing",
                "table public.c is not in the recovery point's manifest",
            ]
        );
    }

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
