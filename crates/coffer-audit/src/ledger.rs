//! Checkpoints of the evidence ledger and its verification.
//!
//! A checkpoint is the Merkle root (RFC 6962) of the first `tree_size`
//! entries, with the time, signed by the deployment's key. Verification
//! walks the hash chain (an edited entry no longer matches its hash; a
//! removed, inserted or reordered one breaks the chain or the sequence)
//! and recomputes each checkpoint's root (an entry changed and the chain
//! re-hashed after it, or a ledger cut back below a checkpoint, is caught),
//! and checks each checkpoint's signature. On the deployment that wrote the
//! ledger, where its ledger key is at hand, each format-2 entry's MAC is
//! checked too: an entry a catalog writer appended with a valid chain
//! after the last checkpoint is named.

use std::collections::{BTreeMap, BTreeSet};

use coffer_catalog::{
    Catalog, LedgerEntry, LedgerKey, StoredCheckpoint, CUT_KIND, FORMAT_V1, FORMAT_V2, GENESIS,
};

use crate::error::Result;
use crate::merkle::{self, Hash};
use crate::signing::{KeyPair, PublicKey};

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(tree_size: i64, root_hash: &str, time: jiff::Timestamp) -> Vec<u8> {
    format!("coffer ledger checkpoint v1\n{tree_size}\n{root_hash}\n{time}\n").into_bytes()
}

/// The Merkle leaves of `entries`: each entry's hash, leaf-hashed.
pub fn leaves(entries: &[LedgerEntry]) -> Vec<Hash> {
    entries
        .iter()
        .map(|e| merkle::leaf_hash(e.entry_hash.as_bytes()))
        .collect()
}

/// How many entries are read at a time wherever the whole ledger is read:
/// what is held grows with a page, not with the ledger.
pub const PAGE: i64 = 10_000;

/// Feeds `scan` the first `size` entries `catalog` holds, a page at a
/// time, in seq order.
///
/// # Errors
/// Catalog errors.
pub async fn feed_from(scan: &mut Scan<'_>, catalog: &Catalog, size: i64) -> Result<()> {
    let mut from = 0;
    while from < size {
        let to = from.saturating_add(PAGE).min(size);
        scan.feed(&catalog.ledger_entries(from, to).await?);
        from = to;
    }
    Ok(())
}

/// The [`Digest`] of the first `size` entries `catalog` holds, read a
/// page at a time, with the prefixes of `sizes` and of `size` itself (so
/// `root(size)` is their root).
///
/// # Errors
/// Catalog errors.
pub async fn digest_from(
    catalog: &Catalog,
    size: i64,
    sizes: impl IntoIterator<Item = usize>,
) -> Result<Digest> {
    let mut scan = Scan::new(&[], None, None);
    for wanted in sizes.into_iter().chain(usize::try_from(size).ok()) {
        scan.want(wanted);
    }
    feed_from(&mut scan, catalog, size).await?;
    Ok(scan.finish().1)
}

/// Signs and stores a checkpoint of the whole ledger as it is now.
///
/// # Errors
/// Catalog errors.
pub async fn checkpoint(
    catalog: &Catalog,
    key: &KeyPair,
    now: jiff::Timestamp,
) -> Result<StoredCheckpoint> {
    let size = catalog.ledger_len().await?;
    let digest = digest_from(catalog, size, []).await?;
    checkpoint_over(catalog, key, &digest, size, now).await
}

/// Signs and stores a checkpoint of the first `size` entries, whose root
/// `digest` holds (it was asked for that prefix).
///
/// # Errors
/// Catalog errors; an internal error when `digest` lacks the prefix.
pub async fn checkpoint_over(
    catalog: &Catalog,
    key: &KeyPair,
    digest: &Digest,
    size: i64,
    now: jiff::Timestamp,
) -> Result<StoredCheckpoint> {
    let root = usize::try_from(size)
        .ok()
        .and_then(|n| digest.root(n))
        .map(hex::encode)
        .ok_or(crate::Error::NoPrefix { size })?;
    // Stored at the catalog's precision, signed the same way.
    let time = jiff::Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
    let checkpoint = StoredCheckpoint {
        tree_size: size,
        signature: key.sign(&checkpoint_message(size, &root, time)),
        root_hash: root,
        time,
        key_fingerprint: key.fingerprint(),
    };
    catalog.insert_checkpoint(&checkpoint).await?;
    Ok(checkpoint)
}

