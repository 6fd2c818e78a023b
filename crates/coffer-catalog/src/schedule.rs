//! What the scheduler keeps in the catalog besides jobs: how far it has
//! planned (and each scheduled report plan has run), when rules and discovered resources first existed (so a
//! restarted scheduler plans exactly the fire times it missed, and none
//! from before a thing existed), and the claim that lets one backup job at
//! a time run per resource, across every process sharing the catalog.

use std::collections::BTreeMap;

use coffer_model::{BackupJob, BackupJobState};
use sqlx::Row;

use crate::error::Result;
use crate::time::{format_ts, parse_ts};
use crate::{ledger, Catalog, BATCH_ROWS};

const PLANNED: (&str, &str) = ("planned", "through");
const RULE: &str = "rule";
const RESOURCE: &str = "resource";
const REPORTED: &str = "report";

/// The mark of a scheduled report plan (names hold no spaces).
fn report_mark(account: &str, region: &str, plan: &str) -> String {
    format!("{account} {region} {plan}")
}

/// The mark of a rule (names hold no spaces).
fn rule_mark(account: &str, region: &str, plan: &str, rule: &str) -> String {
    format!("{account} {region} {plan} {rule}")
}

/// `(account, region, plan, rule)`.
pub type RuleKey = (String, String, String, String);

/// What a claim of a backup job found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The job is written as given, now at this version.
    Claimed(i64),
    /// Another backup job of the same resource is running (or being
    /// stopped); nothing was written.
    Busy { job_id: String },
}

impl Catalog {
    /// How far the scheduler has planned: every fire time up to this
    /// instant has its job.
    ///
    /// # Errors
    /// Database errors, an unreadable mark.
    pub async fn planned_through(&self) -> Result<Option<jiff::Timestamp>> {
        self.mark_at(PLANNED.0, PLANNED.1).await
    }

    /// Records that every fire time up to `at` has its job; never moves
    /// the mark back (two schedulers may race).
    ///
    /// # Errors
    /// Database errors.
    pub async fn set_planned_through(&self, at: jiff::Timestamp) -> Result<()> {
        self.advance_mark(PLANNED.0, PLANNED.1, at).await
    }

    /// How far the report plan `(account, region, plan)` has run its
    /// schedule: every fire time up to this instant has its report job.
    ///
    /// # Errors
    /// Database errors, an unreadable mark.
    pub async fn reported_through(
        &self,
        account: &str,
        region: &str,
        plan: &str,
    ) -> Result<Option<jiff::Timestamp>> {
        self.mark_at(REPORTED, &report_mark(account, region, plan))
            .await
    }

    /// Records that every fire time of the report plan up to `at` has its
    /// report job; never moves the mark back.
    ///
    /// # Errors
    /// Database errors.
    pub async fn set_reported_through(
        &self,
        account: &str,
        region: &str,
        plan: &str,
        at: jiff::Timestamp,
    ) -> Result<()> {
        self.advance_mark(REPORTED, &report_mark(account, region, plan), at)
            .await
    }

