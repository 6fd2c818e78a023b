//! `coffer report run PLAN` and `coffer verify PATH`: deliver a report plan's
//! files with a signed manifest, and check a delivery offline.

use std::path::Path;

use anyhow::bail;
use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupJob, BackupVault, ControlResult, CopyJob, Framework, RecoveryPoint, ReportJob,
    ReportJobStatus, ReportPlan, RestoreJob,
};
use coffer_policy::BucketLocation;
use coffer_report::bundle::{self, Trust};
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
    println!("  delivered to   {}", done.dir.display());
    for file in &done.manifest.files {
        println!("  {}  {}", file.sha256, file.path);
    }
    println!("  signed by      {}", done.manifest.signing_key_fingerprint);
    Ok(Outcome::Success)
}

/// A delivered report.
pub struct Delivered {
    pub job_id: String,
    pub template: String,
    pub rows: usize,
    pub dir: std::path::PathBuf,
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
    let plans = catalog.list_objects(ObjectKind::ReportPlan).await?;
    let Some(object) = plans
        .iter()
        .find(|o| o.name == plan_name && o.account_id == account && o.region == region)
    else {
        let known: Vec<&str> = plans.iter().map(|o| o.name.as_str()).collect();
        bail!(
            "report plan {plan_name:?} is not applied in account {account}, region {region} (report plans: {}); declare an AWS::Backup::ReportPlan and apply it",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    };
    let plan: ReportPlan = serde_json::from_value(object.doc.clone())?;
    let now = jiff::Timestamp::now();
    let mut job = ReportJob {
        report_job_id: coffer_engine::exec::new_job_id(),
        account_id: account.to_string(),
        region: region.to_string(),
        report_plan_name: plan.report_plan_name.clone(),
        report_template: plan.report_setting.report_template.clone(),
        status: ReportJobStatus::Running,
        status_message: None,
        creation_time: now,
        completion_time: None,
        report_destination: None,
        manifest_sha256: None,
    };
    catalog.insert(&job, now).await?;
    let produced = produce(ctx, catalog, &plan, job.report_job_id.clone(), window_hours).await;
    let done = jiff::Timestamp::now();
    job.completion_time = Some(done);
    match &produced {
        Ok(delivered) => {
            job.status = ReportJobStatus::Completed;
            job.report_destination = Some(delivered.dir.display().to_string());
            job.manifest_sha256 = Some(delivered.manifest_sha256.clone());
        }
        Err(error) => {
            job.status = ReportJobStatus::Failed;
            job.status_message = Some(format!("{error:#}"));
        }
    }
    catalog.update(&job, 1, done).await?;
    produced
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
    let root = match ctx.config.report_bucket(&channel.s3_bucket_name) {
        BucketLocation::Folder(path) => path,
        BucketLocation::S3 { .. } => bail!(
            "report bucket {:?} is on S3; delivering reports to S3 buckets is not available yet: remove its [report_buckets] entry to deliver to {{home}}/buckets/{}",
            channel.s3_bucket_name,
            channel.s3_bucket_name
        ),
    };
    let setting = &plan.report_setting;
    // Compliance reports show a fresh evaluation.
    if setting.is_compliance_template() {
        crate::audit::evaluate_frameworks(ctx, catalog, (account, region), None).await?;
    }
    let env = ctx.env(catalog);
    let backups: Vec<BackupJob> = env.records(|_: &BackupJob| true).await?;
    let copies: Vec<CopyJob> = env.records(|_: &CopyJob| true).await?;
    let restores: Vec<RestoreJob> = env.records(|_: &RestoreJob| true).await?;
    let points: Vec<RecoveryPoint> = env.records(|_: &RecoveryPoint| true).await?;
    let results: Vec<ControlResult> = env.records(|_: &ControlResult| true).await?;
    let vaults: Vec<BackupVault> = env.objects(ObjectKind::BackupVault).await?;
    let frameworks: Vec<(String, Framework)> = catalog
        .list_objects(ObjectKind::Framework)
        .await?
        .into_iter()
        .filter(|o| o.account_id == account && o.region == region)
        .map(|o| Ok((o.arn.clone(), serde_json::from_value(o.doc)?)))
        .collect::<anyhow::Result<_>>()?;
    let ledger = catalog
        .ledger_entries(0, catalog.ledger_len().await?)
        .await?;
    let end = jiff::Timestamp::now();
    let start = end
        .checked_sub(jiff::SignedDuration::from_hours(i64::from(window_hours)))
        .unwrap_or(end);
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
    let dir = bundle::delivery_dir(
        &root,
        channel.s3_key_prefix.as_deref(),
        &setting.report_template,
        end,
        &job_id,
    );
    let (manifest, manifest_sha256) = bundle::write(
        &dir,
        bundle::Contents {
            report_plan: plan.report_plan_name.clone(),
            report_template: setting.report_template.clone(),
            report_job_id: job_id.clone(),
            window_start: start,
            window_end: end,
            generated_at: end,
            files,
            ledger_checkpoint: Some(checkpoint),
        },
        &key,
    )?;
    Ok(Delivered {
        job_id,
        template: setting.report_template.clone(),
        rows: table.rows.len(),
        dir,
        manifest,
        manifest_sha256,
    })
}

pub async fn verify(
    global: &Global,
    path: &Path,
    public_key: Option<String>,
    fingerprint: Option<String>,
) -> anyhow::Result<Outcome> {
    if path.to_string_lossy().starts_with("s3://") {
        bail!("verifying a delivery in an S3 bucket directly is not available yet; download the folder (aws s3 cp --recursive) and verify it");
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
    let trust = match (public_key, fingerprint) {
        (Some(hex), _) => Trust::Key(PublicKey::from_hex(&hex)?),
        (None, Some(fp)) => Trust::Fingerprint(fp),
        (None, None) => Trust::Bundled,
    };
    let mut found = bundle::verify(dir, &trust);
    // With the ledger at hand (this machine's Coffer home), the delivered
    // checkpoint must still agree with it.
    let mut ledger_note = "the ledger was not at hand (no Coffer home here)".to_string();
    let home_config = match &global.home {
        Some(home) => home.join("config.toml"),
        None => std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".coffer/config.toml"))
            .unwrap_or_default(),
    };
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
    let now = jiff::Timestamp::now();
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
                tracing::info!(plan = %object.name, dir = %done.dir.display(), "report delivered");
                delivered += 1;
            }
            Err(error) => {
                tracing::error!(plan = %object.name, error = %format!("{error:#}"), "report failed")
            }
        }
    }
    Ok(delivered)
}
