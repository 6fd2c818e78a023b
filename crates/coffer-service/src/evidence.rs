//! The evidence ledger: its signed checkpoints, its verification and
//! inclusion proofs of its entries.

use coffer_audit::ledger::{self, Verification};
use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::{
    Catalog, Disagreement, LedgerEntry, Record, StoredCheckpoint as Checkpoint, LEDGERED_OBJECTS,
};
use coffer_model::{
    BackupJob, ControlResult, CopyJob, FrameworkEvaluation, LegalHold, RecoveryPoint, ReportJob,
    RestoreJob, VaultCheck,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// An inclusion proof of one ledger entry in the newest checkpoint's tree.
#[derive(Clone, Debug)]
pub struct Proof {
    pub entry: LedgerEntry,
    pub leaf_index: usize,
    pub tree_size: usize,
    pub audit_path: Vec<String>,
    pub root_hash: String,
    pub checkpoint: Checkpoint,
}

/// The ledger verified, and the key its signatures were checked with.
#[derive(Debug)]
pub struct LedgerCheck {
    pub found: Verification,
    pub key: PublicKey,
    /// The catalog's current rows checked against the ledger.
    pub rows: RowCheck,
}

/// The catalog's current rows checked against their newest ledger entries.
#[derive(Debug, Default)]
pub struct RowCheck {
    /// Rows read.
    pub checked: usize,
    /// Each row the ledger does not vouch for, named.
    pub disagreements: Vec<Disagreement>,
}

impl RowCheck {
    pub fn passed(&self) -> bool {
        self.disagreements.is_empty()
    }
}

/// Rows of a kind read per page.
const AGREEMENT_PAGE: i64 = 2000;

/// Every record of a kind checked, a page at a time.
async fn check_records<R: Record>(catalog: &Catalog, out: &mut RowCheck) -> Result<()> {
    let mut after = String::new();
    loop {
        let page = catalog
            .record_agreement_page::<R>(&after, AGREEMENT_PAGE)
            .await?;
        out.checked += page.rows;
        out.disagreements.extend(page.disagreements);
        match page.last_id {
            Some(last) => after = last,
            None => return Ok(()),
        }
    }
}

/// Every row an auditor can ask about checked against its newest ledger
/// entry: jobs, recovery points, legal holds, control results (and the
/// current ones against the results they name), evaluations, reports,
/// vault checks, and the policy objects (vaults with their locks and
/// policies, plans, selections, frameworks, report plans).
///
/// # Errors
/// Catalog failures.
pub async fn check_rows(catalog: &Catalog) -> Result<RowCheck> {
    let mut out = RowCheck::default();
    check_records::<BackupJob>(catalog, &mut out).await?;
    check_records::<CopyJob>(catalog, &mut out).await?;
    check_records::<RestoreJob>(catalog, &mut out).await?;
    check_records::<RecoveryPoint>(catalog, &mut out).await?;
    check_records::<LegalHold>(catalog, &mut out).await?;
    check_records::<ControlResult>(catalog, &mut out).await?;
    check_records::<FrameworkEvaluation>(catalog, &mut out).await?;
    check_records::<ReportJob>(catalog, &mut out).await?;
    check_records::<VaultCheck>(catalog, &mut out).await?;
    out.disagreements
        .extend(catalog.current_result_disagreements().await?);
    for kind in LEDGERED_OBJECTS {
        out.disagreements
            .extend(catalog.object_disagreements(kind, None).await?);
    }
    Ok(out)
}

impl Service {
    /// Signs a checkpoint of the ledger now with the home's signing key
    /// (created on first use).
    ///
    /// # Errors
    /// Key and catalog failures.
    pub async fn sign_checkpoint(&self, caller: &Caller) -> Result<Checkpoint> {
        self.authorize(caller, Action::SignLedgerCheckpoint, Target::Account)?;
        let key = KeyPair::load_or_create(self.config().signing_key_path())?;
        Ok(ledger::checkpoint(self.catalog(), &key, self.now()).await?)
    }

    /// Checks the whole ledger: the hash chain, every checkpoint's root and
    /// signature, against `key` (default: the home's own signing key); and
    /// every current row an auditor can ask about against its newest
    /// entry ([`check_rows`]).
    ///
    /// # Errors
    /// Key and catalog failures; what is wrong with the ledger is in
    /// [`LedgerCheck::found`].
    pub async fn verify_ledger(
        &self,
        caller: &Caller,
        key: Option<PublicKey>,
    ) -> Result<LedgerCheck> {
        self.authorize(caller, Action::VerifyLedger, Target::Account)?;
        let key = match key {
            Some(key) => key,
            None => KeyPair::load_or_create(self.config().signing_key_path())?.public(),
        };
        let catalog = self.catalog();
        let size = catalog.ledger_len().await?;
        let entries = catalog.ledger_entries(0, size).await?;
        let checkpoints = catalog.checkpoints().await?;
        let found = ledger::verify(&entries, &checkpoints, Some(&key));
        let rows = check_rows(catalog).await?;
        Ok(LedgerCheck { found, key, rows })
    }

    /// An inclusion proof of entry `seq` in the newest checkpoint's tree.
    ///
    /// # Errors
    /// `InvalidRequest` with no checkpoint yet or an entry after it;
    /// `DependencyFailure` when the ledger no longer gives the checkpoint's
    /// root (verify the ledger).
    pub async fn prove_entry(&self, caller: &Caller, seq: usize) -> Result<Proof> {
        self.authorize(caller, Action::VerifyLedger, Target::Account)?;
        let catalog = self.catalog();
        let Some(checkpoint) = catalog.checkpoints().await?.into_iter().last() else {
            return Err(Error::invalid_request(
                "no checkpoint is signed yet; sign one first (`coffer evidence checkpoint`)",
            ));
        };
        let size = usize::try_from(checkpoint.tree_size).map_err(|_| {
            Error::dependency(format!(
                "the newest checkpoint's size {} cannot be read",
                checkpoint.tree_size
            ))
        })?;
        if seq >= size {
            return Err(Error::invalid_request(format!(
                "entry {seq} is not in the newest checkpoint (its first {size} entries); sign a new checkpoint (`coffer evidence checkpoint`)"
            )));
        }
        let entries = catalog.ledger_entries(0, checkpoint.tree_size).await?;
        let Some((audit_path, root_hash)) = ledger::prove(&entries, seq, size) else {
            return Err(Error::dependency(
                "the ledger holds fewer entries than its checkpoint; verify the ledger (`coffer evidence verify`)",
            ));
        };
        if root_hash != checkpoint.root_hash {
            return Err(Error::dependency(
                "the ledger no longer gives the checkpoint's root; verify the ledger (`coffer evidence verify`)",
            ));
        }
        let entry = entries
            .into_iter()
            .nth(seq)
            .ok_or_else(|| Error::dependency(format!("entry {seq} is missing from the ledger")))?;
        Ok(Proof {
            entry,
            leaf_index: seq,
            tree_size: size,
            audit_path,
            root_hash,
            checkpoint,
        })
    }
}
