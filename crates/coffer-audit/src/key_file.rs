//! Key files: 32 secret bytes in hex, in a file of mode 0600 created once
//! (never overwritten in place), as the signing key and the ledger key
//! are kept.

use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `key` to a new file at `path` (mode 0600), creating its folder;
/// false when the file exists already (another process made it first).
///
/// # Errors
/// When the folder or the file cannot be written.
pub(crate) fn write_new(path: &Path, key: &[u8; 32]) -> Result<bool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let text = Zeroizing::new(hex::encode(key));
            file.write_all(text.as_bytes()).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}
