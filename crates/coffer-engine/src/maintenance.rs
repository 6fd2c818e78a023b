//! The sweeper's pass, vault checks and reconciliation, carried out: what
//! `coffer lifecycle sweep`, `coffer vault reconcile` and the daemon do.

use std::collections::BTreeSet;

use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupJob, BackupVault, CopyJob, CopyJobState, RecoveryPoint, StorageClass, StorageLocation,
    VaultCheck,
};
use coffer_vault::PruneSummary;
use jiff::Timestamp;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::exec;
use crate::recovery::{orphans, VaultSnapshot};
use crate::sweeper::{decide, Decision};

/// What one sweep did (or, dry, would do).
#[derive(Debug, Default)]
pub struct SweepReport {
    /// (point ID, what happened: `cold`, `expire`, `kept`, with details).
    pub entries: Vec<SweepEntry>,
    /// Vaults pruned after expiries, with what the prune did.
    pub pruned: Vec<(String, PruneSummary)>,
    /// Failures, each naming the point or vault.
    pub errors: Vec<String>,
}

/// One recovery point's transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepEntry {
    pub recovery_point_id: String,
    pub vault_name: String,
    pub decision: Decision,
    /// The lifecycle time that made it due.
    pub due_at: Option<Timestamp>,
}

/// Turns each expiry or cold move whose point, vault or a legal hold
/// disagrees with the ledger into a kept point naming the rows: an edited
/// DeleteAt, lock or hold never lets the sweeper act early.
async fn keep_what_the_ledger_does_not_vouch_for<'a>(
    env: &Env,
    decisions: &mut [(String, Decision)],
    points: &[RecoveryPoint],
    holds: &[coffer_model::LegalHold],
    vault_of: impl Fn(&str) -> Option<&'a BackupVault>,
) -> Result<()> {
    let by_id: std::collections::HashMap<&str, &RecoveryPoint> = points
        .iter()
        .map(|p| (p.recovery_point_id.as_str(), p))
        .collect();
    let acting: Vec<&RecoveryPoint> = decisions
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Expire | Decision::MoveToCold))
        .filter_map(|(id, _)| by_id.get(id.as_str()).copied())
        .collect();
    if acting.is_empty() {
        return Ok(());
    }
    let vaults: Vec<&BackupVault> = acting
        .iter()
        .filter_map(|p| vault_of(&p.backup_vault_arn))
        .collect();
    let found =
        crate::agreement::protection_disagreements(&env.catalog, &acting, &vaults, holds).await?;
    if found.is_empty() {
        return Ok(());
    }
    let hold_rows: Vec<_> = found
        .iter()
        .filter(|d| d.what == "legal hold")
        .cloned()
        .collect();
    for (id, decision) in decisions.iter_mut() {
        let action = match decision {
            Decision::Expire => "expiry",
            Decision::MoveToCold => "move to cold storage",
            Decision::Kept(_) => continue,
        };
        let Some(point) = by_id.get(id.as_str()) else {
            continue;
        };
        let mut rows = hold_rows.clone();
        rows.extend(
            found
                .iter()
                .filter(|d| d.id == point.recovery_point_id || d.id == point.backup_vault_arn)
                .cloned(),
        );
        if !rows.is_empty() {
            tracing::warn!(recovery_point = %id, "kept: the catalog disagrees with the ledger");
            *decision = Decision::Kept(crate::agreement::refusal(action, &rows));
        }
    }
    Ok(())
}

