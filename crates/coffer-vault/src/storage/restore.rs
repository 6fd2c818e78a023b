//! Restoring a tree snapshot into a directory, with bounded memory.
//!
//! `rustic_core`'s own restore holds up to 20 pack ranges in memory (about
//! 1 GiB for a 2.4 GB restore) and panics on a damaged pack
//! (storage-engine.md, pitfall 4). Coffer restores file by file instead:
//! each worker reads a file's chunks in order through the index, one chunk
//! at a time (memory bounded by the workers, whatever the size of the
//! data); a file whose content was restored already is copied locally;
//! a panic inside the engine becomes an error.
//!
//! Every path is checked before anything is written: an entry whose path
//! is not a plain relative path (`..`, an absolute path) is refused, and
//! nothing is written through a symbolic link, so a crafted snapshot
//! cannot write outside the target.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rustic_core::repofile::{Node, NodeType};
use rustic_core::LsOptions;

use super::{StorageError, VaultStorage};
use crate::keyring::Secret;

/// How to restore.
#[derive(Clone, Debug, Default)]
pub struct RestoreRequest {
    /// The directory that was backed up, as the snapshot names it
    /// (`snapshot.paths[0]`); its contents go directly into the target.
    pub root: String,
    /// Restore only this path (relative to `root`), file or directory.
    pub select: Option<String>,
    /// Replace files that exist in the target; without it, a non-empty
    /// target is refused.
    pub overwrite: bool,
}

/// What a restore wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Entries not restored (devices, FIFOs, sockets), with the reason.
    pub skipped: Vec<String>,
}

struct Entry {
    relative: PathBuf,
    node: Node,
}

const WORKERS: usize = 2;

