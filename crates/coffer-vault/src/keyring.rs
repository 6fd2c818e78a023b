//! The keyring: key-encryption keys (KEKs) that wrap each vault's
//! repository secret, and the encrypted export that keeps them safe.
//!
//! A KEK is named; a vault's `EncryptionKeyArn` refers to it
//! (`arn:coffer:kms:<region>:<account>:key/<name>`). Each KEK has versions:
//! rotation adds a version that wraps from then on, and secrets wrapped by
//! an older version are re-wrapped; backups are never rewritten. KEK files
//! live in one directory (mode 0700), one file per key (mode 0600), written
//! atomically. Secrets are wrapped with XChaCha20-Poly1305, bound to the
//! key name, version and purpose (the vault ARN) as associated data.
//!
//! Losing the keyring loses every vault: `export` writes it encrypted under
//! a passphrase (scrypt), `import` restores it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const EXPORT_MAGIC: &str = "coffer-keyring-export-v1";

/// Secret bytes: zeroed on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    /// Fresh random bytes from the operating system.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random(len: usize) -> Result<Secret, KeyringError> {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes).map_err(|e| KeyringError::Random(e.to_string()))?;
        Ok(Secret::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What can go wrong with keys. Messages name keys and files, never key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("keyring {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} cannot be read: {message}; restore it from a keyring export (`coffer keys import`)")]
    Corrupt { path: String, message: String },
    #[error("key name {0:?} is not allowed: use 1-64 letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("key {0:?} already exists")]
    Exists(String),
    #[error("key {name:?} is not in the keyring at {keyring}; create it with `coffer keys create {name}` or import the keyring export that holds it")]
    Missing { name: String, keyring: String },
    #[error("key {name:?} has no version {version}; the keyring is older than the secret it should unwrap")]
    MissingVersion { name: String, version: u32 },
    #[error("the wrapped secret does not open with key {name:?} version {version}: it was altered, or wrapped for another purpose than {purpose}")]
    Unwrap {
        name: String,
        version: u32,
        purpose: String,
    },
    #[error("the export file cannot be opened: wrong passphrase, or the file was altered")]
    Export,
    #[error("the export file is not a Coffer keyring export: {0}")]
    NotAnExport(String),
    #[error("importing would replace a version of key {0:?} with different key material; import with force to take the export's (secrets wrapped by the replaced version no longer open)")]
    WouldReplace(String),
    #[error("the passphrase is too short: use at least 12 characters")]
    WeakPassphrase,
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error("encryption failed")]
    Encrypt,
}

/// One version of a KEK.
#[derive(Clone, Serialize, Deserialize)]
struct KeyVersion {
    version: u32,
    created: jiff::Timestamp,
    /// Hex of the key bytes.
    material: String,
}

impl Drop for KeyVersion {
    fn drop(&mut self) {
        self.material.zeroize();
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct KeyFile {
    name: String,
    current: u32,
    versions: Vec<KeyVersion>,
}

/// A secret wrapped by a KEK version; safe to store anywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WrappedSecret {
    pub key_name: String,
    pub key_version: u32,
    /// Hex nonce.
    pub nonce: String,
    /// Hex ciphertext (with tag).
    pub ciphertext: String,
}

/// What `list` shows about a key (never its material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub current_version: u32,
    pub versions: usize,
    pub created: jiff::Timestamp,
    pub rotated: jiff::Timestamp,
}

/// The keyring directory.
#[derive(Clone, Debug)]
pub struct Keyring {
    dir: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn check_name(name: &str) -> Result<(), KeyringError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(KeyringError::BadName(name.to_string()))
    }
}

/// The key that wraps vaults with no `EncryptionKeyArn` (AWS uses an
/// AWS-owned key for them).
pub const DEFAULT_KEY: &str = "coffer-default";

