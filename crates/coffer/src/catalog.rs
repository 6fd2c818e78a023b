//! `coffer catalog backup|restore|recover`: the deployment's own disaster
//! recovery. The catalog (the ledger included) backed up into the vault
//! `[self_backup]` names and put back from there, and the recovery points
//! a lost or rolled-back catalog held rebuilt from the vaults, with the
//! ledger entries it lost declared.

use std::path::PathBuf;

use clap::Subcommand;

use crate::context::{with_service, Context};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Back up the catalog (the evidence ledger included) now into the vault config.toml's [self_backup] names.
    #[command(
        after_help = "Example:\n  coffer catalog backup\n\nA ledger checkpoint is signed first, so the copy holds it; the copy is a recovery point of a\nbackup job like any other. `coffer serve` runs it every [self_backup] every_hours (default daily)."
    )]
    Backup,
    /// Put the catalog back from a backup of it in a vault, into an empty catalog location.
    #[command(
        after_help = "Example, on a machine that lost its catalog:\n  coffer keys import keys.export          # the home's keys, if they were lost too\n  coffer catalog restore                 # the newest backup in the [self_backup] vault\n  coffer catalog recover                 # points made since, and the ledger's declared cut\n\nNeeds no catalog: the vault's secret is read from beside its repository. Refuses to replace\na catalog that is there unless --force."
    )]
    Restore {
        /// The vault to restore from (default: config.toml's [self_backup] vault).
        #[arg(long = "from-vault", value_name = "NAME")]
        from_vault: Option<String>,
        /// The recovery point (or snapshot) ID of the backup (default: the newest).
        #[arg(long, value_name = "ID")]
        point: Option<String>,
        /// Replace the catalog that is there.
        #[arg(long)]
        force: bool,
    },
    /// Rebuild lost recovery points from the vaults (the record each snapshot carries), and declare the ledger entries lost.
    #[command(
        after_help = "Example, after the catalog was lost:\n  coffer keys import keyring-export.bin      # if the keyring was lost too\n  coffer apply --stack payments stack.yaml inventory.yaml\n  coffer catalog recover\n\n`apply` opens each vault that is already there with the wrapped secret kept beside its\nrepository; `catalog recover` then records every Coffer snapshot no recovery point\naccounts for, with its lifecycle, tags, sizes and digest. When the ledger is behind the\ncheckpoint kept beside the signing key (an older copy restored, or a catalog recreated), it\nappends a signed `ledger cut` entry naming the entries lost and what was recovered.\nExit 1 when a vault cannot be read."
    )]
    Recover,
}

pub async fn run(ctx: &Context, command: &CatalogCommand) -> anyhow::Result<Outcome> {
    match command {
        CatalogCommand::Backup => {
            with_service(ctx, async |service, caller| backup(service, caller).await).await
        }
        // Restoring opens no catalog first: there may be none.
        CatalogCommand::Restore {
            from_vault,
            point,
            force,
        } => restore(ctx, from_vault.clone(), point.clone(), *force).await,
        CatalogCommand::Recover => {
            with_service(ctx, async |service, caller| recover(service, caller).await).await
        }
    }
}

async fn backup(
    service: &coffer_service::Service,
    caller: &coffer_service::Caller,
) -> anyhow::Result<Outcome> {
    let done = service.backup_catalog(caller).await.map_err(|e| {
        crate::hint(e, coffer_service::ErrorKind::ResourceNotFound, |m| {
            format!(
                "{m} (declare the vault in a stack and apply it; `coffer get vaults` lists them)"
            )
        })
    })?;
    match &done.point {
        Some(point) => {
            println!(
                "Catalog backed up: job {}, recovery point {} in vault {} ({} bytes).",
                done.job.backup_job_id,
                point.recovery_point_arn,
                point.backup_vault_name,
                point.backup_size_in_bytes
            );
            Ok(Outcome::Success)
        }
        None => {
            eprintln!(
                "Catalog backup job {} ended {:?}: {}",
                done.job.backup_job_id,
                done.job.state,
                done.job
                    .status_message
                    .as_deref()
                    .unwrap_or("no reason given")
            );
            Ok(Outcome::Failure)
        }
    }
}

async fn recover(
    service: &coffer_service::Service,
    caller: &coffer_service::Caller,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::Success;
    let recovery = service.recover_catalog(caller).await?;
    for vault in &recovery.vaults {
        match &vault.result {
            Ok(points) => {
                for point in points {
                    println!(
                        "recovered recovery point {} of {} from snapshot {}",
                        point.recovery_point_arn,
                        point.resource_arn,
                        point.snapshot_id.as_deref().unwrap_or_default()
                    );
                }
                println!(
                    "Vault {:?} (account {}, region {}): {} recovery point(s) recovered.",
                    vault.vault_name,
                    vault.account_id,
                    vault.region,
                    points.len()
                );
            }
            Err(problem) => {
                eprintln!(
                    "Vault {:?} (account {}, region {}): cannot be read: {problem}",
                    vault.vault_name, vault.account_id, vault.region
                );
                outcome = Outcome::Failure;
            }
        }
    }
    match &recovery.cut {
                Some(cut) => println!(
                    "Ledger cut declared at entry {} (signed by key {}): {}.",
                    cut.seq,
                    cut.cut.key_fingerprint,
                    cut.cut.summary()
                ),
                None => println!(
                    "Ledger: no entries lost (it agrees with the checkpoint kept beside the signing key, or none is kept)."
                ),
            }
    Ok(outcome)
}

async fn restore(
    ctx: &Context,
    vault: Option<String>,
    point: Option<String>,
    force: bool,
) -> anyhow::Result<Outcome> {
    let args = coffer_service::self_backup::RestoreCatalog {
        vault,
        point,
        force,
    };
    let clock = std::sync::Arc::new(coffer_engine::clock::SystemClock);
    let restored =
        coffer_service::self_backup::restore_catalog(&ctx.config, &ctx.caller(), clock, &args)
            .await
            .map_err(|e| match e.kind() {
                coffer_service::ErrorKind::AlreadyExists => {
                    anyhow::anyhow!("{} (--force replaces it)", e.message())
                }
                coffer_service::ErrorKind::InvalidParameterValue => {
                    anyhow::anyhow!("{} (--from-vault NAME)", e.message())
                }
                _ => e.into(),
            })?;
    let at: PathBuf = restored.created.clone().into();
    println!(
        "Catalog restored to {} from recovery point {} (made {}) in vault {}.",
        at.display(),
        restored.point.recovery_point_id,
        restored.point.creation_date,
        restored.vault
    );
    println!("Next: `coffer catalog recover` records the points made since and declares the ledger entries lost.");
    Ok(Outcome::Success)
}
