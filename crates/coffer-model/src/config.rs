//! The deployment configuration's values: the default account, region and
//! principal; the catalog; where each vault's storage lives (URL templates
//! with `{account}`, `{region}` and `{name}`) and its cold tier; S3
//! endpoints with credentials by reference; report buckets; `[serve]`;
//! notification targets; the catalog's own backup (`[self_backup]`); the
//! keyring and signing-key paths.
//!
//! Plain values, no IO: `coffer-policy` reads and checks `config.toml` into
//! a [`Config`]; the engine, reports and the CLI read it from here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{
    glob_match, AccountId, LocationError, LockMode, Region, S3Endpoint, SecretRef, StorageLocation,
};

/// The configuration file's name inside the home directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Coffer's deployment configuration, as `coffer-policy` reads it from
/// `$COFFER_HOME/config.toml` (checked, `{home}` already substituted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The checked values, as the loader gave them.
    parts: ConfigParts,
}

/// `[serve]`: how `coffer serve` runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeSettings {
    /// Address of the HTTP endpoints (`/metrics`, `/healthz`).
    pub listen: String,
    /// Backups and copies running at once (never two backups of one resource).
    pub workers: u32,
    /// Minutes between looks for new resources.
    pub discover_minutes: u32,
    /// Minutes between lifecycle sweeps.
    pub sweep_minutes: u32,
    /// Hours between checks of each vault.
    pub check_hours: u32,
    /// Each check reads back one part in this many of the vault's data.
    pub check_parts: u32,
    /// Minutes before a failed attempt is retried (doubling each time).
    pub retry_minutes: u32,
    /// The certificate and key the endpoints (and the AWS Backup API) are
    /// served with over TLS; plain HTTP without.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its PEM private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Default for ServeSettings {
    fn default() -> ServeSettings {
        ServeSettings {
            listen: "127.0.0.1:9797".into(),
            workers: 2,
            discover_minutes: 15,
            sweep_minutes: 60,
            check_hours: 24,
            check_parts: 10,
            retry_minutes: 5,
            tls: None,
        }
    }
}

/// `[self_backup]`: the deployment's own backup, its catalog (the ledger
/// included) as of a checkpoint signed just before, into a vault a stack
/// declares, on a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfBackup {
    /// The vault's name, in `account` and `region`.
    pub vault: String,
    pub account: AccountId,
    pub region: Region,
    /// Hours between two backups of the catalog (24: daily).
    pub every_hours: u32,
    /// Days each backup of the catalog is kept (None: until deleted).
    pub delete_after_days: Option<u32>,
}

impl SelfBackup {
    /// Hours between two backups when config.toml does not say.
    pub const DEFAULT_EVERY_HOURS: u32 = 24;
}

/// A `[[notifications]]` entry: a webhook that receives events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationTarget {
    pub url: String,
    /// The events sent; for a target with `sns_topic`, the vault's own
    /// BackupVaultEvents choose instead.
    pub events: Vec<String>,
    /// Only events of vaults whose Notifications name this SNS topic.
    pub sns_topic: Option<String>,
}

/// Where a vault's storage lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultLocation {
    /// `file:///absolute/path` or `s3://bucket/prefix`.
    pub url: String,
    /// Where recovery points in cold storage live; `None`: at `url`.
    pub cold_url: Option<String>,
    /// Name of the `[s3_endpoints]` entry serving the `s3://` URLs.
    pub endpoint: Option<String>,
}

impl VaultLocation {
    /// Where the vault's repository lives, as the catalog records it.
    ///
    /// # Errors
    /// A `url` that is not a storage location.
    pub fn storage(&self) -> Result<StorageLocation, LocationError> {
        StorageLocation::from_url(&self.url, self.endpoint.as_deref())
    }

