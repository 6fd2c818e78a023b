//! What report templates read, by index: the jobs that ended in a window
//! or are still active, records by ID, the recovery points they name, and the newest
//! ledger entry of each record a report row shows.

use std::collections::HashMap;

use coffer_model::{BackupJob, CopyJob, RecoveryPoint, RestoreJob};
use sqlx::Row;

use crate::error::Result;
use crate::time::format_ts;
use crate::{placeholders, stored_from_row, Catalog, Record, IN_LIST};

/// A job record that job reports read.
pub trait JobRecord: Record {
    /// The column holding its state.
    const STATE_COLUMN: &'static str;
    /// The states that are not terminal (as stored).
    const ACTIVE: &'static [&'static str];
}

impl JobRecord for BackupJob {
    const STATE_COLUMN: &'static str = "state";
    const ACTIVE: &'static [&'static str] = &["CREATED", "PENDING", "RUNNING", "ABORTING"];
}

impl JobRecord for CopyJob {
    const STATE_COLUMN: &'static str = "state";
    const ACTIVE: &'static [&'static str] = &["CREATED", "RUNNING"];
}

impl JobRecord for RestoreJob {
    const STATE_COLUMN: &'static str = "status";
    const ACTIVE: &'static [&'static str] = &["PENDING", "RUNNING"];
}

impl Catalog {
    /// Jobs that ended in `[from, to]` (at the catalog's millisecond
    /// precision: callers filter the exact window) and every job still
    /// active, oldest first (index seeks on the completion date and the
    /// state).
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn jobs_for_report<R: JobRecord>(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<R>> {
        let active: Vec<String> = R::ACTIVE.iter().map(|s| format!("'{s}'")).collect();
        let sql = format!(
            "SELECT doc, version, created_at, updated_at FROM {} \
             WHERE (completion_date >= $1 AND completion_date <= $2) OR {} IN ({}) \
             ORDER BY creation_date, id",
            R::TABLE,
            R::STATE_COLUMN,
            active.join(", ")
        );
        let rows = sqlx::query(&sql)
            .bind(format_ts(from))
            .bind(format_ts(to))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| stored_from_row::<R>(row).map(|s| s.record))
            .collect()
    }

    /// The records with these IDs (those that exist), by primary-key
    /// seeks a list at a time: the jobs an expected-backup report matches
    /// to its fire times.
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn records_by_id<R: Record>(&self, ids: &[String]) -> Result<Vec<R>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_LIST) {
            let sql = format!(
                "SELECT doc, version, created_at, updated_at FROM {} WHERE id IN ({})",
                R::TABLE,
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(stored_from_row::<R>(&row)?.record);
            }
        }
        Ok(out)
    }

    /// The recovery points with these ARNs (those that exist).
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn recovery_points_by_arn(&self, arns: &[String]) -> Result<Vec<RecoveryPoint>> {
        let mut out = Vec::new();
        for chunk in arns.chunks(IN_LIST) {
            let sql = format!(
                "SELECT doc, version, created_at, updated_at FROM recovery_points WHERE arn IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for arn in chunk {
                query = query.bind(arn.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(stored_from_row::<RecoveryPoint>(&row)?.record);
            }
        }
        Ok(out)
    }

    /// The newest ledger entry's position of each subject (record ID) that
    /// has one.
    ///
    /// # Errors
    /// On database errors.
    pub async fn ledger_last_seqs(&self, subjects: &[String]) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for chunk in subjects.chunks(IN_LIST) {
            let sql = format!(
                "SELECT subject, MAX(seq) AS seq FROM ledger WHERE subject IN ({}) GROUP BY subject",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for subject in chunk {
                query = query.bind(subject.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.insert(row.try_get("subject")?, row.try_get("seq")?);
            }
        }
        Ok(out)
    }
}
