//! `coffer lifecycle sweep`: one pass of the lifecycle sweeper, now.
//!
//! Points whose `MoveToColdStorageAt` has come move to the cold tier; points
//! whose `DeleteAt` has come expire (their snapshot is deleted and the
//! record kept as DELETED, with the reason), unless a legal hold keeps them;
//! every expiry is decided by the vault guard as the sweeper. Vaults that
//! lost snapshots are then pruned: unreferenced data is marked and removed
//! by a later prune (two-phase, so a backup running meanwhile is safe).

use coffer_catalog::{Catalog, ObjectKind};
use coffer_engine::sweeper::{decide, Decision};
use coffer_model::{BackupVault, RecoveryPoint, StorageClass};

use crate::cli::Global;
use crate::context::Context;
use crate::{lookup, Outcome};

pub async fn run(global: &Global, dry_run: bool) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = sweep(&ctx, &catalog, dry_run).await;
    catalog.close().await;
    result
}

async fn sweep(ctx: &Context, catalog: &Catalog, dry_run: bool) -> anyhow::Result<Outcome> {
    let now = jiff::Timestamp::now();
    let stored = catalog.list::<RecoveryPoint>(&[]).await?;
    let points: Vec<RecoveryPoint> = stored.iter().map(|s| s.record.clone()).collect();
    let vaults: Vec<BackupVault> = catalog
        .list_objects(ObjectKind::BackupVault)
        .await?
        .into_iter()
        .filter_map(|o| serde_json::from_value(o.doc).ok())
        .collect();
    let holds = lookup::legal_holds(catalog).await?;
    let decisions = decide(
        &points,
        |p| {
            vaults
                .iter()
                .find(|v| v.backup_vault_arn.to_string() == p.backup_vault_arn)
        },
        &holds,
        now,
    );
    if decisions.is_empty() {
        println!("Nothing is due.");
        return Ok(Outcome::Success);
    }
    let mut touched: Vec<&BackupVault> = Vec::new();
    let mut failed = false;
    for (id, decision) in decisions {
        let Some(entry) = stored.iter().find(|s| s.record.recovery_point_id == id) else {
            continue;
        };
        let mut point = entry.record.clone();
        match decision {
            Decision::Kept(reason) => println!("kept     {id}: {reason}"),
            Decision::MoveToCold => {
                println!(
                    "cold     {id} (MoveToColdStorageAt {})",
                    show(point.calculated_lifecycle.move_to_cold_storage_at)
                );
                if !dry_run {
                    point.storage_class = StorageClass::Cold;
                    catalog.update(&point, entry.version, now).await?;
                }
            }
            Decision::Expire => {
                println!(
                    "expire   {id} (DeleteAt {})",
                    show(point.calculated_lifecycle.delete_at)
                );
                if dry_run {
                    continue;
                }
                let Some(vault) = vaults
                    .iter()
                    .find(|v| v.backup_vault_arn.to_string() == point.backup_vault_arn)
                else {
                    continue;
                };
                let reason = Some(format!("expired by its lifecycle at {now}"));
                match crate::points::remove_data(ctx, catalog, point, entry.version, vault, reason)
                    .await
                {
                    Ok(()) => {
                        if !touched
                            .iter()
                            .any(|v| v.backup_vault_arn == vault.backup_vault_arn)
                        {
                            touched.push(vault);
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failed = true;
                    }
                }
            }
        }
    }
    for vault in touched {
        let opened = lookup::open_vault(ctx, catalog, vault).await?;
        let pruned =
            tokio::task::spawn_blocking(move || opened.storage.prune(&opened.secret)).await??;
        println!(
            "pruned   vault {:?}: {} pack(s) marked for deletion, {} removed",
            vault.backup_vault_name, pruned.marked, pruned.removed
        );
    }
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

fn show(t: Option<jiff::Timestamp>) -> String {
    t.map_or("-".into(), |t| t.to_string())
}
