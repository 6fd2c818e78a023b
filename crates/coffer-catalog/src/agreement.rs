//! Whether the catalog's current rows agree with the evidence ledger: each
//! row's document, hashed as it is stored, against the `doc_sha256` of the
//! newest ledger entry of its subject (a record's ID, a policy object's
//! ARN), and the columns queries filter on against the document. A row
//! edited behind Coffer's back (a job's state, a point's DeleteAt, a
//! vault's LockDate, a result's status) disagrees, and is named.
//!
//! Set queries: a kind of record a page at a time in ID order (an index
//! seek per page, the newest entry of each row by the ledger's
//! `(subject, seq)` index), given records by ID (for a report or a
//! protection decision), policy objects of a kind, and the current control
//! results whose status differs from their result's.

use std::fmt;

use sqlx::Row;

use coffer_model::ControlResult;

use crate::compliance::FrameworkKey;
use crate::error::Result;
use crate::ledger::sha256_hex;
use crate::objects::ObjectKind;
use crate::records::Param;
use crate::{placeholders, Backend, Catalog, Record, IN_LIST};

/// The policy object kinds whose every write the ledger records (kind
/// label, subject the object's ARN).
pub const LEDGERED_OBJECTS: [ObjectKind; 10] = [
    ObjectKind::BackupVault,
    ObjectKind::BackupPlan,
    ObjectKind::BackupSelection,
    ObjectKind::Framework,
    ObjectKind::ReportPlan,
    ObjectKind::IamUser,
    ObjectKind::IamManagedPolicy,
    ObjectKind::IamRole,
    ObjectKind::RestoreTestingPlan,
    ObjectKind::RestoreTestingSelection,
];

/// A current row the ledger does not vouch for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// What the row is: `backup job`, `recovery point`, `backup vault`...
    pub what: String,
    /// Its ID (records) or ARN (policy objects).
    pub id: String,
    /// What the catalog says of it now (a state, a status, a name).
    pub catalog_says: String,
    pub problem: Problem,
}

/// How a row disagrees with the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The ledger holds no entry for it: it was written outside Coffer.
    NoEntry,
    /// Its document is not the one the newest entry recorded.
    DocumentDiffers { seq: i64 },
    /// A column queries filter on says something its document does not.
    ColumnDiffers {
        column: String,
        stored: String,
        document: String,
    },
    /// Its document cannot be read as its kind.
    Unreadable,
    /// A stored version of a policy object is not what the ledger entry
    /// it names committed to: its `field` (document, change, time, actor)
    /// differs.
    VersionDiffers { seq: i64, field: String },
    /// A stored version names a ledger entry that does not record it (gone,
    /// or about another object).
    VersionEntryMissing { seq: i64 },
    /// A ledger entry records a change of a policy object, and the history
    /// holds no version for it.
    VersionMissing { seq: i64 },
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Disagreement {
            what,
            id,
            catalog_says,
            problem,
        } = self;
        match problem {
            Problem::NoEntry => write!(
                f,
                "{what} {id}: the catalog says {catalog_says}, and the ledger has no entry for it"
            ),
            Problem::DocumentDiffers { seq } => write!(
                f,
                "{what} {id}: the catalog says {catalog_says}, the ledger's last entry (seq {seq}) recorded a different document"
            ),
            Problem::ColumnDiffers {
                column,
                stored,
                document,
            } => write!(
                f,
                "{what} {id}: its {column} column says {stored}, its document {document}"
            ),
            Problem::Unreadable => write!(
                f,
                "{what} {id}: its stored document cannot be read, so the ledger cannot vouch for it"
            ),
            Problem::VersionDiffers { seq, field } => write!(
                f,
                "{what} {id}: its stored {catalog_says} is not what ledger entry {seq} committed to: its {field} differs"
            ),
            Problem::VersionEntryMissing { seq } => write!(
                f,
                "{what} {id}: its stored {catalog_says} names ledger entry {seq}, which does not record it"
            ),
            Problem::VersionMissing { seq } => write!(
                f,
                "{what} {id}: ledger entry {seq} records a change ({catalog_says}), and the catalog's history holds no version for it"
            ),
        }
    }
}

/// One page of a kind's rows checked.
#[derive(Clone, Debug, Default)]
pub struct AgreementPage {
    /// Rows read in this page.
    pub rows: usize,
    /// The last ID read: where the next page starts (None when the page
    /// was empty).
    pub last_id: Option<String>,
    pub disagreements: Vec<Disagreement>,
}

