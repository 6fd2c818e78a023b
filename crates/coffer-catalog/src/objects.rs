//! Policy objects in the catalog and stacks: planning the change that makes
//! a stack's objects match what its files declare, and applying that plan
//! in one transaction.
//!
//! As in CloudFormation, objects belong to the stack that created them:
//! a stack never changes or deletes another stack's objects, and a vault
//! that holds recovery points is never deleted.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::time::{format_ts, parse_ts};

/// The kinds of object a stack can own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    BackupVault,
    BackupPlan,
    BackupSelection,
    Framework,
    ReportPlan,
    Server,
    S3Endpoint,
    Resource,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 8] = [
        ObjectKind::BackupVault,
        ObjectKind::BackupPlan,
        ObjectKind::BackupSelection,
        ObjectKind::Framework,
        ObjectKind::ReportPlan,
        ObjectKind::Server,
        ObjectKind::S3Endpoint,
        ObjectKind::Resource,
    ];

    /// The value stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::BackupVault => "backup-vault",
            ObjectKind::BackupPlan => "backup-plan",
            ObjectKind::BackupSelection => "backup-selection",
            ObjectKind::Framework => "framework",
            ObjectKind::ReportPlan => "report-plan",
            ObjectKind::Server => "server",
            ObjectKind::S3Endpoint => "s3-endpoint",
            ObjectKind::Resource => "resource",
        }
    }

    /// Words for messages and `plan` output.
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::BackupVault => "backup vault",
            ObjectKind::BackupPlan => "backup plan",
            ObjectKind::BackupSelection => "backup selection",
            ObjectKind::Framework => "framework",
            ObjectKind::ReportPlan => "report plan",
            ObjectKind::Server => "database server",
            ObjectKind::S3Endpoint => "S3 endpoint",
            ObjectKind::Resource => "resource",
        }
    }

    fn parse(value: &str) -> Option<ObjectKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An object as the files declare it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObject {
    pub kind: ObjectKind,
    pub account_id: String,
    pub region: String,
    /// Unique per kind, account and region (for resources: the ARN).
    pub name: String,
    pub arn: String,
    /// The model value as JSON with AWS field names.
    pub doc: Json,
}

/// An object as the catalog holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredObject {
    pub kind: ObjectKind,
    pub account_id: String,
    pub region: String,
    pub name: String,
    /// Stable ID, assigned at creation.
    pub id: String,
    pub arn: String,
    pub stack: String,
    pub doc: Json,
    /// 1 at creation, +1 at every update.
    pub version: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl StoredObject {
    fn key(&self) -> Key {
        (
            self.kind,
            self.account_id.clone(),
            self.region.clone(),
            self.name.clone(),
        )
    }
}

type Key = (ObjectKind, String, String, String);

fn desired_key(o: &DesiredObject) -> Key {
    (
        o.kind,
        o.account_id.clone(),
        o.region.clone(),
        o.name.clone(),
    )
}

/// One field that differs between the stored and the desired object.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// `Rules[0].Lifecycle.DeleteAfterDays`
    pub path: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

/// One change a plan makes.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Create(DesiredObject),
    Update {
        stored: StoredObject,
        desired: DesiredObject,
        fields: Vec<FieldChange>,
    },
    Delete(StoredObject),
}

impl Change {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Change::Create(d) | Change::Update { desired: d, .. } => d.kind,
            Change::Delete(s) => s.kind,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Change::Create(d) | Change::Update { desired: d, .. } => &d.name,
            Change::Delete(s) => &s.name,
        }
    }
}

/// What applying a stack would change: a value, shown by `coffer plan`,
/// executed by `coffer apply`.
#[derive(Clone, Debug, PartialEq)]
pub struct StackPlan {
    pub stack: String,
    pub account_id: String,
    pub region: String,
    pub changes: Vec<Change>,
    pub unchanged: usize,
    /// Why the plan cannot be applied (objects of other stacks, vaults
    /// holding recovery points). Empty when it can.
    pub blockers: Vec<String>,
    /// The files and their SHA-256, recorded with the stack.
    pub files: BTreeMap<String, String>,
}

impl StackPlan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn count(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for change in &self.changes {
            match change {
                Change::Create(_) => counts.0 += 1,
                Change::Update { .. } => counts.1 += 1,
                Change::Delete(_) => counts.2 += 1,
            }
        }
        counts
    }
}

/// What an apply did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

/// Field-level differences between two JSON documents.
pub fn diff_docs(before: &Json, after: &Json) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into("", Some(before), Some(after), &mut out);
    out
}

fn diff_into(path: &str, before: Option<&Json>, after: Option<&Json>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Json::Object(a)), Some(Json::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_into(&child, a.get(key), b.get(key), out);
            }
        }
        (Some(Json::Array(a)), Some(Json::Array(b))) if a.len() == b.len() => {
            for (idx, (x, y)) in a.iter().zip(b).enumerate() {
                diff_into(&format!("{path}[{idx}]"), Some(x), Some(y), out);
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            path: path.to_string(),
            before: a.cloned(),
            after: b.cloned(),
        }),
        _ => {}
    }
}

