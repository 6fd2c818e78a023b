//! `coffer report run PLAN` and `coffer verify PATH|s3://...`: deliver a
//! report plan's files with a signed manifest to the bucket's folder or to
//! an S3 bucket (with Object Lock retention), and check a delivery.

use std::path::Path;

use anyhow::{bail, Context as _};
use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupJob, BackupVault, CopyJob, Framework, LockMode, RecoveryPoint, ReportJob,
    ReportJobStatus, ReportPlan, RestoreJob,
};
use coffer_policy::{BucketLocation, Config};
use coffer_report::bundle::{self, Trust};
use coffer_report::s3::{self, LockConfiguration, S3Client};
use coffer_report::templates::{self, Sources};

use crate::cli::{Global, OutputFormat};
use crate::context::Context;
use crate::Outcome;

pub async fn run(global: &Global, plan_name: &str, window_hours: u32) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = deliver(&ctx, &catalog, plan_name, window_hours).await;
    catalog.close().await;
    let done = result?;
    println!(
        "Report job {} COMPLETED: {} ({} rows)",
        done.job_id, done.template, done.rows
    );
    println!("  delivered to   {}", done.destination);
    for file in &done.manifest.files {
        println!("  {}  {}", file.sha256, file.path);
    }
    if let Some(lock) = &done.manifest.object_lock {
        println!(
            "  retained until {} (Object Lock, {} mode)",
            s3::retain_until_text(lock.retain_until_date),
            lock.mode.as_str()
        );
    }
    println!("  signed by      {}", done.manifest.signing_key_fingerprint);
    Ok(Outcome::Success)
}

/// A delivered report.
pub struct Delivered {
    pub job_id: String,
    pub template: String,
    pub rows: usize,
    /// The delivery folder, or `s3://bucket/prefix/.../<job-id>/`.
    pub destination: String,
    pub manifest: bundle::Manifest,
    pub manifest_sha256: String,
}

