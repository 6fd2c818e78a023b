//! Checkpoints of the evidence ledger and its verification.
//!
//! A checkpoint is the Merkle root (RFC 6962) of the first `tree_size`
//! entries, with the time, signed by the deployment's key. Verification
//! walks the hash chain (an edited entry no longer matches its hash; a
//! removed, inserted or reordered one breaks the chain or the sequence)
//! and recomputes each checkpoint's root (an entry changed and the chain
//! re-hashed after it, or a ledger cut back below a checkpoint, is caught),
//! and checks each checkpoint's signature.

use coffer_catalog::{Catalog, LedgerEntry, StoredCheckpoint, GENESIS};

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
    let entries = catalog.ledger_entries(0, size).await?;
    let root = hex::encode(merkle::root(&leaves(&entries)));
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

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    pub entries: usize,
    pub checkpoints: usize,
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
    let mut problems = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
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
        let previous = match position {
            0 => GENESIS,
            n => entries[n - 1].entry_hash.as_str(),
        };
        if entry.prev_hash != previous {
            problems.push(format!(
                "entry {} does not follow the entry before it: an entry was removed, inserted or reordered there",
                entry.seq
            ));
        }
    }
    let all_leaves = leaves(entries);
    for checkpoint in checkpoints {
        let label = format!(
            "checkpoint of {} (first {} entries)",
            checkpoint.time, checkpoint.tree_size
        );
        let size = usize::try_from(checkpoint.tree_size).unwrap_or(usize::MAX);
        if size > entries.len() {
            problems.push(format!(
                "{label}: the ledger holds only {} entries: it was cut back",
                entries.len()
            ));
        } else if hex::encode(merkle::root(&all_leaves[..size])) != checkpoint.root_hash {
            problems.push(format!(
                "{label}: those entries no longer give the signed root: some were changed, removed or reordered"
            ));
        }
        if let Some(key) = key {
            let message =
                checkpoint_message(checkpoint.tree_size, &checkpoint.root_hash, checkpoint.time);
            if !key.verifies(&message, &checkpoint.signature) {
                problems.push(format!(
                    "{label}: its signature does not verify with key {} (it says {})",
                    key.fingerprint(),
                    checkpoint.key_fingerprint
                ));
            }
        }
    }
    Verification {
        entries: entries.len(),
        checkpoints: checkpoints.len(),
        problems,
    }
}

/// An inclusion proof of entry `seq` in the tree of the first `size`
/// entries: the audit path, hex, and the root it leads to.
pub fn prove(entries: &[LedgerEntry], seq: usize, size: usize) -> Option<(Vec<String>, String)> {
    let leaves = leaves(entries.get(..size)?);
    let path = merkle::inclusion_proof(seq, &leaves)?;
    Some((
        path.iter().map(hex::encode).collect(),
        hex::encode(merkle::root(&leaves)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = Vec::new();
        for seq in 0..n {
            let mut e = LedgerEntry {
                seq,
                time: jiff::Timestamp::from_second(1_780_000_000 + seq).unwrap_or_default(),
                kind: "backup job".into(),
                subject: format!("J{seq}"),
                event: "COMPLETED".into(),
                doc_sha256: "ab".repeat(32),
                prev_hash: out
                    .last()
                    .map_or(GENESIS.to_string(), |p| p.entry_hash.clone()),
                entry_hash: String::new(),
            };
            e.entry_hash = e.computed_hash();
            out.push(e);
        }
        out
    }

    fn signed(entries: &[LedgerEntry], key: &KeyPair, size: usize) -> StoredCheckpoint {
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

    fn key() -> (tempfile::TempDir, KeyPair) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = KeyPair::load_or_create(&dir.path().join("k")).unwrap_or_else(|e| panic!("{e}"));
        (dir, key)
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

    #[test]
    fn an_entry_proves_its_inclusion_in_a_signed_root() {
        let entries = chain(13);
        let leaves = leaves(&entries);
        for (seq, leaf) in leaves.iter().enumerate() {
            let (path, root) = prove(&entries, seq, 13).unwrap_or_default();
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
