//! What `/metrics` shows, as aggregates the database computes: jobs by
//! state, completed points and bytes per vault, and each resource's newest
//! completed point. A scrape reads indexes and one row per resource, not
//! every job and point of the estate.

use coffer_model::RecoveryPoint;
use sqlx::Row;

use crate::compliance::newest_completed_points;
use crate::db::Backend;
use crate::error::Result;
use crate::{doc_from_row, Catalog, Record};

/// Completed recovery points of one vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultTotals {
    pub account_id: String,
    pub region: String,
    pub vault_name: String,
    pub points: i64,
    /// Bytes backed up (the points' `BackupSizeInBytes`).
    pub logical_bytes: i64,
    /// Bytes the points occupy in the vault (`StoredBytes`), shared chunks
    /// counted per point.
    pub stored_bytes: i64,
}

impl Catalog {
    /// How many backup jobs are in each state (states with none are absent).
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn backup_job_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM backup_jobs GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("state")?, row.try_get("n")?)))
            .collect()
    }

    /// Completed recovery points, their logical and stored bytes, per vault.
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn vault_totals(&self) -> Result<Vec<VaultTotals>> {
        // The stored size lives only in the point's document.
        let stored = match self.backend() {
            Backend::Sqlite => "CAST(json_extract(doc, '$.StoredBytes') AS INTEGER)",
            Backend::Postgres => "CAST(CAST(doc AS jsonb) ->> 'StoredBytes' AS BIGINT)",
        };
        let sql = format!(
            "SELECT account_id, region, vault_name, COUNT(*) AS points, \
               CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS logical_bytes, \
               CAST(COALESCE(SUM({stored}), 0) AS BIGINT) AS stored_bytes \
             FROM recovery_points WHERE status = 'COMPLETED' \
             GROUP BY account_id, region, vault_name \
             ORDER BY account_id, region, vault_name"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(VaultTotals {
                    account_id: row.try_get("account_id")?,
                    region: row.try_get("region")?,
                    vault_name: row.try_get("vault_name")?,
                    points: row.try_get("points")?,
                    logical_bytes: row.try_get("logical_bytes")?,
                    stored_bytes: row.try_get("stored_bytes")?,
                })
            })
            .collect()
    }

    /// Each resource's newest COMPLETED recovery point, whole (the one
    /// [`Catalog::newest_points`] names).
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn newest_point_records(&self) -> Result<Vec<RecoveryPoint>> {
        let rows = sqlx::query(&newest_completed_points("doc"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| doc_from_row(row, RecoveryPoint::WHAT))
            .collect()
    }
}
