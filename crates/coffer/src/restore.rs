//! `coffer restore start` and `coffer restore validate`: restore jobs.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};
use coffer_service::restore::{RestoreTarget, StartRestore};

use crate::context::{with_service, Context};
use crate::{progress, render, Outcome};

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// Restore a recovery point to a new place (an existing one only with --force).
    #[command(
        after_help = "Example:\n  coffer restore start --recovery-point RP --target-dir /srv/restore/home\n  coffer restore start --recovery-point RP --target-dir /tmp/r --path docs/report.pdf\n  coffer restore start --recovery-point RP --target-file /var/lib/app/queue.restored.db\n  coffer restore start --recovery-point RP --target-database orders_restored\n  coffer restore start --recovery-point RP --target-database orders --table public.invoices\n  coffer restore start --recovery-point RP --target-server standby --target-database orders\n  coffer restore start --recovery-point RP --target-bucket photos-restored\n  coffer restore start --recovery-point RP --target-bucket photos --target-prefix restored/ --key albums/2024/\n  coffer restore start --recovery-point RP --target-bucket photos-copy --target-endpoint offsite\n\nRP is a recovery point ARN or ID. Databases are restored on the resource's own server, or with --target-server\non a server an applied inventory declares (any account or region);\nbuckets on the resource's endpoint unless --target-endpoint names another\n(an [s3_endpoints] entry of config.toml, or an endpoint of the inventory)."
    )]
    Start(Box<RestoreStart>),
    /// Check a recovery point: read its data back and compare it with what was recorded.
    #[command(
        after_help = "Example:\n  coffer restore validate --recovery-point RP\n\nDatabases are restored into a scratch database (dropped afterwards) and\ntheir tables' row counts and checksums compared. Exit 1 when a problem is found."
    )]
    Validate(RestoreValidate),
}

#[derive(Debug, Args)]
pub struct RestoreStart {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
    /// Directory to restore a file system into.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// With --target-dir: restore only this path (relative to the backed-up directory).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// File to restore a SQLite database to.
    #[arg(long, value_name = "FILE")]
    pub target_file: Option<PathBuf>,
    /// Database to restore a PostgreSQL or MySQL database into (created).
    #[arg(long, value_name = "NAME")]
    pub target_database: Option<String>,
    /// With --target-database: the declared server to restore on (NAME, or ACCOUNT/REGION/NAME), instead of the resource's own.
    #[arg(long, value_name = "NAME")]
    pub target_server: Option<String>,
    /// With --target-database: restore only this table (PostgreSQL `schema.table` or `table`; MySQL `table`).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Bucket to restore an S3 recovery point into (created when missing).
    #[arg(long, value_name = "BUCKET")]
    pub target_bucket: Option<String>,
    /// With --target-bucket: put this before every restored key (e.g. `restored/`).
    #[arg(long, value_name = "PREFIX")]
    pub target_prefix: Option<String>,
    /// With --target-bucket: the S3 endpoint to restore on, when not the resource's.
    #[arg(long, value_name = "NAME")]
    pub target_endpoint: Option<String>,
    /// With --target-bucket: restore only this key, or the keys under this prefix.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// With --target-bucket: write every version the point holds, each key's oldest first (a point of a bucket with `versions: all`).
    #[arg(long)]
    pub all_versions: bool,
    /// With --target-bucket and --key: write this version of the key.
    #[arg(long, value_name = "VERSION_ID")]
    pub version_id: Option<String>,
    /// Replace an existing target (files, database, or table).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreValidate {
    /// Recovery point ARN or ID.
    #[arg(long, value_name = "ARN|ID")]
    pub recovery_point: String,
}

fn target(args: &RestoreStart) -> anyhow::Result<RestoreTarget> {
    if args.target_server.is_some() && args.target_database.is_none() {
        bail!("--target-server goes with --target-database: name the database to create on that server");
    }
    let bucket_only = args.target_prefix.is_some()
        || args.target_endpoint.is_some()
        || args.key.is_some()
        || args.all_versions
        || args.version_id.is_some();
    if let Some(bucket) = &args.target_bucket {
        if args.target_dir.is_some() || args.target_file.is_some() || args.target_database.is_some()
        {
            bail!("give exactly one of --target-dir, --target-file, --target-database or --target-bucket");
        }
        if args.path.is_some() || args.table.is_some() {
            bail!("--path and --table do not go with --target-bucket; choose keys with --key");
        }
        let versions = match (args.all_versions, &args.version_id) {
            (true, Some(_)) => bail!("give --all-versions or --version-id, not both"),
            (false, Some(_)) if args.key.is_none() => {
                bail!("--version-id goes with --key: name the key whose version to restore")
            }
            (false, Some(version_id)) => {
                coffer_drivers::s3::RestoreVersions::One(version_id.clone())
            }
            (true, None) => coffer_drivers::s3::RestoreVersions::All,
            (false, None) => coffer_drivers::s3::RestoreVersions::Current,
        };
        return Ok(RestoreTarget::Bucket(coffer_drivers::s3::BucketTarget {
            endpoint: args.target_endpoint.clone(),
            access: None,
            bucket: bucket.clone(),
            prefix: args.target_prefix.clone().unwrap_or_default(),
            select: args.key.clone(),
            versions,
        }));
    }
    if bucket_only {
        bail!("--target-prefix, --target-endpoint, --key, --all-versions and --version-id go with --target-bucket");
    }
    match (&args.target_dir, &args.target_file, &args.target_database) {
        (Some(dir), None, None) => {
            if args.table.is_some() {
                bail!("--table goes with --target-database; for a directory, choose a path with --path");
            }
            Ok(RestoreTarget::Directory {
                path: absolute(dir)?,
                select: args.path.clone(),
            })
        }
        (None, Some(file), None) => Ok(RestoreTarget::File { path: absolute(file)? }),
        (None, None, Some(name)) => {
            if args.path.is_some() {
                bail!("--path goes with --target-dir; for a database, choose a table with --table");
            }
            Ok(RestoreTarget::Database {
                name: name.clone(),
                table: args.table.clone(),
                server: args.target_server.clone(),
            })
        }
        _ => bail!("give exactly one of --target-dir DIR (file systems), --target-file FILE (SQLite), --target-database NAME (PostgreSQL, MySQL) or --target-bucket BUCKET (S3)"),
    }
}

fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

pub async fn start(ctx: &Context, args: &RestoreStart) -> anyhow::Result<Outcome> {
    let request = StartRestore {
        recovery_point: args.recovery_point.clone(),
        target: target(args)?,
        force: args.force,
        not_applied: Default::default(),
    };
    with_service(ctx, async |service, caller| {
        let mut run = service
            .start_restore_job(caller, &request.recovery_point, &request.target)
            .await?;
        render::restore_started(&run);
        let bar = progress::Bar::new("restore");
        let end = service
            .run_restore_job(&mut run, request.force, Some(bar.clone()))
            .await?;
        coffer_vault::Observer::done(&*bar);
        render::restore_done(&run, &end)?;
        Ok(Outcome::Success)
    })
    .await
}

pub async fn validate(ctx: &Context, args: &RestoreValidate) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        let mut run = service
            .start_validation_job(caller, &args.recovery_point)
            .await?;
        render::validation_started(&run);
        let end = service.run_validation_job(&mut run).await?;
        render::validation_done(&run, &end)
    })
    .await
}