pub(crate) fn object_from_row(row: &AnyRow, kind_hint: Option<ObjectKind>) -> Result<StoredObject> {
    let kind_text: String = match kind_hint {
        Some(kind) => kind.as_str().to_string(),
        None => row.try_get("kind")?,
    };
    let kind = ObjectKind::parse(&kind_text).ok_or_else(|| Error::Corrupt {
        what: format!("object kind {kind_text:?}"),
        source: serde::de::Error::custom("unknown kind"),
    })?;
    let name: String = row.try_get("name")?;
    let doc_text: String = row.try_get("doc")?;
    let what = format!("{} {name}", kind.label());
    let doc = serde_json::from_str(&doc_text).map_err(|source| Error::Corrupt {
        what: what.clone(),
        source,
    })?;
    let created: String = row.try_get("created_at")?;
    let updated: String = row.try_get("updated_at")?;
    Ok(StoredObject {
        kind,
        account_id: row.try_get("account_id")?,
        region: row.try_get("region")?,
        id: if kind == ObjectKind::Resource {
            name.clone()
        } else {
            row.try_get("id")?
        },
        arn: if kind == ObjectKind::Resource {
            name.clone()
        } else {
            row.try_get("arn")?
        },
        name,
        stack: row.try_get("stack")?,
        doc,
        version: row.try_get("version")?,
        created_at: parse_ts(&created, &what)?,
        updated_at: parse_ts(&updated, &what)?,
    })
}

/// Computes the plan for one stack from the objects of that stack and any
/// objects of other stacks that have the same keys.
// Each argument is one independent input read from the catalog; bundling
// them would only name the same list twice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    stack: &str,
    account_id: &str,
    region: &str,
    desired: Vec<DesiredObject>,
    in_stack: Vec<StoredObject>,
    same_keys_elsewhere: Vec<StoredObject>,
    recovery_points_per_vault: &BTreeMap<(String, String, String), i64>,
    files: BTreeMap<String, String>,
) -> StackPlan {
    let mut current: BTreeMap<Key, StoredObject> =
        in_stack.into_iter().map(|o| (o.key(), o)).collect();
    let elsewhere: BTreeMap<Key, StoredObject> = same_keys_elsewhere
        .into_iter()
        .map(|o| (o.key(), o))
        .collect();
    let mut changes = Vec::new();
    let mut blockers = Vec::new();
    let mut unchanged = 0;
    for object in desired {
        let key = desired_key(&object);
        if let Some(owner) = elsewhere.get(&key) {
            blockers.push(format!(
                "{} {:?} already exists and belongs to stack {:?}; a stack never changes another stack's objects (rename it, or remove it from stack {:?} first)",
                object.kind.label(),
                object.name,
                owner.stack,
                owner.stack
            ));
            continue;
        }
        match current.remove(&key) {
            Some(stored) if stored.doc == object.doc && stored.arn == object.arn => unchanged += 1,
            Some(stored) => {
                let fields = diff_docs(&stored.doc, &object.doc);
                changes.push(Change::Update {
                    stored,
                    desired: object,
                    fields,
                });
            }
            None => changes.push(Change::Create(object)),
        }
    }
    for (_, stored) in current {
        if stored.kind == ObjectKind::BackupVault {
            let key = (
                stored.account_id.clone(),
                stored.region.clone(),
                stored.name.clone(),
            );
            let n_points = recovery_points_per_vault.get(&key).copied().unwrap_or(0);
            if n_points > 0 {
                blockers.push(format!(
                    "backup vault {:?} is no longer in the files of stack {stack:?} but holds {n_points} recovery point(s); a vault is deleted only when empty (keep it in the files, or delete its recovery points first)",
                    stored.name
                ));
                continue;
            }
        }
        changes.push(Change::Delete(stored));
    }
    // Creates before updates before deletes, each in a stable order.
    changes.sort_by(|a, b| {
        let rank = |c: &Change| match c {
            Change::Create(_) => 0,
            Change::Update { .. } => 1,
            Change::Delete(_) => 2,
        };
        (rank(a), a.kind(), a.name()).cmp(&(rank(b), b.kind(), b.name()))
    });
    StackPlan {
        stack: stack.to_string(),
        account_id: account_id.to_string(),
        region: region.to_string(),
        changes,
        unchanged,
        blockers,
        files,
    }
}

pub(crate) fn doc_text(doc: &Json) -> String {
    doc.to_string()
}

pub(crate) fn now_text(now: jiff::Timestamp) -> String {
    format_ts(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_changed_paths() {
        let before = json!({"Rules": [{"Lifecycle": {"DeleteAfterDays": 35}}], "Name": "a"});
        let after = json!({"Rules": [{"Lifecycle": {"DeleteAfterDays": 90}}], "Name": "a", "Tags": {"x": "1"}});
        let changes = diff_docs(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["Rules[0].Lifecycle.DeleteAfterDays", "Tags"]);
        assert_eq!(changes[0].before, Some(json!(35)));
        assert_eq!(changes[0].after, Some(json!(90)));
    }
}
