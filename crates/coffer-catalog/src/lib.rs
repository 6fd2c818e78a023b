//! The catalog: Coffer's persistent state. SQLite (one file, WAL mode) is
//! the embedded default; PostgreSQL is reached through the same code, since
//! every statement is portable SQL run through sqlx's `Any` driver.
//!
//! It owns the schema and its versioned migrations, policy objects and the
//! stacks that own them, resources, recovery points, jobs and legal holds.
//! Every object carries created/updated times and a version. Writes that
//! change several rows happen in one transaction, so concurrent readers see
//! the state before or after, never between.
//!
//! ```no_run
//! # async fn demo() -> coffer_catalog::Result<()> {
//! let catalog = coffer_catalog::Catalog::open("sqlite:///tmp/catalog.db", jiff::Timestamp::now()).await?;
//! let vaults = catalog.list_objects(coffer_catalog::ObjectKind::BackupVault).await?;
//! # Ok(()) }
//! ```

mod access_keys;
mod agreement;
mod compliance;
mod db;
mod error;
mod history;
pub mod ledger;
mod objects;
mod org;
mod overview;
mod records;
mod reporting;
mod request_tokens;
mod schedule;
mod time;
mod typed;
mod unowned;
mod vouched;

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyPool, Row};
use tracing::info;

pub use access_keys::{
    AccessKeyRecord, AuthStamp, RefusalRecord, OTHER_SOURCES, REFUSAL_SOURCES_PER_HOUR,
};
pub use agreement::{AgreementPage, CheckedCurrent, Disagreement, Problem, LEDGERED_OBJECTS};
pub use compliance::{control_key, CompletedRestore, CurrentResult, FrameworkKey, NewestPoint};
pub use db::{Backend, SCHEMA_VERSION};
pub use error::{redact_url, Error, Result};
pub use history::{ObjectVersion, VersionChange, VersionPage};
pub use ledger::{
    Actor, LedgerEntry, LedgerKey, LedgerQuery, StoredCheckpoint, StoredCut, CUT_KIND, FORMAT_V1,
    FORMAT_V2, GENESIS,
};
pub use objects::{
    diff_docs, ApplySummary, Blocker, Change, DesiredObject, FieldChange, ObjectKind, Owner,
    StackPlan, StoredObject, Weakening, ORG_STACK,
};
pub use org::{OrgPlan, OrganizationRecord, ORG_SUBJECT};
pub use overview::VaultTotals;
pub use records::{Param, Record, Stored};
pub use reporting::JobRecord;
pub use request_tokens::{CreatorToken, RequestToken, TokenReservation};
pub use schedule::{Claim, RuleKey};
pub use unowned::{Cmp, Condition, Page, RecordCursor, NO_STACK};
pub use vouched::Vouched;

use objects::{doc_text, now_text, object_from_row};
use time::{format_ts, parse_ts};

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's
/// 65,535 bound parameters for the widest table.
pub(crate) const BATCH_ROWS: usize = 200;

/// `($1, ..., $n), (...)` for `rows` rows of `columns` values.
pub(crate) fn values_list(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values per `IN (...)` list.
pub(crate) const IN_LIST: usize = 500;

/// `$from, $from+1, ...`: `n` placeholders.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row's `doc` column read as `T`; `what` names it when it is corrupt.
pub(crate) fn doc_from_row<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    what: &str,
) -> Result<T> {
    let doc: String = row.try_get("doc")?;
    serde_json::from_str(&doc).map_err(|source| Error::Corrupt {
        what: what.into(),
        source,
    })
}

/// A stack as last applied.
#[derive(Clone, Debug, PartialEq)]
pub struct StackRecord {
    pub name: String,
    pub account_id: String,
    pub region: String,
    /// File → SHA-256 of what was applied.
    pub files: BTreeMap<String, String>,
    pub applied_at: jiff::Timestamp,
    pub version: i64,
}

/// A vault's wrapped repository secret and storage location.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultSecretRecord {
    pub account_id: String,
    pub region: String,
    pub vault_name: String,
    pub location: String,
    /// The secret as wrapped by a keyring key (opaque to the catalog).
    pub wrapped: serde_json::Value,
    pub version: i64,
}

