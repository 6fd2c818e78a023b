//! Finding what a command names in the catalog: vaults (with their opened
//! storage), resources (declared, or discovered on a declared server),
//! recovery points (by ARN or ID) and legal holds.

use anyhow::{bail, Context as _};
use coffer_catalog::{Catalog, ObjectKind};
use coffer_drivers::Vault;
use coffer_model::{BackupVault, LegalHold, RecoveryPoint, Resource};

use crate::context::Context;

/// A vault's declaration by name, in an account and region.
pub async fn vault_object(
    catalog: &Catalog,
    account: &str,
    region: &str,
    name: &str,
) -> anyhow::Result<BackupVault> {
    let objects = catalog.list_objects(ObjectKind::BackupVault).await?;
    let found = objects
        .iter()
        .find(|o| o.account_id == account && o.region == region && o.name == name);
    match found {
        Some(object) => Ok(serde_json::from_value(object.doc.clone())
            .with_context(|| format!("the catalog's record of vault {name:?} cannot be read"))?),
        None => {
            let known: Vec<&str> = objects
                .iter()
                .filter(|o| o.account_id == account && o.region == region)
                .map(|o| o.name.as_str())
                .collect();
            bail!(
                "vault {name:?} is not declared in account {account}, region {region}{}; apply the stack that declares it, or check --account and --region",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (vaults there: {})", known.join(", "))
                }
            )
        }
    }
}

/// The vault a recovery point is in.
pub async fn vault_of_point(
    catalog: &Catalog,
    point: &RecoveryPoint,
) -> anyhow::Result<BackupVault> {
    let arn = coffer_model::Arn::parse(&point.backup_vault_arn).map_err(|e| {
        anyhow::anyhow!(
            "vault ARN of recovery point {}: {e}",
            point.recovery_point_id
        )
    })?;
    vault_object(
        catalog,
        arn.account(),
        arn.region(),
        &point.backup_vault_name,
    )
    .await
}

/// A vault's storage, opened with its secret (unwrapped from the keyring).
pub async fn open_vault(
    ctx: &Context,
    catalog: &Catalog,
    vault: &BackupVault,
) -> anyhow::Result<Vault> {
    Ok(ctx.env(catalog).open_vault(vault).await?)
}

/// A resource by ARN: declared in an applied inventory, or a database a
/// declared server holds (found by asking the server).
pub async fn resource(ctx: &Context, catalog: &Catalog, arn: &str) -> anyhow::Result<Resource> {
    Ok(ctx.env(catalog).resource(arn).await?)
}

/// A recovery point by ARN or ID.
pub async fn recovery_point(
    catalog: &Catalog,
    arn_or_id: &str,
) -> anyhow::Result<coffer_catalog::Stored<RecoveryPoint>> {
    let id = RecoveryPoint::id_of(arn_or_id);
    catalog.get::<RecoveryPoint>(id).await?.with_context(|| {
        format!("there is no recovery point {arn_or_id}; `coffer recovery-points list` shows them")
    })
}

/// Every legal hold (the guard decides which pin a point).
pub async fn legal_holds(catalog: &Catalog) -> anyhow::Result<Vec<LegalHold>> {
    records(catalog, |_: &LegalHold| true).await
}

/// Every record of a kind that `keep` keeps, oldest first.
pub async fn records<R: coffer_catalog::Record>(
    catalog: &Catalog,
    keep: impl Fn(&R) -> bool,
) -> anyhow::Result<Vec<R>> {
    Ok(coffer_engine::env::records(catalog, keep).await?)
}
