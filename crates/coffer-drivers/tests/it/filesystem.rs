use coffer_drivers::{backup, restore, validate, RestoreTarget};
use coffer_model::ResourceType;

use crate::{point, resource, vault};

#[tokio::test]
async fn a_tree_backs_up_incrementally_restores_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let source = dir.path().join("home");
    std::fs::create_dir_all(source.join("alice/.cache")).unwrap();
    std::fs::write(source.join("alice/notes.txt"), "notes").unwrap();
    std::fs::write(source.join("alice/.cache/junk"), vec![1u8; 100_000]).unwrap();
    std::fs::write(source.join("big.bin"), vec![9u8; 3_000_000]).unwrap();
    // Sparse: a hole of 8 MiB then a few bytes.
    {
        let file = std::fs::File::create(source.join("sparse.img")).unwrap();
        file.set_len(8 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        file.write_at(b"end", 8 << 20).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        source.join("alice/notes.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("alice/notes.txt", source.join("link")).unwrap();
    let source_text = source.display().to_string();
    let home = resource(
        ResourceType::FileSystem,
        "home",
        &[("path", &source_text), ("exclude", "*/.cache/*\n")],
    );

    let first = backup(&home, &vault, vec!["t:1".into()], dir.path())
        .await
        .unwrap();
    assert!(first.bytes >= 3_000_000 + (8 << 20), "{first:?}");
    let second = backup(&home, &vault, vec![], dir.path()).await.unwrap();
    assert_eq!(
        second.content_sha256, first.content_sha256,
        "same content, same digest"
    );
    assert!(
        second.bytes_added < 10_000,
        "an unchanged tree adds almost nothing: {second:?}"
    );

    let rp = point(&home, &first);
    let target = dir.path().join("restored");
    let restored = restore(
        &rp,
        &home,
        &vault,
        &RestoreTarget::Directory {
            path: target.clone(),
            select: None,
        },
        false,
    )
    .await
    .unwrap();
    assert!(restored.notes.is_empty());
    assert_eq!(
        std::fs::read(target.join("alice/notes.txt")).unwrap(),
        b"notes"
    );
    assert!(!target.join("alice/.cache/junk").exists(), "excluded");
    assert_eq!(
        std::fs::metadata(target.join("alice/notes.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    assert_eq!(
        std::fs::read_link(target.join("link")).unwrap().to_str(),
        Some("alice/notes.txt")
    );
    assert_eq!(
        std::fs::read(target.join("sparse.img")).unwrap(),
        std::fs::read(source.join("sparse.img")).unwrap()
    );
    use std::os::unix::fs::MetadataExt;
    let sparse = std::fs::metadata(target.join("sparse.img")).unwrap();
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "the hole stays a hole: {} blocks",
        sparse.blocks()
    );
    assert_eq!(
        std::fs::metadata(target.join("big.bin"))
            .unwrap()
            .modified()
            .unwrap(),
        std::fs::metadata(source.join("big.bin"))
            .unwrap()
            .modified()
            .unwrap()
    );

    let validation = validate(&rp, &home, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");

    // A recorded digest that does not match is a validation problem.
    let mut wrong = rp.clone();
    wrong.content_sha256 = Some("0".repeat(64));
    let validation = validate(&wrong, &home, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(!validation.passed());
    assert!(
        validation.problems[0].contains("tree digest"),
        "{validation:?}"
    );

    // The wrong kind of target is explained.
    let error = restore(
        &rp,
        &home,
        &vault,
        &RestoreTarget::Database {
            name: "x".into(),
            table: None,
            server: None,
        },
        false,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("a directory to restore into"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let gone = resource(
        ResourceType::FileSystem,
        "gone",
        &[("path", "/nonexistent/coffer")],
    );
    let error = backup(&gone, &vault, vec![], dir.path()).await.unwrap_err();
    assert!(error.to_string().contains("/nonexistent/coffer"), "{error}");
    assert!(vault.storage.snapshots(&vault.secret).unwrap().is_empty());
}
