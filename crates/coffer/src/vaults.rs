//! Vault storage for the vaults a stack declares, and `coffer vault`.
//!
//! When a vault is first applied, it gets a random repository secret,
//! wrapped by its keyring key and recorded in the catalog *before* its
//! storage is created; every apply then makes sure the storage exists, so
//! a crash between the two steps heals on the next apply and no secret is
//! ever lost.

use std::io::Write as _;

use anyhow::{bail, Context as _};
use coffer_catalog::{Catalog, VaultSecretRecord};
use coffer_policy::PolicySet;
use coffer_policy::VaultLocation;
use coffer_vault::{
    key_name_of, new_vault_secret, Keyring, VaultStorage, WrappedSecret, DEFAULT_KEY,
};

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::Outcome;

/// The location as the catalog records it: an `s3://` URL carries the
/// name of its `[s3_endpoints]` entry (`?endpoint=NAME`).
pub fn recorded_location(location: &VaultLocation) -> String {
    coffer_engine::env::recorded_location(&location.url, location.endpoint.as_deref())
}

/// The storage at a recorded location, with its endpoint's settings and
/// credentials (read from their references now) for `s3://`.
pub fn storage_at(ctx: &Context, location: &str) -> anyhow::Result<VaultStorage> {
    let catalog_free = coffer_engine::env::Env::storage_at_with(&ctx.config, location)?;
    Ok(catalog_free)
}

fn parse_wrapped(record: &VaultSecretRecord) -> anyhow::Result<WrappedSecret> {
    serde_json::from_value(record.wrapped.clone()).with_context(|| {
        format!(
            "the recorded secret of vault {} cannot be read",
            record.vault_name
        )
    })
}

/// Why the stack's new vaults cannot get storage where config.toml puts
/// them: a location another vault already uses, or storage already there
/// that this catalog holds no secret for (its secret would not open it).
pub async fn storage_conflicts(
    ctx: &Context,
    catalog: &Catalog,
    set: &PolicySet,
) -> anyhow::Result<Vec<String>> {
    let records = catalog.vault_secrets().await?;
    let mut problems = Vec::new();
    for declared in &set.vaults {
        let vault = &declared.value;
        let name = vault.backup_vault_name.as_str();
        let has_record = records.iter().any(|r| {
            r.account_id == vault.account_id.as_str()
                && r.region == vault.region.as_str()
                && r.vault_name == name
        });
        if has_record {
            continue;
        }
        let location = recorded_location(&ctx.config.vault_location(
            vault.account_id.as_str(),
            vault.region.as_str(),
            name,
        ));
        if let Some(other) = records.iter().find(|r| r.location == location) {
            problems.push(format!(
                "{}:{} {}: vault {name:?} would be stored at {location}, which vault {:?} (account {}, region {}) already uses; give it its own location with a [[vaults.rules]] entry in config.toml",
                declared.origin.file, declared.origin.pos, declared.origin.logical_id, other.vault_name, other.account_id, other.region
            ));
        } else if location.starts_with("file://")
            && VaultStorage::new(&location).is_ok_and(|s| s.exists())
        {
            problems.push(format!(
                "{}:{} {}: vault {name:?} would be stored at {location}, where a repository already exists that this catalog holds no secret for; move it away or give the vault another location with a [[vaults.rules]] entry",
                declared.origin.file, declared.origin.pos, declared.origin.logical_id
            ));
        }
    }
    Ok(problems)
}

/// Creates secrets and storage for the stack's vaults that lack them.
pub async fn provision(ctx: &Context, catalog: &Catalog, set: &PolicySet) -> anyhow::Result<()> {
    let keyring = Keyring::open(ctx.config.keyring_path())?;
    let now = jiff::Timestamp::now();
    for declared in &set.vaults {
        let vault = &declared.value;
        let (account, region, name) = (
            vault.account_id.as_str(),
            vault.region.as_str(),
            vault.backup_vault_name.as_str(),
        );
        let arn = vault.backup_vault_arn.to_string();
        let (secret, location) = match catalog.vault_secret(account, region, name).await? {
            Some(record) => {
                let secret = keyring.unwrap_secret(&parse_wrapped(&record)?, &arn)?;
                (secret, record.location)
            }
            None => {
                let location = recorded_location(&ctx.config.vault_location(
                    vault.account_id.as_str(),
                    vault.region.as_str(),
                    name,
                ));
                // Reach the storage before a secret is recorded for it.
                let storage = storage_at(ctx, &location)?;
                if storage.exists() {
                    bail!("vault {name:?} would be stored at {location}, where a repository already exists that this catalog holds no secret for; move it away or give the vault another location with a [[vaults.rules]] entry");
                }
                let key = vault
                    .encryption_key_arn
                    .as_ref()
                    .map_or(DEFAULT_KEY.to_string(), |k| {
                        key_name_of(&k.to_string()).to_string()
                    });
                let (_, created_key) = keyring.ensure(&key, now)?;
                if created_key {
                    println!("Created keyring key {key:?} for vault {name:?}; export the keyring again (`coffer keys export`): earlier exports do not hold this key.");
                }
                let (secret, wrapped) = new_vault_secret(&keyring, &key, &arn)?;
                let record = VaultSecretRecord {
                    account_id: account.to_string(),
                    region: region.to_string(),
                    vault_name: name.to_string(),
                    location: location.clone(),
                    wrapped: serde_json::to_value(&wrapped)?,
                    version: 1,
                };
                catalog.put_vault_secret(&record, now).await?;
                (secret, location)
            }
        };
        let storage = storage_at(ctx, &location)?;
        if !storage.exists() {
            storage.init(&secret)?;
            println!("Created storage of vault {name:?} at {location}.");
        }
    }
    Ok(())
}

