//! Drivers: how Coffer discovers, backs up, restores and validates each
//! kind of resource. Every driver writes into a vault through
//! `coffer-vault` and never stages a whole backup on disk except where the
//! resource's own consistency mechanism needs a file (SQLite's online
//! backup writes one; it is deleted at once).
//!
//! - [`filesystem`]: a directory tree, incremental through the vault's dedup.
//! - [`sqlite`]: an online snapshot through SQLite's backup API.
//! - [`postgres`]: `pg_dump` (custom format) streamed into the vault, with
//!   a manifest of table row counts and checksums taken from the same
//!   transaction snapshot; restore with `pg_restore` into a new database.
//! - [`mysql`]: `mariadb-dump --single-transaction` streamed into the
//!   vault, with a manifest read from the dump as it passes; restore with
//!   the `mariadb` client into a new database.
//! - [`s3`]: a bucket (or a prefix of one) as a tree of its objects with a
//!   manifest of their metadata and tags, incremental by ETag, size and
//!   LastModified; restore into a bucket, created when missing.
//!
//! Connection secrets are resolved from their references ([`resolve_secret`])
//! at the moment of use and handed to tools through their environment,
//! never through arguments, logs or the catalog.

pub mod endpoint;
pub mod filesystem;
pub mod mysql;
pub mod postgres;
mod process;
pub mod s3;
pub mod scratch;
pub mod sqlite;
mod tools;

pub use postgres::PostgresError;
pub use process::ToolError;
pub use sqlite::SqliteError;
pub use tools::use_tool_dirs;

use std::path::PathBuf;

use coffer_model::{ContentManifest, RecoveryPoint, Resource, ResourceType, SecretRef};
use coffer_vault::{Secret, StorageError, VaultStorage};

/// A vault opened for a driver: its storage and its repository secret.
#[derive(Clone, Debug)]
pub struct Vault {
    pub storage: VaultStorage,
    pub secret: Secret,
}

/// What a backup produced, for the recovery point's catalog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupOutcome {
    pub snapshot_id: String,
    /// Bytes of the resource's data read (the logical size).
    pub bytes: u64,
    /// Bytes added to the vault after dedup and compression.
    pub bytes_added: u64,
    /// Bytes the snapshot's data occupies in the vault (shared chunks too).
    pub stored_bytes: u64,
    /// SHA-256 of the stream, or of the tree's canonical listing.
    pub content_sha256: String,
    pub manifest: Option<ContentManifest>,
    /// What the point left out and why (an object deleted between its
    /// listing and its read): the job completes, with these as its status
    /// message.
    pub warnings: Vec<String>,
}

impl BackupOutcome {
    fn from_stream(
        saved: coffer_vault::StreamBackup,
        stored_bytes: u64,
        manifest: ContentManifest,
    ) -> BackupOutcome {
        BackupOutcome {
            snapshot_id: saved.snapshot.id,
            bytes: saved.bytes,
            bytes_added: saved.snapshot.bytes_added,
            stored_bytes,
            content_sha256: saved.sha256,
            manifest: Some(manifest),
            warnings: Vec::new(),
        }
    }
}

/// Where a restore writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreTarget {
    /// A directory (FileSystem), optionally only one path of the tree.
    Directory {
        path: PathBuf,
        select: Option<String>,
    },
    /// A file (SQLite).
    File { path: PathBuf },
    /// A database (PostgreSQL, MySQL), optionally only one table
    /// (PostgreSQL: `schema.table` or `table` in `public`; MySQL: `table`),
    /// on `server` (a declared server of the point's engine) or, when none,
    /// on the resource's own server.
    Database {
        name: String,
        table: Option<String>,
        server: Option<Box<coffer_model::Server>>,
    },
    /// A bucket (S3), created when missing, under a prefix, optionally
    /// only one key or key prefix.
    Bucket(s3::BucketTarget),
}

