//! Back up a tree, dedup an unchanged second run, restore it byte for byte,
//! check it, and let restic list, check and restore the same vault.

use std::path::{Path, PathBuf};

use coffer_vault::{restic_password, RestoreRequest, Secret, StorageError, VaultStorage};

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    std::fs::write(root.join("etc/app/config.toml"), "answer = 42\n").unwrap();
    std::fs::write(root.join("empty"), "").unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), big).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("etc/app/config.toml", root.join("link")).unwrap();
}

use coffer_testkit::tree_contents as files;

fn restic(repo: &Path, password: &str, args: &[&str]) -> String {
    coffer_testkit::restic_ok(&repo.display().to_string(), password, args)
}

#[test]
fn a_tree_round_trips_and_restic_reads_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    tree(&source);
    let vault_dir = dir.path().join("vault");
    let storage = VaultStorage::new(&format!("file://{}", vault_dir.display())).unwrap();
    let secret = Secret::random(32).unwrap();
    assert!(!storage.exists());
    storage.init(&secret).unwrap();
    assert!(storage.exists());

    let tags = vec!["coffer-job:job-1".to_string(), "coffer-rp:rp-1".to_string()];
    let first = storage.backup_tree(&secret, &source, &[], &tags).unwrap();
    assert_eq!(first.files, 4, "three files and a symlink: {first:?}");
    assert_eq!(first.tags, tags, "tags are kept (sorted)");
    assert!(first.bytes >= 3_000_000, "{first:?}");

    // Nothing changed: the second snapshot adds (almost) nothing.
    let second = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    assert!(second.bytes_added < 10_000, "dedup: {second:?}");
    let snapshots = storage.snapshots(&secret).unwrap();
    assert_eq!(
        snapshots.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![first.id.clone(), second.id.clone()]
    );

    let target = dir.path().join("restored");
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    let summary = storage
        .restore_tree(&secret, &first.id, &target, &request)
        .unwrap();
    assert_eq!((summary.files, summary.symlinks), (3, 1), "{summary:?}");
    assert_eq!(files(&target), files(&source));
    storage.check(&secret, true).unwrap();

    // The content digest: the same for unchanged content, different after a change.
    let digest = storage.tree_digest(&secret, &first.id).unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(storage.tree_digest(&secret, &second.id).unwrap(), digest);
    std::fs::write(source.join("etc/app/config.toml"), "answer = 43\n").unwrap();
    let third = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    assert_ne!(storage.tree_digest(&secret, &third.id).unwrap(), digest);
    std::fs::write(source.join("etc/app/config.toml"), "answer = 42\n").unwrap();

    // A wrong secret opens nothing.
    assert!(storage.snapshots(&Secret::random(32).unwrap()).is_err());

    // Debian's restic, with only the password: list, check, restore.
    let password = restic_password(&secret);
    let listed = restic(&vault_dir, &password, &["snapshots", "--json"]);
    assert!(listed.contains("coffer-rp:rp-1"), "{listed}");
    restic(&vault_dir, &password, &["check", "--read-data"]);
    let restic_target = dir.path().join("restic-restored");
    restic(
        &vault_dir,
        &password,
        &[
            "restore",
            &first.id,
            "--target",
            &restic_target.display().to_string(),
        ],
    );
    assert_eq!(
        files(&restic_target.join(source.strip_prefix("/").unwrap())),
        files(&source)
    );
}

#[test]
fn unsupported_locations_and_missing_snapshots_are_explained() {
    let error = VaultStorage::new("s3://bucket/vault").unwrap_err();
    assert!(
        error.to_string().contains("use file:///absolute/path"),
        "{error}"
    );
    assert!(VaultStorage::new("file://relative/path").is_err());
    let dir = tempfile::tempdir().unwrap();
    let storage = VaultStorage::new(&format!("file://{}", dir.path().join("v").display())).unwrap();
    let secret = Secret::random(32).unwrap();
    storage.init(&secret).unwrap();
    assert!(
        storage.init(&secret).is_err(),
        "a second init must not overwrite a vault"
    );
    let error = storage
        .restore_tree(
            &secret,
            "deadbeef",
            &dir.path().join("t"),
            &RestoreRequest::default(),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("has no snapshot deadbeef"),
        "{error}"
    );
}

fn new_vault(dir: &Path) -> (VaultStorage, Secret, PathBuf) {
    let vault_dir = dir.join("vault");
    let storage = VaultStorage::new(&format!("file://{}", vault_dir.display())).unwrap();
    let secret = Secret::random(32).unwrap();
    storage.init(&secret).unwrap();
    (storage, secret, vault_dir)
}

