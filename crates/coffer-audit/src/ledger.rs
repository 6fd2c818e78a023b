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

use coffer_catalog::{
    Catalog, LedgerEntry, LedgerKey, StoredCheckpoint, FORMAT_V1, FORMAT_V2, GENESIS,
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
    checkpoint_over(catalog, key, &entries, now).await
}

/// Signs and stores a checkpoint of `entries`, the whole ledger as the
/// caller just read it.
///
/// # Errors
/// Catalog errors.
pub async fn checkpoint_over(
    catalog: &Catalog,
    key: &KeyPair,
    entries: &[LedgerEntry],
    now: jiff::Timestamp,
) -> Result<StoredCheckpoint> {
    let size = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let root = hex::encode(merkle::root(&leaves(entries)));
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
    let mut problems = Vec::new();
    let mut macs_checked = 0;
    let mut first_v2: Option<i64> = None;
    for (position, entry) in entries.iter().enumerate() {
        let label = format!(
            "entry {} ({} {}, {:?})",
            entry.seq, entry.kind, entry.subject, entry.event
        );
        match entry.format {
            FORMAT_V1 => {
                if let Some(first) = first_v2 {
                    problems.push(format!(
                        "{label} is in the old format 1 after entry {first} in format 2: Coffer writes only format 2 since, so it was written around Coffer (forged)"
                    ));
                }
            }
            FORMAT_V2 => {
                first_v2.get_or_insert(entry.seq);
                if let Some(mac_key) = mac_key {
                    macs_checked += 1;
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
        macs_checked: mac_key.map(|_| macs_checked),
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
