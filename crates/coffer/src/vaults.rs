//! `coffer vault prune|reconcile|check|export-key`.

use std::io::Write as _;

use clap::Subcommand;
use coffer_engine::recovery::Verdict;

use crate::context::{with_service, Context};
use crate::output::OutputFormat;
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Reclaim the space of deleted recovery points (two-phase).
    #[command(
        after_help = "Example:\n  coffer vault prune payments-primary\n\nData no recovery point needs is marked now and removed by a prune at least\n23 hours later, so a backup running meanwhile is never harmed. Never run\n`restic prune` on a vault."
    )]
    Prune {
        /// Vault name.
        name: String,
    },
    /// Reconcile a vault with the catalog: remove what ended jobs left, report snapshots nothing records.
    #[command(
        after_help = "Example:\n  coffer vault reconcile payments-primary --dry-run\n  coffer vault reconcile payments-primary\n  coffer vault reconcile payments-primary --adopt\n\nOnly snapshots of jobs the catalog and the ledger record as ended without them\n(failed, interrupted, aborted), and warm copies of points moved to the cold tier,\nare removed. A Coffer snapshot no recovery point accounts for is never removed:\nit is listed as unaccounted, and --adopt records it again as a recovery point.\nSnapshots made by hand are never touched."
    )]
    Reconcile {
        /// Vault name.
        name: String,
        /// Say what would be removed without removing it.
        #[arg(long, conflicts_with = "adopt")]
        dry_run: bool,
        /// Record the unaccounted snapshots back as recovery points.
        #[arg(long)]
        adopt: bool,
        /// With --adopt: only these snapshots (snapshot or recovery point IDs).
        #[arg(long = "only", value_name = "ID", requires = "adopt")]
        only: Vec<String>,
    },
    /// Check a vault: its structure, and optionally its data read back.
    #[command(
        after_help = "Example:\n  coffer vault check payments-primary\n  coffer vault check payments-primary --read-data 10%\n  coffer vault check payments-primary --read-data 1/7   # with 2/7 .. 7/7 on other days, covers all\n\nExit 1 when a problem is found."
    )]
    Check {
        /// Vault name.
        name: String,
        /// Also read back data: all, a percentage (10%), or n/m.
        #[arg(long, value_name = "SUBSET")]
        read_data: Option<String>,
    },
    /// Print what restic needs to open a vault by hand (after a confirmation).
    #[command(
        after_help = "Example:\n  coffer vault export-key payments-primary\n  coffer vault export-key payments-primary --yes -o json\n\nWith the output, Debian's restic lists, checks and restores the vault with nothing of Coffer installed."
    )]
    ExportKey {
        /// Vault name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Output format (json: {"repository": ..., "password": ...}).
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

pub async fn run(ctx: &Context, command: &VaultCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| match command {
        VaultCommand::Prune { name } => {
            let summary = service.prune_vault(caller, name).await?;
            println!(
                "Vault {name:?}: {} pack(s) marked for deletion, {} removed, {} repacked.",
                summary.marked, summary.removed, summary.repacked
            );
            Ok(Outcome::Success)
        }
        VaultCommand::Reconcile {
            name,
            dry_run,
            adopt,
            only,
        } => {
            if *adopt {
                let adopted = service.adopt_snapshots(caller, name, only).await?;
                for point in &adopted {
                    println!(
                        "adopted snapshot {} as recovery point {} of {}",
                        point.snapshot_id.as_deref().unwrap_or_default(),
                        point.recovery_point_id,
                        point.resource_arn
                    );
                }
                println!(
                    "Vault {name:?}: {} snapshot(s) recorded again as recovery points.",
                    adopted.len()
                );
                return Ok(Outcome::Success);
            }
            let found = service.reconcile_vault(caller, name, *dry_run).await?;
            for removed in &found.removed {
                let why = match &removed.verdict {
                    Verdict::Abandoned { job_id, state } => {
                        format!("left by job {job_id}, which is {state} without it")
                    }
                    Verdict::Superseded { recovery_point_id } => {
                        format!("recovery point {recovery_point_id} moved to the cold tier")
                    }
                    other => format!("{other:?}"),
                };
                let verb = if *dry_run { "would remove" } else { "removed" };
                println!("{verb} snapshot {} ({why})", removed.snapshot_id);
            }
            for kept in &found.unaccounted {
                println!(
                    "unaccounted snapshot {} (recovery point {}, {}): {}; kept",
                    kept.snapshot_id,
                    kept.recovery_point_id,
                    kept.time,
                    kept.why
                );
            }
            if !dry_run && !found.removed.is_empty() {
                println!(
                    "Vault {name:?}: {} snapshot(s) of ended jobs removed; their data is freed by the next prune.",
                    found.removed.len()
                );
            }
            if found.unaccounted.is_empty() {
                if found.removed.is_empty() {
                    println!("Vault {name:?}: every Coffer snapshot is a recorded recovery point.");
                }
            } else {
                println!(
                    "Vault {name:?}: {} snapshot(s) no recovery point accounts for; `coffer vault reconcile {name} --adopt` records them again.",
                    found.unaccounted.len()
                );
            }
            Ok(Outcome::Success)
        }
        VaultCommand::Check { name, read_data } => {
            let what = match read_data {
                Some(subset) => format!("structure and data ({subset})"),
                None => "structure".to_string(),
            };
            match service.check_vault(caller, name, read_data.as_deref()).await? {
                Ok(()) => {
                    println!("Vault {name:?}: {what} OK.");
                    Ok(Outcome::Success)
                }
                Err(problem) => {
                    eprintln!("Vault {name:?}: check of {what} FAILED: {problem}");
                    Ok(Outcome::Failure)
                }
            }
        }
        VaultCommand::ExportKey { name, yes, output } => {
            // Nothing is unwrapped before the person agrees.
            if !yes && !confirm(name)? {
                eprintln!("Nothing printed.");
                return Ok(Outcome::Failure);
            }
            let key = service.export_vault_key(caller, name).await?;
            match output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({"repository": key.repository, "password": key.password})
                ),
                _ => {
                    println!("repository: {}", key.repository);
                    println!("password:   {}", key.password);
                    println!();
                    println!(
                        "e.g. RESTIC_PASSWORD=... restic --repo {} snapshots",
                        key.repository
                    );
                }
            }
            Ok(Outcome::Success)
        }
    })
    .await
}

fn confirm(name: &str) -> anyhow::Result<bool> {
    eprint!("This prints the password that opens every backup in vault {name:?}. Continue? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