/// Which entries of a subject speak for its row: those of its kind.
enum EntryKind {
    /// The kind is the query's first parameter.
    Param,
    /// A record's kind (`Record::WHAT`, a constant of Coffer's).
    Record(&'static str),
}

/// The ledger as a query seeking one subject's newest entry of one kind
/// names it: on SQLite, through the (subject, kind) index by name, since
/// SQLite's planner may otherwise take the kind's index for `MAX(seq)` and
/// walk every entry of the kind for each row (hours at the benchmark
/// estate's size). PostgreSQL's planner weighs both with statistics.
pub(crate) fn ledger_by_subject_kind(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "ledger INDEXED BY ledger_by_subject_kind",
        Backend::Postgres => "ledger",
    }
}

/// The newest ledger entry of the row's subject and kind, as a joined
/// column pair: other entries about the subject (a weakening recorded
/// beside a hold's own) do not stand for its document.
fn newest_entry_join(backend: Backend, subject: &str, kind: EntryKind) -> String {
    let kind = match kind {
        EntryKind::Param => " AND kind = $1".to_string(),
        EntryKind::Record(what) => format!(" AND kind = '{what}'"),
    };
    let ledger = ledger_by_subject_kind(backend);
    format!(
        "LEFT JOIN ledger l ON l.seq = (SELECT MAX(seq) FROM {ledger} WHERE subject = {subject}{kind})"
    )
}

/// Compares one record row (its doc, its columns, its newest entry).
fn check_record_row<R: Record>(row: &sqlx::any::AnyRow) -> Result<Option<Disagreement>> {
    let id: String = row.try_get("id")?;
    let doc: String = row.try_get("doc")?;
    let seq: Option<i64> = row.try_get("ledger_seq")?;
    let ledger_sha: Option<String> = row.try_get("ledger_sha")?;
    let disagreement = |catalog_says: String, problem| {
        Some(Disagreement {
            what: R::WHAT.to_string(),
            id: id.clone(),
            catalog_says,
            problem,
        })
    };
    let record: R = match serde_json::from_str(&doc) {
        Ok(record) => record,
        Err(_) => {
            return Ok(disagreement(
                "an unreadable document".into(),
                Problem::Unreadable,
            ))
        }
    };
    let says = record.evidence();
    let (Some(seq), Some(ledger_sha)) = (seq, ledger_sha) else {
        return Ok(disagreement(says, Problem::NoEntry));
    };
    if sha256_hex(doc.as_bytes()) != ledger_sha {
        return Ok(disagreement(says, Problem::DocumentDiffers { seq }));
    }
    let (account, region) = record.account_region();
    let mut expected = vec![
        ("account_id", Param::Text(account)),
        ("region", Param::Text(region)),
    ];
    expected.extend(record.columns());
    for (column, from_document) in expected {
        let stored = match &from_document {
            Param::Int(_) => Param::Int(row.try_get::<i64, _>(column)?),
            Param::Text(_) | Param::OptText(_) => {
                match row.try_get::<Option<String>, _>(column)? {
                    Some(text) if matches!(from_document, Param::Text(_)) => Param::Text(text),
                    other => Param::OptText(other),
                }
            }
        };
        if stored != from_document {
            return Ok(disagreement(
                show(&stored),
                Problem::ColumnDiffers {
                    column: column.to_string(),
                    stored: show(&stored),
                    document: show(&from_document),
                },
            ));
        }
    }
    Ok(None)
}

fn show(param: &Param) -> String {
    match param {
        Param::Text(text) | Param::OptText(Some(text)) => text.clone(),
        Param::OptText(None) => "nothing".into(),
        Param::Int(n) => n.to_string(),
    }
}

/// A record table's rows with the newest ledger entry of each.
fn record_select<R: Record>(backend: Backend) -> String {
    format!(
        "SELECT t.*, l.seq AS ledger_seq, l.doc_sha256 AS ledger_sha FROM {} t {}",
        R::TABLE,
        newest_entry_join(backend, "t.id", EntryKind::Record(R::WHAT))
    )
}

