//! The offline verification of a delivered report (`coffer report
//! verify`): the manifest read, its signature checked against the trusted
//! key, every listed file's size and SHA-256, paths, and unlisted objects;
//! from objects fetched from a bucket and from a folder.
//!
//! Input: a flags byte, then `manifest.json`'s bytes, then optionally a NUL
//! and the bytes of `signing-key.pem`. The delivered files and the key are
//! fixed; the flags choose the trust, what the signature is, and whether
//! the bundled key is the real one.
//!
//! Checked: no panic, no hang, bounded memory; a manifest signed by the
//! trusted key is never reported as failing its signature.
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use coffer_fuzz::{key, scratch};
use coffer_report::bundle::{
    verify, verify_objects, Fetched, Trust, MANIFEST, PUBLIC_KEY, SIGNATURE,
};
use libfuzzer_sys::fuzz_target;

/// The delivered files the committed corpus's manifests list.
const FILES: &[(&str, &[u8])] = &[
    ("report.csv", b"a,b\n1,2\n"),
    ("report.json", b"{\"reportItems\":[]}\n"),
];

/// A folder holding the fixed files; each input adds the manifest, its
/// signature and the bundled key.
fn folder() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("report");
        std::fs::create_dir_all(&dir).expect("the report folder");
        for (name, bytes) in FILES {
            std::fs::write(dir.join(name), bytes).expect("a report file");
        }
        dir
    })
}

fn put(path: PathBuf, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => std::fs::write(path, bytes).expect("a delivery file"),
        None => {
            let _ = std::fs::remove_file(path);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (manifest, pem) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (&rest[..at], Some(rest[at + 1..].to_vec())),
        None => (rest, None),
    };
    let key = key();
    let real_pem = key.public().to_pem().into_bytes();
    let trust = match flags & 0b11 {
        0 => Trust::Key(key.public()),
        1 => Trust::Fingerprint(key.fingerprint()),
        2 => Trust::Bundled,
        _ => Trust::Fingerprint("SHA256:00".into()),
    };
    let signed = key.sign_raw(manifest).to_vec();
    let signature: Option<Vec<u8>> = match (flags >> 2) & 0b11 {
        0 => Some(signed.clone()),
        1 => None,
        2 => Some(vec![0; 64]),
        _ => Some(signed[..63].to_vec()),
    };
    let pem: Option<Vec<u8>> = match (pem, (flags >> 4) & 0b1) {
        (Some(pem), _) => Some(pem),
        (None, 0) => Some(real_pem),
        (None, _) => None,
    };
    let extra = flags & 0b100_0000 != 0;

    let mut objects: BTreeMap<String, Vec<u8>> = FILES
        .iter()
        .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        .collect();
    objects.insert(MANIFEST.into(), manifest.to_vec());
    if let Some(signature) = &signature {
        objects.insert(SIGNATURE.into(), signature.clone());
    }
    if let Some(pem) = &pem {
        objects.insert(PUBLIC_KEY.into(), pem.clone());
    }
    if extra {
        objects.insert("extra.csv".into(), b"x".to_vec());
    }
    let fetched = verify_objects(&Fetched { objects }, &trust);
    if matches!(trust, Trust::Key(_)) && (flags >> 2) & 0b11 == 0 {
        assert!(
            !fetched
                .problems
                .iter()
                .any(|p| p.contains("does not verify")),
            "{:?}",
            fetched.problems
        );
    }
    if fetched.manifest.is_none() {
        assert!(!fetched.problems.is_empty(), "no manifest and no problem");
    }

    if flags & 0b1000_0000 != 0 {
        let dir = folder();
        put(dir.join(MANIFEST), Some(manifest));
        put(dir.join(SIGNATURE), signature.as_deref());
        put(dir.join(PUBLIC_KEY), pem.as_deref());
        let _ = verify(dir, &trust);
    }
});
