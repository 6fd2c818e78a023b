//! Restore jobs (StartRestoreJob) and restore validations: a recovery
//! point restored to a new place, or read back into a scratch target and
//! compared with what was recorded.

use std::path::PathBuf;

use coffer_drivers::{RestoreOutcome, Validation};
use coffer_model::{
    Arn, RecoveryPoint, RecoveryPointStatus, Resource, RestoreJob, RestoreJobStatus, Server,
    ValidationStatus,
};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// Where a restore writes, as a request names it: a place on this
/// machine, or a database on the point's own server or on a server the
/// inventory declares (in any account and region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreTarget {
    /// A directory on this machine (file systems), optionally only one
    /// path of the tree.
    Directory {
        path: PathBuf,
        select: Option<String>,
    },
    /// A file on this machine (SQLite).
    File { path: PathBuf },
    /// A database (PostgreSQL, MySQL), created, or only one table of it.
    Database {
        name: String,
        table: Option<String>,
        /// A declared server's name (`NAME`, or `ACCOUNT/REGION/NAME` when
        /// servers of that name are declared in several places); `None`
        /// restores on the point's own server.
        server: Option<String>,
    },
    /// A bucket (S3), created when missing, under a prefix, optionally
    /// only one key or key prefix.
    Bucket(coffer_drivers::s3::BucketTarget),
}

