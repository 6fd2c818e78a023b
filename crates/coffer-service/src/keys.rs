//! The keyring (the keys that wrap every vault's secret) and the signing
//! key. These work without the catalog, so a home whose catalog is lost
//! can still import its keys; only rotation, which re-wraps the secrets
//! the catalog records, is an operation of [`crate::Service`]
//! (`rotate_key`).

use std::collections::BTreeMap;
use std::path::Path;

use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_policy::Config;
use coffer_vault::{ExportWork, KeyInfo, Keyring, Secret};

use crate::error::{Error, Result};

/// The export's name for the report-signing key's seed.
const SIGNING_KEY_EXTRA: &str = "signing-key";
/// The export's name for the ledger key (which MACs ledger entries).
const LEDGER_KEY_EXTRA: &str = "ledger-key";

/// The home's signing key's public half (the key is created on first use).
///
/// # Errors
/// A key file that cannot be read or written.
pub fn signing_public_key(config: &Config) -> Result<PublicKey> {
    Ok(KeyPair::load_or_create(config.signing_key_path())?.public())
}

/// The keyring's keys (names and versions, never key material), and the
/// keyring's directory.
///
/// # Errors
/// A keyring that cannot be read.
pub fn list_keys(config: &Config) -> Result<(Vec<KeyInfo>, std::path::PathBuf)> {
    let keyring = Keyring::open(config.keyring_path())?;
    Ok((keyring.list()?, keyring.dir().to_path_buf()))
}

/// Creates keyring key `name` at `now`.
///
/// # Errors
/// A name already taken or not allowed; keyring failures.
pub fn create_key(config: &Config, name: &str, now: jiff::Timestamp) -> Result<KeyInfo> {
    Ok(Keyring::open(config.keyring_path())?.create(name, now)?)
}

/// Writes the whole keyring, and the signing key and ledger key when there
/// are, encrypted under `passphrase`, to `to`; returns how many keyring
/// keys and whether the signing key went with them.
///
/// # Errors
/// Keyring and file failures.
pub fn export_keyring(config: &Config, to: &Path, passphrase: &str) -> Result<(usize, bool)> {
    let keyring = Keyring::open(config.keyring_path())?;
    let mut extra = BTreeMap::new();
    let signing = config.signing_key_path();
    if signing.exists() {
        let key = KeyPair::load(signing)?;
        extra.insert(
            SIGNING_KEY_EXTRA.to_string(),
            Secret::new(key.seed().to_vec()),
        );
    }
    let has_signing_key = !extra.is_empty();
    let ledger = config.ledger_key_path();
    if ledger.exists() {
        let key = coffer_audit::ledger_key::load(&ledger)?;
        extra.insert(
            LEDGER_KEY_EXTRA.to_string(),
            Secret::new(key.expose().to_vec()),
        );
    }
    let n_keys = keyring.export(to, passphrase, &extra, ExportWork::RECOMMENDED)?;
    Ok((n_keys, has_signing_key))
}

/// What an import brought in.
#[derive(Debug)]
pub struct Imported {
    pub keys: usize,
    pub keyring_dir: std::path::PathBuf,
    /// The signing key installed from the export, by fingerprint.
    pub signing_key: Option<String>,
    /// Whether the export carried the ledger key, now installed.
    pub ledger_key: bool,
}

/// Merges the keys of an export into the keyring (key versions merge, so
/// an older export never undoes a rotation), and installs the signing key
/// it carries. With `force`, keys of the same name holding other key
/// material are replaced.
///
/// # Errors
/// A wrong passphrase, a damaged file, a conflicting key without `force`;
/// a signing key that could not be installed (the vault keys are in).
pub fn import_keyring(
    config: &Config,
    from: &Path,
    passphrase: &str,
    force: bool,
) -> Result<Imported> {
    let keyring = Keyring::open(config.keyring_path())?;
    let (keys, extra) = keyring
        .import(from, passphrase, force)
        .map_err(|e| match e {
            coffer_vault::KeyringError::WouldReplace(_) => {
                Error::new(crate::ErrorKind::AlreadyExists, e.to_string())
            }
            other => other.into(),
        })?;
    let signing_key = match extra.get(SIGNING_KEY_EXTRA) {
        Some(seed) => Some(
            KeyPair::install(config.signing_key_path(), seed.expose(), force)
                .map_err(|e| {
                    let kind = match e {
                        coffer_audit::Error::OtherKey { .. } => crate::ErrorKind::AlreadyExists,
                        _ => crate::ErrorKind::DependencyFailure,
                    };
                    Error::new(kind, e.to_string())
                        .context("the vault keys were imported; the signing key was not")
                })?
                .fingerprint(),
        ),
        None => None,
    };
    let ledger_key = match extra.get(LEDGER_KEY_EXTRA) {
        Some(bytes) => {
            coffer_audit::ledger_key::install(&config.ledger_key_path(), bytes.expose(), force)
                .map_err(|e| {
                    let kind = match e {
                        coffer_audit::Error::OtherLedgerKey { .. } => {
                            crate::ErrorKind::AlreadyExists
                        }
                        _ => crate::ErrorKind::DependencyFailure,
                    };
                    Error::new(kind, e.to_string())
                        .context("the vault keys were imported; the ledger key was not")
                })?;
            true
        }
        None => false,
    };
    Ok(Imported {
        keys,
        keyring_dir: keyring.dir().to_path_buf(),
        signing_key,
        ledger_key,
    })
}
