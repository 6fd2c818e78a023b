//! `coffer lifecycle sweep`: one pass of the lifecycle sweeper, now.
//!
//! Points whose `MoveToColdStorageAt` has come move to the cold tier; points
//! whose `DeleteAt` has come expire (their snapshot is deleted and the
//! record kept as DELETED, with the reason), unless a legal hold keeps them;
//! every expiry is decided by the vault guard as the sweeper. Vaults that
//! lost snapshots are then pruned: unreferenced data is marked and removed
//! by a later prune (two-phase, so a backup running meanwhile is safe).

use clap::Subcommand;
use coffer_engine::sweeper::Decision;

use crate::context::{with_service, Context};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// One pass of the lifecycle sweeper, now (`coffer serve` runs it on a schedule).
    #[command(
        after_help = "Example:\n  coffer lifecycle sweep --dry-run\n  coffer lifecycle sweep\n\nExpiry is decided by the vault guard: a point under a legal hold is kept.\nSpace is reclaimed in two phases (marked now, removed by a later sweep)."
    )]
    Sweep {
        /// Say what is due without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(ctx: &Context, dry_run: bool) -> anyhow::Result<Outcome> {
    let report = with_service(ctx, async |service, _| Ok(service.sweep(dry_run).await?)).await?;
    if report.entries.is_empty() {
        println!("Nothing is due.");
        return Ok(Outcome::Success);
    }
    for entry in &report.entries {
        let id = &entry.recovery_point_id;
        match &entry.decision {
            Decision::Kept(reason) => println!("kept     {id}: {reason}"),
            Decision::MoveToCold => {
                println!("cold     {id} (MoveToColdStorageAt {})", show(entry.due_at))
            }
            Decision::Expire => println!("expire   {id} (DeleteAt {})", show(entry.due_at)),
        }
    }
    for (vault, pruned) in &report.pruned {
        println!(
            "pruned   vault {vault:?}: {} pack(s) marked for deletion, {} removed",
            pruned.marked, pruned.removed
        );
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    Ok(if report.errors.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn show(t: Option<jiff::Timestamp>) -> String {
    t.map_or("-".into(), |t| t.to_string())
}
