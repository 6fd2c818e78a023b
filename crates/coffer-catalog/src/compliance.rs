//! What controls read, as set-at-a-time queries (the newest point per
//! resource, the latest restore per resource, recovery points a page at a
//! time), and what they write: results recorded only when they change,
//! with the current result of each (framework, control, resource) kept in
//! `control_current`, and one `framework_evaluations` row per evaluation.

use coffer_model::{ControlResult, FrameworkEvaluation, RecoveryPoint};
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::error::Result;
use crate::time::parse_ts;
use crate::{doc_from_row, ledger, placeholders, Catalog, Record, IN_LIST};

/// A resource's newest completed recovery point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewestPoint {
    pub resource_arn: String,
    pub recovery_point_id: String,
    pub creation_date: jiff::Timestamp,
}

/// A completed restore of one of a resource's recovery points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedRestore {
    pub resource_arn: String,
    pub restore_job_id: String,
    pub creation_date: jiff::Timestamp,
    pub completion_date: jiff::Timestamp,
    /// How long the restore itself took, when its process measured it
    /// (restore tests do: `RestoreDurationMillis`).
    pub duration_millis: Option<u64>,
}

/// The current result of one (control, resource) of a framework, as an
/// evaluation compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentResult {
    /// [`control_key`] of its control and resource.
    pub key_hash: String,
    /// What identifies the result's content (status, reason, evidence).
    pub digest: String,
}

/// The key of a (control, resource) pair: 128 bits of SHA-256, as hex.
pub fn control_key(control: &str, resource: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(control.as_bytes());
    hasher.update([0]);
    hasher.update(resource.as_bytes());
    hasher.update([0]);
    hex::encode(&hasher.finalize()[..16])
}

/// Which framework of which account and region.
#[derive(Clone, Copy, Debug)]
pub struct FrameworkKey<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub framework_name: &'a str,
}

/// Each resource's newest COMPLETED point, one row per resource in ARN
/// order: `resource_arn`, `creation_date` and the point's `column` (the
/// first point by ID when two share the newest creation date).
pub(crate) fn newest_completed_points(column: &str) -> String {
    format!(
        "SELECT n.resource_arn, \
           (SELECT p.{column} FROM recovery_points p WHERE p.status = 'COMPLETED' \
            AND p.resource_arn = n.resource_arn AND p.creation_date = n.newest \
            ORDER BY p.id LIMIT 1) AS {column}, \
           n.newest AS creation_date \
         FROM (SELECT resource_arn, MAX(creation_date) AS newest FROM recovery_points \
               WHERE status = 'COMPLETED' GROUP BY resource_arn) n \
         ORDER BY n.resource_arn"
    )
}

impl Catalog {
    /// Each resource's newest COMPLETED recovery point, in any vault: one
    /// grouped scan of the (status, resource, creation date) index, then a
    /// seek per resource for the point's ID (the first by ID when two share
    /// the instant).
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn newest_points(&self) -> Result<Vec<NewestPoint>> {
        let rows = sqlx::query(&newest_completed_points("id"))
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<NewestPoint> = Vec::with_capacity(rows.len());
        for row in rows {
            let resource_arn: String = row.try_get("resource_arn")?;
            let created: String = row.try_get("creation_date")?;
            out.push(NewestPoint {
                resource_arn,
                recovery_point_id: row.try_get("id")?,
                creation_date: parse_ts(&created, "recovery point")?,
            });
        }
        Ok(out)
    }

