//! The sweeper's pass, vault checks and reconciliation, carried out: what
//! `coffer lifecycle sweep`, `coffer vault reconcile` and the daemon do.

use std::collections::{BTreeMap, BTreeSet};

use coffer_catalog::ObjectKind;
use coffer_model::{
    Arn, BackupJob, BackupJobState, BackupVault, CalculatedLifecycle, CopyJob, CopyJobState,
    Lifecycle, RecoveryPoint, RecoveryPointStatus, ResourceType, StorageClass, StorageLocation,
    VaultCheck,
};
use coffer_vault::{PruneSummary, SnapshotInfo};
use jiff::Timestamp;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::exec;
use crate::recovery::{verdict, JobFacts, PointFacts, VaultSnapshot, Verdict};
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

/// Checks a vault's structure, reads back `read_data` of its data (`n/m`,
/// `all`, `N%`), and compares it with the catalog: a live recovery point
/// whose snapshot is gone or is no longer its own, or a Coffer snapshot no
/// recovery point accounts for, fails the check, named. The result is
/// recorded as a [`VaultCheck`].
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
    // The points are read before the snapshots are listed, so a point
    // completed meanwhile is not looked for; one deleted or moved to the
    // cold tier meanwhile is read again before it is called at fault.
    let live = live_points(env, vault).await?;
    let outcome = match env.open_vault(vault).await {
        Ok(opened) => tokio::task::spawn_blocking(move || {
            opened
                .storage
                .check_subset(&opened.secret, subset.as_deref())
                .map_err(|e| e.to_string())?;
            opened
                .storage
                .snapshots(&opened.secret)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string())),
        Err(error) => Err(error.to_string()),
    };
    let mut faulty = BTreeMap::new();
    let mut unaccounted = Vec::new();
    let mut problems = Vec::new();
    match &outcome {
        Ok(snapshots) => {
            faulty = faulty_points(env, vault, live, snapshots).await?;
            for (point, why) in &faulty {
                problems.push(format!("recovery point {point}: {why}"));
            }
            match reconcile(env, vault, false).await {
                Ok(found) => {
                    for snapshot in found.unaccounted {
                        problems.push(format!(
                            "snapshot {} (recovery point {}) is accounted for by no recovery point: {}",
                            snapshot.snapshot_id, snapshot.recovery_point_id, snapshot.why
                        ));
                        unaccounted.push(snapshot.snapshot_id);
                    }
                }
                Err(error) => problems.push(error.to_string()),
            }
        }
        Err(error) => problems.push(error.clone()),
    }
    let check = VaultCheck {
        vault_check_id: uuid::Uuid::now_v7().to_string(),
        account_id: vault.account_id.to_string(),
        region: vault.region.to_string(),
        backup_vault_name: vault.backup_vault_name.clone(),
        started_at,
        completed_at: env.now(),
        read_data,
        passed: problems.is_empty(),
        message: (!problems.is_empty()).then(|| problems.join("; ")),
        faulty_recovery_points: faulty,
        unaccounted_snapshots: unaccounted,
    };
    env.catalog.insert(&check, check.completed_at).await?;
    if check.passed {
        tracing::info!(vault = %check.backup_vault_name, read_data = ?check.read_data, "vault check passed");
    } else {
        tracing::error!(vault = %check.backup_vault_name, read_data = ?check.read_data, error = ?check.message, "vault check FAILED");
    }
    Ok(check)
}

/// The vault's live recovery points: completed, in its own storage.
async fn live_points(env: &Env, vault: &BackupVault) -> Result<Vec<RecoveryPoint>> {
    let arn = vault.backup_vault_arn.to_string();
    Ok(env
        .catalog
        .list::<RecoveryPoint>(&[
            ("account_id", vault.account_id.as_str()),
            ("region", vault.region.as_str()),
            ("vault_name", &vault.backup_vault_name),
        ])
        .await?
        .into_iter()
        .map(|stored| stored.record)
        .filter(is_live_in(&arn))
        .collect())
}

fn is_live_in(vault_arn: &str) -> impl Fn(&RecoveryPoint) -> bool + '_ {
    move |point| {
        point.backup_vault_arn == vault_arn
            && point.status == RecoveryPointStatus::Completed
            && point.storage_location.is_none()
    }
}

