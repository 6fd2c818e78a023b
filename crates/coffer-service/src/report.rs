//! Report plans run now (StartReportJob): a plan's files delivered with a
//! signed manifest to the bucket's folder or to an S3 bucket (with Object
//! Lock retention); report jobs; the daily run of every plan; and the
//! offline check of a delivery.

use std::path::Path;

use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupJob, BackupVault, CopyJob, Framework, LockMode, RecoveryPoint, ReportJob,
    ReportJobStatus, ReportPeriod, ReportPlan, RestoreJob,
};
use coffer_policy::{BucketLocation, Config};
use coffer_report::bundle::{self, Trust};
use coffer_report::s3::{self, Delivery as _, LockConfiguration, S3Client};
use coffer_report::templates::{self, Sources};

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::Service;

/// A delivered report.
#[derive(Debug)]
pub struct Delivered {
    pub job_id: String,
    pub template: String,
    pub rows: usize,
    /// The delivery folder, or `s3://bucket/prefix/.../<job-id>/`.
    pub destination: String,
    pub manifest: bundle::Manifest,
    pub manifest_sha256: String,
    /// The delivered objects' keys in the report bucket (under its folder
    /// for a folder bucket).
    pub keys: Vec<String>,
}

/// Where a report goes.
enum Destination {
    Folder(std::path::PathBuf),
    S3 {
        client: Box<S3Client>,
        /// The retention `object_lock` asks for: mode and days.
        configured: Option<(LockMode, u32)>,
        /// The bucket's Object Lock configuration, when it has one.
        bucket_lock: Option<LockConfiguration>,
    },
}

/// The report bucket `name` (a plan's `S3BucketName`): its folder, or a
/// client for its S3 bucket with the bucket's Object Lock configuration,
/// checked against what `[report_buckets.NAME]` asks.
async fn destination(config: &Config, name: &str) -> Result<Destination> {
    let (endpoint_name, bucket, object_lock) = match config.report_bucket(name) {
        BucketLocation::Folder(path) => return Ok(Destination::Folder(path)),
        BucketLocation::S3 {
            endpoint,
            bucket,
            object_lock,
        } => (endpoint, bucket, object_lock),
    };
    let Some(endpoint) = config.s3_endpoint(&endpoint_name) else {
        return Err(Error::invalid_parameter(format!("[report_buckets.{name}] names S3 endpoint {endpoint_name:?}, which config.toml does not declare; add [s3_endpoints.{endpoint_name}]")));
    };
    let access = coffer_engine::env::s3_access(&endpoint_name, endpoint)?;
    let client = S3Client::new(&access, &bucket)?;
    let configured = object_lock.map(|lock| (lock.mode, lock.days));
    let bucket_lock = match client.object_lock().await {
        Ok(lock) => lock,
        // Credentials or a server that do not give the configuration out:
        // without object_lock configured the delivery goes on (only a
        // bucket default retention cannot be recorded in the manifest).
        Err(error)
            if matches!(
                error.code.as_deref(),
                Some("AccessDenied" | "NotImplemented" | "MethodNotAllowed")
            ) =>
        {
            if configured.is_some() {
                return Err(Error::dependency(format!(
                    "[report_buckets.{name}] object_lock needs the Object Lock configuration of bucket {bucket:?} on endpoint {endpoint_name:?}, which could not be read: {error}; grant s3:GetBucketObjectLockConfiguration to these credentials, or remove object_lock"
                )));
            }
            tracing::warn!(bucket = %bucket, error = %error, "cannot read the bucket's Object Lock configuration; delivering without recording a retention");
            None
        }
        Err(error) => {
            let hint = if error.code.as_deref() == Some("NoSuchBucket") {
                format!("create the bucket (with Object Lock enabled, for retained reports), or give its real name with bucket = \"...\" in [report_buckets.{name}]")
            } else {
                format!("check url and credentials of [s3_endpoints.{endpoint_name}]")
            };
            return Err(Error::dependency(format!(
                "report bucket {name:?} (bucket {bucket:?} on endpoint {endpoint_name:?}) cannot be used: {error}; {hint}"
            )));
        }
    };
    if let Some((mode, days)) = configured {
        if !bucket_lock.as_ref().is_some_and(|lock| lock.enabled) {
            return Err(Error::invalid_request(format!(
                "bucket {bucket:?} on endpoint {endpoint_name:?} does not have Object Lock enabled, but [report_buckets.{name}] object_lock asks for {} retention of {days} day(s): create the bucket with Object Lock enabled (it is chosen when a bucket is created, e.g. aws s3api create-bucket --bucket {bucket} --object-lock-enabled-for-bucket) and point [report_buckets.{name}] bucket at it, or remove object_lock from [report_buckets.{name}]",
                mode.as_str()
            )));
        }
    }
    Ok(Destination::S3 {
        client: Box::new(client),
        configured,
        bucket_lock,
    })
}

