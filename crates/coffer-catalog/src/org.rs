//! The organization of the deployment, kept as last applied (one at most),
//! and the plans and selections its backup policies make in its accounts.
//!
//! Those objects are owned by the organization ([`ORG_STACK`]): planned and
//! written as a stack's are (field-level diffs, ledger entries, history
//! versions, rules marked for the scheduler), but no stack changes or
//! deletes them, and an organization apply touches nothing else. The
//! organization's own document is diffed field by field, and each apply is
//! a ledger entry naming the digests of its files and policies, by the
//! catalog's actor.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::objects::{
    self, doc_text, now_text, ApplySummary, DesiredObject, FieldChange, StackPlan, ORG_STACK,
};
use crate::time::parse_ts;
use crate::{history, ledger, Catalog};

/// The key of the organization's row, and the subject of its ledger entries.
pub const ORG_SUBJECT: &str = "organization";

/// The organization as last applied.
#[derive(Clone, Debug, PartialEq)]
pub struct OrganizationRecord {
    /// The organization as the service describes it (JSON).
    pub doc: Json,
    /// Each file read, with its SHA-256.
    pub files: BTreeMap<String, String>,
    pub applied_at: jiff::Timestamp,
    /// 1 at the first apply, +1 at each.
    pub version: i64,
}

/// What applying an organization would change.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgPlan {
    /// The organization as last applied, if it was.
    pub before: Option<OrganizationRecord>,
    /// The organization to record (the service's document).
    pub doc: Json,
    pub files: BTreeMap<String, String>,
    /// Each field of the organization that changes (`Accounts.333333333333.Parent`).
    pub fields: Vec<FieldChange>,
    /// The plans and selections the organization owns, as a plan of changes.
    pub objects: StackPlan,
}

impl OrgPlan {
    /// Whether applying changes anything.
    pub fn has_changes(&self) -> bool {
        self.before.is_none() || !self.fields.is_empty() || self.objects.has_changes()
    }
}

impl Catalog {
    /// The organization as last applied, if one was.
    ///
    /// # Errors
    /// On database errors or an unreadable stored row.
    pub async fn organization(&self) -> Result<Option<OrganizationRecord>> {
        let row =
            sqlx::query("SELECT doc, files, applied_at, version FROM organization WHERE id = $1")
                .bind(ORG_SUBJECT)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |source| Error::Corrupt {
            what: "the organization".into(),
            source,
        };
        let doc: String = row.try_get("doc")?;
        let files: String = row.try_get("files")?;
        let applied: String = row.try_get("applied_at")?;
        Ok(Some(OrganizationRecord {
            doc: serde_json::from_str(&doc).map_err(corrupt)?,
            files: serde_json::from_str(&files).map_err(corrupt)?,
            applied_at: parse_ts(&applied, "the organization")?,
            version: row.try_get("version")?,
        }))
    }

    /// Plans the change that records `doc` as the organization (over
    /// `before`, the record the caller read and diffed into `fields`) and
    /// makes it own exactly `desired` (plans and selections in its
    /// accounts).
    ///
    /// # Errors
    /// On database errors.
    pub async fn plan_organization(
        &self,
        before: Option<OrganizationRecord>,
        doc: Json,
        fields: Vec<FieldChange>,
        desired: Vec<DesiredObject>,
        files: BTreeMap<String, String>,
        now: jiff::Timestamp,
    ) -> Result<OrgPlan> {
        let (in_stack, same_keys_elsewhere, other_stacks) =
            self.owned_and_around(ORG_STACK, &desired).await?;
        let objects = objects::plan(objects::PlanInputs {
            stack: ORG_STACK.to_string(),
            account_id: String::new(),
            region: String::new(),
            desired,
            in_stack,
            same_keys_elsewhere,
            other_stacks,
            recovery_points_per_vault: BTreeMap::new(),
            files: files.clone(),
            applied_to: None,
            now,
        });
        Ok(OrgPlan {
            before,
            doc,
            files,
            fields,
            objects,
        })
    }

    /// Applies an organization plan in one transaction: the organization's
    /// row (checked against the version the plan saw), its plans and
    /// selections, and a ledger entry `ORGANIZATION_APPLIED` with the
    /// digests of its files and of each policy (`policy_digests`).
    ///
    /// # Errors
    /// `Blocked` when the plan has blockers, `Conflict` when the catalog
    /// changed since the plan was made, or database errors.
    pub async fn apply_organization(
        &self,
        plan: &OrgPlan,
        policy_digests: &BTreeMap<String, String>,
        now: jiff::Timestamp,
    ) -> Result<ApplySummary> {
        if !plan.objects.blockers.is_empty() {
            return Err(Error::Blocked {
                stack: "the organization".into(),
                reasons: plan
                    .objects
                    .blockers
                    .iter()
                    .map(|b| b.reason.clone())
                    .collect(),
            });
        }
        let now_s = now_text(now);
        let mut tx = self.begin_write().await?;
        let mut summary = ApplySummary {
            unchanged: plan.objects.unchanged,
            ..ApplySummary::default()
        };
        history::record_existing(&mut tx, self, ORG_STACK, now).await?;
        self.write_changes(&mut tx, ORG_STACK, &plan.objects.changes, &mut summary, now)
            .await?;
        let files = serde_json::to_string(&plan.files).map_err(|source| Error::Corrupt {
            what: "the organization's files".into(),
            source,
        })?;
        let doc = doc_text(&plan.doc);
        let written = match &plan.before {
            Some(before) => sqlx::query("UPDATE organization SET doc = $1, files = $2, applied_at = $3, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5")
                .bind(&doc)
                .bind(&files)
                .bind(&now_s)
                .bind(ORG_SUBJECT)
                .bind(before.version)
                .execute(&mut *tx)
                .await,
            None => sqlx::query("INSERT INTO organization (id, doc, files, applied_at, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $4, $4)")
                .bind(ORG_SUBJECT)
                .bind(&doc)
                .bind(&files)
                .bind(&now_s)
                .execute(&mut *tx)
                .await,
        };
        let affected = match written {
            Ok(result) => result.rows_affected(),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => 0,
            Err(other) => return Err(other.into()),
        };
        if affected != 1 {
            return Err(Error::Conflict {
                what: "the organization (applied meanwhile; plan again)".into(),
            });
        }
        let changed: Vec<&str> = plan.fields.iter().map(|f| f.path.as_str()).collect();
        let record = serde_json::json!({
            "Organization": plan.doc,
            "Files": plan.files,
            "Policies": policy_digests,
            "FieldsChanged": changed,
            "Created": summary.created,
            "Updated": summary.updated,
            "Deleted": summary.deleted,
        });
        ledger::append(
            &mut tx,
            self,
            ORG_SUBJECT,
            ORG_SUBJECT,
            &format!(
                "ORGANIZATION_APPLIED policies {} files {} fields {} created {} updated {} deleted {}",
                ledger::sha256_hex(doc_text(&serde_json::json!(policy_digests)).as_bytes()),
                ledger::sha256_hex(doc_text(&serde_json::json!(plan.files)).as_bytes()),
                plan.fields.len(),
                summary.created,
                summary.updated,
                summary.deleted
            ),
            doc_text(&record).as_bytes(),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            created = summary.created,
            updated = summary.updated,
            deleted = summary.deleted,
            fields = plan.fields.len(),
            "organization applied"
        );
        Ok(summary)
    }
}