/// A new random vault secret (32 bytes), wrapped by `key_name` for the
/// vault `vault_arn`.
///
/// # Errors
/// When the key is missing or randomness fails.
pub fn new_vault_secret(
    keyring: &Keyring,
    key_name: &str,
    vault_arn: &str,
) -> Result<(Secret, WrappedSecret), KeyringError> {
    let secret = Secret::random(KEY_LEN)?;
    let wrapped = keyring.wrap(key_name, vault_arn, &secret)?;
    Ok((secret, wrapped))
}

/// The key name an `EncryptionKeyArn` refers to: `...:key/<name>`, or the
/// value itself when it is a plain name.
pub fn key_name_of(encryption_key_arn: &str) -> &str {
    encryption_key_arn
        .rsplit_once(":key/")
        .map_or(encryption_key_arn, |(_, name)| name)
}

/// Writes a file atomically with mode 0600: temp file, fsync, rename, fsync
/// of the directory.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyringError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    // A temp name no other writer uses: process ID and random suffix.
    let suffix = Secret::random(8)
        .map(|s| hex::encode(s.expose()))
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{}.{}.{suffix}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn seal(key: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<(String, String), KeyringError> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| KeyringError::Encrypt)?;
    let nonce_bytes = Secret::random(NONCE_LEN)?;
    let nonce = XNonce::try_from(nonce_bytes.expose()).map_err(|_| KeyringError::Encrypt)?;
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| KeyringError::Encrypt)?;
    Ok((hex::encode(nonce_bytes.expose()), hex::encode(ciphertext)))
}

fn open_sealed(key: &[u8], nonce_hex: &str, ciphertext_hex: &str, aad: &[u8]) -> Option<Secret> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).ok()?;
    let nonce_bytes = hex::decode(nonce_hex).ok()?;
    let nonce = XNonce::try_from(nonce_bytes.as_slice()).ok()?;
    let ciphertext = hex::decode(ciphertext_hex).ok()?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &ciphertext,
                aad,
            },
        )
        .ok()
        .map(Secret::new)
}

fn wrap_aad(name: &str, version: u32, purpose: &str) -> Vec<u8> {
    format!("coffer-wrap-v1\0{name}\0{version}\0{purpose}").into_bytes()
}

/// An exclusive lock on the keyring, held while keys are created, rotated
/// or imported, so concurrent processes never overwrite each other's keys.
struct KeyringLock {
    _file: std::fs::File,
}

impl Keyring {
    fn lock(&self) -> Result<KeyringLock, KeyringError> {
        let path = self.dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(KeyringLock { _file: file })
    }