impl RestoreTarget {
    /// The target as StartRestoreJob's `Metadata` keys, as the restore
    /// job records them (a bucket's under keys of its own).
    pub fn metadata(&self) -> std::collections::BTreeMap<String, String> {
        let mut keys = std::collections::BTreeMap::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                keys.insert(key.to_string(), value);
            }
        };
        match self {
            RestoreTarget::Directory { path, select } => {
                put("TargetDirectory", Some(path.display().to_string()));
                put("Path", select.clone());
            }
            RestoreTarget::File { path } => put("TargetFile", Some(path.display().to_string())),
            RestoreTarget::Database {
                name,
                table,
                server,
            } => {
                put("TargetDatabase", Some(name.clone()));
                put("Table", table.clone());
                put("TargetServer", server.clone());
            }
            RestoreTarget::Bucket(bucket) => {
                put("TargetBucket", Some(bucket.bucket.clone()));
                put(
                    "TargetPrefix",
                    (!bucket.prefix.is_empty()).then(|| bucket.prefix.clone()),
                );
                put("Key", bucket.select.clone());
                put("TargetEndpoint", bucket.endpoint.clone());
                match &bucket.versions {
                    coffer_drivers::s3::RestoreVersions::Current => {}
                    coffer_drivers::s3::RestoreVersions::All => {
                        put("AllVersions", Some("true".to_string()));
                    }
                    coffer_drivers::s3::RestoreVersions::One(version_id) => {
                        put("VersionId", Some(version_id.clone()));
                    }
                }
            }
        }
        keys
    }

    /// StartRestoreJob's `Metadata` split into what Coffer applies and the
    /// AWS keys that cannot apply here, recorded as `NotApplied.<key>`
    /// (`coffer_model::restore_metadata::split_metadata`); any other key
    /// is left in the first map, so [`RestoreTarget::from_metadata`]
    /// refuses it by name.
    pub fn split_metadata(
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> (
        std::collections::BTreeMap<String, String>,
        std::collections::BTreeMap<String, String>,
    ) {
        coffer_model::restore_metadata::split_metadata(metadata)
    }

    /// The target StartRestoreJob's `Metadata` names, and whether it asks
    /// to replace an existing target (`Force`): the inverse of
    /// [`RestoreTarget::metadata`]. Per resource type:
    /// - file system: `TargetDirectory` (absolute), optionally `Path`;
    /// - SQLite: `TargetFile` (absolute);
    /// - PostgreSQL, MySQL: `TargetDatabase`, optionally `Table` and
    ///   `TargetServer`;
    /// - S3: `TargetBucket`, optionally `TargetPrefix`, `TargetEndpoint`,
    ///   `Key` (a key or key prefix), and `AllVersions` (`true`: every
    ///   version the point holds) or `VersionId` (with `Key`: that version
    ///   of the key), as `restore start --all-versions` and
    ///   `--key K --version-id V` ask.
    ///
    /// # Errors
    /// `InvalidParameterValue` naming a key that means nothing here, a
    /// relative path, keys of two kinds of target, or a bad value.
    pub fn from_metadata(
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> Result<(RestoreTarget, bool)> {
        use coffer_model::restore_metadata::{
            BUCKET_KEYS as BUCKET, DATABASE_KEYS, DIRECTORY_KEYS, FILE_KEYS, FORCE,
        };
        let others: Vec<&str> = DIRECTORY_KEYS
            .iter()
            .chain(&FILE_KEYS)
            .chain(&DATABASE_KEYS)
            .chain(&[FORCE])
            .copied()
            .collect();
        let known = |k: &str| others.contains(&k) || BUCKET.contains(&k);
        if let Some(other) = metadata.keys().find(|k| !known(k)) {
            return Err(Error::invalid_parameter(format!(
                "Metadata key {other:?} means nothing to Coffer; use {}, {}",
                others.join(", "),
                BUCKET.join(", ")
            )));
        }
        let get = |key: &str| metadata.get(key).map(String::as_str);
        let flag = |key: &str| match get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(Error::invalid_parameter(format!(
                "Metadata {key} {other:?} is not true or false"
            ))),
        };
        let absolute = |key: &str, text: &str| {
            let path = PathBuf::from(text);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(Error::invalid_parameter(format!(
                    "Metadata {key} {text:?} is not an absolute path on the Coffer server"
                )))
            }
        };
        let only = |allowed: &[&str]| {
            let stray: Vec<&str> = metadata
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "Force" && !allowed.contains(k))
                .collect();
            if stray.is_empty() {
                Ok(())
            } else {
                Err(Error::invalid_parameter(format!(
                    "Metadata {} do(es) not go with {}; name exactly one of TargetDirectory (with Path), TargetFile, TargetDatabase (with Table, TargetServer) or TargetBucket (with TargetPrefix, TargetEndpoint, Key, AllVersions, VersionId)",
                    stray.join(", "),
                    allowed[0]
                )))
            }
        };
        let target = if let Some(dir) = get("TargetDirectory") {
            only(&DIRECTORY_KEYS)?;
            RestoreTarget::Directory {
                path: absolute("TargetDirectory", dir)?,
                select: get("Path").map(str::to_string),
            }
        } else if let Some(file) = get("TargetFile") {
            only(&FILE_KEYS)?;
            RestoreTarget::File {
                path: absolute("TargetFile", file)?,
            }
        } else if let Some(name) = get("TargetDatabase") {
            only(&DATABASE_KEYS)?;
            RestoreTarget::Database {
                name: name.to_string(),
                table: get("Table").map(str::to_string),
                server: get("TargetServer").map(str::to_string),
            }
        } else if let Some(bucket) = get("TargetBucket") {
            only(&BUCKET)?;
            use coffer_drivers::s3::RestoreVersions;
            let versions = match (flag("AllVersions")?, get("VersionId")) {
                (true, Some(_)) => {
                    return Err(Error::invalid_parameter(
                        "Metadata AllVersions and VersionId do not go together: restore every version, or one version of one Key",
                    ))
                }
                (false, Some(_)) if get("Key").is_none() => {
                    return Err(Error::invalid_parameter(
                        "Metadata VersionId goes with Key: name the key whose version to restore",
                    ))
                }
                (false, Some(version_id)) => RestoreVersions::One(version_id.to_string()),
                (true, None) => RestoreVersions::All,
                (false, None) => RestoreVersions::Current,
            };
            RestoreTarget::Bucket(coffer_drivers::s3::BucketTarget {
                endpoint: get("TargetEndpoint").map(str::to_string),
                access: None,
                bucket: bucket.to_string(),
                prefix: get("TargetPrefix").unwrap_or_default().to_string(),
                select: get("Key").map(str::to_string),
                versions,
            })
        } else {
            return Err(Error::invalid_parameter(
                "Metadata names none of TargetDirectory (file systems, with Path), TargetFile (SQLite), TargetDatabase (PostgreSQL, MySQL; with Table, TargetServer) or TargetBucket (S3; with TargetPrefix, TargetEndpoint, Key, AllVersions, VersionId)",
            ));
        };
        Ok((target, flag("Force")?))
    }
}