/// Runs report plan `plan_name` now and delivers it.
///
/// # Errors
/// An unknown plan, an S3 bucket, catalog or file errors.
pub async fn deliver(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    plan_name: &str,
    window_hours: u32,
) -> anyhow::Result<Delivered> {
    let (account, region) = (ctx.account.as_str(), ctx.region.as_str());
    let Some(plan) = catalog
        .object::<ReportPlan>(ObjectKind::ReportPlan, account, region, plan_name)
        .await?
    else {
        let known = catalog
            .names_in(ObjectKind::ReportPlan, account, region)
            .await?;
        bail!(
            "report plan {plan_name:?} is not applied in account {account}, region {region} (report plans: {}); declare an AWS::Backup::ReportPlan and apply it",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    };
    let env = ctx.env(catalog);
    let job = coffer_engine::jobs::create_report_job(&env, &plan, account, region).await?;
    let id = job.report_job_id;
    let produced = produce(ctx, catalog, &plan, id.clone(), window_hours).await;
    match &produced {
        Ok(delivered) => {
            coffer_engine::jobs::set_report_state(&env, &id, ReportJobStatus::Completed, |j| {
                j.report_destination = Some(delivered.destination.clone());
                j.manifest_sha256 = Some(delivered.manifest_sha256.clone());
            })
            .await?;
        }
        Err(error) => {
            coffer_engine::jobs::set_report_state(&env, &id, ReportJobStatus::Failed, |j| {
                j.status_message = Some(format!("{error:#}"));
            })
            .await?;
        }
    }
    produced
}

/// Where a report goes.
enum Target {
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
async fn target(config: &Config, name: &str) -> anyhow::Result<Target> {
    let (endpoint_name, bucket, object_lock) = match config.report_bucket(name) {
        BucketLocation::Folder(path) => return Ok(Target::Folder(path)),
        BucketLocation::S3 {
            endpoint,
            bucket,
            object_lock,
        } => (endpoint, bucket, object_lock),
    };
    let Some(endpoint) = config.s3_endpoint(&endpoint_name) else {
        bail!("[report_buckets.{name}] names S3 endpoint {endpoint_name:?}, which config.toml does not declare; add [s3_endpoints.{endpoint_name}]");
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
                bail!(
                    "[report_buckets.{name}] object_lock needs the Object Lock configuration of bucket {bucket:?} on endpoint {endpoint_name:?}, which could not be read: {error}; grant s3:GetBucketObjectLockConfiguration to these credentials, or remove object_lock"
                );
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
            bail!(
                "report bucket {name:?} (bucket {bucket:?} on endpoint {endpoint_name:?}) cannot be used: {error}; {hint}"
            )
        }
    };
    if let Some((mode, days)) = configured {
        if !bucket_lock.as_ref().is_some_and(|lock| lock.enabled) {
            bail!(
                "bucket {bucket:?} on endpoint {endpoint_name:?} does not have Object Lock enabled, but [report_buckets.{name}] object_lock asks for {} retention of {days} day(s): create the bucket with Object Lock enabled (it is chosen when a bucket is created, e.g. aws s3api create-bucket --bucket {bucket} --object-lock-enabled-for-bucket) and point [report_buckets.{name}] bucket at it, or remove object_lock from [report_buckets.{name}]",
                mode.as_str()
            );
        }
    }
    Ok(Target::S3 {
        client: Box::new(client),
        configured,
        bucket_lock,
    })
}

/// Builds the report's files and delivers them with a signed manifest.
async fn produce(
    ctx: &Context,
    catalog: &coffer_catalog::Catalog,
    plan: &ReportPlan,
    job_id: String,
    window_hours: u32,
) -> anyhow::Result<Delivered> {
    let (account, region) = (ctx.account.as_str(), ctx.region.as_str());
    let channel = &plan.report_delivery_channel;
    // The bucket is checked first: a misconfigured one fails before any work.
    let target = target(&ctx.config, &channel.s3_bucket_name).await?;
    let setting = &plan.report_setting;
    // Compliance reports show a fresh evaluation.
    if setting.is_compliance_template() {
        crate::audit::evaluate_frameworks(ctx, catalog, (account, region), None).await?;
    }
    let env = ctx.env(catalog);
    // Each template reads only its own records: the jobs that ended in the
    // window or are active, the points they name, the current results.
    let end = env.now();
    let start = end
        .checked_sub(jiff::SignedDuration::from_hours(i64::from(window_hours)))
        .unwrap_or(end);
    let template = setting.report_template.as_str();
    let mut backups: Vec<BackupJob> = Vec::new();
    let mut copies: Vec<CopyJob> = Vec::new();
    let mut restores: Vec<RestoreJob> = Vec::new();
    let mut subjects: Vec<String> = Vec::new();
    let mut named_points: Vec<String> = Vec::new();
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
    let vaults: Vec<BackupVault> = env.objects(ObjectKind::BackupVault).await?;
    let frameworks: Vec<(String, Framework)> = catalog
        .list_objects(ObjectKind::Framework)
        .await?
        .into_iter()
        .filter(|o| o.account_id == account && o.region == region)
        .map(|o| Ok((o.arn.clone(), serde_json::from_value(o.doc)?)))
        .collect::<anyhow::Result<_>>()?;

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
        },
        start,
        end,
    )?;
    let base = format!(
        "{}_{}",
        plan.report_plan_name,
        end.strftime("%Y%m%dT%H%M%SZ")
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
    let key = KeyPair::load_or_create(ctx.config.signing_key_path())?;
    let checkpoint = coffer_audit::ledger::checkpoint(catalog, &key, end).await?;
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
            generated_at: end,
            digests: &digests,
            checkpoint: Some(&checkpoint),
            key_fingerprint: &key.fingerprint(),
        })?;
        files.push((format!("{base}.pdf"), pdf));
    }
    let object_lock = match &target {
        Target::Folder(_) => None,
        Target::S3 {
            configured,
            bucket_lock,
            client,
        } => s3::retention(*configured, bucket_lock.as_ref(), end).map_err(|_| {
            anyhow::anyhow!(
                "bucket {:?} does not have Object Lock enabled; remove object_lock from [report_buckets.{}]",
                client.bucket(),
                channel.s3_bucket_name
            )
        })?,
    };
    let sealed = bundle::seal(
        bundle::Contents {
            report_plan: plan.report_plan_name.clone(),
            report_template: setting.report_template.clone(),
            report_job_id: job_id.clone(),
            window_start: start,
            window_end: end,
            generated_at: end,
            files,
            ledger_checkpoint: Some(checkpoint),
            object_lock,
        },
        &key,
    )?;
    let prefix = channel.s3_key_prefix.as_deref();
    let template = setting.report_template.as_str();
    let destination = match &target {
        Target::Folder(root) => {
            let dir = bundle::delivery_dir(root, prefix, template, end, &job_id);
            // Recorded before a file is written, so a delivery its process
            // leaves half done is named by the job's reason.
            coffer_engine::jobs::set_report_state(&env, &job_id, ReportJobStatus::Running, |j| {
                j.report_destination = Some(dir.display().to_string());
            })
            .await?;
            sealed.write(&dir)?;
            dir.display().to_string()
        }
        Target::S3 { client, .. } => {
            let key = bundle::delivery_key(prefix, template, end, &job_id);
            coffer_engine::jobs::set_report_state(&env, &job_id, ReportJobStatus::Running, |j| {
                j.report_destination = Some(format!("s3://{}/{key}", client.bucket()));
            })
            .await?;
            client.put_sealed(&key, &sealed).await.with_context(|| {
                format!(
                    "delivering to s3://{}/{key} (report bucket {:?}) failed; objects put before the failure stay (under retention when locked) and the delivery has no manifest.json: check the endpoint's url and credentials in config.toml and that they may s3:PutObject (and s3:PutObjectRetention for Object Lock), then run the report again",
                    client.bucket(),
                    channel.s3_bucket_name
                )
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
    })
}

/// `coffer verify`: a delivery folder (or a file in it), or an
/// `s3://bucket/prefix/` delivery read from its bucket through an
/// `[s3_endpoints]` entry (`endpoint` names it when the bucket does not).
pub async fn verify(
    global: &Global,
    path: &Path,
    public_key: Option<String>,
    fingerprint: Option<String>,
    endpoint: Option<String>,
) -> anyhow::Result<Outcome> {
    let trust = match (public_key, fingerprint) {
        (Some(hex), _) => Trust::Key(PublicKey::from_hex(&hex)?),
        (None, Some(fp)) => Trust::Fingerprint(fp),
        (None, None) => Trust::Bundled,
    };
    let home_config = match &global.home {
        Some(home) => home.join("config.toml"),
        None => std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".coffer/config.toml"))
            .unwrap_or_default(),
    };
    let text = path.to_string_lossy();
    let mut found = if text.starts_with("s3://") {
        if !home_config.is_file() {
            bail!(
                "reading {text} needs a Coffer home whose config.toml ({}) declares the S3 endpoint serving the bucket ([s3_endpoints.NAME] with its url and credentials by reference); or download the delivery (aws s3 cp --recursive {text} DIR) and verify the folder",
                home_config.display()
            );
        }
        let ctx = Context::load(global)?;
        bundle::verify_objects(
            &fetch_delivery(&ctx.config, &text, endpoint.as_deref()).await?,
            &trust,
        )
    } else {
        if endpoint.is_some() {
            bail!(
                "--endpoint is for deliveries in S3 buckets (s3://bucket/prefix/); {} is a folder",
                path.display()
            );
        }
        let dir = if path.is_file() {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        if !dir.join(bundle::MANIFEST).is_file() {
            bail!(
                "{} holds no {}: give the delivery folder of a report",
                dir.display(),
                bundle::MANIFEST
            );
        }
        bundle::verify(dir, &trust)
    };
    // With the ledger at hand (this machine's Coffer home), the delivered
    // checkpoint must still agree with it.
    let mut ledger_note = "the ledger was not at hand (no Coffer home here)".to_string();
    if let (Some(checkpoint), true) = (
        found
            .manifest
            .as_ref()
            .and_then(|m| m.ledger_checkpoint.clone()),
        home_config.is_file(),
    ) {
        let ctx = Context::load(global)?;
        // Only the deployment that signed the checkpoint has its ledger.
        let home_key = KeyPair::load(ctx.config.signing_key_path())
            .map(|k| k.fingerprint())
            .ok();
        if home_key.as_deref() != Some(checkpoint.key_fingerprint.as_str()) {
            ledger_note = format!(
                "this machine's Coffer home is another deployment's (its key is {}), so its ledger was not compared",
                home_key.as_deref().unwrap_or("not created")
            );
            return finish(found, &ledger_note);
        }
        let catalog = ctx.catalog().await?;
        let size = catalog.ledger_len().await?;
        let entries = catalog.ledger_entries(0, size).await?;
        catalog.close().await;
        let check = coffer_audit::ledger::verify(&entries, std::slice::from_ref(&checkpoint), None);
        if check.passed() {
            ledger_note = format!(
                "the delivered checkpoint ({} entries) agrees with this home's ledger ({size} entries)",
                checkpoint.tree_size
            );
        } else {
            for problem in check.problems {
                found.problems.push(format!("ledger: {problem}"));
            }
        }
    }
    finish(found, &ledger_note)
}