/// The Merkle leaves of the first `size` entries `catalog` holds, read a
/// page at a time (a hash an entry is held, not the entries).
///
/// # Errors
/// Catalog errors.
pub async fn leaves_from(catalog: &Catalog, size: i64) -> Result<Vec<Hash>> {
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut from = 0;
    while from < size {
        let to = from.saturating_add(PAGE).min(size);
        out.extend(leaves(&catalog.ledger_entries(from, to).await?));
        from = to;
    }
    Ok(out)
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    pub entries: usize,
    pub checkpoints: usize,
    /// How many format-2 entries had their MAC checked; None when no
    /// ledger key was given (the caller must say MACs were not checked).
    pub macs_checked: Option<usize>,
    /// Each problem, naming the entry or checkpoint.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the ledger `entries` (all of them, in stored order) and the
/// `checkpoints` against `key` (the key the auditor trusts; without one,
/// signatures are not checked, which the caller must say).
pub fn verify(
    entries: &[LedgerEntry],
    checkpoints: &[StoredCheckpoint],
    key: Option<&PublicKey>,
) -> Verification {
    verify_with_macs(entries, checkpoints, key, None)
}

/// [`verify`], and with `mac_key` (the deployment's ledger key) each
/// format-2 entry's MAC. Whatever the key, an entry in format 1 after a
/// format-2 entry is named: once the format changed, Coffer writes only
/// format 2, so such an entry was written around Coffer.
pub fn verify_with_macs(
    entries: &[LedgerEntry],
    checkpoints: &[StoredCheckpoint],
    key: Option<&PublicKey>,
    mac_key: Option<&LedgerKey>,
) -> Verification {
    let mut scan = Scan::new(checkpoints, key, mac_key);
    scan.feed(entries);
    scan.finish().0
}

/// An entry of the ledger that declares a cut, as [`Digest`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutEntry {
    /// Where it stands in the ledger (its seq, unless entries moved).
    pub position: usize,
    pub seq: i64,
    pub time: jiff::Timestamp,
    pub doc_sha256: String,
}

/// What the checks after the chain's need of a ledger, kept while it is
/// read a page at a time: its length, the Merkle root of and the last
/// entry's hash in each prefix asked for ([`Scan::want`]), and the entries
/// declaring cuts. Its size grows with the prefixes asked for and the
/// cuts, not with the entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    len: usize,
    prefixes: BTreeMap<usize, (Hash, String)>,
    cut_entries: Vec<CutEntry>,
}

impl Digest {
    /// The digest of `entries` (the whole ledger) with the prefixes of
    /// `sizes`.
    pub fn of(entries: &[LedgerEntry], sizes: impl IntoIterator<Item = usize>) -> Digest {
        let mut scan = Scan::new(&[], None, None);
        for size in sizes {
            scan.want(size);
        }
        scan.feed(entries);
        scan.finish().1
    }

    /// How many entries the ledger holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root of the first `size` entries, when the ledger holds them
    /// and the prefix was asked for.
    pub fn root(&self, size: usize) -> Option<&Hash> {
        self.prefixes.get(&size).map(|(root, _)| root)
    }

    /// The hash of the last of the first `size` entries ([`GENESIS`] for
    /// none), when the ledger holds them and the prefix was asked for.
    pub fn last_hash(&self, size: usize) -> Option<&str> {
        self.prefixes.get(&size).map(|(_, hash)| hash.as_str())
    }

    /// The entries declaring cuts, in ledger order.
    pub fn cut_entries(&self) -> &[CutEntry] {
        &self.cut_entries
    }

    /// Whether the ledger gives `checkpoint`'s root over its first
    /// `tree_size` entries (false when that prefix was not asked for).
    pub fn agrees(&self, checkpoint: &StoredCheckpoint) -> bool {
        usize::try_from(checkpoint.tree_size)
            .ok()
            .and_then(|size| self.root(size))
            .is_some_and(|root| hex::encode(root) == checkpoint.root_hash)
    }
}

/// The ledger's verification fed a page at a time, in seq order: what
/// [`verify_with_macs`] finds over the whole ledger, holding only the
/// previous entry's hash, the Merkle frontier (one hash per set bit of
/// the count) and the [`Digest`], never the entries.
#[derive(Debug)]
pub struct Scan<'a> {
    checkpoints: &'a [StoredCheckpoint],
    key: Option<&'a PublicKey>,
    mac_key: Option<&'a LedgerKey>,
    wanted: BTreeSet<usize>,
    previous: String,
    first_v2: Option<i64>,
    macs_checked: usize,
    problems: Vec<String>,
    /// The perfect subtrees over the entries so far, largest first: their
    /// sizes are the count's binary digits.
    frontier: Vec<(usize, Hash)>,
    digest: Digest,
}

