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
    /// IAM objects belong to an account: stored with an empty region.
    IamUser,
    IamManagedPolicy,
    IamRole,
    RestoreTestingPlan,
    /// Named `plan/selection`.
    RestoreTestingSelection,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 13] = [
        ObjectKind::BackupVault,
        ObjectKind::BackupPlan,
        ObjectKind::BackupSelection,
        ObjectKind::Framework,
        ObjectKind::ReportPlan,
        ObjectKind::Server,
        ObjectKind::S3Endpoint,
        ObjectKind::Resource,
        ObjectKind::IamUser,
        ObjectKind::IamManagedPolicy,
        ObjectKind::IamRole,
        ObjectKind::RestoreTestingPlan,
        ObjectKind::RestoreTestingSelection,
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
            ObjectKind::IamUser => "iam-user",
            ObjectKind::IamManagedPolicy => "iam-managed-policy",
            ObjectKind::IamRole => "iam-role",
            ObjectKind::RestoreTestingPlan => "restore-testing-plan",
            ObjectKind::RestoreTestingSelection => "restore-testing-selection",
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
            ObjectKind::IamUser => "IAM user",
            ObjectKind::IamManagedPolicy => "managed policy",
            ObjectKind::IamRole => "IAM role",
            ObjectKind::RestoreTestingPlan => "restore testing plan",
            ObjectKind::RestoreTestingSelection => "restore testing selection",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<ObjectKind> {
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

/// The owner recorded (in the `stack` column) for the plans and selections
/// an organization's backup policies make in its accounts: no stack may
/// have this name (stack names are letters, digits, `-`, `_` and `.`).
pub const ORG_STACK: &str = "@organization";

/// Who owns a policy object, and so who alone may change or delete it: a
/// stack (its files, through `apply`), the organization (its backup
/// policies, through `org apply`), or no one in particular (created
/// through the API, changed through the API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    Stack(&'a str),
    Organization,
    Api,
}

impl<'a> Owner<'a> {
    /// The owner the `stack` column records.
    pub fn of(stack: &'a str) -> Owner<'a> {
        match stack {
            crate::unowned::NO_STACK => Owner::Api,
            ORG_STACK => Owner::Organization,
            name => Owner::Stack(name),
        }
    }

    /// How a user changes an object of this owner.
    pub fn remedy(&self) -> String {
        match self {
            Owner::Stack(name) => format!("change it in stack {name:?}'s files and apply them"),
            Owner::Organization => {
                "change the organization's backup policies and run `coffer org apply`".to_string()
            }
            Owner::Api => "change it through the API".to_string(),
        }
    }

    /// The stack's name, for a stack's object.
    pub fn stack(&self) -> Option<&'a str> {
        match self {
            Owner::Stack(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Stack(name) => write!(f, "stack {name:?}"),
            Owner::Organization => f.write_str("the organization"),
            Owner::Api => f.write_str("the API (no stack)"),
        }
    }
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
    /// Who owns it.
    pub fn owner(&self) -> Owner<'_> {
        Owner::of(&self.stack)
    }

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
    pub blockers: Vec<Blocker>,
    /// The files and their SHA-256, recorded with the stack.
    pub files: BTreeMap<String, String>,
}

/// A change of a plan that lowers protection: a vault lock removed or its
/// retention bounds loosened, a vault access policy removed or one of its
/// Deny statements dropped or changed, a locked or policed vault deleted.
/// `apply` makes it only when asked explicitly, and the ledger records it
/// as its own kind of entry, `weakening`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weakening {
    /// The vault's ARN.
    pub subject: String,
    /// What it loses, in words (`lock removed`, `MinRetentionDays 7 → 1`).
    pub what: String,
}

impl std::fmt::Display for Weakening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.what)
    }
}

