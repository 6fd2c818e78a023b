//! Backing up a set of objects (an S3 bucket's) as one tree snapshot, and
//! reading such a snapshot back object by object.
//!
//! The tree holds each object's bytes at `objects/<key>`, so `restic ls`
//! lists the keys, and a manifest at `objects.jsonl` (one JSON line per
//! object, in tree order, written by the caller), which sorts after the
//! `objects` directory and is therefore archived last. Objects the caller
//! marks as history (a bucket's noncurrent versions and delete markers)
//! are at `history/<path>`, which sorts before `objects`.
//!
//! Objects come one at a time from the caller's iterator, in tree order
//! (keys compared component by component), and a body is opened only when
//! `rustic_core`'s parent comparison finds the object changed: the node
//! carries the object's size, its mtime (LastModified) and, in the inode
//! field, a number the caller derives from its ETag; the parent is compared
//! with inodes (`ignore_inode`), so a different ETag is a change even
//! within the same second. Every object settles once: read (bytes and
//! SHA-256 of what was read), left unread (unchanged since the parent),
//! or vanished (gone when opened). The caller turns each settlement into
//! the object's manifest line; the lines are put in order through a small
//! reorder buffer (memory bounded by the objects in flight, not by the
//! bucket) and spooled to an anonymous temporary file, which the manifest
//! entry reads once every object has settled.
//!
//! As with streams (`stream.rs`), `rustic_core` swallows a reader's error
//! and leaves the file out: the first error is kept, and a snapshot whose
//! files are not exactly the objects settled is deleted before the error
//! returns.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{
    BackupOptions, LsOptions, ParentOptions, ReadSource, ReadSourceEntry, ReadSourceOpen,
    RusticResult, SnapshotGroupCriterion,
};
use sha2::{Digest, Sha256};

use super::{SnapshotInfo, StorageError, VaultStorage};
use crate::keyring::Secret;

/// The directory of an object snapshot that holds the objects' bytes.
pub const OBJECTS_ROOT: &str = "objects";
/// The manifest file of an object snapshot (JSON lines, in tree order).
pub const OBJECTS_MANIFEST: &str = "objects.jsonl";
/// The directory of an object snapshot that holds the objects the caller
/// marked as history (noncurrent versions); it sorts before [`OBJECTS_ROOT`].
pub const HISTORY_ROOT: &str = "history";

/// One object to back up.
pub struct TreeObject {
    /// Its path below [`OBJECTS_ROOT`] (an object's key), or below
    /// [`HISTORY_ROOT`] when `history`: components separated by `/`, none
    /// empty, `.` or `..`. Every history object comes before the others.
    pub path: String,
    pub history: bool,
    pub size: u64,
    /// When it last changed (an object's LastModified).
    pub mtime: jiff::Timestamp,
    /// A nonzero number that differs whenever the content may differ (from
    /// an object's ETag): with size and mtime, what makes it unchanged.
    pub change_id: u64,
    pub body: Box<dyn ObjectBody>,
}

impl std::fmt::Debug for TreeObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeObject")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("mtime", &self.mtime)
            .finish_non_exhaustive()
    }
}

/// How an object settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Its body was read whole.
    Read { bytes: u64, sha256: String },
    /// Its body was not read: unchanged since the parent snapshot.
    Unchanged,
    /// It was gone when opened, and is not in the snapshot.
    Vanished,
}

/// An object's body and its manifest line, supplied by the caller.
pub trait ObjectBody: Send {
    /// Opens the body. An error of kind `NotFound` means the object is
    /// gone (it is left out); any other error fails the backup.
    ///
    /// # Errors
    /// When the object cannot be read.
    fn open(&mut self) -> std::io::Result<Box<dyn Read + Send>>;

    /// The object's manifest line (one JSON document, no newline) once it
    /// settled; `None` leaves it out of the manifest (a vanished object).
    ///
    /// # Errors
    /// When the line cannot be made (an unchanged object whose earlier
    /// line is unknown, a tag read that failed): the backup fails.
    fn settle(&mut self, how: Settled) -> Result<Option<String>, String>;
}

/// What an object backup saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectsBackup {
    pub snapshot: SnapshotInfo,
    /// Objects in the snapshot.
    pub objects: u64,
    /// Objects whose bodies were read (the others were unchanged).
    pub objects_read: u64,
    /// Bytes of the bodies read.
    pub bytes_read: u64,
    /// Objects listed but gone when opened.
    pub vanished: u64,
    /// SHA-256 of the manifest, hex.
    pub manifest_sha256: String,
}