    /// Every COMPLETED restore job with the resource its point came from.
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn completed_restores(&self) -> Result<Vec<CompletedRestore>> {
        let rows = sqlx::query(
            "SELECT p.resource_arn, r.id, r.creation_date, r.completion_date, r.doc \
             FROM restore_jobs r JOIN recovery_points p ON p.arn = r.recovery_point_arn \
             WHERE r.status = 'COMPLETED' AND r.completion_date IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let created: String = row.try_get("creation_date")?;
                let completed: String = row.try_get("completion_date")?;
                let doc: String = row.try_get("doc")?;
                let duration_millis = serde_json::from_str::<serde_json::Value>(&doc)
                    .ok()
                    .and_then(|d| {
                        d.get("RestoreDurationMillis")
                            .and_then(serde_json::Value::as_u64)
                    });
                Ok(CompletedRestore {
                    duration_millis,
                    resource_arn: row.try_get("resource_arn")?,
                    restore_job_id: row.try_get("id")?,
                    creation_date: parse_ts(&created, "restore job")?,
                    completion_date: parse_ts(&completed, "restore job")?,
                })
            })
            .collect()
    }

    /// The latest ended restore test of each resource (by creation), as
    /// `(resource ARN, its restore job's document)`: what `/metrics` shows.
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn latest_restore_tests<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>> {
        let rows = sqlx::query(
            "SELECT p.resource_arn, r.creation_date, r.doc \
             FROM restore_jobs r JOIN recovery_points p ON p.arn = r.recovery_point_arn \
             WHERE r.status IN ('COMPLETED', 'FAILED') AND r.doc LIKE '%\"CreatedBy\"%' \
             ORDER BY p.resource_arn, r.creation_date",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut latest: std::collections::BTreeMap<String, String> = Default::default();
        for row in &rows {
            latest.insert(row.try_get("resource_arn")?, row.try_get("doc")?);
        }
        latest
            .into_iter()
            .map(|(arn, doc)| {
                let value = serde_json::from_str(&doc).map_err(|source| crate::Error::Corrupt {
                    what: format!("restore job of {arn}"),
                    source,
                })?;
                Ok((arn, value))
            })
            .collect()
    }

    /// Up to `limit` COMPLETED recovery points of an account and region
    /// with IDs after `after`, in ID order, each document read as `T` (a
    /// type with only the fields wanted).
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn completed_points_page<T: DeserializeOwned>(
        &self,
        (account, region): (&str, &str),
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, T)>> {
        let rows = sqlx::query(
            "SELECT id, doc FROM recovery_points WHERE account_id = $1 AND region = $2 \
             AND status = 'COMPLETED' AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(account)
        .bind(region)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let value = doc_from_row(row, RecoveryPoint::WHAT)?;
                Ok((row.try_get("id")?, value))
            })
            .collect()
    }

    /// Up to `limit` current results of a framework with keys after
    /// `after`, in key order (read from an index alone).
    ///
    /// # Errors
    /// On database errors.
    pub async fn control_current_page(
        &self,
        key: FrameworkKey<'_>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CurrentResult>> {
        let rows = sqlx::query(
            "SELECT key_hash, digest FROM control_current \
             WHERE account_id = $1 AND region = $2 AND framework_name = $3 AND key_hash > $4 \
             ORDER BY key_hash LIMIT $5",
        )
        .bind(key.account_id)
        .bind(key.region)
        .bind(key.framework_name)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CurrentResult {
                    key_hash: row.try_get("key_hash")?,
                    digest: row.try_get("digest")?,
                })
            })
            .collect()
    }

    /// The (control, resource) of each current result of a framework whose
    /// key is among `keys`.
    ///
    /// # Errors
    /// On database errors.
    pub async fn control_current_named(
        &self,
        key: FrameworkKey<'_>,
        keys: &[String],
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(IN_LIST) {
            let sql = format!(
                "SELECT control_name, resource_id FROM control_current \
                 WHERE account_id = $1 AND region = $2 AND framework_name = $3 \
                 AND key_hash IN ({})",
                placeholders(4, chunk.len())
            );
            let mut query = sqlx::query(&sql)
                .bind(key.account_id)
                .bind(key.region)
                .bind(key.framework_name);
            for k in chunk {
                query = query.bind(k.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push((row.try_get("control_name")?, row.try_get("resource_id")?));
            }
        }
        Ok(out)
    }

    /// Records results that differ from the current ones (`digests[i]` is
    /// `changed[i]`'s) in one transaction: each kept in `control_results` with its
    /// ledger entry, and made current.
    ///
    /// # Errors
    /// On database errors; nothing is written then.
    pub async fn record_control_results(
        &self,
        changed: &[ControlResult],
        digests: &[String],
        now: jiff::Timestamp,
    ) -> Result<()> {
        if changed.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let mut tail = ledger::Tail::read(&mut tx, self).await?;
        self.insert_many_in(&mut tx, &mut tail, changed, now)
            .await?;
        for (results, digests) in changed
            .chunks(crate::BATCH_ROWS)
            .zip(digests.chunks(crate::BATCH_ROWS))
        {
            let sql = format!(
                "INSERT INTO control_current (account_id, region, framework_name, control_name, \
                 resource_id, key_hash, status, digest, result_id) VALUES {} \
                 ON CONFLICT (account_id, region, framework_name, control_name, resource_id) \
                 DO UPDATE SET status = excluded.status, digest = excluded.digest, \
                 result_id = excluded.result_id",
                crate::values_list(results.len(), 9)
            );
            let mut query = sqlx::query(&sql);
            for (result, digest) in results.iter().zip(digests) {
                query = query
                    .bind(result.account_id.clone())
                    .bind(result.region.clone())
                    .bind(result.framework_name.clone())
                    .bind(result.control_name.clone())
                    .bind(result.resource_id.clone())
                    .bind(control_key(&result.control_name, &result.resource_id))
                    .bind(result.status.as_str())
                    .bind(digest.clone())
                    .bind(result.result_id.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends an evaluation: retires the current results of `(control,
    /// resource)` pairs no longer evaluated (each with a ledger entry) and
    /// records the evaluation, in one transaction.
    ///
    /// # Errors
    /// On database errors; nothing is written then.
    pub async fn finish_evaluation(
        &self,
        evaluation: &FrameworkEvaluation,
        retired: &[(String, String)],
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut tail = ledger::Tail::read(&mut tx, self).await?;
        // Retired by key, a list at a time, with their ledger entries in
        // multi-row inserts.
        for chunk in retired.chunks(IN_LIST) {
            let sql = format!(
                "DELETE FROM control_current \
                 WHERE account_id = $1 AND region = $2 AND framework_name = $3 \
                 AND key_hash IN ({})",
                placeholders(4, chunk.len())
            );
            let mut query = sqlx::query(&sql)
                .bind(&evaluation.account_id)
                .bind(&evaluation.region)
                .bind(&evaluation.framework_name);
            let mut entries = Vec::with_capacity(chunk.len());
            for (control, resource) in chunk {
                query = query.bind(control_key(control, resource));
                let subject = format!("{}/{control}/{resource}", evaluation.framework_name);
                entries.push(tail.next(
                    <ControlResult as Record>::WHAT,
                    &subject,
                    "RETIRED: no longer evaluated",
                    subject.as_bytes(),
                    now,
                )?);
            }
            query.execute(&mut *tx).await?;
            ledger::insert_entries(&mut tx, &entries).await?;
        }
        self.insert_in(&mut tx, &mut tail, evaluation, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The current result of every (framework, control, resource), of one
    /// framework or all; only those not COMPLIANT with `failing_only`.
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn current_control_results(
        &self,
        framework: Option<FrameworkKey<'_>>,
        failing_only: bool,
    ) -> Result<Vec<ControlResult>> {
        let base = if failing_only {
            "SELECT r.doc FROM control_current c JOIN control_results r ON r.id = c.result_id \
             WHERE c.status <> 'COMPLIANT'"
        } else {
            "SELECT r.doc FROM control_current c JOIN control_results r ON r.id = c.result_id \
             WHERE 1 = 1"
        };
        let rows = match framework {
            Some(key) => {
                sqlx::query(&format!(
                    "{base} AND c.account_id = $1 AND c.region = $2 AND c.framework_name = $3 \
                     ORDER BY c.control_name, c.resource_id"
                ))
                .bind(key.account_id)
                .bind(key.region)
                .bind(key.framework_name)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "{base} ORDER BY c.framework_name, c.control_name, c.resource_id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| doc_from_row(row, ControlResult::WHAT))
            .collect()
    }

    /// The newest evaluation of each framework of each account and region.
    ///
    /// # Errors
    /// On database errors or unreadable documents.
    pub async fn latest_evaluations(&self) -> Result<Vec<FrameworkEvaluation>> {
        let rows = sqlx::query(
            "SELECT e.doc FROM framework_evaluations e JOIN \
             (SELECT account_id, region, framework_name, MAX(evaluated_at) AS newest \
              FROM framework_evaluations GROUP BY account_id, region, framework_name) n \
             ON e.account_id = n.account_id AND e.region = n.region \
             AND e.framework_name = n.framework_name AND e.evaluated_at = n.newest \
             ORDER BY e.account_id, e.region, e.framework_name, e.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<FrameworkEvaluation> = Vec::with_capacity(rows.len());
        for row in rows {
            let evaluation: FrameworkEvaluation = doc_from_row(&row, FrameworkEvaluation::WHAT)?;
            let same = out.last().is_some_and(|e| {
                (&e.account_id, &e.region, &e.framework_name)
                    == (
                        &evaluation.account_id,
                        &evaluation.region,
                        &evaluation.framework_name,
                    )
            });
            if !same {
                out.push(evaluation);
            }
        }
        Ok(out)
    }

    /// The newest ledger entry after `after` that is not a control result
    /// or a framework evaluation, else `after`: what controls read changed
    /// since an evaluation when this moved. Give the last answer as `after`
    /// and only the entries since are read (-1 reads the whole ledger).
    ///
    /// # Errors
    /// On database errors.
    pub async fn ledger_last_change(&self, after: i64) -> Result<i64> {
        // What evaluations themselves append is left out.
        let row = sqlx::query(
            "SELECT MAX(seq) AS seq FROM ledger WHERE seq > $1 AND kind NOT IN ($2, $3)",
        )
        .bind(after)
        .bind(ControlResult::WHAT)
        .bind(FrameworkEvaluation::WHAT)
        .fetch_one(&self.pool)
        .await?;
        let found: Option<i64> = row.try_get("seq")?;
        Ok(found.unwrap_or(after))
    }
}
