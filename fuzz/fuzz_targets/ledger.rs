//! The evidence ledger's verification (`coffer evidence verify`): the
//! hash chain, the sequence, each checkpoint's Merkle root and signature,
//! and inclusion proofs.
//!
//! Input (structured): entries, made into an intact chain; then edits
//! (changed fields, removed, inserted, swapped or re-hashed entries, cut
//! back); then checkpoints, signed by the fixed key over a prefix or made
//! of arbitrary fields.
//!
//! Checked: no panic, no hang, bounded memory; an untouched chain with
//! checkpoints signed over its prefixes verifies; every inclusion proof of
//! an untouched chain checks against the root it gives.
#![no_main]

use coffer_audit::ledger::{checkpoint_message, leaves, prove, verify};
use coffer_audit::merkle;
use coffer_catalog::{LedgerEntry, StoredCheckpoint, GENESIS};
use coffer_fuzz::key;
use jiff::Timestamp;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Fields {
    seconds: i64,
    kind: String,
    subject: String,
    event: String,
    doc: [u8; 4],
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Kind(u8, String),
    Event(u8, String),
    Time(u8, i64),
    Seq(u8, i64),
    PrevHash(u8, String),
    EntryHash(u8, String),
    Remove(u8),
    Insert(u8, Fields),
    Swap(u8, u8),
    /// Re-hashes the chain from an entry on, as a forger would.
    Rehash(u8),
    CutBack(u8),
}

#[derive(Arbitrary, Debug)]
enum Checkpoint {
    Signed {
        size: u8,
        seconds: i64,
    },
    Raw {
        tree_size: i64,
        root_hash: String,
        seconds: i64,
        key_fingerprint: String,
        signature: String,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    entries: Vec<Fields>,
    edits: Vec<Edit>,
    checkpoints: Vec<Checkpoint>,
    trust_key: bool,
    /// An inclusion proof to check that nobody made: leaf, index, size.
    probe: (u16, u16, Vec<[u8; 32]>, [u8; 32]),
}

fn time(seconds: i64) -> Timestamp {
    // The catalog stores milliseconds.
    Timestamp::from_millisecond(seconds.rem_euclid(253_402_207_200) * 1000).expect("in range")
}

fn entry(seq: i64, fields: &Fields, prev: &str) -> LedgerEntry {
    let mut e = LedgerEntry {
        seq,
        time: time(fields.seconds),
        kind: fields.kind.clone(),
        subject: fields.subject.clone(),
        event: fields.event.clone(),
        doc_sha256: fields.doc.iter().map(|b| format!("{b:02x}")).collect(),
        prev_hash: prev.to_string(),
        actor: None,
        entry_hash: String::new(),
        format: coffer_catalog::FORMAT_V1,
        mac: None,
    };
    e.entry_hash = e.computed_hash();
    e
}

fn chain(fields: &[Fields]) -> Vec<LedgerEntry> {
    let mut out: Vec<LedgerEntry> = Vec::new();
    for (seq, f) in fields.iter().enumerate() {
        let prev = out
            .last()
            .map_or(GENESIS.to_string(), |p| p.entry_hash.clone());
        out.push(entry(seq as i64, f, &prev));
    }
    out
}

fn at(entries: &[LedgerEntry], idx: u8) -> Option<usize> {
    (!entries.is_empty()).then(|| usize::from(idx) % entries.len())
}

fn apply(entries: &mut Vec<LedgerEntry>, edit: &Edit) {
    match edit {
        Edit::Kind(i, s) => at(entries, *i).map(|i| entries[i].kind = s.clone()),
        Edit::Event(i, s) => at(entries, *i).map(|i| entries[i].event = s.clone()),
        Edit::Time(i, t) => at(entries, *i).map(|i| entries[i].time = time(*t)),
        Edit::Seq(i, s) => at(entries, *i).map(|i| entries[i].seq = *s),
        Edit::PrevHash(i, s) => at(entries, *i).map(|i| entries[i].prev_hash = s.clone()),
        Edit::EntryHash(i, s) => at(entries, *i).map(|i| entries[i].entry_hash = s.clone()),
        Edit::Remove(i) => at(entries, *i).map(|i| {
            entries.remove(i);
        }),
        Edit::Insert(i, f) => {
            let i = usize::from(*i) % (entries.len() + 1);
            let seq = i64::try_from(i).expect("small");
            entries.insert(i, entry(seq, f, GENESIS));
            Some(())
        }
        Edit::Swap(a, b) => at(entries, *a)
            .zip(at(entries, *b))
            .map(|(a, b)| entries.swap(a, b)),
        Edit::Rehash(i) => at(entries, *i).map(|from| {
            for i in from..entries.len() {
                if i > 0 {
                    entries[i].prev_hash = entries[i - 1].entry_hash.clone();
                }
                entries[i].entry_hash = entries[i].computed_hash();
            }
        }),
        Edit::CutBack(n) => {
            entries.truncate(usize::from(*n));
            Some(())
        }
    };
}

fuzz_target!(|input: Input| {
    if input.entries.len() > 256 || input.edits.len() > 64 || input.checkpoints.len() > 16 {
        return;
    }
    let key = key();
    let original = chain(&input.entries);
    let mut entries = original.clone();
    for edit in &input.edits {
        apply(&mut entries, edit);
    }
    let mut only_signed = true;
    let checkpoints: Vec<StoredCheckpoint> = input
        .checkpoints
        .iter()
        .map(|c| match c {
            Checkpoint::Signed { size, seconds } => {
                let size = usize::from(*size).min(original.len());
                let root = hex(&merkle::root(&leaves(&original[..size])));
                let time = time(*seconds);
                let tree_size = i64::try_from(size).expect("small");
                StoredCheckpoint {
                    tree_size,
                    signature: key.sign(&checkpoint_message(tree_size, &root, time)),
                    root_hash: root,
                    time,
                    key_fingerprint: key.fingerprint(),
                }
            }
            Checkpoint::Raw {
                tree_size,
                root_hash,
                seconds,
                key_fingerprint,
                signature,
            } => {
                only_signed = false;
                StoredCheckpoint {
                    tree_size: *tree_size,
                    root_hash: root_hash.clone(),
                    time: time(*seconds),
                    key_fingerprint: key_fingerprint.clone(),
                    signature: signature.clone(),
                }
            }
        })
        .collect();
    let public = key.public();
    let trusted = input.trust_key.then_some(&public);
    let found = verify(&entries, &checkpoints, trusted);
    assert_eq!(found.entries, entries.len());
    if input.edits.is_empty() && only_signed {
        assert!(
            found.passed(),
            "an intact ledger fails: {:?}",
            found.problems
        );
    }
    let (index, size, path, root) = &input.probe;
    let leaf = merkle::leaf_hash(&root[..]);
    let _ = merkle::verify_inclusion(&leaf, usize::from(*index), usize::from(*size), path, root);
    if input.edits.is_empty() {
        let all = leaves(&entries);
        for size in 0..=entries.len().min(32) {
            for (seq, leaf) in all.iter().enumerate().take(size) {
                let (path, root) = prove(&all[..size], seq).expect("in range");
                let path: Vec<merkle::Hash> = path.iter().map(|h| unhex(h)).collect();
                assert!(
                    merkle::verify_inclusion(leaf, seq, size, &path, &unhex(&root)),
                    "entry {seq} of {size} does not prove its inclusion"
                );
            }
            assert!(prove(&all[..size], size).is_none());
        }
    }
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> merkle::Hash {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}