/// What `before` → `after` of a vault document loses (empty when nothing).
pub(crate) fn vault_weakenings(
    before: &serde_json::Value,
    after: Option<&serde_json::Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    let field = |doc: Option<&serde_json::Value>, name: &str| {
        doc.and_then(|d| d.get(name))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let lock_before = field(Some(before), "LockConfiguration");
    let lock_after = field(after, "LockConfiguration");
    match (&lock_before, &lock_after) {
        (Some(_), None) => out.push("lock removed".to_string()),
        (Some(old), Some(new)) => {
            let days = |lock: &serde_json::Value, name: &str| {
                lock.get(name).and_then(serde_json::Value::as_i64)
            };
            match (days(old, "MinRetentionDays"), days(new, "MinRetentionDays")) {
                (Some(a), Some(b)) if b < a => out.push(format!("lock MinRetentionDays {a} → {b}")),
                (Some(a), None) => out.push(format!("lock MinRetentionDays {a} removed")),
                _ => {}
            }
            match (days(old, "MaxRetentionDays"), days(new, "MaxRetentionDays")) {
                (Some(a), Some(b)) if b > a => out.push(format!("lock MaxRetentionDays {a} → {b}")),
                (Some(a), None) => out.push(format!("lock MaxRetentionDays {a} removed")),
                _ => {}
            }
        }
        _ => {}
    }
    let policy_before = field(Some(before), "AccessPolicy");
    let policy_after = field(after, "AccessPolicy");
    let denies = |policy: &Option<serde_json::Value>| -> Vec<serde_json::Value> {
        let statements = policy.as_ref().and_then(|p| p.get("Statement")).cloned();
        let list = match statements {
            Some(serde_json::Value::Array(list)) => list,
            Some(one) => vec![one],
            None => Vec::new(),
        };
        list.into_iter()
            .filter(|s| s.get("Effect").and_then(serde_json::Value::as_str) == Some("Deny"))
            .collect()
    };
    match (&policy_before, &policy_after) {
        (Some(_), None) => out.push("access policy removed".to_string()),
        (Some(_), Some(_)) => {
            let kept = denies(&policy_after);
            let n_lost = denies(&policy_before)
                .iter()
                .filter(|d| !kept.contains(d))
                .count();
            if n_lost > 0 {
                out.push(format!(
                    "access policy: {n_lost} Deny statement(s) removed or changed"
                ));
            }
        }
        _ => {}
    }
    if after.is_none() && !out.is_empty() {
        out = vec![format!(
            "vault deleted with its {}",
            if lock_before.is_some() {
                "lock"
            } else {
                "access policy"
            }
        )];
    }
    out
}

impl StackPlan {
    /// The plan's changes that lower protection (see [`Weakening`]).
    pub fn weakenings(&self) -> Vec<Weakening> {
        let mut out = Vec::new();
        for change in &self.changes {
            let (stored, after) = match change {
                Change::Update {
                    stored, desired, ..
                } => (stored, Some(&desired.doc)),
                Change::Delete(stored) => (stored, None),
                Change::Create(_) => continue,
            };
            if stored.kind != ObjectKind::BackupVault {
                continue;
            }
            for what in vault_weakenings(&stored.doc, after) {
                out.push(Weakening {
                    subject: stored.arn.clone(),
                    what,
                });
            }
        }
        out
    }

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

/// One reason a plan cannot be applied, with the object it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocker {
    /// The object it is about, when it is about one (kind and name).
    pub object: Option<(ObjectKind, String)>,
    pub reason: String,
}

impl Blocker {
    pub(crate) fn about(kind: ObjectKind, name: &str, reason: String) -> Blocker {
        Blocker {
            object: Some((kind, name.to_string())),
            reason,
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
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

/// What the catalog holds that a stack plan depends on.
pub(crate) struct PlanInputs {
    pub stack: String,
    pub account_id: String,
    pub region: String,
    pub desired: Vec<DesiredObject>,
    /// Every object the stack owns now.
    pub in_stack: Vec<StoredObject>,
    /// Objects of other stacks with the same keys as desired objects.
    pub same_keys_elsewhere: Vec<StoredObject>,
    /// Plans and selections of other stacks (they may depend on ours).
    pub other_stacks: Vec<StoredObject>,
    /// Recovery points per vault `(account, region, name)`.
    pub recovery_points_per_vault: BTreeMap<(String, String, String), i64>,
    pub files: BTreeMap<String, String>,
    /// Where the stack was last applied, if it was.
    pub applied_to: Option<(String, String)>,
    pub now: jiff::Timestamp,
}

/// The compliance-mode lock of a stored vault document and its LockDate.
fn compliance_lock(doc: &Json) -> Option<(Json, Option<jiff::Timestamp>)> {
    let lock = doc.get("LockConfiguration")?;
    lock.get("ChangeableForDays")?;
    let lock_date = doc
        .get("LockDate")
        .and_then(Json::as_str)
        .and_then(|s| s.parse().ok());
    Some((lock.clone(), lock_date))
}

/// Sets the LockDate a vault's desired document will carry: kept when the
/// lock is unchanged, now + ChangeableForDays for a new compliance lock.
fn with_lock_date(
    desired: &mut DesiredObject,
    stored: Option<&StoredObject>,
    now: jiff::Timestamp,
) {
    let Some(map) = desired.doc.as_object_mut() else {
        return;
    };
    map.remove("LockDate");
    let Some(lock) = map.get("LockConfiguration").cloned() else {
        return;
    };
    let Some(days) = lock.get("ChangeableForDays").and_then(Json::as_i64) else {
        return;
    };
    let unchanged = stored.and_then(|s| s.doc.get("LockConfiguration")) == Some(&lock);
    let kept = stored
        .filter(|_| unchanged)
        .and_then(|s| s.doc.get("LockDate"))
        .cloned();
    let date = match kept {
        Some(date) => date,
        None => match now.checked_add(jiff::SignedDuration::from_hours(days.saturating_mul(24))) {
            Ok(date) => Json::String(format_ts(date)),
            Err(_) => return,
        },
    };
    map.insert("LockDate".into(), date);
}

/// Computes the plan for one stack.
pub(crate) fn plan(inputs: PlanInputs) -> StackPlan {
    let PlanInputs {
        stack,
        account_id,
        region,
        desired,
        in_stack,
        same_keys_elsewhere,
        other_stacks,
        recovery_points_per_vault,
        files,
        applied_to,
        now,
    } = inputs;
    let mut blockers = Vec::new();
    if let Some((applied_account, applied_region)) = &applied_to {
        if applied_account != &account_id || applied_region != &region {
            blockers.push(Blocker { object: None, reason: format!(
                "stack {stack:?} lives in account {applied_account}, region {applied_region}; a stack belongs to one account and region, so applying it to account {account_id}, region {region} would delete its objects there (apply it under another stack name, or to the account and region it lives in)"
            ) });
        }
    }
    let mut current: BTreeMap<Key, StoredObject> =
        in_stack.into_iter().map(|o| (o.key(), o)).collect();
    let elsewhere: BTreeMap<Key, StoredObject> = same_keys_elsewhere
        .into_iter()
        .map(|o| (o.key(), o))
        .collect();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for mut object in desired {
        let key = desired_key(&object);
        if let Some(owner) = elsewhere.get(&key) {
            let reason = match owner.owner() {
                Owner::Api => format!(
                    "{} {:?} already exists, created through the API; a stack never changes objects it does not own (rename it, or delete it through the API first)",
                    object.kind.label(),
                    object.name,
                ),
                Owner::Organization => format!(
                    "{} {:?} already exists and belongs to the organization; a stack never changes the organization's objects (rename it)",
                    object.kind.label(),
                    object.name,
                ),
                Owner::Stack(other) => format!(
                    "{} {:?} already exists and belongs to stack {other:?}; a stack never changes another stack's objects (rename it, or remove it from stack {other:?} first)",
                    object.kind.label(),
                    object.name,
                ),
            };
            blockers.push(Blocker::about(object.kind, &object.name, reason));
            continue;
        }
        let stored = current.remove(&key);
        if object.kind == ObjectKind::BackupVault {
            with_lock_date(&mut object, stored.as_ref(), now);
            if let Some(reason) = stored
                .as_ref()
                .and_then(|s| immutable_lock_change(s, Some(&object), now))
            {
                blockers.push(Blocker::about(object.kind, &object.name, reason));
                continue;
            }
        }
        match stored {
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
        if let Some(reason) = deletion_blocker(
            &stack,
            &stored,
            &other_stacks,
            &recovery_points_per_vault,
            now,
        ) {
            blockers.push(Blocker::about(stored.kind, &stored.name, reason));
            continue;
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
        stack,
        account_id,
        region,
        changes,
        unchanged,
        blockers,
        files,
    }
}

/// Why a vault's lock may not change: a compliance-mode lock is immutable
/// from its LockDate on, as AWS Backup defines it.
fn immutable_lock_change(
    stored: &StoredObject,
    desired: Option<&DesiredObject>,
    now: jiff::Timestamp,
) -> Option<String> {
    let (lock, lock_date) = compliance_lock(&stored.doc)?;
    let lock_date = lock_date?;
    if lock_date > now {
        return None;
    }
    let desired_lock = desired.and_then(|d| d.doc.get("LockConfiguration"));
    if desired.is_some() && desired_lock == Some(&lock) {
        return None;
    }
    let what = if desired.is_some() {
        "changed or removed"
    } else {
        "deleted with its vault"
    };
    Some(format!(
        "backup vault {:?} has a compliance-mode lock that became immutable on {lock_date}; the lock cannot be {what} by anyone (keep LockConfiguration as it is: {lock})",
        stored.name
    ))
}

/// Why an object that left the stack's files must stay.
fn deletion_blocker(
    stack: &str,
    stored: &StoredObject,
    other_stacks: &[StoredObject],
    recovery_points_per_vault: &BTreeMap<(String, String, String), i64>,
    now: jiff::Timestamp,
) -> Option<String> {
    let same_place =
        |o: &&StoredObject| o.account_id == stored.account_id && o.region == stored.region;
    match stored.kind {
        ObjectKind::BackupVault => {
            let key = (
                stored.account_id.clone(),
                stored.region.clone(),
                stored.name.clone(),
            );
            let n_points = recovery_points_per_vault.get(&key).copied().unwrap_or(0);
            if n_points > 0 {
                return Some(format!(
                    "backup vault {:?} (account {}, region {}) is no longer in the files of stack {stack:?} but holds {n_points} recovery point(s); a vault is deleted only when empty (keep it in the files, or delete its recovery points first)",
                    stored.name, stored.account_id, stored.region
                ));
            }
            if let Some(reason) = immutable_lock_change(stored, None, now) {
                return Some(reason);
            }
            let users: Vec<String> = other_stacks
                .iter()
                .filter(|o| o.kind == ObjectKind::BackupPlan && same_place(o))
                .filter(|plan| {
                    plan.doc
                        .get("Rules")
                        .and_then(Json::as_array)
                        .is_some_and(|rules| {
                            rules.iter().any(|rule| {
                                rule.get("TargetBackupVaultName").and_then(Json::as_str)
                                    == Some(stored.name.as_str())
                                    || rule
                                        .get("CopyActions")
                                        .and_then(Json::as_array)
                                        .is_some_and(|copies| {
                                            copies.iter().any(|c| {
                                                c.get("DestinationBackupVaultArn")
                                                    .and_then(Json::as_str)
                                                    == Some(stored.arn.as_str())
                                            })
                                        })
                            })
                        })
                })
                .map(|plan| format!("plan {:?} of stack {:?}", plan.name, plan.stack))
                .collect();
            (!users.is_empty()).then(|| {
                format!(
                    "backup vault {:?} is no longer in the files of stack {stack:?} but {} still back(s) up into it; change those plans first",
                    stored.name,
                    users.join(", ")
                )
            })
        }
        ObjectKind::BackupPlan => {
            let users: Vec<String> = other_stacks
                .iter()
                .filter(|o| o.kind == ObjectKind::BackupSelection && same_place(o))
                .filter(|s| {
                    s.doc.get("BackupPlanName").and_then(Json::as_str) == Some(stored.name.as_str())
                })
                .map(|s| format!("selection {:?} of stack {:?}", s.name, s.stack))
                .collect();
            (!users.is_empty()).then(|| {
                format!(
                    "backup plan {:?} is no longer in the files of stack {stack:?} but {} still assign(s) resources to it; a plan is deleted only when no selection uses it",
                    stored.name,
                    users.join(", ")
                )
            })
        }
        _ => None,
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