/// AWS Backup restore metadata keys that have no meaning for Coffer's
/// resources: accepted by StartRestoreJob and recorded in the job as not
/// applied.
pub use coffer_model::restore_metadata::AWS_KEYS_NOT_APPLIED;

/// What StartRestoreJob asks.
#[derive(Clone, Debug)]
pub struct StartRestore {
    /// The recovery point's ARN or ID.
    pub recovery_point: String,
    pub target: RestoreTarget,
    /// Replace an existing target (files, database or table).
    pub force: bool,
    /// AWS metadata keys that cannot apply here, recorded in the job
    /// ([`RestoreTarget::split_metadata`]).
    pub not_applied: std::collections::BTreeMap<String, String>,
}

/// A restore job's end.
#[derive(Debug)]
pub enum RestoreEnd {
    Completed(RestoreOutcome),
    /// FAILED, with the reason recorded on the job; `target_exists` when
    /// it was refused because its target exists (a forced restore
    /// replaces it).
    Failed {
        message: String,
        target_exists: bool,
    },
}

/// A validation job's end.
#[derive(Debug)]
pub enum ValidationEnd {
    /// The data was read back: what was checked and what was wrong.
    Checked(Validation),
    /// The job FAILED before it could compare, with the reason.
    Failed(String),
}

/// How a target is described in messages and records.
pub fn describe_target(target: &coffer_drivers::RestoreTarget) -> String {
    use coffer_drivers::RestoreTarget as To;
    match target {
        To::Directory { path, select } => match select {
            Some(select) => format!("{} (only {select})", path.display()),
            None => path.display().to_string(),
        },
        To::File { path } => path.display().to_string(),
        To::Database {
            name,
            table,
            server,
        } => {
            let on = server
                .as_deref()
                .map(|server| {
                    format!(
                        " on server {} ({}, {})",
                        server.name, server.account_id, server.region
                    )
                })
                .unwrap_or_default();
            match table {
                Some(table) => format!("database {name}{on} (only table {table})"),
                None => format!("database {name}{on}"),
            }
        }
        To::Bucket(bucket) => {
            let mut words = format!("s3://{}/{}", bucket.bucket, bucket.prefix);
            if let Some(endpoint) = &bucket.endpoint {
                words.push_str(&format!(" on endpoint {endpoint}"));
            }
            if let Some(select) = &bucket.select {
                words.push_str(&format!(" (only keys starting with {select})"));
            }
            words
        }
    }
}

/// A server database known only from its recovery point (ARN, type), for
/// a restore to another server when its own server is out of reach: the
/// drivers read the source database's name from the ARN.
fn resource_of_point(point: &RecoveryPoint) -> Option<Resource> {
    if !point.resource_type.is_server_database() {
        return None;
    }
    let arn = Arn::parse(&point.resource_arn).ok()?;
    let name = arn.resource().strip_prefix("database/")?.to_string();
    Some(Resource {
        resource_type: point.resource_type,
        resource_name: name,
        account_id: coffer_model::AccountId::new(arn.account()).ok()?,
        region: coffer_model::Region::new(arn.region()).ok()?,
        resource_arn: arn,
        tags: Default::default(),
        connection: Default::default(),
    })
}

/// A restore job being carried out: every change goes through one state
/// setter, checked against the restore state machine.
#[derive(Debug)]
pub struct RestoreRun<'a> {
    service: &'a Service,
    pub job: RestoreJob,
    pub point: RecoveryPoint,
    /// Where a restore writes, its server resolved (none for a validation).
    pub target: Option<coffer_drivers::RestoreTarget>,
}