    /// The keyring at `dir`, created (mode 0700) if missing.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn open(dir: &Path) -> Result<Keyring, KeyringError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io(dir))?;
        }
        Ok(Keyring {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key.json"))
    }

    fn read(&self, name: &str) -> Result<KeyFile, KeyringError> {
        check_name(name)?;
        let path = self.path(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyringError::Missing {
                    name: name.to_string(),
                    keyring: self.dir.display().to_string(),
                })
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| KeyringError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if file.name != name || file.versions.iter().all(|v| v.version != file.current) {
            return Err(KeyringError::Corrupt {
                path: path.display().to_string(),
                message: "its name or current version does not match its contents".into(),
            });
        }
        Ok(file)
    }

    fn write(&self, file: &KeyFile) -> Result<(), KeyringError> {
        let text =
            Zeroizing::new(serde_json::to_string_pretty(file).map_err(|_| KeyringError::Encrypt)?);
        write_private(&self.path(&file.name), text.as_bytes())
    }

    fn material(&self, file: &KeyFile, version: u32) -> Result<Secret, KeyringError> {
        let entry = file
            .versions
            .iter()
            .find(|v| v.version == version)
            .ok_or_else(|| KeyringError::MissingVersion {
                name: file.name.clone(),
                version,
            })?;
        let bytes = hex::decode(&entry.material).map_err(|_| KeyringError::Corrupt {
            path: self.path(&file.name).display().to_string(),
            message: format!("version {version} is not hex"),
        })?;
        if bytes.len() != KEY_LEN {
            return Err(KeyringError::Corrupt {
                path: self.path(&file.name).display().to_string(),
                message: format!("version {version} is not a {KEY_LEN}-byte key"),
            });
        }
        Ok(Secret::new(bytes))
    }

    /// Creates a KEK.
    ///
    /// # Errors
    /// When the name is not allowed, the key exists, or writing fails.
    pub fn create(&self, name: &str, now: jiff::Timestamp) -> Result<KeyInfo, KeyringError> {
        check_name(name)?;
        let _lock = self.lock()?;
        if self.path(name).exists() {
            return Err(KeyringError::Exists(name.to_string()));
        }
        let material = Secret::random(KEY_LEN)?;
        let file = KeyFile {
            name: name.to_string(),
            current: 1,
            versions: vec![KeyVersion {
                version: 1,
                created: now,
                material: hex::encode(material.expose()),
            }],
        };
        self.write(&file)?;
        Ok(info(&file))
    }

    /// Creates the KEK if it does not exist yet; says whether it did.
    ///
    /// # Errors
    /// As [`Keyring::create`].
    pub fn ensure(
        &self,
        name: &str,
        now: jiff::Timestamp,
    ) -> Result<(KeyInfo, bool), KeyringError> {
        match self.read(name) {
            Ok(file) => Ok((info(&file), false)),
            Err(KeyringError::Missing { .. }) => match self.create(name, now) {
                Ok(created) => Ok((created, true)),
                // Another process created it meanwhile: use theirs.
                Err(KeyringError::Exists(_)) => self.read(name).map(|f| (info(&f), false)),
                Err(other) => Err(other),
            },
            Err(other) => Err(other),
        }
    }

    /// Every key, by name.
    ///
    /// # Errors
    /// When the directory or a key file cannot be read.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyringError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file_name.strip_suffix(".key.json") {
                if !name.starts_with('.') {
                    out.push(info(&self.read(name)?));
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Adds a new version of the key, used for wrapping from now on.
    ///
    /// # Errors
    /// When the key is missing or cannot be written.
    pub fn rotate(&self, name: &str, now: jiff::Timestamp) -> Result<KeyInfo, KeyringError> {
        let _lock = self.lock()?;
        let mut file = self.read(name)?;
        let version = file.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        let material = Secret::random(KEY_LEN)?;
        file.versions.push(KeyVersion {
            version,
            created: now,
            material: hex::encode(material.expose()),
        });
        file.current = version;
        self.write(&file)?;
        Ok(info(&file))
    }

    /// Wraps `secret` with the key's current version, for `purpose`
    /// (e.g. the vault ARN), which must be given again to unwrap.
    ///
    /// # Errors
    /// When the key is missing or unreadable.
    pub fn wrap(
        &self,
        name: &str,
        purpose: &str,
        secret: &Secret,
    ) -> Result<WrappedSecret, KeyringError> {
        let file = self.read(name)?;
        let key = self.material(&file, file.current)?;
        let (nonce, ciphertext) = seal(
            key.expose(),
            secret.expose(),
            &wrap_aad(name, file.current, purpose),
        )?;
        Ok(WrappedSecret {
            key_name: name.to_string(),
            key_version: file.current,
            nonce,
            ciphertext,
        })
    }

    /// Unwraps a secret.
    ///
    /// # Errors
    /// When the key or version is missing, or the wrapped secret was altered
    /// or belongs to another purpose.
    pub fn unwrap_secret(
        &self,
        wrapped: &WrappedSecret,
        purpose: &str,
    ) -> Result<Secret, KeyringError> {
        let file = self.read(&wrapped.key_name)?;
        let key = self.material(&file, wrapped.key_version)?;
        open_sealed(
            key.expose(),
            &wrapped.nonce,
            &wrapped.ciphertext,
            &wrap_aad(&wrapped.key_name, wrapped.key_version, purpose),
        )
        .ok_or_else(|| KeyringError::Unwrap {
            name: wrapped.key_name.clone(),
            version: wrapped.key_version,
            purpose: purpose.to_string(),
        })
    }

    /// Re-wraps a secret with the key's current version (after a
    /// rotation); the secret itself does not change, so backups stay as
    /// they are. Returns `None` when it already uses the current version.
    ///
    /// # Errors
    /// As [`Keyring::unwrap_secret`] and [`Keyring::wrap`].
    pub fn rewrap(
        &self,
        wrapped: &WrappedSecret,
        purpose: &str,
    ) -> Result<Option<WrappedSecret>, KeyringError> {
        let file = self.read(&wrapped.key_name)?;
        if wrapped.key_version == file.current {
            return Ok(None);
        }
        let secret = self.unwrap_secret(wrapped, purpose)?;
        self.wrap(&wrapped.key_name, purpose, &secret).map(Some)
    }

    /// Writes every key, and any `extra` named secrets (the signing key),
    /// encrypted under `passphrase`.
    ///
    /// # Errors
    /// A weak passphrase, unreadable keys, or a failed write.
    pub fn export(
        &self,
        to: &Path,
        passphrase: &str,
        extra: &BTreeMap<String, Secret>,
        work: ExportWork,
    ) -> Result<usize, KeyringError> {
        if passphrase.chars().count() < 12 {
            return Err(KeyringError::WeakPassphrase);
        }
        let mut keys = Vec::new();
        for key in self.list()? {
            keys.push(self.read(&key.name)?);
        }
        let n_keys = keys.len();
        let extras: BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.clone(), hex::encode(v.expose())))
            .collect();
        let payload = Zeroizing::new(
            serde_json::to_vec(&ExportPayload {
                keys,
                extra: extras,
            })
            .map_err(|_| KeyringError::Encrypt)?,
        );
        let salt = Secret::random(16)?;
        let kek = derive(passphrase, salt.expose(), work)?;
        let (nonce, ciphertext) = seal(kek.expose(), &payload, EXPORT_MAGIC.as_bytes())?;
        let envelope = ExportEnvelope {
            format: EXPORT_MAGIC.to_string(),
            kdf: format!("scrypt:{}:{}:{}", work.log_n, 8, 1),
            salt: hex::encode(salt.expose()),
            nonce,
            ciphertext,
        };
        let text = serde_json::to_string_pretty(&envelope).map_err(|_| KeyringError::Encrypt)?;
        write_private(to, text.as_bytes())?;
        Ok(n_keys)
    }

    /// Restores keys (and returns the extra secrets) from an export. Key
    /// versions are merged: versions only the export has are added, versions
    /// only the keyring has are kept (a rotation after the export is never
    /// undone), and the newest version becomes current. A version number
    /// with different material on each side is refused, unless `force`
    /// takes the export's.
    ///
    /// # Errors
    /// A wrong passphrase or altered file, a malformed key, or a version
    /// that would be replaced.
    pub fn import(
        &self,
        from: &Path,
        passphrase: &str,
        force: bool,
    ) -> Result<(usize, BTreeMap<String, Secret>), KeyringError> {
        let text = std::fs::read_to_string(from).map_err(io(from))?;
        let envelope: ExportEnvelope =
            serde_json::from_str(&text).map_err(|e| KeyringError::NotAnExport(e.to_string()))?;
        if envelope.format != EXPORT_MAGIC {
            return Err(KeyringError::NotAnExport(format!(
                "format {:?}",
                envelope.format
            )));
        }
        let log_n = envelope
            .kdf
            .strip_prefix("scrypt:")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse::<u8>().ok())
            // Bounded: the cost comes from the file, which may not be ours.
            .filter(|n| (MIN_EXPORT_LOG_N..=MAX_EXPORT_LOG_N).contains(n))
            .ok_or_else(|| {
                KeyringError::NotAnExport(format!("key derivation {:?}", envelope.kdf))
            })?;
        let salt =
            hex::decode(&envelope.salt).map_err(|_| KeyringError::NotAnExport("salt".into()))?;
        let kek = derive(passphrase, &salt, ExportWork { log_n })?;
        let payload = open_sealed(
            kek.expose(),
            &envelope.nonce,
            &envelope.ciphertext,
            EXPORT_MAGIC.as_bytes(),
        )
        .ok_or(KeyringError::Export)?;
        let payload: ExportPayload =
            serde_json::from_slice(payload.expose()).map_err(|_| KeyringError::Export)?;
        let mut extra = BTreeMap::new();
        for (name, value) in &payload.extra {
            let bytes = hex::decode(value)
                .map_err(|_| KeyringError::NotAnExport(format!("secret {name:?} is not hex")))?;
            extra.insert(name.clone(), Secret::new(bytes));
        }
        let _lock = self.lock()?;
        let mut merged_files = Vec::new();
        for key in &payload.keys {
            check_name(&key.name)?;
            for version in &key.versions {
                let valid = hex::decode(&version.material).is_ok_and(|b| b.len() == KEY_LEN);
                if !valid {
                    return Err(KeyringError::NotAnExport(format!(
                        "key {:?} version {} is not a {KEY_LEN}-byte key",
                        key.name, version.version
                    )));
                }
            }
            if key.versions.iter().all(|v| v.version != key.current) {
                return Err(KeyringError::NotAnExport(format!(
                    "key {:?} has no current version {}",
                    key.name, key.current
                )));
            }
            let mut merged = match self.read(&key.name) {
                Ok(existing) => existing,
                Err(KeyringError::Missing { .. }) => KeyFile {
                    name: key.name.clone(),
                    current: key.current,
                    versions: Vec::new(),
                },
                Err(other) => return Err(other),
            };
            for version in &key.versions {
                match merged
                    .versions
                    .iter_mut()
                    .find(|v| v.version == version.version)
                {
                    Some(existing) if existing.material == version.material => {}
                    Some(existing) if force => existing.material = version.material.clone(),
                    Some(_) => return Err(KeyringError::WouldReplace(key.name.clone())),
                    None => merged.versions.push(version.clone()),
                }
            }
            merged.versions.sort_by_key(|v| v.version);
            merged.current = merged
                .versions
                .iter()
                .map(|v| v.version)
                .max()
                .unwrap_or(key.current);
            merged_files.push(merged);
        }
        // Everything is checked first: nothing is written if anything is refused.
        for file in &merged_files {
            self.write(file)?;
        }
        Ok((merged_files.len(), extra))
    }
}