impl RestoreTarget {
    /// The ARN of what a restore of a point of `resource` to this target
    /// creates, as Coffer names resources (`CreatedResourceArn`): a database
    /// as `<server>/<database>` in its server's account and region; a
    /// directory or file on this machine by its absolute path, in the
    /// resource's account and region; a bucket by its own ARN.
    pub fn created_resource_arn(&self, resource: &Resource) -> String {
        use RestoreTarget as To;
        match self {
            To::Directory { path, .. } => ResourceType::FileSystem
                .arn(
                    &resource.region,
                    &resource.account_id,
                    &path.display().to_string(),
                )
                .to_string(),
            To::File { path } => ResourceType::SQLite
                .arn(
                    &resource.region,
                    &resource.account_id,
                    &path.display().to_string(),
                )
                .to_string(),
            To::Database { name, server, .. } => match server.as_deref() {
                Some(server) => resource
                    .resource_type
                    .arn(
                        &server.region,
                        &server.account_id,
                        &format!("{}/{name}", server.name),
                    )
                    .to_string(),
                None => {
                    let own = resource
                        .connection
                        .get("server")
                        .map(String::as_str)
                        .or_else(|| resource.resource_name.split_once('/').map(|(s, _)| s))
                        .unwrap_or(&resource.resource_name);
                    resource
                        .resource_type
                        .arn(
                            &resource.region,
                            &resource.account_id,
                            &format!("{own}/{name}"),
                        )
                        .to_string()
                }
            },
            To::Bucket(bucket) => bucket.arn(),
        }
    }

    /// What kind of place it is, in words.
    pub fn kind(&self) -> &'static str {
        match self {
            RestoreTarget::Directory { .. } => "a directory",
            RestoreTarget::File { .. } => "a file",
            RestoreTarget::Database { .. } => "a database",
            RestoreTarget::Bucket(_) => "a bucket",
        }
    }

    /// Whether a point of `kind` restores to this kind of place.
    pub fn fits(&self, kind: ResourceType) -> bool {
        matches!(
            (kind, self),
            (ResourceType::FileSystem, RestoreTarget::Directory { .. })
                | (ResourceType::SQLite, RestoreTarget::File { .. })
                | (ResourceType::S3, RestoreTarget::Bucket(_))
                | (
                    ResourceType::PostgreSQL | ResourceType::MySQL,
                    RestoreTarget::Database { .. }
                )
        )
    }
}

/// What a point of `kind` restores to, in words (for refusals).
pub fn target_kind_of(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::FileSystem => "a directory to restore into",
        ResourceType::SQLite => "a file to restore to",
        ResourceType::S3 => "a bucket to restore into",
        _ => "a database to restore into",
    }
}

/// What a restore created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// The restored resource, in words and as an address: a path, or
    /// `postgresql://host:port/database` or `mysql://host:port/database`.
    pub created: String,
    pub bytes: u64,
    /// Things not restored, with why (special files, say).
    pub notes: Vec<String>,
}

/// What validation checked, and what it found wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    pub checked: Vec<String>,
    pub problems: Vec<String>,
}

impl DriverError {
    /// Whether a restore was refused because its target exists (a forced
    /// restore replaces it).
    pub fn is_target_exists(&self) -> bool {
        matches!(
            self,
            DriverError::TargetExists(_)
                | DriverError::Storage(coffer_vault::StorageError::TargetNotEmpty { .. })
        )
    }
}

