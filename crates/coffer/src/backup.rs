//! `coffer backup start`: an on-demand backup job, run by the engine
//! (`coffer_engine::exec::run_backup`) as the daemon runs scheduled ones.
//! With `--no-wait` the job is queued for `coffer serve`, as AWS's
//! StartBackupJob returns at once, with a start window of 8 hours.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_engine::exec::{self, BackupOptions};
use coffer_model::{BackupJob, BackupJobState, Lifecycle, RecoveryPoint};

use crate::cli::{BackupStart, Global};
use crate::context::Context;
use crate::{lookup, progress, Outcome};

/// AWS's default StartWindowMinutes for StartBackupJob.
const DEFAULT_START_WINDOW_MINUTES: i64 = 8 * 60;

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

/// How often a job waiting behind another backup of its resource looks
/// again.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the job, waiting (PENDING) while another job backs up the same
/// resource: one backup of a resource at a time, as AWS does.
async fn run_when_free(
    env: &coffer_engine::env::Env,
    job_id: &str,
    options: &BackupOptions,
) -> anyhow::Result<BackupJob> {
    let mut behind_shown: Option<String> = None;
    loop {
        match exec::run_backup(env, job_id, options).await {
            Err(coffer_engine::Error::WaitsBehind { behind, .. }) => {
                if behind_shown.as_deref() != Some(behind.as_str()) {
                    println!("  PENDING: waits behind backup job {behind}, which is backing up the same resource (`coffer jobs describe {behind}`)");
                    behind_shown = Some(behind);
                }
                tokio::time::sleep(WAIT_POLL).await;
                // Stopped while it waited (`coffer jobs abort`).
                let job = exec::fetch::<BackupJob>(env, job_id).await?.record;
                if job.state.is_terminal() {
                    return Ok(job);
                }
            }
            other => return Ok(other?),
        }
    }
}

pub async fn start(global: &Global, args: &BackupStart) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, args).await;
    catalog.close().await;
    result
}

async fn run(ctx: &Context, catalog: &Catalog, args: &BackupStart) -> anyhow::Result<Outcome> {
    let env = ctx.env(catalog);
    let resource = lookup::resource(ctx, catalog, &args.resource).await?;
    let (account, region) = (resource.account_id.clone(), resource.region.clone());
    let vault =
        lookup::vault_object(catalog, account.as_str(), region.as_str(), &args.vault).await?;
    let lifecycle = requested_lifecycle(args.cold_after_days, args.delete_after_days)?;

    let now = jiff::Timestamp::now();
    let job = BackupJob {
        // Only a queued job has a start window: the daemon runs those.
        start_by: args.no_wait.then(|| {
            now.checked_add(jiff::SignedDuration::from_mins(
                DEFAULT_START_WINDOW_MINUTES,
            ))
            .unwrap_or(now)
        }),
        lifecycle,
        ..BackupJob::created(
            exec::new_job_id(),
            account.as_str(),
            region.as_str(),
            &vault.backup_vault_name,
            &resource.resource_arn.to_string(),
            resource.resource_type,
            now,
        )
    };
    catalog.insert(&job, now).await?;
    let job_id = job.backup_job_id.clone();
    println!(
        "Backup job {job_id}: {} into vault {:?}",
        resource.resource_arn, vault.backup_vault_name
    );
    if args.no_wait {
        println!("  queued: `coffer serve` starts it within 8 hours; `coffer jobs describe {job_id}` follows it");
        return Ok(Outcome::Success);
    }
    let bar = progress::Bar::new("backup");
    let options = BackupOptions {
        observer: Some(bar),
        retry_backoff: None,
    };
    let done = run_when_free(&env, &job_id, &options).await?;
    if done.state != BackupJobState::Completed {
        bail!(
            "backup job {job_id} {}: {}",
            done.state.as_str(),
            done.status_message.unwrap_or_default()
        );
    }
    let point_id = done
        .recovery_point_arn
        .as_deref()
        .map(|arn| RecoveryPoint::id_of(arn).to_string())
        .unwrap_or_default();
    let point = catalog
        .get::<RecoveryPoint>(&point_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("recovery point {point_id} vanished from the catalog"))?
        .record;
    let seconds = point.duration_ms.unwrap_or_default() as f64 / 1000.0;
    println!("Backup job {job_id} COMPLETED in {seconds:.1} s");
    println!("  recovery point  {}", point.recovery_point_arn);
    println!(
        "  size            {} bytes read; {} bytes stored in the vault, {} of them new",
        point.backup_size_in_bytes, point.stored_bytes, point.bytes_added
    );
    if let Some(sha) = &point.content_sha256 {
        println!("  content SHA-256 {sha}");
    }
    if let Some(manifest) = &point.manifest {
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
