//! The evidence ledger: an append-only, hash-chained log. Each entry
//! carries the SHA-256 of the previous one, and its own hash covers all its
//! fields, so an edited, removed or reordered entry breaks the chain.
//! Entries are appended in the transaction of the change they record, so
//! the ledger holds exactly what the catalog did. Signing checkpoints and
//! Merkle proofs are `coffer-audit`'s.
//!
//! Entries are versioned. Format 1 (before actors) hashes its seven fields
//! as it always did, so chains written then still verify. Format 2 names
//! the actor (principal ARN, account, operating-system user) inside the
//! hash, and carries a MAC of the hash under the deployment's ledger key,
//! a key kept outside the catalog: a catalog writer can re-hash a chain
//! but cannot MAC an entry it forged.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::time::format_ts;
use crate::{Backend, Catalog, Param};

/// The first entry format: no actor, no MAC.
pub const FORMAT_V1: i64 = 1;
/// The format written now: the actor in the hash, and a MAC.
pub const FORMAT_V2: i64 = 2;

/// Who made a change: the principal it acted as, in which account, and,
/// for a local command, the operating-system user who ran it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    /// The principal's ARN, or `coffer:scheduler` / `coffer:system` for
    /// Coffer acting on its own.
    pub principal: String,
    pub account: Option<String>,
    pub os_user: Option<String>,
}

impl Actor {
    /// The principal of the scheduler daemon's own changes.
    pub const SCHEDULER: &'static str = "coffer:scheduler";
    /// The principal of changes made by a catalog handle that was given no
    /// actor (tools and tests working on the catalog directly).
    pub const SYSTEM: &'static str = "coffer:system";

    pub fn new(
        principal: impl Into<String>,
        account: Option<String>,
        os_user: Option<String>,
    ) -> Actor {
        Actor {
            principal: principal.into(),
            account,
            os_user,
        }
    }

    /// The scheduler daemon, acting for no account in particular.
    pub fn scheduler() -> Actor {
        Actor::new(Actor::SCHEDULER, None, None)
    }

    /// Coffer itself, when no actor was named.
    pub fn system() -> Actor {
        Actor::new(Actor::SYSTEM, None, None)
    }
}

/// The key that MACs ledger entries: 32 secret bytes, kept outside the
/// catalog (beside the signing key), zeroed on drop, never printed.
#[derive(Clone)]
pub struct LedgerKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerKey(***)")
    }
}

impl LedgerKey {
    pub fn from_bytes(bytes: [u8; 32]) -> LedgerKey {
        LedgerKey(zeroize::Zeroizing::new(bytes))
    }

