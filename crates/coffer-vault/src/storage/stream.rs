//! Backing up one stream (a database dump, a SQLite snapshot) as a
//! one-file snapshot, and reading a file of a snapshot back as a stream.
//!
//! `rustic_core` swallows a reader's error and saves a snapshot without
//! the file (storage-engine.md, pitfall 2). The stream is therefore read
//! through [`Tap`], which counts and hashes every byte and keeps the first
//! error; after the archive, a snapshot that does not hold exactly the
//! bytes read, or whose reader failed, is deleted and the backup fails.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{BackupOptions, ReadSource, ReadSourceEntry, RusticResult};
use sha2::{Digest, Sha256};

use super::{StorageError, VaultStorage};
use crate::keyring::Secret;
use crate::storage::SnapshotInfo;

/// What a stream backup saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamBackup {
    pub snapshot: SnapshotInfo,
    /// Bytes read from the stream.
    pub bytes: u64,
    /// SHA-256 of the stream, hex.
    pub sha256: String,
}

#[derive(Debug, Default)]
struct TapState {
    bytes: u64,
    hasher: Sha256,
    error: Option<String>,
}

/// A reader that counts, hashes and remembers the first error.
struct Tap<R> {
    inner: R,
    /// An error met after some bytes of a read; returned by the next read.
    pending: Option<std::io::Error>,
    state: Arc<Mutex<TapState>>,
    observer: Option<Arc<dyn super::Observer>>,
}

impl<R: Read> Tap<R> {
    /// Reads until `buf` is full or the stream ends. The chunker shrinks
    /// its buffer to the length of any short read and never grows it back,
    /// so a pipe's short reads would end in one-byte reads (measured: 290 s
    /// of system time for a 1 GB pg_dump); full reads keep it whole.
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if filled > 0 => {
                    // Hand over what was read; the error comes back next time.
                    self.pending = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = match self.pending.take() {
            Some(error) => Err(error),
            None => self.fill(buf),
        };
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(n) => {
                state.bytes += *n as u64;
                state.hasher.update(&buf[..*n]);
                if let Some(observer) = &self.observer {
                    observer.advance(*n as u64);
                }
            }
            Err(e) => {
                if state.error.is_none() {
                    state.error = Some(e.to_string());
                }
            }
        }
        result
    }
}

/// One entry: the stream, under `name`.
struct StreamSource<R> {
    name: String,
    reader: Mutex<Option<Tap<R>>>,
}

impl<R: Read + Send + 'static> ReadSource for StreamSource<R> {
    type Open = Tap<R>;
    type Iter = std::option::IntoIter<RusticResult<ReadSourceEntry<Tap<R>>>>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let open = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let now = rustic_core::jiff::Timestamp::now();
        // Mode and mtime set explicitly: restic restores a node without a
        // mode as mode 0000 (storage-engine.md, pitfall 3). The mode is in
        // restic's (Go's) form: a regular file has no type bits.
        let meta = Metadata {
            mode: Some(0o600),
            mtime: Some(now),
            ..Metadata::default()
        };
        let node = Node::new_node(self.name.as_ref(), NodeType::File, meta);
        open.map(|open| {
            Ok(ReadSourceEntry {
                path: PathBuf::from(&self.name),
                node,
                open: Some(open),
            })
        })
        .into_iter()
    }
}

impl VaultStorage {
    /// Backs up everything `reader` yields as the one file `name` of a new
    /// snapshot with `tags`. The stream is never staged on disk.
    ///
    /// # Errors
    /// When the reader fails (the snapshot is then deleted: nothing is
    /// left that looks like a backup) or the repository cannot be written.
    pub fn backup_stream<R: Read + Send + 'static>(
        &self,
        password: &Secret,
        name: &str,
        reader: R,
        tags: &[String],
    ) -> Result<StreamBackup, StorageError> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(StorageError::Engine {
                location: self.location.clone(),
                message: format!("stream name {name:?} must be a plain file name"),
            });
        }
        let state = Arc::new(Mutex::new(TapState::default()));
        let source = StreamSource {
            name: name.to_string(),
            reader: Mutex::new(Some(Tap {
                inner: reader,
                pending: None,
                state: Arc::clone(&state),
                observer: self.observer.clone(),
            })),
        };
        let repo = self
            .open(password)?
            .to_indexed_ids()
            .map_err(self.engine())?;
        let snapshot = self.snapshot_template(tags)?;
        let saved = repo
            .archive(
                &BackupOptions::default(),
                &source,
                snapshot,
                &[PathBuf::from(name)],
            )
            .map_err(self.engine())?;
        let info = super::snapshot_info(&saved);
        let (bytes, sha256, error) = {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            let hasher = std::mem::take(&mut state.hasher);
            (
                state.bytes,
                hex::encode(hasher.finalize()),
                state.error.take(),
            )
        };
        let problem = match error {
            Some(error) => Some(format!(
                "reading the stream failed after {bytes} bytes: {error}"
            )),
            None if info.files != 1 || info.bytes != bytes => Some(format!(
                "the snapshot holds {} file(s) and {} bytes, but {bytes} bytes were read",
                info.files, info.bytes
            )),
            None => None,
        };
        self.discard_on(&repo, saved.id, name, problem)?;
        Ok(StreamBackup {
            snapshot: info,
            bytes,
            sha256,
        })
    }

    /// Deletes the snapshot just saved when `problem` says it is not what
    /// was read, and fails with it: nothing incomplete stays visible.
    ///
    /// # Errors
    /// `StreamFailed` with the problem, or the deletion's failure.
    pub(super) fn discard_on<S: rustic_core::Open>(
        &self,
        repo: &rustic_core::Repository<S>,
        saved: rustic_core::repofile::SnapshotId,
        name: &str,
        problem: Option<String>,
    ) -> Result<(), StorageError> {
        let Some(message) = problem else {
            return Ok(());
        };
        repo.delete_snapshots(&[saved]).map_err(self.engine())?;
        Err(StorageError::StreamFailed {
            name: name.to_string(),
            message,
        })
    }

    /// Writes the file at `path` of a snapshot to `out` (a stream
    /// snapshot's one file is at its name). Reads in order with bounded
    /// memory.
    ///
    /// # Errors
    /// When the snapshot or path does not exist, or its data cannot be
    /// read or decrypted (a damaged pack).
    pub fn dump(
        &self,
        password: &Secret,
        snapshot_id: &str,
        path: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), StorageError> {
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        let node = repo
            .node_from_snapshot_and_path(&snapshot, path)
            .map_err(|e| StorageError::NoPath {
                location: self.location.clone(),
                id: snapshot_id.to_string(),
                path: path.to_string(),
                message: e.to_string(),
            })?;
        let mut writer = Counting {
            inner: out,
            observer: self.observer.clone(),
        };
        super::unpanic(&self.location, || repo.dump(&node, &mut writer))?.map_err(self.engine())
    }
}