/// One pass of the lifecycle sweeper at the clock's time: cold moves,
/// expiries (through the guard, as the sweeper), then a prune of every
/// vault that lost a snapshot. `dry_run` decides without changing anything.
///
/// # Errors
/// Catalog errors; a point or vault that fails is listed in `errors`.
pub async fn sweep(env: &Env, dry_run: bool) -> Result<SweepReport> {
    let now = env.now();
    let stored = env.catalog.list::<RecoveryPoint>(&[]).await?;
    let points: Vec<RecoveryPoint> = stored.iter().map(|s| s.record.clone()).collect();
    let vaults: Vec<BackupVault> = env.objects(ObjectKind::BackupVault).await?;
    let holds = env.legal_holds().await?;
    let vault_of = |arn: &str| {
        vaults
            .iter()
            .find(|v| v.backup_vault_arn.to_string() == arn)
    };
    let mut decisions = decide(&points, |p| vault_of(&p.backup_vault_arn), &holds, now);
    keep_what_the_ledger_does_not_vouch_for(env, &mut decisions, &points, &holds, vault_of).await?;
    let mut report = SweepReport::default();
    let mut touched: Vec<&BackupVault> = Vec::new();
    for (id, decision) in decisions {
        let Some(entry) = stored.iter().find(|s| s.record.recovery_point_id == id) else {
            continue;
        };
        let mut point = entry.record.clone();
        let lifecycle = point.calculated_lifecycle;
        report.entries.push(SweepEntry {
            recovery_point_id: id.clone(),
            vault_name: point.backup_vault_name.clone(),
            decision: decision.clone(),
            due_at: match decision {
                Decision::MoveToCold => lifecycle.move_to_cold_storage_at,
                _ => lifecycle.delete_at,
            },
        });
        if dry_run {
            continue;
        }
        match decision {
            Decision::Kept(_) => {}
            Decision::MoveToCold => {
                let Some(vault) = vault_of(&point.backup_vault_arn) else {
                    continue;
                };
                let cold = match env.cold_location(vault) {
                    Ok(cold) => cold,
                    Err(error) => {
                        report
                            .errors
                            .push(format!("recovery point {id} stays warm: {error}"));
                        continue;
                    }
                };
                match move_to_cold(env, vault, &mut point, cold.as_ref()).await {
                    Ok(()) => match env.catalog.update(&point, entry.version, now).await {
                        Ok(_) => {
                            tracing::info!(recovery_point = %id, location = ?cold.as_ref().map(ToString::to_string), "moved to cold storage");
                            if cold.is_some() {
                                remove_warm_copy(env, vault, &entry.record, &mut report).await;
                                if !touched
                                    .iter()
                                    .any(|v| v.backup_vault_arn == vault.backup_vault_arn)
                                {
                                    touched.push(vault);
                                }
                            }
                        }
                        Err(error) => report.errors.push(format!("recovery point {id}: {error}")),
                    },
                    Err(error) => report
                        .errors
                        .push(format!("recovery point {id} stays warm: {error}")),
                }
            }
            Decision::Expire => {
                let Some(vault) = vault_of(&point.backup_vault_arn) else {
                    continue;
                };
                let reason = Some(format!("expired by its lifecycle at {now}"));
                match crate::exec::remove_data(env, point, entry.version, vault, reason).await {
                    Ok(()) => {
                        tracing::info!(recovery_point = %id, vault = %vault.backup_vault_name, "expired");
                        if !touched
                            .iter()
                            .any(|v| v.backup_vault_arn == vault.backup_vault_arn)
                        {
                            touched.push(vault);
                        }
                    }
                    Err(error) => report.errors.push(error.to_string()),
                }
            }
        }
    }
    for vault in touched {
        match prune(env, vault).await {
            Ok(summary) => report
                .pruned
                .push((vault.backup_vault_name.clone(), summary)),
            Err(error) => report.errors.push(format!(
                "prune of vault {:?}: {error}",
                vault.backup_vault_name
            )),
        }
    }
    Ok(report)
}

