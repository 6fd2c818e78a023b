//! The deployment's own disaster recovery: its catalog, the evidence
//! ledger included, backed up into the vault `[self_backup]` names, as a
//! recovery point like any other (a backup job, the point's record in its
//! snapshot, the audit over both), and put back from there into an empty
//! catalog location.
//!
//! The catalog is backed up by the driver of its engine, as a resource of
//! that type: SQLite's online backup API, or pg_dump in one snapshot. A
//! checkpoint of the ledger is signed (and kept in the home) just before,
//! so each copy holds the newest signed checkpoint of the ledger it holds;
//! that checkpoint is also left beside the vault's repository, where a new
//! home's recovery finds how far the ledger had gone.
//! Restoring needs no catalog: the vault's secret is read from beside its
//! repository and unwrapped by the keyring (import the keyring export
//! first on a new machine).

use coffer_drivers::{RestoreTarget, Vault};
use coffer_engine::env::Env;
use coffer_model::{
    AccountId, Arn, BackupJobState, Config, Lifecycle, RecoveryPoint, RecoveryPointStatus, Region,
    Resource, ResourceType, SecretRef,
};
use coffer_vault::{Keyring, WrappedSecret, SECRET_FILE};

use crate::backup::BackupDone;
use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// The catalog's name as a resource.
pub const CATALOG_RESOURCE: &str = "coffer-catalog";

/// The catalog `config` names as the resource its driver backs up, in
/// `account` and `region`: a SQLite file, or a PostgreSQL database (its
/// password by the catalog's own reference).
///
/// # Errors
/// `InvalidParameterValue` for a catalog URL neither driver reads.
pub fn catalog_resource(config: &Config, account: &AccountId, region: &Region) -> Result<Resource> {
    let url = config.catalog_url();
    let (resource_type, name, connection) = if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or_default();
        (
            ResourceType::SQLite,
            CATALOG_RESOURCE.to_string(),
            [("path".to_string(), path.to_string())].into(),
        )
    } else if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let rest = rest.split('?').next().unwrap_or_default();
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user.to_string()), host_port),
            None => (None, authority),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => (host_port, "5432"),
        };
        if database.is_empty() || host.is_empty() {
            return Err(Error::invalid_parameter(format!(
                "the catalog URL {} names no host or database, so the catalog cannot be backed up; write it as postgres://USER@HOST:PORT/DATABASE",
                coffer_catalog::redact_url(url)
            )));
        }
        let mut connection: std::collections::BTreeMap<String, String> = [
            ("host".to_string(), host.to_string()),
            ("port".to_string(), port.to_string()),
            ("database".to_string(), database.to_string()),
        ]
        .into();
        if let Some(user) = user {
            connection.insert("user".into(), user);
        }
        if let Some(reference) = config.catalog_password() {
            let text = match reference {
                SecretRef::Env(name) => format!("env:{name}"),
                SecretRef::File(path) => format!("file:{path}"),
            };
            connection.insert("password".into(), text);
        }
        (
            ResourceType::PostgreSQL,
            format!("{CATALOG_RESOURCE}/{database}"),
            connection,
        )
    } else {
        return Err(Error::invalid_parameter(format!(
            "the catalog URL {} is neither sqlite:// nor postgres://, so the catalog cannot be backed up",
            coffer_catalog::redact_url(url)
        )));
    };
    Ok(Resource {
        resource_arn: resource_type.arn(region, account, &name),
        resource_type,
        resource_name: name,
        account_id: account.clone(),
        region: region.clone(),
        tags: [("coffer:role".to_string(), "catalog".to_string())].into(),
        connection,
    })
}

/// The self-backup settings, or why there are none.
fn settings(config: &Config) -> Result<&coffer_model::SelfBackup> {
    config.self_backup().ok_or_else(|| {
        Error::invalid_request(format!(
            "no vault is named for the catalog's own backup; name one (a vault a stack declares) in {} under [self_backup] vault",
            config.config_path().display()
        ))
    })
}

impl Service {
    /// Backs up the catalog now into the `[self_backup]` vault: a ledger
    /// checkpoint is signed and kept first, so the copy holds it, then the
    /// catalog's driver copies the catalog consistently into a recovery
    /// point of a backup job, as any resource's.
    ///
    /// # Errors
    /// `InvalidRequest` without `[self_backup]`; `ResourceNotFound` for a
    /// vault no stack declares; `AccessDenied`; checkpoint, catalog and
    /// driver failures (a job that ends FAILED is returned, not an error).
    pub async fn backup_catalog(&self, caller: &Caller) -> Result<BackupDone> {
        self.backup_catalog_beside(caller, None).await
    }