#[test]
fn a_stream_round_trips_with_its_size_and_restic_restores_it() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, vault_dir) = new_vault(dir.path());
    let data: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let saved = storage
        .backup_stream(
            &secret,
            "orders.dump",
            std::io::Cursor::new(data.clone()),
            &["coffer-rp:rp-9".to_string()],
        )
        .unwrap();
    assert_eq!(saved.bytes, data.len() as u64);
    assert_eq!(saved.sha256, hex::encode(sha2::Sha256::digest(&data)));
    assert_eq!(saved.snapshot.files, 1);

    let mut out = Vec::new();
    storage
        .dump(&secret, &saved.snapshot.id, "orders.dump", &mut out)
        .unwrap();
    assert!(out == data, "dump returns the stream byte for byte");

    // restic restores the full file (rustic_core alone would record size 0
    // and restic would write an empty file: vendor/README.md).
    let password = restic_password(&secret);
    let target = dir.path().join("restic-restored");
    restic(
        &vault_dir,
        &password,
        &[
            "restore",
            &saved.snapshot.id,
            "--target",
            &target.display().to_string(),
            "--verify",
        ],
    );
    let file = target.join("orders.dump");
    assert!(std::fs::read(&file).unwrap() == data);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Fails after yielding some bytes, as a dying pg_dump would.
struct Failing(usize);

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("pg_dump: error: connection lost"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_failing_stream_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let error = storage
        .backup_stream(&secret, "db.dump", Failing(3_000_000), &[])
        .unwrap_err();
    assert!(
        matches!(error, StorageError::StreamFailed { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("connection lost"),
        "the producer's own words: {error}"
    );
    assert!(storage.snapshots(&secret).unwrap().is_empty());
    storage.check(&secret, false).unwrap();
}

#[test]
fn excludes_follow_restic_patterns_and_the_count_check_honours_them() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let source = dir.path().join("home");
    for path in [
        "alice/notes.txt",
        "alice/.cache/big/blob",
        "bob/work/draft.tmp",
        "bob/work/final.txt",
    ] {
        let path = source.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, path.display().to_string()).unwrap();
    }
    let excludes = vec!["*/.cache/*".to_string(), "*.tmp".to_string()];
    let saved = storage
        .backup_tree(&secret, &source, &excludes, &[])
        .unwrap();
    assert_eq!(saved.files, 2, "{saved:?}");
    let target = dir.path().join("restored");
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    storage
        .restore_tree(&secret, &saved.id, &target, &request)
        .unwrap();
    let names: Vec<String> = files(&target).into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, vec!["alice/notes.txt", "bob/work/final.txt"]);
}

#[test]
fn one_path_restores_alone_and_a_full_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let source = dir.path().join("src");
    tree(&source);
    let saved = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    let target = dir.path().join("one");
    let request = RestoreRequest {
        root: source.display().to_string(),
        select: Some("etc/app/config.toml".into()),
        overwrite: false,
    };
    let summary = storage
        .restore_tree(&secret, &saved.id, &target, &request)
        .unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(
        std::fs::read_to_string(target.join("etc/app/config.toml")).unwrap(),
        "answer = 42\n"
    );
    // Again into the same, now non-empty, target: refused without overwrite.
    let error = storage
        .restore_tree(&secret, &saved.id, &target, &request)
        .unwrap_err();
    assert!(
        matches!(error, StorageError::TargetNotEmpty { .. }),
        "{error}"
    );
    let overwrite = RestoreRequest {
        overwrite: true,
        ..request.clone()
    };
    storage
        .restore_tree(&secret, &saved.id, &target, &overwrite)
        .unwrap();
    // A selection that climbs out is refused before anything is read.
    let escape = RestoreRequest {
        select: Some("../../etc/passwd".into()),
        ..request
    };
    let error = storage
        .restore_tree(&secret, &saved.id, &dir.path().join("x"), &escape)
        .unwrap_err();
    assert!(matches!(error, StorageError::UnsafePath { .. }), "{error}");
    assert!(!dir.path().join("x").exists(), "nothing was written");
}

#[test]
fn a_symlink_in_the_target_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let source = dir.path().join("src");
    std::fs::create_dir_all(source.join("etc")).unwrap();
    std::fs::write(source.join("etc/passwd"), "restored").unwrap();
    let saved = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("etc")).unwrap();
    let request = RestoreRequest {
        root: source.display().to_string(),
        select: None,
        overwrite: true,
    };
    let error = storage
        .restore_tree(&secret, &saved.id, &target, &request)
        .unwrap_err();
    assert!(matches!(error, StorageError::UnsafePath { .. }), "{error}");
    assert!(!outside.join("passwd").exists());
}

#[test]
fn a_damaged_pack_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, vault_dir) = new_vault(dir.path());
    let data = vec![42u8; 2_000_000];
    let saved = storage
        .backup_stream(&secret, "db.dump", std::io::Cursor::new(data), &[])
        .unwrap();
    // Flip a byte in the middle of every data pack.
    let packs = coffer_testkit::files_under(&vault_dir.join("data"));
    assert!(!packs.is_empty());
    for pack in packs {
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 3;
        bytes[middle] ^= 0xff;
        std::fs::write(&pack, bytes).unwrap();
    }
    let mut out = Vec::new();
    let error = storage
        .dump(&secret, &saved.snapshot.id, "db.dump", &mut out)
        .unwrap_err();
    assert!(error.to_string().contains("vault storage"), "{error}");
    assert!(storage.check(&secret, true).is_err(), "check finds it too");
}

