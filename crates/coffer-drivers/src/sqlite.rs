//! SQLite: a consistent online snapshot of a live database through
//! SQLite's backup API (never a copy of a file being written), streamed
//! into the vault; a manifest of row counts and checksums per table is
//! taken from the snapshot. Restore writes a new file atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coffer_model::{ContentManifest, RecoveryPoint, Resource, TableManifest};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::{
    blocking, compare_manifest, connection, snapshot_of, BackupOutcome, DriverError,
    RestoreOutcome, Result, Validation, Vault,
};

/// How long the snapshot waits for a writer holding a lock, in all.
const BUSY_WAIT: Duration = Duration::from_secs(30);

fn stream_name(point_or_resource: &str) -> String {
    let base = point_or_resource.rsplit('/').next().unwrap_or("database");
    format!("{base}.sqlite")
}

/// What went wrong copying, reading or checking a SQLite database.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot set a busy timeout: {0}")]
    BusyTimeout(#[source] rusqlite::Error),
    #[error("{} is not a readable SQLite database: {source}", path.display())]
    NotADatabase {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the snapshot file: {0}")]
    CreateSnapshot(#[source] rusqlite::Error),
    #[error("backup API: {0}")]
    BackupApi(#[source] rusqlite::Error),
    /// A writer held its lock for the whole wait.
    #[error("the database stayed locked by a writer for {seconds} s")]
    Locked { seconds: u64 },
    #[error("cannot list tables: {0}")]
    ListTables(#[source] rusqlite::Error),
    #[error("table {table}: {source}")]
    Table {
        table: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot open the restored file: {0}")]
    OpenRestored(#[source] rusqlite::Error),
    #[error("integrity check: {0}")]
    IntegrityQuery(#[source] rusqlite::Error),
    /// `PRAGMA integrity_check` found damage; its own words.
    #[error("integrity check: {found}")]
    Damaged { found: String },
}

/// Takes a consistent copy of the live database at `source` into `dest`.
/// The whole copy is one step, under one read transaction, so a writer
/// cannot make it restart forever; in WAL mode writers go on meanwhile.
fn snapshot(source: &Path, dest: &Path) -> std::result::Result<(), SqliteError> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| SqliteError::Open {
        path: source.to_path_buf(),
        source: e,
    })?;
    src.busy_timeout(BUSY_WAIT)
        .map_err(SqliteError::BusyTimeout)?;
    // Fail early and clearly on something that is not a database.
    src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| SqliteError::NotADatabase {
        path: source.to_path_buf(),
        source: e,
    })?;
    let mut dst = Connection::open(dest).map_err(SqliteError::CreateSnapshot)?;
    let backup = Backup::new(&src, &mut dst).map_err(SqliteError::BackupApi)?;
    let deadline = std::time::Instant::now() + BUSY_WAIT;
    loop {
        match backup.step(-1).map_err(SqliteError::BackupApi)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                if std::time::Instant::now() > deadline {
                    return Err(SqliteError::Locked {
                        seconds: BUSY_WAIT.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {}
        }
    }
}

/// Row counts and an order-independent checksum of every table: the sum
/// (mod 2^64) of the first 8 bytes of each row's SHA-256.
///
/// # Errors
/// When the file cannot be opened or a table cannot be read.
pub fn manifest(path: &Path) -> std::result::Result<ContentManifest, SqliteError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            SqliteError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let mut names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(SqliteError::ListTables)?;
    names.sort();
    let mut tables = Vec::new();
    for name in names {
        let in_table = |source| SqliteError::Table {
            table: name.clone(),
            source,
        };
        let sql = format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""));
        let mut statement = conn.prepare(&sql).map_err(in_table)?;
        let columns = statement.column_count();
        let mut rows = statement.query([]).map_err(in_table)?;
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(row) = rows.next().map_err(in_table)? {
            let mut hasher = Sha256::new();
            for i in 0..columns {
                use rusqlite::types::ValueRef;
                match row.get_ref(i).map_err(in_table)? {
                    ValueRef::Null => hasher.update(b"N"),
                    ValueRef::Integer(v) => {
                        hasher.update(b"I");
                        hasher.update(v.to_le_bytes());
                    }
                    ValueRef::Real(v) => {
                        hasher.update(b"R");
                        hasher.update(v.to_le_bytes());
                    }
                    ValueRef::Text(v) => {
                        hasher.update(b"T");
                        hasher.update((v.len() as u64).to_le_bytes());
                        hasher.update(v);
                    }
                    ValueRef::Blob(v) => {
                        hasher.update(b"B");
                        hasher.update((v.len() as u64).to_le_bytes());
                        hasher.update(v);
                    }
                }
            }
            let digest = hasher.finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            sum = sum.wrapping_add(u64::from_le_bytes(first));
            count += 1;
        }
        tables.push(TableManifest {
            name,
            rows: count,
            checksum: format!("{sum:016x}"),
        });
    }
    Ok(ContentManifest { tables })
}

fn integrity(path: &Path) -> std::result::Result<(), SqliteError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(SqliteError::OpenRestored)?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(SqliteError::IntegrityQuery)?;
    if result == "ok" {
        Ok(())
    } else {
        Err(SqliteError::Damaged { found: result })
    }
}

pub(crate) async fn backup(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
    scratch: &Path,
) -> Result<BackupOutcome> {
    let source = PathBuf::from(connection(resource, "path")?);
    let arn = resource.resource_arn.to_string();
    let name = stream_name(&resource.resource_name);
    let scratch = scratch.to_path_buf();
    let vault = vault.clone();
    blocking(move || {
        let fail = |message: String| DriverError::Resource {
            resource: arn.clone(),
            message,
        };
        std::fs::create_dir_all(&scratch)
            .map_err(|e| fail(format!("cannot create {}: {e}", scratch.display())))?;
        let staging = tempfile::Builder::new()
            .prefix("sqlite-snapshot-")
            .tempdir_in(&scratch)
            .map_err(|e| {
                fail(format!(
                    "cannot create a snapshot file in {}: {e}",
                    scratch.display()
                ))
            })?;
        let copy = staging.path().join("snapshot.sqlite");
        let unreadable = |source| DriverError::Sqlite {
            resource: arn.clone(),
            source,
        };
        snapshot(&source, &copy).map_err(unreadable)?;
        let manifest = manifest(&copy).map_err(unreadable)?;
        let file = std::fs::File::open(&copy).map_err(|e| fail(e.to_string()))?;
        let saved = vault
            .storage
            .backup_stream(&vault.secret, &name, file, &tags)?;
        let stored = vault
            .storage
            .stored_bytes(&vault.secret, &saved.snapshot.id)?;
        Ok(BackupOutcome::from_stream(saved, stored, manifest))
    })
    .await
}

/// Restores the database file into `target` atomically: written beside
/// it under a temporary name, checked, then renamed.
fn restore_file(
    vault: &Vault,
    snapshot: &str,
    name: &str,
    target: &Path,
    force: bool,
) -> Result<u64> {
    if target.exists() && !force {
        return Err(DriverError::TargetExists(format!(
            "{} exists; choose another target file, or restore with force to replace it",
            target.display()
        )));
    }
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io =
        |e: std::io::Error| DriverError::Refused(format!("cannot write in {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".coffer-restore-")
        .tempfile_in(dir)
        .map_err(io)?;
    vault
        .storage
        .dump(&vault.secret, snapshot, name, temp.as_file_mut())?;
    temp.as_file().sync_all().map_err(io)?;
    integrity(temp.path()).map_err(DriverError::SqliteRestore)?;
    let bytes = temp.as_file().metadata().map_err(io)?.len();
    temp.persist(target).map_err(|e| io(e.error))?;
    Ok(bytes)
}

pub(crate) async fn restore(
    point: &RecoveryPoint,
    vault: &Vault,
    target: &Path,
    force: bool,
) -> Result<RestoreOutcome> {
    let snapshot = snapshot_of(point)?;
    let name = stream_name(&point.resource_arn);
    let vault = vault.clone();
    let target_path = target.to_path_buf();
    let bytes =
        blocking(move || restore_file(&vault, &snapshot, &name, &target_path, force)).await?;
    Ok(RestoreOutcome {
        created: target.display().to_string(),
        bytes,
        notes: Vec::new(),
    })
}

pub(crate) async fn validate(
    point: &RecoveryPoint,
    vault: &Vault,
    scratch: &Path,
    validation: &mut Validation,
) -> Result<()> {
    let snapshot = snapshot_of(point)?;
    let name = stream_name(&point.resource_arn);
    let vault = vault.clone();
    let scratch = scratch.to_path_buf();
    let found = blocking(move || {
        std::fs::create_dir_all(&scratch)
            .map_err(|e| DriverError::Refused(format!("{}: {e}", scratch.display())))?;
        let dir = tempfile::Builder::new()
            .prefix("sqlite-validate-")
            .tempdir_in(&scratch)
            .map_err(|e| DriverError::Refused(format!("{}: {e}", scratch.display())))?;
        let file = dir.path().join("restored.sqlite");
        restore_file(&vault, &snapshot, &name, &file, false)?;
        // A crash test stops here: the scratch copy exists.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("validate-after-scratch");
        manifest(&file).map_err(DriverError::SqliteRestore)
    })
    .await;
    match found {
        Ok(found) => {
            validation
                .checked
                .push("restored copy passes PRAGMA integrity_check".into());
            compare_manifest(point.manifest.as_ref(), &found, validation);
        }
        Err(e) => validation.problems.push(e.to_string()),
    }
    Ok(())
}
