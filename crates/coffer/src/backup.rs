//! `coffer backup start`: an on-demand backup job.
//!
//! The job is recorded (CREATED, then RUNNING) before any data moves; the
//! recovery point row is written only after its snapshot is complete, so
//! nothing a reader counts as a recovery point can be half-written. A job
//! that fails ends FAILED with the reason in the resource's own words.

use std::time::Instant;

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_model::{
    Arn, BackupJob, BackupJobState, CalculatedLifecycle, JobAttempt, Lifecycle, RecoveryPoint,
    RecoveryPointStatus, StorageClass,
};

use crate::cli::{BackupStart, Global};
use crate::context::Context;
use crate::{lookup, progress, Outcome};

/// The lifecycle a `--cold-after-days` / `--delete-after-days` pair asks for.
///
/// # Errors
/// When AWS's rules refuse it (the finding says what to change).
pub fn requested_lifecycle(
    cold_after_days: Option<u32>,
    delete_after_days: Option<u32>,
) -> anyhow::Result<Lifecycle> {
    let lifecycle = Lifecycle {
        move_to_cold_storage_after_days: cold_after_days,
        delete_after_days,
        ..Lifecycle::default()
    };
    if let Some(finding) = lifecycle.validate().into_iter().next() {
        bail!("the lifecycle is not valid: {finding}");
    }
    Ok(lifecycle)
}

/// Why `vault`'s lock refuses a new recovery point with `lifecycle` (the
/// reason names both numbers), if it does.
pub fn lock_refusal(vault: &coffer_model::BackupVault, lifecycle: &Lifecycle) -> Option<String> {
    let lock = vault.lock_configuration.as_ref()?;
    let reason = lock.check_retention(lifecycle.delete_after_days).err()?;
    Some(format!(
        "vault {:?} is locked: {reason}",
        vault.backup_vault_name
    ))
}

pub fn new_job_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

pub async fn start(global: &Global, args: &BackupStart) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, args).await;
    catalog.close().await;
    result
}