impl VaultStorage {
    /// Restores a tree snapshot (or one path of it) into `target`.
    ///
    /// # Errors
    /// When a path would escape the target, the target is not empty and
    /// `overwrite` is off, or the data cannot be read or written.
    pub fn restore_tree(
        &self,
        password: &Secret,
        snapshot_id: &str,
        target: &Path,
        request: &RestoreRequest,
    ) -> Result<RestoreSummary, StorageError> {
        let repo = self.open(password)?.to_indexed().map_err(self.engine())?;
        let snapshot = repo
            .get_snapshot_from_str(snapshot_id, |_| true)
            .map_err(|_| self.no_snapshot(snapshot_id))?;
        let (start, prefix) = match &request.select {
            Some(select) => {
                let relative = checked_relative(Path::new(select)).ok_or_else(|| {
                    StorageError::UnsafePath {
                        path: select.clone(),
                        reason: "give a path relative to the backed-up directory, without `..`"
                            .into(),
                    }
                })?;
                (
                    format!(
                        "{}/{}",
                        request.root.trim_end_matches('/'),
                        relative.display()
                    ),
                    relative,
                )
            }
            None => (request.root.clone(), PathBuf::new()),
        };
        let node = repo
            .node_from_snapshot_and_path(&snapshot, &start)
            .map_err(|e| StorageError::NoPath {
                location: self.location.clone(),
                id: snapshot_id.to_string(),
                path: request
                    .select
                    .clone()
                    .unwrap_or_else(|| request.root.clone()),
                message: e.to_string(),
            })?;

        // The whole listing first: every path is checked before anything is written.
        let mut entries = Vec::new();
        if node.is_dir() {
            if !prefix.as_os_str().is_empty() {
                entries.push(Entry {
                    relative: prefix.clone(),
                    node: node.clone(),
                });
            }
            for item in repo
                .ls(&node, &LsOptions::default().recursive(true))
                .map_err(self.engine())?
            {
                let (path, child) = item.map_err(self.engine())?;
                let relative = checked_relative(&path).ok_or_else(|| StorageError::UnsafePath {
                    path: path.display().to_string(),
                    reason: "the snapshot holds a path that would escape the target".into(),
                })?;
                entries.push(Entry {
                    relative: prefix.join(relative),
                    node: child,
                });
            }
        } else {
            entries.push(Entry {
                relative: if prefix.as_os_str().is_empty() {
                    PathBuf::from(node.name().into_owned())
                } else {
                    prefix.clone()
                },
                node,
            });
        }

        prepare_target(target, request.overwrite)?;
        let total: u64 = entries
            .iter()
            .filter(|e| e.node.is_file())
            .map(|e| e.node.meta.size)
            .sum();
        if let Some(observer) = &self.observer {
            observer.phase("restore", Some(total));
        }

        let mut summary = RestoreSummary::default();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for entry in &entries {
            let dest = target.join(&entry.relative);
            ensure_parent_is_directory(target, &dest)?;
            match &entry.node.node_type {
                NodeType::Dir => {
                    create_dir(&dest)?;
                    dirs.push(entry);
                    summary.dirs += 1;
                }
                NodeType::File => {
                    // Parent directories of later files were created above them.
                    let parent = dest.parent().unwrap_or(target);
                    create_dir_all_real(target, parent)?;
                    files.push((entry, dest));
                }
                NodeType::Symlink { .. } => {
                    let link_target = entry.node.node_type.to_link();
                    remove_existing(&dest, request.overwrite)?;
                    std::os::unix::fs::symlink(link_target, &dest).map_err(io(&dest))?;
                    set_owner(&dest, &entry.node, true);
                    summary.symlinks += 1;
                }
                other => summary.skipped.push(format!(
                    "{}: {} not restored (special files are not recreated)",
                    entry.relative.display(),
                    kind_name(other)
                )),
            }
        }

        // A file whose content (the same chunk list) was restored already
        // is copied from that file on the local disk instead of being read,
        // decrypted and decompressed again from the vault.
        let mut first_of: std::collections::HashMap<&[rustic_core::DataId], usize> =
            std::collections::HashMap::new();
        let mut unique = Vec::new();
        let mut copies = Vec::new();
        for (index, (entry, dest)) in files.iter().enumerate() {
            match entry.node.content.as_deref() {
                Some(content) if !content.is_empty() => match first_of.get(content) {
                    Some(&first) => copies.push((first, entry, dest)),
                    None => {
                        first_of.insert(content, index);
                        unique.push((entry, dest));
                    }
                },
                _ => unique.push((entry, dest)),
            }
        }

        // Files, by a few workers pulling from one list; the first error
        // stops all. Each worker holds one chunk at a time, so memory is
        // bounded by the workers, whatever the size of the data.
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<StorageError>> = Mutex::new(None);
        let written = AtomicUsize::new(0);
        let bytes = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..WORKERS {
                scope.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((entry, dest)) = unique.get(index) else {
                        break;
                    };
                    match self.restore_file(&repo, entry, dest, request.overwrite) {
                        Ok(n) => {
                            written.fetch_add(1, Ordering::Relaxed);
                            bytes.fetch_add(n, Ordering::Relaxed);
                            // A crash test stops here: part of the target written.
                            #[cfg(feature = "failpoints")]
                            fail::fail_point!("restore-after-file");
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            let mut slot =
                                first_error.lock().unwrap_or_else(PoisonError::into_inner);
                            slot.get_or_insert(e);
                            break;
                        }
                    }
                });
            }
        });
        if let Some(error) = first_error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(error);
        }
        summary.files = written.into_inner() as u64;
        summary.bytes = bytes.into_inner();
        for (first, entry, dest) in copies {
            let source = &files[first].1;
            let n = if is_sparse(source) {
                // A copy would fill the holes: read it from the vault again.
                self.restore_file(&repo, entry, dest, request.overwrite)?
            } else {
                copy_file(source, dest, request.overwrite)?;
                set_metadata(dest, &entry.node)?;
                if let Some(observer) = &self.observer {
                    observer.advance(entry.node.meta.size);
                }
                entry.node.meta.size
            };
            summary.files += 1;
            summary.bytes += n;
        }

        // Directory metadata last, deepest first, so writing into a
        // directory does not change its restored mtime or lock us out.
        for entry in dirs.iter().rev() {
            let dest = target.join(&entry.relative);
            set_metadata(&dest, &entry.node)?;
        }
        if let Some(observer) = &self.observer {
            observer.done();
        }
        Ok(summary)
    }

    fn restore_file(
        &self,
        repo: &rustic_core::Repository<rustic_core::IndexedFullStatus>,
        entry: &Entry,
        dest: &Path,
        overwrite: bool,
    ) -> Result<u64, StorageError> {
        remove_existing(dest, overwrite)?;
        // create_new: never follows a symlink planted at the final name.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(io(dest))?;
        let mut writer = SparseWriter {
            file,
            position: 0,
            observer: self.observer.clone(),
        };
        // Chunk by chunk, in order, on this worker: one chunk in memory at
        // a time, no cache (a chunk read for a file is not needed again;
        // whole duplicate files are copied instead).
        let engine = |e: Box<rustic_core::RusticError>| StorageError::Engine {
            location: self.location.clone(),
            message: format!("restoring {}: {e}", entry.relative.display()),
        };
        super::unpanic(&self.location, || -> Result<(), StorageError> {
            for id in entry.node.content.iter().flatten() {
                let index_entry = repo.get_index_entry(id).map_err(engine)?;
                let data = index_entry.read_data(repo.dbe()).map_err(engine)?;
                writer.write_all(&data).map_err(io(dest))?;
            }
            Ok(())
        })??;
        let size = writer.position;
        writer.file.set_len(size).map_err(io(dest))?;
        if size != entry.node.meta.size {
            return Err(StorageError::Engine {
                location: self.location.clone(),
                message: format!(
                    "restoring {}: {size} bytes read back, but the snapshot records {}",
                    entry.relative.display(),
                    entry.node.meta.size
                ),
            });
        }
        drop(writer);
        set_metadata(dest, &entry.node)?;
        Ok(size)
    }
}

