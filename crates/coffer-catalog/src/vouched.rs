//! Whether the ledger vouches for a record's row: the newest ledger entry
//! about the record recorded the very document the row holds. A decision
//! that would destroy data (reconciliation removing a snapshot) trusts a
//! row only then.

use crate::error::Result;
use crate::records::{Record, Stored};
use crate::Catalog;

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
        let Some(stored) = self.get::<R>(id).await? else {
            return Ok(None);
        };
        // The same judgement `evidence verify` makes of the row: its
        // document against its newest entry, its columns against its
        // document.
        let ledger_agrees = self
            .record_disagreements::<R>(&[id.to_string()])
            .await?
            .is_empty();
        Ok(Some(Vouched {
            stored,
            ledger_agrees,
        }))
    }
}