impl<'a> Scan<'a> {
    /// A scan checking `checkpoints` (their roots and, with `key`, their
    /// signatures) and, with `mac_key`, each format-2 entry's MAC.
    pub fn new(
        checkpoints: &'a [StoredCheckpoint],
        key: Option<&'a PublicKey>,
        mac_key: Option<&'a LedgerKey>,
    ) -> Scan<'a> {
        let wanted = checkpoints
            .iter()
            .filter_map(|c| usize::try_from(c.tree_size).ok())
            .collect();
        Scan {
            checkpoints,
            key,
            mac_key,
            wanted,
            previous: GENESIS.to_string(),
            first_v2: None,
            macs_checked: 0,
            problems: Vec::new(),
            frontier: Vec::new(),
            digest: Digest::default(),
        }
    }

    /// Also keeps the root and last hash of the first `size` entries in
    /// the [`Digest`]; asked before the entries are fed.
    pub fn want(&mut self, size: usize) {
        self.wanted.insert(size);
    }

    /// How many hashes the scan holds: the frontier and the prefixes kept.
    pub fn held_hashes(&self) -> usize {
        self.frontier.len() + self.digest.prefixes.len()
    }

    /// Checks the next `page` of entries, the ones after those fed so far.
    pub fn feed(&mut self, page: &[LedgerEntry]) {
        for entry in page {
            self.keep_prefix();
            self.check(entry);
        }
    }

    /// Keeps the current prefix when it was asked for.
    fn keep_prefix(&mut self) {
        let size = self.digest.len;
        if self.wanted.contains(&size) {
            let root = frontier_root(&self.frontier);
            self.digest
                .prefixes
                .insert(size, (root, self.previous.clone()));
        }
    }

    fn check(&mut self, entry: &LedgerEntry) {
        let position = self.digest.len;
        let problems = &mut self.problems;
        let label = format!(
            "entry {} ({} {}, {:?})",
            entry.seq, entry.kind, entry.subject, entry.event
        );
        match entry.format {
            FORMAT_V1 => {
                if let Some(first) = self.first_v2 {
                    problems.push(format!(
                        "{label} is in the old format 1 after entry {first} in format 2: Coffer writes only format 2 since, so it was written around Coffer (forged)"
                    ));
                }
            }
            FORMAT_V2 => {
                self.first_v2.get_or_insert(entry.seq);
                if let Some(mac_key) = self.mac_key {
                    self.macs_checked += 1;
                    if entry.mac.is_none() {
                        problems.push(format!(
                            "{label} carries no MAC: it was not written by this deployment's Coffer (forged)"
                        ));
                    } else if !mac_key.verifies(entry) {
                        problems.push(format!(
                            "{label}: its MAC does not verify under this deployment's ledger key: it was forged or edited"
                        ));
                    }
                }
            }
            other => problems.push(format!(
                "{label} has format {other}, which this Coffer does not know: it was edited or written by a newer Coffer"
            )),
        }
        let expected_seq = i64::try_from(position).unwrap_or(i64::MAX);
        if entry.seq != expected_seq {
            problems.push(format!(
                "entry {} is at position {position}: entries were removed, inserted or reordered",
                entry.seq
            ));
        }
        if entry.computed_hash() != entry.entry_hash {
            problems.push(format!(
                "entry {} ({} {}, {:?}): its contents no longer match its hash: it was edited",
                entry.seq, entry.kind, entry.subject, entry.event
            ));
        }
        if entry.prev_hash != self.previous {
            problems.push(format!(
                "entry {} does not follow the entry before it: an entry was removed, inserted or reordered there",
                entry.seq
            ));
        }
        if entry.kind == CUT_KIND {
            self.digest.cut_entries.push(CutEntry {
                position,
                seq: entry.seq,
                time: entry.time,
                doc_sha256: entry.doc_sha256.clone(),
            });
        }
        push_leaf(
            &mut self.frontier,
            merkle::leaf_hash(entry.entry_hash.as_bytes()),
        );
        self.previous.clone_from(&entry.entry_hash);
        self.digest.len += 1;
    }

    /// What the scan found over every entry fed, with each checkpoint's
    /// root and signature checked, and the [`Digest`] of the ledger.
    pub fn finish(mut self) -> (Verification, Digest) {
        self.keep_prefix();
        let len = self.digest.len;
        let mut problems = self.problems;
        for checkpoint in self.checkpoints {
            let label = format!(
                "checkpoint of {} (first {} entries)",
                checkpoint.time, checkpoint.tree_size
            );
            let size = usize::try_from(checkpoint.tree_size).unwrap_or(usize::MAX);
            if size > len {
                problems.push(format!(
                    "{label}: the ledger holds only {len} entries: it was cut back"
                ));
            } else if !self.digest.agrees(checkpoint) {
                problems.push(format!(
                    "{label}: those entries no longer give the signed root: some were changed, removed or reordered"
                ));
            }
            if let Some(key) = self.key {
                let message = checkpoint_message(
                    checkpoint.tree_size,
                    &checkpoint.root_hash,
                    checkpoint.time,
                );
                if !key.verifies(&message, &checkpoint.signature) {
                    problems.push(format!(
                        "{label}: its signature does not verify with key {} (it says {})",
                        key.fingerprint(),
                        checkpoint.key_fingerprint
                    ));
                }
            }
        }
        let found = Verification {
            entries: len,
            checkpoints: self.checkpoints.len(),
            macs_checked: self.mac_key.map(|_| self.macs_checked),
            problems,
        };
        (found, self.digest)
    }
}