impl Catalog {
    /// Checks up to `limit` records of a kind with IDs after `after` (in ID
    /// order; "" for the first page) against the ledger: one index seek
    /// on the table, one on the ledger per row.
    ///
    /// # Errors
    /// On database errors.
    pub async fn record_agreement_page<R: Record>(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<AgreementPage> {
        let sql = format!(
            "{} WHERE t.id > $1 ORDER BY t.id LIMIT $2",
            record_select::<R>(self.backend)
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut page = AgreementPage {
            rows: rows.len(),
            ..AgreementPage::default()
        };
        for row in &rows {
            if let Some(found) = check_record_row::<R>(row)? {
                page.disagreements.push(found);
            }
        }
        if let Some(last) = rows.last() {
            page.last_id = Some(last.try_get("id")?);
        }
        Ok(page)
    }

    /// The records among `ids` (those that exist) that disagree with the
    /// ledger, in ID order.
    ///
    /// # Errors
    /// On database errors.
    pub async fn record_disagreements<R: Record>(
        &self,
        ids: &[String],
    ) -> Result<Vec<Disagreement>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_LIST) {
            let sql = format!(
                "{} WHERE t.id IN ({}) ORDER BY t.id",
                record_select::<R>(self.backend),
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                if let Some(found) = check_record_row::<R>(&row)? {
                    out.push(found);
                }
            }
        }
        Ok(out)
    }

    /// The policy objects of `kind` (named by ARN, or every one with
    /// `arns` None) that disagree with their newest ledger entry of that
    /// kind.
    ///
    /// # Errors
    /// On database errors.
    pub async fn object_disagreements(
        &self,
        kind: ObjectKind,
        arns: Option<&[String]>,
    ) -> Result<Vec<Disagreement>> {
        let join = newest_entry_join(self.backend, "o.arn", EntryKind::Param);
        let base = format!(
            "SELECT o.name, o.arn, o.doc, l.seq AS ledger_seq, l.doc_sha256 AS ledger_sha \
             FROM objects o {join} WHERE o.kind = $2"
        );
        let mut rows = Vec::new();
        match arns {
            None => {
                rows = sqlx::query(&format!("{base} ORDER BY o.arn"))
                    .bind(kind.label())
                    .bind(kind.as_str())
                    .fetch_all(&self.pool)
                    .await?;
            }
            Some(arns) => {
                for chunk in arns.chunks(IN_LIST) {
                    let sql = format!(
                        "{base} AND o.arn IN ({}) ORDER BY o.arn",
                        placeholders(3, chunk.len())
                    );
                    let mut query = sqlx::query(&sql).bind(kind.label()).bind(kind.as_str());
                    for arn in chunk {
                        query = query.bind(arn.clone());
                    }
                    rows.extend(query.fetch_all(&self.pool).await?);
                }
            }
        }
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            let arn: String = row.try_get("arn")?;
            let doc: String = row.try_get("doc")?;
            let seq: Option<i64> = row.try_get("ledger_seq")?;
            let ledger_sha: Option<String> = row.try_get("ledger_sha")?;
            let problem = match (seq, ledger_sha) {
                (Some(seq), Some(sha)) if sha != sha256_hex(doc.as_bytes()) => {
                    Problem::DocumentDiffers { seq }
                }
                (Some(_), Some(_)) => continue,
                _ => Problem::NoEntry,
            };
            out.push(Disagreement {
                what: kind.label().to_string(),
                id: arn,
                catalog_says: object_summary(kind, &name, &doc),
                problem,
            });
        }
        Ok(out)
    }

    /// Current control results whose status is not their result's (a
    /// `control_current` row edited apart from the result it names, or
    /// naming a result that is not there). The results themselves are
    /// checked as records.
    ///
    /// # Errors
    /// On database errors.
    pub async fn current_result_disagreements(&self) -> Result<Vec<Disagreement>> {
        let rows = sqlx::query(
            "SELECT c.framework_name, c.control_name, c.resource_id, c.status, c.result_id, \
             r.status AS result_status FROM control_current c \
             LEFT JOIN control_results r ON r.id = c.result_id \
             WHERE r.id IS NULL OR r.status <> c.status \
             ORDER BY c.framework_name, c.control_name, c.resource_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let framework: String = row.try_get("framework_name")?;
            let control: String = row.try_get("control_name")?;
            let resource: String = row.try_get("resource_id")?;
            let status: String = row.try_get("status")?;
            let result_id: String = row.try_get("result_id")?;
            let result_status: Option<String> = row.try_get("result_status")?;
            out.push(Disagreement {
                what: "current control result".into(),
                id: format!("{framework}/{control}/{resource}"),
                catalog_says: status.clone(),
                problem: Problem::ColumnDiffers {
                    column: "status".into(),
                    stored: status,
                    document: match result_status {
                        Some(s) => format!("result {result_id} says {s}"),
                        None => format!("result {result_id} is not in the catalog"),
                    },
                },
            });
        }
        Ok(out)
    }
}