/// The objects of the delivery at `url` (`s3://bucket/prefix/`, or a file
/// in it), read through the endpoint [`endpoint_for`] picks.
async fn fetch_delivery(
    config: &Config,
    url: &str,
    asked: Option<&str>,
) -> anyhow::Result<bundle::Fetched> {
    let Some((bucket, key)) = s3::parse_url(url) else {
        bail!("{url} is not an S3 delivery address: give s3://BUCKET/PREFIX/, the prefix ending with the report job ID");
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
        let fetched = client.fetch_delivery(prefix).await.with_context(|| {
            format!(
                "reading s3://{bucket}/{prefix} through [s3_endpoints.{name}] failed: check its url and credentials, and that they may s3:GetObject and s3:ListBucket on {bucket}"
            )
        })?;
        if let Some(fetched) = fetched {
            return Ok(fetched);
        }
    }
    bail!(
        "{url} holds no {} (bucket {bucket:?} on endpoint {name:?}): give the delivery's prefix, s3://{bucket}/<prefix>/<template>/year=YYYY/month=MM/<report-job-id>/, as `coffer report jobs` shows it",
        bundle::MANIFEST
    )
}

/// Which `[s3_endpoints]` entry serves `bucket`: the one `--endpoint`
/// names, else that of the `[report_buckets]` entries on this bucket, else
/// the only one declared.
fn endpoint_for<'a>(
    config: &'a Config,
    bucket: &str,
    asked: Option<&str>,
) -> anyhow::Result<(&'a str, &'a coffer_model::S3Endpoint)> {
    let endpoints = config.s3_endpoints();
    let names = || endpoints.keys().cloned().collect::<Vec<_>>().join(", ");
    if let Some(asked) = asked {
        return match endpoints.get_key_value(asked) {
            Some((name, endpoint)) => Ok((name.as_str(), endpoint)),
            None if endpoints.is_empty() => bail!("--endpoint {asked}: config.toml declares no [s3_endpoints]; add [s3_endpoints.{asked}] with its url and credentials"),
            None => bail!("--endpoint {asked}: config.toml declares no such [s3_endpoints] entry (it has {})", names()),
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
                .ok_or_else(|| anyhow::anyhow!("[report_buckets] names S3 endpoint {one:?}, which config.toml does not declare; add [s3_endpoints.{one}]"));
        }
        [] => {}
        several => bail!(
            "bucket {bucket:?} is in [report_buckets] entries on several endpoints ({}): say which with --endpoint NAME",
            several.join(", ")
        ),
    }
    let mut all = endpoints.iter();
    match (all.next(), all.next()) {
        (Some((name, endpoint)), None) => Ok((name.as_str(), endpoint)),
        (None, _) => bail!("config.toml declares no [s3_endpoints]: add the endpoint serving bucket {bucket:?} ([s3_endpoints.NAME] with its url and credentials by reference), or download the delivery and verify the folder"),
        (Some(_), Some(_)) => bail!(
            "bucket {bucket:?} is in no [report_buckets] entry and config.toml declares several [s3_endpoints] ({}): say which serves it with --endpoint NAME",
            names()
        ),
    }
}

