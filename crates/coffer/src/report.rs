//! `coffer report run PLAN` and `coffer verify PATH`: deliver a report plan's
//! files with a signed manifest, and check a delivery offline.

use std::path::Path;

use anyhow::{bail, Context as _};
use coffer_audit::signing::{KeyPair, PublicKey};
use coffer_catalog::ObjectKind;
use coffer_model::{
    BackupJob, BackupVault, ControlResult, CopyJob, Framework, RecoveryPoint, ReportPlan,
    RestoreJob,
};
use coffer_policy::BucketLocation;
use coffer_report::bundle::{self, Trust};
use coffer_report::templates::{self, Sources};

use crate::cli::Global;
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
    let job_id = coffer_engine::exec::new_job_id();
    let base = format!(
        "{}_{}",
        plan.report_plan_name,
        end.strftime("%Y%m%dT%H%M%SZ")
    );
    let mut files = Vec::new();
    for format in &channel.formats {
        match format.as_str() {
            "CSV" => files.push((format!("{base}.csv"), templates::to_csv(&table)?)),
            "JSON" => files.push((format!("{base}.json"), templates::to_json(&table))),
            other => {
                eprintln!("warning: report format {other} is not produced yet; CSV and JSON are")
            }
        }
    }
    if files.is_empty() {
        files.push((format!("{base}.csv"), templates::to_csv(&table)?));
    }
    let key = KeyPair::load_or_create(ctx.config.signing_key_path())?;
    let checkpoint = coffer_audit::ledger::checkpoint(catalog, &key, end).await?;
    let dir = bundle::delivery_dir(
        &root,
        channel.s3_key_prefix.as_deref(),
        &setting.report_template,
        end,
        &job_id,
    );
    let manifest = bundle::write(
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
    let manifest_bytes = std::fs::read(dir.join(bundle::MANIFEST))
        .with_context(|| format!("cannot read back {}", dir.display()))?;
    catalog
        .record_event(
            "report",
            &job_id,
            &format!(
                "REPORT_DELIVERED {} {} rows",
                setting.report_template,
                table.rows.len()
            ),
            &manifest_bytes,
            end,
        )
        .await?;
    Ok(Delivered {
        job_id,
        template: setting.report_template.clone(),
        rows: table.rows.len(),
        dir,
        manifest,
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