/// What a policy object's row says, in a few words: a vault its lock.
fn object_summary(kind: ObjectKind, name: &str, doc: &str) -> String {
    if kind == ObjectKind::BackupVault {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(doc) {
            if let Some(lock) = value.get("LockConfiguration") {
                let date = value
                    .get("LockDate")
                    .and_then(|d| d.as_str())
                    .map(|d| format!(", LockDate {d}"))
                    .unwrap_or_default();
                return format!("{name:?} locked {lock}{date}");
            }
        }
    }
    format!("{name:?}")
}

/// A framework's current result as stored, for an evaluation to compare
/// with: the result itself when its row agrees with the ledger and with
/// the current row naming it, None when it cannot be trusted (an
/// evaluation then records the result it finds, a correction).
#[derive(Clone, Debug)]
pub struct CheckedCurrent {
    pub key_hash: String,
    pub result: Option<ControlResult>,
}

impl Catalog {
    /// Up to `limit` current results of a framework with keys after
    /// `after`, in key order, each with its stored result checked against
    /// the ledger and against the current row's status.
    ///
    /// # Errors
    /// On database errors.
    pub async fn control_current_checked_page(
        &self,
        key: FrameworkKey<'_>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CheckedCurrent>> {
        let sql = format!(
            "SELECT c.key_hash AS current_key, c.status AS current_status, r.*, \
             l.seq AS ledger_seq, l.doc_sha256 AS ledger_sha \
             FROM control_current c LEFT JOIN control_results r ON r.id = c.result_id {} \
             WHERE c.account_id = $1 AND c.region = $2 AND c.framework_name = $3 AND c.key_hash > $4 \
             ORDER BY c.key_hash LIMIT $5",
            newest_entry_join(
                self.backend,
                "r.id",
                EntryKind::Record(<ControlResult as Record>::WHAT)
            )
        );
        let rows = sqlx::query(&sql)
            .bind(key.account_id)
            .bind(key.region)
            .bind(key.framework_name)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key_hash: String = row.try_get("current_key")?;
            let current_status: String = row.try_get("current_status")?;
            let result_id: Option<String> = row.try_get("id")?;
            let result = match result_id {
                Some(_) if check_record_row::<ControlResult>(&row)?.is_none() => {
                    let doc: String = row.try_get("doc")?;
                    serde_json::from_str::<ControlResult>(&doc)
                        .ok()
                        .filter(|r| r.status.as_str() == current_status)
                }
                _ => None,
            };
            out.push(CheckedCurrent { key_hash, result });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use coffer_model::{BackupJob, RecoveryPoint};
    use sqlx::Row;

    use super::*;

    /// What SQLite's planner does with `sql` (its `EXPLAIN QUERY PLAN`
    /// details), on a catalog at the current schema.
    async fn plan(catalog: &Catalog, sql: &str) -> Vec<String> {
        sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .bind("")
            .bind(10_i64)
            .fetch_all(&catalog.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap_or_default())
            .collect()
    }

    /// Each row's newest entry of its kind is one seek on (subject, kind):
    /// a planner that walks the kind's index instead reads every entry of
    /// the kind for each row, hours at the benchmark estate's size.
    #[tokio::test]
    async fn a_rows_newest_entry_is_one_seek_on_its_subject_and_kind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        let catalog = Catalog::open(&url, jiff::Timestamp::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let queries = [
            format!(
                "{} WHERE t.id > $1 ORDER BY t.id LIMIT $2",
                record_select::<BackupJob>(Backend::Sqlite)
            ),
            format!(
                "{} WHERE t.id > $1 ORDER BY t.id LIMIT $2",
                record_select::<RecoveryPoint>(Backend::Sqlite)
            ),
            format!(
                "SELECT o.arn, l.seq FROM objects o {} WHERE o.kind = $2",
                newest_entry_join(Backend::Sqlite, "o.arn", EntryKind::Param)
            ),
        ];
        for sql in queries {
            let details = plan(&catalog, &sql).await;
            assert!(
                details
                    .iter()
                    .any(|d| d.contains("ledger_by_subject_kind (subject=? AND kind=?)")),
                "{sql}: {details:?}"
            );
            assert!(
                !details.iter().any(|d| d.contains("ledger_by_kind")),
                "{sql}: {details:?}"
            );
        }
    }
}
