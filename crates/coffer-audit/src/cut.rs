//! Declared cuts of the evidence ledger, and the checkpoint kept outside
//! the catalog that makes an undeclared one visible.
//!
//! Each checkpoint a deployment signs is also kept in its home, beside the
//! signing key ([`keep`]), so how far the ledger had gone survives the
//! catalog. A catalog restored from an older copy, or recreated empty, has
//! a ledger behind that checkpoint: the entries between are lost. Recovery
//! then appends a `ledger cut` entry whose record ([`LedgerCut`], signed
//! with the deployment's Ed25519 key) names the entries the ledger still
//! has (their count and the last one's hash), the newest checkpoint it no
//! longer gives, and what was recovered. Verification treats a checkpoint
//! inside a declared cut as declared, not as tampering; a ledger behind
//! the kept checkpoint with no cut naming it is an undeclared gap and
//! fails ([`standing`]).

use std::path::Path;

use coffer_catalog::{LedgerEntry, StoredCheckpoint, StoredCut, GENESIS};

use crate::error::Result;
use crate::key_file::io;
use crate::ledger::{checkpoint_message, leaves, Digest};
use crate::merkle;
use crate::signing::{KeyPair, PublicKey};

/// The newest checkpoint kept in the home, beside the signing key.
pub const CHECKPOINT_FILE: &str = "ledger-checkpoint.json";

/// The checkpoint kept at `path`, if any.
///
/// # Errors
/// A file that cannot be read or does not hold a checkpoint.
pub fn read_kept(path: &Path) -> Result<Option<StoredCheckpoint>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it holds no ledger checkpoint ({e}); restore it from a backup of the home, or remove it to start keeping checkpoints afresh"),
        ))
    })
}

/// Keeps `checkpoint` at `path` (written to a file of its own beside it,
/// then renamed over it, so the file is always whole).
///
/// # Errors
/// When the file cannot be written.
pub fn keep(path: &Path, checkpoint: &StoredCheckpoint) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let text = serde_json::to_string_pretty(checkpoint).map_err(|e| {
        io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.to_string(),
        ))
    })?;
    // A temporary file of its own: two processes keeping a checkpoint at
    // once must not rename each other's file away.
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut temporary, text.as_bytes()).map_err(io(temporary.path()))?;
    temporary
        .persist(path)
        .map(drop)
        .map_err(|e| io(path)(e.error))
}

/// What a recovery recorded again from one vault.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveredVault {
    pub backup_vault_arn: String,
    pub recovery_point_ids: Vec<String>,
}

/// The record of a declared cut: the ledger kept its first `kept_entries`
/// entries (the last of them hashing to `kept_hash`), and lost what
/// followed them up to the checkpoint `lost_through`, which it no longer
/// gives. Signed by the deployment's key; the `ledger cut` entry records
/// its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LedgerCut {
    pub kept_entries: i64,
    pub kept_hash: String,
    pub lost_through: StoredCheckpoint,
    pub declared_at: jiff::Timestamp,
    /// Why, in words.
    pub reason: String,
    /// The recovery points recorded again, per vault.
    pub recovered: Vec<RecoveredVault>,
    /// The fingerprint of the key that signed this record.
    pub key_fingerprint: String,
}

/// The bytes a cut's signature covers.
fn cut_message(doc: &str) -> Vec<u8> {
    format!("coffer ledger cut v1\n{doc}").into_bytes()
}

impl LedgerCut {
    /// The record as stored and its signature (hex).
    pub fn signed(&self, key: &KeyPair) -> (String, String) {
        // A struct of strings, numbers and timestamps always serializes.
        let doc = serde_json::to_string(self).unwrap_or_default();
        let signature = key.sign(&cut_message(&doc));
        (doc, signature)
    }

    /// A line saying what the cut declares.
    pub fn summary(&self) -> String {
        let recovered: usize = self
            .recovered
            .iter()
            .map(|v| v.recovery_point_ids.len())
            .sum();
        format!(
            "entries from {} on lost, through the checkpoint of {} entries signed {}; {recovered} recovery point(s) recovered",
            self.kept_entries, self.lost_through.tree_size, self.lost_through.time
        )
    }
}

/// A cut the ledger declares, checked: its entry's position and time, and
/// its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredCut {
    pub seq: i64,
    pub time: jiff::Timestamp,
    pub cut: LedgerCut,
}

