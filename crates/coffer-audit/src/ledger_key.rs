//! The deployment's ledger key: 32 random bytes that MAC every ledger
//! entry (format 2), created on first use beside the signing key (a file of
//! mode 0600 holding them in hex), never in the catalog and never logged.
//! Whoever can write the catalog but not read this file cannot forge an
//! entry `coffer evidence verify` accepts on this deployment; an auditor
//! offline relies on the signed checkpoints instead.

use std::path::Path;

use coffer_catalog::LedgerKey;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key_file::{io, write_new};

/// Loads the ledger key at `path`, creating it first if there is none.
///
/// # Errors
/// When the file cannot be read or written, or holds no key.
pub fn load_or_create(path: &Path) -> Result<LedgerKey> {
    if !path.exists() {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        // Another process may create it first: then theirs is used.
        write_new(path, &key)?;
    }
    load(path)
}

/// Loads the ledger key at `path`.
///
/// # Errors
/// When the file cannot be read or holds no key.
pub fn load(path: &Path) -> Result<LedgerKey> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), key.as_mut()).map_err(|_| Error::BadLedgerKey {
        path: path.to_path_buf(),
    })?;
    Ok(LedgerKey::from_bytes(*key))
}

/// Installs `bytes` as the ledger key at `path` (from an export). An
/// existing different key is replaced only with `replace`: entries it
/// MACed would then fail `evidence verify` on this deployment.
///
/// # Errors
/// Bytes that are not 32; a different key there without `replace`; IO
/// errors.
pub fn install(path: &Path, bytes: &[u8], replace: bool) -> Result<LedgerKey> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::BadImportedLedgerKey)?;
    if path.exists() {
        let present = load(path)?;
        if present.expose() == &bytes {
            return Ok(present);
        }
        if !replace {
            return Err(Error::OtherLedgerKey {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(io(path))?;
    }
    write_new(path, &bytes)?;
    load(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_key_is_created_once_private_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap().expose(), key.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{key:?}"), "LedgerKey(***)");
        let other = [7u8; 32];
        assert!(matches!(
            install(&path, &other, false),
            Err(Error::OtherLedgerKey { .. })
        ));
        assert_eq!(install(&path, &other, true).unwrap().expose(), &other);
    }
}