    /// [`Service::backup_catalog`], its job registered in `beside` while
    /// it runs when the daemon runs in this process (`coffer serve`), so
    /// the daemon never takes it for a dead process's.
    ///
    /// # Errors
    /// As [`Service::backup_catalog`].
    pub async fn backup_catalog_beside(
        &self,
        caller: &Caller,
        beside: Option<&coffer_engine::daemon::JobsBeside>,
    ) -> Result<BackupDone> {
        let settings = settings(self.config())?;
        let vault = self
            .vault(
                settings.account.as_str(),
                settings.region.as_str(),
                &settings.vault,
            )
            .await?;
        self.authorize(caller, Action::StartBackupJob, Target::Vault(&vault))?;
        let resource = catalog_resource(self.config(), &settings.account, &settings.region)?;
        let key = coffer_audit::signing::KeyPair::load_or_create(self.config().signing_key_path())?;
        let checkpoint = self
            .checkpoint_with(&self.catalog_for(caller), &key, self.now())
            .await?;
        // Beside the vault too, so a home lost with its kept checkpoint
        // still learns from the vault how far the ledger had gone.
        let opened = self.env_for(caller).open_vault(&vault).await?;
        let bytes = serde_json::to_vec_pretty(&checkpoint)?;
        tokio::task::spawn_blocking(move || {
            opened
                .storage
                .put_root_file(coffer_audit::cut::CHECKPOINT_FILE, &bytes)
        })
        .await??;
        let lifecycle = Lifecycle {
            delete_after_days: settings.delete_after_days,
            ..Lifecycle::default()
        };
        let started = self
            .record_backup_job(caller, resource, vault, lifecycle, false)
            .await?;
        let _registered = beside.map(|jobs| jobs.register(&started.job.backup_job_id));
        let done = self.run_backup_job(&started, None, |_| {}).await?;
        if done.job.state == BackupJobState::Completed {
            tracing::info!(job = %done.job.backup_job_id, vault = %settings.vault, "catalog backed up");
        }
        Ok(done)
    }

    /// Whether the catalog's own backup is due: `[self_backup]` is set and
    /// its newest completed point is older than `every_hours` (or there is
    /// none).
    ///
    /// # Errors
    /// Catalog failures; a catalog URL no driver reads.
    pub async fn catalog_backup_due(&self) -> Result<bool> {
        let Some(settings) = self.config().self_backup() else {
            return Ok(false);
        };
        let resource = catalog_resource(self.config(), &settings.account, &settings.region)?;
        let arn = resource.resource_arn.to_string();
        let newest = self
            .env()
            .records_where::<RecoveryPoint>("resource_arn", &[arn.as_str()], |p| {
                p.status == RecoveryPointStatus::Completed
            })
            .await?
            .into_iter()
            .map(|p| p.creation_date)
            .max();
        let every = jiff::SignedDuration::from_hours(i64::from(settings.every_hours));
        Ok(due(newest, self.now(), every))
    }
}

impl Service {
    /// The checkpoint kept beside the `[self_backup]` vault's repository
    /// by its newest copy, when its signature verifies with `key`.
    pub(crate) async fn checkpoint_beside_self_backup(
        &self,
        key: &coffer_audit::signing::PublicKey,
    ) -> Option<coffer_catalog::StoredCheckpoint> {
        let settings = self.config().self_backup()?;
        let location = self
            .config()
            .vault_location(
                settings.account.as_str(),
                settings.region.as_str(),
                &settings.vault,
            )
            .storage()
            .ok()?;
        let storage = Env::storage_of(self.config(), &location).ok()?;
        let bytes = tokio::task::spawn_blocking(move || {
            storage.root_file(coffer_audit::cut::CHECKPOINT_FILE)
        })
        .await
        .ok()?
        .ok()??;
        let checkpoint: coffer_catalog::StoredCheckpoint = serde_json::from_slice(&bytes).ok()?;
        let message = coffer_audit::ledger::checkpoint_message(
            checkpoint.tree_size,
            &checkpoint.root_hash,
            checkpoint.time,
        );
        if key.verifies(&message, &checkpoint.signature) {
            Some(checkpoint)
        } else {
            tracing::warn!(vault = %settings.vault, "the checkpoint beside the self-backup vault is not signed by this deployment's key; it is ignored");
            None
        }
    }