impl DeclaredCut {
    /// Whether `checkpoint` commits to entries this cut declares lost: it
    /// holds more entries than were kept, and no more, and no later, than
    /// the newest checkpoint lost.
    pub fn covers(&self, checkpoint: &StoredCheckpoint) -> bool {
        checkpoint.tree_size > self.cut.kept_entries
            && checkpoint.tree_size <= self.cut.lost_through.tree_size
            && checkpoint.time <= self.cut.lost_through.time
    }
}

/// Whether the ledger `entries` give `checkpoint`'s root over its first
/// `tree_size` entries.
pub fn agrees(entries: &[LedgerEntry], checkpoint: &StoredCheckpoint) -> bool {
    let Ok(size) = usize::try_from(checkpoint.tree_size) else {
        return false;
    };
    entries.len() >= size
        && hex::encode(merkle::root(&leaves(&entries[..size]))) == checkpoint.root_hash
}

/// The cuts the ledger declares, each checked: its entry is a `ledger cut`
/// entry recording its record's SHA-256, the record reads, its signature
/// and that of the checkpoint it names verify with `key` (when given), and
/// the entries it says were kept are still there. Problems name the entry.
pub fn check_cuts(
    entries: &[LedgerEntry],
    stored: &[StoredCut],
    key: Option<&PublicKey>,
) -> (Vec<DeclaredCut>, Vec<String>) {
    check_cuts_in(&Digest::of(entries, kept_sizes(stored)), stored, key)
}

/// The prefixes of the ledger the `stored` cuts say were kept, which
/// [`check_cuts_in`] needs the [`Digest`] to hold.
pub fn kept_sizes(stored: &[StoredCut]) -> Vec<usize> {
    stored
        .iter()
        .filter_map(|record| serde_json::from_str::<LedgerCut>(&record.doc).ok())
        .filter_map(|cut| usize::try_from(cut.kept_entries).ok())
        .collect()
}

/// [`check_cuts`] over the ledger's [`Digest`], which holds the prefixes
/// of [`kept_sizes`].
pub fn check_cuts_in(
    ledger: &Digest,
    stored: &[StoredCut],
    key: Option<&PublicKey>,
) -> (Vec<DeclaredCut>, Vec<String>) {
    let mut declared = Vec::new();
    let mut problems = Vec::new();
    for entry in ledger.cut_entries() {
        if !stored.iter().any(|s| s.seq == entry.seq) {
            problems.push(format!(
                "entry {} declares a cut of the ledger, but its signed record is missing from the catalog: it was removed",
                entry.seq
            ));
        }
    }
    for record in stored {
        let label = format!("the cut declared at entry {}", record.seq);
        let entry = usize::try_from(record.seq).ok().and_then(|i| {
            ledger
                .cut_entries()
                .iter()
                .find(|e| e.position == i && e.seq == record.seq)
        });
        let Some(entry) = entry else {
            problems.push(format!(
                "{label}: the ledger holds no cut entry there: the record was written around Coffer"
            ));
            continue;
        };
        if coffer_catalog::ledger::sha256_hex(record.doc.as_bytes()) != entry.doc_sha256 {
            problems.push(format!(
                "{label}: its record is not the one the entry recorded: it was edited"
            ));
            continue;
        }
        let cut: LedgerCut = match serde_json::from_str(&record.doc) {
            Ok(cut) => cut,
            Err(e) => {
                problems.push(format!("{label}: its record cannot be read: {e}"));
                continue;
            }
        };
        if let Some(key) = key {
            if !key.verifies(&cut_message(&record.doc), &record.signature) {
                problems.push(format!(
                    "{label}: its signature does not verify with key {} (it says {})",
                    key.fingerprint(),
                    cut.key_fingerprint
                ));
            }
            let lost = &cut.lost_through;
            if !key.verifies(
                &checkpoint_message(lost.tree_size, &lost.root_hash, lost.time),
                &lost.signature,
            ) {
                problems.push(format!(
                    "{label}: the checkpoint it names as lost ({} entries, {}) is not signed by key {}",
                    lost.tree_size,
                    lost.time,
                    key.fingerprint()
                ));
            }
        }
        let kept_hash = match usize::try_from(cut.kept_entries) {
            Ok(0) => Some(GENESIS),
            Ok(n) if n <= ledger.len() && cut.kept_entries <= record.seq => ledger.last_hash(n),
            _ => None,
        };
        if kept_hash != Some(cut.kept_hash.as_str()) {
            problems.push(format!(
                "{label}: the {} entries it says were kept are no longer those entries",
                cut.kept_entries
            ));
            continue;
        }
        declared.push(DeclaredCut {
            seq: record.seq,
            time: entry.time,
            cut,
        });
    }
    (declared, problems)
}