/// Whether a file has holes (fewer blocks than its length needs).
fn is_sparse(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).is_ok_and(|m| m.blocks() * 512 < m.len())
}

/// Copies a restored file to `dest` (in the kernel where it can), never
/// through a symlink at `dest`.
fn copy_file(source: &Path, dest: &Path, overwrite: bool) -> Result<(), StorageError> {
    remove_existing(dest, overwrite)?;
    let mut from = File::open(source).map_err(io(source))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(io(dest))?;
    std::io::copy(&mut from, &mut to).map_err(io(dest))?;
    Ok(())
}

/// `path` as plain relative components, or `None` if it has `..`, a root
/// or a prefix.
fn checked_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn prepare_target(target: &Path, overwrite: bool) -> Result<(), StorageError> {
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => {
            let non_empty = fs::read_dir(target).map_err(io(target))?.next().is_some();
            if non_empty && !overwrite {
                return Err(StorageError::TargetNotEmpty {
                    path: target.display().to_string(),
                });
            }
            Ok(())
        }
        Ok(_) => Err(StorageError::UnsafePath {
            path: target.display().to_string(),
            reason: "the restore target exists and is not a directory".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(target).map_err(io(target))
        }
        Err(e) => Err(io(target)(e)),
    }
}

/// Every directory between `target` and `dest` must be a real directory:
/// a symlink there (planted in the target, or made by an earlier entry)
/// would let a write land outside the target.
fn ensure_parent_is_directory(target: &Path, dest: &Path) -> Result<(), StorageError> {
    let Some(parent) = dest.parent() else {
        return Ok(());
    };
    let mut current = parent;
    while current != target && current.starts_with(target) {
        match fs::symlink_metadata(current) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(StorageError::UnsafePath {
                    path: dest.display().to_string(),
                    reason: format!(
                        "{} is not a directory (a symbolic link?); nothing is written through it",
                        current.display()
                    ),
                })
            }
            _ => {}
        }
        current = current.parent().unwrap_or(target);
    }
    Ok(())
}

fn create_dir(dest: &Path) -> Result<(), StorageError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(StorageError::UnsafePath {
            path: dest.display().to_string(),
            reason: "exists and is not a directory".into(),
        }),
        Err(_) => fs::create_dir(dest).map_err(io(dest)),
    }
}

fn create_dir_all_real(target: &Path, dir: &Path) -> Result<(), StorageError> {
    if dir == target || fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_real(target, parent)?;
    }
    create_dir(dir)
}

fn remove_existing(dest: &Path, overwrite: bool) -> Result<(), StorageError> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if !meta.is_dir() && overwrite => fs::remove_file(dest).map_err(io(dest)),
        Ok(_) => Err(StorageError::UnsafePath {
            path: dest.display().to_string(),
            reason: "exists already; pass the overwrite option to replace it".into(),
        }),
        Err(_) => Ok(()),
    }
}