/// Prints a verification's outcome.
fn finish(found: bundle::Verification, ledger_note: &str) -> anyhow::Result<Outcome> {
    println!("Signature checked against {}.", found.key_used);
    if found.problems.is_empty() {
        for file in &found.checked {
            println!("  OK  {file}");
        }
        println!(
            "Report verified: {} file(s) match the signed manifest; {ledger_note}.",
            found.checked.len()
        );
        Ok(Outcome::Success)
    } else {
        for problem in &found.problems {
            eprintln!("error: {problem}");
        }
        eprintln!(
            "Report FAILED verification: {} problem(s).",
            found.problems.len()
        );
        Ok(Outcome::Failure)
    }
}

/// `coffer report jobs`.
pub async fn jobs(
    global: &Global,
    plan: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let jobs = crate::lookup::records(&catalog, |j: &ReportJob| {
        j.account_id == ctx.account.as_str()
            && j.region == ctx.region.as_str()
            && plan.is_none_or(|p| j.report_plan_name == p)
    })
    .await;
    catalog.close().await;
    let jobs = jobs?;
    crate::output::print(format, &jobs, || {
        let rows = jobs
            .iter()
            .map(|j| {
                vec![
                    j.report_job_id.clone(),
                    j.report_plan_name.clone(),
                    j.report_template.clone(),
                    j.status.as_str().to_string(),
                    j.creation_time.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    j.report_destination
                        .clone()
                        .or_else(|| j.status_message.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        crate::output::table(
            &[
                "ID",
                "PLAN",
                "TEMPLATE",
                "STATUS",
                "CREATED",
                "DESTINATION / MESSAGE",
            ],
            rows,
        )
    })?;
    Ok(Outcome::Success)
}

/// Runs every report plan (of every account and region) that has not
/// delivered today (UTC) once it is 01:00 UTC, as AWS delivers its daily
/// reports between 01:00 and 05:00 UTC; returns the deliveries made.
///
/// # Errors
/// When the catalog fails; a plan that fails is a FAILED report job.
pub async fn run_due(ctx: &Context, catalog: &coffer_catalog::Catalog) -> anyhow::Result<usize> {
    let now = ctx.env(catalog).now();
    let today = jiff::tz::TimeZone::UTC.to_datetime(now);
    if today.hour() < 1 {
        return Ok(0);
    }
    let done: Vec<ReportJob> = crate::lookup::records(catalog, |j: &ReportJob| {
        j.status == ReportJobStatus::Completed
            && jiff::tz::TimeZone::UTC.to_datetime(j.creation_time).date() == today.date()
    })
    .await?;
    let mut delivered = 0;
    for object in catalog.list_objects(ObjectKind::ReportPlan).await? {
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
        let here = Context {
            config: ctx.config.clone(),
            account,
            region,
        };
        match deliver(&here, catalog, &object.name, 24).await {
            Ok(done) => {
                tracing::info!(plan = %object.name, destination = %done.destination, "report delivered");
                delivered += 1;
            }
            Err(error) => {
                tracing::error!(plan = %object.name, error = %format!("{error:#}"), "report failed")
            }
        }
    }
    Ok(delivered)
}