/// Where the ledger stands against the newest checkpoint kept outside the
/// catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// No checkpoint is kept (a new home, or none signed yet).
    NoneKept,
    /// The ledger still gives the kept checkpoint's root.
    Agrees,
    /// The kept checkpoint lies in the cut declared at this entry.
    Declared(i64),
    /// The ledger no longer gives the kept checkpoint and no cut declares
    /// it: the entries after `kept_entries` up to `lost_through` are gone.
    Gap(Gap),
}

/// An undeclared gap: what a cut declaring it would say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub kept_entries: i64,
    pub kept_hash: String,
    pub lost_through: StoredCheckpoint,
}

impl Gap {
    /// The problem an undeclared gap is, in words.
    pub fn problem(&self) -> String {
        format!(
            "the checkpoint kept outside the catalog (of {} entries, signed {}) commits to entries this ledger no longer gives (it agrees only up to entry {}), and no declared cut names them: the catalog was rolled back to an older copy or recreated; recover the catalog to declare the cut, or find who rolled it back",
            self.lost_through.tree_size, self.lost_through.time, self.kept_entries
        )
    }
}

/// Compares the ledger with the checkpoint `kept` outside the catalog,
/// given the catalog's own `checkpoints` (the newest of them the ledger
/// still gives bounds what was kept) and the `cuts` it declares.
pub fn standing(
    entries: &[LedgerEntry],
    checkpoints: &[StoredCheckpoint],
    kept: Option<&StoredCheckpoint>,
    cuts: &[DeclaredCut],
) -> Standing {
    let ledger = Digest::of(entries, standing_sizes(checkpoints, kept));
    standing_in(&ledger, checkpoints, kept, cuts)
}

/// The prefixes of the ledger [`standing_in`] needs the [`Digest`] to
/// hold: those of the `checkpoints` and of `kept`.
pub fn standing_sizes(
    checkpoints: &[StoredCheckpoint],
    kept: Option<&StoredCheckpoint>,
) -> Vec<usize> {
    checkpoints
        .iter()
        .chain(kept)
        .filter_map(|c| usize::try_from(c.tree_size).ok())
        .collect()
}

