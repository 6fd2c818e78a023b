//! Vault storage: each vault is a restic-format repository (version 2,
//! compressed, encrypted), read and written through `rustic_core`, so
//! Debian's `restic` can list, check and restore it with nothing of Coffer
//! installed.
//!
//! This module opens repositories with the vault's secret (a random
//! 32-byte value, hex-encoded as the restic password; it is stored only
//! wrapped by a keyring key), backs up directory trees, lists snapshots,
//! restores and checks. Locations are `file:///absolute/path` or
//! `s3://bucket/prefix` on an S3-compatible endpoint ([`S3Access`]).
//!
//! A repository is opened with the password once per [`VaultStorage`];
//! later opens reuse the master key, so the 128 MiB, 0.25 s scrypt
//! derivation runs once (storage-engine.md, pitfall 5).
//!
//! `rustic_core` skips files it cannot read and still saves the snapshot
//! (storage-engine.md, pitfall 2): a tree backup counts the files it
//! expects and refuses a snapshot that holds fewer, deleting it.

mod objects;
mod restore;
mod s3;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustic_backend::BackendOptions;
use rustic_core::{
    BackupOptions, CheckOptions, ConfigOptions, Credentials, Excludes, KeyOptions, LsOptions,
    OpenStatus, PathList, Repository, RepositoryOptions, SnapshotOptions,
};

use coffer_model::StorageLocation;

use crate::keyring::Secret;

pub use objects::{
    tree_order, ObjectBody, ObjectsBackup, Settled, StoredObject, TreeObject, HISTORY_ROOT,
    OBJECTS_MANIFEST, OBJECTS_ROOT,
};
pub use restore::{RestoreRequest, RestoreSummary};
pub use s3::{block_on as block_on_s3, operator as s3_operator, S3Access};
pub use stream::{ReadBack, StreamBackup};

/// Where a long operation reports its progress (the CLI draws bars; the
/// engine records job progress).
pub trait Observer: Send + Sync + std::fmt::Debug + 'static {
    /// A phase begins; `total` bytes when known.
    fn phase(&self, title: &str, total: Option<u64>);
    /// `bytes` more were processed.
    fn advance(&self, bytes: u64);
    /// The operation ended.
    fn done(&self);
}

/// What can go wrong with a vault's storage. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "vault location {0:?} is not supported; use file:///absolute/path or s3://bucket/prefix"
    )]
    UnsupportedLocation(String),
    #[error(
        "vault location {0} is on S3: it is opened with its endpoint's settings and credentials"
    )]
    NoS3Access(String),
    #[error("vault storage at {location}: {message}")]
    Engine { location: String, message: String },
    #[error("backup of {source_path} is incomplete: {expected} files were found but {saved} were saved (unreadable files?); the snapshot was discarded")]
    Incomplete {
        source_path: String,
        expected: u64,
        saved: u64,
    },
    #[error("exclude patterns {patterns}: {message}")]
    BadExclude { patterns: String, message: String },
    #[error("vault storage at {location} has no snapshot {id}")]
    NoSnapshot { location: String, id: String },
    #[error("vault storage at {location}: snapshot {id} has no path {path:?} ({message})")]
    NoPath {
        location: String,
        id: String,
        path: String,
        message: String,
    },
    #[error("backup of stream {name:?} failed and was discarded: {message}")]
    StreamFailed { name: String, message: String },
    #[error("refusing to restore to {path}: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error("restore target {path} is not empty; choose an empty or new directory, or restore with force to overwrite files in it")]
    TargetNotEmpty { path: String },
    #[error("vault storage at {location} failed its check: {message}")]
    CheckFailed { location: String, message: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The file beside a vault's repository that holds its secret wrapped by
/// the keyring (no secret in clear), so the keyring and the vault suffice
/// to open it without the catalog.
pub const SECRET_FILE: &str = "coffer-vault-secret.json";

/// A snapshot as Coffer records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: String,
    pub time: jiff::Timestamp,
    pub tags: Vec<String>,
    pub paths: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    /// Bytes added to the repository (after dedup and compression).
    pub bytes_added: u64,
    /// The snapshot's description (Coffer writes the recovery point's
    /// record there).
    pub description: Option<String>,
}