/// Permission bits from restic's (Go's) mode: rwx plus setuid, setgid, sticky.
fn unix_permissions(go_mode: u32) -> u32 {
    let mut mode = go_mode & 0o777;
    if go_mode & (1 << 23) != 0 {
        mode |= 0o4000;
    }
    if go_mode & (1 << 22) != 0 {
        mode |= 0o2000;
    }
    if go_mode & (1 << 20) != 0 {
        mode |= 0o1000;
    }
    mode
}

fn set_owner(dest: &Path, node: &Node, symlink: bool) {
    // Ownership is restored only where the process may give it (as root);
    // otherwise the restoring user owns the files, as with restic.
    let (Some(uid), Some(gid)) = (node.meta.uid, node.meta.gid) else {
        return;
    };
    let result = if symlink {
        std::os::unix::fs::lchown(dest, Some(uid), Some(gid))
    } else {
        std::os::unix::fs::chown(dest, Some(uid), Some(gid))
    };
    // Not being allowed to chown is normal for a non-root restore.
    let _ = result;
}

fn set_metadata(dest: &Path, node: &Node) -> Result<(), StorageError> {
    set_owner(dest, node, false);
    if let Some(mode) = node.meta.mode {
        fs::set_permissions(dest, fs::Permissions::from_mode(unix_permissions(mode)))
            .map_err(io(dest))?;
    }
    if let Some(mtime) = node.meta.mtime {
        let nanos = mtime.as_nanosecond();
        let when = if nanos >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos as u64)
        } else {
            std::time::UNIX_EPOCH
        };
        let file = File::open(dest).map_err(io(dest))?;
        file.set_modified(when).map_err(io(dest))?;
    }
    Ok(())
}

fn kind_name(node_type: &NodeType) -> &'static str {
    match node_type {
        NodeType::Dev { .. } => "block device",
        NodeType::Chardev { .. } => "character device",
        NodeType::Fifo => "FIFO",
        NodeType::Socket => "socket",
        _ => "entry",
    }
}

/// Writes a file, seeking over whole 4 KiB blocks of zeros so sparse
/// files stay sparse (the length is set at the end).
struct SparseWriter {
    file: File,
    position: u64,
    observer: Option<std::sync::Arc<dyn super::Observer>>,
}

const BLOCK: usize = 4096;

impl Write for SparseWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Whole zero blocks are skipped with a seek; every run of other
        // blocks goes out in one write.
        let mut start = 0;
        let mut offset = 0;
        while offset < buf.len() {
            let end = (offset + BLOCK).min(buf.len());
            let block = &buf[offset..end];
            if block.len() == BLOCK && block.iter().all(|b| *b == 0) {
                if start < offset {
                    self.file.write_all(&buf[start..offset])?;
                }
                self.file.seek(SeekFrom::Current(BLOCK as i64))?;
                start = end;
            }
            offset = end;
        }
        if start < buf.len() {
            self.file.write_all(&buf[start..])?;
        }
        self.position += buf.len() as u64;
        if let Some(observer) = &self.observer {
            observer.advance(buf.len() as u64);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_refuse_escapes() {
        assert_eq!(
            checked_relative(Path::new("a/./b")),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(checked_relative(Path::new("../etc/passwd")), None);
        assert_eq!(checked_relative(Path::new("a/../../b")), None);
        assert_eq!(checked_relative(Path::new("/etc/passwd")), None);
    }

    #[test]
    fn the_sparse_writer_keeps_bytes_and_skips_zero_blocks() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut data = vec![7u8; 10_000];
        data.extend(vec![0u8; 4 << 20]);
        data.extend(vec![9u8; 5_000]);
        let mut writer = SparseWriter {
            file: File::create(&path).unwrap(),
            position: 0,
            observer: None,
        };
        for piece in data.chunks(300_000) {
            writer.write_all(piece).unwrap();
        }
        writer.file.set_len(writer.position).unwrap();
        drop(writer);
        assert!(std::fs::read(&path).unwrap() == data);
        assert!(std::fs::metadata(&path).unwrap().blocks() * 512 < 1 << 20);
    }

    #[test]
    fn go_modes_map_to_permission_bits() {
        assert_eq!(unix_permissions(0o644), 0o644);
        assert_eq!(unix_permissions((1 << 31) | 0o755), 0o755);
        assert_eq!(unix_permissions((1 << 23) | 0o755), 0o4755);
        assert_eq!(unix_permissions((1 << 20) | 0o777), 0o1777);
    }
}