impl RestoreRun<'_> {
    /// Every change goes through the engine's state setter: checked
    /// against the restore state machine, written at the version read,
    /// the runner recorded when it starts.
    async fn set(
        &mut self,
        status: RestoreJobStatus,
        change: impl FnOnce(&mut RestoreJob),
    ) -> Result<()> {
        self.job = coffer_engine::jobs::set_restore_state(
            self.service.env(),
            &self.job.restore_job_id,
            status,
            change,
        )
        .await?;
        Ok(())
    }

    async fn fail(&mut self, message: String) -> Result<()> {
        self.set(RestoreJobStatus::Failed, |job| {
            if job.validation_status.is_some() {
                job.validation_status = Some(ValidationStatus::Failed);
                job.validation_status_message = Some(message.clone());
            }
            job.status_message = Some(message);
        })
        .await
    }
}

impl Service {
    async fn create_restore_job(
        &self,
        caller: &Caller,
        point: RecoveryPoint,
        validating: bool,
        place: Option<String>,
        target: Option<coffer_drivers::RestoreTarget>,
        metadata: std::collections::BTreeMap<String, String>,
    ) -> Result<RestoreRun<'_>> {
        let vault = self.vault_of_point(&point).await?;
        self.authorize(
            caller,
            Action::StartRestoreJob,
            Target::Point {
                arn: &point.recovery_point_arn,
                vault: &vault,
            },
        )?;
        let job = coffer_engine::jobs::create_restore_job(
            &self.env_for(caller),
            &point,
            validating,
            place,
            metadata,
        )
        .await?;
        Ok(RestoreRun {
            service: self,
            job,
            point,
            target,
        })
    }

    /// Runs the tests restore testing plan `plan` asks for now, as if it
    /// fired (`coffer restore-testing start`): each recorded as a restore
    /// job of the caller, restored into its scratch target, validated, the
    /// target removed; the jobs as they ended.
    ///
    /// # Errors
    /// `AccessDenied`; `ResourceNotFound` for a plan not applied in the
    /// caller's account and region; catalog failures.
    pub async fn start_restore_test(
        &self,
        caller: &Caller,
        plan: &str,
    ) -> Result<Vec<coffer_model::RestoreJob>> {
        self.authorize(caller, Action::StartRestoreJob, Target::Account)?;
        Ok(coffer_engine::restore_testing::start_now(
            &self.env_for(caller),
            caller.account.as_str(),
            caller.region.as_str(),
            plan,
        )
        .await?)
    }

    /// Where validations restore to: the home's `tmp/`.
    fn scratch(&self) -> std::path::PathBuf {
        self.config().home().join("tmp")
    }

    /// The point's resource and its vault, opened (the cold tier's
    /// location for a point in cold storage). A database restored to a
    /// declared server needs nothing of its own server: when that server
    /// cannot be asked (another site, gone), the resource is the one the
    /// point names.
    async fn opened(
        &self,
        point: &RecoveryPoint,
        target: Option<&coffer_drivers::RestoreTarget>,
    ) -> Result<(coffer_model::Resource, coffer_drivers::Vault)> {
        let elsewhere = matches!(
            target,
            Some(coffer_drivers::RestoreTarget::Database {
                server: Some(_),
                ..
            })
        );
        let resource = match self.resource(&point.resource_arn).await {
            Ok(resource) => resource,
            Err(error) => match resource_of_point(point).filter(|_| elsewhere) {
                Some(resource) => {
                    tracing::info!(
                        resource = %point.resource_arn,
                        reason = %error,
                        "restoring to another server without asking the point's own"
                    );
                    resource
                }
                None => return Err(error),
            },
        };
        let vault = self.vault_of_point(point).await?;
        let opened = self.env().open_point(&vault, point).await?;
        Ok((resource, opened))
    }

    /// A declared server by `NAME`, or `ACCOUNT/REGION/NAME` when servers
    /// of that name are declared in several accounts or regions.
    ///
    /// # Errors
    /// `ResourceNotFound` naming the declared servers; `InvalidParameterValue`
    /// when the name is ambiguous.
    pub async fn declared_server(&self, name: &str) -> Result<Server> {
        use coffer_engine::env::ServerLookup;
        match self.env().declared_server(name).await? {
            ServerLookup::Found(server) => Ok(*server),
            ServerLookup::Missing(message) => Err(Error::not_found(message)),
            ServerLookup::Ambiguous(message) => Err(Error::invalid_parameter(message)),
        }
    }

    /// The driver's target for `target`: its server resolved and checked
    /// against the point's engine, the kind of place against the point's
    /// type.
    async fn resolve_target(
        &self,
        point: &RecoveryPoint,
        target: &RestoreTarget,
    ) -> Result<coffer_drivers::RestoreTarget> {
        use coffer_drivers::RestoreTarget as To;
        let resolved = match target {
            RestoreTarget::Directory { path, select } => To::Directory {
                path: path.clone(),
                select: select.clone(),
            },
            RestoreTarget::File { path } => To::File { path: path.clone() },
            RestoreTarget::Database {
                name,
                table,
                server,
            } => {
                let server = match server {
                    None => None,
                    Some(name) => {
                        let server = self.declared_server(name).await?;
                        if server.engine != point.resource_type {
                            return Err(Error::invalid_parameter(format!(
                                "server {} runs {}, and recovery point {} is of a {} database; choose a {} server",
                                server.name,
                                server.engine.as_str(),
                                point.recovery_point_id,
                                point.resource_type.as_str(),
                                point.resource_type.as_str()
                            )));
                        }
                        Some(Box::new(server))
                    }
                };
                To::Database {
                    name: name.clone(),
                    table: table.clone(),
                    server,
                }
            }
            RestoreTarget::Bucket(bucket) => To::Bucket(bucket.clone()),
        };
        if !resolved.fits(point.resource_type) {
            return Err(Error::invalid_parameter(format!(
                "a {} recovery point cannot be restored to {}; give {}",
                point.resource_type.as_str(),
                resolved.kind(),
                coffer_drivers::target_kind_of(point.resource_type)
            )));
        }
        Ok(resolved)
    }

    /// Records a restore job of a completed recovery point (PENDING), its
    /// target resolved (a named server looked up among the declared ones).
    ///
    /// # Errors
    /// `ResourceNotFound` (the point, or the server), `AccessDenied`,
    /// `InvalidRequest` for a point that is not completed,
    /// `InvalidParameterValue` for a target that does not fit the point
    /// (a server of another engine, a directory for a database).
    pub async fn start_restore_job(
        &self,
        caller: &Caller,
        recovery_point: &str,
        target: &RestoreTarget,
    ) -> Result<RestoreRun<'_>> {
        self.start_restore_job_noting(caller, recovery_point, target, &Default::default())
            .await
    }

    /// [`Service::start_restore_job`], the job also recording `not_applied`
    /// (metadata keys that cannot apply here) beside its target's keys.
    ///
    /// # Errors
    /// As [`Service::start_restore_job`].
    pub async fn start_restore_job_noting(
        &self,
        caller: &Caller,
        recovery_point: &str,
        target: &RestoreTarget,
        not_applied: &std::collections::BTreeMap<String, String>,
    ) -> Result<RestoreRun<'_>> {
        let point = self.recovery_point(recovery_point).await?.record;
        if point.status != RecoveryPointStatus::Completed {
            return Err(Error::invalid_request(format!(
                "recovery point {} is {:?}; only a completed recovery point can be restored",
                point.recovery_point_id, point.status
            )));
        }
        let mut metadata = target.metadata();
        metadata.extend(not_applied.iter().map(|(k, v)| (k.clone(), v.clone())));
        let target = self.resolve_target(&point, target).await?;
        self.create_restore_job(
            caller,
            point,
            false,
            Some(describe_target(&target)),
            Some(target),
            metadata,
        )
        .await
    }

    /// Carries out a restore job made by [`Service::start_restore_job`]:
    /// RUNNING, then COMPLETED with what it created (`CreatedResourceArn`),
    /// or FAILED with the reason. `observer` hears the bytes as they are
    /// restored.
    ///
    /// # Errors
    /// Catalog failures; `InvalidRequest` for a run that is a validation.
    pub async fn run_restore_job(
        &self,
        run: &mut RestoreRun<'_>,
        force: bool,
        observer: Option<std::sync::Arc<dyn coffer_vault::Observer>>,
    ) -> Result<RestoreEnd> {
        let Some(target) = run.target.clone() else {
            return Err(Error::invalid_request(format!(
                "job {} is a validation; run it as one",
                run.job.restore_job_id
            )));
        };
        let prepared = match self.opened(&run.point, Some(&target)).await {
            Ok((resource, opened)) => self
                .resolved_target(&resource, &target)
                .await
                .map(|target| (resource, opened, target)),
            Err(error) => Err(error),
        };
        let (resource, mut opened, target) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                return Ok(RestoreEnd::Failed {
                    message,
                    target_exists: false,
                });
            }
        };
        run.set(RestoreJobStatus::Running, |_| {}).await?;
        if let Some(observer) = observer {
            opened.storage = opened.storage.with_observer(observer);
        }
        match coffer_drivers::restore(&run.point, &resource, &opened, &target, force).await {
            Ok(outcome) => {
                let created = target.created_resource_arn(&resource);
                run.set(RestoreJobStatus::Completed, |job| {
                    job.percent_done = 100;
                    job.created_resource_arn = Some(created);
                })
                .await?;
                Ok(RestoreEnd::Completed(outcome))
            }
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                Ok(RestoreEnd::Failed {
                    message,
                    target_exists: error.is_target_exists(),
                })
            }
        }
    }

    /// Starts a restore job and carries it out in the background of this
    /// process, as the caller (what `coffer serve` does for
    /// StartRestoreJob): returns the job as recorded (PENDING); it goes
    /// RUNNING, then COMPLETED or FAILED, as [`Service::run_restore_job`]
    /// takes it. A process that stops meanwhile leaves it RUNNING, and the
    /// next start settles it FAILED naming its target.
    ///
    /// # Errors
    /// As [`Service::start_restore_job`]; `ServiceUnavailable` when no
    /// thread can be started for it (the job is then FAILED).
    pub async fn start_restore_job_in_background(
        &self,
        caller: &Caller,
        args: StartRestore,
    ) -> Result<RestoreJob> {
        let mut run = self
            .start_restore_job_noting(
                caller,
                &args.recovery_point,
                &args.target,
                &args.not_applied,
            )
            .await?;
        let (job, point, target) = (run.job.clone(), run.point.clone(), run.target.clone());
        let service = self.acting_as(caller);
        let handle = tokio::runtime::Handle::current();
        // Its own thread, driven by this runtime: the restore's future is
        // made and run there, so it need not be sendable between threads.
        let spawned = std::thread::Builder::new()
            .name(format!("restore {}", job.restore_job_id))
            .spawn({
                let job = job.clone();
                move || handle.block_on(restore_detached(service, job, point, target, args.force))
            });
        if let Err(error) = spawned {
            let message = format!("no thread could be started for the restore: {error}");
            run.fail(message.clone()).await?;
            return Err(Error::new(crate::ErrorKind::ServiceUnavailable, message));
        }
        Ok(job)
    }

    /// The target with what the driver needs resolved: a bucket on
    /// another S3 endpoint gets that endpoint's settings and credentials,
    /// from config.toml's `[s3_endpoints]` or, failing that, from the
    /// inventory's `s3_endpoints` of the resource's account and region.
    async fn resolved_target(
        &self,
        resource: &coffer_model::Resource,
        target: &coffer_drivers::RestoreTarget,
    ) -> Result<coffer_drivers::RestoreTarget> {
        let coffer_drivers::RestoreTarget::Bucket(bucket) = target else {
            return Ok(target.clone());
        };
        let Some(name) = &bucket.endpoint else {
            return Ok(target.clone());
        };
        if bucket.access.is_some() {
            return Ok(target.clone());
        }
        match self.env().s3_endpoint_access(resource, name).await? {
            Ok(None) => Ok(target.clone()),
            Ok(Some(access)) => {
                let mut resolved = bucket.clone();
                resolved.access = Some(access);
                Ok(coffer_drivers::RestoreTarget::Bucket(resolved))
            }
            Err(message) => Err(Error::invalid_parameter(message)),
        }
    }

    /// Records a validation job of a recovery point (PENDING, validating).
    ///
    /// # Errors
    /// `ResourceNotFound`, `AccessDenied`.
    pub async fn start_validation_job(
        &self,
        caller: &Caller,
        recovery_point: &str,
    ) -> Result<RestoreRun<'_>> {
        let point = self.recovery_point(recovery_point).await?.record;
        // Where it restores to, when the resource is known now (named by
        // the reason if the validation is interrupted).
        let place = match self.resource(&point.resource_arn).await {
            Ok(resource) => coffer_drivers::validation_scratch(&point, &resource, &self.scratch()),
            Err(_) => None,
        };
        self.create_restore_job(caller, point, true, place, None, Default::default())
            .await
    }

    /// Carries out a validation job: the point read back into a scratch
    /// target under the home's `tmp/` (dropped afterwards) and compared with
    /// what was recorded; COMPLETED with ValidationStatus SUCCESSFUL or
    /// FAILED, or FAILED when it could not compare.
    ///
    /// # Errors
    /// Catalog failures only.
    pub async fn run_validation_job(&self, run: &mut RestoreRun<'_>) -> Result<ValidationEnd> {
        let (resource, opened) = match self.opened(&run.point, None).await {
            Ok(found) => found,
            Err(error) => {
                let message = error.to_string();
                run.fail(message.clone()).await?;
                return Ok(ValidationEnd::Failed(message));
            }
        };
        run.set(RestoreJobStatus::Running, |_| {}).await?;
        let validation =
            match coffer_drivers::validate(&run.point, &resource, &opened, &self.scratch(), None)
                .await
            {
                Ok(validation) => validation,
                Err(error) => {
                    let message = error.to_string();
                    run.fail(message.clone()).await?;
                    return Ok(ValidationEnd::Failed(message));
                }
            };
        let passed = validation.passed();
        let message = if passed {
            validation.checked.join("; ")
        } else {
            validation.problems.join("; ")
        };
        run.set(RestoreJobStatus::Completed, |job| {
            job.percent_done = 100;
            job.validation_status = Some(if passed {
                ValidationStatus::Successful
            } else {
                ValidationStatus::Failed
            });
            job.validation_status_message = Some(message);
        })
        .await?;
        Ok(ValidationEnd::Checked(validation))
    }
}