    async fn mark_at(&self, kind: &str, mark: &str) -> Result<Option<jiff::Timestamp>> {
        let row = sqlx::query("SELECT at FROM schedule_marks WHERE kind = $1 AND mark = $2")
            .bind(kind)
            .bind(mark)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse_ts(&r.try_get::<String, _>("at")?, "schedule mark"))
            .transpose()
    }

    /// Moves mark `(kind, mark)` to `at`, never back.
    async fn advance_mark(&self, kind: &str, mark: &str, at: jiff::Timestamp) -> Result<()> {
        let at = format_ts(at);
        let mut tx = self.begin_write().await?;
        insert_marks(&mut tx, kind, &[mark.to_string()], &at).await?;
        sqlx::query("UPDATE schedule_marks SET at = $1 WHERE kind = $2 AND mark = $3 AND at < $1")
            .bind(&at)
            .bind(kind)
            .bind(mark)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the newest scheduled backup job was created: where a scheduler
    /// that kept no `planned-through` mark had planned to.
    ///
    /// # Errors
    /// Database errors, an unreadable time.
    pub async fn newest_scheduled_job(&self) -> Result<Option<jiff::Timestamp>> {
        let row = sqlx::query(
            "SELECT MAX(creation_date) AS at FROM backup_jobs WHERE plan_name IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        row.try_get::<Option<String>, _>("at")?
            .map(|at| parse_ts(&at, "backup job"))
            .transpose()
    }

    /// When each rule first existed, by `(account, region, plan, rule)`.
    ///
    /// # Errors
    /// Database errors, an unreadable mark.
    pub async fn rules_first_seen(&self) -> Result<BTreeMap<RuleKey, jiff::Timestamp>> {
        let mut rules = BTreeMap::new();
        for (mark, at) in self.marks(RULE).await? {
            let parts: Vec<&str> = mark.split(' ').collect();
            if let [account, region, plan, rule] = parts[..] {
                rules.insert(
                    (
                        account.to_string(),
                        region.to_string(),
                        plan.to_string(),
                        rule.to_string(),
                    ),
                    at,
                );
            }
        }
        Ok(rules)
    }

    /// When each discovered resource was first seen, by ARN.
    ///
    /// # Errors
    /// Database errors, an unreadable mark.
    pub async fn resources_first_seen(&self) -> Result<BTreeMap<String, jiff::Timestamp>> {
        Ok(self.marks(RESOURCE).await?.into_iter().collect())
    }

    async fn marks(&self, kind: &str) -> Result<Vec<(String, jiff::Timestamp)>> {
        let rows = sqlx::query("SELECT mark, at FROM schedule_marks WHERE kind = $1")
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let at = parse_ts(&row.try_get::<String, _>("at")?, "schedule mark")?;
                Ok((row.try_get("mark")?, at))
            })
            .collect()
    }

    /// Records that these resources exist at `now`, keeping the time of
    /// any already seen.
    ///
    /// # Errors
    /// Database errors.
    pub async fn mark_resources_seen(&self, arns: &[String], now: jiff::Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_marks(&mut tx, RESOURCE, arns, &format_ts(now)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims a backup job: writes `job` (moved to RUNNING by the caller)
    /// at `expected_version` only when no other backup job of its resource
    /// is RUNNING or ABORTING. The check and the write are one write
    /// transaction that also holds the ledger's lock (SQLite's write lock;
    /// `LOCK TABLE ledger` on PostgreSQL), so two processes claiming jobs
    /// of one resource at once are serialised and the second sees the
    /// first: one backup of a resource at a time, across processes.
    ///
    /// # Errors
    /// `Conflict` when the job changed since it was read; `NotFound`;
    /// database errors.
    pub async fn claim_backup_job(
        &self,
        job: &BackupJob,
        expected_version: i64,
        now: jiff::Timestamp,
    ) -> Result<Claim> {
        let mut tx = self.begin_write().await?;
        // Taken first for its lock: claims queue here.
        ledger::Tail::read(&mut tx, self).await?;
        let busy = sqlx::query(
            "SELECT id FROM backup_jobs WHERE resource_arn = $1 AND state IN ($2, $3) AND id <> $4 ORDER BY creation_date LIMIT 1",
        )
        .bind(&job.resource_arn)
        .bind(BackupJobState::Running.as_str())
        .bind(BackupJobState::Aborting.as_str())
        .bind(&job.backup_job_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = busy {
            tx.rollback().await?;
            return Ok(Claim::Busy {
                job_id: row.try_get("id")?,
            });
        }
        if self.update_in(&mut tx, job, expected_version, now).await? {
            tx.commit().await?;
            return Ok(Claim::Claimed(expected_version + 1));
        }
        tx.rollback().await?;
        Err(self.update_refused(job).await)
    }
}

/// Inserts the marks of a kind not yet present, at `at`.
async fn insert_marks(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: &str,
    marks: &[String],
    at: &str,
) -> Result<()> {
    for chunk in marks.chunks(BATCH_ROWS) {
        if chunk.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO schedule_marks (kind, mark, at) VALUES {} ON CONFLICT (kind, mark) DO NOTHING",
            crate::values_list(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for mark in chunk {
            query = query
                .bind(kind.to_string())
                .bind(mark.clone())
                .bind(at.to_string());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Marks the rules of a plan document written by an apply at `now` (a rule
/// already marked keeps its time).
pub(crate) async fn mark_plan_rules(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    account: &str,
    region: &str,
    plan_doc: &serde_json::Value,
    now: jiff::Timestamp,
) -> Result<()> {
    let Some(plan) = plan_doc.get("BackupPlanName").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let marks: Vec<String> = plan_doc
        .get("Rules")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|rule| rule.get("RuleName").and_then(|v| v.as_str()))
        .map(|rule| rule_mark(account, region, plan, rule))
        .collect();
    insert_marks(tx, RULE, &marks, &format_ts(now)).await
}
