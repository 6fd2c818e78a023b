//! `coffer backup start`: an on-demand backup job, run by the engine as
//! the daemon runs scheduled ones. With `--no-wait` the job is queued for
//! `coffer serve`, as AWS's StartBackupJob returns at once, with a start
//! window of 8 hours.

use clap::{Args, Subcommand};
use coffer_service::backup::StartBackup;

use crate::context::{with_service, Context, LifecycleArgs};
use crate::{progress, render, Outcome};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Start a backup job of one resource into a vault and wait for it.
    #[command(
        after_help = "Example:\n  coffer backup start --resource arn:coffer:fs:eu-west-1:210987654321:filesystem/shared-home --vault payments-primary\n  coffer backup start --resource arn:coffer:postgres:eu-west-1:210987654321:database/pg-main/orders --vault payments-primary --delete-after-days 35\n\nThe job and its recovery point are recorded in the catalog (`coffer recovery-points list`)."
    )]
    Start(BackupStart),
}

#[derive(Debug, Args)]
pub struct BackupStart {
    /// ARN of the resource (`coffer get resources` lists them).
    #[arg(long, value_name = "ARN")]
    pub resource: String,
    /// Vault to store the recovery point in.
    #[arg(long, value_name = "NAME")]
    pub vault: String,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    /// Queue the job for `coffer serve` (start window 8 hours) and return.
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn start(ctx: &Context, args: &BackupStart) -> anyhow::Result<Outcome> {
    let request = StartBackup {
        resource_arn: args.resource.clone(),
        vault_name: args.vault.clone(),
        lifecycle: args.lifecycle.requested()?,
        queue: args.no_wait,
    };
    with_service(ctx, async |service, caller| {
        let started = service.start_backup_job(caller, request).await?;
        render::backup_started(&started);
        let job_id = &started.job.backup_job_id;
        if args.no_wait {
            println!("  queued: `coffer serve` starts it within 8 hours; `coffer jobs describe {job_id}` follows it");
            return Ok(Outcome::Success);
        }
        let done = service
            .run_backup_job(&started, Some(progress::Bar::new("backup")), render::waits_behind)
            .await?;
        render::backup_done(&done)?;
        Ok(Outcome::Success)
    })
    .await
}