/// What reading a snapshot back found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadBack {
    pub files: u64,
    pub bytes: u64,
    /// SHA-256 of the data when the snapshot is one stream (its one file).
    pub stream_sha256: Option<String>,
}

impl VaultStorage {
    /// Reads every file of a snapshot back from the vault (decrypting and
    /// checking every blob it uses) and compares each file's length with
    /// the size the snapshot records. Nothing is written to disk.
    ///
    /// # Errors
    /// When data is missing or damaged, or a length differs.
    pub fn read_back(
        &self,
        password: &Secret,
        snapshot_id: &str,
    ) -> Result<ReadBack, StorageError> {
        use rustic_core::LsOptions;
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let root = self.snapshot_root(&repo, snapshot_id)?;
        let mut result = ReadBack::default();
        let mut digests = Vec::new();
        for item in repo
            .ls(&root, &LsOptions::default().recursive(true))
            .map_err(self.engine())?
        {
            let (path, node) = item.map_err(self.engine())?;
            if !node.is_file() {
                continue;
            }
            let mut sink = HashingSink::default();
            super::unpanic(&self.location, || repo.dump(&node, &mut sink))?
                .map_err(self.engine())?;
            if sink.bytes != node.meta.size {
                return Err(StorageError::CheckFailed {
                    location: self.location.clone(),
                    message: format!(
                        "{} in snapshot {snapshot_id}: {} bytes read back, {} recorded",
                        path.display(),
                        sink.bytes,
                        node.meta.size
                    ),
                });
            }
            result.files += 1;
            result.bytes += sink.bytes;
            digests.push(hex::encode(sink.hasher.finalize()));
        }
        if result.files == 1 {
            result.stream_sha256 = digests.pop();
        }
        Ok(result)
    }
}

#[derive(Default)]
struct HashingSink {
    hasher: Sha256,
    bytes: u64,
}

impl std::io::Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Counting<'a> {
    inner: &'a mut (dyn std::io::Write + Send),
    observer: Option<Arc<dyn super::Observer>>,
}

impl std::io::Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(observer) = &self.observer {
            observer.advance(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl VaultStorage {
    /// Copies a snapshot into another vault, with `tags` instead of its
    /// own: only chunks the destination lacks are sent, re-encrypted with
    /// the destination's key. The copy is a snapshot of the destination,
    /// restorable without the source.
    ///
    /// # Errors
    /// When either vault cannot be opened, the snapshot does not exist, or
    /// the destination cannot be written.
    pub fn copy_snapshot(
        &self,
        password: &Secret,
        snapshot_id: &str,
        destination: &VaultStorage,
        destination_password: &Secret,
        tags: &[String],
    ) -> Result<super::SnapshotInfo, StorageError> {
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let mut snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        let template = destination.snapshot_template(tags)?;
        snapshot.tags = template.tags;
        let dest = destination
            .open(destination_password)?
            .to_indexed_ids()
            .map_err(destination.engine())?;
        super::unpanic(&self.location, || repo.copy(&dest, [&snapshot]))?
            .map_err(destination.engine())?;
        // The copy's ID is computed when it is saved: find it by its tree
        // and time, which it keeps.
        let copied = dest
            .get_all_snapshots()
            .map_err(destination.engine())?
            .into_iter()
            .find(|s| s.tree == snapshot.tree && s.time == snapshot.time && s.tags == snapshot.tags)
            .ok_or_else(|| StorageError::Engine {
                location: destination.location.clone(),
                message: format!("the copy of snapshot {snapshot_id} is not in the destination"),
            })?;
        Ok(super::snapshot_info(&copied))
    }
}