/// Which of `live` (read before `snapshots` were listed) have no snapshot,
/// or one that no longer carries their tag, and are still live as they
/// were when read again now: point ID → what is wrong.
async fn faulty_points(
    env: &Env,
    vault: &BackupVault,
    live: Vec<RecoveryPoint>,
    snapshots: &[SnapshotInfo],
) -> Result<BTreeMap<String, String>> {
    let arn = vault.backup_vault_arn.to_string();
    let by_id: BTreeMap<&str, &SnapshotInfo> =
        snapshots.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut faulty = BTreeMap::new();
    for point in live {
        let tag = format!("coffer-recovery-point:{}", point.recovery_point_id);
        let fault = match point.snapshot_id.as_deref() {
            None => "it records no snapshot".to_string(),
            Some(snapshot_id) => match by_id.get(snapshot_id) {
                None => format!(
                    "its snapshot {snapshot_id} is gone from vault {:?}",
                    vault.backup_vault_name
                ),
                Some(snapshot) if !snapshot.tags.contains(&tag) => format!(
                    "its snapshot {snapshot_id} was changed: it no longer names the recovery point"
                ),
                Some(_) => continue,
            },
        };
        let now = env
            .catalog
            .get::<RecoveryPoint>(&point.recovery_point_id)
            .await?
            .map(|stored| stored.record);
        let unchanged = now
            .as_ref()
            .is_some_and(|again| is_live_in(&arn)(again) && again.snapshot_id == point.snapshot_id);
        if unchanged {
            faulty.insert(point.recovery_point_id, fault);
        }
    }
    Ok(faulty)
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

/// One snapshot reconciliation removed (or, dry, would remove), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedSnapshot {
    pub snapshot_id: String,
    pub verdict: Verdict,
}

/// A Coffer snapshot nothing in the catalog accounts for: kept, reported,
/// and adoptable as a recovery point ([`adopt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnaccountedSnapshot {
    pub snapshot_id: String,
    pub recovery_point_id: String,
    pub job_id: Option<String>,
    pub resource_arn: Option<String>,
    /// restic's snapshot time (the system's clock).
    pub time: Timestamp,
    /// Why nothing accounts for it, in words.
    pub why: String,
}

/// What reconciling a vault found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Snapshots left by jobs that ended without them, or by cold moves.
    pub removed: Vec<RemovedSnapshot>,
    /// Coffer snapshots no row accounts for; never removed.
    pub unaccounted: Vec<UnaccountedSnapshot>,
}

/// Each Coffer snapshot of a vault (begun before `since`) with its
/// verdict, from what the catalog and ledger say of its point and job.
async fn verdicts(
    env: &Env,
    snapshots: Vec<SnapshotInfo>,
    since: Timestamp,
) -> Result<Vec<(SnapshotInfo, Verdict)>> {
    let running = writing_jobs(env).await?;
    let mut points = BTreeMap::new();
    let mut jobs = BTreeMap::new();
    let snapshots: Vec<SnapshotInfo> = snapshots.into_iter().filter(|s| s.time < since).collect();
    for snapshot in &snapshots {
        let tagged = VaultSnapshot {
            id: snapshot.id.clone(),
            tags: snapshot.tags.clone(),
        };
        if let Some(point_id) = tagged.recovery_point_id() {
            if let Some(point) = env.catalog.get_vouched::<RecoveryPoint>(point_id).await? {
                points.insert(
                    point_id.to_string(),
                    PointFacts {
                        snapshot_id: point.stored.record.snapshot_id.clone(),
                        storage_location: point.stored.record.storage_location.clone(),
                        ledger_agrees: point.ledger_agrees,
                    },
                );
            }
        }
        let Some(job_id) = tagged.job_id() else {
            continue;
        };
        if jobs.contains_key(job_id) {
            continue;
        }
        if let Some(job) = env.catalog.get_vouched::<BackupJob>(job_id).await? {
            let record = &job.stored.record;
            let attempts_ended = record.attempts.iter().all(|a| a.ended_at.is_some());
            let one_failed = record.attempts.iter().any(|a| a.error.is_some());
            let ended =
                matches!(
                    record.state,
                    BackupJobState::Failed | BackupJobState::Aborted | BackupJobState::Expired
                ) || (attempts_ended && one_failed && record.state != BackupJobState::Running);
            jobs.insert(
                job_id.to_string(),
                JobFacts {
                    state: record.state.as_str().to_string(),
                    ended_without_a_point: ended,
                    recovery_point_id: record
                        .recovery_point_arn
                        .as_deref()
                        .map(|arn| RecoveryPoint::id_of(arn).to_string()),
                    ledger_agrees: job.ledger_agrees,
                },
            );
        } else if let Some(job) = env.catalog.get_vouched::<CopyJob>(job_id).await? {
            let record = &job.stored.record;
            jobs.insert(
                job_id.to_string(),
                JobFacts {
                    state: record.state.as_str().to_string(),
                    ended_without_a_point: record.state == CopyJobState::Failed,
                    recovery_point_id: record
                        .destination_recovery_point_arn
                        .as_deref()
                        .map(|arn| RecoveryPoint::id_of(arn).to_string()),
                    ledger_agrees: job.ledger_agrees,
                },
            );
        }
    }
    Ok(snapshots
        .into_iter()
        .map(|snapshot| {
            let tagged = VaultSnapshot {
                id: snapshot.id.clone(),
                tags: snapshot.tags.clone(),
            };
            let verdict = verdict(&tagged, &points, &jobs, &running);
            (snapshot, verdict)
        })
        .collect())
}