async fn run(ctx: &Context, catalog: &Catalog, args: &BackupStart) -> anyhow::Result<Outcome> {
    let resource = lookup::resource(catalog, &args.resource).await?;
    let (account, region) = (resource.account_id.clone(), resource.region.clone());
    let vault =
        lookup::vault_object(catalog, account.as_str(), region.as_str(), &args.vault).await?;
    let lifecycle = requested_lifecycle(args.cold_after_days, args.delete_after_days)?;

    let now = jiff::Timestamp::now();
    let mut job = BackupJob {
        backup_job_id: new_job_id(),
        account_id: account.to_string(),
        region: region.to_string(),
        backup_vault_name: vault.backup_vault_name.clone(),
        resource_arn: resource.resource_arn.to_string(),
        resource_type: resource.resource_type,
        state: BackupJobState::Created,
        status_message: None,
        creation_date: now,
        start_by: None,
        completion_date: None,
        backup_plan_name: None,
        backup_rule_name: None,
        lifecycle,
        recovery_point_arn: None,
        backup_size_in_bytes: 0,
        percent_done: 0,
        started_at: None,
        completion_window_minutes: None,
        attempts: Vec::new(),
    };
    catalog.insert(&job, now).await?;
    let job_id = job.backup_job_id.clone();
    println!(
        "Backup job {job_id}: {} into vault {:?}",
        resource.resource_arn, vault.backup_vault_name
    );

    // A lifecycle outside the vault lock's bounds fails the job, naming both numbers.
    if let Some(message) = lock_refusal(&vault, &lifecycle) {
        return fail(catalog, &job_id, anyhow::anyhow!(message)).await;
    }

    let opened = match lookup::open_vault(ctx, catalog, &vault).await {
        Ok(opened) => opened,
        Err(e) => return fail(catalog, &job_id, e).await,
    };
    let started_at = jiff::Timestamp::now();
    catalog
        .transition_backup_job(&job_id, BackupJobState::Running, None, started_at)
        .await?;
    let point_id = uuid::Uuid::new_v4().to_string();
    let tags =
        coffer_drivers::snapshot_tags(&resource.resource_arn.to_string(), &point_id, &job_id, None);
    let bar = progress::Bar::new("backup");
    let mut opened = opened;
    opened.storage = opened.storage.with_observer(bar.clone());
    let started = Instant::now();
    let scratch = ctx.config.home().join("tmp");
    let outcome = coffer_drivers::backup(&resource, &opened, tags, &scratch).await;
    coffer_vault::Observer::done(&*bar);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let error = anyhow::Error::from(e);
            record_attempt(catalog, &job_id, started_at, Some(format!("{error:#}"))).await?;
            return fail(catalog, &job_id, error).await;
        }
    };
    let finished = jiff::Timestamp::now();
    let point = RecoveryPoint {
        recovery_point_id: point_id.clone(),
        recovery_point_arn: Arn::recovery_point(&region, &account, &point_id).to_string(),
        backup_vault_name: vault.backup_vault_name.clone(),
        backup_vault_arn: vault.backup_vault_arn.to_string(),
        resource_arn: resource.resource_arn.to_string(),
        resource_type: resource.resource_type,
        status: RecoveryPointStatus::Completed,
        status_message: None,
        storage_class: StorageClass::Warm,
        creation_date: now,
        completion_date: Some(finished),
        calculated_lifecycle: CalculatedLifecycle::from_lifecycle(now, &lifecycle),
        lifecycle,
        backup_size_in_bytes: outcome.bytes,
        is_encrypted: true,
        encryption_key_arn: vault.encryption_key_arn.as_ref().map(ToString::to_string),
        created_by_job_id: Some(job_id.clone()),
        created_by_backup_plan_name: None,
        created_by_backup_rule_name: None,
        source_recovery_point_arn: None,
        content_sha256: Some(outcome.content_sha256.clone()),
        tags: resource.tags.clone(),
        snapshot_id: Some(outcome.snapshot_id.clone()),
        bytes_added: outcome.bytes_added,
        stored_bytes: outcome.stored_bytes,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        manifest: outcome.manifest.clone(),
    };
    catalog.insert(&point, finished).await?;
    let stored = catalog
        .get::<BackupJob>(&job_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("backup job {job_id} vanished from the catalog"))?;
    job = stored.record;
    job.recovery_point_arn = Some(point.recovery_point_arn.clone());
    job.backup_size_in_bytes = outcome.bytes;
    job.percent_done = 100;
    job.started_at = Some(started_at);
    job.attempts.push(JobAttempt {
        started_at,
        ended_at: Some(finished),
        error: None,
    });
    catalog.update(&job, stored.version, finished).await?;
    catalog
        .transition_backup_job(&job_id, BackupJobState::Completed, None, finished)
        .await?;
    println!(
        "Backup job {job_id} COMPLETED in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("  recovery point  {}", point.recovery_point_arn);
    println!(
        "  size            {} bytes read; {} bytes stored in the vault, {} of them new",
        outcome.bytes, outcome.stored_bytes, outcome.bytes_added
    );
    println!("  content SHA-256 {}", outcome.content_sha256);
    if let Some(manifest) = &outcome.manifest {
        let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
        println!(
            "  manifest        {} table(s), {rows} row(s)",
            manifest.tables.len()
        );
    }
    if let Some(delete_at) = point.calculated_lifecycle.delete_at {
        println!("  delete at       {delete_at}");
    }
    Ok(Outcome::Success)
}

/// Records an attempt that ended (with its error) on the job.
async fn record_attempt(
    catalog: &Catalog,
    job_id: &str,
    started_at: jiff::Timestamp,
    error: Option<String>,
) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let stored = catalog
        .get::<BackupJob>(job_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("backup job {job_id} vanished from the catalog"))?;
    let mut job = stored.record;
    job.started_at.get_or_insert(started_at);
    job.attempts.push(JobAttempt {
        started_at,
        ended_at: Some(now),
        error,
    });
    catalog.update(&job, stored.version, now).await?;
    Ok(())
}

async fn fail(catalog: &Catalog, job_id: &str, error: anyhow::Error) -> anyhow::Result<Outcome> {
    let message = format!("{error:#}");
    catalog
        .transition_backup_job(
            job_id,
            BackupJobState::Failed,
            Some(message.clone()),
            jiff::Timestamp::now(),
        )
        .await?;
    bail!("backup job {job_id} FAILED: {message}")
}
