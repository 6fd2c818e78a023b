//! What the engine works with: the catalog, the deployment configuration
//! (where vault storage lives, S3 endpoints, the keyring) and the clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_catalog::{Catalog, ObjectKind, Record};
use coffer_drivers::Vault;
use coffer_model::{
    BackupVault, Config, LegalHold, RecoveryPoint, Resource, ResourceType, S3Endpoint, Server,
    StorageLocation,
};
use coffer_vault::{Keyring, S3Access, VaultStorage, WrappedSecret};
use jiff::Timestamp;
use serde::de::DeserializeOwned;

use crate::clock::Clock;
use crate::error::{Error, Result};

/// How to reach the `[s3_endpoints]` entry `name`: its URL, signing
/// region and addressing style, with its credentials read from their
/// references now (never logged: `S3Access`'s Debug hides the secret).
///
/// # Errors
/// A credential that cannot be read, naming the entry and field.
pub fn s3_access(name: &str, endpoint: &S3Endpoint) -> Result<S3Access> {
    let secret = |reference: &Option<coffer_model::SecretRef>, field: &'static str| {
        reference
            .as_ref()
            .map(|r| {
                coffer_drivers::resolve_secret(r).map_err(|source| Error::EndpointSecret {
                    endpoint: name.to_string(),
                    field,
                    source,
                })
            })
            .transpose()
    };
    Ok(S3Access {
        endpoint: endpoint.url.clone(),
        region: endpoint.signing_region.clone(),
        access_key_id: secret(&endpoint.access_key_id, "access_key_id")?,
        secret_access_key: secret(&endpoint.secret_access_key, "secret_access_key")?,
        virtual_host_style: !endpoint.path_style,
    })
}

/// What [`Env::declared_server`] found.
#[derive(Clone, Debug)]
pub enum ServerLookup {
    Found(Box<Server>),
    /// None of that name, with the declared ones.
    Missing(String),
    /// Several of that name, with how to name one.
    Ambiguous(String),
}

/// The catalog, the configuration and the clock, shared by every task.
#[derive(Clone, Debug)]
pub struct Env {
    pub catalog: Catalog,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
}