#[derive(Clone, Debug)]
enum Place {
    Local(PathBuf),
    S3(s3::S3Backend),
}

/// A master key and the SHA-256 of the password that opened it.
type CachedKey = ([u8; 32], rustic_core::repofile::MasterKey);

/// What a snapshot holds, by [`VaultStorage::content`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub digest: String,
    pub stored_bytes: u64,
}

/// A vault's repository, by location.
#[derive(Clone, Debug)]
pub struct VaultStorage {
    location: String,
    place: Place,
    /// The master key after the first open, with the SHA-256 of the
    /// password that opened it (another password opens afresh).
    key: Arc<Mutex<Option<CachedKey>>>,
    observer: Option<Arc<dyn Observer>>,
}

impl VaultStorage {
    /// Storage at a `file://` location.
    ///
    /// # Errors
    /// When the location is not `file://` with an absolute path (an
    /// `s3://` location needs [`VaultStorage::new_s3`]).
    pub fn new(location: &str) -> Result<VaultStorage, StorageError> {
        match StorageLocation::parse(location) {
            Ok(parsed @ StorageLocation::Local(_)) => Self::at(&parsed, None),
            _ => Err(StorageError::UnsupportedLocation(location.to_string())),
        }
    }

    /// Storage at `s3://bucket/prefix` on the endpoint `access` describes
    /// (an `?endpoint=NAME` the location carries is not looked at).
    ///
    /// # Errors
    /// When the location is not `s3://bucket[/prefix]`.
    pub fn new_s3(location: &str, access: &S3Access) -> Result<VaultStorage, StorageError> {
        match StorageLocation::parse(location) {
            Ok(parsed @ StorageLocation::S3 { .. }) => Self::at(&parsed, Some(access)),
            _ => Err(StorageError::UnsupportedLocation(location.to_string())),
        }
    }

    /// Storage at `location`; an `s3://` location is reached through
    /// `access`, its endpoint's settings and credentials.
    ///
    /// # Errors
    /// An `s3://` location without `access`, or settings that cannot make
    /// an S3 client.
    pub fn at(
        location: &StorageLocation,
        access: Option<&S3Access>,
    ) -> Result<VaultStorage, StorageError> {
        let place = match (location, access) {
            (StorageLocation::Local(path), _) => Place::Local(path.clone()),
            (StorageLocation::S3 { bucket, prefix, .. }, Some(access)) => {
                Place::S3(s3::S3Backend::new(bucket, prefix, access).map_err(|e| {
                    StorageError::Engine {
                        location: location.to_string(),
                        message: e.to_string(),
                    }
                })?)
            }
            (StorageLocation::S3 { .. }, None) => {
                return Err(StorageError::NoS3Access(location.to_string()))
            }
        };
        Ok(VaultStorage {
            location: location.to_string(),
            place,
            key: Arc::default(),
            observer: None,
        })
    }