/// Adds `leaf` to the frontier, merging the subtrees it completes.
fn push_leaf(frontier: &mut Vec<(usize, Hash)>, leaf: Hash) {
    let mut node = (1, leaf);
    while let Some(&(size, left)) = frontier.last() {
        if size != node.0 {
            break;
        }
        frontier.pop();
        node = (size * 2, merkle::node_hash(&left, &node.1));
    }
    frontier.push(node);
}

/// The RFC 6962 root of the leaves the frontier covers: its subtrees
/// joined from the right, as the tree splits at the largest power of two.
fn frontier_root(frontier: &[(usize, Hash)]) -> Hash {
    let mut subtrees = frontier.iter().rev();
    let Some(&(_, mut root)) = subtrees.next() else {
        return merkle::root(&[]);
    };
    for (_, left) in subtrees {
        root = merkle::node_hash(left, &root);
    }
    root
}

/// An inclusion proof of leaf `seq` in the tree of `leaves`: the audit
/// path, hex, and the root it leads to.
pub fn prove(leaves: &[Hash], seq: usize) -> Option<(Vec<String>, String)> {
    let path = merkle::inclusion_proof(seq, leaves)?;
    Some((
        path.iter().map(hex::encode).collect(),
        hex::encode(merkle::root(leaves)),
    ))
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Chains, keys and checkpoints the ledger's and the cuts' tests share.

    use super::*;

    /// `n` chained format-1 entries, subjects `{tag}{seq}`.
    pub(crate) fn chain(n: i64, tag: &str) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = Vec::new();
        for seq in 0..n {
            let mut e = LedgerEntry {
                seq,
                time: jiff::Timestamp::from_second(1_780_000_000 + seq).unwrap_or_default(),
                kind: "backup job".into(),
                subject: format!("{tag}{seq}"),
                event: "COMPLETED".into(),
                doc_sha256: "ab".repeat(32),
                prev_hash: out
                    .last()
                    .map_or(GENESIS.to_string(), |p| p.entry_hash.clone()),
                actor: None,
                entry_hash: String::new(),
                format: FORMAT_V1,
                mac: None,
            };
            e.entry_hash = e.computed_hash();
            out.push(e);
        }
        out
    }

    pub(crate) fn signed(entries: &[LedgerEntry], key: &KeyPair, size: usize) -> StoredCheckpoint {
        let root = hex::encode(merkle::root(&leaves(&entries[..size])));
        let time = jiff::Timestamp::from_second(1_790_000_000).unwrap_or_default();
        let size = i64::try_from(size).unwrap_or_default();
        StoredCheckpoint {
            tree_size: size,
            signature: key.sign(&checkpoint_message(size, &root, time)),
            root_hash: root,
            time,
            key_fingerprint: key.fingerprint(),
        }
    }

    pub(crate) fn key() -> (tempfile::TempDir, KeyPair) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = KeyPair::load_or_create(&dir.path().join("k")).unwrap_or_else(|e| panic!("{e}"));
        (dir, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::tests_support::{key, signed};

    fn chain(n: i64) -> Vec<LedgerEntry> {
        super::tests_support::chain(n, "J")
    }

    #[test]
    fn an_intact_ledger_verifies_and_every_tampering_is_named() {
        let (_dir, key) = key();
        let entries = chain(10);
        let checkpoints = vec![signed(&entries, &key, 6), signed(&entries, &key, 10)];
        let public = key.public();
        assert!(verify(&entries, &checkpoints, Some(&public)).passed());

        // Edited.
        let mut edited = entries.clone();
        edited[4].event = "FAILED".into();
        let found = verify(&edited, &checkpoints, Some(&public));
        assert!(
            found
                .problems
                .iter()
                .any(|p| p.starts_with("entry 4 (") && p.contains("edited")),
            "{found:?}"
        );

        // Edited, and the chain re-hashed from there: the checkpoints catch it.
        let mut rehashed = entries.clone();
        rehashed[4].event = "FAILED".into();
        for i in 4..rehashed.len() {
            if i > 0 {
                rehashed[i].prev_hash = rehashed[i - 1].entry_hash.clone();
            }
            rehashed[i].entry_hash = rehashed[i].computed_hash();
        }
        let found = verify(&rehashed, &checkpoints, Some(&public));
        assert_eq!(found.problems.len(), 2, "{found:?}");
        assert!(found
            .problems
            .iter()
            .all(|p| p.contains("no longer give the signed root")));

        // Removed.
        let mut removed = entries.clone();
        removed.remove(7);
        let found = verify(&removed, &checkpoints, Some(&public));
        assert!(
            found
                .problems
                .iter()
                .any(|p| p.starts_with("entry 8 is at position 7")),
            "{found:?}"
        );

        // Reordered.
        let mut swapped = entries.clone();
        swapped.swap(2, 3);
        let found = verify(&swapped, &checkpoints, Some(&public));
        assert!(
            found.problems.iter().any(|p| p.contains("does not follow")),
            "{found:?}"
        );

        // Cut back below a checkpoint.
        let found = verify(&entries[..8], &checkpoints, Some(&public));
        assert!(
            found.problems.iter().any(|p| p.contains("cut back")),
            "{found:?}"
        );

        // A checkpoint signed by another key.
        let (_other_dir, other) = self::key();
        let found = verify(&entries, &checkpoints, Some(&other.public()));
        assert_eq!(found.problems.len(), 2, "{found:?}");
    }

    /// `chain(n)` in format 1, then `m` format-2 entries MACed by `key`.
    fn upgraded_chain(n: i64, m: i64, key: &LedgerKey) -> Vec<LedgerEntry> {
        let mut out = chain(n);
        for seq in n..n + m {
            out.push(next_v2(&out, seq, key));
        }
        out
    }

    fn next_v2(before: &[LedgerEntry], seq: i64, key: &LedgerKey) -> LedgerEntry {
        let mut e = LedgerEntry {
            seq,
            time: jiff::Timestamp::from_second(1_780_000_000 + seq).unwrap_or_default(),
            kind: "backup job".into(),
            subject: format!("J{seq}"),
            event: "COMPLETED".into(),
            doc_sha256: "cd".repeat(32),
            prev_hash: before
                .last()
                .map_or(GENESIS.to_string(), |p| p.entry_hash.clone()),
            actor: Some(coffer_catalog::Actor::new(
                "arn:coffer:iam::111122223333:user/ops",
                Some("111122223333".into()),
                Some("alice".into()),
            )),
            entry_hash: String::new(),
            format: FORMAT_V2,
            mac: None,
        };
        e.entry_hash = e.computed_hash();
        e.mac = Some(key.mac(&e.entry_hash));
        e
    }

    #[test]
    fn format_1_entries_verify_as_before_and_format_2_macs_name_forgeries() {
        let (_dir, signing) = key();
        let mac_key = LedgerKey::from_bytes([9; 32]);
        let entries = upgraded_chain(4, 3, &mac_key);
        let checkpoints = vec![signed(&entries, &signing, 4)];
        let public = signing.public();
        let found = verify_with_macs(&entries, &checkpoints, Some(&public), Some(&mac_key));
        assert!(found.passed(), "{found:?}");
        assert_eq!(found.macs_checked, Some(3));

        // The actor is in the hash: changing it is an edit.
        let mut edited = entries.clone();
        if let Some(actor) = edited[5].actor.as_mut() {
            actor.os_user = Some("mallory".into());
        }
        let found = verify_with_macs(&edited, &checkpoints, Some(&public), Some(&mac_key));
        assert!(
            found
                .problems
                .iter()
                .any(|p| p.starts_with("entry 5 (") && p.contains("edited")),
            "{found:?}"
        );

        // Appended by a catalog writer with a valid chain but without the
        // key: the MAC names it; without the key, only the chain is checked.
        let mut forged = entries.clone();
        let wrong_key = LedgerKey::from_bytes([1; 32]);
        forged.push(next_v2(&forged, 7, &wrong_key));
        let mut unmaced = next_v2(&forged, 8, &wrong_key);
        unmaced.mac = None;
        forged.push(unmaced);
        assert!(verify(&forged, &checkpoints, Some(&public)).passed());
        let found = verify_with_macs(&forged, &checkpoints, Some(&public), Some(&mac_key));
        assert_eq!(found.problems.len(), 2, "{found:?}");
        assert!(
            found.problems[0].starts_with("entry 7 (")
                && found.problems[0].contains("MAC does not verify")
        );
        assert!(
            found.problems[1].starts_with("entry 8 (")
                && found.problems[1].contains("carries no MAC")
        );

        // Written in the old format after the new one, to dodge the MAC.
        let mut old_format = entries.clone();
        let mut e = chain(8).pop().unwrap_or_else(|| panic!("empty chain"));
        e.prev_hash = old_format[6].entry_hash.clone();
        e.entry_hash = e.computed_hash();
        old_format.push(e);
        let found = verify_with_macs(&old_format, &checkpoints, Some(&public), None);
        assert_eq!(found.macs_checked, None);
        assert!(
            found.problems.len() == 1 && found.problems[0].contains("old format 1 after entry 4"),
            "{found:?}"
        );
    }

    #[test]
    fn a_ledger_fed_a_page_at_a_time_is_found_as_a_whole_and_never_held() {
        let (_dir, key) = key();
        let public = key.public();
        let mut entries = chain(1000);
        let checkpoints: Vec<StoredCheckpoint> = [0, 1, 7, 64, 333, 1000]
            .iter()
            .map(|&size| signed(&entries, &key, size))
            .collect();
        // Edited and re-hashed after the checkpoint of 333, one edited.
        entries[500].event = "FAILED".into();
        for i in 500..entries.len() {
            entries[i].prev_hash = entries[i - 1].entry_hash.clone();
            entries[i].entry_hash = entries[i].computed_hash();
        }
        entries[700].subject = "J0".into();
        let whole = verify(&entries, &checkpoints, Some(&public));
        assert_eq!(whole.problems.len(), 2, "{whole:?}");
        for page in [1, 10, 333, 1000] {
            let mut scan = Scan::new(&checkpoints, Some(&public), None);
            let mut most = 0;
            for chunk in entries.chunks(page) {
                // The scan borrows no page: each is dropped once fed.
                let owned = chunk.to_vec();
                scan.feed(&owned);
                drop(owned);
                most = most.max(scan.held_hashes());
            }
            // At most one hash per bit of the count, and one per
            // checkpoint: bounded by the checkpoints, not the entries.
            assert!(most <= 10 + checkpoints.len(), "{most} hashes held");
            let (found, digest) = scan.finish();
            assert_eq!(found, whole, "pages of {page}");
            assert_eq!(digest.len(), 1000);
            for checkpoint in &checkpoints {
                let size = usize::try_from(checkpoint.tree_size).unwrap_or_default();
                assert_eq!(
                    digest.root(size).map(hex::encode),
                    Some(hex::encode(merkle::root(&leaves(&entries[..size])))),
                    "the root of {size}"
                );
            }
        }
    }

    #[test]
    fn an_entry_proves_its_inclusion_in_a_signed_root() {
        let entries = chain(13);
        let leaves = leaves(&entries);
        for (seq, leaf) in leaves.iter().enumerate() {
            let (path, root) = prove(&leaves, seq).unwrap_or_default();
            let path: Vec<Hash> = path
                .iter()
                .map(|h| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(h, &mut out).unwrap_or_default();
                    out
                })
                .collect();
            let mut root_bytes = [0u8; 32];
            hex::decode_to_slice(&root, &mut root_bytes).unwrap_or_default();
            assert!(merkle::verify_inclusion(leaf, seq, 13, &path, &root_bytes));
        }
    }
}
