//! Vaults on S3: a real S3 server (moto) on loopback, started here from
//! the virtual environment `.ci/run` prepares ($COFFER_TEST_VENV), and
//! Debian's restic reading the same repository through its `s3:` backend.

use coffer_testkit::Moto;

use coffer_vault::{restic_password, RestoreRequest, S3Access, Secret, VaultStorage};

fn access(moto: &Moto) -> S3Access {
    S3Access {
        endpoint: moto.url.clone(),
        region: "us-east-1".into(),
        access_key_id: Some(coffer_testkit::KEY.into()),
        secret_access_key: Some(coffer_testkit::KEY.into()),
        virtual_host_style: false,
    }
}

fn restic_s3(moto: &Moto, repo: &str, password: &str, args: &[&str]) -> String {
    coffer_testkit::restic_ok(&format!("s3:{}/{repo}", moto.url), password, args)
}

use coffer_testkit::tree_contents as read_tree;

#[test]
fn a_vault_on_s3_backs_up_restores_checks_and_restic_reads_it() {
    let moto = Moto::start();
    moto.create_bucket("coffer-vaults");
    let location = "s3://coffer-vaults/prod/primary?endpoint=moto";
    let storage = VaultStorage::new_s3(location, &access(&moto)).unwrap();
    let secret = Secret::random(32).unwrap();
    assert!(!storage.exists());
    storage.init(&secret).unwrap();
    assert!(storage.exists());

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir_all(source.join("a/b")).unwrap();
    std::fs::write(source.join("a/b/c.txt"), "on s3").unwrap();
    let big: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    std::fs::write(source.join("big.bin"), &big).unwrap();
    let tree = storage
        .backup_tree(&secret, &source, &[], &["t:1".into()])
        .unwrap();
    let again = storage.backup_tree(&secret, &source, &[], &[]).unwrap();
    assert!(again.bytes_added < 10_000, "dedup on S3 too: {again:?}");
    let stream = storage
        .backup_stream(&secret, "db.dump", std::io::Cursor::new(big.clone()), &[])
        .unwrap();

    let target = dir.path().join("restored");
    let request = RestoreRequest {
        root: source.display().to_string(),
        ..RestoreRequest::default()
    };
    storage
        .restore_tree(&secret, &tree.id, &target, &request)
        .unwrap();
    assert_eq!(read_tree(&target), read_tree(&source));
    let mut out = Vec::new();
    storage
        .dump(&secret, &stream.snapshot.id, "db.dump", &mut out)
        .unwrap();
    assert!(out == big);
    storage.check(&secret, true).unwrap();
    assert_eq!(storage.snapshots(&secret).unwrap().len(), 3);

    // Debian's restic, through its own S3 client.
    let password = restic_password(&secret);
    restic_s3(
        &moto,
        "coffer-vaults/prod/primary",
        &password,
        &["check", "--read-data"],
    );
    let restic_target = dir.path().join("by-restic");
    restic_s3(
        &moto,
        "coffer-vaults/prod/primary",
        &password,
        &[
            "restore",
            &tree.id,
            "--target",
            &restic_target.display().to_string(),
        ],
    );
    assert_eq!(
        read_tree(&restic_target.join(source.strip_prefix("/").unwrap())),
        read_tree(&source)
    );

    // A wrong secret opens nothing; a missing bucket is an error, not a panic.
    assert!(storage.snapshots(&Secret::random(32).unwrap()).is_err());
    let nowhere = VaultStorage::new_s3("s3://no-such-bucket/x", &access(&moto)).unwrap();
    assert!(!nowhere.exists());
    assert!(nowhere.init(&secret).is_err());
}