/// Carries out a restore job started by
/// [`Service::start_restore_job_in_background`], logging how it ended.
async fn restore_detached(
    service: Service,
    job: RestoreJob,
    point: RecoveryPoint,
    target: Option<coffer_drivers::RestoreTarget>,
    force: bool,
) {
    let id = job.restore_job_id.clone();
    let mut run = RestoreRun {
        service: &service,
        job,
        point,
        target,
    };
    match service.run_restore_job(&mut run, force, None).await {
        Ok(RestoreEnd::Completed(outcome)) => {
            tracing::info!(restore_job_id = %id, created = %outcome.created, "restore completed");
        }
        Ok(RestoreEnd::Failed { message, .. }) => {
            tracing::warn!(restore_job_id = %id, reason = %message, "restore failed");
        }
        Err(error) => {
            tracing::error!(restore_job_id = %id, %error, "the restore's end could not be recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use coffer_drivers::s3::{BucketTarget, RestoreVersions};

    use super::*;

    fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn bucket(select: Option<&str>, versions: RestoreVersions) -> RestoreTarget {
        RestoreTarget::Bucket(BucketTarget {
            endpoint: None,
            access: None,
            bucket: "restored".into(),
            prefix: "again/".into(),
            select: select.map(str::to_string),
            versions,
        })
    }

    #[test]
    fn a_buckets_versions_are_asked_as_the_cli_asks_them() {
        let all = metadata(&[
            ("TargetBucket", "restored"),
            ("TargetPrefix", "again/"),
            ("AllVersions", "true"),
        ]);
        let (target, force) = RestoreTarget::from_metadata(&all).unwrap();
        assert_eq!(target, bucket(None, RestoreVersions::All));
        assert!(!force);
        // What the job records reads back as the same target.
        assert_eq!(target.metadata(), all);
        let one = metadata(&[
            ("TargetBucket", "restored"),
            ("TargetPrefix", "again/"),
            ("Key", "docs/a.txt"),
            ("VersionId", "v1"),
            ("Force", "true"),
        ]);
        let (target, force) = RestoreTarget::from_metadata(&one).unwrap();
        assert_eq!(
            target,
            bucket(Some("docs/a.txt"), RestoreVersions::One("v1".into()))
        );
        assert!(force);
        let current = metadata(&[("TargetBucket", "restored"), ("TargetPrefix", "again/")]);
        assert_eq!(
            RestoreTarget::from_metadata(&current).unwrap().0,
            bucket(None, RestoreVersions::Current)
        );
        for (bad, says) in [
            (
                vec![
                    ("TargetBucket", "b"),
                    ("AllVersions", "true"),
                    ("Key", "k"),
                    ("VersionId", "v"),
                ],
                "do not go together",
            ),
            (
                vec![("TargetBucket", "b"), ("VersionId", "v")],
                "goes with Key",
            ),
            (
                vec![("TargetBucket", "b"), ("AllVersions", "yes")],
                "not true or false",
            ),
            (
                vec![("TargetBucket", "b"), ("Table", "t")],
                "not go with TargetBucket",
            ),
            (
                vec![("TargetDirectory", "/r"), ("Key", "k")],
                "not go with TargetDirectory",
            ),
        ] {
            let error = RestoreTarget::from_metadata(&metadata(&bad)).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidParameterValue);
            assert!(error.to_string().contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn each_resource_types_target_reads_from_its_keys() {
        let dir = metadata(&[("TargetDirectory", "/srv/r"), ("Path", "docs")]);
        assert_eq!(
            RestoreTarget::from_metadata(&dir).unwrap().0,
            RestoreTarget::Directory {
                path: "/srv/r".into(),
                select: Some("docs".into())
            }
        );
        let db = metadata(&[
            ("TargetDatabase", "copy"),
            ("Table", "public.t"),
            ("TargetServer", "other"),
        ]);
        let (target, _) = RestoreTarget::from_metadata(&db).unwrap();
        assert_eq!(target.metadata(), db);
        let relative = metadata(&[("TargetFile", "db.sqlite")]);
        assert!(RestoreTarget::from_metadata(&relative)
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let unknown = metadata(&[("TargetDirectory", "/r"), ("Color", "blue")]);
        assert!(RestoreTarget::from_metadata(&unknown)
            .unwrap_err()
            .to_string()
            .contains("\"Color\""));
        assert!(RestoreTarget::from_metadata(&BTreeMap::new()).is_err());
    }

    #[test]
    fn aws_keys_that_cannot_apply_are_kept_apart_and_an_instance_names_the_database() {
        let asked = metadata(&[
            ("DBInstanceIdentifier", "orders-copy"),
            ("DBInstanceClass", "db.t3.micro"),
            ("VpcSecurityGroupIds", "sg-1"),
            ("TargetServer", "standby"),
        ]);
        let (applied, not_applied) = RestoreTarget::split_metadata(&asked);
        assert_eq!(
            applied,
            metadata(&[
                ("TargetDatabase", "orders-copy"),
                ("TargetServer", "standby")
            ])
        );
        assert_eq!(
            not_applied,
            metadata(&[
                ("NotApplied.DBInstanceClass", "db.t3.micro"),
                ("NotApplied.VpcSecurityGroupIds", "sg-1"),
            ])
        );
        let (target, _) = RestoreTarget::from_metadata(&applied).unwrap();
        assert_eq!(
            target,
            RestoreTarget::Database {
                name: "orders-copy".into(),
                table: None,
                server: Some("standby".into())
            }
        );
        // TargetDatabase wins; the instance is then recorded, not applied.
        let both = metadata(&[("TargetDatabase", "a"), ("DBInstanceIdentifier", "b")]);
        let (applied, not_applied) = RestoreTarget::split_metadata(&both);
        assert_eq!(applied, metadata(&[("TargetDatabase", "a")]));
        assert_eq!(
            not_applied,
            metadata(&[("NotApplied.DBInstanceIdentifier", "b")])
        );
        // A key of no AWS meaning stays, for from_metadata to refuse by name.
        let (applied, not_applied) =
            RestoreTarget::split_metadata(&metadata(&[("TargetDirectry", "/r")]));
        assert!(not_applied.is_empty());
        assert!(RestoreTarget::from_metadata(&applied)
            .unwrap_err()
            .to_string()
            .contains("\"TargetDirectry\""));
    }
}