impl Env {
    pub fn new(catalog: Catalog, config: Config, clock: Arc<dyn Clock>) -> Env {
        Env {
            catalog,
            config,
            clock,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The storage at a recorded location, with its endpoint's settings and
    /// credentials (read from their references now) for `s3://`.
    ///
    /// # Errors
    /// An unknown endpoint, an unreadable credential, a bad location.
    pub fn storage_at(&self, location: &str) -> Result<VaultStorage> {
        Env::storage_at_with(&self.config, location)
    }

    /// [`Env::storage_at`] with only a configuration (no catalog yet).
    ///
    /// # Errors
    /// An unknown endpoint, an unreadable credential, a bad location.
    pub fn storage_at_with(config: &Config, location: &str) -> Result<VaultStorage> {
        Env::storage_of(config, &StorageLocation::parse(location)?)
    }

    /// The storage at `location`: a local directory, or a bucket reached
    /// through its `[s3_endpoints]` entry (credentials read now).
    ///
    /// # Errors
    /// An `s3://` location without an endpoint or with one config.toml does
    /// not declare, an unreadable credential.
    pub fn storage_of(config: &Config, location: &StorageLocation) -> Result<VaultStorage> {
        let StorageLocation::S3 { endpoint, .. } = location else {
            return Ok(VaultStorage::at(location, None)?);
        };
        let Some(name) = endpoint else {
            return Err(Error::NoEndpoint {
                location: location.to_string(),
            });
        };
        let endpoint = config
            .s3_endpoint(name)
            .ok_or_else(|| Error::UnknownEndpoint {
                location: location.to_string(),
                endpoint: name.to_string(),
            })?;
        let access = s3_access(name, endpoint)?;
        Ok(VaultStorage::at(location, Some(&access))?)
    }

    /// A vault's storage, opened with its secret (unwrapped from the keyring).
    ///
    /// # Errors
    /// A vault without storage, missing storage, keyring failures.
    pub async fn open_vault(&self, vault: &BackupVault) -> Result<Vault> {
        let name = vault.backup_vault_name.as_str();
        let Some(record) = self
            .catalog
            .vault_secret(vault.account_id.as_str(), vault.region.as_str(), name)
            .await?
        else {
            return Err(Error::NoStorage {
                vault: name.to_string(),
            });
        };
        let wrapped: WrappedSecret =
            serde_json::from_value(record.wrapped.clone()).map_err(|source| Error::Unreadable {
                what: format!("the secret of vault {name}"),
                source,
            })?;
        let keyring = Keyring::open(self.config.keyring_path())?;
        let secret = keyring.unwrap_secret(&wrapped, &vault.backup_vault_arn.to_string())?;
        let storage = self.storage_at(&record.location)?;
        if !storage.exists() {
            return Err(Error::StorageMissing {
                vault: name.to_string(),
                location: record.location,
            });
        }
        Ok(Vault { storage, secret })
    }

    /// A recovery point's storage: its vault's, or, for a point moved to
    /// the cold tier, the cold location (opened with the vault's secret).
    ///
    /// # Errors
    /// As [`Env::open_vault`]; a missing cold location.
    pub async fn open_point(&self, vault: &BackupVault, point: &RecoveryPoint) -> Result<Vault> {
        let opened = self.open_vault(vault).await?;
        let Some(location) = &point.storage_location else {
            return Ok(opened);
        };
        let storage = self.storage_at(location)?;
        if !storage.exists() {
            return Err(Error::StorageMissing {
                vault: format!("{} (cold tier)", vault.backup_vault_name),
                location: location.clone(),
            });
        }
        Ok(Vault {
            storage,
            secret: opened.secret,
        })
    }

    /// The location of a vault's cold tier, when config.toml names one
    /// (`cold_url`).
    ///
    /// # Errors
    /// A `cold_url` that is not a storage location.
    pub fn cold_location(&self, vault: &BackupVault) -> Result<Option<StorageLocation>> {
        let location = self.config.vault_location(
            vault.account_id.as_str(),
            vault.region.as_str(),
            &vault.backup_vault_name,
        );
        Ok(location.cold_storage()?)
    }

    /// Every applied object of a kind, read as `T`.
    ///
    /// # Errors
    /// Catalog errors, unreadable documents.
    pub async fn objects<T: DeserializeOwned>(&self, kind: ObjectKind) -> Result<Vec<T>> {
        self.catalog
            .list_objects(kind)
            .await?
            .into_iter()
            .map(|o| {
                serde_json::from_value(o.doc).map_err(|source| Error::Unreadable {
                    what: format!("{} {}", kind.label(), o.name),
                    source,
                })
            })
            .collect()
    }

    /// A declared server by `NAME`, or `ACCOUNT/REGION/NAME` when servers
    /// of that name are declared in several accounts or regions.
    ///
    /// # Errors
    /// Catalog errors; what was not found is a [`ServerLookup`].
    pub async fn declared_server(&self, name: &str) -> Result<ServerLookup> {
        let servers: Vec<Server> = self.objects(ObjectKind::Server).await?;
        let qualified = |s: &Server| format!("{}/{}/{}", s.account_id, s.region, s.name);
        let mut named: Vec<&Server> = servers
            .iter()
            .filter(|s| s.name == name || qualified(s) == name)
            .collect();
        Ok(match named.len() {
            1 => ServerLookup::Found(Box::new(named.remove(0).clone())),
            0 => {
                let known: Vec<String> = servers.iter().map(qualified).collect();
                ServerLookup::Missing(format!(
                    "no server {name:?} is declared{}; declare it in an inventory file (postgres: or mysql:) and apply it",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (servers: {})", known.join(", "))
                    }
                ))
            }
            _ => ServerLookup::Ambiguous(format!(
                "servers named {name:?} are declared in several places ({}); name one as ACCOUNT/REGION/NAME",
                named.iter().map(|s| qualified(s)).collect::<Vec<_>>().join(", ")
            )),
        })
    }

    /// How to reach the S3 endpoint `name` for a restore of a bucket of
    /// `resource`: `None` when it is the resource's own endpoint (its
    /// connection has what is needed); else config.toml's `[s3_endpoints]`
    /// entry or, failing that, the inventory's `s3_endpoints` entry of the
    /// resource's account and region, its credentials read.
    ///
    /// # Errors
    /// An endpoint declared nowhere, in words; unreadable credentials;
    /// catalog errors.
    pub async fn s3_endpoint_access(
        &self,
        resource: &Resource,
        name: &str,
    ) -> Result<std::result::Result<Option<S3Access>, String>> {
        if resource.connection.get("endpoint").map(String::as_str) == Some(name) {
            return Ok(Ok(None));
        }
        let declared = match self.config.s3_endpoint(name) {
            Some(endpoint) => Some(endpoint.clone()),
            None => {
                self.catalog
                    .object::<S3Endpoint>(
                        ObjectKind::S3Endpoint,
                        resource.account_id.as_str(),
                        resource.region.as_str(),
                        name,
                    )
                    .await?
            }
        };
        let Some(endpoint) = declared else {
            return Ok(Err(format!(
                "S3 endpoint {name:?} is declared neither in config.toml's [s3_endpoints] nor in the inventory's s3_endpoints of {} {}; declare it (or restore on the source's endpoint {})",
                resource.account_id,
                resource.region,
                resource.connection.get("endpoint").map_or("", String::as_str)
            )));
        };
        Ok(Ok(Some(s3_access(name, &endpoint)?)))
    }

    /// The vault with this ARN.
    ///
    /// # Errors
    /// When no applied vault has it.
    pub async fn vault_by_arn(&self, arn: &str) -> Result<BackupVault> {
        self.catalog
            .object_by_arn::<BackupVault>(ObjectKind::BackupVault, arn)
            .await?
            .ok_or_else(|| Error::Missing {
                what: "vault",
                name: arn.to_string(),
                hint: "; apply the stack that declares it".into(),
            })
    }

    /// The vault named `name` in an account and region.
    ///
    /// # Errors
    /// When no applied vault has the name there.
    pub async fn vault_named(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<BackupVault> {
        self.catalog
            .object::<BackupVault>(ObjectKind::BackupVault, account, region, name)
            .await?
            .ok_or_else(|| Error::Missing {
                what: "vault",
                name: name.to_string(),
                hint: format!(
                    " in account {account}, region {region}; apply the stack that declares it"
                ),
            })
    }

    /// The resources the applied inventories declare (a bucket with its
    /// bucket tagging added to the inventory's tags), plus the databases
    /// their servers hold now (asking each server); a server or bucket
    /// that cannot be asked is logged and skipped, its declared resources
    /// still count with the inventory's tags.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn discover(&self) -> Result<Vec<Resource>> {
        Ok(self.declared_and_found().await?.0)
    }

    /// [`Self::discover`], with when each resource first existed, by ARN: a
    /// declared one since its inventory was applied, a discovered one since
    /// discovery first saw it (the resources not seen before are recorded
    /// as seen now).
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn discover_dated(&self) -> Result<(Vec<Resource>, BTreeMap<String, Timestamp>)> {
        let (resources, declared) = self.declared_and_found().await?;
        let mut seen = self.catalog.resources_first_seen().await?;
        let new: Vec<String> = resources
            .iter()
            .map(|r| r.resource_arn.to_string())
            .filter(|arn| !declared.contains_key(arn) && !seen.contains_key(arn))
            .collect();
        if !new.is_empty() {
            let now = self.now();
            self.catalog.mark_resources_seen(&new, now).await?;
            seen.extend(new.into_iter().map(|arn| (arn, now)));
        }
        seen.extend(declared);
        Ok((resources, seen))
    }

    /// The declared and discovered resources, and when each declared one
    /// was applied (one read of the declarations).
    async fn declared_and_found(&self) -> Result<(Vec<Resource>, BTreeMap<String, Timestamp>)> {
        let mut resources: Vec<Resource> = Vec::new();
        let mut declared = BTreeMap::new();
        for object in self.catalog.list_objects(ObjectKind::Resource).await? {
            let resource: Resource =
                serde_json::from_value(object.doc).map_err(|source| Error::Unreadable {
                    what: format!("{} {}", ObjectKind::Resource.label(), object.name),
                    source,
                })?;
            declared.insert(object.name, object.created_at);
            resources.push(with_bucket_tags(resource).await);
        }
        for server in self.objects::<Server>(ObjectKind::Server).await? {
            if !server.engine.is_server_database() {
                continue;
            }
            match coffer_drivers::discover(&server).await {
                Ok(found) => {
                    for resource in found {
                        if !resources
                            .iter()
                            .any(|r| r.resource_arn == resource.resource_arn)
                        {
                            resources.push(resource);
                        }
                    }
                }
                Err(error) => tracing::warn!(
                    server = %server.name,
                    error = %error,
                    "cannot list the server's databases; its new databases enrol at the next discovery"
                ),
            }
        }
        Ok((resources, declared))
    }

    /// A resource by ARN: declared in an applied inventory (a bucket with
    /// its bucket tagging), or a database a
    /// declared server holds (found by asking the server).
    ///
    /// # Errors
    /// When neither has it; catalog and server errors.
    pub async fn resource(&self, arn: &str) -> Result<Resource> {
        if let Some(resource) = self
            .catalog
            .object_by_arn::<Resource>(ObjectKind::Resource, arn)
            .await?
        {
            return Ok(with_bucket_tags(resource).await);
        }
        let missing = |hint: String| Error::Missing {
            what: "resource",
            name: arn.to_string(),
            hint,
        };
        let Ok(parsed) = coffer_model::Arn::parse(arn) else {
            return Err(missing(
                "; give the resource's ARN, as `coffer get resources` shows it".into(),
            ));
        };
        if ResourceType::of_arn(&parsed).is_some_and(ResourceType::is_server_database) {
            let name = parsed
                .resource()
                .strip_prefix("database/")
                .unwrap_or_default();
            if let Some((server_name, _)) = name.split_once('/') {
                if let Some(server) = self
                    .catalog
                    .object::<Server>(
                        ObjectKind::Server,
                        parsed.account(),
                        parsed.region(),
                        server_name,
                    )
                    .await?
                {
                    let found = coffer_drivers::discover(&server).await?;
                    return found
                        .into_iter()
                        .find(|r| r.resource_arn.to_string() == arn)
                        .ok_or_else(|| missing(format!(
                            "; server {server_name:?} has no such database (or it is excluded by exclude_databases)"
                        )));
                }
            }
        }
        Err(missing("; declare it in an inventory file and apply it (`coffer get resources` lists what is known)".into()))
    }

    /// Every record of a kind that `keep` keeps, oldest first.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn records<R: Record>(&self, keep: impl Fn(&R) -> bool) -> Result<Vec<R>> {
        Ok(records(&self.catalog, keep).await?)
    }