impl Service {
    /// Runs report plan `plan_name` of the caller's account and region now
    /// over the last `window_hours`, and delivers it; the run is a report
    /// job, COMPLETED with its destination and manifest digest, or FAILED
    /// with the reason (and the error returned).
    ///
    /// # Errors
    /// `ResourceNotFound` for an unknown plan; the bucket's, catalog's or
    /// files' failures.
    pub async fn start_report_job(
        &self,
        caller: &Caller,
        plan_name: &str,
        window_hours: u32,
    ) -> Result<Delivered> {
        self.run_report_plan(caller, plan_name, window_hours)
            .await?
            .1
    }

    /// Runs report plan `plan_name` as [`Service::start_report_job`] does
    /// and returns the report job as it ended (COMPLETED with its
    /// destination and the delivered keys, or FAILED with the reason)
    /// beside the delivery or its error (StartReportJob, which answers
    /// with the job either way).
    ///
    /// # Errors
    /// `ResourceNotFound` for an unknown plan; `AccessDenied`; catalog
    /// failures recording the job.
    pub async fn run_report_plan(
        &self,
        caller: &Caller,
        plan_name: &str,
        window_hours: u32,
    ) -> Result<(ReportJob, Result<Delivered>)> {
        let plan = self.report_plan_named(caller, plan_name).await?;
        let period = last_hours(self.now(), window_hours);
        self.run_report_plan_over(caller, &plan, period, None).await
    }

