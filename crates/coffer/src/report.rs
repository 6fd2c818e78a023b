//! `coffer report run|jobs` and `coffer verify PATH|s3://...`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};
use coffer_report::bundle::Trust;
use coffer_service::report::{verify_delivery, DeliveryAt};
use coffer_service::ErrorKind;

use crate::context::{with_service, Context, Global};
use crate::output::{self, OutputFormat};
use crate::{render, Outcome};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Run a report plan now and deliver its files with a signed manifest.
    #[command(
        after_help = "Example:\n  coffer report run daily_backups\n  coffer report run compliance --window-hours 168\n\nFiles go to <prefix>/<template>/year=YYYY/month=MM/<report-job-id>/ in the plan's bucket ({home}/buckets/<name> unless config.toml's [report_buckets] says otherwise)."
    )]
    Run {
        /// Report plan name.
        plan: String,
        /// The reporting window: the last this many hours (jobs reports; active jobs always show).
        #[arg(long, value_name = "HOURS", default_value_t = 24)]
        window_hours: u32,
    },
    /// Report jobs, oldest first, with their states and destinations.
    #[command(
        after_help = "Example:\n  coffer report jobs\n  coffer report jobs --plan quickstart_jobs -o json"
    )]
    Jobs {
        /// Only this report plan's jobs.
        #[arg(long, value_name = "NAME")]
        plan: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The delivery folder (or a file in it), or s3://BUCKET/PREFIX/ of a delivery in a bucket.
    pub path: PathBuf,
    /// The signing key's public key you were given (64 hex digits).
    #[arg(long, value_name = "HEX", conflicts_with = "fingerprint")]
    pub public_key: Option<String>,
    /// The signing key's fingerprint you were given (SHA256:...).
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
    /// For s3:// deliveries: the [s3_endpoints] entry serving the bucket (default: the [report_buckets] entry's, else the only one).
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,
}

pub async fn run(ctx: &Context, command: &ReportCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| match command {
        ReportCommand::Run { plan, window_hours } => {
            let done = service
                .start_report_job(caller, plan, *window_hours)
                .await?;
            render::delivered(&done);
            Ok(Outcome::Success)
        }
        ReportCommand::Jobs { plan, output } => {
            let jobs = service.list_report_jobs(caller, plan.as_deref()).await?;
            output::print(*output, &jobs, || {
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
                output::table(
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
    })
    .await
}

/// `coffer verify`: a delivery folder (or a file in it), or an
/// `s3://bucket/prefix/` delivery read from its bucket. The home's ledger
/// is compared when this machine has a Coffer home.
pub async fn verify(global: &Global, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let trust = match (&args.public_key, &args.fingerprint) {
        (Some(hex), _) => Trust::Key(
            coffer_service::report::public_key(hex)
                .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?,
        ),
        (None, Some(fp)) => Trust::Fingerprint(fp.clone()),
        (None, None) => Trust::Bundled,
    };
    let text = args.path.to_string_lossy().into_owned();
    let at = if text.starts_with("s3://") {
        DeliveryAt::S3 {
            url: &text,
            endpoint: args.endpoint.as_deref(),
        }
    } else {
        if args.endpoint.is_some() {
            bail!(
                "--endpoint is for deliveries in S3 buckets (s3://bucket/prefix/); {} is a folder",
                args.path.display()
            );
        }
        DeliveryAt::Folder(Path::new(&args.path))
    };
    // Only a home that exists is opened: verifying never creates one.
    let check = if global.config_path().is_file() {
        let ctx = Context::load(global)?;
        let service = ctx.service().await?;
        let check = verify_delivery(at, &trust, Some(&service)).await;
        service.close().await;
        check
    } else {
        verify_delivery(at, &trust, None).await
    };
    let check = check.map_err(|e| match e.kind() {
        ErrorKind::MissingParameterValue => anyhow::anyhow!("{e} with --endpoint NAME"),
        _ => e.into(),
    })?;
    Ok(render::verified(&check))
}
