//! Finding what a command names in the catalog: vaults (with their opened
//! storage), resources (declared, or discovered on a declared server),
//! recovery points (by ARN or ID) and legal holds.

use anyhow::{bail, Context as _};
use coffer_catalog::{Catalog, ObjectKind};
use coffer_drivers::Vault;
use coffer_model::{BackupVault, LegalHold, RecoveryPoint, Resource, ResourceType, Server};
use coffer_vault::{Keyring, WrappedSecret};

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
    let (account, region, name) = (
        vault.account_id.as_str(),
        vault.region.as_str(),
        vault.backup_vault_name.as_str(),
    );
    let Some(record) = catalog.vault_secret(account, region, name).await? else {
        bail!(
            "vault {name:?} has no storage yet; run `coffer apply` for its stack, which creates it"
        );
    };
    let wrapped: WrappedSecret = serde_json::from_value(record.wrapped.clone())
        .with_context(|| format!("the recorded secret of vault {name} cannot be read"))?;
    let keyring = Keyring::open(ctx.config.keyring_path())?;
    let secret = keyring.unwrap_secret(&wrapped, &vault.backup_vault_arn.to_string())?;
    let storage = crate::vaults::storage_at(ctx, &record.location)?;
    if !storage.exists() {
        bail!(
            "the storage of vault {name:?} is missing at {}; if it moved, restore it there (or run `coffer apply` to create an empty one)",
            record.location
        );
    }
    Ok(Vault { storage, secret })
}

/// A resource by ARN: declared in an applied inventory, or a database a
/// declared server holds (found by asking the server).
pub async fn resource(catalog: &Catalog, arn: &str) -> anyhow::Result<Resource> {
    let resources = catalog.list_objects(ObjectKind::Resource).await?;
    if let Some(object) = resources.iter().find(|o| o.arn == arn) {
        return serde_json::from_value(object.doc.clone())
            .with_context(|| format!("the catalog's record of resource {arn} cannot be read"));
    }
    let parsed = coffer_model::Arn::parse(arn).map_err(|e| anyhow::anyhow!("--resource: {e}"))?;
    if ResourceType::of_arn(&parsed) == Some(ResourceType::PostgreSQL) {
        let name = parsed
            .resource()
            .strip_prefix("database/")
            .unwrap_or_default();
        if let Some((server_name, _)) = name.split_once('/') {
            for object in catalog.list_objects(ObjectKind::Server).await? {
                let server: Server = serde_json::from_value(object.doc.clone())?;
                if server.name == server_name
                    && server.account_id.as_str() == parsed.account()
                    && server.region.as_str() == parsed.region()
                {
                    let found = coffer_drivers::postgres::discover(&server).await?;
                    if let Some(resource) = found
                        .into_iter()
                        .find(|r| r.resource_arn.to_string() == arn)
                    {
                        return Ok(resource);
                    }
                    bail!("server {server_name:?} has no database matching {arn} (or it is excluded by exclude_databases)");
                }
            }
        }
    }
    bail!("resource {arn} is not in the catalog; declare it in an inventory file and apply it (`coffer get resources` lists what is known)")
}

/// A recovery point by ARN or ID.
pub async fn recovery_point(
    catalog: &Catalog,
    arn_or_id: &str,
) -> anyhow::Result<coffer_catalog::Stored<RecoveryPoint>> {
    let id = arn_or_id
        .rsplit_once("recovery-point:")
        .map_or(arn_or_id, |(_, id)| id);
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
    Ok(catalog
        .list::<R>(&[])
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|r| keep(r))
        .collect())
}
