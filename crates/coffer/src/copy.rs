//! `coffer copy start`: copy a recovery point to another vault, as a copy
//! action does after a backup (the engine's `run_copy`). The copy is a
//! recovery point of its own in the destination (its own lifecycle,
//! restorable without the source), and the copy job records source and
//! destination.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_engine::exec;
use coffer_model::{Arn, CopyJobState};

use crate::backup::requested_lifecycle;
use crate::cli::{CopyStart, Global};
use crate::context::Context;
use crate::{lookup, Outcome};

pub async fn start(global: &Global, args: &CopyStart) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = run(&ctx, &catalog, args).await;
    catalog.close().await;
    result
}

async fn run(ctx: &Context, catalog: &Catalog, args: &CopyStart) -> anyhow::Result<Outcome> {
    let env = ctx.env(catalog);
    let source_point = lookup::recovery_point(catalog, &args.recovery_point)
        .await?
        .record;
    let source_vault = lookup::vault_of_point(catalog, &source_point).await?;
    // The destination: a vault name (the account and region in force) or ARN.
    let (account, region, name) = match Arn::parse(&args.destination_vault) {
        Ok(arn) => match arn.backup_vault_name() {
            Some(name) => (
                arn.account().to_string(),
                arn.region().to_string(),
                name.to_string(),
            ),
            None => bail!(
                "--destination-vault {} is not a backup vault ARN; give a vault name, or arn:coffer:backup:REGION:ACCOUNT:backup-vault:NAME",
                args.destination_vault
            ),
        },
        Err(_) => (
            ctx.account.to_string(),
            ctx.region.to_string(),
            args.destination_vault.clone(),
        ),
    };
    let dest_vault = lookup::vault_object(catalog, &account, &region, &name).await?;
    let lifecycle = requested_lifecycle(args.cold_after_days, args.delete_after_days)?;
    let job = exec::create_copy_job(
        &env,
        exec::new_job_id(),
        &source_point,
        &dest_vault,
        lifecycle,
        !args.no_wait,
    )
    .await?;
    let id = job.copy_job_id.clone();
    println!(
        "Copy job {id}: {} from vault {:?} to vault {:?}",
        source_point.recovery_point_arn,
        source_vault.backup_vault_name,
        dest_vault.backup_vault_name
    );
    if args.no_wait {
        println!("  queued: `coffer serve` runs it; `coffer jobs describe {id}` follows it");
        return Ok(Outcome::Success);
    }
    let done = exec::run_copy(&env, &id).await?;
    if done.state != CopyJobState::Completed {
        bail!(
            "copy job {id} FAILED: {}",
            done.status_message.unwrap_or_default()
        );
    }
    println!("Copy job {id} COMPLETED");
    if let Some(arn) = &done.destination_recovery_point_arn {
        println!("  recovery point  {arn}");
    }
    Ok(Outcome::Success)
}