    /// Where the vault's points in cold storage live, when `cold_url` is set.
    ///
    /// # Errors
    /// A `cold_url` that is not a storage location.
    pub fn cold_storage(&self) -> Result<Option<StorageLocation>, LocationError> {
        self.cold_url
            .as_deref()
            .map(|url| StorageLocation::from_url(url, self.endpoint.as_deref()))
            .transpose()
    }
}

/// A `[[vaults.rules]]` entry: vaults whose name matches `pattern` live at
/// `location` (templates with `{name}` in place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultRule {
    /// Glob on the vault name; `*` matches any run of characters.
    pub pattern: String,
    pub location: VaultLocation,
}

/// Where a report bucket's files go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketLocation {
    /// A local folder (the default: `<home>/buckets/<name>`).
    Folder(PathBuf),
    /// A bucket on an `[s3_endpoints]` entry.
    S3 {
        endpoint: String,
        bucket: String,
        /// Object Lock retention applied to every delivered object.
        object_lock: Option<ObjectLockDefault>,
    },
}

/// Default Object Lock retention of a report bucket's objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectLockDefault {
    pub mode: LockMode,
    pub days: u32,
}

/// What a [`Config`] is made of, as a loader builds it: every value is
/// checked by the loader (`coffer_policy::LoadConfig`) before it gets here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigParts {
    pub home: PathBuf,
    pub account: AccountId,
    pub region: Region,
    pub principal: String,
    pub catalog_url: String,
    pub catalog_password: Option<SecretRef>,
    /// Location of vaults no rule matches; `{name}` still in place.
    pub vault_default: VaultLocation,
    pub vault_rules: Vec<VaultRule>,
    pub s3_endpoints: BTreeMap<String, S3Endpoint>,
    pub report_buckets: BTreeMap<String, BucketLocation>,
    pub keyring_path: PathBuf,
    pub signing_key_path: PathBuf,
    pub serve: ServeSettings,
    pub notifications: Vec<NotificationTarget>,
    /// `[self_backup]`, when config.toml names a vault for it.
    pub self_backup: Option<SelfBackup>,
    pub tools: ToolDirs,
}

/// Where the database client tools are (`[tools]`), for machines where
/// they are not on `PATH` (several PostgreSQL versions side by side, a
/// MySQL installed under `/opt`). A family without a directory is looked
/// up on `PATH`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolDirs {
    /// The directory holding `pg_dump` and `pg_restore`.
    pub postgresql: Option<PathBuf>,
    /// The directory holding `mariadb` and `mariadb-dump` (or MySQL's
    /// `mysql` and `mysqldump`).
    pub mysql: Option<PathBuf>,
}

impl ToolDirs {
    /// The PostgreSQL tools Coffer runs, each by its name.
    pub const POSTGRESQL_TOOLS: [&'static [&'static str]; 2] = [&["pg_dump"], &["pg_restore"]];
    /// The MySQL tools Coffer runs, each by its MariaDB name, then its
    /// MySQL name.
    pub const MYSQL_TOOLS: [&'static [&'static str]; 2] =
        [&["mariadb", "mysql"], &["mariadb-dump", "mysqldump"]];
}

impl Config {
    /// A configuration of checked values.
    pub fn new(parts: ConfigParts) -> Config {
        Config { parts }
    }

    /// The home directory (`$COFFER_HOME`).
    pub fn home(&self) -> &Path {
        &self.parts.home
    }

    /// The configuration file's path.
    pub fn config_path(&self) -> PathBuf {
        self.parts.home.join(CONFIG_FILE)
    }

    /// Account commands and policies act in when they do not name one.
    pub fn default_account(&self) -> &AccountId {
        &self.parts.account
    }

    /// Region commands and policies act in when they do not name one.
    pub fn default_region(&self) -> &Region {
        &self.parts.region
    }

    /// Where the database client tools are, when not on `PATH`.
    pub fn tools(&self) -> &ToolDirs {
        &self.parts.tools
    }

    /// The principal ARN the CLI acts as.
    pub fn principal(&self) -> &str {
        &self.parts.principal
    }