/// Reconciles a vault with the catalog: removes (with `remove`) the
/// snapshots of jobs the catalog and ledger record as ended without them
/// (failed, interrupted, aborted after the snapshot was saved) and warm
/// copies of points moved to the cold tier, and reports the Coffer
/// snapshots nothing accounts for, which are never removed. Their data is
/// freed by the next prune.
///
/// # Errors
/// When the vault cannot be opened or listed, or a deletion fails.
pub async fn reconcile(env: &Env, vault: &BackupVault, remove: bool) -> Result<Reconciliation> {
    let opened = env.open_vault(vault).await?;
    // Order matters against jobs that finish meanwhile: a job not running
    // now either recorded its point already (read next) or has not begun;
    // and a snapshot begun after now (snapshot times are the system's) is
    // judged by a later reconciliation.
    let since = Timestamp::now();
    let listing = opened.clone();
    let snapshots = tokio::task::spawn_blocking(move || listing.storage.snapshots(&listing.secret))
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
    let judged = verdicts(env, snapshots, since).await?;
    let mut found = Reconciliation::default();
    for (snapshot, verdict) in judged {
        match verdict {
            Verdict::Unaccounted {
                recovery_point_id,
                job_id,
                why,
            } => found.unaccounted.push(UnaccountedSnapshot {
                resource_arn: snapshot
                    .tags
                    .iter()
                    .find_map(|t| t.strip_prefix("coffer-resource:"))
                    .map(str::to_string),
                snapshot_id: snapshot.id,
                recovery_point_id,
                job_id,
                time: snapshot.time,
                why,
            }),
            verdict if verdict.removes() => found.removed.push(RemovedSnapshot {
                snapshot_id: snapshot.id,
                verdict,
            }),
            _ => {}
        }
    }
    if remove && !found.removed.is_empty() {
        let ids: Vec<String> = found
            .removed
            .iter()
            .map(|r| r.snapshot_id.clone())
            .collect();
        tokio::task::spawn_blocking(move || {
            for id in &ids {
                opened.storage.delete_snapshot(&opened.secret, id)?;
            }
            Ok::<_, coffer_vault::StorageError>(())
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
        tracing::info!(vault = %vault.backup_vault_name, removed = found.removed.len(), "snapshots of ended jobs removed");
    }
    for snapshot in &found.unaccounted {
        tracing::warn!(vault = %vault.backup_vault_name, snapshot = %snapshot.snapshot_id, recovery_point = %snapshot.recovery_point_id, why = %snapshot.why, "a snapshot nothing in the catalog accounts for is kept; adopt it to record it again");
    }
    Ok(found)
}

/// The resource type an ARN's service names (`arn:coffer:fs:...`).
fn resource_type_of(arn: &str) -> Option<ResourceType> {
    let service = arn.split(':').nth(2)?;
    ResourceType::ALL
        .into_iter()
        .find(|t| t.service() == service)
}

/// The recovery point a snapshot stands for: the record Coffer wrote in
/// its description when there is one (for this point), else what its tags
/// and the vault say; either way it names this vault and snapshot.
///
/// # Errors
/// When the snapshot carries too little to name its resource.
pub fn point_from_snapshot(
    vault: &BackupVault,
    snapshot: &SnapshotInfo,
    stored_bytes: u64,
    content_sha256: Option<String>,
    now: Timestamp,
) -> Result<RecoveryPoint> {
    let tagged = VaultSnapshot {
        id: snapshot.id.clone(),
        tags: snapshot.tags.clone(),
    };
    let missing = |what: &str| Error::Unadoptable {
        snapshot: snapshot.id.clone(),
        reason: format!("it carries no {what}"),
    };
    let point_id = tagged
        .recovery_point_id()
        .ok_or_else(|| missing("coffer-recovery-point: tag"))?
        .to_string();
    let adopted = format!("adopted at {now} from snapshot {}", snapshot.id);
    let described = snapshot
        .description
        .as_deref()
        .and_then(|text| serde_json::from_str::<RecoveryPoint>(text).ok())
        .filter(|p| p.recovery_point_id == point_id);
    let mut point = match described {
        Some(point) => point,
        None => {
            let resource_arn = tagged
                .tag("coffer-resource:")
                .ok_or_else(|| missing("coffer-resource: tag"))?
                .to_string();
            let resource_type =
                resource_type_of(&resource_arn).ok_or_else(|| missing("known resource type"))?;
            RecoveryPoint {
                recovery_point_id: point_id.clone(),
                recovery_point_arn: String::new(),
                backup_vault_name: String::new(),
                backup_vault_arn: String::new(),
                resource_arn,
                resource_type,
                status: RecoveryPointStatus::Completed,
                status_message: None,
                storage_class: StorageClass::Warm,
                creation_date: snapshot.time,
                completion_date: Some(snapshot.time),
                // Nothing says when it may go: it is kept until someone
                // sets a lifecycle.
                lifecycle: Lifecycle::default(),
                calculated_lifecycle: CalculatedLifecycle::default(),
                backup_size_in_bytes: snapshot.bytes,
                is_encrypted: true,
                encryption_key_arn: vault.encryption_key_arn.as_ref().map(ToString::to_string),
                created_by_job_id: tagged.job_id().map(str::to_string),
                created_by_backup_plan_name: tagged.tag("coffer-plan:").map(str::to_string),
                created_by_backup_rule_name: tagged.tag("coffer-rule:").map(str::to_string),
                source_recovery_point_arn: None,
                content_sha256,
                tags: Default::default(),
                snapshot_id: None,
                storage_location: None,
                bytes_added: snapshot.bytes_added,
                stored_bytes,
                duration_ms: None,
                manifest: None,
            }
        }
    };
    point.recovery_point_arn =
        Arn::recovery_point(&vault.region, &vault.account_id, &point_id).to_string();
    point.backup_vault_name = vault.backup_vault_name.clone();
    point.backup_vault_arn = vault.backup_vault_arn.to_string();
    point.snapshot_id = Some(snapshot.id.clone());
    point.storage_location = None;
    point.status = RecoveryPointStatus::Completed;
    point.storage_class = StorageClass::Warm;
    point.status_message = Some(adopted);
    Ok(point)
}

/// Records back, as recovery points, the vault's Coffer snapshots nothing
/// accounts for (all of them, or those of `only`, by snapshot or point ID):
/// each from the record its description carries, or from its tags (the
/// lifecycle is then unknown and the point kept until one is set).
///
/// # Errors
/// When the vault cannot be read or a point not recorded; a snapshot that
/// names a point recorded meanwhile is skipped.
pub async fn adopt(env: &Env, vault: &BackupVault, only: &[String]) -> Result<Vec<RecoveryPoint>> {
    let found = reconcile(env, vault, false).await?;
    let chosen: Vec<UnaccountedSnapshot> = found
        .unaccounted
        .into_iter()
        .filter(|u| {
            only.is_empty()
                || only
                    .iter()
                    .any(|id| *id == u.snapshot_id || *id == u.recovery_point_id)
        })
        .collect();
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let opened = env.open_vault(vault).await?;
    let ids: BTreeSet<String> = chosen.iter().map(|u| u.snapshot_id.clone()).collect();
    let measured = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for snapshot in opened.storage.snapshots(&opened.secret)? {
            if !ids.contains(&snapshot.id) {
                continue;
            }
            let content = opened.storage.content(&opened.secret, &snapshot.id)?;
            out.push((snapshot, content));
        }
        Ok::<_, coffer_vault::StorageError>(out)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;
    let now = env.now();
    let mut adopted = Vec::new();
    for (snapshot, content) in measured {
        let is_tree = snapshot
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("coffer-resource:"))
            .and_then(resource_type_of)
            == Some(ResourceType::FileSystem);
        // A tree's digest is its canonical listing, recomputed here; a
        // stream's is of the bytes, known only from the description.
        let digest = is_tree.then_some(content.digest);
        let point = point_from_snapshot(vault, &snapshot, content.stored_bytes, digest, now)?;
        if env
            .catalog
            .get::<RecoveryPoint>(&point.recovery_point_id)
            .await?
            .is_some()
        {
            continue;
        }
        env.catalog.insert(&point, now).await?;
        tracing::info!(vault = %vault.backup_vault_name, snapshot = %snapshot.id, recovery_point = %point.recovery_point_id, "snapshot adopted as a recovery point");
        adopted.push(point);
    }
    Ok(adopted)
}