/// `coffer vault export-key NAME`: what restic needs to open the vault.
pub async fn export_key(
    global: &Global,
    name: &str,
    yes: bool,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let record = catalog
        .vault_secret(ctx.account.as_str(), ctx.region.as_str(), name)
        .await?;
    catalog.close().await;
    let Some(record) = record else {
        bail!(
            "vault {name:?} has no storage in account {}, region {}; apply the stack that declares it (check --account and --region)",
            ctx.account,
            ctx.region
        );
    };
    if !yes {
        eprint!(
            "This prints the password that opens every backup in vault {name:?}. Continue? [y/N] "
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing printed.");
            return Ok(Outcome::Failure);
        }
    }
    let keyring = Keyring::open(ctx.config.keyring_path())?;
    let arn = coffer_model::Arn::backup_vault(&ctx.region, &ctx.account, name).to_string();
    let secret = keyring.unwrap_secret(&parse_wrapped(&record)?, &arn)?;
    let repository = restic_repository(&ctx, &record.location);
    let password = coffer_vault::restic_password(&secret);
    match output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"repository": repository, "password": password})
        ),
        _ => {
            println!("repository: {repository}");
            println!("password:   {password}");
            println!();
            println!("e.g. RESTIC_PASSWORD=... restic --repo {repository} snapshots");
        }
    }
    Ok(Outcome::Success)
}

/// The repository as restic names it: a path, or `s3:ENDPOINT/bucket/prefix`.
fn restic_repository(ctx: &Context, location: &str) -> String {
    if let Some(path) = location.strip_prefix("file://") {
        return path.to_string();
    }
    let (url, endpoint) = location.split_once("?endpoint=").unwrap_or((location, ""));
    let base = ctx
        .config
        .s3_endpoint(endpoint)
        .map_or(String::new(), |e| e.url.trim_end_matches('/').to_string());
    format!("s3:{base}/{}", url.trim_start_matches("s3://"))
}

/// `coffer vault check NAME [--read-data SUBSET]`.
pub async fn check(
    global: &Global,
    name: &str,
    read_data: Option<&str>,
) -> anyhow::Result<Outcome> {
    let opened = open_named(global, name).await?;
    let subset = read_data.map(str::to_string);
    let result = tokio::task::spawn_blocking(move || {
        opened
            .storage
            .check_subset(&opened.secret, subset.as_deref())
    })
    .await?;
    let what = match read_data {
        Some(subset) => format!("structure and data ({subset})"),
        None => "structure".to_string(),
    };
    match result {
        Ok(()) => {
            println!("Vault {name:?}: {what} OK.");
            Ok(Outcome::Success)
        }
        Err(e) => {
            eprintln!("Vault {name:?}: check of {what} FAILED: {e}");
            Ok(Outcome::Failure)
        }
    }
}

/// `coffer vault reconcile NAME [--dry-run]`.
pub async fn reconcile(global: &Global, name: &str, dry_run: bool) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let found = async {
        let vault =
            crate::lookup::vault_object(&catalog, ctx.account.as_str(), ctx.region.as_str(), name)
                .await?;
        anyhow::Ok(
            coffer_engine::maintenance::reconcile(&ctx.env(&catalog), &vault, !dry_run).await?,
        )
    }
    .await;
    catalog.close().await;
    let found = found?;
    if found.is_empty() {
        println!("Vault {name:?}: every Coffer snapshot is a recorded recovery point.");
        return Ok(Outcome::Success);
    }
    for id in &found {
        if dry_run {
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

/// A vault of the account and region in force, by name, opened.
async fn open_named(global: &Global, name: &str) -> anyhow::Result<coffer_drivers::Vault> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let opened = async {
        let vault =
            crate::lookup::vault_object(&catalog, ctx.account.as_str(), ctx.region.as_str(), name)
                .await?;
        crate::lookup::open_vault(&ctx, &catalog, &vault).await
    }
    .await;
    catalog.close().await;
    opened
}

/// `coffer vault prune NAME`.
pub async fn prune(global: &Global, name: &str) -> anyhow::Result<Outcome> {
    let opened = open_named(global, name).await?;
    let summary =
        tokio::task::spawn_blocking(move || opened.storage.prune(&opened.secret)).await??;
    println!(
        "Vault {name:?}: {} pack(s) marked for deletion, {} removed, {} repacked.",
        summary.marked, summary.removed, summary.repacked
    );
    Ok(Outcome::Success)
}
