//! Objects that belong to no stack (created through the AWS Backup API),
//! and listings a page at a time in a stable order.
//!
//! Every write of a ledgered object here is in the ledger and in the
//! object history (`object_versions`) in its transaction, as `apply_stack`
//! writes them; a plan's rules are marked for the scheduler when written.
//!
//! An object created here has the empty stack ([`NO_STACK`]): `apply_stack`
//! only ever changes or deletes its own stack's objects, so it never
//! touches these, and a stack declaring the same name is blocked naming
//! the API as the owner. Pages are keyset pages: each starts after the key
//! of the previous page's last row (name for policy objects, `(created_at,
//! id)` for records), so rows written meanwhile never shift a page, and
//! each page is an index seek.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::history;
use crate::ledger;
use crate::objects::{object_from_row, DesiredObject, ObjectKind, StoredObject};
use crate::records::{Record, Stored};
use crate::time::format_ts;
use crate::{Catalog, LEDGERED_OBJECTS};

/// The stack of objects created through the API: none.
pub const NO_STACK: &str = "";

/// Where the history keeps the versions of a stored object of no stack.
fn version_of(stored: &StoredObject) -> history::VersionOf<'_> {
    history::VersionOf {
        kind: stored.kind,
        account_id: &stored.account_id,
        region: &stored.region,
        name: &stored.name,
        arn: &stored.arn,
        stack: NO_STACK,
    }
}

/// How a condition of a page compares its column with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    /// Strictly before (text order, which is time order for timestamps).
    Lt,
    /// Strictly after.
    Gt,
}

/// One condition on an indexed column of a record's table; the column
/// comes from the code, never from a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub column: &'static str,
    pub cmp: Cmp,
    pub value: String,
}

impl Condition {
    pub fn eq(column: &'static str, value: impl Into<String>) -> Condition {
        Condition {
            column,
            cmp: Cmp::Eq,
            value: value.into(),
        }
    }

    pub fn ne(column: &'static str, value: impl Into<String>) -> Condition {
        Condition {
            column,
            cmp: Cmp::Ne,
            value: value.into(),
        }
    }

    /// `column` before the time `at`.
    pub fn before(column: &'static str, at: jiff::Timestamp) -> Condition {
        Condition {
            column,
            cmp: Cmp::Lt,
            value: format_ts(at),
        }
    }

    /// `column` after the time `at`.
    pub fn after(column: &'static str, at: jiff::Timestamp) -> Condition {
        Condition {
            column,
            cmp: Cmp::Gt,
            value: format_ts(at),
        }
    }

    /// `column` between the times given (either bound may be absent), as
    /// AWS's `By...Before` / `By...After` filters ask.
    pub fn within(
        column: &'static str,
        after: Option<jiff::Timestamp>,
        before: Option<jiff::Timestamp>,
    ) -> impl Iterator<Item = Condition> {
        let after = after.map(|at| Condition::after(column, at));
        let before = before.map(|at| Condition::before(column, at));
        before.into_iter().chain(after)
    }
}

/// Where a page of records starts: after the row with this key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordCursor {
    pub created_at: String,
    pub id: String,
}

/// One page and where the next starts, if there may be more.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