/// [`standing`] over the ledger's [`Digest`], which holds the prefixes of
/// [`standing_sizes`].
pub fn standing_in(
    ledger: &Digest,
    checkpoints: &[StoredCheckpoint],
    kept: Option<&StoredCheckpoint>,
    cuts: &[DeclaredCut],
) -> Standing {
    let Some(kept) = kept else {
        return Standing::NoneKept;
    };
    if ledger.agrees(kept) {
        return Standing::Agrees;
    }
    if let Some(cut) = cuts.iter().rev().find(|cut| cut.covers(kept)) {
        return Standing::Declared(cut.seq);
    }
    let kept_entries = checkpoints
        .iter()
        .filter(|c| c.tree_size < kept.tree_size && ledger.agrees(c))
        .map(|c| c.tree_size)
        .max()
        .unwrap_or(0);
    let kept_hash = usize::try_from(kept_entries)
        .ok()
        .and_then(|n| ledger.last_hash(n))
        .map_or_else(|| GENESIS.to_string(), str::to_string);
    Standing::Gap(Gap {
        kept_entries,
        kept_hash,
        lost_through: kept.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::tests_support::{chain, key, signed};
    use coffer_catalog::CUT_KIND;

    fn stored(seq: i64, doc: &str, signature: &str) -> StoredCut {
        StoredCut {
            seq,
            doc: doc.to_string(),
            signature: signature.to_string(),
        }
    }

    /// A ledger of 10 entries with checkpoints at 4 and 10, cut back to 6
    /// and continued with three other entries, the last a cut entry.
    fn rolled_back() -> (
        tempfile::TempDir,
        KeyPair,
        Vec<LedgerEntry>,
        StoredCheckpoint,
        StoredCheckpoint,
    ) {
        let (dir, key) = key();
        let lost = chain(10, "lost");
        let early = signed(&lost, &key, 4);
        let newest = signed(&lost, &key, 10);
        let mut entries: Vec<LedgerEntry> = lost[..6].to_vec();
        let more = chain(9, "kept");
        for e in &more[6..] {
            let mut e = e.clone();
            e.prev_hash = entries
                .last()
                .map_or(GENESIS.to_string(), |p| p.entry_hash.clone());
            e.entry_hash = e.computed_hash();
            entries.push(e);
        }
        (dir, key, entries, early, newest)
    }

    #[test]
    fn a_rolled_back_ledger_is_a_gap_until_a_signed_cut_declares_it() {
        let (_dir, key, mut entries, early, newest) = rolled_back();
        let Standing::Gap(gap) =
            standing(&entries, std::slice::from_ref(&early), Some(&newest), &[])
        else {
            panic!("a gap");
        };
        assert_eq!(gap.kept_entries, 4);
        assert_eq!(gap.kept_hash, entries[3].entry_hash);
        assert!(
            gap.problem().contains("no declared cut"),
            "{}",
            gap.problem()
        );

        let cut = LedgerCut {
            kept_entries: gap.kept_entries,
            kept_hash: gap.kept_hash.clone(),
            lost_through: newest.clone(),
            declared_at: newest.time,
            reason: "restored".into(),
            recovered: vec![],
            key_fingerprint: key.fingerprint(),
        };
        let (doc, signature) = cut.signed(&key);
        let last = entries.len() - 1;
        entries[last].kind = CUT_KIND.into();
        entries[last].doc_sha256 = coffer_catalog::ledger::sha256_hex(doc.as_bytes());
        entries[last].entry_hash = entries[last].computed_hash();
        let seq = entries[last].seq;
        let public = key.public();
        let (declared, problems) =
            check_cuts(&entries, &[stored(seq, &doc, &signature)], Some(&public));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            standing(
                &entries,
                std::slice::from_ref(&early),
                Some(&newest),
                &declared
            ),
            Standing::Declared(seq)
        );
        // Inside the cut: the lost checkpoints; outside: the kept one.
        assert!(declared[0].covers(&newest));
        assert!(declared[0].covers(&signed(&chain(10, "lost"), &key, 7)));
        assert!(!declared[0].covers(&early));

        // An edited record, a forged signature, a removed record: named.
        let edited = doc.replace("restored", "nothing");
        let (_, problems) =
            check_cuts(&entries, &[stored(seq, &edited, &signature)], Some(&public));
        assert!(problems[0].contains("edited"), "{problems:?}");
        let (_other_dir, other) = crate::ledger::tests_support::key();
        let (_, forged) = cut.signed(&other);
        let (declared, problems) =
            check_cuts(&entries, &[stored(seq, &doc, &forged)], Some(&public));
        assert!(
            problems[0].contains("signature does not verify"),
            "{problems:?}"
        );
        assert_eq!(declared.len(), 1, "still read, but named");
        let (declared, problems) = check_cuts(&entries, &[], Some(&public));
        assert!(declared.is_empty());
        assert!(problems[0].contains("record is missing"), "{problems:?}");
    }

    #[test]
    fn an_intact_ledger_agrees_with_its_kept_checkpoint() {
        let (_dir, key) = key();
        let entries = chain(8, "x");
        let kept = signed(&entries, &key, 8);
        assert_eq!(standing(&entries, &[], Some(&kept), &[]), Standing::Agrees);
        assert_eq!(standing(&entries, &[], None, &[]), Standing::NoneKept);
        assert!(agrees(&entries, &signed(&entries, &key, 3)));
        assert!(!agrees(&entries[..5], &kept));
    }

    #[test]
    fn the_kept_checkpoint_reads_back_as_written() {
        let (dir, key) = key();
        let path = dir.path().join(CHECKPOINT_FILE);
        assert_eq!(read_kept(&path).unwrap_or_else(|e| panic!("{e}")), None);
        let checkpoint = signed(&chain(3, "x"), &key, 3);
        keep(&path, &checkpoint).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_kept(&path).unwrap_or_else(|e| panic!("{e}")),
            Some(checkpoint)
        );
        std::fs::write(&path, "{").unwrap_or_else(|e| panic!("{e}"));
        assert!(read_kept(&path).is_err());
    }

    #[test]
    fn checkpoints_kept_at_once_never_rename_each_others_file_away() {
        let (dir, key) = key();
        let path = dir.path().join(CHECKPOINT_FILE);
        let checkpoint = signed(&chain(3, "x"), &key, 3);
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..50 {
                            keep(&path, &checkpoint)?;
                        }
                        Ok::<_, crate::Error>(())
                    })
                })
                .collect();
            for writer in writers {
                let kept = writer
                    .join()
                    .unwrap_or_else(|_| panic!("a writer panicked"));
                kept.unwrap_or_else(|e| panic!("{e}"));
            }
        });
        assert_eq!(
            read_kept(&path).unwrap_or_else(|e| panic!("{e}")),
            Some(checkpoint)
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|name| name.to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}
