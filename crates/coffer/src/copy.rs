//! `coffer copy start`: copy a recovery point to another vault, as a copy
//! action does after a backup. The copy is a recovery point of its own in
//! the destination (its own lifecycle, restorable without the source), and
//! the copy job records source and destination.

use clap::{Args, Subcommand};
use coffer_service::backup::StartCopy;

use crate::context::{with_service, Context, LifecycleArgs};
use crate::{render, Outcome};

#[derive(Debug, Subcommand)]
pub enum CopyCommand {
    /// Start a copy job of one recovery point and wait for it.
    #[command(
        after_help = "Example:\n  coffer copy start --recovery-point RP --destination-vault payments-second-site --delete-after-days 90\n  coffer copy start --recovery-point RP --destination-vault arn:coffer:backup:eu-central-1:210987654321:backup-vault:dr\n\nThe copy is a recovery point of the destination vault, restorable without the source."
    )]
    Start(CopyStart),
}

#[derive(Debug, Args)]
pub struct CopyStart {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
    /// Destination vault: a name (account and region in force) or an ARN.
    #[arg(long, value_name = "NAME|ARN")]
    pub destination_vault: String,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    /// Queue the job for `coffer serve` and return.
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn start(ctx: &Context, args: &CopyStart) -> anyhow::Result<Outcome> {
    let request = StartCopy {
        recovery_point: args.recovery_point.clone(),
        destination_vault: args.destination_vault.clone(),
        lifecycle: args.lifecycle.requested()?,
        queue: args.no_wait,
    };
    with_service(ctx, async |service, caller| {
        let started = service.start_copy_job(caller, request).await.map_err(|e| {
            crate::hint(e, coffer_service::ErrorKind::InvalidParameterValue, |m| {
                format!("--destination-vault {m}")
            })
        })?;
        render::copy_started(&started);
        let id = started.job.copy_job_id;
        if args.no_wait {
            println!("  queued: `coffer serve` runs it; `coffer jobs describe {id}` follows it");
            return Ok(Outcome::Success);
        }
        render::copy_done(&service.run_copy_job(&id).await?)?;
        Ok(Outcome::Success)
    })
    .await
}