impl Catalog {
    /// The stored object of `kind` named `name` in an account and region,
    /// with its stack and version.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn stored_object(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<StoredObject>> {
        self.find_object(kind, account_id, region, name).await
    }

    /// The objects of `kind` in an account and region in name order, at
    /// most `limit`, starting after the name `after`.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn objects_page(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredObject, String>> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = sqlx::query("SELECT kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 AND name > $4 ORDER BY name LIMIT $5")
            .bind(kind.as_str())
            .bind(account_id)
            .bind(region)
            .bind(after.unwrap_or(""))
            .bind(fetch)
            .fetch_all(&self.pool)
            .await?;
        let mut items = rows
            .iter()
            .map(|row| object_from_row(row, Some(kind)))
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|o| o.name.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Records of `R` meeting every condition, oldest first (`created_at`,
    /// then ID), at most `limit`, starting after `after`.
    ///
    /// # Errors
    /// Database errors, unreadable documents.
    pub async fn records_page<R: Record>(
        &self,
        conditions: &[Condition],
        after: Option<&RecordCursor>,
        limit: usize,
    ) -> Result<Page<Stored<R>, RecordCursor>> {
        let mut sql = format!(
            "SELECT doc, version, created_at, updated_at, id FROM {} WHERE 1 = 1",
            R::TABLE
        );
        let mut values: Vec<&str> = Vec::new();
        for condition in conditions {
            values.push(&condition.value);
            let op = match condition.cmp {
                Cmp::Eq => "=",
                Cmp::Ne => "<>",
                Cmp::Lt => "<",
                Cmp::Gt => ">",
            };
            sql.push_str(&format!(" AND {} {op} ${}", condition.column, values.len()));
        }
        if let Some(cursor) = after {
            values.push(&cursor.created_at);
            let at = values.len();
            values.push(&cursor.id);
            let id = values.len();
            sql.push_str(&format!(
                " AND (created_at > ${at} OR (created_at = ${at} AND id > ${id}))"
            ));
        }
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        sql.push_str(&format!(
            " ORDER BY created_at, id LIMIT ${}",
            values.len() + 1
        ));
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value.to_string());
        }
        let rows = query.bind(fetch).fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut next = None;
        for row in rows.iter().take(limit) {
            items.push(crate::stored_from_row::<R>(row)?);
            if more {
                next = Some(RecordCursor {
                    created_at: row.try_get("created_at")?,
                    id: row.try_get("id")?,
                });
            }
        }
        Ok(Page {
            items,
            next: if more { next } else { None },
        })
    }

    /// How many recovery points a vault holds (DELETED ones left out).
    ///
    /// # Errors
    /// Database errors.
    pub async fn recovery_points_in_vault(
        &self,
        account_id: &str,
        region: &str,
        vault_name: &str,
    ) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM recovery_points WHERE account_id = $1 AND region = $2 AND vault_name = $3 AND status <> 'DELETED'")
            .bind(account_id)
            .bind(region)
            .bind(vault_name)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// The live (not DELETED) recovery points of each of `vault_names` in
    /// an account and region, by name (a vault holding none is absent):
    /// one grouped scan of the vault index per 500 names, not a query per
    /// vault.
    ///
    /// # Errors
    /// Database errors.
    pub async fn recovery_points_in_vaults(
        &self,
        account_id: &str,
        region: &str,
        vault_names: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut counts = std::collections::HashMap::with_capacity(vault_names.len());
        for chunk in vault_names.chunks(crate::IN_LIST) {
            let sql = format!(
                "SELECT vault_name, COUNT(*) AS n FROM recovery_points WHERE account_id = $1 AND region = $2 AND vault_name IN ({}) AND status <> 'DELETED' GROUP BY vault_name",
                crate::placeholders(3, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(account_id).bind(region);
            for name in chunk {
                query = query.bind(*name);
            }
            for row in query.fetch_all(&self.pool).await? {
                counts.insert(row.try_get("vault_name")?, row.try_get("n")?);
            }
        }
        Ok(counts)
    }

    /// A resource's newest COMPLETED recovery point in an account and
    /// region (the first by ID when two share the instant): one seek on
    /// `(status, resource_arn, creation_date)`.
    ///
    /// # Errors
    /// Database errors, an unreadable document.
    pub async fn newest_completed_point(
        &self,
        account_id: &str,
        region: &str,
        resource_arn: &str,
    ) -> Result<Option<coffer_model::RecoveryPoint>> {
        let row = sqlx::query("SELECT doc FROM recovery_points WHERE status = 'COMPLETED' AND resource_arn = $1 AND account_id = $2 AND region = $3 ORDER BY creation_date DESC, id LIMIT 1")
            .bind(resource_arn)
            .bind(account_id)
            .bind(region)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| crate::doc_from_row(&r, "recovery point"))
            .transpose()
    }

    /// The newest restore job (not a validation) of a live point of a
    /// resource in an account and region, with that point's creation time:
    /// the resource's points by `recovery_points_by_resource`, their
    /// restores by `restore_jobs_by_point` (migration 0020), never the
    /// region's whole restore table.
    ///
    /// # Errors
    /// Database errors, an unreadable row.
    pub async fn latest_restore_of_resource(
        &self,
        account_id: &str,
        region: &str,
        resource_arn: &str,
    ) -> Result<Option<(coffer_model::RestoreJob, jiff::Timestamp)>> {
        let not_validation = match self.backend() {
            crate::Backend::Sqlite => "json_extract(r.doc, '$.ValidationStatus') IS NULL",
            crate::Backend::Postgres => "(CAST(r.doc AS jsonb) ->> 'ValidationStatus') IS NULL",
        };
        let sql = format!(
            "SELECT r.doc, p.creation_date AS point_created FROM recovery_points p \
             JOIN restore_jobs r ON r.recovery_point_arn = p.arn \
             WHERE p.resource_arn = $1 AND p.account_id = $2 AND p.region = $3 AND p.status <> 'DELETED' \
               AND r.account_id = $2 AND r.region = $3 AND {not_validation} \
             ORDER BY r.creation_date DESC, r.created_at DESC, r.id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(resource_arn)
            .bind(account_id)
            .bind(region)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job: coffer_model::RestoreJob = crate::doc_from_row(&row, "restore job")?;
        let created: String = row.try_get("point_created")?;
        Ok(Some((
            job,
            crate::time::parse_ts(&created, "recovery point")?,
        )))
    }

    /// When plan `plan_name` of an account and region last ran: the
    /// creation time of its newest backup job that started (not CREATED,
    /// PENDING or EXPIRED), walked back from the newest on
    /// `backup_jobs_by_plan` (migration 0020).
    ///
    /// # Errors
    /// Database errors, an unreadable time.
    pub async fn last_plan_execution(
        &self,
        account_id: &str,
        region: &str,
        plan_name: &str,
    ) -> Result<Option<jiff::Timestamp>> {
        let row = sqlx::query("SELECT creation_date FROM backup_jobs WHERE account_id = $1 AND region = $2 AND plan_name = $3 AND state NOT IN ('CREATED', 'PENDING', 'EXPIRED') ORDER BY creation_date DESC LIMIT 1")
            .bind(account_id)
            .bind(region)
            .bind(plan_name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let at: String = r.try_get("creation_date")?;
            crate::time::parse_ts(&at, "backup job")
        })
        .transpose()
    }

    /// Creates an object that belongs to no stack, with its ledger entry.
    ///
    /// # Errors
    /// `Conflict` when an object of that kind and name exists already;
    /// database errors.
    pub async fn create_unowned_object(
        &self,
        object: &DesiredObject,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let doc = crate::objects::doc_text(&object.doc);
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query("INSERT INTO objects (kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)")
            .bind(object.kind.as_str())
            .bind(&object.account_id)
            .bind(&object.region)
            .bind(&object.name)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&object.arn)
            .bind(NO_STACK)
            .bind(&doc)
            .bind(format_ts(now))
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::Conflict {
                    what: format!("{} {:?}", object.kind.label(), object.name),
                })
            }
            Err(other) => return Err(other.into()),
        }
        if object.kind == ObjectKind::BackupPlan {
            crate::schedule::mark_plan_rules(
                &mut tx,
                &object.account_id,
                &object.region,
                &object.doc,
                now,
            )
            .await?;
        }
        if LEDGERED_OBJECTS.contains(&object.kind) {
            let entry = ledger::append(
                &mut tx,
                self,
                object.kind.label(),
                &object.arn,
                "CREATED",
                doc.as_bytes(),
                now,
            )
            .await?;
            let of = history::VersionOf {
                kind: object.kind,
                account_id: &object.account_id,
                region: &object.region,
                name: &object.name,
                arn: &object.arn,
                stack: NO_STACK,
            };
            history::record(&mut tx, &of, &doc, &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the document of an object that belongs to no stack if it
    /// is still at its version, with its ledger entry, and a `weakening`
    /// entry for each way the change lowers a vault's protection (its lock
    /// loosened or removed, its access policy's Deny statements dropped or
    /// changed), in the same transaction.
    ///
    /// # Errors
    /// `Conflict` when the object changed or went meanwhile, or belongs to
    /// a stack.
    pub async fn update_unowned_object(
        &self,
        stored: &StoredObject,
        doc: &serde_json::Value,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>> {
        let text = crate::objects::doc_text(doc);
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE objects SET doc = $1, version = version + 1, updated_at = $2 WHERE kind = $3 AND account_id = $4 AND region = $5 AND name = $6 AND version = $7 AND stack = $8")
            .bind(&text)
            .bind(format_ts(now))
            .bind(stored.kind.as_str())
            .bind(&stored.account_id)
            .bind(&stored.region)
            .bind(&stored.name)
            .bind(stored.version)
            .bind(NO_STACK)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(Error::Conflict {
                what: format!("{} {:?}", stored.kind.label(), stored.name),
            });
        }
        let weakenings = if stored.kind == ObjectKind::BackupVault {
            crate::objects::vault_weakenings(&stored.doc, Some(doc))
        } else {
            Vec::new()
        };
        if stored.kind == ObjectKind::BackupPlan {
            crate::schedule::mark_plan_rules(&mut tx, &stored.account_id, &stored.region, doc, now)
                .await?;
        }
        if LEDGERED_OBJECTS.contains(&stored.kind) {
            let entry = ledger::append(
                &mut tx,
                self,
                stored.kind.label(),
                &stored.arn,
                "UPDATED",
                text.as_bytes(),
                now,
            )
            .await?;
            history::record(&mut tx, &version_of(stored), &text, &entry).await?;
        }
        for what in &weakenings {
            ledger::append(
                &mut tx,
                self,
                "weakening",
                &stored.arn,
                &format!("WEAKENED {what}"),
                what.as_bytes(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(weakenings)
    }

    /// Deletes an object that belongs to no stack if it is still at its
    /// version, with its ledger entry. A vault that holds recovery points
    /// (checked inside the transaction) is not deleted.
    ///
    /// # Errors
    /// `Blocked` for a vault holding recovery points; `Conflict` when the
    /// object changed or went meanwhile, or belongs to a stack.
    pub async fn delete_unowned_object(
        &self,
        stored: &StoredObject,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if stored.kind == ObjectKind::BackupVault {
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM recovery_points WHERE account_id = $1 AND region = $2 AND vault_name = $3")
                .bind(&stored.account_id)
                .bind(&stored.region)
                .bind(&stored.name)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if n > 0 {
                tx.rollback().await?;
                return Err(Error::Blocked {
                    stack: NO_STACK.to_string(),
                    reasons: vec![format!(
                        "backup vault {:?} holds {n} recovery point(s) and cannot be deleted",
                        stored.name
                    )],
                });
            }
        }
        let deleted = sqlx::query("DELETE FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 AND name = $4 AND version = $5 AND stack = $6")
            .bind(stored.kind.as_str())
            .bind(&stored.account_id)
            .bind(&stored.region)
            .bind(&stored.name)
            .bind(stored.version)
            .bind(NO_STACK)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(Error::Conflict {
                what: format!("{} {:?}", stored.kind.label(), stored.name),
            });
        }
        if LEDGERED_OBJECTS.contains(&stored.kind) {
            let entry = ledger::append(
                &mut tx,
                self,
                stored.kind.label(),
                &stored.arn,
                "DELETED",
                b"",
                now,
            )
            .await?;
            history::record(&mut tx, &version_of(stored), "", &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