    /// `sqlite://...` or `postgres://...`, never holding a password.
    pub fn catalog_url(&self) -> &str {
        &self.parts.catalog_url
    }

    /// The PostgreSQL catalog's password, by reference.
    pub fn catalog_password(&self) -> Option<&SecretRef> {
        self.parts.catalog_password.as_ref()
    }

    /// Where the vault named `name` of `account` and `region` lives: the
    /// first `[[vaults.rules]]` entry whose pattern matches, else
    /// `[vaults]`; `{account}`, `{region}` and `{name}` substituted.
    pub fn vault_location(&self, account: &str, region: &str, name: &str) -> VaultLocation {
        let template = self
            .parts
            .vault_rules
            .iter()
            .find(|rule| glob_match(&rule.pattern, name))
            .map_or(&self.parts.vault_default, |rule| &rule.location);
        let fill = |url: &str| {
            url.replace("{account}", account)
                .replace("{region}", region)
                .replace("{name}", name)
        };
        VaultLocation {
            url: fill(&template.url),
            cold_url: template.cold_url.as_deref().map(fill),
            endpoint: template.endpoint.clone(),
        }
    }

    /// The `[[vaults.rules]]` entries, in the order they are tried.
    pub fn vault_rules(&self) -> &[VaultRule] {
        &self.parts.vault_rules
    }

    /// An `[s3_endpoints.NAME]` entry.
    pub fn s3_endpoint(&self, name: &str) -> Option<&S3Endpoint> {
        self.parts.s3_endpoints.get(name)
    }

    /// All `[s3_endpoints]` entries by name.
    pub fn s3_endpoints(&self) -> &BTreeMap<String, S3Endpoint> {
        &self.parts.s3_endpoints
    }

    /// Where report files for the bucket `name` (a report plan's
    /// `S3BucketName`) go: its `[report_buckets.NAME]` entry, else the
    /// folder `<home>/buckets/<name>`. A name that is not a plain file name
    /// (holding `/`, or `..`) has such characters replaced by `_` so the
    /// folder always stays under `<home>/buckets`.
    pub fn report_bucket(&self, name: &str) -> BucketLocation {
        match self.parts.report_buckets.get(name) {
            Some(location) => location.clone(),
            None => BucketLocation::Folder(self.parts.home.join("buckets").join(folder_name(name))),
        }
    }

    /// The `[report_buckets]` entries by name.
    pub fn report_buckets(&self) -> &BTreeMap<String, BucketLocation> {
        &self.parts.report_buckets
    }

    /// The key-encryption keyring.
    pub fn keyring_path(&self) -> &Path {
        &self.parts.keyring_path
    }

    /// `[serve]`: how `coffer serve` runs.
    pub fn serve(&self) -> &ServeSettings {
        &self.parts.serve
    }

    /// `[[notifications]]`: the webhooks that receive events.
    pub fn notifications(&self) -> &[NotificationTarget] {
        &self.parts.notifications
    }

    /// The Ed25519 key that signs report manifests and ledger checkpoints.
    pub fn signing_key_path(&self) -> &Path {
        &self.parts.signing_key_path
    }

    /// `[self_backup]`: where and how often the deployment backs up its
    /// own catalog, when config.toml names a vault for it.
    pub fn self_backup(&self) -> Option<&SelfBackup> {
        self.parts.self_backup.as_ref()
    }

    /// The newest signed ledger checkpoint, kept beside the signing key so
    /// how far the ledger had gone survives the catalog.
    pub fn kept_checkpoint_path(&self) -> PathBuf {
        self.parts
            .signing_key_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("ledger-checkpoint.json")
    }

    /// The key that MACs ledger entries: `ledger.key` beside the signing
    /// key, kept outside the catalog as it is.
    pub fn ledger_key_path(&self) -> PathBuf {
        self.parts
            .signing_key_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("ledger.key")
    }
}

/// A bucket name as a single safe path component.
fn folder_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}