impl Validation {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What can go wrong in a driver. Messages name the resource and, for
/// tools, carry the tool's own words; they never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{resource}: {message}")]
    Resource { resource: String, message: String },
    #[error("{tool} failed for {resource}: {message}")]
    Tool {
        tool: &'static str,
        resource: String,
        message: String,
    },
    #[error("refused: {0}")]
    Refused(String),
    /// The restore target exists, and the restore was not asked to replace it.
    #[error("refused: {0}")]
    TargetExists(String),
    #[error("resource {resource} has no {field:?} in its connection details; declare it in the inventory and apply again")]
    Connection { resource: String, field: String },
    /// A database tool that could not be started.
    #[error("{resource}: {source}")]
    Process {
        resource: String,
        #[source]
        source: ToolError,
    },
    /// A connection password whose reference could not be read.
    #[error("{resource}: password: {source}")]
    Password {
        resource: String,
        #[source]
        source: SecretError,
    },
    /// A SQLite database that could not be copied or read.
    #[error("{resource}: {source}")]
    Sqlite {
        resource: String,
        #[source]
        source: sqlite::SqliteError,
    },
    /// A restored SQLite file that is not a sound database.
    #[error("refused: {0}")]
    SqliteRestore(#[source] sqlite::SqliteError),
    /// A PostgreSQL server that would not give a snapshot or a manifest.
    #[error("{resource}: {source}")]
    Postgres {
        resource: String,
        #[source]
        source: postgres::PostgresError,
    },
    #[error("{0} has no driver yet")]
    Unsupported(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the storage task stopped: {0}")]
    Task(String),
}

pub type Result<T, E = DriverError> = std::result::Result<T, E>;

/// A secret whose reference could not be read. It names the reference,
/// never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `{env: NAME}` names a variable that is unset or not UTF-8.
    #[error("environment variable {name} is not set (or not valid UTF-8); set it, or change the reference")]
    EnvUnset { name: String },
    /// `{file: PATH}` names a file that cannot be read.
    #[error("cannot read the secret file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a secret from where its reference points: the one resolver of
/// every secret given by reference (inventory passwords, S3 credentials,
/// the catalog's password). Errors name the reference, never the value.
///
/// # Errors
/// `EnvUnset` when the variable is unset, `File` when the file is unreadable.
pub fn resolve_secret(reference: &SecretRef) -> std::result::Result<String, SecretError> {
    match reference {
        SecretRef::Env(name) => {
            std::env::var(name).map_err(|_| SecretError::EnvUnset { name: name.clone() })
        }
        SecretRef::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                path: path.clone(),
                source,
            })?;
            Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
        }
    }
}

/// Parses a reference as the inventory stores it in connection details
/// (`env:NAME` or `file:PATH`).
pub fn parse_secret_ref(text: &str) -> Option<SecretRef> {
    if let Some(name) = text.strip_prefix("env:") {
        return Some(SecretRef::Env(name.to_string()));
    }
    text.strip_prefix("file:")
        .map(|path| SecretRef::File(path.to_string()))
}

fn connection<'a>(resource: &'a Resource, field: &str) -> Result<&'a str> {
    resource
        .connection
        .get(field)
        .map(String::as_str)
        .ok_or_else(|| DriverError::Connection {
            resource: resource.resource_arn.to_string(),
            field: field.to_string(),
        })
}

/// Tags on every snapshot: enough for someone with only `restic` to tell
/// what a snapshot is (resource, recovery point, job, and the plan and
/// rule that made it, for scheduled jobs).
pub fn snapshot_tags(
    resource_arn: &str,
    recovery_point_id: &str,
    job_id: &str,
    plan_rule: Option<(&str, &str)>,
) -> Vec<String> {
    let mut tags = vec![
        format!("coffer-resource:{resource_arn}"),
        format!("coffer-recovery-point:{recovery_point_id}"),
        format!("coffer-job:{job_id}"),
    ];
    if let Some((plan, rule)) = plan_rule {
        tags.push(format!("coffer-plan:{plan}"));
        tags.push(format!("coffer-rule:{rule}"));
    }
    tags
}

/// Runs a blocking vault operation off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DriverError::Task(e.to_string()))?
}

/// Backs up `resource` into `vault`; `scratch` is a directory for the
/// short-lived files some resources need (SQLite's online backup).
///
/// # Errors
/// When the resource cannot be read or the vault written; nothing is left
/// in the vault that looks like a recovery point.
pub fn backup<'a>(
    resource: &'a Resource,
    vault: &'a Vault,
    tags: Vec<String>,
    scratch: &'a std::path::Path,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<BackupOutcome>> + Send + 'a>> {
    // Boxed here, where its lifetimes are concrete, so callers can spawn it
    // (rustc cannot prove sqlx's executor futures Send in a generic context).
    Box::pin(async move {
        match resource.resource_type {
            ResourceType::FileSystem => filesystem::backup(resource, vault, tags).await,
            ResourceType::SQLite => sqlite::backup(resource, vault, tags, scratch).await,
            ResourceType::PostgreSQL => postgres::backup(resource, vault, tags).await,
            ResourceType::MySQL => mysql::backup(resource, vault, tags).await,
            ResourceType::S3 => s3::backup(resource, vault, tags, scratch).await,
        }
    })
}