    /// The key's bytes, for writing it to its file or an export.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn hmac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this never fails; the fallback
        // is never used.
        <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
    }

    /// The MAC of an entry: HMAC-SHA256 over a label and its hash, hex.
    pub fn mac(&self, entry_hash: &str) -> String {
        let mut mac = self.hmac();
        mac.update(b"coffer ledger entry mac v2\n");
        mac.update(entry_hash.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `entry` carries this key's MAC of its hash (compared in
    /// constant time).
    pub fn verifies(&self, entry: &LedgerEntry) -> bool {
        let Some(given) = entry.mac.as_deref().and_then(|m| hex::decode(m).ok()) else {
            return false;
        };
        let mut mac = self.hmac();
        mac.update(b"coffer ledger entry mac v2\n");
        mac.update(entry.entry_hash.as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LedgerEntry {
    /// Position in the ledger, from 0, without gaps.
    pub seq: i64,
    pub time: jiff::Timestamp,
    /// What changed: `backup job`, `recovery point`, `stack`, `vault lock`...
    pub kind: String,
    /// Its ID or ARN.
    pub subject: String,
    /// What happened (`COMPLETED`, `created RUNNING`, `POLICY_APPLIED ...`).
    pub event: String,
    /// SHA-256 of the changed document as written.
    pub doc_sha256: String,
    /// `entry_hash` of the entry before (GENESIS for the first).
    pub prev_hash: String,
    /// Who made the change (format 2; None in format 1 entries).
    #[serde(default)]
    pub actor: Option<Actor>,
    /// SHA-256 over all the fields above.
    pub entry_hash: String,
    /// The entry's format: [`FORMAT_V1`] or [`FORMAT_V2`].
    #[serde(default = "format_v1")]
    pub format: i64,
    /// HMAC-SHA256 of `entry_hash` under the ledger key, hex (format 2;
    /// None when written without the key at hand).
    #[serde(default)]
    pub mac: Option<String>,
}

fn format_v1() -> i64 {
    FORMAT_V1
}

impl LedgerEntry {
    /// The hash the entry's fields give, by its format; an unknown format
    /// gives a text no hash equals.
    pub fn computed_hash(&self) -> String {
        match self.format {
            FORMAT_V1 => self.hash_v1(),
            FORMAT_V2 => self.hash_v2(),
            other => format!("(unknown entry format {other})"),
        }
    }

    /// Format 2: SHA-256 of a label, then each field as its length, `:`,
    /// its text and a newline (an absent value is `-`, a present one
    /// `+value`), times in RFC 3339 with milliseconds.
    fn hash_v2(&self) -> String {
        let optional = |value: Option<&String>| match value {
            Some(v) => format!("+{v}"),
            None => "-".to_string(),
        };
        let actor = self.actor.as_ref();
        let mut hasher = Sha256::new();
        hasher.update(b"coffer ledger entry v2\n");
        for field in [
            self.seq.to_string(),
            format_ts(self.time),
            self.kind.clone(),
            self.subject.clone(),
            self.event.clone(),
            self.doc_sha256.clone(),
            optional(actor.map(|a| &a.principal)),
            optional(actor.and_then(|a| a.account.as_ref())),
            optional(actor.and_then(|a| a.os_user.as_ref())),
            self.prev_hash.clone(),
        ] {
            hasher.update(format!("{}:", field.len()).as_bytes());
            hasher.update(field.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }

    /// Format 1: SHA-256 of the fields, each followed by a newline, times
    /// in RFC 3339 with milliseconds.
    fn hash_v1(&self) -> String {
        let mut hasher = Sha256::new();
        for field in [
            self.seq.to_string(),
            format_ts(self.time),
            self.kind.clone(),
            self.subject.clone(),
            self.event.clone(),
            self.doc_sha256.clone(),
            self.prev_hash.clone(),
        ] {
            hasher.update(field.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }
}

/// SHA-256 of a document, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Appends an entry inside `tx` (which holds the catalog's write lock on
/// SQLite; on PostgreSQL the ledger is locked here until commit, so
/// appends are serialised and the chain never forks).
pub(crate) async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    catalog: &Catalog,
    kind: &str,
    subject: &str,
    event: &str,
    doc: &[u8],
    now: jiff::Timestamp,
) -> Result<LedgerEntry> {
    let mut tail = Tail::read(tx, catalog).await?;
    tail.append(tx, kind, subject, event, doc, now).await
}

/// The ledger's end inside one write transaction: read (and on PostgreSQL
/// locked) once, then advanced by each entry appended in that transaction.
/// It names the catalog handle's actor in each entry and MACs it with the
/// handle's ledger key.
pub(crate) struct Tail {
    seq: i64,
    prev_hash: String,
    actor: Arc<Actor>,
    key: Option<Arc<LedgerKey>>,
}

impl Tail {
    /// Locks the ledger (PostgreSQL; SQLite's write lock is the
    /// transaction's) and reads its last entry.
    pub(crate) async fn read(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        catalog: &Catalog,
    ) -> Result<Tail> {
        use sqlx::Row;
        if catalog.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE ledger IN EXCLUSIVE MODE")
                .execute(&mut **tx)
                .await?;
        }
        let last = sqlx::query("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (seq, prev_hash) = match last {
            Some(row) => (
                row.try_get::<i64, _>("seq")? + 1,
                row.try_get::<String, _>("entry_hash")?,
            ),
            None => (0, GENESIS.to_string()),
        };
        Ok(Tail {
            seq,
            prev_hash,
            actor: Arc::clone(&catalog.actor),
            key: catalog.ledger_key.clone(),
        })
    }

    /// The next entry after the tail (the tail moves past it); the caller
    /// inserts it with [`insert_entries`] in the same transaction.
    pub(crate) fn next(
        &mut self,
        kind: &str,
        subject: &str,
        event: &str,
        doc: &[u8],
        now: jiff::Timestamp,
    ) -> Result<LedgerEntry> {
        // Stored at the catalog's millisecond precision, hashed the same way.
        let time = crate::time::parse_ts(&format_ts(now), "ledger entry")?;
        let mut entry = LedgerEntry {
            seq: self.seq,
            time,
            kind: kind.to_string(),
            subject: subject.to_string(),
            event: event.to_string(),
            doc_sha256: sha256_hex(doc),
            prev_hash: self.prev_hash.clone(),
            actor: Some(Actor::clone(&self.actor)),
            entry_hash: String::new(),
            format: FORMAT_V2,
            mac: None,
        };
        entry.entry_hash = entry.computed_hash();
        entry.mac = self.key.as_ref().map(|key| key.mac(&entry.entry_hash));
        self.seq += 1;
        self.prev_hash.clone_from(&entry.entry_hash);
        Ok(entry)
    }

    /// Appends one entry after the tail.
    pub(crate) async fn append(
        &mut self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        kind: &str,
        subject: &str,
        event: &str,
        doc: &[u8],
        now: jiff::Timestamp,
    ) -> Result<LedgerEntry> {
        let entry = self.next(kind, subject, event, doc, now)?;
        insert_entries(tx, std::slice::from_ref(&entry)).await?;
        Ok(entry)
    }
}

/// Inserts entries (made by [`Tail::next`]) in multi-row statements.
pub(crate) async fn insert_entries(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    entries: &[LedgerEntry],
) -> Result<()> {
    const COLUMNS: usize = 13;
    for chunk in entries.chunks(crate::BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO ledger (seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash, format, actor_principal, actor_account, actor_os_user, mac) VALUES {}",
            crate::values_list(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            query = query
                .bind(entry.seq)
                .bind(format_ts(entry.time))
                .bind(entry.kind.clone())
                .bind(entry.subject.clone())
                .bind(entry.event.clone())
                .bind(entry.doc_sha256.clone())
                .bind(entry.prev_hash.clone())
                .bind(entry.entry_hash.clone())
                .bind(entry.format)
                .bind(entry.actor.as_ref().map(|a| a.principal.clone()))
                .bind(entry.actor.as_ref().and_then(|a| a.account.clone()))
                .bind(entry.actor.as_ref().and_then(|a| a.os_user.clone()))
                .bind(entry.mac.clone());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A signed checkpoint of the ledger, as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredCheckpoint {
    pub tree_size: i64,
    /// Merkle tree root of the first `tree_size` entries, hex.
    pub root_hash: String,
    pub time: jiff::Timestamp,
    pub key_fingerprint: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

/// The columns [`entry_from_row`] reads.
pub(crate) const ENTRY_COLUMNS: &str = "seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash, format, actor_principal, actor_account, actor_os_user, mac";

/// A ledger row (selected as [`ENTRY_COLUMNS`]) read back as an entry.
pub(crate) fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<LedgerEntry> {
    use sqlx::Row;
    let time: String = row.try_get("time")?;
    let actor = actor_from_columns(
        row.try_get("actor_principal")?,
        row.try_get("actor_account")?,
        row.try_get("actor_os_user")?,
    );
    Ok(LedgerEntry {
        seq: row.try_get("seq")?,
        time: crate::time::parse_ts(&time, "ledger entry")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        event: row.try_get("event")?,
        doc_sha256: row.try_get("doc_sha256")?,
        prev_hash: row.try_get("prev_hash")?,
        actor,
        entry_hash: row.try_get("entry_hash")?,
        format: row.try_get("format")?,
        mac: row.try_get("mac")?,
    })
}

/// The actor stored as its three columns: None when all are empty. An
/// account or user without a principal is kept as an actor, so the hash
/// covers what is stored (and an edit shows).
pub(crate) fn actor_from_columns(
    principal: Option<String>,
    account: Option<String>,
    os_user: Option<String>,
) -> Option<Actor> {
    match (principal, account, os_user) {
        (None, None, None) => None,
        (principal, account, os_user) => Some(Actor {
            principal: principal.unwrap_or_default(),
            account,
            os_user,
        }),
    }
}

/// Which ledger entries `Catalog::ledger_log` returns, as CloudTrail's
/// lookup-events chooses events: every given condition holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerQuery {
    /// The actor's principal ARN, exactly.
    pub actor: Option<String>,
    /// The entry's kind (`backup job`, `weakening`, ...), exactly.
    pub kind: Option<String>,
    /// The entry's subject (an ID or ARN), exactly.
    pub subject: Option<String>,
    /// At or after this time.
    pub since: Option<jiff::Timestamp>,
    /// At or before this time.
    pub until: Option<jiff::Timestamp>,
    /// Only entries before this position: the `seq` of the last entry of
    /// the previous page, to read the next one.
    pub before: Option<i64>,
}

impl Catalog {
    /// The ledger entries `query` chooses, newest first, at most `limit`
    /// (each condition an index seek: `ledger_by_actor`, `ledger_by_kind`,
    /// `ledger_by_subject`, `ledger_by_time`).
    ///
    /// # Errors
    /// On database errors or unreadable rows.
    pub async fn ledger_log(&self, query: &LedgerQuery, limit: i64) -> Result<Vec<LedgerEntry>> {
        let mut conditions = Vec::new();
        let mut values: Vec<Param> = Vec::new();
        let mut add = |condition: &str, value: Param| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(actor) = &query.actor {
            add("actor_principal = ?", Param::Text(actor.clone()));
        }
        if let Some(kind) = &query.kind {
            add("kind = ?", Param::Text(kind.clone()));
        }
        if let Some(subject) = &query.subject {
            add("subject = ?", Param::Text(subject.clone()));
        }
        if let Some(since) = query.since {
            add("time >= ?", Param::Text(format_ts(since)));
        }
        if let Some(until) = query.until {
            add("time <= ?", Param::Text(format_ts(until)));
        }
        if let Some(before) = query.before {
            add("seq < ?", Param::Int(before));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger{filter} ORDER BY seq DESC LIMIT ${}",
            values.len() + 1
        );
        let mut statement = sqlx::query(&sql);
        for value in values {
            statement = match value {
                Param::Text(v) => statement.bind(v),
                Param::OptText(v) => statement.bind(v),
                Param::Int(v) => statement.bind(v),
            };
        }
        let rows = statement.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

/// The kind of the entry that declares a cut of the ledger.
pub const CUT_KIND: &str = "ledger cut";

/// A declared cut as stored: the position of its `ledger cut` entry, its
/// document (the bytes signed, whose SHA-256 the entry records) and the
/// signature over them. What the document says is `coffer-audit`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCut {
    pub seq: i64,
    pub doc: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

impl Catalog {
    /// Appends a `ledger cut` entry about `subject` (`event` says what it
    /// declares in a line) and stores its signed document beside it, in
    /// one transaction.
    ///
    /// # Errors
    /// On database errors.
    pub async fn append_ledger_cut(
        &self,
        subject: &str,
        event: &str,
        doc: &str,
        signature: &str,
        now: jiff::Timestamp,
    ) -> Result<LedgerEntry> {
        let mut tx = self.begin_write().await?;
        let entry = append(&mut tx, self, CUT_KIND, subject, event, doc.as_bytes(), now).await?;
        sqlx::query("INSERT INTO ledger_cuts (seq, doc, signature) VALUES ($1, $2, $3)")
            .bind(entry.seq)
            .bind(doc)
            .bind(signature)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Every declared cut, in ledger order.
    ///
    /// # Errors
    /// On database errors.
    pub async fn ledger_cuts(&self) -> Result<Vec<StoredCut>> {
        use sqlx::Row;
        let rows = sqlx::query("SELECT seq, doc, signature FROM ledger_cuts ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredCut {
                    seq: row.try_get("seq")?,
                    doc: row.try_get("doc")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }
}
