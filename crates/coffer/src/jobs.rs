//! `coffer jobs list|describe|abort`: backup, copy and restore jobs with
//! their states and reasons, as the catalog records them; stopping one.

use clap::{Subcommand, ValueEnum};
use coffer_service::jobs::{AnyJob, Stopped};
use coffer_service::ErrorKind;
use serde_json::{json, Value as Json};

use crate::context::{with_service, Context};
use crate::output::{self, upper as state, OutputFormat};
use crate::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JobKind {
    All,
    Backup,
    Copy,
    Restore,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, oldest first.
    #[command(
        after_help = "Example:\n  coffer jobs list\n  coffer jobs list --kind backup --state failed -o json"
    )]
    List {
        #[arg(long, value_enum, default_value_t = JobKind::All)]
        kind: JobKind,
        /// Only jobs in this state (COMPLETED, FAILED, RUNNING, ...).
        #[arg(long)]
        state: Option<String>,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Show one job in full.
    #[command(
        after_help = "Example:\n  coffer jobs describe 7F73B548-5548-4B6E-A349-5445B907CD0E"
    )]
    Describe {
        /// Job ID.
        id: String,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
    /// Stop a backup job: a waiting one ends ABORTED at once, a running one
    /// goes ABORTING and the scheduler running it stops it.
    #[command(after_help = "Example:\n  coffer jobs abort 3F2A...")]
    Abort {
        /// Backup job ID.
        id: String,
    },
}

pub async fn run(ctx: &Context, command: &JobsCommand) -> anyhow::Result<Outcome> {
    with_service(ctx, async |service, caller| {
        match command {
            JobsCommand::Abort { id } => {
                let stopped = service.stop_backup_job(caller, id).await.map_err(|e| {
                    match e.kind() {
                        ErrorKind::ResourceNotFound => anyhow::anyhow!(
                            "{e}; `coffer jobs list --kind backup` shows them"
                        ),
                        ErrorKind::Conflict => anyhow::anyhow!("{e} (`coffer jobs abort {id}`)"),
                        _ => e.into(),
                    }
                })?;
                match stopped {
                    Stopped::Aborted => println!("Backup job {id} ABORTED."),
                    Stopped::AlreadyStopping => println!("Backup job {id} is already being stopped."),
                    Stopped::Aborting { runner } => println!(
                        "Backup job {id} is ABORTING: the scheduler running it ({runner}) stops it and records ABORTED."
                    ),
                }
            }
            JobsCommand::Describe { id, output: format } => {
                let job = service.describe_job(caller, id).await.map_err(|e| {
                    crate::hint(e, ErrorKind::ResourceNotFound, |m| {
                        format!("{m}; `coffer jobs list` shows them")
                    })
                })?;
                match job {
                    AnyJob::Backup(j) => output::document(*format, &j)?,
                    AnyJob::Copy(j) => output::document(*format, &j)?,
                    AnyJob::Restore(j) => output::document(*format, &j)?,
                }
            }
            JobsCommand::List {
                kind,
                state: wanted,
                output: format,
            } => {
                let jobs = service.list_jobs(caller, ctx.accounts.as_deref()).await?;
                let mut rows: Vec<(jiff::Timestamp, Json, Vec<String>)> = Vec::new();
                if matches!(kind, JobKind::All | JobKind::Backup) {
                    for j in &jobs.backups {
                        rows.push((
                            j.creation_date,
                            json!({"Type": "BACKUP", "Job": j}),
                            vec![
                                j.backup_job_id.clone(),
                                "backup".into(),
                                state(&j.state),
                                j.resource_arn.clone(),
                                j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                                j.status_message.clone().unwrap_or_default(),
                            ],
                        ));
                    }
                }
                if matches!(kind, JobKind::All | JobKind::Copy) {
                    for j in &jobs.copies {
                        rows.push((
                            j.creation_date,
                            json!({"Type": "COPY", "Job": j}),
                            vec![
                                j.copy_job_id.clone(),
                                "copy".into(),
                                state(&j.state),
                                j.source_recovery_point_arn.clone(),
                                j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                                j.status_message.clone().unwrap_or_else(|| {
                                    format!("to {}", j.destination_backup_vault_arn)
                                }),
                            ],
                        ));
                    }
                }
                if matches!(kind, JobKind::All | JobKind::Restore) {
                    for j in &jobs.restores {
                        let what = if j.validation_status.is_some() {
                            "validate"
                        } else {
                            "restore"
                        };
                        let status = match &j.validation_status {
                            Some(v) => format!("{} ({})", state(&j.status), state(v)),
                            None => state(&j.status),
                        };
                        rows.push((
                            j.creation_date,
                            json!({"Type": what.to_uppercase(), "Job": j}),
                            vec![
                                j.restore_job_id.clone(),
                                what.into(),
                                status,
                                j.recovery_point_arn.clone(),
                                j.creation_date.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                                j.status_message
                                    .clone()
                                    .or_else(|| j.validation_status_message.clone())
                                    .unwrap_or_default(),
                            ],
                        ));
                    }
                }
                if let Some(wanted) = wanted {
                    let wanted = wanted.to_uppercase();
                    rows.retain(|(_, _, cells)| cells[2].starts_with(&wanted));
                }
                rows.sort_by_key(|row| row.0);
                let docs: Vec<&Json> = rows.iter().map(|(_, doc, _)| doc).collect();
                output::print(*format, &docs, || {
                    let cells = rows.iter().map(|(_, _, c)| c.clone()).collect();
                    output::table(
                        &[
                            "ID",
                            "KIND",
                            "STATE",
                            "RESOURCE / RECOVERY POINT",
                            "CREATED",
                            "MESSAGE",
                        ],
                        cells,
                    )
                })?;
            }
        }
        Ok(Outcome::Success)
    })
    .await
}
