//! Keyring: creation with private permissions, wrapping bound to its
//! purpose, rotation that re-wraps, and export/import under a passphrase.

use super::*;

const FAST: ExportWork = ExportWork { log_n: 4 };
const VAULT: &str = "arn:coffer:backup:eu-west-1:210987654321:backup-vault:primary";

fn now() -> jiff::Timestamp {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn keyring() -> (tempfile::TempDir, Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::open(&dir.path().join("keyring")).unwrap();
    (dir, keyring)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_are_created_private_and_listed_without_material() {
    let (_dir, keyring) = keyring();
    let info = keyring.create("VaultKey", now()).unwrap();
    assert_eq!((info.current_version, info.versions), (1, 1));
    #[cfg(unix)]
    {
        assert_eq!(mode(keyring.dir()), 0o700);
        assert_eq!(mode(&keyring.dir().join("VaultKey.key.json")), 0o600);
    }
    assert!(matches!(
        keyring.create("VaultKey", now()),
        Err(KeyringError::Exists(_))
    ));
    assert!(matches!(
        keyring.create("../escape", now()),
        Err(KeyringError::BadName(_))
    ));
    assert_eq!(keyring.list().unwrap(), vec![info]);
}

#[test]
fn a_wrapped_secret_opens_only_with_its_key_and_purpose() {
    let (_dir, keyring) = keyring();
    keyring.create("VaultKey", now()).unwrap();
    let secret = Secret::random(32).unwrap();
    let wrapped = keyring.wrap("VaultKey", VAULT, &secret).unwrap();
    assert!(!wrapped.ciphertext.contains(&hex::encode(secret.expose())));
    assert_eq!(keyring.unwrap_secret(&wrapped, VAULT).unwrap(), secret);
    // Another purpose (vault) or an altered ciphertext does not open.
    assert!(matches!(
        keyring.unwrap_secret(&wrapped, "arn:other"),
        Err(KeyringError::Unwrap { .. })
    ));
    let mut altered = wrapped.clone();
    altered.ciphertext.replace_range(
        0..2,
        if altered.ciphertext.starts_with("00") {
            "01"
        } else {
            "00"
        },
    );
    assert!(matches!(
        keyring.unwrap_secret(&altered, VAULT),
        Err(KeyringError::Unwrap { .. })
    ));
    let error = keyring
        .unwrap_secret(
            &WrappedSecret {
                key_name: "Gone".into(),
                ..wrapped
            },
            VAULT,
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("coffer keys create Gone"),
        "{error}"
    );
}

#[test]
fn rotation_rewraps_without_changing_the_secret() {
    let (_dir, keyring) = keyring();
    keyring.create("VaultKey", now()).unwrap();
    let secret = Secret::random(32).unwrap();
    let old = keyring.wrap("VaultKey", VAULT, &secret).unwrap();
    let info = keyring.rotate("VaultKey", now()).unwrap();
    assert_eq!((info.current_version, info.versions), (2, 2));
    let new = keyring.rewrap(&old, VAULT).unwrap().unwrap();
    assert_eq!(new.key_version, 2);
    assert_eq!(keyring.unwrap_secret(&new, VAULT).unwrap(), secret);
    // The old wrapping still opens until it is replaced, and re-wrapping
    // the new one again changes nothing.
    assert_eq!(keyring.unwrap_secret(&old, VAULT).unwrap(), secret);
    assert_eq!(keyring.rewrap(&new, VAULT).unwrap(), None);
}

#[test]
fn an_export_restores_every_key_and_the_extra_secrets() {
    let (dir, keyring) = keyring();
    keyring.create("VaultKey", now()).unwrap();
    keyring.rotate("VaultKey", now()).unwrap();
    keyring.create("DrKey", now()).unwrap();
    let secret = Secret::random(32).unwrap();
    let wrapped = keyring.wrap("VaultKey", VAULT, &secret).unwrap();
    let signing = Secret::random(32).unwrap();
    let extra = BTreeMap::from([("signing-key".to_string(), signing.clone())]);
    let export = dir.path().join("keyring.export");
    assert_eq!(
        keyring
            .export(&export, "correct horse battery", &extra, FAST)
            .unwrap(),
        2
    );
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(!text.contains(&hex::encode(signing.expose())));
    #[cfg(unix)]
    assert_eq!(mode(&export), 0o600);

    // A new machine: an empty keyring, then the import.
    let elsewhere = Keyring::open(&dir.path().join("restored")).unwrap();
    assert!(matches!(
        elsewhere.import(&export, "wrong passphrase!!", false),
        Err(KeyringError::Export)
    ));
    let (n_keys, extras) = elsewhere
        .import(&export, "correct horse battery", false)
        .unwrap();
    assert_eq!(n_keys, 2);
    assert_eq!(extras["signing-key"], signing);
    assert_eq!(elsewhere.unwrap_secret(&wrapped, VAULT).unwrap(), secret);
    assert_eq!(elsewhere.list().unwrap(), keyring.list().unwrap());
    // Importing again is harmless; a different key of the same name is not replaced silently.
    elsewhere
        .import(&export, "correct horse battery", false)
        .unwrap();
    let third = Keyring::open(&dir.path().join("third")).unwrap();
    third.create("VaultKey", now()).unwrap();
    assert!(matches!(
        third.import(&export, "correct horse battery", false),
        Err(KeyringError::WouldReplace(_))
    ));
    third
        .import(&export, "correct horse battery", true)
        .unwrap();
    assert_eq!(third.unwrap_secret(&wrapped, VAULT).unwrap(), secret);

    assert!(matches!(
        keyring.export(&export, "short", &extra, FAST),
        Err(KeyringError::WeakPassphrase)
    ));
}

#[test]
fn secrets_never_print_and_names_come_from_arns() {
    assert_eq!(format!("{:?}", Secret::new(vec![1, 2, 3])), "Secret(***)");
    assert_eq!(
        key_name_of("arn:coffer:kms:eu-west-1:210987654321:key/VaultKey"),
        "VaultKey"
    );
    assert_eq!(key_name_of("VaultKey"), "VaultKey");
}

#[test]
fn importing_an_older_export_never_undoes_a_rotation() {
    let (dir, keyring) = keyring();
    keyring.create("VaultKey", now()).unwrap();
    let export = dir.path().join("old.export");
    keyring
        .export(&export, "correct horse battery", &BTreeMap::new(), FAST)
        .unwrap();
    keyring.rotate("VaultKey", now()).unwrap();
    let secret = Secret::random(32).unwrap();
    let wrapped = keyring.wrap("VaultKey", VAULT, &secret).unwrap();
    assert_eq!(wrapped.key_version, 2);
    for force in [false, true] {
        keyring
            .import(&export, "correct horse battery", force)
            .unwrap();
        let info = &keyring.list().unwrap()[0];
        assert_eq!(
            (info.current_version, info.versions),
            (2, 2),
            "force={force}"
        );
        assert_eq!(keyring.unwrap_secret(&wrapped, VAULT).unwrap(), secret);
    }
}

#[test]
fn an_export_cannot_ask_for_unbounded_work() {
    let (dir, keyring) = keyring();
    keyring.create("VaultKey", now()).unwrap();
    let export = dir.path().join("k.export");
    keyring
        .export(&export, "correct horse battery", &BTreeMap::new(), FAST)
        .unwrap();
    let text = std::fs::read_to_string(&export)
        .unwrap()
        .replace("scrypt:4:", "scrypt:40:");
    std::fs::write(&export, text).unwrap();
    assert!(matches!(
        keyring.import(&export, "correct horse battery", false),
        Err(KeyringError::NotAnExport(_))
    ));
}

#[test]
fn concurrent_creators_share_one_key() {
    let (_dir, keyring) = keyring();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let keyring = keyring.clone();
            std::thread::spawn(move || keyring.ensure("coffer-default", now()).unwrap())
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let secret = Secret::random(32).unwrap();
    let wrapped = keyring.wrap("coffer-default", VAULT, &secret).unwrap();
    assert_eq!(keyring.list().unwrap().len(), 1);
    assert_eq!(keyring.unwrap_secret(&wrapped, VAULT).unwrap(), secret);
    let leftovers: Vec<_> = std::fs::read_dir(keyring.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