    /// In a catalog just put back from `point`, records the point and
    /// completes its backup job: the copy was taken while that job ran, so
    /// it holds the job RUNNING and no point. Left so, the job would be
    /// settled as interrupted and its snapshot, the copy itself, removed
    /// as abandoned.
    ///
    /// # Errors
    /// Catalog failures.
    async fn record_own_point(&self, caller: &Caller, point: &RecoveryPoint) -> Result<()> {
        let env = self.env_for(caller);
        let now = self.now();
        if env
            .catalog
            .get::<RecoveryPoint>(&point.recovery_point_id)
            .await?
            .is_none()
        {
            env.catalog.insert(point, now).await?;
        }
        let Some(job_id) = point.created_by_job_id.as_deref() else {
            return Ok(());
        };
        let running = env
            .catalog
            .get::<coffer_model::BackupJob>(job_id)
            .await?
            .is_some_and(|j| j.record.state == BackupJobState::Running);
        if running {
            coffer_engine::exec::set_state::<coffer_model::BackupJob>(
                &env,
                job_id,
                BackupJobState::Completed,
                |j| {
                    j.recovery_point_arn = Some(point.recovery_point_arn.clone());
                    j.backup_size_in_bytes = point.backup_size_in_bytes;
                    j.percent_done = 100;
                    if let Some(last) = j.attempts.last_mut() {
                        last.ended_at = Some(point.completion_date.unwrap_or(now));
                    }
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// Whether a backup made at `newest` (None: never) is due again at `now`,
/// `every` apart.
pub fn due(
    newest: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
    every: jiff::SignedDuration,
) -> bool {
    newest.is_none_or(|at| now.duration_since(at) >= every)
}

/// What `restore_catalog` is asked.
#[derive(Clone, Debug, Default)]
pub struct RestoreCatalog {
    /// The vault (default: `[self_backup]`'s).
    pub vault: Option<String>,
    /// A recovery point or snapshot ID (default: the newest backup of the
    /// catalog there).
    pub point: Option<String>,
    /// Replace a catalog that is there.
    pub force: bool,
}

/// A catalog put back.
#[derive(Clone, Debug)]
pub struct RestoredCatalog {
    pub vault: String,
    pub point: RecoveryPoint,
    /// Where: the file, or the database's address.
    pub created: String,
}

/// Puts the catalog `config` names back from a backup of it in a vault,
/// without a catalog: the vault is found where config.toml places it, its
/// secret read from beside its repository and unwrapped by the home's
/// keyring, and the newest backup of the catalog there (or `point`)
/// restored by the catalog's driver into the catalog's location. A
/// catalog that is there is replaced only with `force`. The restored
/// catalog is then opened on `clock` and, as `caller`, the point it came
/// from recorded in it with its job completed.
///
/// # Errors
/// `InvalidParameterValue` without a vault to restore from;
/// `ResourceNotFound` for a vault, point or backup that is not there;
/// `InvalidRequest` for a live catalog without `force`; a keyring that
/// does not open the vault; storage and driver failures.
pub async fn restore_catalog(
    config: &Config,
    caller: &Caller,
    clock: std::sync::Arc<dyn coffer_engine::clock::Clock>,
    args: &RestoreCatalog,
) -> Result<RestoredCatalog> {
    let configured = config.self_backup();
    let vault_name = match (&args.vault, configured) {
        (Some(name), _) => name.clone(),
        (None, Some(settings)) => settings.vault.clone(),
        (None, None) => {
            return Err(Error::invalid_parameter(format!(
                "no vault to restore the catalog from: name it, or name the self-backup vault in {} under [self_backup] vault",
                config.config_path().display()
            )))
        }
    };
    let (account, region) = configured.map_or_else(
        || {
            (
                config.default_account().clone(),
                config.default_region().clone(),
            )
        },
        |s| (s.account.clone(), s.region.clone()),
    );
    let resource = catalog_resource(config, &account, &region)?;
    let location = config.vault_location(account.as_str(), region.as_str(), &vault_name);
    let storage_location = location
        .storage()
        .map_err(|e| Error::invalid_parameter(e.to_string()))?;
    let storage = Env::storage_of(config, &storage_location)?;
    if !storage.exists() {
        return Err(Error::not_found(format!(
            "vault {vault_name} (account {account}, region {region}) has no repository at {storage_location}; check config.toml's vault locations and the vault's name"
        )));
    }
    let arn = Arn::backup_vault(&region, &account, &vault_name).to_string();
    let Some(bytes) = storage.root_file(SECRET_FILE)? else {
        return Err(Error::not_found(format!(
            "vault {vault_name} keeps no wrapped secret beside its repository at {storage_location}, so it cannot be opened without the catalog"
        )));
    };
    let wrapped: WrappedSecret = serde_json::from_slice(&bytes)?;
    let keyring = Keyring::open(config.keyring_path())?;
    let secret = keyring.unwrap_secret(&wrapped, &arn).map_err(|e| {
        Error::invalid_request(format!(
            "this home's keyring does not open vault {vault_name}'s secret ({e}); import the keyring export of the deployment that made it first"
        ))
    })?;
    let tag = format!("coffer-resource:{}", resource.resource_arn);
    let listed = {
        let storage = storage.clone();
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || storage.snapshots(&secret)).await??
    };
    let chosen = listed.into_iter().rfind(|s| {
        s.tags.contains(&tag)
            && args.point.as_deref().is_none_or(|id| {
                s.id == id
                    || s.tags
                        .iter()
                        .any(|t| t == &format!("coffer-recovery-point:{id}"))
            })
    });
    let Some(snapshot) = chosen else {
        return Err(Error::not_found(match &args.point {
            Some(id) => format!(
                "vault {vault_name} holds no backup of this catalog ({}) named {id}",
                resource.resource_arn
            ),
            None => format!(
                "vault {vault_name} holds no backup of this catalog ({}); back it up first",
                resource.resource_arn
            ),
        }));
    };
    let mut point: RecoveryPoint = snapshot
        .description
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| {
            Error::dependency(format!(
                "snapshot {} of vault {vault_name} carries no recovery point record",
                snapshot.id
            ))
        })?;
    // The record is written into its snapshot, which then gets a new ID.
    point.snapshot_id = Some(snapshot.id.clone());
    let target = match resource.resource_type {
        ResourceType::SQLite => {
            let path = std::path::PathBuf::from(
                resource.connection.get("path").cloned().unwrap_or_default(),
            );
            let live = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
            if live && !args.force {
                return Err(Error::new(crate::ErrorKind::AlreadyExists, format!(
                    "a catalog is there already ({}); move it aside, or restore with force to replace it",
                    path.display()
                )));
            }
            // A replaced catalog's write-ahead log must not be applied to
            // the copy put back.
            for suffix in ["-wal", "-shm"] {
                let mut side = path.clone().into_os_string();
                side.push(suffix);
                match std::fs::remove_file(&side) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !live {
                let _ = std::fs::remove_file(&path);
            }
            RestoreTarget::File { path }
        }
        _ => RestoreTarget::Database {
            name: resource
                .connection
                .get("database")
                .cloned()
                .unwrap_or_default(),
            table: None,
            server: None,
        },
    };
    let vault = Vault { storage, secret };
    let outcome = coffer_drivers::restore(&point, &resource, &vault, &target, args.force)
        .await
        .map_err(|e| match e {
            coffer_drivers::DriverError::TargetExists(what) => Error::new(
                crate::ErrorKind::AlreadyExists,
                format!("a catalog is there already: {what}"),
            ),
            other => other.into(),
        })?;
    tracing::info!(vault = %vault_name, recovery_point = %point.recovery_point_id, created = %outcome.created, "catalog restored");
    let service = Service::open(config.clone(), clock).await?;
    let settled = service.record_own_point(caller, &point).await;
    service.close().await;
    settled?;
    Ok(RestoredCatalog {
        vault: vault_name,
        point,
        created: outcome.created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        use coffer_policy::LoadConfig as _;
        Config::from_str_at(text, std::path::Path::new("/srv/coffer"), "config.toml")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_catalog_is_the_resource_its_engine_backs_up() {
        let account = AccountId::new("210987654321").unwrap_or_else(|e| panic!("{e}"));
        let region = Region::new("eu-west-1").unwrap_or_else(|e| panic!("{e}"));
        let sqlite =
            catalog_resource(&config(""), &account, &region).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sqlite.resource_arn.to_string(),
            "arn:coffer:sqlite:eu-west-1:210987654321:database/coffer-catalog"
        );
        assert_eq!(sqlite.connection["path"], "/srv/coffer/catalog.db");
        let postgres = catalog_resource(
            &config("[catalog]\nurl = \"postgres://coffer@db.internal:5433/coffer\"\npassword = { env = \"PW\" }\n"),
            &account,
            &region,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(postgres.resource_type, ResourceType::PostgreSQL);
        assert_eq!(postgres.resource_name, "coffer-catalog/coffer");
        let connection: Vec<(&str, &str)> = postgres
            .connection
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            connection,
            [
                ("database", "coffer"),
                ("host", "db.internal"),
                ("password", "env:PW"),
                ("port", "5433"),
                ("user", "coffer"),
            ]
        );
    }

    #[test]
    fn the_catalog_backup_is_due_after_its_interval_or_when_there_is_none() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap_or_default();
        let day = jiff::SignedDuration::from_hours(24);
        let hours = |h: i64| now - jiff::SignedDuration::from_hours(h);
        assert!(due(None, now, day));
        assert!(!due(Some(hours(23)), now, day));
        assert!(due(Some(hours(24)), now, day));
        assert!(due(Some(hours(30)), now, day));
    }
}
