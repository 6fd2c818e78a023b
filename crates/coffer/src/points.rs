//! `coffer recovery-points list|describe|delete|update-lifecycle`.
//!
//! Deleting and changing a lifecycle go through `coffer_vault::check` with
//! the configured principal: legal holds, the vault lock and the vault's
//! access policy are all decided there, for every caller.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_model::{CalculatedLifecycle, Lifecycle, RecoveryPoint, RecoveryPointStatus};
use coffer_vault::{Caller, Operation};

use crate::cli::{Global, OutputFormat, PointsCommand};
use crate::context::Context;
use crate::{lookup, output, Outcome};

pub async fn run(global: &Global, command: &PointsCommand) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = match command {
        PointsCommand::List {
            vault,
            resource,
            all,
            output,
        } => {
            list(
                &ctx,
                &catalog,
                vault.as_deref(),
                resource.as_deref(),
                *all,
                *output,
            )
            .await
        }
        PointsCommand::Describe {
            recovery_point,
            output,
        } => describe(&catalog, recovery_point, *output).await,
        PointsCommand::Delete { recovery_point } => delete(&ctx, &catalog, recovery_point).await,
        PointsCommand::UpdateLifecycle {
            recovery_point,
            delete_after_days,
            cold_after_days,
        } => {
            let lifecycle = Lifecycle {
                move_to_cold_storage_after_days: *cold_after_days,
                delete_after_days: *delete_after_days,
                ..Lifecycle::default()
            };
            update_lifecycle(&ctx, &catalog, recovery_point, lifecycle).await
        }
    };
    catalog.close().await;
    result
}

async fn list(
    ctx: &Context,
    catalog: &Catalog,
    vault: Option<&str>,
    resource: Option<&str>,
    all: bool,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let mut filters: Vec<(&str, &str)> = Vec::new();
    if let Some(vault) = vault {
        filters.push(("vault_name", vault));
    }
    if let Some(resource) = resource {
        filters.push(("resource_arn", resource));
    }
    let points: Vec<RecoveryPoint> = catalog
        .list::<RecoveryPoint>(&filters)
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|p| {
            coffer_model::Arn::parse(&p.recovery_point_arn).is_ok_and(|a| {
                a.account() == ctx.account.as_str() && a.region() == ctx.region.as_str()
            })
        })
        .filter(|p| all || p.status != RecoveryPointStatus::Deleted)
        .collect();
    output::print(format, &points, || {
        let rows = points
            .iter()
            .map(|p| {
                vec![
                    p.recovery_point_id.clone(),
                    p.backup_vault_name.clone(),
                    p.resource_arn.clone(),
                    upper(&p.status),
                    p.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    p.backup_size_in_bytes.to_string(),
                    p.calculated_lifecycle
                        .delete_at
                        .map_or("never".into(), |t| t.strftime("%Y-%m-%d").to_string()),
                ]
            })
            .collect();
        let header = [
            "ID",
            "VAULT",
            "RESOURCE",
            "STATUS",
            "CREATED",
            "BYTES",
            "DELETE AT",
        ];
        output::table(&header, rows)
    })?;
    Ok(Outcome::Success)
}

fn upper(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn describe(
    catalog: &Catalog,
    recovery_point: &str,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let point = lookup::recovery_point(catalog, recovery_point)
        .await?
        .record;
    let doc = serde_json::to_value(&point)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        _ => print!("{}", output::yaml(&doc)?),
    }
    Ok(Outcome::Success)
}

/// The guard's decision for `operation` on `point`, as the configured principal.
async fn guard(
    ctx: &Context,
    catalog: &Catalog,
    point: &RecoveryPoint,
    operation: &Operation,
) -> anyhow::Result<coffer_model::BackupVault> {
    let vault = lookup::vault_of_point(catalog, point).await?;
    let holds = lookup::legal_holds(catalog).await?;
    let principal = ctx.config.principal();
    if let Err(refusal) = coffer_vault::check(
        operation,
        Caller::Principal(principal),
        point,
        &vault,
        &holds,
        jiff::Timestamp::now(),
    ) {
        bail!("refused: {refusal}");
    }
    Ok(vault)
}

async fn delete(ctx: &Context, catalog: &Catalog, recovery_point: &str) -> anyhow::Result<Outcome> {
    let stored = lookup::recovery_point(catalog, recovery_point).await?;
    let point = stored.record;
    if point.status == RecoveryPointStatus::Deleted {
        bail!(
            "recovery point {} is already deleted",
            point.recovery_point_id
        );
    }
    let vault = guard(ctx, catalog, &point, &Operation::Delete).await?;
    coffer_engine::exec::remove_data(
        &ctx.env(catalog),
        point.clone(),
        stored.version,
        &vault,
        None,
    )
    .await?;
    println!(
        "Deleted recovery point {} (its data is freed when vault {:?} is next pruned).",
        point.recovery_point_arn, point.backup_vault_name
    );
    Ok(Outcome::Success)
}

async fn update_lifecycle(
    ctx: &Context,
    catalog: &Catalog,
    recovery_point: &str,
    lifecycle: Lifecycle,
) -> anyhow::Result<Outcome> {
    let stored = lookup::recovery_point(catalog, recovery_point).await?;
    let mut point = stored.record;
    if point.status == RecoveryPointStatus::Deleted {
        bail!("recovery point {} is deleted", point.recovery_point_id);
    }
    guard(ctx, catalog, &point, &Operation::UpdateLifecycle(lifecycle)).await?;
    point.calculated_lifecycle =
        CalculatedLifecycle::from_lifecycle(point.creation_date, &lifecycle);
    point.lifecycle = lifecycle;
    catalog
        .update(&point, stored.version, jiff::Timestamp::now())
        .await?;
    println!(
        "Recovery point {}: delete at {}",
        point.recovery_point_id,
        point
            .calculated_lifecycle
            .delete_at
            .map_or("never".to_string(), |t| t.to_string())
    );
    Ok(Outcome::Success)
}