/// Moves a point's data to its vault's cold tier, when the vault has one
/// (`cold_url` in config.toml): the snapshot is copied there (the cold
/// repository is created with the vault's secret on first use) and the
/// point, changed in `point` for the caller to record, names where it is.
/// Without a cold location only the storage class changes.
async fn move_to_cold(
    env: &Env,
    vault: &BackupVault,
    point: &mut RecoveryPoint,
    cold: Option<&StorageLocation>,
) -> Result<()> {
    point.storage_class = StorageClass::Cold;
    let (Some(cold), None) = (cold, &point.storage_location) else {
        return Ok(());
    };
    let Some(snapshot) = point.snapshot_id.clone() else {
        return Ok(());
    };
    let warm = env.open_vault(vault).await?;
    let storage = Env::storage_of(&env.config, cold)?;
    let mut tags = coffer_drivers::snapshot_tags(
        &point.resource_arn,
        &point.recovery_point_id,
        point.created_by_job_id.as_deref().unwrap_or_default(),
        None,
    );
    tags.push("coffer-tier:cold".into());
    let moved = tokio::task::spawn_blocking(move || {
        if !storage.exists() {
            storage.init(&warm.secret)?;
        }
        warm.storage
            .copy_snapshot(&warm.secret, &snapshot, &storage, &warm.secret, &tags)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    point.snapshot_id = Some(moved.id);
    point.storage_location = Some(cold.to_string());
    Ok(())
}

/// After a point moved to the cold tier (and that was recorded), its warm
/// snapshot goes; were this interrupted, reconciliation removes it (no
/// point records it any more).
async fn remove_warm_copy(
    env: &Env,
    vault: &BackupVault,
    before: &RecoveryPoint,
    report: &mut SweepReport,
) {
    let Some(snapshot) = before.snapshot_id.clone() else {
        return;
    };
    let removed = async {
        let warm = env.open_vault(vault).await?;
        tokio::task::spawn_blocking(move || warm.storage.delete_snapshot(&warm.secret, &snapshot))
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(error) = removed {
        report.errors.push(format!(
            "recovery point {}: its warm copy stays until the vault is reconciled: {error}",
            before.recovery_point_id
        ));
    }
}

/// Prunes a vault (two-phase: unneeded packs are marked now and removed by
/// a later prune, so a backup running meanwhile is safe).
///
/// # Errors
/// When the vault cannot be opened or pruned.
pub async fn prune(env: &Env, vault: &BackupVault) -> Result<PruneSummary> {
    let opened = env.open_vault(vault).await?;
    let summary = tokio::task::spawn_blocking(move || opened.storage.prune(&opened.secret))
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
    tracing::info!(vault = %vault.backup_vault_name, marked = summary.marked, removed = summary.removed, "pruned");
    Ok(summary)
}

/// Checks a vault's structure and reads back `read_data` of its data
/// (`n/m`, `all`, `N%`), and records the result as a [`VaultCheck`].
///
/// # Errors
/// Catalog errors; a failed check is a recorded result, returned.
pub async fn check_vault(
    env: &Env,
    vault: &BackupVault,
    read_data: Option<String>,
) -> Result<VaultCheck> {
    let started_at = env.now();
    let subset = read_data.clone();
    let outcome = match env.open_vault(vault).await {
        Ok(opened) => tokio::task::spawn_blocking(move || {
            opened
                .storage
                .check_subset(&opened.secret, subset.as_deref())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string())),
        Err(error) => Err(error.to_string()),
    };
    let check = VaultCheck {
        vault_check_id: uuid::Uuid::now_v7().to_string(),
        account_id: vault.account_id.to_string(),
        region: vault.region.to_string(),
        backup_vault_name: vault.backup_vault_name.clone(),
        started_at,
        completed_at: env.now(),
        read_data,
        passed: outcome.is_ok(),
        message: outcome.err(),
    };
    env.catalog.insert(&check, check.completed_at).await?;
    if check.passed {
        tracing::info!(vault = %check.backup_vault_name, read_data = ?check.read_data, "vault check passed");
    } else {
        tracing::error!(vault = %check.backup_vault_name, read_data = ?check.read_data, error = ?check.message, "vault check FAILED");
    }
    Ok(check)
}

/// The part of a vault's data its next scheduled check reads back: the
/// checks recorded so far rotate through `1/parts .. parts/parts`, so
/// `parts` checks read everything.
///
/// # Errors
/// Catalog errors.
pub async fn next_check_part(env: &Env, vault: &BackupVault, parts: u32) -> Result<String> {
    let done = env
        .catalog
        .list::<VaultCheck>(&[("vault_name", vault.backup_vault_name.as_str())])
        .await?
        .into_iter()
        .filter(|c| {
            c.record.account_id == vault.account_id.as_str()
                && c.record.region == vault.region.as_str()
        })
        .count();
    let parts = parts.max(1);
    let n = u32::try_from(done % usize::try_from(parts).unwrap_or(1)).unwrap_or(0) + 1;
    Ok(format!("{n}/{parts}"))
}

/// The jobs writing to vaults now (their snapshots are not orphans yet).
async fn writing_jobs(env: &Env) -> Result<BTreeSet<String>> {
    let mut running: BTreeSet<String> = env
        .records_where("state", &exec::WRITING_STATES, |_: &BackupJob| true)
        .await?
        .into_iter()
        .map(|j| j.backup_job_id)
        .collect();
    running.extend(
        env.records_where("state", &[CopyJobState::Running.as_str()], |_: &CopyJob| {
            true
        })
        .await?
        .into_iter()
        .map(|j| j.copy_job_id),
    );
    Ok(running)
}

/// A vault's orphan snapshots: tagged by Coffer with a recovery point the
/// catalog does not record, made by a job that is not running. With
/// `remove`, they are deleted (their data is freed by the next prune).
///
/// # Errors
/// When the vault cannot be opened or listed, or a deletion fails.
pub async fn reconcile(env: &Env, vault: &BackupVault, remove: bool) -> Result<Vec<String>> {
    let opened = env.open_vault(vault).await?;
    let arn = vault.backup_vault_arn.to_string();
    // Order matters against jobs that finish meanwhile: a job not running
    // now either recorded its point already (read next) or has not begun;
    // and a snapshot begun after now (snapshot times are the system's) is
    // never an orphan yet.
    let since = Timestamp::now();
    let running = writing_jobs(env).await?;
    // The vault's points, by the (account, region, vault) index.
    let recorded: BTreeSet<String> = env
        .catalog
        .list::<RecoveryPoint>(&[
            ("account_id", vault.account_id.as_str()),
            ("region", vault.region.as_str()),
            ("vault_name", &vault.backup_vault_name),
        ])
        .await?
        .into_iter()
        .filter(|p| p.record.backup_vault_arn == arn)
        .filter_map(|p| p.record.snapshot_id)
        .collect();
    let found = tokio::task::spawn_blocking(move || {
        let snapshots: Vec<VaultSnapshot> = opened
            .storage
            .snapshots(&opened.secret)?
            .into_iter()
            .filter(|s| s.time < since)
            .map(|s| VaultSnapshot {
                id: s.id,
                tags: s.tags,
            })
            .collect();
        let found = orphans(&snapshots, &recorded, &running);
        if remove {
            for id in &found {
                opened.storage.delete_snapshot(&opened.secret, id)?;
            }
        }
        Ok::<_, coffer_vault::StorageError>(found)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    if remove && !found.is_empty() {
        tracing::info!(vault = %vault.backup_vault_name, removed = found.len(), "orphan snapshots removed");
    }
    Ok(found)
}