    /// Reports progress of backups and restores to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> VaultStorage {
        self.observer = Some(observer);
        self
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn engine<E: std::fmt::Display>(&self) -> impl Fn(E) -> StorageError + '_ {
        move |e| StorageError::Engine {
            location: self.location.clone(),
            message: e.to_string(),
        }
    }

    /// The root node of a snapshot's tree.
    fn snapshot_root<S: rustic_core::IndexedTree>(
        &self,
        repo: &Repository<S>,
        snapshot_id: &str,
    ) -> Result<rustic_core::repofile::Node, StorageError> {
        let snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        repo.node_from_snapshot_and_path(&snapshot, "")
            .map_err(self.engine())
    }

    fn no_snapshot(&self, id: &str) -> StorageError {
        StorageError::NoSnapshot {
            location: self.location.clone(),
            id: id.to_string(),
        }
    }

    fn repository(&self) -> Result<Repository<()>, StorageError> {
        let backends = match &self.place {
            Place::Local(path) => BackendOptions::default()
                .repository(path.display().to_string())
                .to_backends()
                .map_err(self.engine())?,
            Place::S3(backend) => {
                rustic_core::RepositoryBackends::new(Arc::new(backend.clone()), None)
            }
        };
        // No cache: a vault is read by a daemon and by people, never from ~/.cache.
        let options = RepositoryOptions::default().no_cache(true);
        match &self.observer {
            Some(observer) => {
                Repository::new_with_progress(&options, &backends, Bars(Arc::clone(observer)))
                    .map_err(self.engine())
            }
            None => Repository::new(&options, &backends).map_err(self.engine()),
        }
    }

    fn open(&self, password: &Secret) -> Result<Repository<OpenStatus>, StorageError> {
        use sha2::{Digest, Sha256};
        let fingerprint: [u8; 32] = Sha256::digest(password.expose()).into();
        let mut cached = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, key)) = cached.as_ref() {
            if *seen == fingerprint {
                return self
                    .repository()?
                    .open(&Credentials::Masterkey(key.clone()))
                    .map_err(self.engine());
            }
        }
        let repo = self
            .repository()?
            .open(&credentials(password))
            .map_err(self.engine())?;
        *cached = Some((fingerprint, repo.key()));
        Ok(repo)
    }

    fn snapshot_template(
        &self,
        tags: &[String],
    ) -> Result<rustic_core::repofile::SnapshotFile, StorageError> {
        let mut options = SnapshotOptions::default();
        if !tags.is_empty() {
            options = options.add_tags(&tags.join(",")).map_err(self.engine())?;
        }
        options.to_snapshot().map_err(self.engine())
    }

    /// Deletes a snapshot (its data stays until the vault is pruned).
    ///
    /// # Errors
    /// When the snapshot does not exist or cannot be deleted.
    pub fn delete_snapshot(
        &self,
        password: &Secret,
        snapshot_id: &str,
    ) -> Result<(), StorageError> {
        let repo = self.open(password)?;
        let snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        repo.delete_snapshots(&[snapshot.id]).map_err(self.engine())
    }

    /// Writes `description` into a snapshot: the snapshot file is saved
    /// again with it (a new file, so a new ID), then the old file goes.
    /// Returns the new ID. Were this interrupted between the two, both
    /// files name the same tree and tags.
    ///
    /// # Errors
    /// When the snapshot does not exist or the repository cannot be written.
    pub fn describe_snapshot(
        &self,
        password: &Secret,
        snapshot_id: &str,
        description: &str,
    ) -> Result<String, StorageError> {
        let repo = self.open(password)?;
        let mut snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        let old = snapshot.id;
        snapshot.description = Some(description.to_string());
        // The new file's ID comes back from the write: nothing is listed,
        // so a concurrent rewrite or deletion in the vault cannot get in
        // the way (and listings elsewhere skip the old file once it is
        // gone).
        let new = repo.save_snapshot(&snapshot).map_err(self.engine())?;
        repo.delete_snapshots(&[old]).map_err(self.engine())?;
        Ok(new.to_string())
    }

    /// Writes `bytes` as the file `name` at the repository's root (an
    /// object under an S3 vault's prefix), beside restic's own files,
    /// which restic never reads; a local file is written whole, then
    /// renamed into place.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn put_root_file(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        match &self.place {
            Place::Local(path) => {
                let io = |source| StorageError::Io {
                    path: path.join(name).display().to_string(),
                    source,
                };
                let partial = path.join(format!(".{name}.partial"));
                std::fs::write(&partial, bytes).map_err(io)?;
                std::fs::rename(&partial, path.join(name)).map_err(io)
            }
            Place::S3(backend) => backend
                .put_object(name, bytes.to_vec())
                .map_err(self.engine()),
        }
    }

    /// The file `name` at the repository's root, if it is there.
    ///
    /// # Errors
    /// When it exists but cannot be read.
    pub fn root_file(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match &self.place {
            Place::Local(path) => match std::fs::read(path.join(name)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(StorageError::Io {
                    path: path.join(name).display().to_string(),
                    source,
                }),
            },
            Place::S3(backend) => backend.get_object(name).map_err(self.engine()),
        }
    }

    /// Creates the repository (restic format version 2, compressed).
    ///
    /// # Errors
    /// When it exists already or cannot be written.
    pub fn init(&self, password: &Secret) -> Result<(), StorageError> {
        if let Place::Local(path) = &self.place {
            std::fs::create_dir_all(path).map_err(|source| StorageError::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        self.repository()?
            .init(
                &credentials(password),
                &KeyOptions::default(),
                &config_options(),
            )
            .map_err(self.engine())?;
        Ok(())
    }

    /// Whether a repository exists at the location (an S3 endpoint that
    /// cannot be asked counts as no).
    pub fn exists(&self) -> bool {
        match &self.place {
            Place::Local(path) => path.join("config").is_file(),
            Place::S3(backend) => backend.has_config().unwrap_or(false),
        }
    }

    /// Backs up a directory tree as one snapshot with `tags`, leaving out
    /// paths that match `exclude` (see [`exclude_globs`]). Unchanged files
    /// are recognised from the previous snapshot of the same directory and
    /// not read again.
    ///
    /// # Errors
    /// When the source cannot be read (wholly or in part: the snapshot is
    /// then discarded), a pattern is invalid, or the repository cannot be
    /// written.
    pub fn backup_tree(
        &self,
        password: &Secret,
        source: &Path,
        exclude: &[String],
        tags: &[String],
    ) -> Result<SnapshotInfo, StorageError> {
        let excludes = Excludes::default().globs(exclude_globs(exclude));
        let overrides = excludes
            .as_override()
            .map_err(|e| StorageError::BadExclude {
                patterns: exclude.join(", "),
                message: e.to_string(),
            })?;
        let expected = count_files(source, &|path, is_dir| {
            overrides.matched(path, is_dir).is_ignore()
        })?;
        let repo = self
            .open(password)?
            .to_indexed_ids()
            .map_err(self.engine())?;
        let source_text = source.display().to_string();
        let paths = PathList::from_string(&source_text)
            .map_err(self.engine())?
            .sanitize()
            .map_err(self.engine())?;
        let snapshot = self.snapshot_template(tags)?;
        let options = BackupOptions::default().excludes(excludes);
        let saved = repo
            .backup(&options, &paths, snapshot)
            .map_err(self.engine())?;
        let info = snapshot_info(&saved);
        if info.files != expected {
            repo.delete_snapshots(&[saved.id]).map_err(self.engine())?;
            return Err(StorageError::Incomplete {
                source_path: source_text,
                expected,
                saved: info.files,
            });
        }
        Ok(info)
    }

    /// Every snapshot, oldest first.
    ///
    /// # Errors
    /// When the repository cannot be opened or read.
    pub fn snapshots(&self, password: &Secret) -> Result<Vec<SnapshotInfo>, StorageError> {
        let repo = self.open(password)?;
        let mut all: Vec<SnapshotInfo> = repo
            .get_all_snapshots()
            .map_err(self.engine())?
            .iter()
            .map(snapshot_info)
            .collect();
        all.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        Ok(all)
    }

    /// What a snapshot holds, from its trees alone (unchanged files are
    /// never read again), in one pass:
    ///
    /// - `digest`: the SHA-256 of a canonical listing (one line per entry,
    ///   sorted: path, kind, size, and the restic content IDs of a file's
    ///   chunks), the same for any two snapshots of the same content;
    /// - `stored_bytes`: the bytes its data occupies in the vault (each
    ///   distinct chunk once, compressed and encrypted, whoever else shares
    ///   it).
    ///
    /// # Errors
    /// When the snapshot does not exist or its trees cannot be read.
    pub fn content(&self, password: &Secret, snapshot_id: &str) -> Result<Content, StorageError> {
        use sha2::{Digest, Sha256};
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let root = self.snapshot_root(&repo, snapshot_id)?;
        let mut lines = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stored_bytes = 0u64;
        for item in repo
            .ls(&root, &LsOptions::default().recursive(true))
            .map_err(self.engine())?
        {
            let (path, node) = item.map_err(self.engine())?;
            let mut ids = Vec::new();
            for id in node.content.iter().flatten() {
                ids.push(id.to_string());
                if seen.insert(*id) {
                    let entry = repo.get_index_entry(id).map_err(self.engine())?;
                    stored_bytes += u64::from(entry.location.length);
                }
            }
            lines.push(format!(
                "{}\t{}\t{}\t{}",
                path.display(),
                node.node_type,
                node.meta.size,
                ids.join(",")
            ));
        }
        lines.sort();
        let mut hasher = Sha256::new();
        for line in &lines {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        Ok(Content {
            digest: hex::encode(hasher.finalize()),
            stored_bytes,
        })
    }

    /// The content digest of a snapshot (see [`VaultStorage::content`]).
    ///
    /// # Errors
    /// When the snapshot does not exist or its trees cannot be read.
    pub fn tree_digest(
        &self,
        password: &Secret,
        snapshot_id: &str,
    ) -> Result<String, StorageError> {
        Ok(self.content(password, snapshot_id)?.digest)
    }

    /// The bytes a snapshot's data occupies (see [`VaultStorage::content`]).
    ///
    /// # Errors
    /// When the snapshot does not exist or its trees cannot be read.
    pub fn stored_bytes(&self, password: &Secret, snapshot_id: &str) -> Result<u64, StorageError> {
        Ok(self.content(password, snapshot_id)?.stored_bytes)
    }

    /// Checks the repository's structure, and with `read_data` every pack.
    ///
    /// # Errors
    /// When the check finds a problem.
    pub fn check(&self, password: &Secret, read_data: bool) -> Result<(), StorageError> {
        self.check_subset(password, read_data.then_some("all"))
    }

    /// Checks the repository's structure and reads back `subset` of its
    /// data: `all`, a percentage (`10%`), or `n/m` (the n-th of m parts;
    /// running 1/m .. m/m in turn covers everything), decrypting and
    /// verifying every chunk read.
    ///
    /// # Errors
    /// When the subset is not understood or the check finds a problem.
    pub fn check_subset(
        &self,
        password: &Secret,
        subset: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut options = CheckOptions::default();
        if let Some(subset) = subset {
            let parsed: rustic_core::ReadSubsetOption =
                subset.parse().map_err(|e| StorageError::Engine {
                    location: self.location.clone(),
                    message: format!(
                        "read-data subset {subset:?}: {e}; use all, a percentage like 10%, or n/m"
                    ),
                })?;
            options = options.read_data(true).read_data_subset(parsed);
        }
        let repo = self.open(password)?;
        let results = unpanic(&self.location, || repo.check(options))?.map_err(self.engine())?;
        results.is_ok().map_err(|e| StorageError::CheckFailed {
            location: self.location.clone(),
            message: e.to_string(),
        })
    }
}

/// Checks the text of a read-data subset (`all`, `N%`, `n/m`) before a
/// check runs; the error says what is allowed.
///
/// # Errors
/// When the text is no subset.
pub fn parse_read_subset(subset: &str) -> Result<(), String> {
    subset
        .parse::<rustic_core::ReadSubsetOption>()
        .map(|_| ())
        .map_err(|e| {
            format!("read-data subset {subset:?}: {e}; use all, a percentage like 10%, or n/m")
        })
}

/// Repository settings for new vaults: data packs of 16 MiB growing to at
/// most 32 MiB (restic's size class). A pack is assembled in memory, so
/// rustic's default (32 MiB growing with the square root of the repository
/// size, without limit) makes a backup's memory grow with the vault.
/// rustic's extra verification (decrypting and decompressing every pack
/// again before it is written, about 12% of a backup's CPU) is off, as in
/// restic: the data is verified by reading it back from the vault instead
/// (`coffer restore validate`, and the vault checks).
fn config_options() -> ConfigOptions {
    let mut options = ConfigOptions::default().set_extra_verify(Some(false));
    options.set_datapack_size = Some(bytesize::ByteSize::mib(16));
    options.set_datapack_size_limit = Some(bytesize::ByteSize::mib(32));
    options
}

fn credentials(password: &Secret) -> Credentials {
    Credentials::password(hex::encode(password.expose()))
}

/// The restic password of a vault secret, for disaster recovery by hand.
pub fn restic_password(secret: &Secret) -> String {
    hex::encode(secret.expose())
}

fn snapshot_info(snapshot: &rustic_core::repofile::SnapshotFile) -> SnapshotInfo {
    let summary = snapshot.summary.as_ref();
    let nanos = snapshot.time.timestamp().as_nanosecond();
    SnapshotInfo {
        id: snapshot.id.to_string(),
        time: jiff::Timestamp::from_nanosecond(nanos).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        tags: snapshot.tags.iter().cloned().collect(),
        paths: snapshot.paths.iter().cloned().collect(),
        files: summary.map_or(0, |s| s.total_files_processed),
        bytes: summary.map_or(0, |s| s.total_bytes_processed),
        bytes_added: summary.map_or(0, |s| s.data_added_packed),
        description: snapshot.description.clone(),
    }
}

/// Exclude patterns as `rustic_core` (gitignore-style override globs)
/// takes them. Coffer's patterns follow restic's `--exclude`: `*` stays
/// within one path component, `**` crosses components, and a pattern
/// matches at any depth (a matching directory is left out whole).
pub fn exclude_globs(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .map(|p| {
            let p = p.trim_start_matches('/');
            if p.starts_with("**/") {
                format!("!{p}")
            } else {
                format!("!**/{p}")
            }
        })
        .collect()
}

/// Entries other than directories under `root` (files, symlinks, special
/// files; symlinks not followed), as the archiver counts them, skipping
/// what `excluded` says the archiver skips.
fn count_files(root: &Path, excluded: &dyn Fn(&Path, bool) -> bool) -> Result<u64, StorageError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| StorageError::Io { path, source }
    };
    let metadata = std::fs::symlink_metadata(root).map_err(io(root))?;
    if !metadata.is_dir() {
        return Ok(1);
    }
    let mut count = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if excluded(&entry.path(), kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Runs `f`, turning a panic inside the storage engine (it panics on some
/// damaged data, storage-engine.md pitfall 4) into an error.
fn unpanic<T>(location: &str, f: impl FnOnce() -> T) -> Result<T, StorageError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the storage engine stopped on damaged data");
        StorageError::Engine {
            location: location.to_string(),
            message: format!("data could not be read (damaged vault?): {message}"),
        }
    })
}