/// One object of a snapshot, as [`VaultStorage::visit_objects`] gives it.
pub struct StoredObject<'a> {
    /// Its path below [`OBJECTS_ROOT`].
    pub path: &'a str,
    pub size: u64,
    read: &'a mut dyn FnMut(&mut dyn Write) -> Result<u64, StorageError>,
}

impl std::fmt::Debug for StoredObject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredObject")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl StoredObject<'_> {
    /// Writes the object's bytes to `out`, one chunk in memory at a time;
    /// returns the bytes written.
    ///
    /// # Errors
    /// When its data cannot be read or decrypted, `out` fails, or fewer
    /// bytes than recorded come back.
    pub fn read_into(&mut self, out: &mut dyn Write) -> Result<u64, StorageError> {
        (self.read)(out)
    }
}

/// Compares two paths component by component, as trees order entries
/// (`a` < `a.txt` < `a/b` as keys, but the directory `a` comes first).
pub fn tree_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/')
        .map(str::as_bytes)
        .cmp(b.split('/').map(str::as_bytes))
}

#[derive(Default)]
struct State {
    /// Settled lines waiting for an earlier object, by index.
    pending: BTreeMap<u64, Option<String>>,
    /// The index of the next line to spool.
    next: u64,
    /// Objects yielded, once the caller's iterator ended.
    total: Option<u64>,
    spool: Option<BufWriter<std::fs::File>>,
    error: Option<String>,
    lines: u64,
    objects_read: u64,
    bytes_read: u64,
    vanished: u64,
}

struct Shared {
    state: Mutex<State>,
    settled: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, message: String) {
        let mut state = self.lock();
        if state.error.is_none() {
            state.error = Some(message);
        }
        drop(state);
        self.settled.notify_all();
    }

    /// Records object `index` as settled `how`, spooling every line now in order.
    fn settle(&self, index: u64, path: &str, body: &mut dyn ObjectBody, how: Settled) {
        let line = match body.settle(how.clone()) {
            Ok(line) => line,
            Err(message) => {
                self.fail(format!("{path}: {message}"));
                None
            }
        };
        let mut state = self.lock();
        match how {
            Settled::Read { bytes, .. } => {
                state.objects_read += 1;
                state.bytes_read += bytes;
            }
            Settled::Vanished => state.vanished += 1,
            Settled::Unchanged => {}
        }
        state.pending.insert(index, line);
        loop {
            let next = state.next;
            let Some(line) = state.pending.remove(&next) else {
                break;
            };
            state.next += 1;
            if let Some(line) = line {
                state.lines += 1;
                let written = match state.spool.as_mut() {
                    Some(spool) => spool
                        .write_all(line.as_bytes())
                        .and_then(|()| spool.write_all(b"\n")),
                    None => Ok(()),
                };
                if let Err(e) = written {
                    if state.error.is_none() {
                        state.error = Some(format!("spooling the manifest: {e}"));
                    }
                }
            }
        }
        drop(state);
        self.settled.notify_all();
    }
}

/// An object's body until the archiver opens it, or drops it unopened
/// (unchanged since the parent).
struct Pending {
    index: u64,
    path: String,
    body: Option<Box<dyn ObjectBody>>,
    shared: Arc<Shared>,
}

impl ReadSourceOpen for Pending {
    type Reader = BodyReader;

    fn open(mut self) -> RusticResult<BodyReader> {
        let Some(mut body) = self.body.take() else {
            return Err(rustic_core::RusticError::new(
                rustic_core::ErrorKind::Internal,
                "object opened twice",
            ));
        };
        match body.open() {
            Ok(reader) => Ok(BodyReader {
                index: self.index,
                path: std::mem::take(&mut self.path),
                inner: reader,
                body: Some(body),
                hasher: Sha256::new(),
                bytes: 0,
                shared: Arc::clone(&self.shared),
            }),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    self.shared
                        .fail(format!("{}: cannot be opened: {e}", self.path));
                }
                self.shared
                    .settle(self.index, &self.path, body.as_mut(), Settled::Vanished);
                Err(rustic_core::RusticError::with_source(
                    rustic_core::ErrorKind::InputOutput,
                    "cannot open object {path}",
                    e,
                )
                .attach_context("path", self.path.clone()))
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut body) = self.body.take() {
            self.shared
                .settle(self.index, &self.path, body.as_mut(), Settled::Unchanged);
        }
    }
}

/// An object's body as the archiver reads it: counted and hashed; the end
/// of the body settles the object.
struct BodyReader {
    index: u64,
    path: String,
    inner: Box<dyn Read + Send>,
    body: Option<Box<dyn ObjectBody>>,
    hasher: Sha256,
    bytes: u64,
    shared: Arc<Shared>,
}

