//! Object history: every version of each ledgered policy object (vaults,
//! plans, selections, frameworks, report plans) as it was written, and each
//! deletion as a tombstone, kept in `object_versions` (migration 0012) with
//! the ledger entry that commits to it. `apply_stack` writes a version in
//! the transaction of the change, beside its entry: the entry's
//! `doc_sha256` is the SHA-256 of the version's document bytes, and its
//! time, event and actor are the version's, so the ledger vouches for
//! every column but the stack.
//!
//! Reads answer "which plan was in force on a date" (the newest version at
//! or before a time, a tombstone meaning deleted then) and "who changed
//! it" (an object's versions with time, change, actor, stack and entry).
//! `version_agreement_page` and `versions_missing` check the history
//! against the ledger for `evidence verify`.

use std::fmt;

use serde_json::Value as Json;
use sqlx::Row;

use crate::agreement::{ledger_by_subject_kind, Disagreement, Problem, LEDGERED_OBJECTS};
use crate::error::{Error, Result};
use crate::ledger::{self, sha256_hex, Actor, LedgerEntry};
use crate::objects::ObjectKind;
use crate::time::{format_ts, parse_ts};
use crate::Catalog;

/// How a version came to be: the event of the ledger entry that commits
/// to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionChange {
    Created,
    Updated,
    /// A tombstone: the object was deleted.
    Deleted,
    /// Written before the history (or the ledger) recorded objects, and
    /// recorded as it stood by a later apply.
    Recorded,
}

impl VersionChange {
    pub const ALL: [VersionChange; 4] = [
        VersionChange::Created,
        VersionChange::Updated,
        VersionChange::Deleted,
        VersionChange::Recorded,
    ];

    /// The ledger event, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionChange::Created => "CREATED",
            VersionChange::Updated => "UPDATED",
            VersionChange::Deleted => "DELETED",
            VersionChange::Recorded => "RECORDED",
        }
    }

    fn parse(text: &str) -> Option<VersionChange> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for VersionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a policy object, as the history holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectVersion {
    pub kind: ObjectKind,
    pub account_id: String,
    pub region: String,
    pub name: String,
    /// 1, 2, ... for the name, across deletions and re-creations.
    pub version: i64,
    pub arn: String,
    pub change: VersionChange,
    /// The document as written; None for a tombstone.
    pub doc: Option<Json>,
    /// When it was written (from then on it was in force).
    pub time: jiff::Timestamp,
    /// The stack that wrote it.
    pub stack: String,
    /// Who wrote it (None for a version whose entry predates actors).
    pub actor: Option<Actor>,
    /// The ledger entry that commits to it.
    pub ledger_seq: i64,
}

impl ObjectVersion {
    /// Whether the object was deleted at this version.
    pub fn is_tombstone(&self) -> bool {
        self.change == VersionChange::Deleted
    }
}

/// The columns [`version_from_row`] reads.
const VERSION_COLUMNS: &str = "v.kind, v.account_id, v.region, v.name, v.version, v.arn, v.change_kind, v.doc, v.time, v.stack, v.actor_principal, v.actor_account, v.actor_os_user, v.ledger_seq";

fn corrupt(what: String, why: &str) -> Error {
    Error::Corrupt {
        what,
        source: serde::de::Error::custom(why),
    }
}

fn version_from_row(row: &sqlx::any::AnyRow) -> Result<ObjectVersion> {
    let kind_text: String = row.try_get("kind")?;
    let name: String = row.try_get("name")?;
    let version: i64 = row.try_get("version")?;
    let what = format!("version {version} of {kind_text} {name}");
    let kind = ObjectKind::parse(&kind_text)
        .ok_or_else(|| corrupt(what.clone(), "unknown object kind"))?;
    let change_text: String = row.try_get("change_kind")?;
    let change = VersionChange::parse(&change_text)
        .ok_or_else(|| corrupt(what.clone(), "unknown change"))?;
    let doc_text: String = row.try_get("doc")?;
    let doc = if change == VersionChange::Deleted {
        None
    } else {
        Some(
            serde_json::from_str(&doc_text).map_err(|source| Error::Corrupt {
                what: what.clone(),
                source,
            })?,
        )
    };
    let time: String = row.try_get("time")?;
    Ok(ObjectVersion {
        kind,
        account_id: row.try_get("account_id")?,
        region: row.try_get("region")?,
        version,
        arn: row.try_get("arn")?,
        change,
        doc,
        time: parse_ts(&time, &what)?,
        stack: row.try_get("stack")?,
        actor: actor_from_row(row, "")?,
        ledger_seq: row.try_get("ledger_seq")?,
        name,
    })
}

