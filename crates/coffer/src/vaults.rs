//! `coffer vault prune|reconcile|check|export-key`.

use std::io::Write as _;

use clap::Subcommand;

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
    /// Remove snapshots an interrupted job left in a vault (no recovery point records them).
    #[command(
        after_help = "Example:\n  coffer vault reconcile payments-primary --dry-run\n  coffer vault reconcile payments-primary\n\nOnly snapshots Coffer made (tagged coffer-recovery-point:) whose job is not running are removed;\nsnapshots made by hand are never touched."
    )]
    Reconcile {
        /// Vault name.
        name: String,
        /// Say what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
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
        VaultCommand::Reconcile { name, dry_run } => {
            let found = service.reconcile_vault(caller, name, *dry_run).await?;
            if found.is_empty() {
                println!("Vault {name:?}: every Coffer snapshot is a recorded recovery point.");
                return Ok(Outcome::Success);
            }
            for id in &found {
                if *dry_run {
                    println!("would remove snapshot {id}");
                } else {
                    println!("removed snapshot {id}");
                }
            }
            if !dry_run {
                println!(
                    "Vault {name:?}: {} orphan snapshot(s) removed; their data is freed by the next prune.",
                    found.len()
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