impl BodyReader {
    /// Reads until `buf` is full or the body ends: the chunker shrinks its
    /// buffer to any short read and never grows it back (see `stream.rs`).
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.fill(buf) {
            Ok(0) => {
                if let Some(mut body) = self.body.take() {
                    let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
                    let how = Settled::Read {
                        bytes: self.bytes,
                        sha256,
                    };
                    self.shared
                        .settle(self.index, &self.path, body.as_mut(), how);
                }
                Ok(0)
            }
            Ok(n) => {
                self.bytes += n as u64;
                self.hasher.update(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                self.shared.fail(format!(
                    "{}: reading failed after {} bytes: {e}",
                    self.path, self.bytes
                ));
                if let Some(mut body) = self.body.take() {
                    self.shared
                        .settle(self.index, &self.path, body.as_mut(), Settled::Vanished);
                }
                Err(e)
            }
        }
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        if let Some(mut body) = self.body.take() {
            self.shared.fail(format!(
                "{}: reading stopped after {} bytes",
                self.path, self.bytes
            ));
            self.shared
                .settle(self.index, &self.path, body.as_mut(), Settled::Vanished);
        }
    }
}

/// The manifest as the archiver reads it: waits until every object has
/// settled, then reads the spool from its start.
struct ManifestReader {
    shared: Arc<Shared>,
    file: Option<std::fs::File>,
    hasher: Arc<Mutex<Sha256>>,
}

impl Read for ManifestReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.file.is_none() {
            let mut state = self.shared.lock();
            loop {
                if let Some(error) = &state.error {
                    return Err(std::io::Error::other(error.clone()));
                }
                if state.total == Some(state.next) {
                    break;
                }
                state = self
                    .shared
                    .settled
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let Some(spool) = state.spool.take() else {
                return Err(std::io::Error::other("the manifest was read twice"));
            };
            let mut file = spool.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        // Full reads, as for bodies.
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        self.hasher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .update(&buf[..filled]);
        Ok(filled)
    }
}

/// Either an object's body or the manifest.
enum Opener {
    Object(Pending),
    Manifest(ManifestReader),
}

enum Opened {
    Object(BodyReader),
    Manifest(ManifestReader),
}

impl Read for Opened {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Opened::Object(reader) => reader.read(buf),
            Opened::Manifest(reader) => reader.read(buf),
        }
    }
}

impl ReadSourceOpen for Opener {
    type Reader = Opened;

    fn open(self) -> RusticResult<Opened> {
        match self {
            Opener::Object(pending) => pending.open().map(Opened::Object),
            Opener::Manifest(reader) => Ok(Opened::Manifest(reader)),
        }
    }
}

type Objects = Box<dyn Iterator<Item = Result<TreeObject, String>> + Send>;

struct Source {
    objects: Mutex<Option<Objects>>,
    shared: Arc<Shared>,
    manifest_hasher: Arc<Mutex<Sha256>>,
}

struct Entries {
    objects: Option<Objects>,
    shared: Arc<Shared>,
    manifest_hasher: Arc<Mutex<Sha256>>,
    index: u64,
    previous: Option<String>,
    manifest_done: bool,
}

impl Entries {
    fn end(&mut self) {
        self.objects = None;
        let mut state = self.shared.lock();
        state.total = Some(self.index);
        drop(state);
        self.shared.settled.notify_all();
    }

    fn object(&mut self, object: TreeObject) -> Result<ReadSourceEntry<Opener>, String> {
        let components_ok = !object.path.is_empty()
            && object
                .path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !components_ok {
            return Err(format!(
                "the key {:?} cannot be a path in a tree (an empty, . or .. component)",
                object.path
            ));
        }
        let root = if object.history {
            HISTORY_ROOT
        } else {
            OBJECTS_ROOT
        };
        let full_path = format!("{root}/{}", object.path);
        if let Some(previous) = &self.previous {
            if full_path.starts_with(&format!("{previous}/")) {
                return Err(format!(
                    "the key {previous:?} is also the folder of {:?}: a tree cannot hold both",
                    object.path
                ));
            }
            if tree_order(previous, &full_path) != std::cmp::Ordering::Less {
                return Err(format!(
                    "objects came out of tree order: {:?} after {previous:?}",
                    object.path
                ));
            }
        }
        let name = object.path.rsplit('/').next().unwrap_or(&object.path);
        let nanos = object.mtime.as_nanosecond();
        let mtime = rustic_core::jiff::Timestamp::from_nanosecond(nanos)
            .map_err(|e| format!("{}: LastModified {}: {e}", object.path, object.mtime))?;
        let meta = Metadata {
            mode: Some(0o644),
            mtime: Some(mtime),
            size: object.size,
            inode: object.change_id.max(1),
            ..Metadata::default()
        };
        let node = Node::new_node(name.as_ref(), NodeType::File, meta);
        let index = self.index;
        self.index += 1;
        self.previous = Some(full_path);
        Ok(ReadSourceEntry {
            path: PathBuf::from(root).join(&object.path),
            node,
            open: Some(Opener::Object(Pending {
                index,
                path: object.path,
                body: Some(object.body),
                shared: Arc::clone(&self.shared),
            })),
        })
    }
}