/// Bounds on the cost of an export's key derivation (scrypt log2 N).
const MIN_EXPORT_LOG_N: u8 = 4;
const MAX_EXPORT_LOG_N: u8 = 22;

/// How hard the export's key derivation works (scrypt's log2 N; r = 8,
/// p = 1). Tests use a small value; real exports use the recommended one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportWork {
    pub log_n: u8,
}

impl ExportWork {
    pub const RECOMMENDED: ExportWork = ExportWork { log_n: 17 };
}

fn derive(passphrase: &str, salt: &[u8], work: ExportWork) -> Result<Secret, KeyringError> {
    let params = scrypt::Params::new(work.log_n, 8, 1)
        .map_err(|_| KeyringError::NotAnExport("scrypt parameters".into()))?;
    let mut out = vec![0u8; KEY_LEN];
    scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut out)
        .map_err(|_| KeyringError::Encrypt)?;
    Ok(Secret::new(out))
}

#[derive(Serialize, Deserialize)]
struct ExportEnvelope {
    format: String,
    kdf: String,
    salt: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct ExportPayload {
    keys: Vec<KeyFile>,
    extra: BTreeMap<String, String>,
}

fn info(file: &KeyFile) -> KeyInfo {
    let created = file
        .versions
        .iter()
        .map(|v| v.created)
        .min()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let rotated = file
        .versions
        .iter()
        .find(|v| v.version == file.current)
        .map_or(created, |v| v.created);
    KeyInfo {
        name: file.name.clone(),
        current_version: file.current,
        versions: file.versions.len(),
        created,
        rotated,
    }
}

#[cfg(test)]
mod tests;
