//! Back up a tree, dedup an unchanged second run, restore it byte for byte,
//! check it, and let restic list, check and restore the same vault.

use std::path::{Path, PathBuf};
use std::process::Command;

use coffer_vault::{restic_password, Secret, VaultStorage};

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

fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_symlink() {
                out.push((
                    rel,
                    std::fs::read_link(entry.path())
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                ));
            } else {
                out.push((rel, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn restic(repo: &Path, password: &str, args: &[&str]) -> std::process::Output {
    Command::new("restic")
        .arg("--repo")
        .arg(repo)
        .arg("--no-cache")
        .args(args)
        .env("RESTIC_PASSWORD", password)
        .output()
        .unwrap_or_else(|e| panic!("Debian's restic is needed for this test (apt-get install restic; .ci/run installs it): {e}"))
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
    let first = storage.backup_tree(&secret, &source, &tags).unwrap();
    assert_eq!(first.files, 4, "three files and a symlink: {first:?}");
    assert_eq!(first.tags, tags, "tags are kept (sorted)");
    assert!(first.bytes >= 3_000_000, "{first:?}");

    // Nothing changed: the second snapshot adds (almost) nothing.
    let second = storage.backup_tree(&secret, &source, &[]).unwrap();
    assert!(second.bytes_added < 10_000, "dedup: {second:?}");
    let snapshots = storage.snapshots(&secret).unwrap();
    assert_eq!(
        snapshots.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![first.id.clone(), second.id.clone()]
    );

    let target = dir.path().join("restored");
    storage.restore(&secret, &first.id, &target).unwrap();
    let restored_root = target.join(source.strip_prefix("/").unwrap());
    assert_eq!(files(&restored_root), files(&source));
    storage.check(&secret, true).unwrap();

    // The content digest: the same for unchanged content, different after a change.
    let digest = storage.tree_digest(&secret, &first.id).unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(storage.tree_digest(&secret, &second.id).unwrap(), digest);
    std::fs::write(source.join("etc/app/config.toml"), "answer = 43\n").unwrap();
    let third = storage.backup_tree(&secret, &source, &[]).unwrap();
    assert_ne!(storage.tree_digest(&secret, &third.id).unwrap(), digest);
    std::fs::write(source.join("etc/app/config.toml"), "answer = 42\n").unwrap();

    // A wrong secret opens nothing.
    assert!(storage.snapshots(&Secret::random(32).unwrap()).is_err());

    // Debian's restic, with only the password: list, check, restore.
    let password = restic_password(&secret);
    let listed = restic(&vault_dir, &password, &["snapshots", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("coffer-rp:rp-1"), "{listed}");
    let checked = restic(&vault_dir, &password, &["check", "--read-data"]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let restic_target = dir.path().join("restic-restored");
    let restored = restic(
        &vault_dir,
        &password,
        &[
            "restore",
            &first.id,
            "--target",
            &restic_target.display().to_string(),
        ],
    );
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
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
        .restore(&secret, "deadbeef", &dir.path().join("t"))
        .unwrap_err();
    assert!(
        error.to_string().contains("has no snapshot deadbeef"),
        "{error}"
    );
}