impl Iterator for Entries {
    type Item = RusticResult<ReadSourceEntry<Opener>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(objects) = self.objects.as_mut() {
            match objects.next() {
                Some(Ok(object)) => match self.object(object) {
                    Ok(entry) => return Some(Ok(entry)),
                    Err(message) => {
                        self.shared.fail(message);
                        self.end();
                    }
                },
                Some(Err(message)) => {
                    self.shared.fail(message);
                    self.end();
                }
                None => self.end(),
            }
        }
        if self.manifest_done {
            return None;
        }
        self.manifest_done = true;
        let meta = Metadata {
            mode: Some(0o600),
            mtime: Some(rustic_core::jiff::Timestamp::now()),
            ..Metadata::default()
        };
        Some(Ok(ReadSourceEntry {
            path: PathBuf::from(OBJECTS_MANIFEST),
            node: Node::new_node(OBJECTS_MANIFEST.as_ref(), NodeType::File, meta),
            open: Some(Opener::Manifest(ManifestReader {
                shared: Arc::clone(&self.shared),
                file: None,
                hasher: Arc::clone(&self.manifest_hasher),
            })),
        }))
    }
}

impl ReadSource for Source {
    type Open = Opener;
    type Iter = Entries;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Entries {
        Entries {
            objects: self
                .objects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
            shared: Arc::clone(&self.shared),
            manifest_hasher: Arc::clone(&self.manifest_hasher),
            index: 0,
            previous: None,
            manifest_done: false,
        }
    }
}

