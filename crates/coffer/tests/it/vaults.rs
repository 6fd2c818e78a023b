//! Applying a stack creates each vault's storage with a wrapped secret;
//! `vault export-key` gives restic what it needs; key rotation re-wraps.

use std::process::Command;

use serde_json::Value;

use crate::{repo, Home};

fn restic(repository: &str, password: &str, args: &[&str]) -> std::process::Output {
    Command::new("restic")
        .args(["--repo", repository, "--no-cache"])
        .args(args)
        .env("RESTIC_PASSWORD", password)
        .output()
        .unwrap_or_else(|e| {
            panic!("Debian's restic is needed (apt-get install restic; .ci/run installs it): {e}")
        })
}

#[test]
fn applied_vaults_open_with_restic_and_survive_key_rotation() {
    let home = Home::new();
    let files = [
        repo("examples/backup-stack.yaml"),
        repo("examples/inventory.yaml"),
    ];
    let apply = home.run(&["apply", "--stack", "payments", &files[0], &files[1]]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("Created keyring key \"VaultKey\""),
        "{apply:?}"
    );
    assert!(
        apply
            .stdout
            .contains("Created storage of vault \"payments-primary\""),
        "{apply:?}"
    );
    assert!(home
        .path()
        .join("vaults/210987654321/eu-west-1/payments-primary/config")
        .is_file());
    assert!(home.path().join("keyring/VaultKey.key.json").is_file());

    // Applying again creates nothing new.
    let again = home.run(&["apply", "--stack", "payments", &files[0], &files[1]]);
    assert!(!again.stdout.contains("Created"), "{again:?}");

    let key = home.run(&[
        "vault",
        "export-key",
        "payments-primary",
        "--yes",
        "-o",
        "json",
    ]);
    assert_eq!(key.code, 0, "{key:?}");
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let (repository, password) = (
        key["repository"].as_str().unwrap(),
        key["password"].as_str().unwrap(),
    );
    let listed = restic(repository, password, &["snapshots", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");

    // Without --yes and without a "y", nothing is printed.
    let refused = home.run(&["vault", "export-key", "payments-primary"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(!refused.stdout.contains(password), "{refused:?}");

    // Rotation re-wraps both vaults' secrets; the password is unchanged.
    let rotated = home.run(&["keys", "rotate", "VaultKey"]);
    assert!(
        rotated.stdout.contains("re-wrapped 2 vault secret(s)"),
        "{rotated:?}"
    );
    let after: Value = serde_json::from_str(
        &home
            .run(&[
                "vault",
                "export-key",
                "payments-primary",
                "--yes",
                "-o",
                "json",
            ])
            .stdout,
    )
    .unwrap();
    assert_eq!(after["password"], password);
    // The wrapped secret kept beside the repository is re-wrapped too.
    let beside: Value = serde_json::from_str(
        &std::fs::read_to_string(
            home.path()
                .join("vaults/210987654321/eu-west-1/payments-primary/coffer-vault-secret.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(beside["KeyVersion"], 2, "{beside}");

    let missing = home.run(&["vault", "export-key", "nope", "--yes"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("vault \"nope\" has no storage in account 210987654321, region eu-west-1"),
        "{missing:?}"
    );
}

#[test]
fn two_vaults_never_share_one_storage_location() {
    let home = Home::new();
    let template = home.write(
        "vault.yaml",
        "Resources:\n  Vault:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: shared-name\n",
    );
    // By default, same-named vaults of two accounts get their own storage.
    assert_eq!(home.run(&["apply", "--stack", "a", &template]).code, 0);
    let other = home.run_bare(&[
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
        "apply",
        "--stack",
        "b",
        &template,
    ]);
    assert_eq!(other.code, 0, "{other:?}");
    assert!(home
        .path()
        .join("vaults/210987654321/eu-west-1/shared-name/config")
        .is_file());
    assert!(home
        .path()
        .join("vaults/111122223333/eu-west-1/shared-name/config")
        .is_file());

    // A location template without the account makes them collide: refused, nothing applied.
    std::fs::write(
        home.path().join("config.toml"),
        "[vaults]\nurl = \"file://{home}/flat/{name}\"\n",
    )
    .unwrap();
    let template2 = home.write(
        "vault2.yaml",
        "Resources:\n  Vault:\n    Type: AWS::Backup::BackupVault\n    Properties:\n      BackupVaultName: flat-name\n",
    );
    assert_eq!(home.run(&["apply", "--stack", "c", &template2]).code, 0);
    let clash = home.run_bare(&[
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
        "apply",
        "--stack",
        "d",
        &template2,
    ]);
    assert_eq!(clash.code, 1, "{clash:?}");
    assert!(
        clash
            .stderr
            .contains("vault2.yaml:2:3 Vault: vault \"flat-name\" would be stored at")
            && clash.stderr.contains(
                "which vault \"flat-name\" (account 210987654321, region eu-west-1) already uses"
            ),
        "{clash:?}"
    );
}
