//! `coffer keys`: create, list, rotate, export and import, as an operator
//! would on a new machine.

use std::process::Command;

use crate::Home;

fn keys(home: &Home, args: &[&str], passphrase: Option<&str>) -> crate::Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
    command
        .arg("--home")
        .arg(home.path())
        .arg("keys")
        .args(args)
        .env_remove("COFFER_HOME");
    match passphrase {
        Some(p) => command.env("COFFER_KEYS_PASSPHRASE", p),
        None => command.env_remove("COFFER_KEYS_PASSPHRASE"),
    };
    let output = command.output().unwrap();
    crate::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn keys_survive_a_lost_machine_through_an_export() {
    let home = Home::new();
    let created = keys(&home, &["create", "VaultKey"], None);
    assert_eq!(created.code, 0, "{created:?}");
    assert!(
        created
            .stdout
            .contains("arn:coffer:kms:local:000000000000:key/VaultKey"),
        "{created:?}"
    );
    let again = keys(&home, &["create", "VaultKey"], None);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("key \"VaultKey\" already exists"),
        "{again:?}"
    );
    let rotated = keys(&home, &["rotate", "VaultKey"], None);
    assert!(rotated.stdout.contains("to version 2"), "{rotated:?}");
    let listed = keys(&home, &["list"], None);
    assert!(
        listed.stdout.contains("VaultKey") && listed.stdout.contains(" 2 "),
        "{listed:?}"
    );

    // The report-signing key exists (created on first use) and travels too.
    let public = keys(&home, &["public"], None);
    assert_eq!(public.code, 0, "{public:?}");
    let export = home.path().join("keys.export");
    let export_arg = export.display().to_string();
    let weak = keys(&home, &["export", "--to", &export_arg], Some("short"));
    assert_eq!(weak.code, 1, "{weak:?}");
    assert!(weak.stderr.contains("at least 12 characters"), "{weak:?}");
    let written = keys(
        &home,
        &["export", "--to", &export_arg],
        Some("a long enough passphrase"),
    );
    assert_eq!(written.code, 0, "{written:?}");

    let new_machine = Home::new();
    let wrong = keys(
        &new_machine,
        &["import", "--from", &export_arg],
        Some("not the passphrase"),
    );
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.contains("wrong passphrase"), "{wrong:?}");
    let imported = keys(
        &new_machine,
        &["import", "--from", &export_arg],
        Some("a long enough passphrase"),
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    assert_eq!(keys(&new_machine, &["list"], None).stdout, listed.stdout);
    assert!(
        imported.stdout.contains("Signing key SHA256:"),
        "{imported:?}"
    );
    assert_eq!(keys(&new_machine, &["public"], None).stdout, public.stdout);
    // The ledger key (which MACs ledger entries) travels with them.
    assert!(written.stdout.contains("and the ledger key"), "{written:?}");
    assert!(
        imported.stdout.contains("Ledger key installed."),
        "{imported:?}"
    );
    assert_eq!(
        std::fs::read(new_machine.path().join("ledger.key")).unwrap(),
        std::fs::read(home.path().join("ledger.key")).unwrap()
    );
    // A home with its own, different signing key keeps it unless forced.
    let other = Home::new();
    assert_eq!(keys(&other, &["public"], None).code, 0);
    let refused = keys(
        &other,
        &["import", "--from", &export_arg],
        Some("a long enough passphrase"),
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("holds another signing key"),
        "{refused:?}"
    );
    let key_file = std::fs::read_to_string(home.path().join("keyring/VaultKey.key.json")).unwrap();
    let export_text = std::fs::read_to_string(&export).unwrap();
    let material = key_file
        .split("\"material\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        !export_text.contains(material),
        "key material must not be in the export in clear"
    );
}