#[test]
fn a_truncated_pack_fails_restore_and_check_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, vault_dir) = new_vault(dir.path());
    let source = dir.path().join("src");
    tree(&source);
    let saved = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    assert!(coffer_testkit::truncate_files_under(&vault_dir.join("data")) > 0);
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    let error = storage
        .restore_tree(&secret, &saved.id, &dir.path().join("t"), &request)
        .unwrap_err();
    assert!(error.to_string().contains("vault storage"), "{error}");
    assert!(storage.read_back(&secret, &saved.id).is_err());
    assert!(storage.check(&secret, true).is_err());
}

#[test]
fn key_files_use_light_scrypt_parameters_for_random_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let (_storage, _secret, vault_dir) = new_vault(dir.path());
    let keys: Vec<_> = std::fs::read_dir(vault_dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(keys.len(), 1);
    let key: serde_json::Value = serde_json::from_slice(&std::fs::read(&keys[0]).unwrap()).unwrap();
    // vendor/README.md: N=2^12 (4 MiB) instead of 2^17 (128 MiB) per open.
    assert_eq!(
        (key["N"].as_u64(), key["r"].as_u64(), key["p"].as_u64()),
        (Some(4096), Some(8), Some(1))
    );
}

#[test]
fn duplicate_files_restore_as_copies_and_sparse_ones_keep_their_holes() {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let source = dir.path().join("src");
    std::fs::create_dir_all(source.join("a")).unwrap();
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    for name in ["one.bin", "a/two.bin", "a/three.bin"] {
        std::fs::write(source.join(name), &data).unwrap();
    }
    for name in ["hole1.img", "a/hole2.img"] {
        let file = std::fs::File::create(source.join(name)).unwrap();
        file.set_len(16 << 20).unwrap();
        file.write_at(b"tail", 16 << 20).unwrap();
    }
    let saved = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    let target = dir.path().join("t");
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    let summary = storage
        .restore_tree(&secret, &saved.id, &target, &request)
        .unwrap();
    assert_eq!(summary.files, 5);
    assert_eq!(files(&target), files(&source));
    let hole = std::fs::metadata(target.join("a/hole2.img")).unwrap();
    assert!(
        hole.blocks() * 512 < 1 << 20,
        "holes kept: {} blocks",
        hole.blocks()
    );
}

/// A pipe-like reader whose reads come up short (half of what is asked);
/// counts its calls.
struct Stingy {
    data: std::io::Cursor<Vec<u8>>,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::io::Read for Stingy {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let len = buf.len();
        let want = if n == 5 { 1.min(len) } else { len.min(65_536) };
        std::io::Read::read(&mut self.data, &mut buf[..want])
    }
}

/// Short reads are topped up to full reads (the chunker would otherwise
/// shrink its buffer to them: bench/pg measured 344 s instead of 9 s for a
/// 1 GB pg_dump through a pipe); every byte still arrives once, in order.
#[test]
fn short_reads_from_a_pipe_are_topped_up_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, secret, _) = new_vault(dir.path());
    let data: Vec<u8> = (0..6_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 5) as u8)
        .collect();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = Stingy {
        data: std::io::Cursor::new(data.clone()),
        calls: calls.clone(),
    };
    let saved = storage.backup_stream(&secret, "s", reader, &[]).unwrap();
    assert_eq!(saved.bytes, data.len() as u64);
    let mut out = Vec::new();
    storage
        .dump(&secret, &saved.snapshot.id, "s", &mut out)
        .unwrap();
    assert!(out == data);
    let calls = calls.load(std::sync::atomic::Ordering::Relaxed);
    // About 1,400 reads here; byte-by-byte reading would be millions.
    assert!(calls < 100_000, "{calls} reads for 6 MB");
}

#[test]
fn a_copy_is_an_independent_snapshot_of_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let (source_vault, source_secret, _) = new_vault(&dir.path().join("a"));
    let (dest_vault, dest_secret, dest_dir) = new_vault(&dir.path().join("b"));
    let source = dir.path().join("src");
    tree(&source);
    let saved = source_vault
        .backup_tree(
            &source_secret,
            &source,
            &[],
            &["coffer-recovery-point:one".into()],
        )
        .unwrap();
    let copy = source_vault
        .copy_snapshot(
            &source_secret,
            &saved.id,
            &dest_vault,
            &dest_secret,
            &["coffer-recovery-point:two".into()],
        )
        .unwrap();
    assert_eq!(copy.tags, vec!["coffer-recovery-point:two".to_string()]);
    assert_eq!(
        dest_vault.tree_digest(&dest_secret, &copy.id).unwrap(),
        source_vault.tree_digest(&source_secret, &saved.id).unwrap(),
        "same content"
    );
    // The source can go: the copy restores on its own.
    std::fs::remove_dir_all(dir.path().join("a")).unwrap();
    let target = dir.path().join("t");
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    dest_vault
        .restore_tree(&dest_secret, &copy.id, &target, &request)
        .unwrap();
    assert_eq!(files(&target), files(&source));
    restic(
        &dest_dir,
        &restic_password(&dest_secret),
        &["check", "--read-data"],
    );
}
