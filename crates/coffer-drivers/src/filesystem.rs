//! FileSystem: a directory tree. The vault's dedup makes an unchanged
//! tree's nightly backup cheap: unchanged files (same size, mtime, inode)
//! are not read again, and their chunks are not stored again.

use std::path::{Path, PathBuf};

use coffer_model::{RecoveryPoint, Resource};
use coffer_vault::RestoreRequest;

use crate::{
    blocking, connection, snapshot_of, BackupOutcome, DriverError, RestoreOutcome, Result,
    Validation, Vault,
};

/// The patterns of the inventory's `exclude` (one per line).
pub fn excludes(resource: &Resource) -> Vec<String> {
    resource
        .connection
        .get("exclude")
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn source(resource: &Resource) -> Result<PathBuf> {
    let path = PathBuf::from(connection(resource, "path")?);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Ok(path),
        Ok(_) => Err(DriverError::Resource {
            resource: resource.resource_arn.to_string(),
            message: format!("{} is not a directory", path.display()),
        }),
        Err(e) => Err(DriverError::Resource {
            resource: resource.resource_arn.to_string(),
            message: format!("cannot read {}: {e}", path.display()),
        }),
    }
}

pub(crate) async fn backup(
    resource: &Resource,
    vault: &Vault,
    tags: Vec<String>,
) -> Result<BackupOutcome> {
    let path = source(resource)?;
    let exclude = excludes(resource);
    let vault = vault.clone();
    blocking(move || {
        let saved = vault
            .storage
            .backup_tree(&vault.secret, &path, &exclude, &tags)?;
        // One pass over the new snapshot's trees gives both.
        let content = vault.storage.content(&vault.secret, &saved.id)?;
        Ok(BackupOutcome {
            snapshot_id: saved.id,
            bytes: saved.bytes,
            bytes_added: saved.bytes_added,
            stored_bytes: content.stored_bytes,
            content_sha256: content.digest,
            manifest: None,
            warnings: Vec::new(),
        })
    })
    .await
}

pub(crate) async fn restore(
    point: &RecoveryPoint,
    resource: &Resource,
    vault: &Vault,
    target: &Path,
    select: Option<String>,
    force: bool,
) -> Result<RestoreOutcome> {
    let snapshot = snapshot_of(point)?;
    let root = connection(resource, "path")?.to_string();
    let request = RestoreRequest {
        root,
        select,
        overwrite: force,
    };
    let vault = vault.clone();
    let target_path = target.to_path_buf();
    let summary = blocking(move || {
        Ok(vault
            .storage
            .restore_tree(&vault.secret, &snapshot, &target_path, &request)?)
    })
    .await?;
    Ok(RestoreOutcome {
        created: target.display().to_string(),
        bytes: summary.bytes,
        notes: summary.skipped,
    })
}

pub(crate) async fn validate(
    point: &RecoveryPoint,
    vault: &Vault,
    validation: &mut Validation,
) -> Result<()> {
    let snapshot = snapshot_of(point)?;
    let vault = vault.clone();
    let digest = blocking(move || Ok(vault.storage.tree_digest(&vault.secret, &snapshot)?)).await?;
    match &point.content_sha256 {
        Some(recorded) if *recorded == digest => validation
            .checked
            .push(format!("tree digest {digest} as recorded")),
        Some(recorded) => validation.problems.push(format!(
            "tree digest is {digest}, the recovery point recorded {recorded}"
        )),
        None => validation
            .problems
            .push("the recovery point recorded no content digest".into()),
    }
    Ok(())
}
