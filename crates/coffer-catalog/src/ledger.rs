//! The evidence ledger: an append-only, hash-chained log. Each entry
//! carries the SHA-256 of the previous one, and its own hash covers all its
//! fields, so an edited, removed or reordered entry breaks the chain.
//! Entries are appended in the transaction of the change they record, so
//! the ledger holds exactly what the catalog did. Signing checkpoints and
//! Merkle proofs are `coffer-audit`'s.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::time::format_ts;
use crate::Backend;

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
    /// SHA-256 over all the fields above.
    pub entry_hash: String,
}

impl LedgerEntry {
    /// The hash the entry's fields give: SHA-256 of the fields, each
    /// followed by a newline, times in RFC 3339 with milliseconds.
    pub fn computed_hash(&self) -> String {
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
    backend: Backend,
    kind: &str,
    subject: &str,
    event: &str,
    doc: &[u8],
    now: jiff::Timestamp,
) -> Result<LedgerEntry> {
    let mut tail = Tail::read(tx, backend).await?;
    tail.append(tx, kind, subject, event, doc, now).await
}

/// The ledger's end inside one write transaction: read (and on PostgreSQL
/// locked) once, then advanced by each entry appended in that transaction.
pub(crate) struct Tail {
    seq: i64,
    prev_hash: String,
}

impl Tail {
    /// Locks the ledger (PostgreSQL; SQLite's write lock is the
    /// transaction's) and reads its last entry.
    pub(crate) async fn read(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        backend: Backend,
    ) -> Result<Tail> {
        use sqlx::Row;
        if backend == Backend::Postgres {
            sqlx::query("LOCK TABLE ledger IN EXCLUSIVE MODE")
                .execute(&mut **tx)
                .await?;
        }
        let last = sqlx::query("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match last {
            Some(row) => Tail {
                seq: row.try_get::<i64, _>("seq")? + 1,
                prev_hash: row.try_get::<String, _>("entry_hash")?,
            },
            None => Tail {
                seq: 0,
                prev_hash: GENESIS.to_string(),
            },
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
            entry_hash: String::new(),
        };
        entry.entry_hash = entry.computed_hash();
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
    const COLUMNS: usize = 8;
    for chunk in entries.chunks(crate::BATCH_ROWS) {
        let sql = format!(
            "INSERT INTO ledger (seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash) VALUES {}",
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
                .bind(entry.entry_hash.clone());
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