/// The actor in columns `{prefix}actor_principal`, ... as the ledger
/// reads it.
fn actor_from_row(row: &sqlx::any::AnyRow, prefix: &str) -> Result<Option<Actor>> {
    Ok(ledger::actor_from_columns(
        row.try_get(format!("{prefix}actor_principal").as_str())?,
        row.try_get(format!("{prefix}actor_account").as_str())?,
        row.try_get(format!("{prefix}actor_os_user").as_str())?,
    ))
}

/// Where a version goes: the object's key, its ARN and stack.
pub(crate) struct VersionOf<'a> {
    pub kind: ObjectKind,
    pub account_id: &'a str,
    pub region: &'a str,
    pub name: &'a str,
    pub arn: &'a str,
    pub stack: &'a str,
}

/// Stores the version `entry` commits to (`doc` as written, "" for a
/// deletion) as the name's next version, inside the change's transaction.
pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    of: &VersionOf<'_>,
    doc: &str,
    entry: &LedgerEntry,
) -> Result<()> {
    let last: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM object_versions WHERE kind = $1 AND account_id = $2 AND region = $3 AND name = $4")
        .bind(of.kind.as_str())
        .bind(of.account_id)
        .bind(of.region)
        .bind(of.name)
        .fetch_one(&mut **tx)
        .await?
        .try_get("v")?;
    let actor = entry.actor.as_ref();
    sqlx::query("INSERT INTO object_versions (kind, account_id, region, name, version, arn, change_kind, doc, time, stack, actor_principal, actor_account, actor_os_user, ledger_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
        .bind(of.kind.as_str())
        .bind(of.account_id)
        .bind(of.region)
        .bind(of.name)
        .bind(last.unwrap_or(0) + 1)
        .bind(of.arn)
        .bind(entry.event.clone())
        .bind(doc)
        .bind(format_ts(entry.time))
        .bind(of.stack)
        .bind(actor.map(|a| a.principal.clone()))
        .bind(actor.and_then(|a| a.account.clone()))
        .bind(actor.and_then(|a| a.os_user.clone()))
        .bind(entry.seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives the ledgered objects of `stack` that the history does not hold
/// their first version (written before migration 0012), or whose kind's
/// entries the ledger lacks (written before the ledger recorded objects),
/// a version as they stand, before an apply changes them:
/// - with an entry whose digest is the row's, the version is that entry's
///   (its time, event and actor), and no entry is added;
/// - with no entry at all, a `RECORDED` entry is appended now, by the
///   apply's actor, and the version is its;
/// - with an entry that recorded another document (the row edited behind
///   Coffer's back), nothing is recorded: `evidence verify` names the row,
///   and its history starts at its next change.
pub(crate) async fn record_existing(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    catalog: &Catalog,
    stack: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    for kind in LEDGERED_OBJECTS {
        // The conditions name only the object, so the database filters
        // before it looks up the newest entry of the few that remain.
        let sql = format!(
            "SELECT o.account_id, o.region, o.name, o.arn, o.doc, l.seq AS ledger_seq, l.doc_sha256 AS ledger_sha \
             FROM objects o LEFT JOIN ledger l ON l.seq = (SELECT MAX(seq) FROM {} WHERE subject = o.arn AND kind = $3) \
             WHERE o.stack = $1 AND o.kind = $2 \
             AND (NOT EXISTS (SELECT 1 FROM object_versions v WHERE v.kind = o.kind AND v.account_id = o.account_id AND v.region = o.region AND v.name = o.name) \
             OR NOT EXISTS (SELECT 1 FROM ledger e WHERE e.subject = o.arn AND e.kind = $3)) \
             ORDER BY o.account_id, o.region, o.name",
            ledger_by_subject_kind(catalog.backend)
        );
        let rows = sqlx::query(&sql)
            .bind(stack)
            .bind(kind.as_str())
            .bind(kind.label())
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let account_id: String = row.try_get("account_id")?;
            let region: String = row.try_get("region")?;
            let name: String = row.try_get("name")?;
            let arn: String = row.try_get("arn")?;
            let doc: String = row.try_get("doc")?;
            let seq: Option<i64> = row.try_get("ledger_seq")?;
            let ledger_sha: Option<String> = row.try_get("ledger_sha")?;
            let entry = match (seq, ledger_sha) {
                (Some(seq), Some(sha)) if sha == sha256_hex(doc.as_bytes()) => {
                    entry_at(tx, seq).await?
                }
                (Some(_), _) => continue,
                (None, _) => {
                    ledger::append(
                        tx,
                        catalog,
                        kind.label(),
                        &arn,
                        VersionChange::Recorded.as_str(),
                        doc.as_bytes(),
                        now,
                    )
                    .await?
                }
            };
            let of = VersionOf {
                kind,
                account_id: &account_id,
                region: &region,
                name: &name,
                arn: &arn,
                stack,
            };
            record(tx, &of, &doc, &entry).await?;
        }
    }
    Ok(())
}

async fn entry_at(tx: &mut sqlx::Transaction<'static, sqlx::Any>, seq: i64) -> Result<LedgerEntry> {
    let sql = format!(
        "SELECT {} FROM ledger WHERE seq = $1",
        ledger::ENTRY_COLUMNS
    );
    let row = sqlx::query(&sql).bind(seq).fetch_one(&mut **tx).await?;
    ledger::entry_from_row(&row)
}

/// One page of the history checked against the ledger.
#[derive(Clone, Debug, Default)]
pub struct VersionPage {
    /// Versions read in this page.
    pub rows: usize,
    /// The last ledger position read: where the next page starts (None
    /// when the page was empty).
    pub last_seq: Option<i64>,
    pub disagreements: Vec<Disagreement>,
}

/// What a version row says of itself, in a few words.
fn version_says(version: i64, change: &str, time: &str) -> String {
    format!("version {version} ({change} at {time})")
}

/// Compares one version row with the entry it names; the first field that
/// differs, if any.
fn check_version_row(row: &sqlx::any::AnyRow) -> Result<Option<Disagreement>> {
    let kind_text: String = row.try_get("kind")?;
    let kind = ObjectKind::parse(&kind_text);
    let arn: String = row.try_get("arn")?;
    let version: i64 = row.try_get("version")?;
    let change: String = row.try_get("change_kind")?;
    let doc: String = row.try_get("doc")?;
    let time: String = row.try_get("time")?;
    let seq: i64 = row.try_get("ledger_seq")?;
    let entry_kind: Option<String> = row.try_get("l_kind")?;
    let disagreement = |problem| {
        Some(Disagreement {
            what: kind.map_or_else(|| kind_text.clone(), |k| k.label().to_string()),
            id: arn.clone(),
            catalog_says: version_says(version, &change, &time),
            problem,
        })
    };
    let Some(entry_kind) = entry_kind else {
        return Ok(disagreement(Problem::VersionEntryMissing { seq }));
    };
    let entry_subject: String = row.try_get("l_subject")?;
    let entry_event: String = row.try_get("l_event")?;
    let entry_sha: String = row.try_get("l_sha")?;
    let entry_time: String = row.try_get("l_time")?;
    let differs = |field: &str| {
        Ok(disagreement(Problem::VersionDiffers {
            seq,
            field: field.to_string(),
        }))
    };
    if kind.map(ObjectKind::label) != Some(entry_kind.as_str()) || arn != entry_subject {
        return Ok(disagreement(Problem::VersionEntryMissing { seq }));
    }
    if sha256_hex(doc.as_bytes()) != entry_sha {
        return differs("document");
    }
    if change != entry_event {
        return differs("change");
    }
    if time != entry_time {
        return differs("time");
    }
    if actor_from_row(row, "")? != actor_from_row(row, "l_")? {
        return differs("actor");
    }
    Ok(None)
}

impl Catalog {
    /// The newest version of an object at or before `at` (a tombstone when
    /// it was deleted then), or None when it did not exist yet.
    ///
    /// # Errors
    /// On database errors or an unreadable stored version.
    pub async fn object_version_at(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
        at: jiff::Timestamp,
    ) -> Result<Option<ObjectVersion>> {
        Ok(self
            .versions_of(kind, account_id, region, name, Some(at))
            .await?
            .pop())
    }

    /// An object's versions oldest first, or with `at` only the newest at
    /// or before it.
    async fn versions_of(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
        at: Option<jiff::Timestamp>,
    ) -> Result<Vec<ObjectVersion>> {
        let chosen = match at {
            Some(_) => "AND v.time <= $5 ORDER BY v.time DESC, v.version DESC LIMIT 1",
            None => "ORDER BY v.version",
        };
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM object_versions v WHERE v.kind = $1 AND v.account_id = $2 AND v.region = $3 AND v.name = $4 {chosen}"
        );
        let mut query = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(account_id)
            .bind(region)
            .bind(name);
        if let Some(at) = at {
            query = query.bind(format_ts(at));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(version_from_row).collect()
    }

    /// The version of an object in force at `at`: None when it was deleted
    /// then or not yet created.
    ///
    /// # Errors
    /// As [`Catalog::object_version_at`].
    pub async fn object_in_force_at(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
        at: jiff::Timestamp,
    ) -> Result<Option<ObjectVersion>> {
        Ok(self
            .object_version_at(kind, account_id, region, name, at)
            .await?
            .filter(|v| !v.is_tombstone()))
    }

    /// Every version of an object, oldest first (empty when the history
    /// holds none: a kind the ledger does not record, or a name never
    /// written).
    ///
    /// # Errors
    /// On database errors or an unreadable stored version.
    pub async fn object_history(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Vec<ObjectVersion>> {
        self.versions_of(kind, account_id, region, name, None).await
    }

    /// Every version of every object of `kind` in an account and region,
    /// by name, then oldest first: what lists objects deleted meanwhile
    /// (a name whose newest version is a tombstone) with their last
    /// document. An index seek on the history's key.
    ///
    /// # Errors
    /// On database errors or an unreadable stored version.
    pub async fn object_versions_in(
        &self,
        kind: ObjectKind,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<ObjectVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM object_versions v WHERE v.kind = $1 AND v.account_id = $2 AND v.region = $3 ORDER BY v.name, v.version"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(account_id)
            .bind(region)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Every version of every object of `kind`, in every account and
    /// region, written at or before `until`: by account, region and name,
    /// then oldest first. What was in force at any time up to `until` (the
    /// plans and selections a period's expected backups come from).
    ///
    /// # Errors
    /// On database errors or an unreadable stored version.
    pub async fn object_versions_until(
        &self,
        kind: ObjectKind,
        until: jiff::Timestamp,
    ) -> Result<Vec<ObjectVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM object_versions v WHERE v.kind = $1 AND v.time <= $2 ORDER BY v.account_id, v.region, v.name, v.version"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(format_ts(until))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Checks up to `limit` stored versions whose entries come after
    /// `after_seq` (in ledger order; -1 for the first page) against the
    /// entries they name: the document's digest, the change, time and
    /// actor, and that the entry is about this object. An edited or
    /// inserted historic version is named.
    ///
    /// # Errors
    /// On database errors.
    pub async fn version_agreement_page(&self, after_seq: i64, limit: i64) -> Result<VersionPage> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS}, l.kind AS l_kind, l.subject AS l_subject, l.event AS l_event, \
             l.doc_sha256 AS l_sha, l.time AS l_time, l.actor_principal AS l_actor_principal, \
             l.actor_account AS l_actor_account, l.actor_os_user AS l_actor_os_user \
             FROM object_versions v LEFT JOIN ledger l ON l.seq = v.ledger_seq \
             WHERE v.ledger_seq > $1 ORDER BY v.ledger_seq LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut page = VersionPage {
            rows: rows.len(),
            ..VersionPage::default()
        };
        for row in &rows {
            if let Some(found) = check_version_row(row)? {
                page.disagreements.push(found);
            }
        }
        if let Some(last) = rows.last() {
            page.last_seq = Some(last.try_get("ledger_seq")?);
        }
        Ok(page)
    }

    /// The ledger entries, since the history began, that create, update,
    /// delete or record a ledgered object and whose version the history
    /// does not hold (a version row removed behind Coffer's back), named.
    /// One seek on `ledger_by_kind` per kind. Without the history's start
    /// (its row removed too) every object entry counts.
    ///
    /// # Errors
    /// On database errors.
    pub async fn versions_missing(&self) -> Result<Vec<Disagreement>> {
        let mut out = Vec::new();
        for kind in LEDGERED_OBJECTS {
            let rows = sqlx::query(
                "SELECT l.seq, l.subject, l.event, l.time FROM ledger l \
                 WHERE l.kind = $1 AND l.seq >= (SELECT COALESCE(MIN(first_seq), 0) FROM object_history_start) \
                 AND l.event IN ('CREATED', 'UPDATED', 'DELETED', 'RECORDED') \
                 AND NOT EXISTS (SELECT 1 FROM object_versions v WHERE v.ledger_seq = l.seq) \
                 ORDER BY l.seq",
            )
            .bind(kind.label())
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let seq: i64 = row.try_get("seq")?;
                let event: String = row.try_get("event")?;
                let time: String = row.try_get("time")?;
                out.push(Disagreement {
                    what: kind.label().to_string(),
                    id: row.try_get("subject")?,
                    catalog_says: format!("{event} at {time}"),
                    problem: Problem::VersionMissing { seq },
                });
            }
        }
        Ok(out)
    }
}