/// The databases a declared server holds now, as resources with their tags.
///
/// # Errors
/// When the server is unreachable, its tools missing, or its engine is no
/// database server's.
pub async fn discover(server: &coffer_model::Server) -> Result<Vec<Resource>> {
    match server.engine {
        ResourceType::PostgreSQL => postgres::discover(server).await,
        ResourceType::MySQL => mysql::discover(server).await,
        other => Err(DriverError::Unsupported(format!(
            "discovery on a {} server",
            other.as_str()
        ))),
    }
}

/// Restores a recovery point of `resource` to `target`.
///
/// # Errors
/// When the target is unsafe or exists (without `force`), or the restore fails.
pub async fn restore(
    point: &RecoveryPoint,
    resource: &Resource,
    vault: &Vault,
    target: &RestoreTarget,
    force: bool,
) -> Result<RestoreOutcome> {
    match (resource.resource_type, target) {
        (ResourceType::FileSystem, RestoreTarget::Directory { path, select }) => {
            filesystem::restore(point, resource, vault, path, select.clone(), force).await
        }
        (ResourceType::SQLite, RestoreTarget::File { path }) => {
            sqlite::restore(point, vault, path, force).await
        }
        (
            kind @ (ResourceType::PostgreSQL | ResourceType::MySQL),
            RestoreTarget::Database {
                name,
                table,
                server,
            },
        ) => {
            let endpoint = match server.as_deref() {
                Some(server) if server.engine != kind => {
                    return Err(DriverError::Refused(format!(
                        "server {} runs {}, and a {} recovery point restores only to a {} server",
                        server.name,
                        server.engine.as_str(),
                        kind.as_str(),
                        kind.as_str()
                    )))
                }
                Some(server) => endpoint::Endpoint::of_server(server)?,
                None => endpoint::Endpoint::of_resource(resource)?,
            };
            let database = Restore {
                point,
                resource,
                vault,
                endpoint: &endpoint,
                target: name,
                table: table.as_deref(),
                force,
            };
            if kind == ResourceType::PostgreSQL {
                postgres::restore(&database).await
            } else {
                mysql::restore(&database).await
            }
        }
        (ResourceType::S3, RestoreTarget::Bucket(bucket)) => {
            s3::restore(point, resource, vault, bucket, force, &std::env::temp_dir()).await
        }
        (kind, target) => Err(DriverError::Refused(format!(
            "a {} recovery point cannot be restored to {}; use {}",
            kind.as_str(),
            target.kind(),
            target_kind_of(kind)
        ))),
    }
}

/// A database restore: the point, where it is read from, and the server
/// and database it is written to.
pub(crate) struct Restore<'a> {
    pub point: &'a RecoveryPoint,
    pub resource: &'a Resource,
    pub vault: &'a Vault,
    pub endpoint: &'a endpoint::Endpoint,
    pub target: &'a str,
    pub table: Option<&'a str>,
    pub force: bool,
}

/// The database a server database resource is: its connection's
/// `database`, or the last part of its `<server>/<database>` name (a
/// resource known only from its recovery point, its server out of reach).
pub(crate) fn database_of(resource: &Resource) -> Result<String> {
    if let Some(database) = resource.connection.get("database") {
        return Ok(database.clone());
    }
    resource
        .resource_name
        .split_once('/')
        .map(|(_, database)| database.to_string())
        .ok_or_else(|| DriverError::Connection {
            resource: resource.resource_arn.to_string(),
            field: "database".into(),
        })
}