    /// The records of a kind whose indexed `column` holds one of `values`,
    /// that `keep` keeps: an index seek, not a read of the whole table.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn records_where<R: Record>(
        &self,
        column: &'static str,
        values: &[&str],
        keep: impl Fn(&R) -> bool,
    ) -> Result<Vec<R>> {
        let mut out = Vec::new();
        for value in values {
            for stored in self.catalog.list::<R>(&[(column, value)]).await? {
                if keep(&stored.record) {
                    out.push(stored.record);
                }
            }
        }
        Ok(out)
    }

    /// Every legal hold (the guard decides which pin a point).
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn legal_holds(&self) -> Result<Vec<LegalHold>> {
        self.records(|_: &LegalHold| true).await
    }
}

/// Every record of a kind in `catalog` that `keep` keeps, oldest first.
///
/// # Errors
/// Catalog errors.
pub async fn records<R: Record>(
    catalog: &Catalog,
    keep: impl Fn(&R) -> bool,
) -> coffer_catalog::Result<Vec<R>> {
    Ok(catalog
        .list::<R>(&[])
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|r| keep(r))
        .collect())
}

/// A storage URL as the catalog records it: `s3://` URLs carry the name of
/// the `[s3_endpoints]` entry whose credentials are read at use. A URL that
/// is no storage location (config.toml refuses those) is kept as written,
/// so opening it names it.
pub fn recorded_location(url: &str, endpoint: Option<&str>) -> String {
    StorageLocation::from_url(url, endpoint).map_or_else(|_| url.to_string(), |l| l.to_string())
}

/// A bucket's tags as its bucket tagging gives them, after the inventory's
/// (the resource's own tags win, as a database comment's do); any other
/// resource as it is. A bucket that cannot be asked keeps the inventory's
/// tags, and the failure is logged.
pub async fn with_bucket_tags(mut resource: Resource) -> Resource {
    if resource.resource_type != ResourceType::S3 {
        return resource;
    }
    // A bucket that does not answer holds up no discovery for long.
    let asked = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        coffer_drivers::s3::bucket_tags(&resource),
    )
    .await
    .unwrap_or_else(|_| {
        Err(coffer_drivers::DriverError::Resource {
            resource: resource.resource_arn.to_string(),
            message: "the S3 endpoint did not answer within 10 seconds".into(),
        })
    });
    match asked {
        Ok(tags) => resource.tags.extend(tags),
        Err(error) => tracing::warn!(
            resource = %resource.resource_arn,
            error = %error,
            "cannot read the bucket's tags; it keeps the inventory's tags until the next discovery"
        ),
    }
    resource
}