impl VaultStorage {
    /// Backs up `objects` (in tree order, see [`tree_order`]) as one tree
    /// snapshot with `tags`, with their manifest; objects unchanged since
    /// the snapshot `parent` (size, mtime, change ID) are not opened.
    ///
    /// # Errors
    /// When the objects come out of order, a body cannot be read, a line
    /// cannot be made, or the repository cannot be written; a snapshot
    /// saved meanwhile is deleted first.
    pub fn backup_objects(
        &self,
        password: &Secret,
        objects: Objects,
        parent: Option<&str>,
        tags: &[String],
    ) -> Result<ObjectsBackup, StorageError> {
        let spool = tempfile::tempfile().map_err(|source| StorageError::Io {
            path: "a temporary file for the manifest".into(),
            source,
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                spool: Some(BufWriter::new(spool)),
                ..State::default()
            }),
            settled: Condvar::new(),
        });
        let manifest_hasher = Arc::new(Mutex::new(Sha256::new()));
        let source = Source {
            objects: Mutex::new(Some(objects)),
            shared: Arc::clone(&shared),
            manifest_hasher: Arc::clone(&manifest_hasher),
        };
        let repo = self
            .open(password)?
            .to_indexed_ids()
            .map_err(self.engine())?;
        let mut parent_opts = ParentOptions::default();
        parent_opts.group_by = Some(SnapshotGroupCriterion::new());
        parent_opts.ignore_inode = true;
        match parent {
            Some(id) => parent_opts.parents = vec![id.to_string()],
            None => parent_opts.force = true,
        }
        let options = BackupOptions::default().parent_opts(parent_opts);
        let snapshot = self.snapshot_template(tags)?;
        let saved = repo
            .archive(&options, &source, snapshot, &[PathBuf::from(OBJECTS_ROOT)])
            .map_err(self.engine())?;
        let info = super::snapshot_info(&saved);
        let state = std::mem::take(&mut *shared.lock());
        let manifest_sha256 = hex::encode(
            std::mem::take(
                &mut *manifest_hasher
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            )
            .finalize(),
        );
        let problem = match state.error {
            Some(error) => Some(error),
            None if info.files != state.lines + 1 => Some(format!(
                "the snapshot holds {} file(s), but the manifest lists {} object(s)",
                info.files, state.lines
            )),
            None => None,
        };
        self.discard_on(&repo, saved.id, OBJECTS_ROOT, problem)?;
        Ok(ObjectsBackup {
            snapshot: info,
            objects: state.lines,
            objects_read: state.objects_read,
            bytes_read: state.bytes_read,
            vanished: state.vanished,
            manifest_sha256,
        })
    }

    /// The newest snapshot carrying `tag` that holds objects (its path is
    /// [`OBJECTS_ROOT`]): the parent of the next object backup.
    ///
    /// # Errors
    /// When the repository cannot be read.
    pub fn latest_objects_snapshot(
        &self,
        password: &Secret,
        tag: &str,
    ) -> Result<Option<SnapshotInfo>, StorageError> {
        Ok(self
            .snapshots(password)?
            .into_iter()
            .rfind(|s| s.paths == [OBJECTS_ROOT] && s.tags.iter().any(|t| t == tag)))
    }

    /// Visits every object of an object snapshot in tree order, its path,
    /// size and a way to read its bytes (one chunk in memory at a time).
    ///
    /// # Errors
    /// When the snapshot cannot be read, or `visit` fails (its message is
    /// returned as the error).
    pub fn visit_objects(
        &self,
        password: &Secret,
        snapshot_id: &str,
        visit: &mut dyn FnMut(StoredObject<'_>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.visit_tree(password, snapshot_id, OBJECTS_ROOT, visit)
    }

    /// Visits every history object of an object snapshot (below
    /// [`HISTORY_ROOT`]) in tree order, as [`VaultStorage::visit_objects`]
    /// visits the others; a snapshot without history has none.
    ///
    /// # Errors
    /// As [`VaultStorage::visit_objects`].
    pub fn visit_history(
        &self,
        password: &Secret,
        snapshot_id: &str,
        visit: &mut dyn FnMut(StoredObject<'_>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.visit_tree(password, snapshot_id, HISTORY_ROOT, visit)
    }

    fn visit_tree(
        &self,
        password: &Secret,
        snapshot_id: &str,
        tree_root: &str,
        visit: &mut dyn FnMut(StoredObject<'_>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        let Ok(root) = repo.node_from_snapshot_and_path(&snapshot, tree_root) else {
            // No objects (an empty bucket, no history): only the manifest.
            return Ok(());
        };
        for item in repo
            .ls(&root, &LsOptions::default().recursive(true))
            .map_err(self.engine())?
        {
            let (path, node) = item.map_err(self.engine())?;
            if !node.is_file() {
                continue;
            }
            let path = path.to_string_lossy().into_owned();
            let mut read = |out: &mut dyn Write| -> Result<u64, StorageError> {
                let engine = |e: Box<rustic_core::RusticError>| StorageError::Engine {
                    location: self.location.clone(),
                    message: format!("reading {path}: {e}"),
                };
                let written = super::unpanic(&self.location, || -> Result<u64, StorageError> {
                    let mut written = 0u64;
                    for id in node.content.iter().flatten() {
                        let entry = repo.get_index_entry(id).map_err(engine)?;
                        let data = entry.read_data(repo.dbe()).map_err(engine)?;
                        out.write_all(&data).map_err(|source| StorageError::Io {
                            path: path.clone(),
                            source,
                        })?;
                        written += data.len() as u64;
                    }
                    Ok(written)
                })??;
                if written != node.meta.size {
                    return Err(StorageError::CheckFailed {
                        location: self.location.clone(),
                        message: format!(
                            "{path} in snapshot {snapshot_id}: {written} bytes read back, {} recorded",
                            node.meta.size
                        ),
                    });
                }
                Ok(written)
            };
            visit(StoredObject {
                path: &path,
                size: node.meta.size,
                read: &mut read,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_order_a_directory_before_names_it_prefixes() {
        use std::cmp::Ordering::Less;
        // Key order puts "a.txt" and "a-b" before "a/x"; tree order puts
        // the directory "a" first.
        assert_eq!(tree_order("a/x", "a.txt"), Less);
        assert_eq!(tree_order("a/x", "a-b"), Less);
        assert_eq!(tree_order("a", "a.txt"), Less);
        assert_eq!(tree_order("a/b/c", "a/b0"), Less);
        assert_eq!(tree_order("b", "a/x").reverse(), Less);
        let mut keys = vec!["logs.txt", "logs/a", "logs-old/x", "log", "logs/a/b"];
        keys.sort_by(|a, b| tree_order(a, b));
        assert_eq!(
            keys,
            ["log", "logs/a", "logs/a/b", "logs-old/x", "logs.txt"]
        );
    }
}