/// A handle on the catalog; cheap to clone. Besides the connections it
/// carries who writes through it (the actor each ledger entry names) and
/// the ledger key each entry is MACed with, so every write method's
/// entries name their actor without taking one.
#[derive(Clone, Debug)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
    actor: std::sync::Arc<Actor>,
    ledger_key: Option<std::sync::Arc<LedgerKey>>,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `url` and brings its schema
    /// up to date.
    ///
    /// # Errors
    /// When the URL is not SQLite or PostgreSQL, the database cannot be
    /// reached, or its schema is newer than this build or was changed.
    pub async fn open(url: &str, now: jiff::Timestamp) -> Result<Catalog> {
        Self::open_with_password(url, None, now).await
    }

    /// Opens a catalog whose server needs a password kept out of the URL
    /// (config.toml gives it by reference). The password is used for the
    /// connection only and never appears in errors or logs.
    ///
    /// # Errors
    /// As [`Catalog::open`]; also when a password is given for a URL that
    /// cannot carry one (SQLite).
    pub async fn open_with_password(
        url: &str,
        password: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<Catalog> {
        let url = match password {
            None => url.to_string(),
            Some(password) => with_password(url, password)?,
        };
        let (pool, backend) = db::connect(&url).await?;
        db::migrate(&pool, backend, now).await?;
        Ok(Catalog {
            pool,
            backend,
            actor: std::sync::Arc::new(Actor::system()),
            ledger_key: None,
        })
    }

    /// The same catalog (the connections are shared), writing as `actor`:
    /// every ledger entry appended through the handle names it.
    pub fn as_actor(&self, actor: Actor) -> Catalog {
        Catalog {
            actor: std::sync::Arc::new(actor),
            ..self.clone()
        }
    }

    /// The same catalog, MACing every ledger entry it appends with `key`.
    pub fn with_ledger_key(&self, key: LedgerKey) -> Catalog {
        Catalog {
            ledger_key: Some(std::sync::Arc::new(key)),
            ..self.clone()
        }
    }

    /// Who writes through this handle.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The key this handle MACs ledger entries with, if it was given one.
    pub fn ledger_key(&self) -> Option<&LedgerKey> {
        self.ledger_key.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (checkpointing the SQLite WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        // SQLite: take the write lock at BEGIN, so two writers queue instead
        // of failing when a read transaction tries to upgrade.
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Every object of a kind, in name order.
    ///
    /// # Errors
    /// On database errors or unreadable stored documents.
    pub async fn list_objects(&self, kind: ObjectKind) -> Result<Vec<StoredObject>> {
        let rows = if kind == ObjectKind::Resource {
            sqlx::query("SELECT arn AS name, account_id, region, stack, doc, version, created_at, updated_at FROM resources ORDER BY arn")
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query("SELECT kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at FROM objects WHERE kind = $1 ORDER BY account_id, region, name")
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await?
        };
        rows.iter()
            .map(|row| object_from_row(row, Some(kind)))
            .collect()
    }

    /// Every object owned by a stack.
    ///
    /// # Errors
    /// On database errors or unreadable stored documents.
    pub async fn stack_objects(&self, stack: &str) -> Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        let rows = sqlx::query("SELECT kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at FROM objects WHERE stack = $1")
            .bind(stack)
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            out.push(object_from_row(row, None)?);
        }
        let rows = sqlx::query("SELECT arn AS name, account_id, region, stack, doc, version, created_at, updated_at FROM resources WHERE stack = $1")
            .bind(stack)
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            out.push(object_from_row(row, Some(ObjectKind::Resource))?);
        }
        Ok(out)
    }

    async fn find_object(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<StoredObject>> {
        let row = if kind == ObjectKind::Resource {
            sqlx::query("SELECT arn AS name, account_id, region, stack, doc, version, created_at, updated_at FROM resources WHERE arn = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
        } else {
            sqlx::query("SELECT kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 AND name = $4")
                .bind(kind.as_str())
                .bind(account_id)
                .bind(region)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
        };
        row.map(|r| object_from_row(&r, Some(kind))).transpose()
    }

    /// Recovery points per vault `(account, region, vault name)`.
    ///
    /// # Errors
    /// On database errors.
    pub async fn recovery_points_per_vault(
        &self,
    ) -> Result<BTreeMap<(String, String, String), i64>> {
        let rows = sqlx::query("SELECT account_id, region, vault_name, COUNT(*) AS n FROM recovery_points GROUP BY account_id, region, vault_name")
            .fetch_all(&self.pool)
            .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            out.insert(
                (
                    row.try_get("account_id")?,
                    row.try_get("region")?,
                    row.try_get("vault_name")?,
                ),
                row.try_get("n")?,
            );
        }
        Ok(out)
    }

    /// What planning `desired` for the owner `stack` reads: the objects
    /// it owns now, objects of other owners with the same keys as desired
    /// ones, and the plans and selections of other owners.
    async fn owned_and_around(
        &self,
        stack: &str,
        desired: &[DesiredObject],
    ) -> Result<(Vec<StoredObject>, Vec<StoredObject>, Vec<StoredObject>)> {
        let in_stack = self.stack_objects(stack).await?;
        let mut same_keys_elsewhere = Vec::new();
        for object in desired {
            if let Some(found) = self
                .find_object(
                    object.kind,
                    &object.account_id,
                    &object.region,
                    &object.name,
                )
                .await?
            {
                if found.stack != stack {
                    same_keys_elsewhere.push(found);
                }
            }
        }
        let mut other_stacks = Vec::new();
        for kind in [ObjectKind::BackupPlan, ObjectKind::BackupSelection] {
            other_stacks.extend(
                self.list_objects(kind)
                    .await?
                    .into_iter()
                    .filter(|o| o.stack != stack),
            );
        }
        Ok((in_stack, same_keys_elsewhere, other_stacks))
    }

    /// Plans the change that makes `stack` own exactly `desired`, as of
    /// `now` (which decides whether compliance-mode locks are immutable).
    ///
    /// # Errors
    /// On database errors.
    pub async fn plan_stack(
        &self,
        stack: &str,
        account_id: &str,
        region: &str,
        desired: Vec<DesiredObject>,
        files: BTreeMap<String, String>,
        now: jiff::Timestamp,
    ) -> Result<StackPlan> {
        let (in_stack, same_keys_elsewhere, other_stacks) =
            self.owned_and_around(stack, &desired).await?;
        let applied_to = self
            .stacks()
            .await?
            .into_iter()
            .find(|s| s.name == stack)
            .map(|s| (s.account_id, s.region));
        let vault_arns: Vec<String> = in_stack
            .iter()
            .filter(|o| o.kind == ObjectKind::BackupVault)
            .map(|o| o.arn.clone())
            .collect();
        let names: BTreeMap<String, String> = in_stack
            .iter()
            .map(|o| (o.arn.clone(), o.name.clone()))
            .collect();
        let disagreeing = self
            .object_disagreements(ObjectKind::BackupVault, Some(&vault_arns))
            .await?;
        let mut plan = objects::plan(objects::PlanInputs {
            stack: stack.to_string(),
            account_id: account_id.to_string(),
            region: region.to_string(),
            desired,
            in_stack,
            same_keys_elsewhere,
            other_stacks,
            recovery_points_per_vault: self.recovery_points_per_vault().await?,
            files,
            applied_to,
            now,
        });
        // A vault whose row the ledger does not vouch for (its lock or
        // LockDate edited behind Coffer's back) is changed by no apply.
        // One with no entry at all predates the ledger's object entries;
        // the apply records it as it stands.
        for disagreement in disagreeing {
            if disagreement.problem == Problem::NoEntry {
                continue;
            }
            let name = names.get(&disagreement.id).cloned().unwrap_or_default();
            plan.blockers.push(objects::Blocker::about(
                ObjectKind::BackupVault,
                &name,
                format!("{disagreement}; its row was changed outside Coffer, so no apply may change it until the row is put back as the ledger recorded it"),
            ));
        }
        Ok(plan)
    }

    /// Applies a plan in one transaction. Every update and delete checks the
    /// version the plan saw, so a concurrent change makes the whole apply
    /// fail with nothing changed.
    ///
    /// # Errors
    /// `Blocked` when the plan has blockers, `Conflict` when the catalog
    /// changed since the plan was made, or database errors.
    pub async fn apply_stack(
        &self,
        plan: &StackPlan,
        now: jiff::Timestamp,
    ) -> Result<ApplySummary> {
        if !plan.blockers.is_empty() {
            return Err(Error::Blocked {
                stack: plan.stack.clone(),
                reasons: plan.blockers.iter().map(|b| b.reason.clone()).collect(),
            });
        }
        let now_s = now_text(now);
        let mut tx = self.begin_write().await?;
        let mut summary = ApplySummary {
            unchanged: plan.unchanged,
            ..ApplySummary::default()
        };
        // Objects of the stack the history does not hold yet (written
        // before it, or before the ledger recorded objects) get their
        // version as they stand, before this apply changes them.
        history::record_existing(&mut tx, self, &plan.stack, now).await?;
        self.write_changes(&mut tx, &plan.stack, &plan.changes, &mut summary, now)
            .await?;
        let files = serde_json::to_string(&plan.files).map_err(|source| Error::Corrupt {
            what: "stack files".into(),
            source,
        })?;
        let updated = sqlx::query("UPDATE stacks SET account_id = $1, region = $2, files = $3, applied_at = $4, version = version + 1, updated_at = $4 WHERE name = $5")
            .bind(&plan.account_id)
            .bind(&plan.region)
            .bind(&files)
            .bind(&now_s)
            .bind(&plan.stack)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            sqlx::query("INSERT INTO stacks (name, account_id, region, files, applied_at, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $5, $5)")
                .bind(&plan.stack)
                .bind(&plan.account_id)
                .bind(&plan.region)
                .bind(&files)
                .bind(&now_s)
                .execute(&mut *tx)
                .await?;
        }
        // The ledger: the policy applied, with the digest of its files, and
        // each vault lock set or changed.
        let record = serde_json::json!({
            "Stack": plan.stack,
            "AccountId": plan.account_id,
            "Region": plan.region,
            "Files": plan.files,
            "Created": summary.created,
            "Updated": summary.updated,
            "Deleted": summary.deleted,
        });
        let record_text = doc_text(&record);
        ledger::append(
            &mut tx,
            self,
            "stack",
            &plan.stack,
            &format!(
                "POLICY_APPLIED files {} created {} updated {} deleted {}",
                ledger::sha256_hex(doc_text(&serde_json::json!(plan.files)).as_bytes()),
                summary.created,
                summary.updated,
                summary.deleted
            ),
            record_text.as_bytes(),
            now,
        )
        .await?;
        // Each change that lowers protection is its own kind of entry, so
        // `evidence log --kind weakening` finds every one.
        for weakening in plan.weakenings() {
            ledger::append(
                &mut tx,
                self,
                "weakening",
                &weakening.subject,
                &format!("WEAKENED {} (stack {})", weakening.what, plan.stack),
                weakening.what.as_bytes(),
                now,
            )
            .await?;
        }
        for change in &plan.changes {
            let (before, after) = match change {
                Change::Create(d) if d.kind == ObjectKind::BackupVault => (None, Some(d)),
                Change::Update {
                    stored, desired, ..
                } if stored.kind == ObjectKind::BackupVault => (Some(&stored.doc), Some(desired)),
                _ => (None, None),
            };
            let Some(after) = after else { continue };
            let lock = after.doc.get("LockConfiguration");
            if lock.is_some() && lock != before.and_then(|b| b.get("LockConfiguration")) {
                let lock_text = doc_text(lock.unwrap_or(&serde_json::Value::Null));
                ledger::append(
                    &mut tx,
                    self,
                    "vault lock",
                    &after.arn,
                    &format!("LOCK_SET {lock_text}"),
                    lock_text.as_bytes(),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        info!(stack = %plan.stack, created = summary.created, updated = summary.updated, deleted = summary.deleted, "stack applied");
        Ok(summary)
    }

    /// Writes the changes of a plan of objects owned by `stack` (a stack's,
    /// or the organization's), each with its ledger entry and history
    /// version, counting them in `summary`.
    async fn write_changes(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        stack: &str,
        changes: &[Change],
        summary: &mut ApplySummary,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let now_s = now_text(now);
        for change in changes {
            let what = format!("{} {:?}", change.kind().label(), change.name());
            let rows = match change {
                Change::Create(d) if d.kind == ObjectKind::Resource => {
                    summary.created += 1;
                    let resource_type = d
                        .doc
                        .get("ResourceType")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string();
                    sqlx::query("INSERT INTO resources (arn, resource_type, account_id, region, name, stack, doc, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)")
                        .bind(&d.name)
                        .bind(resource_type)
                        .bind(&d.account_id)
                        .bind(&d.region)
                        .bind(d.doc.get("ResourceName").and_then(|v| v.as_str()).unwrap_or_default().to_string())
                        .bind(stack)
                        .bind(doc_text(&d.doc))
                        .bind(&now_s)
                        .execute(&mut **tx)
                        .await
                }
                Change::Create(d) => {
                    summary.created += 1;
                    sqlx::query("INSERT INTO objects (kind, account_id, region, name, id, arn, stack, doc, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)")
                        .bind(d.kind.as_str())
                        .bind(&d.account_id)
                        .bind(&d.region)
                        .bind(&d.name)
                        .bind(uuid::Uuid::now_v7().to_string())
                        .bind(&d.arn)
                        .bind(stack)
                        .bind(doc_text(&d.doc))
                        .bind(&now_s)
                        .execute(&mut **tx)
                        .await
                }
                Change::Update {
                    stored, desired, ..
                } if stored.kind == ObjectKind::Resource => {
                    summary.updated += 1;
                    sqlx::query("UPDATE resources SET doc = $1, version = version + 1, updated_at = $2 WHERE arn = $3 AND version = $4 AND stack = $5")
                        .bind(doc_text(&desired.doc))
                        .bind(&now_s)
                        .bind(&stored.name)
                        .bind(stored.version)
                        .bind(stack)
                        .execute(&mut **tx)
                        .await
                }
                Change::Update {
                    stored, desired, ..
                } => {
                    summary.updated += 1;
                    sqlx::query("UPDATE objects SET doc = $1, arn = $2, version = version + 1, updated_at = $3 WHERE kind = $4 AND account_id = $5 AND region = $6 AND name = $7 AND version = $8 AND stack = $9")
                        .bind(doc_text(&desired.doc))
                        .bind(&desired.arn)
                        .bind(&now_s)
                        .bind(stored.kind.as_str())
                        .bind(&stored.account_id)
                        .bind(&stored.region)
                        .bind(&stored.name)
                        .bind(stored.version)
                        .bind(stack)
                        .execute(&mut **tx)
                        .await
                }
                Change::Delete(stored) if stored.kind == ObjectKind::Resource => {
                    summary.deleted += 1;
                    sqlx::query(
                        "DELETE FROM resources WHERE arn = $1 AND version = $2 AND stack = $3",
                    )
                    .bind(&stored.name)
                    .bind(stored.version)
                    .bind(stack)
                    .execute(&mut **tx)
                    .await
                }
                Change::Delete(stored) => {
                    summary.deleted += 1;
                    if stored.kind == ObjectKind::BackupVault {
                        // Re-checked inside the transaction: a recovery point
                        // written since the plan keeps the vault alive.
                        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM recovery_points WHERE account_id = $1 AND region = $2 AND vault_name = $3")
                            .bind(&stored.account_id)
                            .bind(&stored.region)
                            .bind(&stored.name)
                            .fetch_one(&mut **tx)
                            .await?
                            .try_get("n")?;
                        if n > 0 {
                            return Err(Error::Blocked {
                                stack: stack.to_string(),
                                reasons: vec![format!("backup vault {:?} now holds {n} recovery point(s) and cannot be deleted", stored.name)],
                            });
                        }
                    }
                    sqlx::query("DELETE FROM objects WHERE kind = $1 AND account_id = $2 AND region = $3 AND name = $4 AND version = $5 AND stack = $6")
                        .bind(stored.kind.as_str())
                        .bind(&stored.account_id)
                        .bind(&stored.region)
                        .bind(&stored.name)
                        .bind(stored.version)
                        .bind(stack)
                        .execute(&mut **tx)
                        .await
                }
            };
            // The rules a written plan holds exist from now (the scheduler
            // plans no fire time before a rule existed).
            match change {
                Change::Create(d) if d.kind == ObjectKind::BackupPlan => {
                    schedule::mark_plan_rules(tx, &d.account_id, &d.region, &d.doc, now).await?;
                }
                Change::Update { desired, .. } if desired.kind == ObjectKind::BackupPlan => {
                    schedule::mark_plan_rules(
                        tx,
                        &desired.account_id,
                        &desired.region,
                        &desired.doc,
                        now,
                    )
                    .await?;
                }
                _ => {}
            }
            let affected = match rows {
                Ok(result) => result.rows_affected(),
                // A unique-key violation on create means someone created it meanwhile.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => 0,
                Err(other) => return Err(other.into()),
            };
            if affected != 1 {
                return Err(Error::Conflict { what });
            }
            // Every write of a policy object an auditor asks about is in the
            // ledger, its document hashed as stored, and in the history as
            // written (a deletion as a tombstone) with that entry's seq.
            if let Some((kind, arn, event, doc)) = object_entry(change) {
                let entry =
                    ledger::append(tx, self, kind.label(), arn, event, doc.as_bytes(), now).await?;
                let (account_id, region) = match change {
                    Change::Create(d) | Change::Update { desired: d, .. } => {
                        (&d.account_id, &d.region)
                    }
                    Change::Delete(stored) => (&stored.account_id, &stored.region),
                };
                let of = history::VersionOf {
                    kind,
                    account_id,
                    region,
                    name: change.name(),
                    arn,
                    stack,
                };
                history::record(tx, &of, &doc, &entry).await?;
            }
        }
        Ok(())
    }

    /// Every stack, in name order.
    ///
    /// # Errors
    /// On database errors.
    pub async fn stacks(&self) -> Result<Vec<StackRecord>> {
        let rows = sqlx::query(
            "SELECT name, account_id, region, files, applied_at, version FROM stacks ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            let files: String = row.try_get("files")?;
            let applied: String = row.try_get("applied_at")?;
            out.push(StackRecord {
                files: serde_json::from_str(&files).map_err(|source| Error::Corrupt {
                    what: format!("stack {name}"),
                    source,
                })?,
                applied_at: parse_ts(&applied, &format!("stack {name}"))?,
                account_id: row.try_get("account_id")?,
                region: row.try_get("region")?,
                version: row.try_get("version")?,
                name,
            });
        }
        Ok(out)
    }

    /// A vault's wrapped secret, if it has one.
    ///
    /// # Errors
    /// On database errors.
    pub async fn vault_secret(
        &self,
        account_id: &str,
        region: &str,
        vault_name: &str,
    ) -> Result<Option<VaultSecretRecord>> {
        let row = sqlx::query("SELECT account_id, region, vault_name, location, wrapped, version FROM vault_secrets WHERE account_id = $1 AND region = $2 AND vault_name = $3")
            .bind(account_id)
            .bind(region)
            .bind(vault_name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| vault_secret_from_row(&r)).transpose()
    }

    /// Every vault secret (for re-wrapping after a key rotation).
    ///
    /// # Errors
    /// On database errors.
    pub async fn vault_secrets(&self) -> Result<Vec<VaultSecretRecord>> {
        let rows = sqlx::query("SELECT account_id, region, vault_name, location, wrapped, version FROM vault_secrets ORDER BY account_id, region, vault_name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(vault_secret_from_row).collect()
    }

    /// Records a vault's wrapped secret; a vault keeps the secret it got first.
    ///
    /// # Errors
    /// `Conflict` when the vault already has a secret; database errors.
    pub async fn put_vault_secret(
        &self,
        record: &VaultSecretRecord,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let now_s = format_ts(now);
        let result = sqlx::query("INSERT INTO vault_secrets (account_id, region, vault_name, location, wrapped, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6)")
            .bind(&record.account_id)
            .bind(&record.region)
            .bind(&record.vault_name)
            .bind(&record.location)
            .bind(record.wrapped.to_string())
            .bind(now_s)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::Conflict {
                what: format!("secret of vault {}", record.vault_name),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces a vault's wrapped secret (re-wrapped after a rotation) if
    /// it is still at `record.version`.
    ///
    /// # Errors
    /// `Conflict` when it changed meanwhile; database errors.
    pub async fn rewrap_vault_secret(
        &self,
        record: &VaultSecretRecord,
        wrapped: &serde_json::Value,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let result = sqlx::query("UPDATE vault_secrets SET wrapped = $1, version = version + 1, updated_at = $2 WHERE account_id = $3 AND region = $4 AND vault_name = $5 AND version = $6")
            .bind(wrapped.to_string())
            .bind(format_ts(now))
            .bind(&record.account_id)
            .bind(&record.region)
            .bind(&record.vault_name)
            .bind(record.version)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Error::Conflict {
                what: format!("secret of vault {}", record.vault_name),
            })
        }
    }

    /// Stores a new record.
    ///
    /// # Errors
    /// `Conflict` when a record with that ID exists; database errors.
    pub async fn insert<R: Record>(&self, record: &R, now: jiff::Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut tail = ledger::Tail::read(&mut tx, self).await?;
        self.insert_in(&mut tx, &mut tail, record, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores many new records in one transaction (all or none), each with
    /// its ledger entry.
    ///
    /// # Errors
    /// `Conflict` when one exists already; database errors.
    pub async fn insert_all<R: Record>(&self, records: &[R], now: jiff::Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut tail = ledger::Tail::read(&mut tx, self).await?;
        self.insert_many_in(&mut tx, &mut tail, records, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the records whose IDs are not taken yet, each with its ledger
    /// entry, and skips the others (derived IDs make a record planned twice
    /// the same record). Returns the IDs stored, in order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn insert_new<R: Record>(
        &self,
        records: &[R],
        now: jiff::Timestamp,
    ) -> Result<Vec<String>> {
        let now_s = format_ts(now);
        let mut stored = Vec::new();
        // Nothing to store takes no write lock (nor the ledger's).
        if records.is_empty() {
            return Ok(stored);
        }
        let mut tx = self.begin_write().await?;
        let mut tail = ledger::Tail::read(&mut tx, self).await?;
        for chunk in records.chunks(BATCH_ROWS) {
            let sql = insert_sql(chunk, " ON CONFLICT (id) DO NOTHING RETURNING id");
            let (query, docs) = bind_rows(sqlx::query(&sql), chunk, &now_s)?;
            let mut inserted: BTreeSet<String> = query
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>("id"))
                .collect::<std::result::Result<_, _>>()?;
            let mut entries = Vec::with_capacity(inserted.len());
            for (record, doc) in chunk.iter().zip(&docs) {
                // Removed as used: an ID twice in one batch is stored once.
                if !inserted.remove(record.id()) {
                    continue;
                }
                entries.push(created_entry(&mut tail, record, doc, now)?);
                stored.push(record.id().to_string());
            }
            ledger::insert_entries(&mut tx, &entries).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn insert_in<R: Record>(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        tail: &mut ledger::Tail,
        record: &R,
        now: jiff::Timestamp,
    ) -> Result<()> {
        self.insert_many_in(tx, tail, std::slice::from_ref(record), now)
            .await
    }

    /// Inserts records and their ledger entries in multi-row statements.
    async fn insert_many_in<R: Record>(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        tail: &mut ledger::Tail,
        records: &[R],
        now: jiff::Timestamp,
    ) -> Result<()> {
        let now_s = format_ts(now);
        for chunk in records.chunks(BATCH_ROWS) {
            let sql = insert_sql(chunk, "");
            let (query, docs) = bind_rows(sqlx::query(&sql), chunk, &now_s)?;
            let mut entries = Vec::with_capacity(chunk.len());
            for (record, doc) in chunk.iter().zip(&docs) {
                entries.push(created_entry(tail, record, doc, now)?);
            }
            match query.execute(&mut **tx).await {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    let ids: Vec<&str> = chunk.iter().map(Record::id).collect();
                    return Err(Error::Conflict {
                        what: if ids.len() == 1 {
                            format!("{} {}", R::WHAT, ids.join(""))
                        } else {
                            format!("one of the {}s {}", R::WHAT, ids.join(", "))
                        },
                    });
                }
                Err(other) => return Err(other.into()),
            }
            ledger::insert_entries(tx, &entries).await?;
        }
        Ok(())
    }

    /// Reads one record by ID.
    ///
    /// # Errors
    /// On database errors or an unreadable stored document.
    pub async fn get<R: Record>(&self, id: &str) -> Result<Option<Stored<R>>> {
        let sql = format!(
            "SELECT doc, version, created_at, updated_at FROM {} WHERE id = $1",
            R::TABLE
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| stored_from_row(&r)).transpose()
    }

    /// Records whose columns equal the given values, oldest first. Column
    /// names come from the record's own `columns()`, never from users.
    ///
    /// # Errors
    /// On database errors or unreadable stored documents.
    pub async fn list<R: Record>(
        &self,
        filters: &[(&'static str, &str)],
    ) -> Result<Vec<Stored<R>>> {
        let mut sql = format!(
            "SELECT doc, version, created_at, updated_at FROM {}",
            R::TABLE
        );
        for (idx, (column, _)) in filters.iter().enumerate() {
            sql.push_str(if idx == 0 { " WHERE " } else { " AND " });
            sql.push_str(&format!("{column} = ${}", idx + 1));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut query = sqlx::query(&sql);
        for (_, value) in filters {
            query = query.bind(value.to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(stored_from_row).collect()
    }

    /// Replaces a record if it is still at `expected_version`.
    ///
    /// # Errors
    /// `Conflict` when the record changed since it was read; `NotFound`.
    pub async fn update<R: Record>(
        &self,
        record: &R,
        expected_version: i64,
        now: jiff::Timestamp,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        if self
            .update_in(&mut tx, record, expected_version, now)
            .await?
        {
            tx.commit().await?;
            return Ok(expected_version + 1);
        }
        tx.rollback().await?;
        Err(self.update_refused(record).await)
    }

    /// [`Catalog::update`] of a change that weakens protection (a legal
    /// hold cancelled): besides the record's own entry, a `weakening`
    /// entry on the same subject saying `what`, in the same transaction.
    ///
    /// # Errors
    /// As [`Catalog::update`].
    pub async fn update_weakening<R: Record>(
        &self,
        record: &R,
        expected_version: i64,
        what: &str,
        now: jiff::Timestamp,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        if self
            .update_in(&mut tx, record, expected_version, now)
            .await?
        {
            ledger::append(
                &mut tx,
                self,
                "weakening",
                record.id(),
                &format!("WEAKENED {what}"),
                what.as_bytes(),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(expected_version + 1);
        }
        tx.rollback().await?;
        Err(self.update_refused(record).await)
    }

    /// Writes `record` at `expected_version`, with its ledger entry, inside
    /// `tx`; false when the stored record is not at that version.
    async fn update_in<R: Record>(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        record: &R,
        expected_version: i64,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        let columns = record.columns();
        let mut sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| format!("{n} = ${}", i + 1))
            .collect();
        let n = columns.len();
        sets.push(format!("doc = ${}", n + 1));
        sets.push(format!("updated_at = ${}", n + 2));
        sets.push("version = version + 1".to_string());
        let sql = format!(
            "UPDATE {} SET {} WHERE id = ${} AND version = ${}",
            R::TABLE,
            sets.join(", "),
            n + 3,
            n + 4
        );
        let doc = serde_json::to_string(record).map_err(|source| Error::Corrupt {
            what: R::WHAT.into(),
            source,
        })?;
        let mut query = sqlx::query(&sql);
        for (_, param) in columns {
            query = bind_param(query, param);
        }
        let result = query
            .bind(doc.clone())
            .bind(format_ts(now))
            .bind(record.id().to_string())
            .bind(expected_version)
            .execute(&mut **tx)
            .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        ledger::append(
            tx,
            self,
            R::WHAT,
            record.id(),
            &record.evidence(),
            doc.as_bytes(),
            now,
        )
        .await?;
        Ok(true)
    }

    /// Why a versioned update of `record` wrote nothing.
    async fn update_refused<R: Record>(&self, record: &R) -> Error {
        match self.get::<R>(record.id()).await {
            Ok(Some(_)) => Error::Conflict {
                what: format!("{} {}", R::WHAT, record.id()),
            },
            Ok(None) => Error::NotFound {
                what: R::WHAT,
                id: record.id().to_string(),
            },
            Err(error) => error,
        }
    }

    /// The ledger's entries with `from <= seq < to`, in order.
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn ledger_entries(&self, from: i64, to: i64) -> Result<Vec<ledger::LedgerEntry>> {
        let sql = format!(
            "SELECT {} FROM ledger WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            ledger::ENTRY_COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ledger::entry_from_row).collect()
    }

    /// How many entries the ledger holds (the next `seq`).
    ///
    /// # Errors
    /// On database errors.
    pub async fn ledger_len(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM ledger")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Stores a signed checkpoint.
    ///
    /// # Errors
    /// On database errors.
    pub async fn insert_checkpoint(&self, checkpoint: &ledger::StoredCheckpoint) -> Result<()> {
        sqlx::query("INSERT INTO ledger_checkpoints (tree_size, root_hash, time, key_fingerprint, signature) VALUES ($1, $2, $3, $4, $5)")
            .bind(checkpoint.tree_size)
            .bind(&checkpoint.root_hash)
            .bind(format_ts(checkpoint.time))
            .bind(&checkpoint.key_fingerprint)
            .bind(&checkpoint.signature)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every signed checkpoint, oldest first.
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn checkpoints(&self) -> Result<Vec<ledger::StoredCheckpoint>> {
        let rows = sqlx::query("SELECT tree_size, root_hash, time, key_fingerprint, signature FROM ledger_checkpoints ORDER BY time, tree_size")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let time: String = row.try_get("time")?;
                Ok(ledger::StoredCheckpoint {
                    tree_size: row.try_get("tree_size")?,
                    root_hash: row.try_get("root_hash")?,
                    time: parse_ts(&time, "ledger checkpoint")?,
                    key_fingerprint: row.try_get("key_fingerprint")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }

    /// Moves a backup job to `next`, refusing transitions the AWS state
    /// machine does not allow.
    ///
    /// # Errors
    /// `InvalidTransition`, `NotFound`, `Conflict`, database errors.
    pub async fn transition_backup_job(
        &self,
        id: &str,
        next: coffer_model::BackupJobState,
        status_message: Option<String>,
        now: jiff::Timestamp,
    ) -> Result<coffer_model::BackupJob> {
        let stored = self
            .get::<coffer_model::BackupJob>(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "backup job",
                id: id.to_string(),
            })?;
        let mut job = stored.record;
        if !job.state.can_transition_to(next) {
            return Err(Error::InvalidTransition {
                what: "backup job",
                id: id.to_string(),
                from: job.state.as_str().to_string(),
                to: next.as_str().to_string(),
            });
        }
        job.state = next;
        if status_message.is_some() {
            job.status_message = status_message;
        }
        if next.is_terminal() {
            job.completion_date = Some(now);
        }
        self.update(&job, stored.version, now).await?;
        Ok(job)
    }
}

/// The ledger entry a change of a ledgered policy object gets: kind,
/// subject (its ARN), event and the document as stored (empty once
/// deleted).
fn object_entry(change: &Change) -> Option<(ObjectKind, &str, &'static str, String)> {
    let (kind, arn, event, doc) = match change {
        Change::Create(d) => (
            d.kind,
            d.arn.as_str(),
            VersionChange::Created.as_str(),
            doc_text(&d.doc),
        ),
        Change::Update { desired, .. } => (
            desired.kind,
            desired.arn.as_str(),
            VersionChange::Updated.as_str(),
            doc_text(&desired.doc),
        ),
        Change::Delete(stored) => (
            stored.kind,
            stored.arn.as_str(),
            VersionChange::Deleted.as_str(),
            String::new(),
        ),
    };
    LEDGERED_OBJECTS
        .contains(&kind)
        .then_some((kind, arn, event, doc))
}

/// The ledger entry of a record's creation, `doc` its document as stored.
fn created_entry<R: Record>(
    tail: &mut ledger::Tail,
    record: &R,
    doc: &str,
    now: jiff::Timestamp,
) -> Result<ledger::LedgerEntry> {
    tail.next(
        R::WHAT,
        record.id(),
        &format!("created {}", record.evidence()),
        doc.as_bytes(),
        now,
    )
}

/// A multi-row INSERT of `chunk` into its table (every record of a table
/// has the same columns), followed by `then`.
fn insert_sql<R: Record>(chunk: &[R], then: &str) -> String {
    let columns = chunk.first().map(|r| r.columns()).unwrap_or_default();
    let names: Vec<&str> = ["id", "account_id", "region"]
        .into_iter()
        .chain(columns.iter().map(|(n, _)| *n))
        .chain(["doc", "version", "created_at", "updated_at"])
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}{then}",
        R::TABLE,
        names.join(", "),
        values_list(chunk.len(), names.len())
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the rows of [`insert_sql`]; returns the documents bound, in
/// order, for their ledger entries.
fn bind_rows<'q, R: Record>(
    mut query: AnyQuery<'q>,
    chunk: &[R],
    now: &str,
) -> Result<(AnyQuery<'q>, Vec<String>)> {
    let mut docs = Vec::with_capacity(chunk.len());
    for record in chunk {
        let doc = serde_json::to_string(record).map_err(|source| Error::Corrupt {
            what: R::WHAT.into(),
            source,
        })?;
        let (account, region) = record.account_region();
        query = query
            .bind(record.id().to_string())
            .bind(account)
            .bind(region);
        for (_, param) in record.columns() {
            query = bind_param(query, param);
        }
        query = query
            .bind(doc.clone())
            .bind(1_i64)
            .bind(now.to_string())
            .bind(now.to_string());
        docs.push(doc);
    }
    Ok((query, docs))
}

/// The URL with `password` set (percent-encoded by the `url` crate).
fn with_password(url: &str, password: &str) -> Result<String> {
    let unsupported = || Error::UnsupportedUrl {
        url: error::redact_url(url),
    };
    if !url.starts_with("postgres") {
        return Err(unsupported());
    }
    let mut parsed = url::Url::parse(url).map_err(|_| unsupported())?;
    parsed
        .set_password(Some(password))
        .map_err(|()| unsupported())?;
    Ok(parsed.to_string())
}

fn bind_param<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    param: Param,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match param {
        Param::Text(v) => query.bind(v),
        Param::OptText(v) => query.bind(v),
        Param::Int(v) => query.bind(v),
    }
}

fn vault_secret_from_row(row: &sqlx::any::AnyRow) -> Result<VaultSecretRecord> {
    let wrapped: String = row.try_get("wrapped")?;
    let vault_name: String = row.try_get("vault_name")?;
    Ok(VaultSecretRecord {
        wrapped: serde_json::from_str(&wrapped).map_err(|source| Error::Corrupt {
            what: format!("secret of vault {vault_name}"),
            source,
        })?,
        account_id: row.try_get("account_id")?,
        region: row.try_get("region")?,
        location: row.try_get("location")?,
        version: row.try_get("version")?,
        vault_name,
    })
}

pub(crate) fn stored_from_row<R: Record>(row: &sqlx::any::AnyRow) -> Result<Stored<R>> {
    let created: String = row.try_get("created_at")?;
    let updated: String = row.try_get("updated_at")?;
    Ok(Stored {
        record: doc_from_row(row, R::WHAT)?,
        version: row.try_get("version")?,
        created_at: parse_ts(&created, R::WHAT)?,
        updated_at: parse_ts(&updated, R::WHAT)?,
    })
}