/// Validates a recovery point: reads all its data back from the vault and
/// compares it with what the recovery point recorded; for databases,
/// restores into a scratch database and compares the tables, on `server`
/// (a declared one: a restore test's `TargetServer`) or, when none, on
/// the resource's own server.
///
/// # Errors
/// When the check cannot run at all (a vault that cannot be opened);
/// differences are reported in the [`Validation`], not as errors.
pub async fn validate(
    point: &RecoveryPoint,
    resource: &Resource,
    vault: &Vault,
    scratch: &std::path::Path,
    server: Option<&coffer_model::Server>,
) -> Result<Validation> {
    let mut validation = Validation::default();
    if resource.resource_type == ResourceType::S3 {
        // Reads every object back itself, comparing each with the manifest.
        s3::validate(point, vault, scratch, &mut validation).await?;
        return Ok(validation);
    }
    let snapshot = snapshot_of(point)?;
    let read_back = {
        let vault = vault.clone();
        let snapshot = snapshot.clone();
        blocking(move || Ok(vault.storage.read_back(&vault.secret, &snapshot)?)).await
    };
    match read_back {
        Ok(read_back) => {
            validation.checked.push(format!(
                "read back {} file(s), {} bytes, every length as recorded",
                read_back.files, read_back.bytes
            ));
            if let (Some(found), Some(recorded)) = (&read_back.stream_sha256, &point.content_sha256)
            {
                if resource.resource_type != ResourceType::FileSystem {
                    if found == recorded {
                        validation
                            .checked
                            .push(format!("stream SHA-256 {found} as recorded"));
                    } else {
                        validation.problems.push(format!(
                            "stream SHA-256 is {found}, the recovery point recorded {recorded}"
                        ));
                    }
                }
            }
        }
        Err(e) => {
            validation.problems.push(e.to_string());
            return Ok(validation);
        }
    }
    match resource.resource_type {
        ResourceType::FileSystem => filesystem::validate(point, vault, &mut validation).await?,
        ResourceType::SQLite => sqlite::validate(point, vault, scratch, &mut validation).await?,
        ResourceType::PostgreSQL => {
            postgres::validate(point, resource, vault, server, &mut validation).await?;
        }
        ResourceType::MySQL => {
            mysql::validate(point, resource, vault, server, &mut validation).await?;
        }
        other => {
            return Err(DriverError::Unsupported(format!(
                "{} validation",
                other.as_str()
            )))
        }
    }
    Ok(validation)
}

/// Where a validation of `point` restores to, in words, when it restores
/// anywhere (a file system's validation only reads back): what a
/// validation stopped midway may leave.
pub fn validation_scratch(
    point: &RecoveryPoint,
    resource: &Resource,
    scratch: &std::path::Path,
) -> Option<String> {
    match resource.resource_type {
        ResourceType::SQLite => Some(format!(
            "a scratch directory sqlite-validate-* in {}",
            scratch.display()
        )),
        ResourceType::PostgreSQL => Some(format!(
            "the scratch database {}",
            postgres::scratch_database(point)
        )),
        ResourceType::MySQL => Some(format!(
            "the scratch database {}",
            mysql::scratch_database(point)
        )),
        _ => None,
    }
}

fn snapshot_of(point: &RecoveryPoint) -> Result<String> {
    point.snapshot_id.clone().ok_or_else(|| {
        DriverError::Refused(format!(
            "recovery point {} has no stored snapshot (status {:?})",
            point.recovery_point_id, point.status
        ))
    })
}

/// Compares a manifest found now with the recorded one.
fn compare_manifest(
    recorded: Option<&ContentManifest>,
    found: &ContentManifest,
    validation: &mut Validation,
) {
    match recorded {
        None => validation
            .problems
            .push("the recovery point recorded no table manifest to compare with".into()),
        Some(recorded) => {
            let differences = recorded.differences(found);
            if differences.is_empty() {
                let rows: u64 = found.tables.iter().map(|t| t.rows).sum();
                validation.checked.push(format!(
                    "{} table(s), {rows} row(s): counts and checksums as recorded",
                    found.tables.len()
                ));
            } else {
                validation.problems.extend(differences);
            }
        }
    }
}

