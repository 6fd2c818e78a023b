//! Whether the ledger vouches for a record's row: the newest ledger entry
//! about the record recorded the very document the row holds. A decision
//! that would destroy data (reconciliation removing a snapshot) trusts a
//! row only then.

use sqlx::Row;

use crate::error::Result;
use crate::records::{Record, Stored};
use crate::{ledger, stored_from_row, Catalog};

/// A record read with what the ledger says of it.
#[derive(Clone, Debug)]
pub struct Vouched<R> {
    pub stored: Stored<R>,
    /// The ledger's newest entry about the record holds the SHA-256 of the
    /// row's document as it is now.
    pub ledger_agrees: bool,
}

impl Catalog {
    /// The record `id` and whether the ledger's newest entry about it
    /// recorded the document its row holds now (a row edited or restored
    /// from elsewhere does not agree).
    ///
    /// # Errors
    /// On database errors or an unreadable stored document.
    pub async fn get_vouched<R: Record>(&self, id: &str) -> Result<Option<Vouched<R>>> {
        let sql = format!(
            "SELECT doc, version, created_at, updated_at FROM {} WHERE id = $1",
            R::TABLE
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let doc: String = row.try_get("doc")?;
        let stored = stored_from_row::<R>(&row)?;
        let newest = sqlx::query(
            "SELECT doc_sha256 FROM ledger WHERE subject = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .bind(R::WHAT)
        .fetch_optional(&self.pool)
        .await?;
        let ledger_agrees = match newest {
            Some(entry) => {
                entry.try_get::<String, _>("doc_sha256")? == ledger::sha256_hex(doc.as_bytes())
            }
            None => false,
        };
        Ok(Some(Vouched {
            stored,
            ledger_agrees,
        }))
    }
}