/// The engine's byte counters, forwarded to an [`Observer`] (counters and
/// spinners stay hidden: bytes are what a person watches).
#[derive(Debug)]
struct Bars(Arc<dyn Observer>);

#[derive(Debug)]
struct BytesBar(Arc<dyn Observer>);

impl rustic_core::RusticProgress for BytesBar {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.phase("backup", Some(len));
    }
    fn set_title(&self, _title: &str) {}
    fn inc(&self, inc: u64) {
        self.0.advance(inc);
    }
    fn finish(&self) {}
}

impl rustic_core::ProgressBars for Bars {
    fn progress(
        &self,
        progress_type: rustic_core::ProgressType,
        _prefix: &str,
    ) -> rustic_core::Progress {
        match progress_type {
            rustic_core::ProgressType::Bytes => {
                rustic_core::Progress::new(BytesBar(Arc::clone(&self.0)))
            }
            _ => rustic_core::Progress::hidden(),
        }
    }
}

/// What a prune did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneSummary {
    /// Packs no snapshot needs any more, marked now and removed by a later
    /// prune (two-phase: a backup running meanwhile may still use them).
    pub marked: u64,
    /// Packs marked by an earlier prune, removed now.
    pub removed: u64,
    /// Packs rewritten because only part of them is still needed.
    pub repacked: u64,
}

impl VaultStorage {
    /// Reclaims the space of deleted snapshots, in two phases (rustic's
    /// default): unneeded packs are marked now and removed once they have
    /// been marked for 23 hours. Coffer is the only tool that prunes a
    /// vault; `restic prune` must never run on one (storage-engine.md).
    ///
    /// # Errors
    /// When the repository cannot be read or written.
    pub fn prune(&self, password: &Secret) -> Result<PruneSummary, StorageError> {
        let repo = self.open(password)?;
        let options = rustic_core::PruneOptions::default();
        let plan = repo.prune_plan(&options).map_err(self.engine())?;
        let stats = &plan.stats;
        let summary = PruneSummary {
            marked: stats.packs.unused,
            removed: stats.packs_to_delete.remove,
            repacked: stats.packs.repack,
        };
        repo.prune(&options, plan).map_err(self.engine())?;
        Ok(summary)
    }
}