/// The resource a declared server's database `database` is, with its tags
/// (the server's, then `database_tags`, then a `coffer:` line in its
/// `comment`) and the connection details its driver needs; `None` when
/// the server's `exclude_databases` leaves it out. PostgreSQL's and
/// MySQL's discovery both build their resources here.
pub(crate) fn server_database(
    server: &coffer_model::Server,
    kind: ResourceType,
    database: &str,
    comment: &str,
) -> Option<Resource> {
    // A restore test's scratch copy is Coffer's own, never a resource.
    if database.starts_with(scratch::RESTORE_TEST_DATABASE_PREFIX)
        || database.is_empty()
        || server
            .exclude_databases
            .iter()
            .any(|pattern| coffer_model::glob_match(pattern, database))
    {
        return None;
    }
    let mut tags = server.tags.clone();
    if let Some(extra) = server.database_tags.get(database) {
        tags.extend(extra.clone());
    }
    tags.extend(postgres::comment_tags(comment));
    let name = format!("{}/{database}", server.name);
    let mut connection = std::collections::BTreeMap::from([
        ("server".to_string(), server.name.clone()),
        ("host".to_string(), server.host.clone()),
        ("port".to_string(), server.port.to_string()),
        ("database".to_string(), database.to_string()),
    ]);
    if let Some(user) = &server.user {
        connection.insert("user".into(), user.clone());
    }
    if let Some(password) = &server.password {
        connection.insert("password".into(), password.to_string());
    }
    Some(Resource {
        resource_arn: kind.arn(&server.region, &server.account_id, &name),
        resource_type: kind,
        resource_name: name,
        account_id: server.account_id.clone(),
        region: server.region.clone(),
        tags,
        connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_tags_name_resource_point_job_and_plan() {
        let account =
            coffer_model::AccountId::new("111122223333").unwrap_or_else(|e| panic!("{e}"));
        let region = coffer_model::Region::new("eu-west-1").unwrap_or_else(|e| panic!("{e}"));
        let resource = Resource {
            resource_arn: ResourceType::SQLite.arn(&region, &account, "queue"),
            resource_type: ResourceType::SQLite,
            resource_name: "queue".into(),
            account_id: account,
            region,
            tags: Default::default(),
            connection: Default::default(),
        };
        let arn = resource.resource_arn.to_string();
        let tags = snapshot_tags(&arn, "rp-1", "JOB-1", Some(("daily", "nightly")));
        assert_eq!(
            tags,
            vec![
                "coffer-resource:arn:coffer:sqlite:eu-west-1:111122223333:database/queue",
                "coffer-recovery-point:rp-1",
                "coffer-job:JOB-1",
                "coffer-plan:daily",
                "coffer-rule:nightly",
            ]
        );
        assert_eq!(snapshot_tags(&arn, "rp-1", "JOB-1", None).len(), 3);
    }

    #[test]
    fn a_secret_that_cannot_be_read_names_its_reference_only() {
        let unset =
            resolve_secret(&SecretRef::Env("COFFER_TEST_NEVER_SET_4711".into())).unwrap_err();
        assert!(
            matches!(unset, SecretError::EnvUnset { ref name } if name == "COFFER_TEST_NEVER_SET_4711")
        );
        assert_eq!(
            unset.to_string(),
            "environment variable COFFER_TEST_NEVER_SET_4711 is not set (or not valid UTF-8); set it, or change the reference"
        );
        let missing =
            resolve_secret(&SecretRef::File("/nonexistent/coffer/secret".into())).unwrap_err();
        assert!(matches!(missing, SecretError::File { .. }));
        assert!(
            missing
                .to_string()
                .starts_with("cannot read the secret file /nonexistent/coffer/secret: "),
            "{missing}"
        );
    }

    #[test]
    fn a_restore_tests_scratch_database_is_never_discovered() {
        let server: coffer_model::Server = serde_json::from_value(serde_json::json!({
            "Name": "local", "Engine": "PostgreSQL", "Host": "127.0.0.1", "Port": 5432,
            "AccountId": "111122223333", "Region": "eu-west-1",
        }))
        .unwrap();
        let kind = ResourceType::PostgreSQL;
        assert!(server_database(&server, kind, "orders", "").is_some());
        let scratch = format!("{}0123abcd", scratch::RESTORE_TEST_DATABASE_PREFIX);
        assert!(server_database(&server, kind, &scratch, "").is_none());
    }

    #[test]
    fn a_secret_file_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n\n").unwrap();
        let reference = SecretRef::File(path.display().to_string());
        assert_eq!(resolve_secret(&reference).unwrap(), "s3cret\n");
    }
}