    /// Starts report plan `plan_name` as [`Service::run_report_plan`]
    /// does, but returns the report job at once, RUNNING, while the report
    /// is made and delivered on a blocking-pool thread of its own (StartReportJob:
    /// DescribeReportJob then shows it RUNNING, and COMPLETED with the
    /// delivered keys or FAILED with the reason when it ends). A job whose
    /// process stops first is settled FAILED at the next start.
    ///
    /// # Errors
    /// `ResourceNotFound` for an unknown plan; `AccessDenied`; catalog
    /// failures recording the job.
    pub async fn start_report_job_detached(
        &self,
        caller: &Caller,
        plan_name: &str,
        window_hours: u32,
    ) -> Result<ReportJob> {
        let plan = self.report_plan_named(caller, plan_name).await?;
        let period = last_hours(self.now(), window_hours);
        let job = self.create_report_job_of(caller, &plan, None).await?;
        let service = self.clone();
        let caller = caller.clone();
        let id = job.report_job_id.clone();
        // Making a report renders and signs files synchronously: it runs on
        // a thread of the blocking pool, so the runtime's workers go on
        // answering requests however long it takes.
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                match service
                    .finish_report_job(&caller, &plan, id.clone(), period)
                    .await
                {
                    Ok((_, Ok(_))) => tracing::info!(job = %id, "report job completed"),
                    Ok((_, Err(error))) => tracing::warn!(job = %id, %error, "report job failed"),
                    Err(error) => {
                        tracing::error!(job = %id, %error, "report job's end could not be recorded");
                    }
                }
            });
        });
        Ok(job)
    }

    /// The report plan `plan_name` of the caller's account and region.
    async fn report_plan_named(&self, caller: &Caller, plan_name: &str) -> Result<ReportPlan> {
        self.authorize(caller, Action::StartReportJob, Target::Account)?;
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let catalog = &self.catalog_for(caller);
        let Some(plan) = catalog
            .object::<ReportPlan>(ObjectKind::ReportPlan, account, region, plan_name)
            .await?
        else {
            let known = catalog
                .names_in(ObjectKind::ReportPlan, account, region)
                .await?;
            return Err(Error::not_found(format!(
                "report plan {plan_name:?} does not exist in account {account}, region {region} (report plans: {}); declare an AWS::Backup::ReportPlan and apply it, or create one with CreateReportPlan",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        };
        Ok(plan)
    }

    /// Runs `plan` over `period` as a report job (with `job_id` when given:
    /// a scheduled run's, derived from its fire time), as
    /// [`Service::run_report_plan`] does.
    async fn run_report_plan_over(
        &self,
        caller: &Caller,
        plan: &ReportPlan,
        period: ReportPeriod,
        job_id: Option<String>,
    ) -> Result<(ReportJob, Result<Delivered>)> {
        let job = self.create_report_job_of(caller, plan, job_id).await?;
        self.finish_report_job(caller, plan, job.report_job_id, period)
            .await
    }

    /// A new RUNNING report job of `plan` (with `job_id` when given).
    async fn create_report_job_of(
        &self,
        caller: &Caller,
        plan: &ReportPlan,
        job_id: Option<String>,
    ) -> Result<ReportJob> {
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let env = &self.env_for(caller);
        Ok(match job_id {
            Some(id) => {
                coffer_engine::jobs::create_report_job_with_id(env, plan, account, region, id)
                    .await?
            }
            None => coffer_engine::jobs::create_report_job(env, plan, account, region).await?,
        })
    }

    /// Makes and delivers report job `id` of `plan` over `period`, and
    /// records how it ended.
    async fn finish_report_job(
        &self,
        caller: &Caller,
        plan: &ReportPlan,
        id: String,
        period: ReportPeriod,
    ) -> Result<(ReportJob, Result<Delivered>)> {
        let env = &self.env_for(caller);
        let produced = self.produce(caller, plan, id.clone(), period).await;
        let ended = match &produced {
            Ok(delivered) => {
                coffer_engine::jobs::set_report_state(env, &id, ReportJobStatus::Completed, |j| {
                    j.report_destination = Some(delivered.destination.clone());
                    j.manifest_sha256 = Some(delivered.manifest_sha256.clone());
                    j.s3_bucket_name = Some(plan.report_delivery_channel.s3_bucket_name.clone());
                    j.s3_keys = delivered.keys.clone();
                })
                .await?
            }
            Err(error) => {
                coffer_engine::jobs::set_report_state(env, &id, ReportJobStatus::Failed, |j| {
                    j.status_message = Some(error.to_string());
                })
                .await?
            }
        };
        Ok((ended, produced))
    }

    /// The rows a report shows (its jobs, the points they name, the
    /// current control results) that disagree with the ledger: one index
    /// seek per row, on the report's rows alone.
    async fn disagreements_in_report(
        &self,
        backups: &[BackupJob],
        copies: &[CopyJob],
        restores: &[RestoreJob],
        points: &[RecoveryPoint],
        results: &[coffer_model::ControlResult],
    ) -> Result<Vec<coffer_catalog::Disagreement>> {
        let catalog = self.catalog();
        let ids = |ids: Vec<&String>| ids.into_iter().cloned().collect::<Vec<String>>();
        let mut found = catalog
            .record_disagreements::<BackupJob>(&ids(backups
                .iter()
                .map(|j| &j.backup_job_id)
                .collect()))
            .await?;
        found.extend(
            catalog
                .record_disagreements::<CopyJob>(&ids(copies
                    .iter()
                    .map(|j| &j.copy_job_id)
                    .collect()))
                .await?,
        );
        found.extend(
            catalog
                .record_disagreements::<RestoreJob>(&ids(restores
                    .iter()
                    .map(|j| &j.restore_job_id)
                    .collect()))
                .await?,
        );
        found.extend(
            catalog
                .record_disagreements::<RecoveryPoint>(&ids(points
                    .iter()
                    .map(|p| &p.recovery_point_id)
                    .collect()))
                .await?,
        );
        if !results.is_empty() {
            found.extend(
                catalog
                    .record_disagreements::<coffer_model::ControlResult>(&ids(results
                        .iter()
                        .map(|r| &r.result_id)
                        .collect()))
                    .await?,
            );
            found.extend(catalog.current_result_disagreements().await?);
        }
        Ok(found)
    }

    /// `setting` with the accounts a report plan of `caller`'s account
    /// covers. With an organization applied, only the management account
    /// and the backup delegated administrator report on other accounts:
    /// `Accounts` and `OrganizationUnits` (`*` or `ROOT` for all, units by
    /// ID or name) become the member accounts they name, and neither
    /// given is the plan's own account; any other account's plan covers
    /// its own account alone, whatever it names. Without an organization
    /// the setting stands as written.
    ///
    /// # Errors
    /// `InvalidParameterValue` when the setting names no account of the
    /// organization; catalog errors.
    async fn report_setting_in_scope(
        &self,
        caller: &Caller,
        setting: &coffer_model::ReportSetting,
    ) -> Result<coffer_model::ReportSetting> {
        let mut scoped = setting.clone();
        let Some(applied) = self.applied_organization(caller).await? else {
            return Ok(scoped);
        };
        let org = applied.organization;
        let own = caller.account.to_string();
        let names_others = !(setting.accounts.is_empty() && setting.organization_units.is_empty());
        let accounts: Vec<String> = if org.administers(&own) && names_others {
            org.accounts_named(&setting.accounts, &setting.organization_units)
                .iter()
                .map(ToString::to_string)
                .collect()
        } else {
            if names_others && setting.accounts.iter().any(|a| *a != own) {
                tracing::warn!(account = %own, named = ?setting.accounts, units = ?setting.organization_units, "a report plan of a member account covers its own account only");
            }
            vec![own]
        };
        if accounts.is_empty() {
            return Err(Error::invalid_parameter(format!(
                "the report setting names no account of the organization (Accounts {:?}, OrganizationUnits {:?}); name member account IDs, unit IDs or names, or ROOT for every account",
                setting.accounts, setting.organization_units
            )));
        }
        scoped.accounts = accounts;
        scoped.organization_units.clear();
        Ok(scoped)
    }

    /// Builds the report's files and delivers them with a signed manifest.
    async fn produce(
        &self,
        caller: &Caller,
        plan: &ReportPlan,
        job_id: String,
        period: ReportPeriod,
    ) -> Result<Delivered> {
        let catalog = &self.catalog_for(caller);
        let (account, region) = (caller.account.as_str(), caller.region.as_str());
        let channel = &plan.report_delivery_channel;
        // The bucket is checked first: a misconfigured one fails before any work.
        let target = destination(self.config(), &channel.s3_bucket_name).await?;
        // The accounts the plan's own account may report on.
        let scoped = self
            .report_setting_in_scope(caller, &plan.report_setting)
            .await?;
        let setting = &scoped;
        // Compliance reports show a fresh evaluation, of every account they cover.
        if setting.is_compliance_template() {
            let across = (setting.accounts.len() > 1).then_some("*");
            self.evaluate_frameworks_in(caller, None, across).await?;
        }
        // Each template reads only its own records: the jobs that ended in
        // the window or are active, the points they name, the current results.
        let ReportPeriod {
            start,
            end,
            first_day,
        } = period;
        // When it is made: the files' names, the checkpoint, the retention.
        let now = self.now();
        let template = setting.report_template.as_str();
        let mut backups: Vec<BackupJob> = Vec::new();
        let mut copies: Vec<CopyJob> = Vec::new();
        let mut restores: Vec<RestoreJob> = Vec::new();
        let mut subjects: Vec<String> = Vec::new();
        let mut named_points: Vec<String> = Vec::new();
        let mut expected = Vec::new();
        match template {
            "BACKUP_JOB_REPORT" => {
                backups = catalog.jobs_for_report(start, end).await?;
                subjects.extend(backups.iter().map(|j| j.backup_job_id.clone()));
                named_points.extend(backups.iter().filter_map(|j| j.recovery_point_arn.clone()));
            }
            "COPY_JOB_REPORT" => {
                copies = catalog.jobs_for_report(start, end).await?;
                subjects.extend(copies.iter().map(|j| j.copy_job_id.clone()));
                named_points.extend(
                    copies
                        .iter()
                        .filter_map(|j| j.destination_recovery_point_arn.clone()),
                );
            }
            "RESTORE_JOB_REPORT" => {
                restores = catalog.jobs_for_report(start, end).await?;
                subjects.extend(restores.iter().map(|j| j.restore_job_id.clone()));
                named_points.extend(restores.iter().map(|j| j.recovery_point_arn.clone()));
            }
            coffer_report::expected::TEMPLATE => {
                let (resources, since) = self.env_for(caller).discover_dated().await?;
                expected =
                    crate::expected::expected_backups(catalog, &resources, &since, start, end)
                        .await?;
                // Each fire time's job, by the ID the scheduler gives it.
                let ids: Vec<String> = expected.iter().map(|e| e.job_id.clone()).collect();
                backups = catalog.records_by_id(&ids).await?;
                subjects.extend(backups.iter().map(|j| j.backup_job_id.clone()));
                named_points.extend(backups.iter().filter_map(|j| j.recovery_point_arn.clone()));
            }
            _ => {}
        }
        let points: Vec<RecoveryPoint> = catalog.recovery_points_by_arn(&named_points).await?;
        let (results, evaluations) = if setting.is_compliance_template() {
            (
                catalog.current_control_results(None, false).await?,
                catalog.latest_evaluations().await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        subjects.extend(results.iter().map(|r| r.result_id.clone()));
        let ledger = catalog.ledger_last_seqs(&subjects).await?;
        // Nothing is signed that the ledger contradicts: each row the report
        // shows is checked against its newest entry first.
        // A duration, not a time of day: the clock's `now` is not involved.
        let checking = std::time::Instant::now();
        let disagreements = self
            .disagreements_in_report(&backups, &copies, &restores, &points, &results)
            .await?;
        tracing::info!(
            rows = backups.len() + copies.len() + restores.len() + points.len() + results.len(),
            disagreements = disagreements.len(),
            elapsed_ms = u64::try_from(checking.elapsed().as_millis()).unwrap_or(u64::MAX),
            "report rows checked against the ledger"
        );
        if !disagreements.is_empty() {
            // The first few are named; `evidence verify` names them all.
            const NAMED: usize = 20;
            let named: Vec<String> = disagreements
                .iter()
                .take(NAMED)
                .map(ToString::to_string)
                .collect();
            let more = disagreements.len().saturating_sub(NAMED);
            let more = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            return Err(Error::conflict(format!(
                "the report was not signed: {} row(s) it shows disagree with the evidence ledger (changed outside Coffer): {}{more}; put them back as the ledger recorded them (`coffer evidence verify` lists every such row)",
                disagreements.len(),
                named.join("; ")
            )));
        }
        let vaults: Vec<BackupVault> = self
            .env_for(caller)
            .objects(ObjectKind::BackupVault)
            .await?;
        let frameworks: Vec<(String, Framework)> = catalog
            .stored_in(ObjectKind::Framework, account, region)
            .await?
            .into_iter()
            .map(|o| Ok((o.arn.clone(), serde_json::from_value(o.doc)?)))
            .collect::<Result<_>>()?;

        let table = templates::build(
            setting,
            &Sources {
                backups: &backups,
                copies: &copies,
                restores: &restores,
                points: &points,
                vaults: &vaults,
                frameworks: &frameworks,
                results: &results,
                evaluations: &evaluations,
                ledger: &ledger,
                expected: &expected,
            },
            start,
            end,
        )?;
        let base = format!(
            "{}_{}",
            plan.report_plan_name,
            now.strftime("%Y%m%dT%H%M%SZ")
        );
        let mut files = Vec::new();
        let wants = |f: &str| channel.formats.iter().any(|x| x == f);
        if wants("CSV") {
            files.push((format!("{base}.csv"), templates::to_csv(&table)?));
        }
        if wants("JSON") {
            files.push((format!("{base}.json"), templates::to_json(&table)));
        }
        if files.is_empty() {
            // A PDF summarises the data files: CSV (AWS's default) comes along.
            files.push((format!("{base}.csv"), templates::to_csv(&table)?));
        }
        let key = KeyPair::load_or_create(self.config().signing_key_path())?;
        let checkpoint = self.checkpoint_with(catalog, &key, now).await?;
        if wants("PDF") {
            let digests: Vec<(String, String)> = files
                .iter()
                .map(|(name, bytes)| (name.clone(), coffer_catalog::ledger::sha256_hex(bytes)))
                .collect();
            let pdf = coffer_report::pdf::render(&coffer_report::pdf::Input {
                report_plan: &plan.report_plan_name,
                template: &setting.report_template,
                table: &table,
                window_start: start,
                window_end: end,
                generated_at: now,
                digests: &digests,
                checkpoint: Some(&checkpoint),
                key_fingerprint: &key.fingerprint(),
            })?;
            files.push((format!("{base}.pdf"), pdf));
        }
        let object_lock = match &target {
            Destination::Folder(_) => None,
            Destination::S3 {
                configured,
                bucket_lock,
                client,
            } => s3::retention(*configured, bucket_lock.as_ref(), now).map_err(|_| {
                Error::invalid_request(format!(
                    "bucket {:?} does not have Object Lock enabled; remove object_lock from [report_buckets.{}]",
                    client.bucket(),
                    channel.s3_bucket_name
                ))
            })?,
        };
        let sealed = bundle::seal(
            bundle::Contents {
                report_plan: plan.report_plan_name.clone(),
                report_template: setting.report_template.clone(),
                report_job_id: job_id.clone(),
                window_start: start,
                window_end: end,
                generated_at: now,
                files,
                ledger_checkpoint: Some(checkpoint),
                object_lock,
            },
            &key,
        )?;
        let prefix = channel.s3_key_prefix.as_deref();
        let folder = bundle::delivery_key(prefix, template, first_day, &job_id);
        let keys: Vec<String> = sealed
            .objects
            .iter()
            .map(|(name, _)| format!("{folder}{name}"))
            .collect();
        let destination = match &target {
            Destination::Folder(root) => {
                let dir = bundle::delivery_dir(root, prefix, template, first_day, &job_id);
                // Recorded before a file is written, so a delivery its
                // process leaves half done is named by the job's reason.
                self.record_destination(&job_id, dir.display().to_string())
                    .await?;
                sealed.write(&dir)?;
                dir.display().to_string()
            }
            Destination::S3 { client, .. } => {
                let key = bundle::delivery_key(prefix, template, first_day, &job_id);
                self.record_destination(&job_id, format!("s3://{}/{key}", client.bucket()))
                    .await?;
                client.put_sealed(&key, &sealed).await.map_err(|error| {
                    Error::dependency(format!(
                        "delivering to s3://{}/{key} (report bucket {:?}) failed: {error}; objects put before the failure stay (under retention when locked) and the delivery has no manifest.json: check the endpoint's url and credentials in config.toml and that they may s3:PutObject (and s3:PutObjectRetention for Object Lock), then run the report again",
                        client.bucket(),
                        channel.s3_bucket_name
                    ))
                })?;
                format!("s3://{}/{key}", client.bucket())
            }
        };
        Ok(Delivered {
            job_id,
            template: setting.report_template.clone(),
            rows: table.rows.len(),
            destination,
            manifest: sealed.manifest,
            manifest_sha256: sealed.manifest_sha256,
            keys,
        })
    }

    /// Records where a running report job writes, before it writes.
    async fn record_destination(&self, job_id: &str, destination: String) -> Result<()> {
        coffer_engine::jobs::set_report_state(self.env(), job_id, ReportJobStatus::Running, |j| {
            j.report_destination = Some(destination);
        })
        .await?;
        Ok(())
    }

    /// The report jobs of the caller's account and region (of one plan).
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn list_report_jobs(
        &self,
        caller: &Caller,
        plan: Option<&str>,
    ) -> Result<Vec<ReportJob>> {
        self.authorize(caller, Action::ListReportJobs, Target::Account)?;
        self.records(|j: &ReportJob| {
            j.account_id == caller.account.as_str()
                && j.region == caller.region.as_str()
                && plan.is_none_or(|p| j.report_plan_name == p)
        })
        .await
    }

    /// Runs each report plan (of every account and region) that is due,
    /// each as `principal` in the plan's account and region; returns the
    /// deliveries made:
    /// - a plan with a `ReportSchedule` runs at each of its fire times,
    ///   once (a restart runs those it missed, each over its own period),
    ///   over the whole period the schedule implies;
    /// - a plan without one that has not delivered today (UTC) runs once it
    ///   is 01:00 UTC, over the last 24 hours, as AWS delivers its daily
    ///   reports between 01:00 and 05:00 UTC.
    ///
    /// # Errors
    /// When the catalog fails; a plan that fails is a FAILED report job.
    pub async fn run_due_reports(&self, principal: &str) -> Result<usize> {
        let now = self.now();
        let today = jiff::tz::TimeZone::UTC.to_datetime(now);
        let mut delivered = 0;
        let objects = self.catalog().list_objects(ObjectKind::ReportPlan).await?;
        let mut daily = Vec::new();
        for object in objects {
            let scheduled = serde_json::from_value::<ReportPlan>(object.doc.clone())
                .ok()
                .filter(|plan| plan.report_schedule.is_some());
            match scheduled {
                Some(plan) => {
                    delivered += self
                        .run_scheduled_report(principal, &object, &plan, now)
                        .await?;
                }
                None => daily.push(object),
            }
        }
        if today.hour() < 1 || daily.is_empty() {
            return Ok(delivered);
        }
        let done: Vec<ReportJob> = self
            .records(|j: &ReportJob| {
                j.status == ReportJobStatus::Completed
                    && jiff::tz::TimeZone::UTC.to_datetime(j.creation_time).date() == today.date()
            })
            .await?;
        for object in daily {
            let ran = done.iter().any(|j| {
                j.report_plan_name == object.name
                    && j.account_id == object.account_id
                    && j.region == object.region
            });
            if ran {
                continue;
            }
            let (Ok(account), Ok(region)) = (
                coffer_model::AccountId::new(&object.account_id),
                coffer_model::Region::new(&object.region),
            ) else {
                continue;
            };
            let caller = Caller::new(principal, account, region);
            match self.start_report_job(&caller, &object.name, 24).await {
                Ok(done) => {
                    tracing::info!(plan = %object.name, destination = %done.destination, "report delivered");
                    delivered += 1;
                }
                Err(error) => {
                    tracing::error!(plan = %object.name, %error, "report failed")
                }
            }
        }
        Ok(delivered)
    }
}

impl Service {
    /// Runs the fire times of scheduled report plan `plan` (stored as
    /// `object`) up to `now` that have not run: from its mark (or, never
    /// run, from when it was last written), each fire time once, as a report job whose ID is derived
    /// from the plan and the fire time (a second process or a restart
    /// before the mark moved makes no second one), over the period the
    /// fire time implies. The mark moves past each fire time run, whether
    /// the report was delivered or its job FAILED with the reason.
    async fn run_scheduled_report(
        &self,
        principal: &str,
        object: &coffer_catalog::StoredObject,
        plan: &ReportPlan,
        now: jiff::Timestamp,
    ) -> Result<usize> {
        let Some(when) = &plan.report_schedule else {
            return Ok(0);
        };
        let (account, region, name) = (&object.account_id, &object.region, &object.name);
        let schedule = match when.schedule(object.created_at) {
            Ok(schedule) => schedule,
            Err(error) => {
                tracing::error!(plan = %name, %error, "the report plan's schedule cannot be evaluated");
                return Ok(0);
            }
        };
        let (Ok(account_id), Ok(region_id)) = (
            coffer_model::AccountId::new(account),
            coffer_model::Region::new(region),
        ) else {
            return Ok(0);
        };
        let catalog = self.catalog();
        let from = catalog
            .reported_through(account, region, name)
            .await?
            // Never run: from when its schedule was last written (its
            // creation or last change), not from fire times before it.
            .unwrap_or(object.updated_at);
        let caller = Caller::new(principal, account_id, region_id);
        let mut delivered = 0;
        for fire_at in schedule.fire_times_between(from, now) {
            let period = when.period(&schedule, fire_at);
            let id = coffer_engine::scheduling::derived_id(&[
                "report",
                account,
                region,
                name,
                &fire_at.to_string(),
            ]);
            let ran = catalog.get::<ReportJob>(&id).await?.is_some();
            if !ran {
                match self
                    .run_report_plan_over(&caller, plan, period, Some(id))
                    .await?
                {
                    (_, Ok(done)) => {
                        tracing::info!(plan = %name, %fire_at, from = %period.start, to = %period.end, destination = %done.destination, "scheduled report delivered");
                        delivered += 1;
                    }
                    (_, Err(error)) => {
                        tracing::error!(plan = %name, %fire_at, %error, "scheduled report failed")
                    }
                }
            }
            catalog
                .set_reported_through(account, region, name, fire_at)
                .await?;
        }
        Ok(delivered)
    }
}

/// Where a delivery to verify is.
#[derive(Clone, Copy, Debug)]
pub enum DeliveryAt<'a> {
    /// A delivery folder, or a file in it.
    Folder(&'a Path),
    /// `s3://bucket/prefix/` of a delivery (or a file in it), read through
    /// the `[s3_endpoints]` entry `endpoint` names, else the one serving
    /// the bucket.
    S3 {
        url: &'a str,
        endpoint: Option<&'a str>,
    },
}

/// A delivery checked.
#[derive(Debug)]
pub struct DeliveryCheck {
    pub found: bundle::Verification,
    /// What the ledger comparison found, in words.
    pub ledger_note: String,
}

/// The public key an auditor was given, as hex.
///
/// # Errors
/// `InvalidParameterValue` for text that is not a public key.
pub fn public_key(hex: &str) -> Result<PublicKey> {
    PublicKey::from_hex(hex).map_err(|e| Error::invalid_parameter(e.to_string()))
}

/// Verifies a delivered report: its signature against `trust`, every
/// file's digest, and, when this machine's Coffer home (`home`) is the
/// deployment that signed it, that the delivered checkpoint still agrees
/// with its ledger (a ledger cut back is caught).
///
/// # Errors
/// A delivery that cannot be found or read (problems found in it are in
/// [`DeliveryCheck::found`], not errors).
pub async fn verify_delivery(
    at: DeliveryAt<'_>,
    trust: &Trust,
    home: Option<&Service>,
) -> Result<DeliveryCheck> {
    let mut found = match at {
        DeliveryAt::S3 { url, endpoint } => {
            let Some(home) = home else {
                return Err(Error::invalid_request(format!(
                    "reading {url} needs a Coffer home whose config.toml declares the S3 endpoint serving the bucket ([s3_endpoints.NAME] with its url and credentials by reference); or download the delivery (aws s3 cp --recursive {url} DIR) and verify the folder"
                )));
            };
            bundle::verify_objects(&fetch_delivery(home.config(), url, endpoint).await?, trust)
        }
        DeliveryAt::Folder(path) => {
            let dir = if path.is_file() {
                path.parent().unwrap_or(path)
            } else {
                path
            };
            if !dir.join(bundle::MANIFEST).is_file() {
                return Err(Error::not_found(format!(
                    "{} holds no {}: give the delivery folder of a report",
                    dir.display(),
                    bundle::MANIFEST
                )));
            }
            bundle::verify(dir, trust)
        }
    };
    let mut ledger_note = "the ledger was not at hand (no Coffer home here)".to_string();
    let checkpoint = found
        .manifest
        .as_ref()
        .and_then(|m| m.ledger_checkpoint.clone());
    if let (Some(checkpoint), Some(home)) = (checkpoint, home) {
        // Only the deployment that signed the checkpoint has its ledger.
        let home_key = KeyPair::load(home.config().signing_key_path())
            .map(|k| k.fingerprint())
            .ok();
        if home_key.as_deref() != Some(checkpoint.key_fingerprint.as_str()) {
            ledger_note = format!(
                "this machine's Coffer home is another deployment's (its key is {}), so its ledger was not compared",
                home_key.as_deref().unwrap_or("not created")
            );
        } else {
            let catalog = home.catalog();
            let size = catalog.ledger_len().await?;
            let mut scan =
                coffer_audit::ledger::Scan::new(std::slice::from_ref(&checkpoint), None, None);
            coffer_audit::ledger::feed_from(&mut scan, catalog, size).await?;
            let check = scan.finish().0;
            if check.passed() {
                ledger_note = format!(
                    "the delivered checkpoint ({} entries) agrees with this home's ledger ({size} entries)",
                    checkpoint.tree_size
                );
            } else {
                match within_declared_cut(home, &checkpoint).await? {
                    Ok(note) => ledger_note = note,
                    Err(gap) => {
                        for problem in check.problems.into_iter().chain(gap) {
                            found.problems.push(format!("ledger: {problem}"));
                        }
                    }
                }
            }
        }
    }
    Ok(DeliveryCheck { found, ledger_note })
}

/// When a delivered `checkpoint` the ledger no longer gives was signed by
/// the home's key and commits to entries a checked, signed cut declares
/// lost, what to say of it; otherwise `Err`, with the undeclared gap when
/// the ledger is behind the checkpoint kept in the home (any other
/// disagreement stays a failure).
async fn within_declared_cut(
    home: &Service,
    checkpoint: &coffer_catalog::StoredCheckpoint,
) -> Result<std::result::Result<String, Option<String>>> {
    let key = KeyPair::load(home.config().signing_key_path())?.public();
    let crate::evidence::LedgerStanding {
        standing,
        cuts,
        problems,
        ..
    } = home.ledger_standing(home.catalog(), &key).await?;
    let gap = match standing {
        coffer_audit::cut::Standing::Gap(gap) => Some(gap.problem()),
        _ => None,
    };
    let message = coffer_audit::ledger::checkpoint_message(
        checkpoint.tree_size,
        &checkpoint.root_hash,
        checkpoint.time,
    );
    if !key.verifies(&message, &checkpoint.signature) || !problems.is_empty() {
        return Ok(Err(gap));
    }
    let within = cuts.iter().rev().find(|c| c.covers(checkpoint)).map(|c| {
        format!(
            "the report's ledger entries (its checkpoint of {} entries, signed {}) lie in the cut declared at entry {}, signed by key {}: {}",
            checkpoint.tree_size,
            checkpoint.time,
            c.seq,
            c.cut.key_fingerprint,
            c.cut.summary()
        )
    });
    Ok(within.ok_or(gap))
}

/// The objects of the delivery at `url` (`s3://bucket/prefix/`, or a file
/// in it), read through the endpoint [`endpoint_for`] picks.
async fn fetch_delivery(
    config: &Config,
    url: &str,
    asked: Option<&str>,
) -> Result<bundle::Fetched> {
    let Some((bucket, key)) = s3::parse_url(url) else {
        return Err(Error::invalid_parameter(format!("{url} is not an S3 delivery address: give s3://BUCKET/PREFIX/, the prefix ending with the report job ID")));
    };
    let (name, endpoint) = endpoint_for(config, &bucket, asked)?;
    let access = coffer_engine::env::s3_access(name, endpoint)?;
    let client = S3Client::new(&access, &bucket)?;
    let trimmed = key.trim_end_matches('/');
    let mut prefixes = Vec::new();
    if !trimmed.is_empty() {
        prefixes.push(format!("{trimmed}/"));
    }
    // Or a file in the delivery (s3://.../<job-id>/manifest.json).
    match trimmed.rsplit_once('/') {
        Some((parent, _)) => prefixes.push(format!("{parent}/")),
        None => prefixes.push(String::new()),
    }
    for prefix in &prefixes {
        let fetched = client.fetch_delivery(prefix).await.map_err(|error| {
            Error::dependency(format!(
                "reading s3://{bucket}/{prefix} through [s3_endpoints.{name}] failed: {error}; check its url and credentials, and that they may s3:GetObject and s3:ListBucket on {bucket}"
            ))
        })?;
        if let Some(fetched) = fetched {
            return Ok(fetched);
        }
    }
    Err(Error::not_found(format!(
        "{url} holds no {} (bucket {bucket:?} on endpoint {name:?}): give the delivery's prefix, s3://{bucket}/<prefix>/<template>/year=YYYY/month=MM/<report-job-id>/, as the report jobs show it",
        bundle::MANIFEST
    )))
}

/// Which `[s3_endpoints]` entry serves `bucket`: the one `asked` names,
/// else that of the `[report_buckets]` entries on this bucket, else the
/// only one declared. An ambiguity is a `MissingParameterValue`: the
/// caller must name the endpoint.
fn endpoint_for<'a>(
    config: &'a Config,
    bucket: &str,
    asked: Option<&str>,
) -> Result<(&'a str, &'a coffer_model::S3Endpoint)> {
    let endpoints = config.s3_endpoints();
    let names = || endpoints.keys().cloned().collect::<Vec<_>>().join(", ");
    if let Some(asked) = asked {
        return match endpoints.get_key_value(asked) {
            Some((name, endpoint)) => Ok((name.as_str(), endpoint)),
            None if endpoints.is_empty() => Err(Error::invalid_parameter(format!("S3 endpoint {asked}: config.toml declares no [s3_endpoints]; add [s3_endpoints.{asked}] with its url and credentials"))),
            None => Err(Error::invalid_parameter(format!("S3 endpoint {asked}: config.toml declares no such [s3_endpoints] entry (it has {})", names()))),
        };
    }
    let mut serving: Vec<&str> = config
        .report_buckets()
        .values()
        .filter_map(|location| match location {
            BucketLocation::S3 {
                endpoint,
                bucket: b,
                ..
            } if b == bucket => Some(endpoint.as_str()),
            _ => None,
        })
        .collect();
    serving.sort_unstable();
    serving.dedup();
    match serving.as_slice() {
        [one] => {
            return endpoints
                .get_key_value(*one)
                .map(|(name, endpoint)| (name.as_str(), endpoint))
                .ok_or_else(|| Error::invalid_parameter(format!("[report_buckets] names S3 endpoint {one:?}, which config.toml does not declare; add [s3_endpoints.{one}]")));
        }
        [] => {}
        several => {
            return Err(Error::new(
                ErrorKind::MissingParameterValue,
                format!(
                    "bucket {bucket:?} is in [report_buckets] entries on several endpoints ({}): name the endpoint serving it",
                    several.join(", ")
                ),
            ))
        }
    }
    let mut all = endpoints.iter();
    match (all.next(), all.next()) {
        (Some((name, endpoint)), None) => Ok((name.as_str(), endpoint)),
        (None, _) => Err(Error::invalid_request(format!("config.toml declares no [s3_endpoints]: add the endpoint serving bucket {bucket:?} ([s3_endpoints.NAME] with its url and credentials by reference), or download the delivery and verify the folder"))),
        (Some(_), Some(_)) => Err(Error::new(
            ErrorKind::MissingParameterValue,
            format!(
                "bucket {bucket:?} is in no [report_buckets] entry and config.toml declares several [s3_endpoints] ({}): name the endpoint serving it",
                names()
            ),
        )),
    }
}

/// The period of the `hours` before `end` (a report run now over a window).
fn last_hours(end: jiff::Timestamp, hours: u32) -> ReportPeriod {
    let start = end
        .checked_sub(jiff::SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(end);
    ReportPeriod {
        start,
        end,
        first_day: jiff::tz::TimeZone::UTC.to_datetime(end).date(),
    }
}
