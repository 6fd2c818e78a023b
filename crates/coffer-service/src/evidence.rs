//! The evidence ledger: its signed checkpoints (each also kept in the
//! home, beside the signing key), its verification (declared cuts
//! included) and inclusion proofs of its entries.

use coffer_audit::cut::{self, DeclaredCut, Standing};
use coffer_audit::ledger::{self, Verification};
use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::{
    Catalog, Disagreement, LedgerEntry, LedgerQuery, Record, StoredCheckpoint as Checkpoint,
    LEDGERED_OBJECTS,
};
use coffer_model::{
    BackupJob, ControlResult, CopyJob, FrameworkEvaluation, LegalHold, RecoveryPoint, ReportJob,
    RestoreJob, VaultCheck,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// Where the ledger stands against the checkpoint kept in the home:
/// [`Service::ledger_standing`]'s answer.
#[derive(Debug)]
pub(crate) struct LedgerStanding {
    pub standing: Standing,
    /// The cuts the ledger declares, checked.
    pub cuts: Vec<DeclaredCut>,
    /// What is wrong with the declared cuts.
    pub problems: Vec<String>,
    /// The ledger's digest: its root over every entry read, among others.
    pub digest: ledger::Digest,
    /// How many entries were read.
    pub size: i64,
}

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

/// One page of the ledger log, newest first.
#[derive(Clone, Debug)]
pub struct LogPage {
    pub entries: Vec<LedgerEntry>,
    /// The token that reads the next page, while more entries remain.
    pub next_token: Option<String>,
}

/// The ledger verified, and the key its signatures were checked with.
#[derive(Debug)]
pub struct LedgerCheck {
    pub found: Verification,
    pub key: PublicKey,
    /// The catalog's current rows checked against the ledger.
    pub rows: RowCheck,
    /// The cuts the ledger declares (each checked; what is wrong with one
    /// is in `found`).
    pub cuts: Vec<DeclaredCut>,
    /// The ledger against the checkpoint kept outside the catalog (an
    /// undeclared gap is in `found` too).
    pub standing: Standing,
}

/// The catalog's current rows checked against their newest ledger entries.
#[derive(Debug, Default)]
pub struct RowCheck {
    /// Rows read.
    pub checked: usize,
    /// Stored versions of policy objects read (their history).
    pub versions: usize,
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
/// vault checks, the policy objects (vaults with their locks and
/// policies, plans, selections, frameworks, report plans), and every
/// stored version of those objects (their history).
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
    check_history(catalog, &mut out).await?;
    Ok(out)
}

/// Every stored version of a policy object checked against the entry that
/// commits to it, a page at a time in ledger order, and every object entry
/// since the history began checked to have its version.
async fn check_history(catalog: &Catalog, out: &mut RowCheck) -> Result<()> {
    let mut after = -1;
    loop {
        let page = catalog
            .version_agreement_page(after, AGREEMENT_PAGE)
            .await?;
        out.versions += page.rows;
        out.disagreements.extend(page.disagreements);
        match page.last_seq {
            Some(last) => after = last,
            None => break,
        }
    }
    out.disagreements.extend(catalog.versions_missing().await?);
    Ok(())
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
        self.checkpoint_with(&self.catalog_for(caller), &key, self.now())
            .await
    }

    /// Signs a checkpoint of the whole ledger `catalog` holds with `key` at
    /// `now`, and keeps it in the home beside the signing key, so how far
    /// the ledger had gone survives the catalog.
    ///
    /// # Errors
    /// `InvalidRequest` while the ledger is behind the checkpoint kept in
    /// the home and no declared cut names the lost entries (the catalog
    /// was rolled back: recovering it declares the cut); key, file and
    /// catalog failures.
    pub async fn checkpoint_with(
        &self,
        catalog: &Catalog,
        key: &KeyPair,
        now: jiff::Timestamp,
    ) -> Result<Checkpoint> {
        let path = self.config().kept_checkpoint_path();
        let at = self.ledger_standing(catalog, &key.public()).await?;
        if let Standing::Gap(gap) = &at.standing {
            return Err(Error::invalid_request(format!(
                "no checkpoint is signed: {}",
                gap.problem()
            )));
        }
        let checkpoint = ledger::checkpoint_over(catalog, key, &at.digest, at.size, now).await?;
        // Another process may have kept a later one meanwhile.
        let later = cut::read_kept(&path)?.is_some_and(|kept| {
            kept.tree_size > checkpoint.tree_size && kept.time > checkpoint.time
        });
        if !later {
            cut::keep(&path, &checkpoint)?;
        }
        Ok(checkpoint)
    }

    /// Where the ledger stands against the checkpoint kept in the home,
    /// with the cuts it declares checked against `key`, the ledger read a
    /// page at a time.
    ///
    /// # Errors
    /// An unreadable kept checkpoint; catalog failures.
    pub(crate) async fn ledger_standing(
        &self,
        catalog: &Catalog,
        key: &PublicKey,
    ) -> Result<LedgerStanding> {
        self.ledger_standing_with(catalog, key, None).await
    }

    /// [`Service::ledger_standing`] against the newer of the home's kept
    /// checkpoint and `also` (one found elsewhere).
    ///
    /// # Errors
    /// An unreadable kept checkpoint; catalog failures.
    pub(crate) async fn ledger_standing_with(
        &self,
        catalog: &Catalog,
        key: &PublicKey,
        also: Option<Checkpoint>,
    ) -> Result<LedgerStanding> {
        // The checkpoints before the ledger's length: the ledger only
        // grows, so it holds every entry they name, whoever signs meanwhile.
        let home = cut::read_kept(&self.config().kept_checkpoint_path())?;
        let kept = match (home, also) {
            (Some(a), Some(b)) => Some(if b.time > a.time { b } else { a }),
            (a, b) => a.or(b),
        };
        let checkpoints = catalog.checkpoints().await?;
        let stored_cuts = catalog.ledger_cuts().await?;
        let size = catalog.ledger_len().await?;
        let digest = ledger::digest_from(
            catalog,
            size,
            cut::kept_sizes(&stored_cuts)
                .into_iter()
                .chain(cut::standing_sizes(&checkpoints, kept.as_ref())),
        )
        .await?;
        let (cuts, problems) = cut::check_cuts_in(&digest, &stored_cuts, Some(key));
        let standing = cut::standing_in(&digest, &checkpoints, kept.as_ref(), &cuts);
        Ok(LedgerStanding {
            standing,
            cuts,
            problems,
            digest,
            size,
        })
    }

    /// Checks the whole ledger: the hash chain, every checkpoint's root and
    /// signature, against `key` (default: the home's own signing key), and
    /// each format-2 entry's MAC under this deployment's ledger key when
    /// the catalog handle carries it ([`Service::open`] sets it); and every
    /// current row an auditor can ask about against its newest entry
    /// ([`check_rows`]).
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
        let catalog = &self.catalog_for(caller);
        let checkpoints = catalog.checkpoints().await?;
        let stored_cuts = catalog.ledger_cuts().await?;
        let kept = cut::read_kept(&self.config().kept_checkpoint_path())?;
        // A page of entries at a time, in seq order: what is held grows
        // with the checkpoints and cuts, not with the ledger.
        let mut scan = ledger::Scan::new(&checkpoints, Some(&key), catalog.ledger_key());
        for size in cut::kept_sizes(&stored_cuts)
            .into_iter()
            .chain(cut::standing_sizes(&checkpoints, kept.as_ref()))
        {
            scan.want(size);
        }
        let size = catalog.ledger_len().await?;
        ledger::feed_from(&mut scan, catalog, size).await?;
        let (mut found, ledger) = scan.finish();
        let (cuts, problems) = cut::check_cuts_in(&ledger, &stored_cuts, Some(&key));
        let standing = cut::standing_in(&ledger, &checkpoints, kept.as_ref(), &cuts);
        found.problems.extend(problems);
        if let Standing::Gap(gap) = &standing {
            found.problems.push(gap.problem());
        }
        let rows = check_rows(catalog).await?;
        Ok(LedgerCheck {
            found,
            key,
            rows,
            cuts,
            standing,
        })
    }

    /// The ledger entries `query` chooses, newest first (as CloudTrail's
    /// lookup-events lists events), at most `max_results` (1 to 1000) a
    /// page; `next_token` is the previous page's, and the page carries the
    /// next one while more entries remain.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page size or token, or `since`
    /// after `until`; catalog failures.
    pub async fn evidence_log(
        &self,
        caller: &Caller,
        query: &LedgerQuery,
        max_results: usize,
        next_token: Option<&str>,
    ) -> Result<LogPage> {
        self.authorize(caller, Action::LookupLedgerEntries, Target::Account)?;
        if !(1..=1000).contains(&max_results) {
            return Err(Error::new(
                crate::ErrorKind::InvalidParameterValue,
                format!("a page holds 1 to 1000 entries, not {max_results}"),
            ));
        }
        if let (Some(since), Some(until)) = (query.since, query.until) {
            if since > until {
                return Err(Error::new(
                    crate::ErrorKind::InvalidParameterValue,
                    format!("the start {since} is after the end {until}; swap them"),
                ));
            }
        }
        let mut query = query.clone();
        if let Some(token) = next_token {
            let before = token.parse::<i64>().map_err(|_| {
                Error::new(
                    crate::ErrorKind::InvalidParameterValue,
                    format!("{token:?} is not a token a page of the ledger log gave; pass the NextToken the previous page printed"),
                )
            })?;
            query.before = Some(before);
        }
        // One more than asked says whether another page follows.
        let limit = i64::try_from(max_results).unwrap_or(1000) + 1;
        let mut entries = self.catalog().ledger_log(&query, limit).await?;
        let more = entries.len() > max_results;
        entries.truncate(max_results);
        let next_token = match entries.last() {
            Some(last) if more => Some(last.seq.to_string()),
            _ => None,
        };
        Ok(LogPage {
            entries,
            next_token,
        })
    }

    /// An inclusion proof of entry `seq` in the newest checkpoint's tree.
    ///
    /// # Errors
    /// `InvalidRequest` with no checkpoint yet or an entry after it;
    /// `DependencyFailure` when the ledger no longer gives the checkpoint's
    /// root (verify the ledger).
    pub async fn prove_entry(&self, caller: &Caller, seq: usize) -> Result<Proof> {
        self.authorize(caller, Action::VerifyLedger, Target::Account)?;
        let catalog = &self.catalog_for(caller);
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
        let leaves = ledger::leaves_from(catalog, checkpoint.tree_size).await?;
        let proved = (leaves.len() == size)
            .then(|| ledger::prove(&leaves, seq))
            .flatten();
        let Some((audit_path, root_hash)) = proved else {
            return Err(Error::dependency(
                "the ledger holds fewer entries than its checkpoint; verify the ledger (`coffer evidence verify`)",
            ));
        };
        if root_hash != checkpoint.root_hash {
            return Err(Error::dependency(
                "the ledger no longer gives the checkpoint's root; verify the ledger (`coffer evidence verify`)",
            ));
        }
        let at = i64::try_from(seq).unwrap_or(i64::MAX);
        let entry = catalog
            .ledger_entries(at, at.saturating_add(1))
            .await?
            .into_iter()
            .next()
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
